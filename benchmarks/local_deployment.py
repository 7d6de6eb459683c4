"""Measure the local vLLM deployment (make deploy: 127.0.0.1:8000, all-MiniLM-L6-v2) the way the comparison table does.

1. Finds the longest input the server accepts (all-MiniLM-L6-v2 is served with max_model_len 512,
   special tokens included) by asking it, and uses min(--input-tokens, that) for the load.
2. Closed loop at each --concurrency (default 1, 8, 32, 100), then open loop at fractions of the
   best closed-loop throughput (--open-fractions, default 0.5 and 0.9) so latency is also seen from
   the intended send time.
3. Prints the table and writes results.json, results.md and latency.png into --out.

    .venv/bin/python benchmarks/local_deployment.py [--duration 20] [--out .cache/bench-results/local]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import _collection  # puts this working tree on sys.path as the collection embedops.embeddings
from _chart import latency_chart
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import EndpointError, HttpClient
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import OpenAIEmbeddings


def accepted(api, model, tokens):
    """(True, server token count) if the server embeds an input of about `tokens` tokens, (False, None) if too long."""
    try:
        answer = api.embed(loadgen.make_inputs(tokens, 1, seed=99), model)
    except EndpointError as err:
        if err.kind == "input_too_long":
            return False, None
        raise
    return True, answer.usage.get("prompt_tokens")


def longest_input(api, model, wanted):
    """The largest input_tokens <= wanted the server accepts, found by bisection, and the server's count for it."""
    ok, count = accepted(api, model, wanted)
    if ok:
        return wanted, count
    low, high, low_count = 1, wanted, None
    ok, low_count = accepted(api, model, low)
    if not ok:
        raise SystemExit("the server refuses even a one-word input as too long")
    while high - low > 1:
        mid = (low + high) // 2
        ok, count = accepted(api, model, mid)
        if ok:
            low, low_count = mid, count
        else:
            high = mid
    return low, low_count


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--api-base", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", help="default: the first model the server lists")
    parser.add_argument("--name", default="vllm-cpu local")
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 8, 32, 100])
    parser.add_argument("--open-fractions", type=float, nargs="*", default=[0.5, 0.9],
                        help="open-loop rates as fractions of the best closed-loop QPS")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--input-tokens", type=int, default=512)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out", default=os.path.join(_collection.ROOT, ".cache", "bench-results", "local"))
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    if not loadgen.HAS_AIOHTTP:
        raise SystemExit("aiohttp is needed: .venv/bin/pip install -r requirements/benchmark.txt")

    api_key = os.environ.get("EMBEDOPS_API_KEY") or None
    api = OpenAIEmbeddings(HttpClient(args.api_base, api_key=api_key, timeout=args.timeout))
    try:
        models = api.list_models()
    except EndpointError as err:
        raise SystemExit("%s (start it with `make deploy`)" % err.message) from err
    model = args.model or models[0]
    tokens, server_count = longest_input(api, model, args.input_tokens)
    print("model %s; longest input accepted up to %d requested: %d tokens (%d words; server counts %s tokens)"
          % (model, args.input_tokens, tokens, max(1, tokens - 2), server_count))
    if tokens < args.input_tokens:
        print("NOTE: the table asks for %d-token inputs; this server accepts at most %d, so %d is used"
              % (args.input_tokens, tokens, tokens))

    progress = None if args.quiet else sys.stderr
    common = dict(duration=args.duration, warmup=args.warmup, input_tokens=tokens, timeout=args.timeout)
    generator = loadgen.LoadGenerator(args.api_base, model, api_key=api_key, name=args.name, progress=progress)
    reports = []
    for concurrency in args.concurrency:
        reports.append(generator.run(dict(common, concurrency=concurrency)))
        print("%-14s %s" % (reports[-1]["label"], json.dumps({k: reports[-1][k] for k in ("qps", "latency_ms")})),
              flush=True)
    best = max((r["qps"] for r in reports), default=0)
    for fraction in args.open_fractions if best else []:
        rate = round(best * fraction, 2)
        reports.append(generator.run(dict(common, rate=rate)))
        print("%-14s %s" % (reports[-1]["label"], json.dumps({k: reports[-1][k] for k in ("qps", "latency_ms")})),
              flush=True)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as out:
        json.dump({"input_tokens": tokens, "server_prompt_tokens": server_count, "runs": reports}, out, indent=2)
    with open(os.path.join(args.out, "results.md"), "w") as out:
        out.write(loadgen.markdown_table(reports))
    latency_chart(reports, os.path.join(args.out, "latency.png"),
                  title="%s, %s, ~%d-token inputs" % (args.name, model, tokens))
    print()
    print(loadgen.markdown_table(reports))
    print("wrote %s/results.json, results.md, latency.png; load average now %s" % (args.out, list(os.getloadavg())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
