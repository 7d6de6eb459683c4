"""embeddings_verify against a small OpenAI-compatible server on 127.0.0.1, run through the module's main()."""

import base64
import email.utils
import json
import math
import struct
import time
from http.server import BaseHTTPRequestHandler

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import openai_embeddings, reference_vectors
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError
from ansible_collections.embedops.embeddings.plugins.modules import embeddings_verify
from doubles.modules import run_module
from doubles.server_thread import closed_port, local_server, running

pytestmark = pytest.mark.usefixtures("quick_retries")

MODEL = "BAAI/bge-small-en-v1.5"
VLLM_TOO_LONG = (
    "This model's maximum context length is 512 tokens. However, you requested 700 tokens in the input for "
    "embedding generation. Please reduce the length of the input."
)


def float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def text_vector(text, dimension):
    """A unit vector, different for each text, of float32 values as vLLM computes them."""
    raw = [1.0 + (sum(ord(c) for c in text) * (k + 1)) % 17 for k in range(dimension)]
    norm = math.sqrt(sum(value * value for value in raw))
    return [float32(value / norm) for value in raw]


class FakeEndpoint:
    """What the fake server serves; each test sets the fields it needs."""

    def __init__(self):
        self.models = [MODEL, "intfloat/e5-small-v2"]
        self.dimension = 4
        self.api_key = None
        self.max_input_chars = None
        self.normalize = True
        self.queued = []  # (status, body) or (status, body, headers) answered first, whatever the request
        self.delay = 0.0
        self.tamper = None  # tamper(data, encoding_format) changes the data list of an embeddings answer
        self.requests = []  # (method, path, headers, parsed JSON body or None)
        self.answers = []  # (status, extra headers) of every answer sent
        self.max_model_len = None  # the context, in words here
        self.list_context = True  # list max_model_len with the models, as vLLM does (Ollama does not)
        self.truncate = None  # "end" or "start": inputs longer than max_model_len words are cut, as Ollama does
        self.vector_of = None  # vector_of(text) instead of text_vector, for tests that need meaningful vectors

    def answer(self, method, path, headers, body):
        self.requests.append((method, path, headers, body))
        time.sleep(self.delay)
        if self.api_key and headers.get("Authorization") != "Bearer %s" % self.api_key:
            given = (headers.get("Authorization") or "").replace("Bearer ", "")
            # An echo of the refused key, as some servers do: the module must not show it.
            return 401, {"error": {"message": "Incorrect API key provided: %s" % given, "code": 401}}
        if self.queued:
            return self.queued.pop(0)
        if (method, path) == ("GET", "/v1/models"):
            return 200, {"object": "list", "data": [
                dict({"id": m, "object": "model"},
                     **({"max_model_len": self.max_model_len} if self.max_model_len and self.list_context else {}))
                for m in self.models]}
        if (method, path) == ("POST", "/v1/embeddings"):
            return self.embeddings(body)
        return 404, {"detail": "Not Found"}

    def embeddings(self, body):
        if body["model"] not in self.models:
            return 404, {"object": "error", "message": "The model `%s` does not exist." % body["model"], "code": 404}
        inputs = body["input"]
        if self.max_input_chars and any(len(text) > self.max_input_chars for text in inputs):
            return 400, {"object": "error", "message": VLLM_TOO_LONG, "type": "BadRequestError", "code": 400}
        data = []
        for i, text in enumerate(inputs):
            words = text.split()
            keep = int(self.max_model_len or 0)
            if self.truncate and keep and len(words) > keep:
                words = words[:keep] if self.truncate == "end" else words[len(words) - keep:]
                text = " ".join(words)
            vector = self.vector_of(text) if self.vector_of else text_vector(text, self.dimension)
            if not self.normalize:
                vector = [2 * value for value in vector]
            data.append({"object": "embedding", "index": i, "embedding": vector})
        if self.tamper:
            self.tamper(data, body["encoding_format"])
        if body["encoding_format"] == "base64":
            for item in data:
                vector = item["embedding"]
                item["embedding"] = base64.b64encode(struct.pack("<%df" % len(vector), *vector)).decode()
        tokens = sum(len(text.split()) for text in inputs)
        return 200, {
            "object": "list", "model": body["model"], "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }


@pytest.fixture
def endpoint():
    fake = FakeEndpoint()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, doc, *extra = fake.answer(self.command, self.path, dict(self.headers), body)
            headers = extra[0] if extra else {}
            fake.answers.append((status, headers))
            payload = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    with running(local_server(Handler)) as server:
        fake.api_base = "http://127.0.0.1:%d/v1" % server.server_address[1]
        yield fake


def embedding_requests(endpoint):
    return [body for method, path, _, body in endpoint.requests if path == "/v1/embeddings"]


def test_success_checks_order_dimension_and_base64(capsys, endpoint):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, expected_dimension=4))

    assert not failed, result["msg"]
    assert result["changed"] is False
    assert result["model"] == MODEL
    assert (result["dimension"], result["count"], result["attempts"]) == (4, 3, 1)
    assert result["base64_matches"] is True
    assert result["norms"] == [1.0, 1.0, 1.0]
    first_text = embedding_requests(endpoint)[0]["input"][0]
    assert result["preview"] == [round(v, 5) for v in text_vector(first_text, 4)]
    assert result["served_models"] == endpoint.models
    assert result["usage"]["prompt_tokens"] > 0
    assert result["latency_ms"] >= 0
    sent = embedding_requests(endpoint)
    assert [body["encoding_format"] for body in sent] == ["float", "base64"]
    assert sent[0]["input"] == embeddings_verify.DEFAULT_INPUTS
    assert len(set(sent[0]["input"])) == 3


