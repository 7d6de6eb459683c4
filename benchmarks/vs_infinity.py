"""The deployed vLLM service against a peer server, Infinity, on the same machine, model, cores and inputs.

Infinity (PyPI infinity-emb, the Python v2 server, torch engine, its default settings) is installed once into a
Python 3.11 venv under .cache/infinity-venv and started on 127.0.0.1:--port, pinned with taskset to the CPUs
the deployed replicas use, serving the replicas' own model directory. Then, in interleaved rounds, the
collection's load generator (closed loop, --concurrency in flight) loads one server and then the other at each
input length, and the script prints each server's inputs/s and vLLM/Infinity.

    make deploy
    .venv/bin/python benchmarks/vs_infinity.py [--tokens 8 512] [--rounds 2] [--duration 12]

Infinity is stopped at the end; the venv stays for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import _collection  # puts this working tree on sys.path as the collection embedops.embeddings
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from cpu_ceiling import flag, replicas

INFINITY = "infinity-emb[server,torch]==0.0.78"
TORCH = "torch==2.13.0"


def venv(path):
    python = os.path.join(path, "bin", "python")
    if os.path.exists(os.path.join(path, "bin", "infinity_emb")):
        return path
    base = shutil.which("python3.11") or "python3.11"
    subprocess.run([base, "-m", "venv", path], check=True)  # noqa: S603 - fixed arguments
    subprocess.run([python, "-m", "pip", "install", "--quiet", TORCH, INFINITY], check=True)  # noqa: S603
    return path


def wait(url, seconds=300):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback, our own server
                return
        except OSError:
            time.sleep(1)
    raise SystemExit("Infinity did not answer %s within %d s" % (url, seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[8, 512])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=7997)
    parser.add_argument("--venv", default=os.path.join(_collection.ROOT, ".cache", "infinity-venv"))
    args = parser.parse_args()

    found = replicas()
    first = found[0]
    model = flag(first["command"], "--served-model-name")
    cpus = ",".join(r["cpuset"] for r in found if r["cpuset"]) or "0-%d" % (os.cpu_count() - 1)
    env_dir = venv(args.venv)
    log = open(os.path.join(_collection.ROOT, ".cache", "infinity.log"), "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - fixed arguments
        [shutil.which("taskset") or "/usr/bin/taskset", "-c", cpus, os.path.join(env_dir, "bin", "infinity_emb"),
         "v2", "--model-id", first["model_dir"],
         "--served-model-name", model, "--port", str(args.port), "--url-prefix", "/v1", "--engine", "torch",
         "--device", "cpu"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1", DO_NOT_TRACK="1"))
    try:
        wait("http://127.0.0.1:%d/health" % args.port)
        targets = {"vllm": "http://%s:%d/v1" % (first["host"], first["port"]),
                   "infinity": "http://127.0.0.1:%d/v1" % args.port}
        print("vLLM: %d replica(s) on CPUs %s; Infinity 0.0.78 (torch, defaults) pinned to the same CPUs"
              % (len(found), cpus))
        results = {}
        for tokens in args.tokens:
            for round_ in range(args.rounds):
                for name, base in targets.items():
                    report = loadgen.LoadGenerator(base, model, name=name).run(dict(
                        concurrency=args.concurrency, duration=args.duration, warmup=3, input_tokens=tokens,
                        timeout=300))
                    results.setdefault((tokens, name), []).append(report["inputs_per_s"])
                    print("  %d tokens, round %d, %s: %.1f inputs/s, %d failed" % (
                        tokens, round_ + 1, name, report["inputs_per_s"], report["requests"]["failed"]),
                        file=sys.stderr, flush=True)
        print()
        print("| input tokens | vLLM inputs/s | Infinity inputs/s | vLLM/Infinity |")
        print("|---|---|---|---|")
        for tokens in args.tokens:
            ours = sum(results[(tokens, "vllm")]) / args.rounds
            peer = sum(results[(tokens, "infinity")]) / args.rounds
            print("| %d | %.1f | %.1f | **%.2f** |" % (tokens, ours, peer, ours / peer if peer else 0))
        print(json.dumps({"%d/%s" % key: value for key, value in results.items()}))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
