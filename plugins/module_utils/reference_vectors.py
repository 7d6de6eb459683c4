# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Right vectors, not just vectors: served embeddings against reference vectors, and endpoints against each other.

A reference file (JSON, format 1, made by scripts/make-reference-vectors.py) holds, for one model, fixed inputs
and the vectors a trusted implementation (sentence-transformers on the same weights) computes for them, with how
they were made:

  {"format": 1, "model": "sentence-transformers/all-MiniLM-L6-v2", "dimension": 384,
   "pooling": "mean", "normalized": true, "max_seq_length": 256,
   "generator": {"library": "sentence-transformers", "versions": {...}, "dtype": "float32", ...},
   "weights": {...}, "inputs": ["Hello world.", ...], "tokens": [5, ...], "vectors": [[...], ...]}

model, dimension, inputs and vectors are required; the rest is read when present. A served vector is right when
its cosine with the reference vector of the same input is at least min_cosine: the shape checks of
openai_embeddings pass for a server that pools, truncates or loads the model wrongly; this does not.

Failures are EndpointError, with the kinds:
  reference_invalid   the reference is unreadable, malformed, or made for another model than the one checked
  reference_mismatch  a served vector is further from its reference vector than min_cosine allows
  endpoints_disagree  two endpoints serving the same model answer the same input with different vectors
plus dimension_mismatch and not_unit_norm of openai_embeddings where the reference says so.
Standard library only: this runs on managed hosts.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Sequence

from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    error_detail,
    public_url,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import (
    UNIT_NORM_TOLERANCE,
    OpenAIEmbeddings,
)

REFERENCE_FORMAT = 1
# Against a float32 sentence-transformers reference, the same weights served correctly give cosines above 0.9999
# (vLLM's CPU server on this machine: 1.000000000 on every input); computing in bfloat16 alone gives 0.99992 at
# the lowest, float16 0.999999. A wrong pooling gives 0.38 to 0.58 (CLS for the mean-pooled all-MiniLM-L6-v2),
# another model far less. 0.99 leaves room for low-precision and quantized serving of larger models and still
# fails every configuration error measured: see docs/verification.md.
DEFAULT_MIN_COSINE = 0.99
# Replicas of one deployment run the same weights, flags and kernels: their vectors differ by rounding only.
DEFAULT_AGREEMENT_MIN_COSINE = 0.999
# A reference is a few dozen vectors; anything much larger is not a reference file.
MAX_REFERENCE_BYTES = 16 * 1024 * 1024
LIKELY_CAUSES = (
    "Likely causes: the pooling (vLLM's --pooler-config seq_pooling_type; CLS for the mean-pooled "
    "all-MiniLM-L6-v2 gives 0.38 to 0.58), normalisation applied at another step (plain on or off does not change a "
    "cosine, the norms are checked on their own), the dtype (bfloat16 or float16 alone stays above 0.999; a "
    "quantized or broken kernel may not), truncation (max_model_len shorter than the input), or another model or "
    "revision than the reference was made for"
)


