# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OpenAI embeddings API (POST /embeddings, GET /models) on top of HttpClient.

Works against any OpenAI-compatible server: vLLM, Ollama's /v1, OpenAI. Answers are parsed
and checked here; vectors sent as base64 are decoded (little-endian float32, as the OpenAI
API and vLLM encode them). The checks are plain functions so that modules, benchmarks and
tests share them. Standard library only: this runs on managed hosts.

Every failure is an EndpointError whose `kind` says what the operator can do about it. On top
of http_client's kinds (name_resolution, connection_refused, timeout, tls, connection, http,
config) this layer uses:
  unauthorized, unknown_model, endpoint_not_found, input_too_long, not_ready,
  rate_limited, quota_exceeded,
  invalid_response, count_mismatch, order_mismatch, dimension_mismatch, non_finite,
  not_unit_norm, base64_mismatch

HTTP 429 is `rate_limited` (retried by Retry as the answer's Retry-After says, within the
wait_timeout) unless the body says the account's quota is used up (OpenAI's
`insufficient_quota`): that is `quota_exceeded`, which no wait cures.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import email.utils
import math
import struct
import time
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    EndpointError,
    HttpClient,
    HttpResponse,
    error_detail,
)

_T = TypeVar("_T")
Vector = list[float]

# Failures that go away by themselves while a server starts or loads its model.
RETRYABLE_KINDS = frozenset(("connection_refused", "connection", "timeout", "not_ready"))
NOT_READY_STATUSES = (502, 503, 504)
# How vLLM, OpenAI, Ollama and llama.cpp word a refusal of an input longer than the model takes.
TOO_LONG_PHRASES = (
    "context length", "maximum model length", "max context", "longer than",
    "too long", "too large", "reduce the length",
)
# OpenAI's code for a 429 that waiting does not cure.
QUOTA_CODES = ("insufficient_quota",)
UNIT_NORM_TOLERANCE = 1e-3
BASE64_MIN_COSINE = 0.999


