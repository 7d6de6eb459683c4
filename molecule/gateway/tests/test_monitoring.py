"""Prometheus as an operator reads it (the monitoring role on embedops-gw-host, host network, port 19090): every
target up, every panel of the embedding dashboard with data under steady load, requests/s within 5 % of what the
clients counted, and a stopped replica paging
(EmbeddingReplicaDown) until it is back, in Prometheus and through Alertmanager's webhook, firing then resolved. The
alert's rhythm is this scenario's: scrape and evaluate every 5 s, the alert after 15 s down, Alertmanager's groups
posted after 1 s and changes every 5 s (host_vars/embedops-gw-host.yml)."""

import calendar
import http.server
import json
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from test_gateway import REPLICA_1, SteadyLoad, docker, serving_again

PROMETHEUS = "http://127.0.0.1:19090"
DASHBOARD = Path(__file__).resolve().parents[3] / "roles" / "monitoring" / "files" / "dashboards" / "embeddings.json"
SCRAPE, EVALUATION, DOWN_FOR = 5, 5, 15  # seconds, as host_vars set them
# Where Alertmanager posts (monitoring_alertmanager_webhook_url in host_vars): this test's own receiver, on loopback.
WEBHOOK = ("127.0.0.1", 19095)
WEBHOOK_PATH = "/alerts/molecule-webhook-token-8d3e"


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.posts.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture()
def webhook():
    """A receiver of Alertmanager's webhook posts (JSON, version 4): the list of (path, body) it got."""
    server = http.server.ThreadingHTTPServer(WEBHOOK, _Receiver)
    server.posts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.posts
    server.shutdown()
    server.server_close()


def posted(posts, status, since):
    """Whether Alertmanager posted EmbeddingReplicaDown of the stopped replica with this status, for an alert that
    started after `since` (UTC, seconds): an earlier test's outage of the same replica may be posted late, once this
    receiver answers Alertmanager's retries."""
    return any(path == WEBHOOK_PATH and alert["status"] == status
               and alert["labels"].get("alertname") == "EmbeddingReplicaDown"
               and alert["labels"].get("replica") == REPLICA_1[0]
               and calendar.timegm(time.strptime(alert["startsAt"][:19], "%Y-%m-%dT%H:%M:%S")) >= int(since)
               for path, body in list(posts) for alert in body.get("alerts", []))


def api(path, **params):
    url = PROMETHEUS + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)["data"]


def replica_down_alerts():
    return [a for a in api("/api/v1/alerts")["alerts"]
            if a["labels"].get("alertname") == "EmbeddingReplicaDown" and a["labels"].get("replica") == REPLICA_1[0]]


def wait(what, check, limit):
    """Seconds until check() is true, polled every second, or None after `limit` seconds."""
    begin = time.monotonic()
    while time.monotonic() - begin < limit:
        if check():
            return round(time.monotonic() - begin, 1)
        time.sleep(1)
    return None


def test_every_target_is_up():
    """Every target, after test_gateway.py's rolling update ran site.yml with --limit embedops-gw-host: the gateway's
    host (embedops-gw-edge) was not in that run, and keeps the targets the last full run gave Prometheus."""
    targets = api("/api/v1/targets", state="active")["activeTargets"]
    by_job = {}
    for target in targets:
        by_job.setdefault(target["labels"]["job"], []).append(target)
    # Both replicas from the vllm role's contract, the gateway's exporter, the node exporters of the replicas' host
    # and of the gateway's, the DCGM exporter (a test double: no GPU here), Prometheus itself.
    assert sorted(t["labels"].get("replica") for t in by_job.get("embedops-vllm", [])) == [
        "molecule-gw-vllm-0", "molecule-gw-vllm-1"]
    assert {t["labels"]["model"] for t in by_job["embedops-vllm"]} == {"all-minilm-l6-v2"}
    assert set(by_job) == {"embedops-vllm", "embedops-gateway", "node", "dcgm", "prometheus"}, by_job.keys()
    # The GPU panels' source: the DCGM exporter's test double (prepare.yml), labelled with the host that published it.
    assert [t["labels"].get("host") for t in by_job["dcgm"]] == ["embedops-gw-host"], by_job["dcgm"]
    assert sorted(t["labels"].get("host") for t in by_job["node"]) == ["embedops-gw-edge", "embedops-gw-host"], \
        by_job["node"]

    def active():
        return api("/api/v1/targets", state="active")["activeTargets"]

    assert wait("every target up", lambda: all(t["health"] == "up" for t in active()), 3 * SCRAPE) is not None, \
        [(t["scrapeUrl"], t["health"], t["lastError"]) for t in active()]


