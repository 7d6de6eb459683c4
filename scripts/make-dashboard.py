"""Write roles/monitoring/files/dashboards/embeddings.json, the Grafana dashboard for the embedding service.

Every panel reads the monitoring role's recording rules (templates/rules/embeddings-recording.yml.j2), so the
dashboard and the alerts agree on what a figure means. Molecule (molecule/gateway/tests/test_monitoring.py) runs
every panel's query against the live Prometheus and requires data; tests/unit/test_prometheus_rules.py checks that
every recorded name a panel uses is one the role records. Run it again after changing a panel:
    python scripts/make-dashboard.py [--check]
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "roles", "monitoring", "files", "dashboards", "embeddings.json")

# (title, unit, [(expr, legend)]): one time series panel each, two to a row.
PANELS = [
    ("Requests per second", "reqps", [
        ("sum by (model) (model:embedops_requests:rate1m)", "{{model}} at the replicas"),
        ("sum(instance:embedops_gateway_requests:rate1m)", "through the gateways"),
        ("sum by (proxy) (instance:embedops_gateway_pool_requests:rate1m)", "{{proxy}} pool, from the gateways"),
    ]),
    ("Input tokens per second", "short", [
        ("sum by (model) (model:embedops_input_tokens:rate1m)", "{{model}}"),
    ]),
    ("Latency at the replicas (HTTP, 5 min)", "s", [
        ("max by (model) (model:embedops_http_latency_seconds:p50_5m)", "{{model}} p50"),
        ("max by (model) (model:embedops_http_latency_seconds:p90_5m)", "{{model}} p90"),
        ("max by (model) (model:embedops_http_latency_seconds:p99_5m)", "{{model}} p99"),
    ]),
    ("Gateway response time per pool (average of the last 1024 requests)", "s", [
        ("max by (proxy) (instance:embedops_gateway_response_time_seconds:avg)", "{{proxy}} replica answer"),
        ("max by (proxy) (instance:embedops_gateway_total_time_seconds:avg)", "{{proxy}} whole request"),
    ]),
    ("Error ratio (5xx, 5 min)", "percentunit", [
        ("max by (model) (model:embedops_request_errors:ratio_rate5m)", "{{model}} at the replicas"),
        ("max(instance:embedops_gateway_errors:ratio_rate5m)", "clients of the gateways"),
    ]),
    ("Queue", "short", [
        ("sum by (model) (model:embedops_requests_waiting:sum)", "{{model}} waiting in the engines"),
        ("sum by (model) (model:embedops_requests_running:sum)", "{{model}} running"),
        ("sum(instance:embedops_gateway_queue:sum)", "queued at the gateways"),
    ]),
    ("Replicas up", "short", [
        ("sum by (model) (model:embedops_replicas_up:sum)", "{{model}} up"),
        ("sum by (model) (model:embedops_replicas:count)", "{{model}} deployed"),
        ("max by (proxy) (instance:embedops_gateway_servers_up:sum)", "{{proxy}} pool, in rotation at the gateways"),
    ]),
    ("Gateway retries per request (5 min)", "percentunit", [
        ("max(instance:embedops_gateway_retries:ratio_rate5m)", "retries"),
    ]),
    # GPU hosts (the DCGM exporter, job dcgm): one line per GPU.
    ("GPU utilisation", "percentunit", [
        ("max by (host, gpu) (gpu:embedops_gpu_utilization:ratio)", "{{host}} GPU {{gpu}}"),
    ]),
    ("GPU memory used", "percentunit", [
        ("max by (host, gpu) (gpu:embedops_gpu_memory_used:ratio)", "{{host}} GPU {{gpu}}"),
    ]),
]


def dashboard():
    panels = []
    for index, (title, unit, queries) in enumerate(PANELS):
        panels.append({
            "id": index + 1,
            "type": "timeseries",
            "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [
                {"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend,
                 "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                for n, (expr, legend) in enumerate(queries)
            ],
        })
    return {
        "title": "Embedding service (embedops.embeddings)",
        "uid": "embedops-embeddings",
        "tags": ["embedops", "embeddings"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        ]},
        "panels": panels,
    }


def main():
    text = json.dumps(dashboard(), indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        with open(OUT) as handle:
            if handle.read() != text:
                sys.exit("%s differs from scripts/make-dashboard.py: run python scripts/make-dashboard.py" % OUT)
        return
    with open(OUT, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
