"""Does a greedy application slow another one down? The fair application alone, then beside a greedy one at ten
times its request limit, through the same gateway, in interleaved rounds.

Needs the local deployment (make deploy: vLLM on 127.0.0.1:8000) and the benchmark gateway in front of it
(ansible-playbook benchmarks/gateway.yml: HAProxy on 127.0.0.1:8080 with two applications, bench-fair and
bench-greedy, whose keys it writes under .cache/bench-keys/). Each round measures the fair application alone and
beside the greedy one, in an order that alternates from round to round, so drift in the machine's load hits both
sides alike. Both send in open loop (request k is due at start + k/rate, latency from that time), from one process,
the two loads in one event loop. It prints per round: the fair application's p50, p99 and failures alone and
beside, the greedy one's admitted rate and its 429s; then the median over the rounds of the p99 and p50 ratios
(beside/alone). The issue asks for the p99 ratio, and the failure count, to stay within 10 %. A p99 of a few hundred
requests moves by more than that from one round to the next on this machine: read it with the rounds beside it.

    .venv/bin/python benchmarks/gateway_fairness.py [--rounds 4] [--duration 20] [--fair-rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys

# _collection puts this working tree on sys.path as the collection embedops.embeddings.
import _collection  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError, HttpClient
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import OpenAIEmbeddings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = os.path.join(ROOT, ".cache", "bench-keys")


def read_key(name):
    path = os.path.join(KEYS, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().split()[0]
    except (OSError, IndexError):
        raise SystemExit("no key in %s: run ansible-playbook benchmarks/gateway.yml first" % path) from None


async def together(fair, greedy, fair_spec, greedy_spec):
    return await asyncio.gather(fair.run_async(fair_spec), greedy.run_async(greedy_spec))


def parse_round_arguments(parser):
    """Add the options of a benchmark in interleaved rounds to parser, parse the command line, check aiohttp."""
    parser.add_argument("--input-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--json", help="write every run's report here")
    args = parser.parse_args()
    if not loadgen.HAS_AIOHTTP:
        raise SystemExit("aiohttp is needed: .venv/bin/pip install -r requirements/benchmark.txt")
    return args


def interleaved_rounds(count, alone, beside):
    """`count` rounds of alone() and beside() (each returns the figures of its side), in an order that alternates from
    round to round, so drift in the machine's load hits both sides alike; each round gains the p50 and p99 ratios
    beside/alone and is printed as a JSON line as it ends."""
    rounds = []
    for number in range(count):
        result = {}
        order = ("alone", "beside") if number % 2 == 0 else ("beside", "alone")
        for side in order:
            result.update(alone() if side == "alone" else beside())
        result["p50_ratio"] = round(result["beside"]["p50_ms"] / result["alone"]["p50_ms"], 3)
        result["p99_ratio"] = round(result["beside"]["p99_ms"] / result["alone"]["p99_ms"], 3)
        rounds.append(result)
        print(json.dumps(dict(result, round=number + 1, order=list(order))), flush=True)
    return rounds


def print_rounds(rounds, alone, beside, headers, cells):
    """A Markdown table of the rounds: each side's p50/p99 and failures, the p99 ratio, then cells(round) under
    headers."""
    print()
    print("| round | %s p50/p99 (ms) | %s p50/p99 (ms) | p99 ratio | failures alone/beside | %s |"
          % (alone, beside, " | ".join(headers)))
    print("|---|---|---|---|---|%s" % ("---|" * len(headers)))
    for number, r in enumerate(rounds, 1):
        print("| %d | %.1f / %.1f | %.1f / %.1f | %.3f | %d / %d | %s |" % (
            number, r["alone"]["p50_ms"], r["alone"]["p99_ms"], r["beside"]["p50_ms"], r["beside"]["p99_ms"],
            r["p99_ratio"], r["alone"]["failed"], r["beside"]["failed"], " | ".join(cells(r))))


def ratio_summary(rounds):
    """The medians over the rounds of the p99 and p50 ratios, each round's, and the failures on each side."""
    p99 = [r["p99_ratio"] for r in rounds]
    p50 = [r["p50_ratio"] for r in rounds]
    return "%.3f (median; per round %s); p50 ratio %.3f (median; per round %s); failures alone %d, beside %d" % (
        statistics.median(p99), ", ".join("%.3f" % x for x in p99), statistics.median(p50),
        ", ".join("%.3f" % x for x in p50), sum(r["alone"]["failed"] for r in rounds),
        sum(r["beside"]["failed"] for r in rounds))


