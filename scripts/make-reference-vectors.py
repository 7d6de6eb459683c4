"""Compute reference vectors for embeddings_verify with sentence-transformers, from local weights.

  .cache/infinity-venv/bin/python scripts/make-reference-vectors.py
      the reference of the local default model (the packaged all-MiniLM-L6-v2 the vllm role serves), written
      to roles/vllm/files/reference_vectors/sentence-transformers--all-MiniLM-L6-v2.json

  python scripts/make-reference-vectors.py --model BAAI/bge-m3 --model-dir /path/to/bge-m3 \\
      --output roles/vllm/files/reference_vectors/BAAI--bge-m3.json
      the same for another model, on a machine that has its weights (a sentence-transformers folder)

  --pooling cls --output tests/unit/fixtures/reference_vectors/all-MiniLM-L6-v2-cls.json
      the same model pooled another way (a wrong replica), the fixture the unit tests compare against

The file (format 1) records the model, the dimension, the inputs with their token counts, the vectors (float32)
and how it was made: generator, library versions, pooling, normalization, dtype and the weights' identity.
embeddings_verify (options reference_file, reference) checks a served model against it; docs/verification.md.

Needs sentence-transformers and torch (not the controller venv: .cache/infinity-venv has them here). Runs offline
(HF_HUB_OFFLINE=1): the weights come from --model-dir only. The committed file is what CI uses; this script is run
only to make or renew one.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL_DIR = "/var/lib/embedops/vllm/models/all-minilm-l6-v2"
REFERENCE_DIR = os.path.join(ROOT, "roles", "vllm", "files", "reference_vectors")
FORMAT = 1
# Ordinary sentences of different lengths (4 to about 90 tokens), all far below any model's context, so that no
# server truncates them and the reference holds whatever max_model_len a deployment sets.
DEFAULT_INPUTS = [
    "Hello world.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password if I no longer have access to my email?",
    "Invoice 4521 was paid on 3 March 2025: 1,299.00 EUR for twelve licences.",
    "Please restart the payment service after the database migration has finished and the replicas have "
    "caught up with the primary.",
    "Embedding models turn each sentence into a vector of numbers, so that texts with similar meanings end up "
    "close to one another. A search service embeds the question, compares it with the vectors of every "
    "document it holds, and returns the nearest ones. When two servers pool the token vectors differently, "
    "the numbers still look plausible, but the nearest documents are no longer the right ones.",
]


def reference_path(model):
    """Where the vllm role looks for the reference of `model` (an id such as org/name)."""
    return os.path.join(REFERENCE_DIR, model.replace("/", "--") + ".json")


def weights_identity(model_dir):
    """What identifies the weights: model_provision's record when there is one, else the weights' sha256."""
    record = os.path.join(model_dir, ".embedops-model.json")
    if os.path.exists(record):
        with open(record) as handle:
            doc = json.load(handle)
        return {"checksum": doc.get("checksum"), "source": doc.get("source"), "identity": doc.get("identity")}
    found = {}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith((".safetensors", ".bin")):
            digest = hashlib.sha256()
            with open(os.path.join(model_dir, name), "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            found[name] = digest.hexdigest()
    return {"sha256": found}


def load_model(model_dir, pooling, dtype, device):
    import torch  # pylint: disable=import-error
    from sentence_transformers import SentenceTransformer, models  # pylint: disable=import-error

    model = SentenceTransformer(model_dir, device=device)
    modules = list(model)
    pools = [module for module in modules if isinstance(module, models.Pooling)]
    if len(pools) != 1:
        raise SystemExit("%s: expected one Pooling module in modules.json, found %d" % (model_dir, len(pools)))
    served_pooling = pools[0].get_pooling_mode_str()
    if pooling and pooling != served_pooling:
        replaced = models.Pooling(pools[0].get_sentence_embedding_dimension(), pooling_mode=pooling)
        modules = [replaced if module is pools[0] else module for module in modules]
        model = SentenceTransformer(modules=modules, device=device)
    normalized = any(isinstance(module, models.Normalize) for module in modules)
    model.to(getattr(torch, dtype))
    return model, pooling or served_pooling, served_pooling, normalized


def token_counts(model, texts):
    """Tokens of each text with the special tokens, as a server counts them (usage.prompt_tokens)."""
    tokenizer = model.tokenizer
    return [len(tokenizer(text)["input_ids"]) for text in texts]


def float32_text(value):
    """A float32 value in the fewest digits that read back as the same float32 (at most 9)."""
    return "%.9g" % value


def render(doc):
    """JSON with one vector per line: readable, and a renewed file diffs line by line."""
    lines = ["{"]
    items = list(doc.items())
    for position, (key, value) in enumerate(items):
        comma = "," if position < len(items) - 1 else ""
        if key == "vectors":
            rows = ",\n".join("    [%s]" % ", ".join(float32_text(x) for x in vector) for vector in value)
            lines.append('  "vectors": [\n%s\n  ]%s' % (rows, comma))
        else:
            lines.append("  %s: %s%s" % (json.dumps(key), json.dumps(value, indent=2).replace("\n", "\n  "), comma))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help="the model's id, as the vllm role's vllm_model names it (default %(default)s)")
    parser.add_argument("--model-dir", default=DEFAULT_MODEL_DIR,
                        help="its weights, a sentence-transformers folder (default %(default)s)")
    parser.add_argument("--output", help="the file to write (default: where the vllm role looks for --model)")
    parser.add_argument("--pooling", choices=["mean", "cls", "max", "lasttoken"],
                        help="pool another way than the model's own Pooling module (for test fixtures)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                        help="the dtype to compute in (default %(default)s; a reference should be float32)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--inputs", help="a JSON file holding a list of texts (default: six built-in sentences)")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import numpy  # pylint: disable=import-error
    import sentence_transformers  # pylint: disable=import-error
    import torch  # pylint: disable=import-error
    import transformers  # pylint: disable=import-error

    inputs = DEFAULT_INPUTS
    if args.inputs:
        with open(args.inputs) as handle:
            inputs = json.load(handle)
        if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t for t in inputs):
            raise SystemExit("%s: expected a JSON list of non-empty texts" % args.inputs)

    model, pooling, model_pooling, normalized = load_model(args.model_dir, args.pooling, args.dtype, args.device)
    tokens = token_counts(model, inputs)
    limit = model.max_seq_length
    too_long = [i for i, count in enumerate(tokens) if count > limit]
    if too_long:
        raise SystemExit(
            "inputs %s are longer than the model's max_seq_length (%d tokens): sentence-transformers would truncate "
            "them and a server with a longer max_model_len would not; use shorter texts"
            % (", ".join(str(i) for i in too_long), limit)
        )
    vectors = model.encode(inputs, batch_size=len(inputs), convert_to_numpy=True, normalize_embeddings=False)
    vectors = vectors.astype(numpy.float32)
    dimension = int(vectors.shape[1])
    for i, vector in enumerate(vectors):
        if not all(math.isfinite(float(x)) for x in vector):
            raise SystemExit("vector %d is not finite: the model's output is broken in %s" % (i, args.dtype))

    doc = {
        "format": FORMAT,
        "model": args.model,
        "dimension": dimension,
        "pooling": pooling,
        "normalized": normalized,
        "max_seq_length": limit,
        "generator": {
            "script": "scripts/make-reference-vectors.py",
            "library": "sentence-transformers",
            "versions": {
                "python": platform.python_version(),
                "sentence-transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__,
                "numpy": numpy.__version__,
            },
            "dtype": args.dtype,
            "device": args.device,
            # The pooling of the model's own Pooling module; "pooling" above differs only for a test fixture.
            "model_pooling": model_pooling,
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "weights": weights_identity(args.model_dir),
        "inputs": inputs,
        "tokens": tokens,
        "vectors": [[float(x) for x in vector] for vector in vectors],
    }
    output = args.output or reference_path(args.model)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w") as handle:
        handle.write(render(doc))
    norms = [round(float(numpy.linalg.norm(v)), 4) for v in vectors]
    print("%s: %s, %d inputs, %d dimensions, %s pooling, normalized %s, norms %s"
          % (output, args.model, len(inputs), dimension, pooling, normalized, norms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