class Embeddings:
    """A checked answer of POST /embeddings: one vector per input, in input order."""

    def __init__(self, model: Any, vectors: list[Vector], usage: dict[str, Any], base64_encoded: bool,
                 elapsed: float | None) -> None:
        self.model = model
        self.vectors = vectors
        self.usage = usage
        self.base64_encoded = base64_encoded
        self.elapsed = elapsed

    @property
    def dimension(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0


def decode_base64_vector(text: str) -> Vector:
    """Decode one base64 embedding: little-endian float32 values."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("is not valid base64 (%s)" % exc) from exc
    if len(raw) % 4:
        raise ValueError("decodes to %d bytes, not a whole number of float32 values" % len(raw))
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def _float_vector(values: Iterable[Any]) -> Vector:
    vector: Vector = []
    for value in values:
        if value is None:  # what JSON encoders that refuse NaN and Infinity write instead
            vector.append(math.nan)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                vector.append(float(value))
            except OverflowError:  # an integer of hundreds of digits: JSON allows it, no float holds it
                raise ValueError(
                    "holds an integer of %d digits, too large for a float" % len(str(abs(value)))
                ) from None
        else:
            raise ValueError("holds %r, not a number" % (value,))
    return vector


def parse_embeddings(doc: Any, n_inputs: int, url: str, elapsed: float | None = None) -> Embeddings:
    """Check the shape of a POST /embeddings answer and return it as Embeddings.

    Checks: a data list, one item per input, data[i].index == i, vectors given as number
    lists or base64 strings, all of one dimension.
    """
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise EndpointError(
            "invalid_response", "%s answered without a data list: not an OpenAI embeddings answer" % url, url=url
        )
    if not all(isinstance(item, dict) for item in data):
        raise EndpointError("invalid_response", "%s answered a data list whose items are not objects" % url, url=url)
    if len(data) != n_inputs:
        raise EndpointError(
            "count_mismatch", "sent %d inputs to %s, got %d vectors back" % (n_inputs, url, len(data)), url=url
        )
    indexes = [item.get("index") for item in data]
    for position, index in enumerate(indexes):
        if not isinstance(index, int) or isinstance(index, bool):
            raise EndpointError(
                "invalid_response",
                "%s answered data[%d].index as %r, a %s, not an integer: not an OpenAI embeddings answer"
                % (url, position, index, "string" if isinstance(index, str) else type(index).__name__),
                url=url,
            )
    if indexes != list(range(n_inputs)):
        position = next(i for i, index in enumerate(indexes) if index != i)
        raise EndpointError(
            "order_mismatch",
            "%s answered the vectors out of input order: data[%d].index is %s, expected %d (indexes: %s)"
            % (url, position, indexes[position], position, ", ".join(str(index) for index in indexes)),
            url=url,
        )
    vectors: list[Vector] = []
    encoded: list[bool] = []
    for i, item in enumerate(data):
        embedding = item.get("embedding")
        try:
            if isinstance(embedding, str):
                vectors.append(decode_base64_vector(embedding))
                encoded.append(True)
            elif isinstance(embedding, list):
                vectors.append(_float_vector(embedding))
                encoded.append(False)
            else:
                raise ValueError("is %s, neither a list of numbers nor a base64 string" % type(embedding).__name__)
        except ValueError as exc:
            raise EndpointError("invalid_response", "data[%d].embedding from %s %s" % (i, url, exc), url=url) from exc
    dimensions = sorted(set(len(vector) for vector in vectors))
    if len(dimensions) > 1:
        raise EndpointError(
            "dimension_mismatch",
            "the vectors from %s differ in dimension: %s" % (url, ", ".join(str(d) for d in dimensions)),
            url=url,
        )
    usage = doc.get("usage") if isinstance(doc.get("usage"), dict) else {}
    return Embeddings(
        model=doc.get("model"),
        vectors=vectors,
        usage={"prompt_tokens": usage.get("prompt_tokens"), "total_tokens": usage.get("total_tokens")},
        base64_encoded=bool(encoded) and all(encoded),
        elapsed=elapsed,
    )


def model_entries(doc: Any, url: str) -> list[dict[str, Any]]:
    """The model objects a GET /models answer lists (each with its id)."""
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) and "id" in item for item in data):
        raise EndpointError("invalid_response", "%s answered without a data list of models with ids" % url, url=url)
    return data


def parse_models(doc: Any, url: str) -> list[str]:
    """The model ids a GET /models answer lists."""
    return [str(item["id"]) for item in model_entries(doc, url)]


def listed_max_input_tokens(entries: Sequence[Mapping[str, Any]], model: str) -> int | None:
    """The context length a server lists for `model` (vLLM's /models has max_model_len), or None."""
    for item in entries:
        if model_is_served(model, [str(item.get("id"))]):
            value = item.get("max_model_len")
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


def model_is_served(model: str, served: Sequence[str]) -> bool:
    """Whether `model` is among the served ids; Ollama lists 'name:latest' for 'name'."""
    return model in served or (":" not in model and model + ":latest" in served)


def check_served(model: str, served: Sequence[str], base_url: str) -> None:
    if not model_is_served(model, served):
        raise EndpointError(
            "unknown_model",
            "model %s is not served by %s; it serves: %s" % (model, base_url, ", ".join(served) or "(no models)"),
            url=base_url,
        )


def check_dimension(vectors: Sequence[Sequence[float]], expected: int, model: str) -> None:
    got = len(vectors[0]) if vectors else 0
    if got != expected:
        raise EndpointError(
            "dimension_mismatch", "expected %d dimensions, got %d from model %s" % (expected, got, model)
        )


def check_finite(vectors: Sequence[Sequence[float]]) -> None:
    bad = [
        (i, j, value) for i, vector in enumerate(vectors) for j, value in enumerate(vector) if not math.isfinite(value)
    ]
    if bad:
        i, j, value = bad[0]
        raise EndpointError(
            "non_finite",
            "vector %d holds %s at position %d (%d non-finite values in all): the model's output is broken, "
            "often a numeric precision problem (try another dtype)" % (i, value, j, len(bad)),
        )


def vector_norms(vectors: Iterable[Iterable[float]]) -> list[float]:
    return [math.sqrt(math.fsum(value * value for value in vector)) for vector in vectors]


def check_unit_norm(norms: Iterable[float], tolerance: float = UNIT_NORM_TOLERANCE) -> None:
    for i, norm in enumerate(norms):
        if abs(norm - 1.0) > tolerance:
            raise EndpointError(
                "not_unit_norm",
                "vector %d has norm %.6g, not 1 within %g: the server does not normalize the embeddings"
                % (i, norm, tolerance),
            )


def compare_vectors(floats: Iterable[Sequence[float]], decoded: Iterable[Sequence[float]],
                    min_cosine: float = BASE64_MIN_COSINE) -> None:
    """Check that the base64-decoded vectors are the float ones: the same length, and a cosine of at least
    min_cosine between each pair. The two answers come from two requests, which a server computes anew (batched
    differently, in bfloat16 on a CPU: values differ in the third digit), so equality is not expected; a wrong
    encoding (byte order, float16 read as float32, a shifted buffer) gives another vector altogether."""
    for i, (expected, got) in enumerate(zip(floats, decoded)):
        if len(expected) != len(got):
            raise EndpointError(
                "base64_mismatch", "base64 vector %d has %d values, the float vector %d" % (i, len(got), len(expected)),
            )
        dot = math.fsum(a * b for a, b in zip(expected, got))
        norms = math.sqrt(math.fsum(a * a for a in expected)) * math.sqrt(math.fsum(b * b for b in got))
        cosine = dot / norms if norms > 0 else 0.0
        if math.isnan(cosine) or cosine < min_cosine:
            raise EndpointError(
                "base64_mismatch",
                "base64 vector %d does not decode to the float vector: cosine %.6f between them, at least %g "
                "expected (decoded as little-endian float32)" % (i, cosine, min_cosine),
            )


def parse_retry_after(value: Any, now: float | None = None) -> float | None:
    """Seconds to wait that a Retry-After header asks for: delta-seconds or an HTTP date.

    None when the header is missing or unreadable; a date in the past is 0.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return seconds if seconds >= 0 and math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC, with no zone named
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def rate_limited_error(response: HttpResponse) -> EndpointError:
    """The EndpointError for an HTTP 429 answer; `retry_after` holds the seconds the server asks for (or None)."""
    detail = error_detail(response.body) or "(empty body)"
    where = "%s answered HTTP 429" % response.url
    code = ""
    try:
        doc = response.json()
        error = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or error.get("type") or "")
    except EndpointError:
        pass
    if code in QUOTA_CODES:
        err = EndpointError(
            "quota_exceeded",
            "%s (%s): the quota of the account the API key belongs to is used up; waiting does not help: check "
            "the plan and billing of that account, or use another key" % (where, detail),
            url=response.url, status=429, body=response.body[:2000],
        )
        err.retry_after = None
        return err
    header = _header(response.headers, "Retry-After")
    retry_after = parse_retry_after(header)
    asks = " and asks to retry after %gs" % retry_after if retry_after is not None else ""
    err = EndpointError(
        "rate_limited",
        "%s (%s): rate limited%s" % (where, detail, asks),
        url=response.url, status=429, body=response.body[:2000],
    )
    err.retry_after = retry_after
    return err


def classify_http_error(err: EndpointError, model: str | None, has_api_key: bool) -> EndpointError:
    """Give an HTTP error answer of an OpenAI-compatible server the kind an operator acts on."""
    if err.kind != "http":
        return err
    status = err.status
    if status is None:  # an HTTP failure without an answer to classify (a redirect loop): its message says it all
        return err
    if status < 300:  # a successful status with a body that is not JSON
        return _refined(err, "invalid_response", err.message)
    detail = error_detail(err.body) or "(empty body)"
    where = "%s answered HTTP %s" % (err.url, status)
    if status in (401, 403):
        if has_api_key:
            advice = "the endpoint refused the API key: check api_key"
        else:
            advice = "the endpoint requires an API key: set api_key"
        return _refined(err, "unauthorized", "%s (%s): %s" % (where, detail, advice))
    if status in (400, 413, 422, 500) and any(phrase in detail.lower() for phrase in TOO_LONG_PHRASES):
        return _refined(err, "input_too_long", "%s: the input is too long for model %s: %s" % (where, model, detail))
    if status == 404 and "model" in detail.lower():
        return _refined(err, "unknown_model", "model %s is not served by %s: %s" % (model, err.url, detail))
    if status == 404:
        return _refined(
            err, "endpoint_not_found",
            "%s (%s): no such API path there; api_base must be the base URL including /v1 (such as "
            "http://127.0.0.1:8000/v1) of a server that serves embeddings" % (where, detail),
        )
    if status in NOT_READY_STATUSES:
        return _refined(
            err, "not_ready", "%s (%s): the server is not ready (starting, or loading the model?)" % (where, detail)
        )
    return err


def _refined(err: EndpointError, kind: str, message: str) -> EndpointError:
    return EndpointError(kind, message, url=err.url, status=err.status, body=err.body)


class OpenAIEmbeddings:
    """POST /embeddings and GET /models of one OpenAI-compatible endpoint (HttpClient bound to .../v1)."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def _request(self, method: str, path: str, model: str | None = None,
                 payload: Any = None) -> tuple[HttpResponse, Any]:
        """The answer and its JSON document."""
        try:
            response = self.client.request(method, path, json_body=payload, expect=(200, 429))
            if response.status == 429:
                raise rate_limited_error(response)
            return response, response.json()
        except EndpointError as err:
            if err.kind in ("rate_limited", "quota_exceeded"):
                raise
            raise classify_http_error(err, model, bool(self.client.api_key)) from err

    def list_models(self) -> list[str]:
        return [str(item["id"]) for item in self.list_model_entries()]

    def list_model_entries(self) -> list[dict[str, Any]]:
        response, doc = self._request("GET", "models")
        return model_entries(doc, response.url)

    def embed(self, inputs: Iterable[str], model: str, encoding_format: str = "float",
              dimensions: int | None = None) -> Embeddings:
        payload: dict[str, Any] = {"model": model, "input": list(inputs), "encoding_format": encoding_format}
        if dimensions is not None:
            payload["dimensions"] = dimensions
        response, doc = self._request("POST", "embeddings", model=model, payload=payload)
        return parse_embeddings(doc, len(payload["input"]), response.url, elapsed=response.elapsed)


class Retry:
    """Repeat a call while it fails in a retryable way, with doubling pauses, until a deadline.

    wait_timeout 0 means one try. `attempts` counts the calls made, whatever the outcome.

    A `rate_limited` failure (HTTP 429) waits as long as its Retry-After asks (the doubling
    pause when it names none) and tries again, if that wait ends before the deadline; otherwise
    it is raised at once, with `wait_exceeds_deadline` set, rather than hammering the server
    before the time it named. `rate_limit_waits` lists those waits, in seconds.
    """

    first_delay = 0.5
    max_delay = 5.0
    sleep = staticmethod(time.sleep)

    def __init__(self, wait_timeout: float) -> None:
        self.wait_timeout = wait_timeout
        self.attempts = 0
        self.rate_limit_waits: list[float] = []

    def run(self, call: Callable[[], _T]) -> _T:
        deadline = time.monotonic() + self.wait_timeout
        delay = self.first_delay
        while True:
            self.attempts += 1
            try:
                return call()
            except EndpointError as err:
                remaining = deadline - time.monotonic()
                if err.kind == "rate_limited":
                    retry_after = getattr(err, "retry_after", None)
                    pause = delay if retry_after is None else retry_after
                    if self.wait_timeout <= 0 or pause > remaining:
                        err.wait_exceeds_deadline = self.wait_timeout > 0
                        raise
                    self.rate_limit_waits.append(round(pause, 3))
                elif err.kind not in RETRYABLE_KINDS or remaining <= 0:
                    raise
                else:
                    pause = min(delay, remaining)
            self.sleep(pause)
            delay = min(delay * 2, self.max_delay)
