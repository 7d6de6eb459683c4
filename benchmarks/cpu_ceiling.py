"""The deployed service against this machine's own ceiling for the same model and inputs, as a ratio.

1. Reads the deployed replicas from Docker (containers labelled io.embedops.role=vllm): image, model directory,
   cpusets, flags.
2. Ceiling: the same model in ONE process, no server, in the same image on the same cores (all the replicas'
   cpusets together), for each dtype in --dtypes and each batch size in --batches; the best texts/s per input
   length is the ceiling (benchmarks/_inprocess_ceiling.py). Inputs are the load generator's own
   (loadgen.make_inputs), the same texts the service gets.
3. Service: the collection's load generator (closed loop, about --concurrency inputs in flight) at each input
   length and each number of inputs per request (--inputs-per-request), through the published ports.
4. Prints, per case, the service's inputs/s, the ceiling and their ratio, and writes it all to --json.

    make deploy
    .venv/bin/python benchmarks/cpu_ceiling.py [--tokens 8 512] [--inputs-per-request 1 16] [--duration 15]

Run it on an otherwise idle machine: the two halves run one after the other, not at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import _collection  # puts this working tree on sys.path as the collection embedops.embeddings
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen

HERE = os.path.dirname(os.path.abspath(__file__))


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True,  # noqa: S603,S607 - the docker CLI
                          text=True).stdout


def replicas(prefix_label="io.embedops.role=vllm"):
    names = docker("ps", "--filter", "label=" + prefix_label, "--format", "{{.Names}}").split()
    if not names:
        raise SystemExit("no running vLLM replica (label %s): run `make deploy` first" % prefix_label)
    found = []
    for info in json.loads(docker("inspect", *sorted(names))):
        model_mount = [m for m in info["Mounts"] if m["Destination"].startswith("/models/")]
        ports = info["HostConfig"]["PortBindings"].get("8000/tcp") or []
        found.append({
            "name": info["Name"].lstrip("/"),
            "image": info["Config"]["Image"],
            "command": info["Config"]["Cmd"],
            "env": dict(e.split("=", 1) for e in info["Config"]["Env"] if e.startswith("VLLM_")),
            "cpuset": info["HostConfig"]["CpusetCpus"] or "",
            "model_dir": model_mount[0]["Source"] if model_mount else None,
            "port": int(ports[0]["HostPort"]) if ports else None,
            "host": (ports[0]["HostIp"] or "127.0.0.1") if ports else None,
        })
    return found


def process_cpu(names):
    """CPU seconds used so far by each process of the named containers, keyed by (container, pid, comm)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for name in names:
        for pid in docker("top", name, "-eo", "pid").split()[1:]:
            try:
                with open("/proc/%s/stat" % pid) as handle:
                    stat = handle.read()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2:].split()
            out[(name, pid, comm)] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return out


def cpu_split(before, after, seconds):
    """Cores used per process name over a run: {comm: cores}, busiest first."""
    used = {}
    for key, value in after.items():
        used[key[2]] = used.get(key[2], 0.0) + value - before.get(key, 0.0)
    return dict(sorted(((k, round(v / seconds, 2)) for k, v in used.items() if v > 0.01 * seconds),
                       key=lambda kv: -kv[1]))


def flag(command, name):
    return command[command.index(name) + 1] if name in command else None


