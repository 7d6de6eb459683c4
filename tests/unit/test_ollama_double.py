"""The Ollama test double answers as Ollama does where the collection depends on it.

Each test pins one API fact the modules and roles rely on (see the notes on the engines): the pull's NDJSON
sequence and its errors, resumed pulls, blob upload and create, /v1/embeddings refusing token arrays
(ollama#5907), deterministic normalised vectors, one embedding at a time per model, persistence.
"""

import base64
import hashlib
import http.client
import json
import math
import os
import struct
import threading
import time
import urllib.error
import urllib.request

import pytest
from doubles.ollama import serve_ollama
from ollama_double import ollama_double

MINILM = {
    "name": "all-minilm", "tags": ["latest", "22m"], "size": 3_000_000, "family": "bert",
    "embedding_length": 384, "context_length": 512, "parameter_size": "23M", "quantization": "F16",
    "license": "Apache License 2.0",
    "digest": "sha256:" + "1" * 64,
}
BGE = {
    "name": "bge-m3", "size": 5_000_000, "family": "bert", "embedding_length": 1024, "context_length": 8192,
    "token_cap": 2048, "pooling": "cls", "digest": "sha256:" + "2" * 64,
}
TINY = {
    "name": "embedops/tiny-embed", "tag": "v1", "size": 100_000, "family": "bert", "embedding_length": 8,
    "context_length": 16, "digest": "sha256:" + "3" * 64,
}


def write_registry(directory, *entries):
    os.makedirs(directory, exist_ok=True)
    for entry in entries:
        filename = entry["name"].replace("/", "-") + ".json"
        with open(os.path.join(directory, filename), "w") as handle:
            json.dump(entry, handle)


@pytest.fixture
def registry(tmp_path):
    directory = str(tmp_path / "registry")
    write_registry(directory, MINILM, BGE, TINY)
    return directory


@pytest.fixture
def double(tmp_path, registry):
    with serve_ollama(str(tmp_path / "models"), registry) as server:
        yield server


