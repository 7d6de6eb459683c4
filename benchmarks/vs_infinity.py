"""The deployed vLLM service against a peer server, Infinity, on the same machine, model, cores and inputs.

Infinity (PyPI infinity-emb, the Python v2 server, torch engine, its default settings) is installed once into a
Python 3.11 venv under .cache/infinity-venv and started on 127.0.0.1:--port, pinned with taskset to the CPUs
the deployed replicas use, serving the replicas' own model weights. Then, in interleaved rounds, the
collection's load generator (closed loop, --concurrency in flight) loads one server and then the other at each
input length, and the script prints each server's inputs/s and vLLM/Infinity.

Same work on both sides. Infinity (sentence-transformers) cuts every input at the model's
sentence_bert_config.json max_seq_length (256 for all-MiniLM-L6-v2) without a word, while the replicas embed up
to their --max-model-len (512 by default). Compared as they come, Infinity would do half the tokens of a
512-token input and look twice as fast. So Infinity serves a view of the same model folder (the weights are
symlinks) whose max_seq_length is the replicas' --max-model-len, and before timing anything the script checks
that both servers return the same vector (cosine >= 0.999) for the longest input: it stops if they do not.

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
import tempfile
import time
import urllib.request

import _collection  # puts this working tree on sys.path as the collection embedops.embeddings
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen
from ansible_collections.embedops.embeddings.plugins.module_utils.reference_vectors import cosine
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


def same_length_view(model_dir, max_len, into):
    """A folder that is `model_dir` (symlinks) except that sentence-transformers' max_seq_length is `max_len`."""
    for name in os.listdir(model_dir):
        if name != "sentence_bert_config.json":
            os.symlink(os.path.join(model_dir, name), os.path.join(into, name))
    config = {}
    source = os.path.join(model_dir, "sentence_bert_config.json")
    if os.path.exists(source):
        with open(source) as handle:
            config = json.load(handle)
    config["max_seq_length"] = max_len
    with open(os.path.join(into, "sentence_bert_config.json"), "w") as handle:
        json.dump(config, handle)
    return into


def same_vectors(targets, model, tokens):
    """Cosine between the two servers' vectors for one input of `tokens` tokens (1.0: the same work was done)."""
    text = loadgen.make_inputs(tokens, 1, seed=7)[0]
    vectors = []
    for base in targets.values():
        body = json.dumps({"model": model, "input": [text]}).encode()
        request = urllib.request.Request(base + "/embeddings", data=body,  # noqa: S310 - loopback, our own servers
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 - loopback, our own servers
            vectors.append(json.load(response)["data"][0]["embedding"])
    return cosine(*vectors)


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
    max_len = int(flag(first["command"], "--max-model-len") or 512)
    view = same_length_view(first["model_dir"], max_len, tempfile.mkdtemp(prefix="embedops-infinity-model-"))
    log = open(os.path.join(_collection.ROOT, ".cache", "infinity.log"), "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - fixed arguments
        [shutil.which("taskset") or "/usr/bin/taskset", "-c", cpus, os.path.join(env_dir, "bin", "infinity_emb"),
         "v2", "--model-id", view,
         "--served-model-name", model, "--port", str(args.port), "--url-prefix", "/v1", "--engine", "torch",
         "--device", "cpu"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1", DO_NOT_TRACK="1"))
    try:
        wait("http://127.0.0.1:%d/health" % args.port)
        targets = {"vllm": "http://%s:%d/v1" % (first["host"], first["port"]),
                   "infinity": "http://127.0.0.1:%d/v1" % args.port}
        print("vLLM: %d replica(s) on CPUs %s; Infinity 0.0.78 (torch, defaults) pinned to the same CPUs"
              % (len(found), cpus))
        agreement = same_vectors(targets, model, max(args.tokens))
        print("same work: cosine between the two servers' vectors for one %d-token input: %.6f"
              % (max(args.tokens), agreement))
        if agreement < 0.999:
            raise SystemExit("the servers did not embed the same tokens (cosine %.6f < 0.999): not comparable"
                             % agreement)
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
        shutil.rmtree(view, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
