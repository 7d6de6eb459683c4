"""Benchmark OpenAI-compatible embeddings endpoints from the command line, or render saved results.

  run     load one or more endpoints (closed loop at --concurrency, open loop at --rate), print progress
          on stderr once a second, and write results.json, results.md (the comparison table, one column
          per endpoint and load) and latency.png (latency against load) into --out.
  render  turn saved JSON reports (from `run`, or from the embeddings_benchmark module) into the
          Markdown table and the PNG chart; playbooks/benchmark.yml uses it on the controller.

Examples (controller venv, from the repository root):
  .venv/bin/python benchmarks/loadgen.py run --api-base http://127.0.0.1:8000/v1 --model all-minilm-l6-v2 \\
      --name vllm-cpu --concurrency 1 8 32 100 --rate 5 10 --duration 20 --out .cache/bench
  .venv/bin/python benchmarks/loadgen.py run --endpoint a http://h1:8000/v1 m --endpoint b http://h2:8000/v1 m
  .venv/bin/python benchmarks/loadgen.py render results.json --markdown table.md --png latency.png

The API key comes from the environment variable named by --api-key-env (default EMBEDOPS_API_KEY), so it
never shows in the process list; it is sent as a bearer token and never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# _collection puts this working tree on sys.path as the collection embedops.embeddings
import _collection  # noqa: F401  # pylint: disable=unused-import
from _chart import latency_chart
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen


def flatten(documents):
    """Reports from saved files: a list of reports, {"runs": [...]}, or a list of module results."""
    reports = []
    for doc in documents:
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if isinstance(item, dict) and "runs" in item:
                reports.extend(item["runs"])
            elif isinstance(item, dict) and "qps" in item:
                reports.append(item)
    return reports


def render(reports, markdown=None, png=None, title="Latency against load"):
    table = loadgen.markdown_table(reports)
    if markdown:
        with open(markdown, "w") as out:
            out.write(table)
    if png:
        try:
            latency_chart(reports, png, title=title)
        except ImportError as exc:
            raise SystemExit("%s: the chart needs matplotlib (.venv/bin/pip install -r requirements/benchmark.txt); "
                             "the JSON%s was written" % (exc, " and the Markdown table" if markdown else "")) from exc
    return table


def cmd_run(args):
    if not loadgen.HAS_AIOHTTP:
        raise SystemExit("aiohttp is needed: .venv/bin/pip install -r requirements/benchmark.txt")
    endpoints = [tuple(e) for e in args.endpoint or []]
    if args.api_base:
        if not args.model:
            raise SystemExit("--api-base needs --model")
        endpoints.append((args.name or args.api_base, args.api_base, args.model))
    if not endpoints:
        raise SystemExit("give --api-base and --model, or --endpoint NAME API_BASE MODEL")
    api_key = os.environ.get(args.api_key_env) or None
    specs = loadgen.load_specs(
        args.concurrency, args.rate, duration=args.duration, requests=args.requests, warmup=args.warmup,
        input_tokens=args.input_tokens, inputs_per_request=args.inputs_per_request, seed=args.seed,
        encoding_format=args.encoding_format, timeout=args.timeout, max_connections=args.max_connections,
        validate_certs=not args.insecure,
    )
    if not specs:
        raise SystemExit("give --concurrency or --rate")
    reports = []
    for name, api_base, model in endpoints:
        sys.stderr.write("== %s (%s, model %s): %d runs; load average %s\n" % (
            name, api_base, model, len(specs), list(os.getloadavg())))
        reports += loadgen.run_load(api_base, model, specs, api_key=api_key, name=name,
                                    progress=None if args.quiet else sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as out:
        json.dump(reports, out, indent=2)
    table = render(reports, os.path.join(args.out, "results.md"), os.path.join(args.out, "latency.png"))
    print(table)
    print("wrote %s/results.json, results.md, latency.png" % args.out)
    return 0 if all(r["requests"]["ok"] for r in reports) else 1


def cmd_render(args):
    documents = []
    for path in args.json:
        with open(path) as src:
            documents.append(json.load(src))
    reports = flatten(documents)
    if not reports:
        raise SystemExit("no reports found in %s" % ", ".join(args.json))
    print(render(reports, args.markdown, args.png, args.title))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="load endpoints and write JSON, Markdown and PNG")
    run.add_argument("--api-base", help="base URL including /v1")
    run.add_argument("--model")
    run.add_argument("--name", help="column name of --api-base in the table")
    run.add_argument("--endpoint", nargs=3, action="append", metavar=("NAME", "API_BASE", "MODEL"),
                     help="an endpoint to measure; repeat for several")
    run.add_argument("--api-key-env", default="EMBEDOPS_API_KEY",
                     help="environment variable holding the bearer key (default EMBEDOPS_API_KEY)")
    run.add_argument("--concurrency", type=int, nargs="*", default=[100], help="closed-loop runs (default 100)")
    run.add_argument("--rate", type=float, nargs="*", default=[], help="open-loop runs, requests/s")
    run.add_argument("--duration", type=float, default=30.0, help="measured seconds per run (0: no time bound)")
    run.add_argument("--requests", type=int, help="measured requests per run")
    run.add_argument("--warmup", type=float, default=5.0, help="seconds of uncounted load before each run")
    run.add_argument("--input-tokens", type=int, default=512, help="approximate tokens per input (default 512)")
    run.add_argument("--inputs-per-request", type=int, default=1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--encoding-format", choices=("float", "base64"), default="float")
    run.add_argument("--timeout", type=float, default=60.0)
    run.add_argument("--max-connections", type=int, default=1000, help="open loop: most connections")
    run.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument("--out", default=".cache/benchmark", help="folder for results.json, results.md, latency.png")
    run.set_defaults(func=cmd_run)

    ren = sub.add_parser("render", help="Markdown table and PNG chart from saved JSON")
    ren.add_argument("json", nargs="+", help="JSON files: lists of reports, or module results")
    ren.add_argument("--markdown", help="write the table here")
    ren.add_argument("--png", help="write the chart here")
    ren.add_argument("--title", default="Latency against load")
    ren.set_defaults(func=cmd_render)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
