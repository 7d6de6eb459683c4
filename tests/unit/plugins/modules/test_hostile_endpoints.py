# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a user sees when embeddings_verify, ollama_model and ollama_model_info meet a hostile server.

The server is tests/doubles/hostile_server.py (a test double on 127.0.0.1); each test runs the
module's main() as Ansible does (capsys) and checks the result: failed, its error_kind, a message
naming the server, no API key anywhere in the output, and the time it took within the timeout set.
"""

import json
import time

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import (
    embeddings_agreement,
    embeddings_benchmark,
    embeddings_verify,
    ollama_model,
    ollama_model_info,
)
from doubles import hostile_server as hs
from doubles.modules import run_module

pytestmark = pytest.mark.usefixtures("no_proxy")

KEY = "sk-hostile-module-3b8f0a"
MARGIN = 1.5  # seconds past the timeout a run may end (thread start, scheduling): a correctness bound


@pytest.fixture
def server():
    with hs.HostileServer() as double:
        double.on("GET /v1/models", "json", body=hs.models_list())
        double.on("GET /api/tags", "json", body={"models": []})
        yield double


def verify(capsys, server, **args):
    args = dict({"api_base": server.url("/v1"), "model": hs.MODEL, "api_key": KEY, "inputs": ["a"]}, **args)
    start = time.monotonic()
    rc, result, _output = run_module(capsys, embeddings_verify.main, args)
    result["took"] = time.monotonic() - start
    assert rc == 1 and result["failed"] is True
    assert KEY not in json.dumps(result)
    return result


def test_verify_does_not_follow_a_redirect_that_would_carry_the_key(capsys, server):
    with hs.HostileServer() as other:
        location = "http://localhost:%d/collect" % other.port
        server.on("GET /v1/models", "redirect", location=location)
        result = verify(capsys, server)
        assert other.requests == []
    assert result["error_kind"] == "http"
    assert server.url("/v1/models") in result["msg"] and location in result["msg"]
    assert "final address" in result["msg"]


@pytest.mark.parametrize("body, kind, words", [
    (hs.huge_number_embeddings(400), "invalid_response", "400 digits, too large for a float"),
    (hs.deep_json(), "invalid_response", "nested too deep"),
    (hs.string_index_embeddings(), "invalid_response", "a string, not an integer"),
])
def test_verify_fails_cleanly_on_a_hostile_embeddings_answer(capsys, server, body, kind, words):
    server.on("POST /v1/embeddings", "json", body=body)
    result = verify(capsys, server)
    assert result["error_kind"] == kind
    assert server.url("/v1/embeddings") in result["msg"] and words in result["msg"]


def test_verify_ends_at_its_timeout_against_a_drip_fed_answer(capsys, server):
    server.on("POST /v1/embeddings", "drip", interval=0.2)
    result = verify(capsys, server, timeout=1)
    assert result["error_kind"] == "timeout" and server.url("/v1/embeddings") in result["msg"]
    assert result["took"] < 1 + MARGIN


def test_verify_refuses_an_oversized_answer(capsys, server):
    server.on("POST /v1/embeddings", "oversized", size=64 * 1000 * 1000)
    result = verify(capsys, server)
    assert result["error_kind"] == "invalid_response" and server.url("/v1/embeddings") in result["msg"]
    assert "larger than" in result["msg"]


def test_ollama_model_fails_cleanly_on_a_pull_line_that_is_no_byte_count(capsys, server):
    server.on("POST /api/pull", "ndjson", lines=hs.bad_pull_lines("total", "lots"))
    rc, result, _output = run_module(capsys, ollama_model.main, {"name": "all-minilm", "api_base": server.url()})
    assert rc == 1 and result["failed"] is True
    assert result["error_kind"] == "invalid_response"
    assert server.url("/api/pull") in result["msg"] and "its total is 'lots'" in result["msg"]


def test_ollama_model_info_ends_at_its_timeout_against_drip_fed_headers(capsys, server):
    server.on("GET /api/version", "drip_headers", interval=0.2)
    start = time.monotonic()
    rc, result, _output = run_module(capsys, ollama_model_info.main, {"api_base": server.url(), "timeout": 1})
    assert rc == 1 and result["error_kind"] == "timeout" and server.url("/api/version") in result["msg"]
    assert time.monotonic() - start < 1 + MARGIN


# ---- a password in the URL, and the invocation Ansible adds to the result


URL_PASSWORD = "url-pass-7c1e"


@pytest.mark.parametrize(("main", "args"), [
    (embeddings_verify.main, {"api_base": "http://ops:%s@127.0.0.1:1/v1" % URL_PASSWORD, "model": "m"}),
    (embeddings_agreement.main, {"endpoints": ["http://127.0.0.1:1/v1", "ftp://ops:%s@b/v1" % URL_PASSWORD],
                                 "model": "m"}),
    (embeddings_benchmark.main, {"api_base": "http://ops:%s@127.0.0.1:1/v1" % URL_PASSWORD, "model": "m",
                                 "duration": 1}),
    (ollama_model.main, {"api_base": "http://ops:%s@127.0.0.1:1" % URL_PASSWORD, "name": "all-minilm"}),
    (ollama_model_info.main, {"api_base": "http://ops:%s@127.0.0.1:1" % URL_PASSWORD}),
], ids=["embeddings_verify", "embeddings_agreement", "embeddings_benchmark", "ollama_model", "ollama_model_info"])
def test_a_password_in_the_url_is_in_no_result_nor_invocation(capsys, main, args):
    """Refused or unreachable, the result says nothing of the password, even with the `invocation` (the arguments
    as given) that ansible-core 2.21 adds with ANSIBLE_INJECT_INVOCATION, and 2.20 and older to every result."""
    rc, result, output = run_module(capsys, main, dict(args, _ansible_inject_invocation=True))
    assert rc == 1, result
    assert "invocation" in result
    assert URL_PASSWORD not in output