def call(server, method, path, body=None, raw=None, headers=None):
    """(status, content type, body bytes) of one request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read()


def call_json(server, method, path, body=None, raw=None):
    status, _content_type, payload = call(server, method, path, body, raw)
    return status, json.loads(payload) if payload else None


def answer(server, method, path, body=None):
    """The JSON answer of a request that must succeed."""
    status, doc = call_json(server, method, path, body)
    assert status == 200, doc
    return doc


def ndjson(payload):
    return [json.loads(line) for line in payload.decode().splitlines() if line.strip()]


def pull(server, name, **fields):
    status, _content_type, payload = call(server, "POST", "/api/pull", dict(model=name, **fields))
    assert status == 200, payload
    return ndjson(payload)


def test_root_version_and_unknown_routes(double):
    assert call(double, "GET", "/")[::2] == (200, b"Ollama is running")
    assert call(double, "HEAD", "/")[0] == 200
    assert call_json(double, "GET", "/api/version") == (200, {"version": ollama_double.VERSION})
    assert call(double, "GET", "/api/nope")[::2] == (404, b"404 page not found")
    assert call(double, "GET", "/api/pull")[::2] == (405, b"405 method not allowed")


def test_pull_streams_ollama_progress_sequence(double):
    status, content_type, payload = call(double, "POST", "/api/pull", {"model": "all-minilm"})
    lines = ndjson(payload)

    assert (status, content_type) == (200, "application/x-ndjson")
    assert lines[0] == {"status": "pulling manifest"}
    assert [line["status"] for line in lines[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [line for line in lines if line["status"].startswith("pulling ") and "digest" in line]
    weights = [line for line in layers if line["digest"] == MINILM["digest"]]
    assert weights[0]["status"] == "pulling " + "1" * 12
    assert "completed" not in weights[0]  # Go omits a zero completed
    assert [line["total"] for line in weights] == [MINILM["size"]] * len(weights)
    progress = [line.get("completed", 0) for line in weights]
    assert progress == sorted(progress) and progress[-1] == MINILM["size"] and len(progress) > 3

    tags = answer(double, "GET", "/api/tags")
    (model,) = tags["models"]
    assert model["name"] == model["model"] == "all-minilm:latest"
    assert len(model["digest"]) == 64
    assert model["details"]["family"] == "bert"
    assert model["details"]["quantization_level"] == "F16"


def test_pull_of_a_present_model_reports_layers_complete(double):
    pull(double, "all-minilm")
    lines = pull(double, "all-minilm")
    weights = [line for line in lines if line.get("digest") == MINILM["digest"]]
    assert weights == [dict(status="pulling " + "1" * 12, digest=MINILM["digest"], total=MINILM["size"],
                            completed=MINILM["size"])]


def test_pull_without_stream_answers_one_status(double):
    assert call_json(double, "POST", "/api/pull", {"model": "all-minilm", "stream": False}) == (
        200, {"status": "success"}
    )


def test_unknown_model_is_500_without_stream_and_an_error_line_when_streaming(double):
    assert call_json(double, "POST", "/api/pull", {"model": "no-such-model", "stream": False}) == (
        500, {"error": "pull model manifest: file does not exist"}
    )
    assert pull(double, "all-minilm:no-such-tag") == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]


def test_pull_errors_for_bad_names_registry_and_disk(double):
    assert call_json(double, "POST", "/api/pull", {"model": "bad name"}) == (400, {"error": "invalid model name"})
    assert call_json(double, "POST", "/api/pull", {}) == (400, {"error": "invalid model name"})
    assert call(double, "POST", "/api/pull", raw=b"")[::2] == (400, b'{"error":"missing request body"}')

    double.registry_unreachable = True
    lines = pull(double, "all-minilm")
    assert "dial tcp: lookup registry.ollama.ai" in lines[-1]["error"]

    double.registry_unreachable = False
    double.disk_free = 1000
    lines = pull(double, "all-minilm")
    assert lines[-1]["error"].endswith("-partial: no space left on device")


def test_cancelled_pull_resumes_from_partial(tmp_path, registry):
    with serve_ollama(str(tmp_path / "models"), registry, pull_step_delay=0.02) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        connection.request("POST", "/api/pull", json.dumps({"model": "bge-m3"}))
        response = connection.getresponse()
        seen = 0
        while seen < BGE["size"] * 0.3:
            line = json.loads(response.readline())
            seen = line.get("completed", 0) if line.get("digest") == BGE["digest"] else 0
        connection.close()  # the client gives up midway
        time.sleep(0.3)

        lines = pull(server, "bge-m3")
        weights = [line for line in lines if line.get("digest") == BGE["digest"]]
        assert weights[0]["completed"] >= seen > 0
        assert weights[-1]["completed"] == BGE["size"]
        assert lines[-1] == {"status": "success"}
        assert not [name for name in os.listdir(os.path.join(server.store.root, "blobs")) if "partial" in name]


def test_models_persist_across_restarts_and_delete_answers_404_after(tmp_path, registry):
    models = str(tmp_path / "models")
    with serve_ollama(models, registry) as server:
        pull(server, "embedops/tiny-embed:v1")
        before = answer(server, "GET", "/api/tags")
    with serve_ollama(models, registry) as server:
        after = answer(server, "GET", "/api/tags")
        assert after == before
        assert after["models"][0]["name"] == "embedops/tiny-embed:v1"
        v1 = answer(server, "GET", "/v1/models")
        assert v1["data"][0]["id"] == "embedops/tiny-embed:v1" and v1["data"][0]["owned_by"] == "embedops"

        assert call(server, "DELETE", "/api/delete", {"model": "EmbedOps/Tiny-Embed:V1"})[::2] == (200, b"")
        assert call_json(server, "DELETE", "/api/delete", {"model": "embedops/tiny-embed:v1"}) == (
            404, {"error": "model 'embedops/tiny-embed:v1' not found"}
        )
        assert call_json(server, "GET", "/api/tags") == (200, {"models": []})
        assert [name for name in os.listdir(os.path.join(models, "blobs")) if name.startswith("sha256-")] == []


def test_show_reports_model_info_and_capabilities(double):
    pull(double, "bge-m3")
    status, show = call_json(double, "POST", "/api/show", {"model": "bge-m3"})
    assert status == 200
    assert show["model_info"]["general.architecture"] == "bert"
    assert show["model_info"]["bert.embedding_length"] == 1024
    assert show["model_info"]["bert.context_length"] == 8192
    assert show["model_info"]["bert.pooling_type"] == 2
    assert show["capabilities"] == ["embedding"]
    assert "FROM %s" % os.path.join(double.store.root, "blobs", "sha256-" + "2" * 64) in show["modelfile"]
    assert call_json(double, "POST", "/api/show", {"model": "nope"}) == (404, {"error": "model 'nope' not found"})


def test_blob_upload_and_create_from_gguf(double, tmp_path):
    gguf = ollama_double.gguf_bytes({
        "general.architecture": "bert", "general.file_type": 7, "general.parameter_count": 1_500_000,
        "bert.embedding_length": 32, "bert.context_length": 128, "bert.pooling_type": 1,
    })
    digest = "sha256:" + hashlib.sha256(gguf).hexdigest()
    path = "/api/blobs/" + digest

    assert call(double, "HEAD", path)[0] == 404
    status, error = call_json(double, "POST", "/api/blobs/sha256:" + "0" * 64, raw=gguf)
    assert status == 400
    assert error["error"] == 'digest mismatch, expected "sha256:%s", got "%s"' % ("0" * 64, digest)
    assert call(double, "POST", path, raw=gguf)[0] == 201
    assert call(double, "HEAD", path)[0] == 200
    assert call(double, "POST", path, raw=gguf)[0] == 200
    assert call_json(double, "POST", "/api/blobs/nonsense", raw=b"x") == (400, {"error": "invalid digest format"})

    create = {"model": "mine:q8", "files": {"mine.gguf": digest}}
    status, _content_type, payload = call(double, "POST", "/api/create", create)
    assert status == 200
    assert [line["status"] for line in ndjson(payload)] == [
        "parsing GGUF", "using existing layer %s" % digest, "writing manifest", "success"
    ]
    show = answer(double, "POST", "/api/show", {"model": "mine:q8"})
    assert show["details"]["quantization_level"] == "Q8_0"
    assert show["details"]["parameter_size"] == "1.5M"
    assert show["model_info"]["bert.embedding_length"] == 32
    assert show["capabilities"] == ["embedding"]
    tags = answer(double, "GET", "/api/tags")
    first = tags["models"][0]["digest"]
    call(double, "POST", "/api/create", {"model": "mine:q8", "files": {"mine.gguf": digest}})
    tags = answer(double, "GET", "/api/tags")
    assert tags["models"][0]["digest"] == first  # the same file makes the same manifest

    missing = "sha256:" + "9" * 64
    status, error = call_json(double, "POST", "/api/create", {"model": "x", "files": {"x.gguf": missing}})
    assert status == 400 and "no such file or directory" in error["error"]
    other = "sha256:" + hashlib.sha256(b"not gguf").hexdigest()
    assert call(double, "POST", "/api/blobs/" + other, raw=b"not gguf")[0] == 201
    status, error = call_json(double, "POST", "/api/create", {"model": "x", "files": {"x.gguf": other}})
    assert (status, error) == (400, {"error": "supplied file was not in GGUF format"})


def test_v1_embeddings_refuses_token_arrays_like_ollama(double):
    pull(double, "all-minilm")
    for tokens in ([101, 7592, 102], [[101, 7592, 102]]):
        status, error = call_json(double, "POST", "/v1/embeddings", {"model": "all-minilm", "input": tokens})
        assert status == 400
        assert error == {"error": {"message": "invalid input type", "type": "invalid_request_error",
                                   "param": None, "code": None}}
    assert call_json(double, "POST", "/v1/embeddings", {"model": "all-minilm", "input": []})[0] == 400
    status, error = call_json(double, "POST", "/v1/embeddings", {"model": "nope", "input": "x"})
    assert status == 404 and error["error"]["type"] == "not_found_error"


def test_v1_embeddings_float_and_base64_agree_with_api_embed(double):
    pull(double, "all-minilm")
    texts = ["The quick brown fox", "jumps over the lazy dog"]
    native = answer(double, "POST", "/api/embed", {"model": "all-minilm", "input": texts})
    floats = answer(double, "POST", "/v1/embeddings", {"model": "all-minilm", "input": texts})
    encoded = answer(double, "POST", "/v1/embeddings",
                     {"model": "all-minilm", "input": texts, "encoding_format": "base64"})

    assert floats["object"] == "list" and floats["model"] == "all-minilm"
    assert [item["index"] for item in floats["data"]] == [0, 1]
    assert [item["embedding"] for item in floats["data"]] == native["embeddings"]
    assert floats["usage"]["prompt_tokens"] == floats["usage"]["total_tokens"] == native["prompt_eval_count"]
    for item, vector in zip(encoded["data"], native["embeddings"]):
        raw = base64.b64decode(item["embedding"])
        decoded = struct.unpack("<%df" % (len(raw) // 4), raw)
        assert max(abs(a - b) for a, b in zip(decoded, vector)) < 1e-7


def test_official_openai_client_gets_the_same_vectors(double):
    openai = pytest.importorskip("openai")
    pull(double, "all-minilm")
    client = openai.OpenAI(base_url=double.url + "/v1", api_key="ollama", max_retries=0)
    created = client.embeddings.create(model="all-minilm", input=["hello", "world"])  # asks for base64
    native = answer(double, "POST", "/api/embed", {"model": "all-minilm", "input": ["hello", "world"]})
    for item, vector in zip(created.data, native["embeddings"]):
        assert max(abs(a - b) for a, b in zip(item.embedding, vector)) < 1e-6


def test_embed_is_deterministic_normalised_and_text_specific(double):
    pull(double, "all-minilm")
    body = {"model": "all-minilm", "input": ["alpha beta", "alpha beta", "gamma"]}
    status, first = call_json(double, "POST", "/api/embed", body)
    again = answer(double, "POST", "/api/embed", body)

    assert status == 200
    assert set(first) == {"model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"}
    assert first["embeddings"] == again["embeddings"]
    a, b, c = first["embeddings"]
    assert a == b and a != c and len(a) == 384
    for vector in (a, c):
        assert abs(math.sqrt(sum(v * v for v in vector)) - 1) < 1e-6
    assert first["prompt_eval_count"] == 4 + 4 + 3

    single = answer(double, "POST", "/api/embed", {"model": "all-minilm", "input": "alpha beta"})
    assert single["embeddings"] == [a]
    short = answer(double, "POST", "/api/embed", {"model": "all-minilm", "input": "alpha beta", "dimensions": 64})
    assert len(short["embeddings"][0]) == 64
    assert abs(math.sqrt(sum(v * v for v in short["embeddings"][0])) - 1) < 1e-6

    old = answer(double, "POST", "/api/embeddings", {"model": "all-minilm", "prompt": "alpha beta"})
    norm = math.sqrt(sum(v * v for v in old["embedding"]))
    assert norm > 1.5  # the deprecated endpoint does not normalise
    assert max(abs(v / norm - w) for v, w in zip(old["embedding"], a)) < 1e-6

    assert call_json(double, "POST", "/api/embed", {"model": "all-minilm", "input": [1, 2]}) == (
        400, {"error": "invalid input type"}
    )
    assert call_json(double, "POST", "/api/embed", {"model": "nope", "input": "x"}) == (
        404, {"error": 'model "nope" not found, try pulling it first'}
    )


def test_embed_refuses_inputs_longer_than_the_context_whatever_truncate_says(double):
    pull(double, "embedops/tiny-embed:v1")  # context 16 tokens
    long_text = "word " * 20
    for truncate in (True, False, None):
        body = {"model": "embedops/tiny-embed:v1", "input": long_text, "truncate": truncate}
        assert call_json(double, "POST", "/api/embed", body) == (
            400, {"error": "the input length exceeds the context length"}
        )


def test_bge_m3_silently_reads_only_2048_tokens(double):
    pull(double, "bge-m3")
    body = {"model": "bge-m3", "input": "word " * 3000, "options": {"num_ctx": 8192}}
    status, embedded = call_json(double, "POST", "/api/embed", body)
    assert status == 200 and embedded["prompt_eval_count"] == 2048


def test_embedding_requests_run_one_at_a_time(tmp_path, registry):
    with serve_ollama(str(tmp_path / "models"), registry, embed_delay=0.05) as server:
        pull(server, "all-minilm")
        results = []

        def one():
            results.append(call_json(server, "POST", "/api/embed", {"model": "all-minilm", "input": "x"})[0])

        threads = [threading.Thread(target=one) for _index in range(4)]
        start = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200] * 4
        assert server.max_running_seen == 1
        assert time.monotonic() - start >= 4 * 0.05


def test_ps_lists_loaded_models_until_keep_alive_ends(double):
    pull(double, "all-minilm")
    assert call_json(double, "GET", "/api/ps") == (200, {"models": []})
    call_json(double, "POST", "/api/embed", {"model": "all-minilm", "input": "x"})
    ps = answer(double, "GET", "/api/ps")
    assert [model["name"] for model in ps["models"]] == ["all-minilm:latest"]
    assert ps["models"][0]["context_length"] == 512
    call_json(double, "POST", "/api/embed", {"model": "all-minilm", "keep_alive": 0})
    assert call_json(double, "GET", "/api/ps") == (200, {"models": []})
    assert call_json(double, "POST", "/api/embed", {"model": "all-minilm", "keep_alive": "300"}) == (
        400, {"error": 'time: missing unit in duration "300"'}
    )


@pytest.mark.parametrize("value, seconds", [("300", 300.0), ("5m", 300.0), ("1h30m", 5400.0), ("0", 0.0),
                                            ("-1", math.inf), ("-1m", math.inf), (None, 300.0)])
def test_keep_alive_from_the_environment_takes_plain_seconds_as_ollama_does(value, seconds):
    """OLLAMA_KEEP_ALIVE: a Go duration or whole seconds (the API's keep_alive string refuses "300", above)."""
    assert ollama_double.keep_alive_from_env(value) == seconds


def test_keep_alive_from_the_environment_refuses_nonsense():
    with pytest.raises(ollama_double.ApiError, match='invalid duration "soon"'):
        ollama_double.keep_alive_from_env("soon")


def test_gguf_metadata_round_trip(tmp_path):
    path = str(tmp_path / "m.gguf")
    metadata = {"general.architecture": "bert", "bert.embedding_length": 16, "general.name": "m",
                "tokenizer.ggml.tokens": ["a", "b", "c", "d", "e", "f"], "f": 0.5, "flag": True, "big": -2**40}
    ollama_double.write_gguf(path, metadata, padding=10)
    assert ollama_double.read_gguf_metadata(path, max_array=-1) == metadata
    assert ollama_double.read_gguf_metadata(path)["tokenizer.ggml.tokens"] == []


@pytest.mark.parametrize("text, display", [
    ("all-minilm", "all-minilm:latest"),
    ("library/all-minilm:22m", "all-minilm:22m"),
    ("registry.ollama.ai/library/bge-m3", "bge-m3:latest"),
    ("myteam/bge-m3:q8_0", "myteam/bge-m3:q8_0"),
    ("localhost:5000/team/model", "localhost:5000/team/model:latest"),
    ("bad name", None), ("a/b/c/d", None), ("model:", None), ("my.team/model", None), ("-x", None),
])
def test_names(text, display):
    name = ollama_double.Name.parse(text)
    assert (name.display() if name else None) == display