def test_runs_in_check_mode_and_sends_dimensions(capsys, endpoint):
    endpoint.dimension = 8

    failed, result, _ = run_module(
        capsys, embeddings_verify.main, dict(
            api_base=endpoint.api_base, model=MODEL, dimensions=8, check_unit_norm=True, _ansible_check_mode=True),
    )

    assert not failed, result["msg"]
    assert result["dimension"] == 8
    assert all(body["dimensions"] == 8 for body in embedding_requests(endpoint))


def test_dimensions_option_is_the_expected_dimension(capsys, endpoint):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, dimensions=8))

    assert failed
    assert result["error_kind"] == "dimension_mismatch"
    assert result["msg"] == "expected 8 dimensions, got 4 from model %s" % MODEL


def test_shuffled_indexes_are_an_order_error(capsys, endpoint):
    endpoint.tamper = lambda data, _: data.reverse()

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "order_mismatch"
    assert "out of input order: data[0].index is 2, expected 0 (indexes: 2, 1, 0)" in result["msg"]


def test_missing_vector_is_a_count_error(capsys, endpoint):
    endpoint.tamper = lambda data, _: data.pop()

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "count_mismatch"
    assert "sent 3 inputs to %s/embeddings, got 2 vectors back" % endpoint.api_base in result["msg"]


def test_wrong_dimension(capsys, endpoint):
    endpoint.dimension = 384

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, expected_dimension=1024))

    assert failed
    assert result["error_kind"] == "dimension_mismatch"
    assert result["msg"].startswith("expected 1024 dimensions, got 384")
    assert result["dimension"] == 384


def test_nan_value_is_reported(capsys, endpoint):
    def poison(data, _):
        data[1]["embedding"][2] = float("nan")

    endpoint.tamper = poison

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "non_finite"
    assert result["msg"].startswith("vector 1 holds nan at position 2 (1 non-finite values in all)")


def test_base64_that_decodes_to_another_vector(capsys, endpoint):
    """A server whose base64 holds the values in the wrong order (as a wrong byte order or a shifted buffer gives)."""
    def scramble(data, encoding_format):
        if encoding_format == "base64":
            data[2]["embedding"] = data[2]["embedding"][1:] + data[2]["embedding"][:1]

    endpoint.tamper = scramble

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "base64_mismatch"
    assert result["msg"].startswith("base64 vector 2 does not decode to the float vector: cosine")


