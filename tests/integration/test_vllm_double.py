"""The vLLM test double answers with vLLM 0.32's bodies, the ones the bad-input cases depend on."""

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import vllm_double  # tests/integration, where this file is: on sys.path as pytest imports it


@pytest.fixture(scope="module")
def server():
    with vllm_double.running("all-minilm", 4, 16, api_key="k") as double:
        yield double


def call(server, path, body=None, key="k"):
    request = urllib.request.Request(server.url[: -len("/v1")] + path, data=json.dumps(body).encode() if body else None)
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_auth_guards_v1_only(server):
    assert call(server, "/v1/models", key=None) == (401, {"error": "Unauthorized"})
    assert call(server, "/v1/models", key="wrong") == (401, {"error": "Unauthorized"})
    assert call(server, "/health", key=None) == (200, None)


def test_models_and_embeddings(server):
    status, models = call(server, "/v1/models")
    assert status == 200 and [(m["id"], m["max_model_len"]) for m in models["data"]] == [("all-minilm", 16)]
    status, doc = call(server, "/v1/embeddings", {"model": "all-minilm", "input": ["a b", "c"]})
    assert status == 200 and [item["index"] for item in doc["data"]] == [0, 1]
    assert all(abs(sum(v * v for v in item["embedding"]) - 1) < 1e-5 for item in doc["data"])
    assert doc["usage"]["prompt_tokens"] == 4 + 3


def test_errors_have_vllm_shapes(server):
    assert call(server, "/v1/embeddings", {"model": "bge-m3", "input": ["a"]}) == (404, {"error": {
        "message": "The model `bge-m3` does not exist. Valid aliases: all-minilm.", "type": "NotFoundError",
        "param": "model", "code": 404}})
    status, doc = call(server, "/v1/embeddings", {"model": "all-minilm", "input": ["word " * 20]})
    assert status == 400 and doc["error"]["type"] == "BadRequestError" and doc["error"]["param"] == "input_tokens"
    assert doc["error"]["message"].startswith("This model's maximum context length is 16 tokens. However, your "
                                              "prompt contains 22 input tokens")
    status, doc = call(server, "/v1/embeddings", {"model": "all-minilm", "input": ["a"], "dimensions": 2})
    assert status == 400 and "does not support Matryoshka embeddings" in doc["error"]["message"]


def test_capacity_queues_requests_in_turn():
    """With a capacity of 20/s, 6 requests sent at once are answered one after the other: the last no sooner than
    6/20 s after they were sent (a lower bound: a sleep is never shorter), and /health does not wait its turn."""
    with vllm_double.running("all-minilm", 4, 16, capacity=20) as double:
        body = {"model": "all-minilm", "input": ["a"]}
        start = time.monotonic()
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: call(double, "/v1/embeddings", body, key=None), range(6)))
            assert call(double, "/health", key=None) == (200, None)
        assert [status for status, _doc in answers] == [200] * 6
        assert time.monotonic() - start >= 6 / 20
