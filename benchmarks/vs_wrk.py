"""The collection's benchmark against wrk on the same endpoint, bodies and in-flight count: its fidelity.

Three clients load the same endpoint in interleaved rounds, closed loop, --concurrency in flight, with the
same request bodies (loadgen's own, written to a file that wrk's Lua script cycles through):
  playbook  `ansible-playbook playbooks/benchmark.yml`: the module embeddings_benchmark, run by Ansible on the
            controller, as an operator runs it;
  loadgen   the same load generator (plugins/module_utils/loadgen.py) called in this process, no Ansible;
  wrk       wrk 4.1 (Debian's), one thread, --concurrency connections.
It prints requests/s for each and the ratios playbook/wrk and loadgen/wrk per input length. Where playbook
and loadgen agree and both trail wrk, the load generator is the cause; where only the playbook trails,
Ansible around it is. With --pin the load generators and wrk run on CPUs given by --client-cpus (taskset),
which shows how much of a gap is the client sharing cores with the server.

    make deploy && apt-get install wrk && .venv/bin/pip install -r requirements/benchmark.txt
    .venv/bin/python benchmarks/vs_wrk.py [--tokens 8 512] [--rounds 2] [--duration 12] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import _collection  # puts this working tree on sys.path as the collection embedops.embeddings
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen

LUA = r"""
local bodies = {}
for line in io.lines(os.getenv("EMBEDOPS_WRK_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def write_bodies(path, model, tokens, inputs_per_request, distinct):
    spec = loadgen.normalize_spec({"concurrency": 1, "input_tokens": tokens,
                                   "inputs_per_request": inputs_per_request, "distinct_inputs": distinct})
    bodies = loadgen.LoadGenerator("http://127.0.0.1/v1", model)._bodies(spec)  # noqa: SLF001 - same bodies
    with open(path, "wb") as handle:
        for body, _n in bodies:
            handle.write(body + b"\n")


def run_wrk(url, bodies, lua, concurrency, seconds, pin):
    # --timeout: wrk counts a request slower than its default 2 s as an error; 512-token requests queue longer.
    cmd = [shutil.which("wrk") or "wrk", "-t1", "-c%d" % concurrency, "-d%ds" % round(seconds), "--timeout", "120s",
           "-s", lua, url + "/embeddings"]
    if pin:
        cmd = ["taskset", "-c", pin, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,  # noqa: S603 - fixed arguments
                         env=dict(os.environ, EMBEDOPS_WRK_BODIES=bodies)).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad or "Socket errors" in out:
        raise SystemExit("wrk saw errors:\n" + out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def run_loadgen(url, model, spec):
    return loadgen.LoadGenerator(url, model, name="loadgen").run(spec)["qps"]


def run_playbook(url, model, spec, pin):
    with tempfile.TemporaryDirectory() as out:
        extra = {"benchmark_endpoints": [{"name": "vs-wrk", "api_base": url, "model": model}],
                 "benchmark_concurrency": [spec["concurrency"]], "benchmark_duration": spec["duration"],
                 "benchmark_warmup": spec["warmup"], "benchmark_input_tokens": spec["input_tokens"],
                 "benchmark_output_dir": out}
        cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
               os.path.join(_collection.ROOT, "playbooks", "benchmark.yml"), "-e", json.dumps(extra)]
        if pin:
            cmd = ["taskset", "-c", pin, *cmd]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=_collection.ROOT)  # noqa: S603
        if done.returncode:
            raise SystemExit("playbooks/benchmark.yml failed (exit %d):\n%s" % (done.returncode, done.stdout[-3000:]))
        with open(os.path.join(out, "benchmark.json")) as handle:
            return json.load(handle)["runs"][0]["qps"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--api-base", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="all-minilm-l6-v2")
    parser.add_argument("--tokens", type=int, nargs="+", default=[8, 512])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", nargs="+", default=["playbook", "loadgen", "wrk"],
                        choices=["playbook", "loadgen", "wrk"])
    parser.add_argument("--pin", default=None, help="taskset CPU list for every client (default: not pinned)")
    parser.add_argument("--json", default=os.path.join(_collection.ROOT, ".cache", "bench-results", "vs_wrk.json"))
    args = parser.parse_args()
    if args.pin:  # the in-process load generator is this process
        os.sched_setaffinity(0, {int(c) for part in args.pin.split(",") for c in _cpus(part)})

    work = tempfile.mkdtemp(prefix="embedops-vs-wrk-")
    lua = os.path.join(work, "bodies.lua")
    with open(lua, "w") as handle:
        handle.write(LUA)
    results = {}
    for tokens in args.tokens:
        spec = loadgen.normalize_spec({"concurrency": args.concurrency, "input_tokens": tokens,
                                       "duration": args.duration, "warmup": args.warmup})
        bodies = os.path.join(work, "bodies-%d.jsonl" % tokens)
        write_bodies(bodies, args.model, tokens, spec["inputs_per_request"], spec["distinct_inputs"])
        runs = {name: [] for name in args.clients}
        for rnd in range(args.rounds):
            for name in args.clients:
                if name == "wrk":
                    run_wrk(args.api_base, bodies, lua, args.concurrency, args.warmup, args.pin)  # warm-up, unread
                    qps = run_wrk(args.api_base, bodies, lua, args.concurrency, args.duration, args.pin)
                elif name == "loadgen":
                    qps = run_loadgen(args.api_base, args.model, spec)
                else:
                    qps = run_playbook(args.api_base, args.model, spec, args.pin)
                runs[name].append(qps)
                print("%4d tokens round %d  %-8s %8.2f req/s" % (tokens, rnd + 1, name, qps), file=sys.stderr)
        results[tokens] = {name: round(sum(v) / len(v), 2) for name, v in runs.items()}
        results[tokens]["rounds"] = runs
    header = [" | ".join("%s req/s" % c for c in args.clients),
              " | ".join("%s/wrk" % c for c in args.clients if c != "wrk")]
    print("\n| input tokens | %s | %s |" % tuple(header))
    print("|---|%s|" % "|".join("---" for _c in range(2 * len(args.clients) - 1)))
    for tokens, row in results.items():
        ratios = ["%.2f" % (row[c] / row["wrk"]) if row.get("wrk") else "-" for c in args.clients if c != "wrk"]
        print("| %d | %s | %s |" % (tokens, " | ".join("%.1f" % row[c] for c in args.clients), " | ".join(ratios)))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"args": vars(args), "results": results, "when": time.strftime("%Y-%m-%dT%H:%M:%S")}, handle,
                  indent=2)
    print("wrote %s" % args.json)
    return 0


def _cpus(part):
    lo, _sep, hi = part.partition("-")
    return range(int(lo), int(hi or lo) + 1)


if __name__ == "__main__":
    sys.exit(main())
