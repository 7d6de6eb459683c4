"""What the gateway costs: the local deployment measured directly and through the gateway, interleaved.

Needs the local deployment (make deploy: vLLM on 127.0.0.1:8000) and a gateway in front of it
(ansible-playbook benchmarks/gateway.yml: HAProxy on 127.0.0.1:8080, with the key bench-fair). For each input
length and concurrency it runs direct, gateway, direct, gateway, ... (--rounds pairs), so drift in the machine's
load hits both sides alike, and prints per pair: QPS each way, the ratio gateway/direct, and the
latency the gateway adds at p50 and p99. Short inputs show the proxy's own cost; 512-token inputs
show what it costs next to real embedding work.

    .venv/bin/python benchmarks/gateway_cost.py [--input-tokens 8 512] [--concurrency 1 8 32] [--duration 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

# _collection puts this working tree on sys.path as the collection embedops.embeddings.
import _collection  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError, HttpClient
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import OpenAIEmbeddings
from gateway_fairness import read_key
from local_deployment import longest_input


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--direct", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--model", help="default: the first model the server lists")
    parser.add_argument("--input-tokens", type=int, nargs="*", default=[8, 512])
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32])
    parser.add_argument("--rounds", type=int, default=2, help="direct/gateway pairs per setting")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", help="write every run's report here")
    args = parser.parse_args()
    if not loadgen.HAS_AIOHTTP:
        raise SystemExit("aiohttp is needed: .venv/bin/pip install -r requirements/benchmark.txt")

    # The benchmark gateway's bench-fair key (made by benchmarks/gateway.yml); the local replica needs none and
    # ignores it.
    api_key = os.environ.get("EMBEDOPS_API_KEY") or read_key("bench-fair")
    endpoints = {"direct": args.direct, "gateway": args.gateway}
    apis = {name: OpenAIEmbeddings(HttpClient(url, api_key=api_key, timeout=args.timeout))
            for name, url in endpoints.items()}
    try:
        models = {name: api.list_models() for name, api in apis.items()}
    except EndpointError as err:
        raise SystemExit("%s (make deploy; ansible-playbook benchmarks/gateway.yml)" % err.message) from err
    model = args.model or models["direct"][0]
    generators = {name: loadgen.LoadGenerator(url, model, api_key=api_key, name=name, progress=None)
                  for name, url in endpoints.items()}

    rows, reports = [], []
    for wanted in args.input_tokens:
        tokens = longest_input(apis["direct"], model, wanted)[0]
        for concurrency in args.concurrency:
            spec = dict(duration=args.duration, warmup=args.warmup, input_tokens=tokens, timeout=args.timeout,
                        concurrency=concurrency)
            pairs = []
            for _round in range(args.rounds):
                pair = {name: generators[name].run(dict(spec)) for name in ("direct", "gateway")}
                reports.extend(pair.values())
                pairs.append(pair)
            row = summarise(tokens, concurrency, pairs)
            rows.append(row)
            print(json.dumps(row), flush=True)

    print()
    print("| input tokens | in flight | direct QPS | gateway QPS | gateway/direct (per round) "
          "| p50 added (ms) | p99 added (ms) | failed (direct/gateway) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %d | %d | %.1f | %.1f | %.3f (%s) | %+.2f | %+.2f | %d/%d |" % (
            r["input_tokens"], r["concurrency"], r["direct_qps"], r["gateway_qps"], r["ratio"],
            " / ".join("%.3f" % x for x in r["ratio_per_round"]), r["p50_added_ms"], r["p99_added_ms"],
            r["failed_direct"], r["failed_gateway"]))
    print("load average now %s" % list(os.getloadavg()))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"rows": rows, "runs": reports}, out, indent=2)
    return 0


def summarise(tokens, concurrency, pairs):
    """Means over the rounds; the ratio per round too, so the spread shows."""
    def mean(name, pick):
        return statistics.fmean(pick(pair[name]) for pair in pairs)

    direct_qps = mean("direct", lambda r: r["qps"])
    gateway_qps = mean("gateway", lambda r: r["qps"])
    return {
        "input_tokens": tokens,
        "concurrency": concurrency,
        "direct_qps": round(direct_qps, 2),
        "gateway_qps": round(gateway_qps, 2),
        "ratio": round(gateway_qps / direct_qps, 4) if direct_qps else None,
        "ratio_per_round": [round(p["gateway"]["qps"] / p["direct"]["qps"], 4) if p["direct"]["qps"] else 0
                            for p in pairs],
        "p50_added_ms": round(mean("gateway", lambda r: r["latency_ms"]["p50"] or 0)
                              - mean("direct", lambda r: r["latency_ms"]["p50"] or 0), 3),
        "p99_added_ms": round(mean("gateway", lambda r: r["latency_ms"]["p99"] or 0)
                              - mean("direct", lambda r: r["latency_ms"]["p99"] or 0), 3),
        "failed_direct": sum(p["direct"]["requests"]["failed"] for p in pairs),
        "failed_gateway": sum(p["gateway"]["requests"]["failed"] for p in pairs),
    }


if __name__ == "__main__":
    sys.exit(main())