class Reference:
    """A checked reference: what was made, for which model, and the label messages call it by."""

    def __init__(self, doc: dict[str, Any], label: str) -> None:
        self.label = label
        self.model = doc["model"]
        self.dimension = doc["dimension"]
        self.inputs = list(doc["inputs"])
        self.vectors = [[float(value) for value in vector] for vector in doc["vectors"]]
        self.tokens = doc.get("tokens")
        self.normalized = doc.get("normalized")
        self.pooling = doc.get("pooling")
        self.generator: dict[str, Any] = doc["generator"] if isinstance(doc.get("generator"), dict) else {}

    def made_by(self) -> str:
        """How the reference was made, in a few words."""
        parts: list[str] = []
        if self.pooling:
            parts.append("%s pooling" % self.pooling)
        if self.normalized is not None:
            parts.append("normalized" if self.normalized else "not normalized")
        if self.generator.get("dtype"):
            parts.append(str(self.generator["dtype"]))
        library = self.generator.get("library")
        if library:
            version = (self.generator.get("versions") or {}).get(library)
            parts.append("made by %s%s" % (library, " " + str(version) if version else ""))
        return ", ".join(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reference_problems(doc: Any) -> list[str]:
    """What is wrong with a reference document, each problem in words; empty when it is usable."""
    if not isinstance(doc, dict):
        return ["it is a JSON %s, not an object with model, dimension, inputs and vectors" % type(doc).__name__]
    problems: list[str] = []
    if "format" in doc and doc["format"] != REFERENCE_FORMAT:
        problems.append("format is %r; this collection reads format %d" % (doc["format"], REFERENCE_FORMAT))
    missing = [key for key in ("model", "dimension", "inputs", "vectors") if key not in doc]
    if missing:
        problems.append("it lacks %s" % ", ".join(missing))
    if "model" in doc and (not isinstance(doc["model"], str) or not doc["model"]):
        problems.append("model is %r, not the model's id" % (doc["model"],))
    dimension = doc.get("dimension")
    if "dimension" in doc and (not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1):
        problems.append("dimension is %r, not a whole number of at least 1" % (dimension,))
        dimension = None
    inputs = doc.get("inputs")
    if "inputs" in doc:
        if not isinstance(inputs, list) or not inputs:
            problems.append("inputs is not a list of texts")
            inputs = None
        else:
            problems.extend(
                "inputs[%d] is %r, not a non-empty text" % (i, text)
                for i, text in enumerate(inputs) if not isinstance(text, str) or not text
            )
    vectors = doc.get("vectors")
    if "vectors" in doc:
        if not isinstance(vectors, list):
            problems.append("vectors is not a list of vectors")
        else:
            if inputs is not None and len(vectors) != len(inputs):
                problems.append("it holds %d vectors for %d inputs" % (len(vectors), len(inputs)))
            for i, vector in enumerate(vectors):
                problems.extend(_vector_problems(i, vector, dimension))
    tokens = doc.get("tokens")
    if tokens is not None and (
        not isinstance(tokens, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens)
        or (inputs is not None and len(tokens) != len(inputs))
    ):
        problems.append("tokens is not a list of one token count per input")
    if doc.get("normalized") is not None and not isinstance(doc["normalized"], bool):
        problems.append("normalized is %r, not true or false" % (doc["normalized"],))
    return problems


def _vector_problems(i: int, vector: Any, dimension: int | None) -> list[str]:
    if not isinstance(vector, list) or not all(_is_number(value) for value in vector):
        return ["vectors[%d] is not a list of numbers" % i]
    if dimension is not None and len(vector) != dimension:
        return ["vectors[%d] has %d values, but dimension says %d" % (i, len(vector), dimension)]
    if not all(math.isfinite(value) for value in vector):
        return ["vectors[%d] holds a value that is not finite" % i]
    if not any(vector):
        return ["vectors[%d] is all zeros: it has no direction to compare with" % i]
    return []


def parse_reference(doc: Any, label: str) -> Reference:
    """A Reference from a document, or EndpointError(reference_invalid) naming `label` and every problem."""
    problems = reference_problems(doc)
    if problems:
        shown = problems[:5] + (["and %d more problems" % (len(problems) - 5)] if len(problems) > 5 else [])
        raise EndpointError(
            "reference_invalid",
            "%s is not a usable reference: %s. Make one with scripts/make-reference-vectors.py (docs/verification.md)"
            % (label, "; ".join(shown)),
        )
    return Reference(doc, label)


def read_reference_file(path: str) -> Reference:
    """The Reference in the JSON file at `path`; its problems as EndpointError(reference_invalid) naming it."""
    label = "reference_file %s" % path
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_REFERENCE_BYTES + 1)
    except OSError as exc:
        raise EndpointError("reference_invalid", "%s cannot be read: %s" % (label, exc.strerror or exc)) from exc
    if len(raw) > MAX_REFERENCE_BYTES:
        raise EndpointError(
            "reference_invalid", "%s is larger than %d MiB: not a reference file" % (label, MAX_REFERENCE_BYTES >> 20)
        )
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise EndpointError("reference_invalid", "%s is not JSON: %s" % (label, exc)) from exc
    return parse_reference(doc, label)


def check_reference_model(reference: Reference, model: str) -> None:
    """The reference was made for `model` (the model's id, such as org/name)."""
    if reference.model != model:
        raise EndpointError(
            "reference_invalid",
            "%s was made for model %s, not for %s: use the reference of the served model, or set reference_model "
            "when the reference names the same model by another id" % (reference.label, reference.model, model),
        )