def finish(json_path, rounds, reports):
    """Print the load average, write the rounds and every run's report to json_path (when given); 0."""
    print("load average now %s" % list(os.getloadavg()))
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w", encoding="utf-8") as out:
            json.dump({"rounds": rounds, "runs": reports}, out, indent=2)
    return 0


def fair_figures(report):
    latency = report["latency_ms"]
    return {"answered": report["requests"]["ok"], "failed": report["requests"]["failed"],
            "p50_ms": latency["p50"], "p99_ms": latency["p99"], "errors": report["errors"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8080/v1")
    parser.add_argument("--model", help="default: the first model the gateway lists")
    parser.add_argument("--fair-rate", type=float, default=10.0, help="requests/s of the fair application")
    parser.add_argument("--greedy-limit", type=float, default=3.0,
                        help="the greedy application's requests_per_second in benchmarks/gateway.yml; "
                             "it sends ten times this")
    args = parse_round_arguments(parser)

    keys = {"fair": read_key("bench-fair"), "greedy": read_key("bench-greedy")}
    try:
        model = args.model or OpenAIEmbeddings(
            HttpClient(args.gateway, api_key=keys["fair"], timeout=args.timeout)).list_models()[0]
    except EndpointError as err:
        raise SystemExit("%s (make deploy; ansible-playbook benchmarks/gateway.yml)" % err.message) from err
    fair = loadgen.LoadGenerator(args.gateway, model, api_key=keys["fair"], name="fair", progress=None)
    greedy = loadgen.LoadGenerator(args.gateway, model, api_key=keys["greedy"], name="greedy", progress=None)
    common = dict(duration=args.duration, warmup=args.warmup, input_tokens=args.input_tokens, timeout=args.timeout)
    fair_spec = dict(common, rate=args.fair_rate)
    greedy_spec = dict(common, rate=args.greedy_limit * 10, seed=1)

    reports = []

    def alone():
        report = fair.run(dict(fair_spec))
        reports.append(dict(report, side="alone"))
        return {"alone": fair_figures(report)}

    def beside():
        report, greedy_report = asyncio.run(together(fair, greedy, dict(fair_spec), dict(greedy_spec)))
        reports.extend([dict(report, side="beside"), dict(greedy_report, side="greedy")])
        limited = greedy_report["http_statuses"].get("429", 0)  # the load generator keys statuses as text
        return {"beside": fair_figures(report),
                "greedy": {"admitted_per_s": greedy_report["qps"], "limited": limited,
                           "other_failures": greedy_report["requests"]["failed"] - limited}}

    rounds = interleaved_rounds(args.rounds, alone, beside)

    print_rounds(rounds, "fair alone", "fair beside greedy",
                 ["greedy admitted/s (limit %g)" % args.greedy_limit, "greedy 429s"],
                 lambda r: ["%.2f" % r["greedy"]["admitted_per_s"], "%d" % r["greedy"]["limited"]])
    print("fair application at %g req/s, %d-token inputs, %d rounds of %gs: p99 beside a greedy application at "
          "%g req/s / alone = %s" % (args.fair_rate, args.input_tokens, args.rounds, args.duration,
                                     args.greedy_limit * 10, ratio_summary(rounds)))
    return finish(args.json, rounds, reports)


if __name__ == "__main__":
    sys.exit(main())
