# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hostile server can make the shared HTTP client (and the API layers on it) do.

The server is tests/doubles/hostile_server.py, a test double on 127.0.0.1. Each test checks what a
caller sees: an EndpointError of a kind an operator can act on, with a message naming the server,
raised within the timeout given; and that no API key reaches another origin.
"""

import time

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import http_client
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError, HttpClient
from ansible_collections.embedops.embeddings.plugins.module_utils.ollama_api import ModelName, OllamaAPI
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import OpenAIEmbeddings
from doubles import hostile_server as hs

pytestmark = pytest.mark.usefixtures("no_proxy")

KEY = "sk-hostile-test-7c1d9e"
# A deadline test may end this much after the timeout (thread start, scheduling): a correctness bound.
MARGIN = 1.5


@pytest.fixture
def server():
    with hs.HostileServer() as double:
        yield double


@pytest.fixture
def other():
    """A second server: the other origin a redirect points to, recording what reaches it."""
    with hs.HostileServer() as double:
        double.on("GET /collect", "json", body=hs.models_list())
        yield double


def raised(call):
    with pytest.raises(EndpointError) as info:
        call()
    return info.value


def elapsed(call):
    start = time.monotonic()
    err = raised(call)
    return err, time.monotonic() - start


# ---- M3: the API key and redirects


def test_api_client_refuses_a_redirect_to_another_origin_and_sends_it_nothing(server, other):
    server.on("GET /v1/models", "redirect", location="http://spy:pw@localhost:%d/collect" % other.port)
    client = HttpClient(server.url("/v1"), api_key=KEY, follow_redirects=False)
    err = raised(lambda: OpenAIEmbeddings(client).list_models())
    assert err.kind == "http" and err.status == 302
    assert server.url("/v1/models") in err.message
    assert "http://localhost:%d/collect" % other.port in err.message  # where it points, without userinfo
    assert "spy:pw" not in err.message and KEY not in err.message
    assert "final address" in err.message
    assert other.requests == []


def test_following_client_drops_the_key_when_the_origin_changes(server, other):
    server.on("GET /v1/models", "redirect", location="http://localhost:%d/collect" % other.port)
    client = HttpClient(server.url("/v1"), api_key=KEY)  # follows redirects, as model_provision's client does
    assert OpenAIEmbeddings(client).list_models() == [hs.MODEL]
    assert server.headers_of("/v1/models")[0].get("Authorization") == "Bearer %s" % KEY
    [reached] = other.headers_of("/collect")
    assert "Authorization" not in reached and KEY not in str(reached)


def test_following_client_keeps_the_key_on_the_same_origin(server):
    server.on("GET /old", "redirect", location="/new", status=301)
    server.on("GET /new", "json", body={"ok": True})
    client = HttpClient(server.url(), api_key=KEY)
    assert client.get_json("/old") == {"ok": True}
    assert server.headers_of("/new")[0].get("Authorization") == "Bearer %s" % KEY


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
def test_redirect_to_another_scheme_is_refused(server, location):
    server.on("GET /v1/models", "redirect", location=location)
    err = raised(lambda: HttpClient(server.url("/v1")).get_json("models"))
    assert err.kind == "http" and err.status == 302
    assert server.url("/v1/models") in err.message and "only http:// and https://" in err.message


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"])
def test_urls_other_than_http_are_never_fetched(server, url):
    err = raised(lambda: HttpClient(url))
    assert err.kind == "config" and "only http:// and https://" in err.message
    err = raised(lambda: HttpClient(server.url()).request("GET", url))
    assert err.kind == "config" and url.split(":")[0] + "://" in err.message
    assert "root:" not in err.message


def test_a_post_redirect_is_not_followed(server, other):
    server.on("POST /v1/embeddings", "redirect", location="http://localhost:%d/collect" % other.port, status=307)
    client = HttpClient(server.url("/v1"), api_key=KEY)
    err = raised(lambda: client.post_json("embeddings", {"input": ["secret text"]}))
    assert err.kind == "http" and err.status == 307 and server.url("/v1/embeddings") in err.message
    assert other.requests == []


# ---- L2: hostile answers end as clean failures


def test_a_huge_integer_in_a_vector_is_an_invalid_response(server):
    server.on("POST /v1/embeddings", "json", body=hs.huge_number_embeddings(400))
    api = OpenAIEmbeddings(HttpClient(server.url("/v1")))
    err = raised(lambda: api.embed(["a"], hs.MODEL))
    assert err.kind == "invalid_response"
    assert server.url("/v1/embeddings") in err.message and "400 digits, too large for a float" in err.message


def test_a_string_index_is_named_a_string(server):
    server.on("POST /v1/embeddings", "json", body=hs.string_index_embeddings())
    api = OpenAIEmbeddings(HttpClient(server.url("/v1")))
    err = raised(lambda: api.embed(["a"], hs.MODEL))
    assert err.kind == "invalid_response"
    assert "data[0].index as '0', a string, not an integer" in err.message
    assert server.url("/v1/embeddings") in err.message


@pytest.mark.parametrize("status", [200, 500])
def test_json_nested_too_deep_is_not_json(server, status):
    server.on("GET /v1/models", "json", body=hs.deep_json(), status=status)
    client = HttpClient(server.url("/v1"))
    err = raised(lambda: client.get_json("models"))
    assert err.kind == "http" and server.url("/v1/models") in err.message
    if status == 200:
        assert "not JSON: it is nested too deep" in err.message
        err = raised(lambda: OpenAIEmbeddings(client).list_models())
        assert err.kind == "invalid_response"


def test_a_drip_fed_body_ends_at_the_timeout(server):
    server.on("GET /v1/models", "drip", interval=0.2)  # 230 bytes: about 46 s at this pace
    err, took = elapsed(lambda: HttpClient(server.url("/v1"), timeout=1).get_json("models"))
    assert err.kind == "timeout" and server.url("/v1/models") in err.message and "1s" in err.message
    assert took < 1 + MARGIN


def test_drip_fed_headers_end_at_the_timeout(server):
    server.on("GET /v1/models", "drip_headers", interval=0.1)
    err, took = elapsed(lambda: HttpClient(server.url("/v1"), timeout=1).get_json("models"))
    assert err.kind == "timeout" and server.url("/v1/models") in err.message
    assert took < 1 + MARGIN


def test_the_default_cap_refuses_an_announced_64_mb_body_unread(server):
    server.on("GET /v1/models", "oversized", size=64 * 1000 * 1000, announce=True)
    client = HttpClient(server.url("/v1"))
    assert client.max_response_bytes == http_client.DEFAULT_MAX_RESPONSE_BYTES == 32 * 1024 * 1024
    err = raised(lambda: client.get_json("models"))
    assert err.kind == "invalid_response" and server.url("/v1/models") in err.message
    assert "larger than the 33554432 bytes" in err.message


def test_an_oversized_body_without_length_fails_without_being_read_whole(server):
    size = 64 * 1000 * 1000
    server.on("GET /v1/models", "oversized", size=size)
    client = HttpClient(server.url("/v1"), max_response_bytes=1024 * 1024)
    err = raised(lambda: client.get_json("models"))
    assert err.kind == "invalid_response" and server.url("/v1/models") in err.message
    assert "1 MiB" in err.message
    time.sleep(0.3)
    assert server.sent_bytes < size // 4  # the client hung up; the rest was never sent


def test_an_answer_under_the_cap_is_read(server):
    server.on("GET /v1/models", "json", body=hs.models_list("m" * 1000))
    assert OpenAIEmbeddings(HttpClient(server.url("/v1"), max_response_bytes=4096)).list_models() == ["m" * 1000]


# ---- L2: Ollama's streamed pull


def ollama(server, timeout=30):
    return OllamaAPI(HttpClient(server.url(), timeout=timeout))


@pytest.mark.parametrize("field, value", [("total", "lots"), ("completed", 1e400), ("total", [1])])
def test_a_pull_line_with_a_bad_byte_count_is_an_invalid_response(server, field, value):
    server.on("POST /api/pull", "ndjson", lines=hs.bad_pull_lines(field, value))
    err = raised(lambda: ollama(server).pull(ModelName.parse("all-minilm")))
    assert err.kind == "invalid_response"
    assert server.url("/api/pull") in err.message and "its %s is" % field in err.message


def test_a_pull_that_drips_a_line_without_end_is_cut_at_the_timeout(server):
    server.on("POST /api/pull", "ndjson", lines=[{"status": "pulling manifest"}], then="drip")
    err, took = elapsed(lambda: ollama(server, timeout=1).pull(ModelName.parse("all-minilm")))
    assert err.kind == "timeout" and server.url("/api/pull") in err.message
    assert "no complete line for 1s" in err.message
    assert took < 1 + MARGIN


def test_a_pull_longer_than_the_timeout_works_while_lines_keep_coming(server):
    lines = [{"status": "pulling manifest"}] + [
        {"status": "pulling 0123abcd", "digest": "sha256:" + "0" * 64, "total": 100, "completed": i}
        for i in range(0, 101, 4)
    ] + [{"status": "success"}]
    server.on("POST /api/pull", "ndjson", lines=lines, interval=0.1)  # about 2.7 s in all
    start = time.monotonic()
    progress = ollama(server, timeout=1).pull(ModelName.parse("all-minilm"))
    assert progress.succeeded and progress.summary()["bytes_total"] == 100
    assert time.monotonic() - start > 1  # longer than the timeout, and not cut


def test_a_pull_line_longer_than_the_limit_is_an_invalid_response(server):
    server.on("POST /api/pull", "ndjson", lines=[b'{"status": "' + b"x" * (2 * 1024 * 1024) + b'"}\n'])
    err = raised(lambda: ollama(server).pull(ModelName.parse("all-minilm")))
    assert err.kind == "invalid_response" and server.url("/api/pull") in err.message
    assert "longer than 1048576 bytes" in err.message


def test_a_pull_line_that_is_not_an_object_names_the_server(server):
    server.on("POST /api/pull", "ndjson", lines=[[1, 2, 3]])
    err = raised(lambda: ollama(server).pull(ModelName.parse("all-minilm")))
    assert err.kind == "invalid_response" and server.url("/api/pull") in err.message
