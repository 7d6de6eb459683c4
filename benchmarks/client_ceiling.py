"""How many requests per second can ONE load-generator process send and check?

Starts a trivial OpenAI-embeddings-shaped endpoint (aiohttp server answering every POST
/v1/embeddings with the same small pre-encoded embedding) in another process, pins the server
and this client to different CPUs where the machine has two or more, and loads it with
plugins/module_utils/loadgen.py:

  1. closed loop at each --concurrency (default 100, as the comparison table), --repeats times;
  2. open loop at --target req/s (default 2,550, the issue's requirement): sustained means no
     errors, achieved throughput >= 99% of the target and the client's own send lag small.

Prints the figures with the client's and the server's CPU use (a server at ~100% CPU means the
figure is a lower bound for the client) and the load average, and writes JSON with --json.

    .venv/bin/python benchmarks/client_ceiling.py [--duration 10] [--target 2550] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

# _collection puts this working tree on sys.path as the collection embedops.embeddings
import _collection  # noqa: F401  # pylint: disable=unused-import
from ansible_collections.embedops.embeddings.plugins.module_utils import loadgen

MODEL = "ceiling-test"
DIMENSION = 8


def serve(port, cpu):
    """The trivial endpoint (runs in the child process)."""
    from aiohttp import web

    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    vector = [round(0.1 * (i + 1), 3) for i in range(DIMENSION)]
    answer = json.dumps({
        "object": "list", "model": MODEL,
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "usage": {"prompt_tokens": 512, "total_tokens": 512},
    }).encode()

    async def embeddings(request):
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    async def health(request):
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/health", health)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=1024)


def idle_ticks(cpus):
    ticks = {}
    with open("/proc/stat") as stat:
        for line in stat:
            name = line.split(" ", 1)[0]
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                fields = line.split()
                ticks[int(name[3:])] = int(fields[4]) + int(fields[5])  # idle + iowait
    return ticks


def idlest_cpus(cpus, seconds=1.0):
    """The CPUs ordered from the least busy over `seconds` (other tenants may keep one busy, such as
    vLLM replicas whose compute threads are bound to CPU 0)."""
    before = idle_ticks(cpus)
    time.sleep(seconds)
    after = idle_ticks(cpus)
    return sorted(cpus, key=lambda cpu: before.get(cpu, 0) - after.get(cpu, 0))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_ticks(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def schedstat(pid):
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of a process's main thread, from the scheduler."""
    try:
        with open("/proc/%d/schedstat" % pid) as stat:
            run_ns, wait_ns = stat.read().split()[:2]
        return int(run_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return None


def wait_ready(port, proc, deadline=20):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("the test server exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the test server did not listen within %ss" % deadline)


def measure(generator, spec, server_pid):
    """One run, with the server's CPU use and how long each side waited for a CPU it was ready to use.

    A process that waits for a CPU while runnable is held back by the other processes on the machine,
    not by its own cost: then the req/s measured is less than the client can do on a core of its own.
    """
    before = cpu_ticks(server_pid)
    sched_before = schedstat(os.getpid()), schedstat(server_pid)
    start = time.monotonic()
    report = generator.run(spec)
    wall = time.monotonic() - start
    report["server_cpu_percent"] = round(100 * (cpu_ticks(server_pid) - before) / wall, 1)
    sched_after = schedstat(os.getpid()), schedstat(server_pid)
    for side, b, a in (("client", sched_before[0], sched_after[0]), ("server", sched_before[1], sched_after[1])):
        report["%s_cpu_wait_percent" % side] = round(100 * (a[1] - b[1]) / wall, 1) if a and b else None
    if report["client_cpu_ms_per_request"]:
        report["client_ceiling_from_cpu"] = round(1000 / report["client_cpu_ms_per_request"])
    return report


def line(report):
    lat = report["latency_ms"]
    text = ("%-16s %6.0f req/s  p50 %6.2f  p99 %6.2f  max %7.2f ms  errors %d  client CPU %5.1f%% (%.3f ms/req)"
            "  server CPU %5.1f%%") % (
        report["label"], report["qps"], lat["p50"] or 0, lat["p99"] or 0, lat["max"] or 0,
        report["requests"]["failed"], report["client_cpu_percent"], report["client_cpu_ms_per_request"] or 0,
        report["server_cpu_percent"],
    )
    waits = (report["client_cpu_wait_percent"], report["server_cpu_wait_percent"])
    text += "  waited for a CPU: client %s%%, server %s%%" % waits
    if report["send_lag_ms"]:
        text += "  send lag p99 %.2f ms" % (report["send_lag_ms"]["p99"] or 0)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--target", type=float, default=2550.0, help="open-loop rate that must be sustained")
    parser.add_argument("--input-tokens", type=int, default=512, help="size of the request bodies sent")
    parser.add_argument("--no-pin", action="store_true", help="leave both processes on all CPUs")
    parser.add_argument("--progress", action="store_true", help="one line per second on stderr")
    parser.add_argument("--json", help="write all reports here")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.cpu)
        return 0
    if not loadgen.HAS_AIOHTTP:
        raise SystemExit("aiohttp is needed: pip install -r requirements/benchmark.txt")

    cpus = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cpus) >= 2
    if pin:
        cpus = idlest_cpus(cpus)
    client_cpu, server_cpu = (cpus[0], cpus[1]) if pin else (None, None)
    port = free_port()
    cmd = [sys.executable, os.path.abspath(__file__), "--serve", str(port)]
    if pin:
        cmd += ["--cpu", str(server_cpu)]
    server = subprocess.Popen(cmd)  # noqa: S603 - our own script, fixed arguments
    try:
        wait_ready(port, server)
        if pin:
            os.sched_setaffinity(0, {client_cpu})
        print("client pinned to CPU %s, server (pid %d) to CPU %s; load average %s; %d CPUs"
              % (client_cpu, server.pid, server_cpu, os.getloadavg(), os.cpu_count()))
        generator = loadgen.LoadGenerator(
            "http://127.0.0.1:%d/v1" % port, MODEL, name="trivial endpoint",
            progress=sys.stderr if args.progress else None,
        )
        common = dict(duration=args.duration, warmup=args.warmup, input_tokens=args.input_tokens, distinct_inputs=16)
        reports = []
        best = {}
        for concurrency in args.concurrency:
            runs = []
            for _repeat in range(args.repeats):
                report = measure(generator, dict(common, concurrency=concurrency), server.pid)
                print(line(report), flush=True)
                runs.append(report)
            reports += runs
            best[concurrency] = statistics.median(r["qps"] for r in runs)
        sustained = measure(generator, dict(common, rate=args.target, max_connections=max(args.concurrency)),
                            server.pid)
        print(line(sustained), flush=True)
        reports.append(sustained)
    finally:
        server.terminate()
        server.wait(10)

    ok = (
        sustained["requests"]["failed"] == 0
        and sustained["qps"] >= 0.99 * args.target
        and (sustained["send_lag_ms"]["p99"] or 0) < 50
    )
    peak = max(best.values())
    per_core = [r["client_ceiling_from_cpu"] for r in reports
                if r.get("client_ceiling_from_cpu") and r["mode"] == "closed"]
    print()
    print("closed-loop ceiling (median of %d runs): %s" % (
        args.repeats, ", ".join("c=%d: %.0f req/s" % (c, q) for c, q in best.items())))
    print("CLIENT CEILING: %.0f requests/s (closed loop, one process); open loop at %.0f req/s %s "
          "(achieved %.0f req/s, send lag p99 %.2f ms, %d errors); load average now %s"
          % (peak, args.target, "SUSTAINED" if ok else "NOT sustained", sustained["qps"],
             sustained["send_lag_ms"]["p99"] or 0, sustained["requests"]["failed"], os.getloadavg()))
    if per_core:
        print("client CPU cost: %.3f-%.3f ms per request, i.e. %d-%d requests/s on a core of its own (1000 / CPU ms)"
              % (1000 / max(per_core), 1000 / min(per_core), min(per_core), max(per_core)))
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"ceiling_qps": peak, "ceiling_from_cpu": per_core, "target": args.target,
                       "target_sustained": ok, "runs": reports}, out, indent=2)
    return 0 if ok and peak >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
