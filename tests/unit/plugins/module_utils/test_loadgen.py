"""The load generator against a small local endpoint: counts, error kinds, open-loop latency, inputs, report shape.

No assertion on speed: speed is measured by benchmarks/, not asserted here. The stall tests compare
how the two loops SEE one long server stall (a second), with wide margins.
"""

import importlib.util
import json
from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from doubles.loadgen_double import MODEL
from doubles.server_thread import closed_port

ROOT = Path(__file__).resolve().parents[4]

pytestmark = pytest.mark.skipif(not loadgen.HAS_AIOHTTP, reason="aiohttp is not installed")

REPORT_KEYS = {
    "name", "api_base", "model", "mode", "label", "concurrency", "rate", "warmup_s", "measured_s", "total_s",
    "client_cpu_window_s", "input_tokens_target", "input_words", "inputs_per_request", "encoding_format", "requests",
    "qps", "inputs_per_s", "latency_ms", "latency_from", "send_lag_ms", "errors", "http_statuses", "error_samples",
    "prompt_tokens_avg", "input_tokens_per_s", "client_cpu_s", "client_cpu_percent", "client_cpu_ms_per_request",
    "loadavg_before", "loadavg_after", "cpu_count",
}


def run(api_base, api_key=None, **spec):
    spec.setdefault("warmup", 0)
    spec.setdefault("duration", 0)
    spec.setdefault("input_tokens", 32)
    spec.setdefault("timeout", 10)
    return loadgen.LoadGenerator(api_base, MODEL, api_key=api_key, name="double").run(spec)


def test_inputs_are_deterministic_and_sized():
    first = loadgen.make_inputs(512, 5, seed=7)
    assert first == loadgen.make_inputs(512, 5, seed=7)
    assert first != loadgen.make_inputs(512, 5, seed=8)
    assert len(set(first)) == 5
    assert all(len(text.split()) == 510 for text in first)  # 510 words + [CLS] + [SEP]
    assert all(word in loadgen.WORDS for text in first for word in text.split())
    assert loadgen.make_inputs(1, 1)[0].count(" ") == 0


def test_the_same_inputs_reach_the_server_in_every_run(double):
    run(double.api_base, requests=6, concurrency=1, distinct_inputs=3, seed=1)
    sent = [body["input"][0] for body in double.bodies]
    assert sent[:3] == loadgen.make_inputs(32, 3, seed=1)
    assert sent[3:] == sent[:3]
    assert all(body["model"] == MODEL and body["encoding_format"] == "float" for body in double.bodies)


def test_closed_loop_counts_and_report_shape(double):
    report = run(double.api_base, requests=40, concurrency=4, input_tokens=64)

    assert set(report) == REPORT_KEYS
    assert report["requests"] == {"sent": 40, "ok": 40, "failed": 0, "warmup": 0}
    assert double.count == 40
    assert report["mode"] == "closed" and report["label"] == "closed c=4" and report["concurrency"] == 4
    assert report["errors"] == {} and report["http_statuses"] == {}
    assert report["prompt_tokens_avg"] == 64.0  # the server's count, averaged
    assert report["qps"] > 0 and report["input_tokens_per_s"] > 0
    assert report["latency_from"] == "actual send time" and report["send_lag_ms"] is None
    lat = report["latency_ms"]
    assert 0 <= lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert report["client_cpu_s"] >= 0 and report["client_cpu_ms_per_request"] >= 0
    json.dumps(report)


def test_several_inputs_per_request(double):
    report = run(double.api_base, requests=5, concurrency=2, inputs_per_request=3, input_tokens=10)
    assert all(len(body["input"]) == 3 for body in double.bodies)
    assert report["requests"]["ok"] == 5
    assert report["prompt_tokens_avg"] == 30.0


def test_warmup_requests_are_sent_but_not_counted(double):
    double.delay = 0.01
    report = run(double.api_base, requests=10, concurrency=2, warmup=0.3)
    assert report["requests"]["sent"] == 10
    assert report["requests"]["warmup"] > 0
    assert double.count == 10 + report["requests"]["warmup"]


def test_duration_bounds_a_run(double):
    double.delay = 0.01
    report = run(double.api_base, duration=0.5, concurrency=2)
    assert report["requests"]["ok"] > 0
    assert report["measured_s"] <= 0.5 + 1e-6


def test_connection_refused():
    report = run("http://127.0.0.1:%d/v1" % closed_port(), requests=5, concurrency=2)
    assert report["requests"] == {"sent": 5, "ok": 0, "failed": 5, "warmup": 0}
    assert report["errors"] == {"connection_refused": 5}
    assert report["http_statuses"] == {}
    assert report["latency_ms"]["p50"] is None
    assert "nothing listens there" in report["error_samples"]["connection_refused"]


# HTTP 429 is rate_limited where openai_embeddings has that kind (as the rest of the collection says it)
RATE_LIMITED = "rate_limited"


@pytest.mark.parametrize("status, kind", [(500, "http"), (429, RATE_LIMITED), (503, "not_ready")])
def test_http_errors_are_counted_by_kind_and_status(double, status, kind):
    double.status = status
    report = run(double.api_base, requests=6, concurrency=3)
    assert report["requests"]["failed"] == 6
    assert report["errors"] == {kind: 6}
    assert report["http_statuses"] == {str(status): 6}
    assert "HTTP %d" % status in report["error_samples"][kind]


def test_used_up_quota_is_not_a_rate_limit(double):
    double.status = 429
    double.error_body = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    report = run(double.api_base, requests=2, concurrency=1)
    assert report["errors"] == {"quota_exceeded": 2}
    assert report["http_statuses"] == {"429": 2}