def test_base64_computed_anew_with_small_differences_passes(capsys, endpoint):
    """Two requests computed apart (bfloat16 on a CPU) differ in the third digit: measured, -0.00646 against -0.00663
    at one position of all-MiniLM-L6-v2's vector. That is the same vector."""
    def jitter(data, encoding_format):
        if encoding_format == "base64":
            data[2]["embedding"] = [value * (1.026 if n % 7 == 0 else 0.998)
                                    for n, value in enumerate(data[2]["embedding"])]

    endpoint.tamper = jitter

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert not failed, result["msg"]
    assert result["base64_matches"] is True


def test_base64_check_can_be_skipped(capsys, endpoint):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, check_base64=False))

    assert not failed, result["msg"]
    assert result["base64_matches"] is None
    assert [body["encoding_format"] for body in embedding_requests(endpoint)] == ["float"]


def test_not_normalized(capsys, endpoint):
    endpoint.normalize = False

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, check_unit_norm=True))

    assert failed
    assert result["error_kind"] == "not_unit_norm"
    assert result["msg"] == "vector 0 has norm 2, not 1 within 0.001: the server does not normalize the embeddings"
    assert result["norms"] == [2.0, 2.0, 2.0]


def test_401_without_key(capsys, endpoint):
    endpoint.api_key = "sk-right"

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=5))

    assert failed
    assert result["error_kind"] == "unauthorized"
    assert result["msg"].endswith("the endpoint requires an API key: set api_key")
    assert result["attempts"] == 1


def test_401_with_wrong_key_never_shows_the_key(capsys, endpoint):
    endpoint.api_key = "sk-right"

    failed, result, output = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, api_key="sk-wrong-secret"))

    assert failed
    assert result["error_kind"] == "unauthorized"
    assert result["msg"].endswith("the endpoint refused the API key: check api_key")
    assert "sk-wrong-secret" not in output


def test_right_key_is_sent_as_bearer(capsys, endpoint):
    endpoint.api_key = "sk-right"

    failed, result, output = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, api_key="sk-right"))

    assert not failed, result["msg"]
    assert all(headers["Authorization"] == "Bearer sk-right" for _, _, headers, _ in endpoint.requests)
    assert "sk-right" not in output


def test_model_not_listed(capsys, endpoint):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model="nomic-embed-text"))

    assert failed
    assert result["error_kind"] == "unknown_model"
    assert result["msg"] == (
        "model nomic-embed-text is not served by %s; it serves: BAAI/bge-small-en-v1.5, intfloat/e5-small-v2"
        % endpoint.api_base
    )
    assert result["served_models"] == endpoint.models
    assert embedding_requests(endpoint) == []


def test_model_answered_404(capsys, endpoint):
    # Listed by /models, unknown to /embeddings.
    endpoint.models = ["other"]
    endpoint.queued = [(200, {"object": "list", "data": [{"id": MODEL}]})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=5))

    assert failed
    assert result["error_kind"] == "unknown_model"
    assert result["msg"] == "model %s is not served by %s/embeddings: The model `%s` does not exist." % (
        MODEL, endpoint.api_base, MODEL,
    )
    assert result["attempts"] == 1


def test_api_base_without_v1(capsys, endpoint):
    failed, result, output = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base[: -len("/v1")], model=MODEL))

    assert failed
    assert result["error_kind"] == "endpoint_not_found"
    assert "api_base must be the base URL including /v1" in result["msg"]
    # In the result, or on stderr once controller code shares the process (other test files load it).
    assert "does not list models (GET /models answered 404)" in output


def test_input_too_long(capsys, endpoint):
    endpoint.max_input_chars = 100

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, inputs=["word " * 100]))

    assert failed
    assert result["error_kind"] == "input_too_long"
    assert "the input is too long for model %s: %s" % (MODEL, VLLM_TOO_LONG) in result["msg"]


