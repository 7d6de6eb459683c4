"""embeddings_benchmark run through its main(), against the load generator's local double."""

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from ansible_collections.embedops.embeddings.plugins.modules import embeddings_benchmark
from doubles.loadgen_double import MODEL
from doubles.modules import run_module
from doubles.server_thread import closed_port

pytestmark = pytest.mark.skipif(not loadgen.HAS_AIOHTTP, reason="aiohttp is not installed")

QUICK = {"warmup": 0, "duration": 0, "requests": 8, "input_tokens": 16, "concurrency": [2]}


def test_runs_closed_and_open_loop_and_returns_the_reports(capsys, double):
    failed, result, _output = run_module(
        capsys, embeddings_benchmark.main, dict(
            api_base=double.api_base, model=MODEL, name="double", rates=[50], **QUICK)
    )

    assert not failed, result.get("msg")
    assert result["changed"] is False
    assert [run["label"] for run in result["runs"]] == ["closed c=2", "open 50 req/s"]
    assert all(run["requests"]["ok"] == 8 and run["name"] == "double" for run in result["runs"])
    assert result["runs"][0]["prompt_tokens_avg"] == 16.0
    assert result["preflight"] == {"dimension": 4, "prompt_tokens": 16, "latency_ms": result["preflight"]["latency_ms"]}
    assert double.count == 1 + 8 + 8  # preflight + two runs
    assert result["markdown"].startswith("| | double, closed c=2 | double, open 50 req/s |")


def test_check_mode_sends_nothing_and_says_so(capsys, double):
    failed, result, _output = run_module(
        capsys, embeddings_benchmark.main, dict(
            api_base=double.api_base, model=MODEL, _ansible_check_mode=True, **QUICK)
    )

    assert not failed
    assert result["skipped"] is True and result["changed"] is False
    assert result["runs"] == []
    assert "check mode: no request sent" in result["msg"]
    assert double.count == 0


def test_check_mode_runs_when_asked(capsys, double):
    failed, result, _output = run_module(
        capsys, embeddings_benchmark.main, dict(
            api_base=double.api_base, model=MODEL, _ansible_check_mode=True, run_in_check_mode=True, **QUICK)
    )
    assert not failed
    assert result["runs"][0]["requests"]["ok"] == 8


def test_preflight_stops_an_input_the_model_refuses(capsys, double):
    double.status = 400
    double.error_body = {"object": "error", "code": 400, "message": (
        "This model's maximum context length is 512 tokens. However, you requested 602 tokens in the input for "
        "embedding generation. Please reduce the length of the input.")}

    failed, result, _output = run_module(capsys, embeddings_benchmark.main, dict(
        api_base=double.api_base, model=MODEL, **QUICK))

    assert failed
    assert result["error_kind"] == "input_too_long"
    assert result["msg"].startswith("preflight request failed, no load sent:")
    assert double.count == 1


def test_connection_refused_in_preflight(capsys):
    api_base = "http://127.0.0.1:%d/v1" % closed_port()
    failed, result, _output = run_module(capsys, embeddings_benchmark.main, dict(
        api_base=api_base, model=MODEL, **QUICK))
    assert failed
    assert result["error_kind"] == "connection_refused"


def test_a_run_without_any_success_fails_with_its_main_error_kind(capsys, double):
    double.status = 500
    failed, result, _output = run_module(capsys, embeddings_benchmark.main, dict(
        api_base=double.api_base, model=MODEL, preflight=False, **QUICK))

    assert failed
    assert result["error_kind"] == "http"
    assert result["runs"][0]["http_statuses"] == {"500": 8}
    assert "closed c=2: no successful request" in result["msg"]
    assert "| errors | 8 (HTTP 500: 8) |" in result["markdown"]


def test_some_errors_are_reported_not_failed(capsys, double):
    double.tamper = None
    calls = {"n": 0}

    def every_other(doc):
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            doc["data"] = []

    double.tamper = every_other
    failed, result, _output = run_module(capsys, embeddings_benchmark.main, dict(
        api_base=double.api_base, model=MODEL, preflight=False, **QUICK))

    assert not failed
    run = result["runs"][0]
    assert run["requests"]["ok"] + run["errors"]["count_mismatch"] == 8 and run["requests"]["ok"] > 0


def test_api_key_is_sent_and_never_shown(capsys, double):
    double.api_key = "sk-secret-key"
    failed, result, output = run_module(
        capsys, embeddings_benchmark.main, dict(api_base=double.api_base, model=MODEL, api_key="sk-secret-key", **QUICK)
    )
    assert not failed, result.get("msg")
    assert "sk-secret-key" not in output
    assert all(h["Authorization"] == "Bearer sk-secret-key" for h in double.headers)

    failed, result, output = run_module(
        capsys, embeddings_benchmark.main, dict(
            api_base=double.api_base, model=MODEL, api_key="sk-other-key", preflight=False, **QUICK)
    )
    assert failed and result["error_kind"] == "unauthorized"
    assert "sk-other-key" not in output


@pytest.mark.parametrize("args, message", [
    ({"api_base": "127.0.0.1:8000/v1"}, "api_base must be an http:// or https:// URL"),
    ({"concurrency": [], "rates": []}, "set concurrency or rates"),
    ({"concurrency": [0]}, "concurrency values must be at least 1, got 0"),
    ({"rates": [-1.0]}, "rates must be greater than 0, got -1.0"),
    ({"requests": None, "duration": 0}, "a run needs a bound"),
])
def test_option_errors(capsys, double, args, message):
    options = dict(QUICK, api_base=double.api_base, model=MODEL)
    options.update(args)
    failed, result, _output = run_module(capsys, embeddings_benchmark.main, options)
    assert failed
    assert result["error_kind"] == "config"
    assert message in result["msg"]
    assert double.count == 0


def test_missing_aiohttp_is_named(capsys, monkeypatch, double):
    monkeypatch.setattr(loadgen, "HAS_AIOHTTP", False)
    monkeypatch.setattr(loadgen, "AIOHTTP_IMPORT_ERROR", "ImportError: No module named 'aiohttp'")
    failed, result, _output = run_module(capsys, embeddings_benchmark.main, dict(
        api_base=double.api_base, model=MODEL, **QUICK))
    assert failed
    assert "aiohttp" in result["msg"]
    assert double.count == 0
