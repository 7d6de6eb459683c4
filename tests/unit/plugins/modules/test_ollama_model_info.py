"""ollama_model_info against the Ollama test double on 127.0.0.1, run through the module's main()."""

import json
import urllib.request

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import ollama_model_info
from doubles.modules import run_module
from doubles.ollama import serve_ollama
from doubles.server_thread import closed_port
from ollama_double import ollama_double

ENTRIES = [
    {"name": "all-minilm", "tags": ["latest", "22m"], "size": 1_000_000, "family": "bert",
     "embedding_length": 384, "context_length": 512, "parameter_size": "23M", "digest": "sha256:" + "a" * 64},
    {"name": "bge-m3", "size": 2_000_000, "family": "bert", "embedding_length": 1024, "context_length": 8192,
     "parameter_size": "567M", "pooling": "cls", "digest": "sha256:" + "b" * 64},
    {"name": "embedops/tiny-embed", "tag": "v1", "size": 100_000, "family": "bert", "embedding_length": 64,
     "context_length": 256, "quantization": "Q8_0", "digest": "sha256:" + "c" * 64},
]


@pytest.fixture
def server(tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "models.json").write_text(json.dumps(ENTRIES))
    with serve_ollama(str(tmp_path / "models"), str(registry)) as double:
        yield double


def post(server, path, body):
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().splitlines()[-1])


def pull(server, *names):
    for name in names:
        assert post(server, "/api/pull", {"model": name, "stream": False}) == {"status": "success"}


def test_empty_server(capsys, server):
    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(api_base=server.url))
    assert not failed, result["msg"]
    assert result["changed"] is False
    assert result["models"] == [] and result["names"] == []
    assert result["version"] == ollama_double.VERSION


def test_lists_models_with_their_facts(capsys, server):
    pull(server, "all-minilm", "bge-m3", "embedops/tiny-embed:v1")
    post(server, "/api/embed", {"model": "bge-m3", "input": "load it"})

    failed, result, _output = run_module(
        capsys, ollama_model_info.main, dict(api_base=server.url, _ansible_check_mode=True))

    assert not failed, result["msg"]
    assert result["changed"] is False
    assert sorted(result["names"]) == ["all-minilm:latest", "bge-m3:latest", "embedops/tiny-embed:v1"]
    facts = {model["name"]: model for model in result["models"]}
    assert (facts["bge-m3:latest"]["embedding_length"], facts["bge-m3:latest"]["context_length"]) == (1024, 8192)
    assert facts["bge-m3:latest"]["capabilities"] == ["embedding"]
    assert facts["bge-m3:latest"]["loaded"] is True and facts["bge-m3:latest"]["expires_at"]
    assert facts["all-minilm:latest"]["loaded"] is False and facts["all-minilm:latest"]["expires_at"] is None
    assert facts["embedops/tiny-embed:v1"]["quantization_level"] == "Q8_0"
    assert facts["embedops/tiny-embed:v1"]["weights_digest"] == "sha256:" + "c" * 64
    assert all(len(model["digest"]) == 64 and model["size"] > 0 for model in result["models"])


def test_name_filter_with_and_without_tag(capsys, server):
    pull(server, "all-minilm", "all-minilm:22m", "bge-m3")

    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(api_base=server.url, name="all-minilm"))
    assert not failed
    assert sorted(result["names"]) == ["all-minilm:22m", "all-minilm:latest"]

    failed, result, _output = run_module(
        capsys, ollama_model_info.main, dict(api_base=server.url, name="All-MiniLM:22m"))
    assert not failed and result["names"] == ["all-minilm:22m"]

    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(
        api_base=server.url, name="embedops/tiny-embed:v1"))
    assert not failed and result["models"] == []


def test_details_false_asks_only_for_the_list(capsys, server):
    pull(server, "bge-m3")
    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(api_base=server.url, details=False))
    assert not failed
    (model,) = result["models"]
    assert model["name"] == "bge-m3:latest" and model["family"] == "bert"
    assert model["embedding_length"] is None and model["capabilities"] == []
    assert ("POST", "/api/show") not in server.requests


def test_server_down(capsys):
    port = closed_port()
    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(api_base="http://127.0.0.1:%d" % port))
    assert failed
    assert result["error_kind"] == "connection_refused"
    assert "is the Ollama container running" in result["msg"]


def test_not_an_ollama_root(capsys, server):
    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(api_base=server.url + "/something"))
    assert failed and result["error_kind"] == "endpoint_not_found"
    assert "without /v1" in result["msg"]

    failed, result, _output = run_module(capsys, ollama_model_info.main, dict(api_base=server.url, name="bad name"))
    assert failed and result["error_kind"] == "config"