def test_under_load_every_dashboard_panel_has_data_and_a_stopped_replica_pages(capsys, webhook):
    panels = json.loads(DASHBOARD.read_text())["panels"]
    queries = [(panel["title"], target["expr"]) for panel in panels for target in panel["targets"]]
    with SteadyLoad() as load:
        # Rates and 5-minute quantiles need two scrapes of traffic, then an evaluation.
        def without_data():
            return [(title, expr) for title, expr in queries if not api("/api/v1/query", query=expr)["result"]]

        waited = wait("every panel with data", lambda: not without_data(), 90)
        empty = without_data()
        assert waited is not None and not empty, "dashboard queries without data under load: %s" % empty
        sent = load.ok

        # Requests/s as Prometheus records them (at the replicas, and at the gateway) against the clients' own count
        # over the same minute of steady load.
        first, begin = load.ok, time.monotonic()
        time.sleep(60)
        counted = (load.ok - first) / (time.monotonic() - begin)
        rates = ("sum(model:embedops_requests:rate1m)", "sum(instance:embedops_gateway_requests:rate1m)")
        recorded = {expr: sum(float(series["value"][1]) for series in api("/api/v1/query", query=expr)["result"])
                    for expr in rates}

        docker("stop", REPLICA_1[0])
        stopped, stopped_at = time.monotonic(), time.time()
        fired = wait("EmbeddingReplicaDown firing",
                     lambda: any(a["state"] == "firing" for a in replica_down_alerts()),
                     DOWN_FOR + 2 * SCRAPE + 2 * EVALUATION + 10)
        posted_firing = wait("the webhook got it firing", lambda: posted(webhook, "firing", stopped_at), 30)
        docker("start", REPLICA_1[0])
        back = serving_again(REPLICA_1, time.monotonic())
        resolved = wait("EmbeddingReplicaDown resolved", lambda: not replica_down_alerts(),
                        2 * SCRAPE + 2 * EVALUATION + 10)
        posted_resolved = wait("the webhook got it resolved", lambda: posted(webhook, "resolved", stopped_at), 30)
    with capsys.disabled():
        print(f"\n[monitoring] {len(queries)} dashboard queries with data after {waited} s of load ({sent} requests); "
              f"EmbeddingReplicaDown firing {fired} s after docker stop (for {DOWN_FOR} s, scrape {SCRAPE} s), "
              f"replica serving {back and round(back, 1)} s after docker start, alert gone {resolved} s later; "
              f"Alertmanager's webhook post: firing {posted_firing} s after Prometheus fired it, resolved "
              f"{posted_resolved} s after it was gone; "
              f"{load.ok} requests, failures: {load.kinds()}; requests/s counted by the clients {counted:.2f}, "
              f"recorded by Prometheus {', '.join('%s %.2f' % (expr, value) for expr, value in recorded.items())}")
    for expr, value in recorded.items():
        assert abs(value / counted - 1) <= 0.05, "%s is %.2f requests/s, the clients sent %.2f" % (expr, value, counted)
    assert fired is not None, "EmbeddingReplicaDown did not fire within its for, two scrapes and two evaluations"
    assert time.monotonic() - stopped > DOWN_FOR  # not before its `for`: it was pending first
    assert back is not None, "the replica did not serve again"
    assert resolved is not None, "EmbeddingReplicaDown stayed after the replica was back"
    assert posted_firing is not None, f"Alertmanager posted no firing EmbeddingReplicaDown: {webhook[-3:]}"
    assert posted_resolved is not None, f"Alertmanager posted no resolved EmbeddingReplicaDown: {webhook[-3:]}"