def test_expected_input_rejection_succeeds(capsys, endpoint):
    endpoint.max_input_chars = 100

    failed, result, _ = run_module(
        capsys, embeddings_verify.main, dict(
            api_base=endpoint.api_base, model=MODEL, inputs=["word " * 100], expect_max_input_error=True),
    )

    assert not failed, result["msg"]
    assert result["rejection"] == VLLM_TOO_LONG


def test_expected_input_rejection_fails_when_accepted(capsys, endpoint):
    failed, result, _ = run_module(
        capsys, embeddings_verify.main, dict(
            api_base=endpoint.api_base, model=MODEL, inputs=["short"], expect_max_input_error=True),
    )

    assert failed
    assert result["error_kind"] == "input_accepted"
    assert "the server truncates them silently" in result["msg"]


def test_waits_while_the_server_loads(capsys, endpoint):
    loading = (503, {"object": "error", "message": "model is loading", "code": 503})
    endpoint.queued = [loading, loading]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=10))

    assert not failed, result["msg"]
    assert result["attempts"] == 3
    assert result["base64_matches"] is True


def test_not_ready_without_wait_timeout(capsys, endpoint):
    endpoint.queued = [(503, {"object": "error", "message": "model is loading", "code": 503})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "not_ready"
    assert result["msg"].endswith("(if the server is still starting, set wait_timeout to wait for it)")
    assert result["attempts"] == 1


def test_gives_up_at_the_deadline(capsys, endpoint):
    endpoint.queued = [(502, {"detail": "Bad Gateway"})] * 1000

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=0.3))

    assert failed
    assert result["error_kind"] == "not_ready"
    assert result["attempts"] > 1
    assert "(still failing after %d attempts in wait_timeout=0.3s)" % result["attempts"] in result["msg"]


def test_timeout(capsys, endpoint):
    endpoint.delay = 1.0

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, timeout=0.2))

    assert failed
    assert result["error_kind"] == "timeout"
    assert "within 0.2s" in result["msg"]


def test_connection_refused(capsys):
    port = closed_port()

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base="http://127.0.0.1:%d/v1" % port, model=MODEL))

    assert failed
    assert result["error_kind"] == "connection_refused"
    assert result["msg"].startswith("connection refused by http://127.0.0.1:%d/v1/models" % port)


def test_url_without_scheme(capsys):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base="127.0.0.1:8000/v1", model=MODEL))

    assert failed
    assert result["error_kind"] == "config"
    assert result["msg"].startswith("api_base must be an http:// or https:// URL")
    assert "'127.0.0.1:8000/v1'" in result["msg"]


@pytest.mark.parametrize("timeout", [0, -1])
def test_timeout_must_be_positive(capsys, timeout):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base="http://127.0.0.1:8000/v1", model=MODEL, timeout=timeout))

    assert failed
    assert result["error_kind"] == "config"
    assert result["msg"] == "timeout must be greater than 0, got %s" % float(timeout)


def test_empty_input_is_refused(capsys):
    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base="http://127.0.0.1:8000/v1", model=MODEL, inputs=["a", ""]))

    assert failed
    assert result["msg"] == "inputs[1] is empty: the OpenAI API refuses empty texts"


def test_base64_is_little_endian_float32():
    encoded = base64.b64encode(bytes.fromhex("0000803f000000c0")).decode()  # 1.0, -2.0

    assert openai_embeddings.decode_base64_vector(encoded) == [1.0, -2.0]
    with pytest.raises(ValueError, match="not a whole number of float32 values"):
        openai_embeddings.decode_base64_vector(base64.b64encode(b"\x00\x00\x80").decode())


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, VLLM_TOO_LONG),
        (400, "The input (600 tokens) is longer than the model's context length (512 tokens)."),
        (400, "This model's maximum context length is 8192 tokens, however you requested 9000 tokens"),
        (500, "input is too large to process. increase the physical batch size"),
    ],
)
def test_too_long_wordings(status, message):
    err = EndpointError("http", "x", url="http://h/v1/embeddings", status=status, body=json.dumps({"message": message}))

    assert openai_embeddings.classify_http_error(err, MODEL, False).kind == "input_too_long"