def test_too_long_input_is_its_own_kind(double):
    double.status = 400
    double.error_body = {"object": "error", "code": 400, "message": (
        "This model's maximum context length is 512 tokens. However, you requested 600 tokens in the input for "
        "embedding generation. Please reduce the length of the input.")}
    report = run(double.api_base, requests=2, concurrency=1)
    assert report["errors"] == {"input_too_long": 2}


def test_wrong_answers_are_errors(double):
    double.tamper = lambda doc: doc["data"].pop()
    report = run(double.api_base, requests=3, concurrency=1)
    assert report["errors"] == {"count_mismatch": 3}
    assert report["http_statuses"] == {}


def test_timeout(double):
    double.delay = 0.5
    report = run(double.api_base, requests=2, concurrency=1, timeout=0.1)
    assert report["errors"] == {"timeout": 2}


def test_bearer_key_is_sent_and_never_reported(double):
    double.api_key = "sk-right-key"
    report = run(double.api_base, api_key="sk-right-key", requests=3, concurrency=1)
    assert report["requests"]["ok"] == 3
    assert all(h["Authorization"] == "Bearer sk-right-key" for h in double.headers)

    double.headers.clear()
    report = run(double.api_base, api_key="sk-wrong-key", requests=3, concurrency=1)
    assert report["errors"] == {"unauthorized": 3}
    assert "sk-wrong-key" not in json.dumps(report)  # the double echoes the refused key; the report must not


def test_open_loop_sends_at_the_rate_and_measures_from_the_intended_time(double):
    report = run(double.api_base, rate=50, requests=25)
    assert report["mode"] == "open" and report["label"] == "open 50 req/s" and report["concurrency"] is None
    assert report["requests"] == {"sent": 25, "ok": 25, "failed": 0, "warmup": 0}
    assert report["latency_from"] == "intended send time"
    assert set(report["send_lag_ms"]) == {"min", "mean", "p50", "p90", "p99", "max"}
    # 25 requests due 20 ms apart: the last is due 0.48 s after the first
    assert report["measured_s"] >= 0.48


def test_a_stall_shows_in_open_loop_latency_but_hides_in_closed_loop(double):
    """One 1-second stall: the open loop sees every request due during it; a closed loop of 1 sees one slow sample."""
    double.stall_at, double.stall_s = 10, 1.0
    closed = run(double.api_base, concurrency=1, requests=100)
    double.count = 0
    opened = run(double.api_base, rate=40, requests=100)

    # closed loop: nothing was sent while the server stalled, so only one sample is slow
    assert closed["latency_ms"]["max"] >= 900
    assert closed["latency_ms"]["p90"] < 500
    # open loop: the ~40 requests due during the stall waited for it, measured from when they were due
    assert opened["latency_ms"]["max"] >= 900
    assert opened["latency_ms"]["p90"] >= 300
    assert opened["latency_ms"]["p99"] >= 700
    assert opened["send_lag_ms"]["p50"] < 300  # the client kept to its schedule: the server stalled, not the client


def test_open_loop_with_warmup(double):
    report = run(double.api_base, rate=100, requests=10, warmup=0.2)
    assert report["requests"]["sent"] == 10
    assert report["requests"]["warmup"] == double.count - 10 >= 10


@pytest.mark.parametrize("spec, message", [
    ({"concurrency": 0}, "concurrency must be at least 1"),
    ({"rate": 0}, "rate must be greater than 0"),
    ({"duration": 0}, "a run needs a bound"),
    ({"timeout": 0}, "timeout must be greater than 0"),
    ({"encoding_format": "int8"}, "encoding_format must be float or base64"),
    ({"input_tokens": 0}, "input_tokens must be at least 1"),
])
def test_spec_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        loadgen.normalize_spec(spec)


def test_load_specs_closed_then_open():
    specs = loadgen.load_specs([1, 8], [5.0], duration=3)
    assert [(s["concurrency"], s["rate"]) for s in specs[:2]] == [(1, None), (8, None)]
    assert specs[2]["rate"] == 5.0 and all(s["duration"] == 3 for s in specs)


def test_percentile_nearest_rank():
    values = list(range(1, 101))
    assert loadgen.percentile(values, 50) == 50
    assert loadgen.percentile(values, 99) == 99
    assert loadgen.percentile(values, 100) == 100
    assert loadgen.percentile([7], 99) == 7
    assert loadgen.percentile([], 50) is None


def test_markdown_table_has_a_column_per_run(double):
    double.status = 500
    failing = run(double.api_base, requests=2, concurrency=1)
    double.status = 200
    good = run(double.api_base, requests=2, concurrency=1)
    table = loadgen.markdown_table([good, failing])
    lines = table.splitlines()
    assert lines[0] == "| | double, closed c=1 | double, closed c=1 |"
    titles = [line.split("|")[1].strip() for line in lines[2:12]]
    assert titles[:8] == ["QPS (requests/s)", "p50 latency (ms)", "p90 latency (ms)", "p99 latency (ms)",
                          "max latency (ms)", "errors", "input tokens/s", "client CPU %"]
    assert "| errors | 0 | 2 (HTTP 500: 2) |" in table


def test_latency_chart_writes_a_png(double, tmp_path):
    pytest.importorskip("matplotlib")
    reports = [run(double.api_base, requests=5, concurrency=c) for c in (1, 2)]
    reports.append(run(double.api_base, rate=50, requests=5))
    spec = importlib.util.spec_from_file_location("_chart", ROOT / "benchmarks" / "_chart.py")
    chart = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chart)
    path = chart.latency_chart(reports, str(tmp_path / "chart.png"))
    with open(path, "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