def ceiling(replica, cpuset, groups, dtypes, batches, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "inputs.json")
        with open(path, "w") as handle:
            json.dump(groups, handle)
        os.chmod(tmp, 0o755)  # noqa: S103 - the container's user reads the inputs; they are not secret
        os.chmod(path, 0o644)
        argv = ["docker", "run", "--rm", "--network", "none", "--entrypoint", "/opt/vllm/bin/python",
                "-v", "%s:/model:ro" % replica["model_dir"], "-v", "%s:/inputs.json:ro" % path,
                "-v", "%s:/ceiling.py:ro" % os.path.join(HERE, "_inprocess_ceiling.py")]
        if cpuset:
            argv += ["--cpuset-cpus", cpuset]
        argv += [replica["image"], "/ceiling.py", "--model", "/model", "--inputs", "/inputs.json",
                 "--seconds", str(seconds), "--dtypes", *dtypes, "--batches", *map(str, batches)]
        rows = []
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:  # noqa: S603 - fixed arguments
            for line in proc.stdout:
                row = json.loads(line)  # one line per (tokens, dtype, batch)
                rows.append(row)
                print("  ceiling %s" % json.dumps(row), file=sys.stderr, flush=True)
        if proc.returncode:
            raise SystemExit("the in-process ceiling failed (exit %d)" % proc.returncode)
    return [row for row in rows if "texts_per_s" in row]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[8, 512])
    parser.add_argument("--inputs-per-request", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--ceiling-seconds", type=float, default=6.0)
    parser.add_argument("--json", default=os.path.join(_collection.ROOT, ".cache", "bench-results", "cpu_ceiling.json"))
    args = parser.parse_args()
    if not loadgen.HAS_AIOHTTP:
        raise SystemExit("aiohttp is needed: .venv/bin/pip install -r requirements/benchmark.txt")

    found = replicas()
    first = found[0]
    model = flag(first["command"], "--served-model-name") or flag(first["command"], "--model")
    cpusets = [r["cpuset"] for r in found if r["cpuset"]]
    cpuset = ",".join(cpusets) if len(cpusets) == len(found) else ""
    print("service: %d replica(s) of %s, model %s, dtype %s, cpusets %s, env %s" % (
        len(found), first["image"], model, flag(first["command"], "--dtype") or "(vLLM's auto)",
        [r["cpuset"] or "all" for r in found], first["env"]))
    print("machine: %d CPUs, load average %s" % (os.cpu_count(), [round(x, 2) for x in os.getloadavg()]))

    groups = [{"tokens": t, "texts": loadgen.make_inputs(t, loadgen.DEFAULTS["distinct_inputs"])} for t in args.tokens]
    rows = ceiling(first, cpuset, groups, args.dtypes, args.batches, args.ceiling_seconds)
    best = {}
    for row in rows:
        if row["tokens"] not in best or row["texts_per_s"] > best[row["tokens"]]["texts_per_s"]:
            best[row["tokens"]] = row

    results = []
    for tokens in args.tokens:
        for per_request in args.inputs_per_request:
            reports = []
            for replica in found:
                api_base = "http://%s:%d/v1" % (replica["host"], replica["port"])
                # About the same inputs in flight whatever the request size, and a window long enough for
                # several answers of the slowest requests.
                spec = dict(concurrency=max(2, args.concurrency // per_request),
                            duration=args.duration * (2 if per_request > 1 else 1), warmup=args.warmup,
                            input_tokens=tokens, inputs_per_request=per_request, timeout=300)
                reports.append((api_base, spec))
            # Every replica at once, each with its share of the load, as a gateway would spread it.
            cpu_before, started = process_cpu([r["name"] for r in found]), time.monotonic()
            served = run_all(reports, model)
            cores = cpu_split(cpu_before, process_cpu([r["name"] for r in found]), time.monotonic() - started)
            top = best[tokens]
            results.append({"tokens": tokens, "inputs_per_request": per_request, "service_inputs_per_s": served[0],
                            "service_qps": served[1], "errors": served[2], "ceiling_texts_per_s": top["texts_per_s"],
                            "ceiling_dtype": top["dtype"], "ceiling_batch": top["batch"],
                            "ratio": round(served[0] / top["texts_per_s"], 3) if top["texts_per_s"] else None,
                            "server_cores_by_process": cores})
            print("  %s" % json.dumps(results[-1]), file=sys.stderr, flush=True)

    print()
    print("| input tokens | inputs per request | service inputs/s | ceiling texts/s (dtype, batch) | service/ceiling |")
    print("|---|---|---|---|---|")
    for r in results:
        print("| %d | %d | %.1f | %.1f (%s, %d) | **%.2f** |" % (
            r["tokens"], r["inputs_per_request"], r["service_inputs_per_s"], r["ceiling_texts_per_s"],
            r["ceiling_dtype"], r["ceiling_batch"], r["ratio"] or 0))
    print("\nwhere the server's CPU went (cores used per process, warm-up included):")
    for r in results:
        print("  %d tokens x %d: %s" % (r["tokens"], r["inputs_per_request"], r["server_cores_by_process"]))
    print("load average after: %s" % [round(x, 2) for x in os.getloadavg()])
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"replicas": found, "ceiling": rows, "results": results}, handle, indent=2)
    print("wrote %s" % args.json)
    return 0


def run_all(targets, model):
    """Load every replica at once (the spec's concurrency shared out); (inputs/s, requests/s, failed) summed."""
    import threading

    out = [None] * len(targets)

    def one(i, api_base, spec):
        share = max(1, spec["concurrency"] // len(targets))
        out[i] = loadgen.LoadGenerator(api_base, model, name="replica-%d" % i).run(dict(spec, concurrency=share))

    threads = [threading.Thread(target=one, args=(i, base, spec)) for i, (base, spec) in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (round(sum(r["inputs_per_s"] for r in out), 2), round(sum(r["qps"] for r in out), 2),
            sum(r["requests"]["failed"] for r in out))


if __name__ == "__main__":
    sys.exit(main())