def check_reference_dimension(reference: Reference, dimension: int, model: str, where: str) -> None:
    if dimension != reference.dimension:
        raise EndpointError(
            "dimension_mismatch",
            "model %s at %s answers %d dimensions, but %s holds vectors of %d (made for model %s): the served model "
            "is not the one the reference was made for, or the request asks for other dimensions"
            % (model, where, dimension, reference.label, reference.dimension, reference.model),
        )


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors; 0.0 when either has no direction."""
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    if not norm:
        return 0.0
    return math.fsum(x * y for x, y in zip(a, b)) / norm


def snippet(text: str, words: int = 6, limit: int = 60) -> str:
    """The first words of a text (at most `limit` characters), for a message."""
    whole = " ".join(text.split())
    shown = " ".join(whole.split(" ")[:words])[:limit].rstrip()
    return shown + ("..." if shown != whole else "")


def describe_input(index: int, text: str) -> str:
    return 'input %d ("%s")' % (index, snippet(text))


def compare_with_reference(reference: Reference, vectors: Sequence[Sequence[float]], min_cosine: float, model: str,
                           where: str, prompt_tokens: Any = None) -> list[float]:
    """The cosine of each served vector with its reference vector; EndpointError(reference_mismatch) if one is low.

    `vectors` answer reference.inputs, in order. `prompt_tokens` (the answer's usage) is compared with the
    reference's token counts for a hint: a different count means another tokenizer or truncation.
    """
    check_reference_dimension(reference, len(vectors[0]) if vectors else 0, model, where)
    cosines = [cosine(served, expected) for served, expected in zip(vectors, reference.vectors)]
    low = [i for i, value in enumerate(cosines) if not value >= min_cosine]  # NaN is low too
    if low:
        worst = min(low, key=lambda i: cosines[i])
        made = reference.made_by()
        hint = ""
        if reference.tokens and isinstance(prompt_tokens, int) and prompt_tokens != sum(reference.tokens):
            hint = (
                "; the server counted %d tokens for these inputs, the reference's tokenizer %d: another tokenizer, "
                "or truncation" % (prompt_tokens, sum(reference.tokens))
            )
        err = EndpointError(
            "reference_mismatch",
            "model %s at %s: %s has cosine %.4f with its reference vector in %s (model %s%s), below min_cosine %g; "
            "%d of %d inputs below (cosines: %s). The server computes other vectors than the reference. %s%s"
            % (
                model, where, describe_input(worst, reference.inputs[worst]), cosines[worst], reference.label,
                reference.model, ", %s" % made if made else "", min_cosine, len(low), len(cosines),
                ", ".join("%.4f" % value for value in cosines), LIKELY_CAUSES, hint,
            ),
        )
        err.cosines = cosines
        raise err
    return cosines


def check_reference_norms(reference: Reference, norms: Iterable[float], model: str, where: str,
                          tolerance: float = UNIT_NORM_TOLERANCE) -> None:
    """A reference made normalized wants unit vectors: a cosine cannot tell a missing normalisation."""
    if not reference.normalized:
        return
    for i, norm in enumerate(norms):
        if abs(norm - 1.0) > tolerance:
            raise EndpointError(
                "not_unit_norm",
                "model %s at %s: the vector of %s has norm %.6g, but %s is normalized (norm 1 within %g): the server "
                "does not normalize the embeddings as the model does (vLLM's --pooler-config normalize)"
                % (model, where, describe_input(i, reference.inputs[i]), norm, reference.label, tolerance),
            )


def compare_endpoints(answers: Sequence[tuple[str, Sequence[Sequence[float]]]], inputs: Sequence[str],
                      min_cosine: float, model: str) -> list[dict[str, Any]]:
    """Cosines of every pair of endpoints on every input; EndpointError(endpoints_disagree) if one is low.

    `answers` is [(endpoint URL, vectors)], each answering `inputs` in order. Returns one dict per pair:
    {"endpoints": [a, b], "cosines": [...], "lowest": x}.
    """
    dimensions: dict[int, list[str]] = {}
    for url, vectors in answers:
        dimensions.setdefault(len(vectors[0]) if vectors else 0, []).append(public_url(url))
    if len(dimensions) > 1:
        raise EndpointError(
            "dimension_mismatch",
            "the endpoints serving model %s answer different dimensions: %s: they do not serve the same model"
            % (model, "; ".join("%d from %s" % (d, ", ".join(urls)) for d, urls in sorted(dimensions.items()))),
        )
    pairs: list[dict[str, Any]] = []
    worst = None
    below = 0
    for first in range(len(answers)):
        for second in range(first + 1, len(answers)):
            (url_a, vectors_a), (url_b, vectors_b) = answers[first], answers[second]
            cosines = [cosine(a, b) for a, b in zip(vectors_a, vectors_b)]
            pairs.append({
                "endpoints": [public_url(url_a), public_url(url_b)],
                "cosines": [round(value, 6) for value in cosines],
                "lowest": round(min(cosines), 6),
            })
            for i, value in enumerate(cosines):
                if not value >= min_cosine:
                    below += 1
                    if worst is None or value < worst[0]:
                        worst = (value, i, public_url(url_a), public_url(url_b))
    if worst is not None:
        value, i, url_a, url_b = worst
        err = EndpointError(
            "endpoints_disagree",
            "endpoints %s and %s disagree on %s for model %s: cosine %.4f, below min_cosine %g (%d pair-inputs "
            "below, of %d). The same model served two ways: compare their pooling, normalisation, dtype, "
            "max_model_len (truncation) and the model's revision; %s"
            % (url_a, url_b, describe_input(i, inputs[i]), model, value, min_cosine, below,
               len(pairs) * len(inputs), "the endpoint that disagrees with all others (see pairs) is the odd one"
               if len(answers) > 2 else "a reference (embeddings_verify reference_file) tells which one is right"),
        )
        err.pairs = pairs
        raise err
    return pairs


# Two texts about unrelated things: an over-long input made of the first then the second tells, by which of
# them its vector resembles, which end a server that truncates kept. Every word is one token for the common
# tokenizers (WordPiece, SentencePiece, BPE) or close to it.
LONG_INPUT_HEAD = "cats sleep on warm windows in the sun "
LONG_INPUT_TAIL = "stock markets fell sharply after the bank report "


def long_input_texts(max_input_tokens: int) -> tuple[str, str, str]:
    """(head, tail, head + tail): each part about 0.6 of the context, both together about 1.2 of it."""
    def fill(sentence: str, words: int) -> str:
        unit = sentence.split()
        return " ".join(unit[i % len(unit)] for i in range(words))
    words = max(8, int(max_input_tokens * 0.6))
    head, tail = fill(LONG_INPUT_HEAD, words), fill(LONG_INPUT_TAIL, words)
    return head, tail, head + " " + tail


def long_input_behaviour(api: OpenAIEmbeddings, model: str, max_input_tokens: int) -> dict[str, Any]:
    """What the server does with one input longer than its context: refuses it (`refused`), or embeds what is left
    after cutting the end (`end cut`) or the start (`start cut`); `accepted` when it embeds it and neither part
    dominates (a context longer than stated). Raises any other error."""
    head, tail, both = long_input_texts(max_input_tokens)
    result: dict[str, Any] = {"max_input_tokens": max_input_tokens, "words_sent": len(both.split())}
    try:
        whole = api.embed([both], model, "float")
    except EndpointError as err:
        if err.kind != "input_too_long":
            raise
        result.update(outcome="refused", detail=error_detail(err.body) or err.message)
        return result
    parts = api.embed([head, tail], model, "float")
    to_head, to_tail = cosine(whole.vectors[0], parts.vectors[0]), cosine(whole.vectors[0], parts.vectors[1])
    usage = whole.usage or {}
    result.update(cosine_to_start=round(to_head, 4), cosine_to_end=round(to_tail, 4),
                  prompt_tokens=usage.get("prompt_tokens"))
    if abs(to_head - to_tail) < 0.05:
        result.update(outcome="accepted", detail="embedded whole (its vector is as close to its start as to its end)")
    elif to_head > to_tail:
        result.update(outcome="end cut", detail="embedded after cutting its end: only the start counts")
    else:
        result.update(outcome="start cut", detail="embedded after cutting its start: only the end counts")
    return result