def test_answer_that_is_not_json(capsys, endpoint):
    endpoint.queued = [(200, "<html>proxy login</html>")]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "invalid_response"
    assert "%s/models answered 200 with a body that is not JSON" % endpoint.api_base in result["msg"]


def test_other_400_stays_an_http_error():
    body = json.dumps({"message": "Model does not support matryoshka representation"})
    err = EndpointError("http", "x", url="http://h/v1/embeddings", status=400, body=body)

    assert openai_embeddings.classify_http_error(err, MODEL, False) is err


def test_an_http_error_without_a_status_stays_as_it_is():
    # Such as the client's "redirected more than 10 times": nothing to classify (`None < 300` was a TypeError).
    err = EndpointError("http", "GET http://h/v1/models redirected more than 10 times", url="http://h/v1/models")

    assert openai_embeddings.classify_http_error(err, MODEL, False) is err


def test_ollama_latest_tag_counts_as_served():
    assert openai_embeddings.model_is_served("nomic-embed-text", ["nomic-embed-text:latest"])
    assert not openai_embeddings.model_is_served("nomic-embed-text:v1.5", ["nomic-embed-text:latest"])


OPENAI_429 = {
    "error": {
        "message": "Rate limit reached for text-embedding-3-small on requests per min (RPM): Limit 3000.",
        "type": "requests", "param": None, "code": "rate_limit_exceeded",
    }
}
OPENAI_QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota", "param": None, "code": "insufficient_quota",
    }
}


def test_429_waits_as_retry_after_says_then_succeeds(capsys, endpoint):
    endpoint.queued = [(429, OPENAI_429, {"Retry-After": "1"})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=10))

    assert not failed, result["msg"]
    assert result["attempts"] == 2
    assert endpoint.answers[0] == (429, {"Retry-After": "1"})
    # The pause taken is the one the header asked for, not the 0.01 s backoff of the other retries.
    assert result["rate_limit_waits"] == [1.0]
    assert result["base64_matches"] is True


def test_429_retry_after_as_http_date(capsys, endpoint, monkeypatch):
    pauses = []
    monkeypatch.setattr(openai_embeddings.Retry, "sleep", staticmethod(pauses.append))
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    endpoint.queued = [(429, OPENAI_429, {"Retry-After": when})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=60))

    assert not failed, result["msg"]
    assert result["attempts"] == 2
    assert len(pauses) == 1 and 28 <= pauses[0] <= 30
    assert result["rate_limit_waits"] == [round(pauses[0], 3)]


def test_429_without_wait_timeout_fails_at_once(capsys, endpoint):
    endpoint.queued = [(429, OPENAI_429, {"Retry-After": "20"})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(api_base=endpoint.api_base, model=MODEL))

    assert failed
    assert result["error_kind"] == "rate_limited"
    assert result["attempts"] == 1
    assert result["rate_limit_waits"] == []
    assert "answered HTTP 429 (Rate limit reached for text-embedding-3-small" in result["msg"]
    assert "rate limited and asks to retry after 20s" in result["msg"]
    assert "retry later or raise the rate limits of the account or key" in result["msg"]


def test_429_asking_for_longer_than_wait_timeout_fails_without_waiting(capsys, endpoint, monkeypatch):
    pauses = []
    monkeypatch.setattr(openai_embeddings.Retry, "sleep", staticmethod(pauses.append))
    endpoint.queued = [(429, OPENAI_429, {"Retry-After": "120"})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=5))

    assert failed
    assert result["error_kind"] == "rate_limited"
    assert (result["attempts"], pauses) == (1, [])
    assert "asks to retry after 120s, longer than wait_timeout=5.0s leaves after 1 attempts" in result["msg"]
    assert result["msg"].endswith("retry later, raise the rate limits of the account or key, or raise wait_timeout")


def test_429_without_retry_after_backs_off(capsys, endpoint):
    endpoint.queued = [(429, OPENAI_429), (429, OPENAI_429)]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=10))

    assert not failed, result["msg"]
    assert result["attempts"] == 3
    assert result["rate_limit_waits"] == [0.01, 0.02]


def test_429_quota_used_up_is_not_retried(capsys, endpoint):
    endpoint.queued = [(429, OPENAI_QUOTA, {"Retry-After": "1"})]

    failed, result, _ = run_module(capsys, embeddings_verify.main, dict(
        api_base=endpoint.api_base, model=MODEL, wait_timeout=10))

    assert failed
    assert result["error_kind"] == "quota_exceeded"
    assert result["attempts"] == 1
    assert "check the plan and billing" in result["msg"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),  # 100 s after the epoch, asked at 40 s
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # already past
        ("Thu, 01 Jan 1970 00:01:40 -0000", 60.0),  # UTC without a zone name
    ],
)
def test_parse_retry_after(value, expected):
    assert openai_embeddings.parse_retry_after(value, now=40.0) == expected


# ---- what the server does with an input longer than the model's context


def topic_vector(text):
    """Two dimensions: how much of the text is about cats, how much about stock markets (unit length)."""
    head, tail = set(reference_vectors.LONG_INPUT_HEAD.split()), set(reference_vectors.LONG_INPUT_TAIL.split())
    words = text.split()
    raw = [sum(word in head - tail for word in words) + 1e-3, sum(word in tail - head for word in words) + 1e-3]
    norm = math.sqrt(sum(value * value for value in raw))
    return [value / norm for value in raw]


def probe(capsys, endpoint, **options):
    args = dict(api_base=endpoint.api_base, model=MODEL, check_base64=False, probe_long_input=True, **options)
    return run_module(capsys, embeddings_verify.main, args)


def test_a_server_that_refuses_a_long_input_says_so(capsys, endpoint):
    endpoint.max_model_len = 40
    endpoint.max_input_chars = 200  # the 48 words of the probe are over it; the usual inputs are not

    failed, result, _ = probe(capsys, endpoint)

    assert not failed, result
    assert result["long_input"]["outcome"] == "refused"
    assert result["long_input"]["max_input_tokens"] == 40
    assert result["long_input"]["max_input_tokens_from"] == "server"
    assert "maximum context length" in result["long_input"]["detail"]


@pytest.mark.parametrize(("cut", "outcome"), [("end", "end cut"), ("start", "start cut")])
def test_which_end_a_truncating_server_cuts(capsys, endpoint, cut, outcome):
    endpoint.vector_of, endpoint.truncate, endpoint.max_model_len = topic_vector, cut, 50
    endpoint.list_context = False  # as Ollama: the option gives the context

    failed, result, _ = probe(capsys, endpoint, max_input_tokens=50)

    assert not failed, result
    assert result["long_input"]["max_input_tokens_from"] == "option"
    assert result["long_input"]["outcome"] == outcome, result["long_input"]


def test_a_server_that_embeds_the_whole_input_accepts_it(capsys, endpoint):
    endpoint.vector_of = topic_vector
    endpoint.max_model_len = 100  # listed as 100, but nothing is cut

    failed, result, _ = probe(capsys, endpoint)

    assert not failed, result
    assert result["long_input"]["outcome"] == "accepted", result["long_input"]


def test_without_a_known_context_the_probe_is_skipped_with_a_warning(capsys, endpoint, monkeypatch):
    warnings = []
    monkeypatch.setattr(embeddings_verify.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))

    failed, result, _ = probe(capsys, endpoint)

    assert not failed, result
    assert "long_input" not in result
    assert any("max_input_tokens is not set: the long input was not sent" in warning for warning in warnings), warnings
