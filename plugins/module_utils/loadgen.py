# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An asyncio load generator for OpenAI-compatible POST /embeddings endpoints.

Two ways to load a server:
  closed loop  `concurrency` requests in flight; each worker sends its next request when the
               previous one is answered. This is how the usual comparison tables are made, and
               it hides server stalls: while the server stalls, nothing is sent, so the stall is
               one slow sample (coordinated omission).
  open loop    requests are due at a fixed `rate` (request k at start + k / rate) whatever the
               server does, and latency is measured from the INTENDED send time, so a stall shows
               up in the latency of every request that was due during it. The report also says
               how late the client itself sent (send_lag_ms): a lag near the latency means the
               client, not the server, was the bottleneck.

A warm-up period (sent like the rest, not counted) comes first. A run ends after `duration`
seconds of measurement or `requests` measured requests, whichever comes first.

Inputs are generated deterministically from `seed`: common English words that BERT WordPiece,
XLM-R SentencePiece and GPT BPE vocabularies hold as single tokens, `input_tokens - 2` of them
(the tokenizer adds [CLS]/[SEP] or <s>/</s>). The token count is therefore approximate; the report
gives the server's own count (usage.prompt_tokens) averaged over the answered requests.

Errors use the kinds of http_client and openai_embeddings (connection_refused, timeout, tls,
name_resolution, connection, http, not_ready, unauthorized, rate_limited, quota_exceeded,
input_too_long, invalid_response, count_mismatch, ...); HTTP error answers are also counted by
status. Nothing is retried: a load generator that retried would hide the errors it measures.

The client's own CPU time (getrusage of this process over the measured period) is reported:
client_cpu_percent near 100 means the single asyncio thread was saturated and the figures say
more about the client than about the server.

aiohttp is needed (import errors are kept in AIOHTTP_IMPORT_ERROR for missing_required_lib).
The bearer key is sent in the Authorization header and never printed: it is removed from any
error message a server echoes.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import random
import resource
import socket
import ssl
import time
import traceback
from typing import IO, Any, Callable, Iterable, Mapping, Optional, Sequence

from ansible_collections.embedops.embeddings.plugins.module_utils.http_client import (
    USER_AGENT,
    EndpointError,
    HttpResponse,
    error_detail,
)
from ansible_collections.embedops.embeddings.plugins.module_utils.openai_embeddings import (
    classify_http_error,
    parse_embeddings,
    rate_limited_error,
)

AIOHTTP_IMPORT_ERROR: Optional[str]
try:
    import aiohttp
except ImportError:
    aiohttp = None  # type: ignore[assignment]  # checked through HAS_AIOHTTP before any use
    HAS_AIOHTTP = False
    AIOHTTP_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_AIOHTTP = True
    AIOHTTP_IMPORT_ERROR = None

clock = time.perf_counter

# Common English words, each one token in BERT (uncased and cased), XLM-R and GPT-2 vocabularies.
_WORD_TEXT = (
    "the of and to in is was for that with as on by at from his it an were are which this be or "
    "had not first one their its new after but who they have her she two been other when there all "
    "during into school time may years more most only over city some world would where later up "
    "such used many can state about national out known university united then made three also team "
    "film year before while under age group music season between series most best well since both "
    "last through life work high several early part people second number government century name "
    "area home back long found film game family south north west east following began river began "
    "four five released album war called house world along town film local held like public water "
    "small even great took based each old county against order line place way around within these "
    "village single large general same however system church book will could did days total own "
    "station final due being children make still road set player army day take right show made "
    "record club history good top side open member early major land power point sea body members "
    "night radio light field field form hand period money party love point story free hall war art "
    "building market door window table paper street morning evening river mountain garden summer"
)
WORDS = tuple(dict.fromkeys(_WORD_TEXT.split()))  # without repeats, in a fixed order

# What one run does (normalize_spec): the keys of a spec and their defaults.
Spec = dict[str, Any]
# What one run measured (LoadGenerator._report; the keys are listed in run_load).
Report = dict[str, Any]

DEFAULTS: Spec = {
    "concurrency": 100,
    "rate": None,
    "duration": 30.0,
    "requests": None,
    "warmup": 5.0,
    "input_tokens": 512,
    "inputs_per_request": 1,
    "distinct_inputs": 128,
    "seed": 0,
    "encoding_format": "float",
    "timeout": 60.0,
    "max_connections": 1000,
    "validate_certs": True,
}


def make_text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _word in range(n_words))


def make_inputs(input_tokens: int, count: int, seed: int = 0) -> list[str]:
    """`count` different texts of about `input_tokens` tokens each, the same for the same arguments."""
    if input_tokens < 1 or count < 1:
        raise ValueError("input_tokens and count must be at least 1")
    # A str seed gives the same sequence in every process and Python version (no hash randomization).
    rng = random.Random("embedops-loadgen-%d" % seed)  # noqa: S311 - benchmark inputs, not secrets
    n_words = max(1, input_tokens - 2)
    return [make_text(rng, n_words) for _text in range(count)]


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None for an empty one)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-pct * len(sorted_values) // 100)))  # ceil(pct/100 * n)
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(seconds: Iterable[float]) -> dict[str, float | None]:
    values = sorted(seconds)
    if not values:
        return {"min": None, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}

    def ms(value: Any) -> float:  # a percentile of values, which is not empty: never None
        return round(value * 1000, 2)

    return {
        "min": ms(values[0]),
        "mean": ms(sum(values) / len(values)),
        "p50": ms(percentile(values, 50)),
        "p90": ms(percentile(values, 90)),
        "p99": ms(percentile(values, 99)),
        "max": ms(values[-1]),
    }


def classify_exception(url: str, exc: BaseException, timeout: float) -> EndpointError:
    """The EndpointError kind of an exception aiohttp raised, as http_client names urllib's."""
    if isinstance(exc, EndpointError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return EndpointError("timeout", "no complete answer from %s within %ss" % (url, timeout), url=url)
    tls_errors: tuple[type[BaseException], ...] = (ssl.SSLError,)
    if aiohttp is not None:
        tls_errors += (aiohttp.ClientSSLError,)
    if isinstance(exc, tls_errors):
        return EndpointError("tls", "TLS failed talking to %s: %s" % (url, exc), url=url)
    os_error = getattr(exc, "os_error", None)
    if aiohttp is not None and isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(os_error, socket.gaierror) or type(exc).__name__ == "ClientConnectorDNSError":
            return EndpointError("name_resolution", "the name in %s does not resolve (%s)" % (url, exc), url=url)
        refused = isinstance(os_error, ConnectionRefusedError) or getattr(os_error, "errno", None) == errno.ECONNREFUSED
        if refused or "refused" in str(exc).lower() or "connect call failed" in str(exc).lower():
            return EndpointError(
                "connection_refused",
                "connection refused by %s: nothing listens there; is the service running and the port right?" % url,
                url=url,
            )
    if isinstance(exc, ConnectionRefusedError):
        return EndpointError("connection_refused", "connection refused by %s" % url, url=url)
    return EndpointError("connection", "could not talk to %s: %s: %s" % (url, type(exc).__name__, exc), url=url)


class _Stats:
    """What the requests of one run produced; only measured requests are kept."""

    def __init__(self) -> None:
        self.sent = 0  # all, warm-up included
        self.measured_sent = 0
        self.latencies: list[float] = []  # successful measured requests, seconds
        self.send_lags: list[float] = []  # open loop: actual send - intended send, seconds
        self.ok = 0
        self.failed = 0
        self.errors: dict[str, int] = {}
        self.statuses: dict[str, int] = {}
        self.samples: dict[str, str] = {}
        self.prompt_tokens = 0
        self.prompt_token_answers = 0
        self.last_done: float | None = None
        # (end, inputs, prompt tokens) of every successful answer, warm-up included
        self.completions: list[tuple[float, int, int]] = []
        self.in_flight = 0
        # for progress lines: everything, warm-up included
        self.done_total = 0
        self.window_latencies: list[float] = []


class LoadGenerator:
    """Loads one endpoint; `run(spec)` returns the report of one run (see run_load for the keys)."""

    def __init__(self, api_base: str, model: str, api_key: str | None = None, name: str | None = None,
                 progress: IO[str] | None = None) -> None:
        if "://" not in api_base:
            raise EndpointError(
                "config", "the URL %r has no scheme: write it as http://host:port/v1" % api_base, url=api_base
            )
        self.api_base = api_base.rstrip("/")
        self.url = self.api_base + "/embeddings"
        self._target: Any = self.url  # the URL, parsed once a run starts (_parsed_url)
        self.model = model
        self.api_key = api_key
        self.name = name or api_base
        if not HAS_AIOHTTP:
            raise EndpointError("config", "the load generator needs the Python library aiohttp: pip install aiohttp")
        self.progress = progress  # a text stream (sys.stderr) for one line per second, or None

    # -- one request -------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        if self.api_key and text:
            return text.replace(self.api_key, "********")
        return text

    async def _one(self, session: aiohttp.ClientSession, body: bytes, n_inputs: int, timeout: float,
                   intended: float | None, measured: bool, stats: _Stats) -> None:
        stats.sent += 1
        stats.in_flight += 1
        if measured:
            stats.measured_sent += 1
        start = clock()
        if intended is not None and measured:
            stats.send_lags.append(max(0.0, start - intended))
        error: EndpointError | None = None
        prompt_tokens = None
        try:
            async with session.post(self._target, data=body) as resp:
                raw = await resp.read()
                status = resp.status
                headers = resp.headers
            if status == 429:
                error = rate_limited_error(HttpResponse(self.url, status, dict(headers), raw, clock() - start))
            elif status != 200:
                error = EndpointError(
                    "http",
                    "POST %s answered HTTP %s: %s" % (self.url, status, error_detail(raw) or "(empty body)"),
                    url=self.url,
                    status=status,
                    body=raw[:2000],
                )
                error = classify_http_error(error, self.model, bool(self.api_key))
            else:
                try:
                    doc = json.loads(raw)
                except ValueError as exc:
                    raise EndpointError(
                        "invalid_response", "%s answered 200 with a body that is not JSON: %s" % (self.url, exc),
                        url=self.url, status=status,
                    ) from exc
                answer = parse_embeddings(doc, n_inputs, self.url)
                prompt_tokens = answer.usage.get("prompt_tokens")
        except EndpointError as exc:
            error = exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = classify_exception(self.url, exc, timeout)
        end = clock()
        stats.in_flight -= 1
        stats.done_total += 1
        latency = end - (start if intended is None else intended)
        if error is None:
            stats.window_latencies.append(latency)
            stats.completions.append((end, n_inputs, prompt_tokens if isinstance(prompt_tokens, int) else 0))
        if not measured:
            return
        stats.last_done = end
        if error is None:
            stats.ok += 1
            stats.latencies.append(latency)
            if isinstance(prompt_tokens, int):
                stats.prompt_tokens += prompt_tokens
                stats.prompt_token_answers += 1
        else:
            stats.failed += 1
            stats.errors[error.kind] = stats.errors.get(error.kind, 0) + 1
            if error.status is not None:
                key = str(error.status)
                stats.statuses[key] = stats.statuses.get(key, 0) + 1
            stats.samples.setdefault(error.kind, self._scrub(error.message))

    # -- the two loops -----------------------------------------------------------------------
    async def _closed(self, session: aiohttp.ClientSession, bodies: list[tuple[bytes, int]], spec: Spec,
                      stats: _Stats, t0: float, t_end: float) -> None:
        tickets: dict[str, Optional[int]] = {"left": spec["requests"]}
        next_body = {"i": 0}

        def take() -> tuple[bool, tuple[bytes, int]] | None:
            now = clock()
            if now >= t_end:
                return None
            measured = now >= t0
            left = tickets["left"]
            if measured and left is not None:
                if left <= 0:
                    return None
                tickets["left"] = left - 1
            i = next_body["i"]
            next_body["i"] += 1
            return measured, bodies[i % len(bodies)]

        async def worker() -> None:
            while True:
                ticket = take()
                if ticket is None:
                    return
                measured, (body, n_inputs) = ticket
                await self._one(session, body, n_inputs, spec["timeout"], None, measured, stats)

        await asyncio.gather(*(worker() for _worker in range(spec["concurrency"])))

    async def _open(self, session: aiohttp.ClientSession, bodies: list[tuple[bytes, int]], spec: Spec,
                    stats: _Stats, t0: float, t_end: float) -> None:
        rate = float(spec["rate"])
        start = clock()
        tasks: set[asyncio.Future[None]] = set()
        k = 0
        measured_left = spec["requests"]
        while True:
            intended = start + k / rate
            if intended >= t_end:
                break
            measured = intended >= t0
            if measured and measured_left is not None:
                if measured_left <= 0:
                    break
                measured_left -= 1
            delay = intended - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            elif k % 64 == 0:
                await asyncio.sleep(0)  # behind schedule: let the requests already due make progress
            body, n_inputs = bodies[k % len(bodies)]
            task = asyncio.ensure_future(
                self._one(session, body, n_inputs, spec["timeout"], intended, measured, stats)
            )
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
        if tasks:
            await asyncio.gather(*tasks)

    async def _progress(self, stream: IO[str], stats: _Stats, spec: Spec, begin: float, t0: float) -> None:
        label = self._label(spec)
        last_done = 0
        while True:
            await asyncio.sleep(1.0)
            now = clock()
            window = sorted(stats.window_latencies)
            stats.window_latencies = []
            p50 = percentile(window, 50)
            p99 = percentile(window, 99)
            phase = "warm-up" if now < t0 else "measure"
            line = "[%s %s] %5.1fs %s  done %d (+%d/s)  ok %d  failed %d  in flight %d  p50 %s  p99 %s ms\n" % (
                self.name, label, now - begin, phase, stats.done_total, stats.done_total - last_done,
                stats.ok, stats.failed, stats.in_flight,
                "-" if p50 is None else "%.1f" % (p50 * 1000), "-" if p99 is None else "%.1f" % (p99 * 1000),
            )
            last_done = stats.done_total
            try:
                stream.write(line)
                stream.flush()
            except (OSError, ValueError):
                return

    @staticmethod
    def _label(spec: Spec) -> str:
        if spec.get("rate"):
            return "open %g req/s" % spec["rate"]
        return "closed c=%d" % spec["concurrency"]

    def _bodies(self, spec: Spec) -> list[tuple[bytes, int]]:
        n = spec["inputs_per_request"]
        texts = make_inputs(spec["input_tokens"], spec["distinct_inputs"] * n, spec["seed"])
        bodies: list[tuple[bytes, int]] = []
        for i in range(spec["distinct_inputs"]):
            payload = {
                "model": self.model, "input": texts[i * n:(i + 1) * n], "encoding_format": spec["encoding_format"],
            }
            bodies.append((json.dumps(payload).encode("utf-8"), n))
        return bodies

    async def run_async(self, spec: Mapping[str, Any] | None) -> Report:
        spec = normalize_spec(spec)
        bodies = self._bodies(spec)
        self._target = _parsed_url(self.url)
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        if self.api_key:
            headers["Authorization"] = "Bearer %s" % self.api_key
        limit = spec["concurrency"] if not spec["rate"] else spec["max_connections"]
        ssl_arg = None if spec["validate_certs"] else False  # None: aiohttp's default, certificates checked
        connector = aiohttp.TCPConnector(
            limit=limit, limit_per_host=0, ssl=ssl_arg, ttl_dns_cache=300  # type: ignore[arg-type]
        )
        timeout = aiohttp.ClientTimeout(total=spec["timeout"])
        stats = _Stats()
        load_before = _loadavg()
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=headers, auto_decompress=True
        ) as session:
            begin = clock()
            t0 = begin + spec["warmup"]
            t_end = t0 + spec["duration"] if spec["duration"] else float("inf")
            cpu: dict[str, float] = {}

            async def mark_t0() -> None:
                delay = t0 - clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                cpu["t0"] = _cpu_seconds()

            marker = asyncio.ensure_future(mark_t0())
            reporter = (
                asyncio.ensure_future(self._progress(self.progress, stats, spec, begin, t0)) if self.progress else None
            )
            try:
                if spec["rate"]:
                    await self._open(session, bodies, spec, stats, t0, t_end)
                else:
                    await self._closed(session, bodies, spec, stats, t0, t_end)
            finally:
                if reporter:
                    reporter.cancel()
                if not marker.done():
                    marker.cancel()
            end_cpu = _cpu_seconds()
            end = clock()
        t0_cpu = cpu.get("t0", end_cpu)
        # Throughput counts the answers that arrived in the measurement window, whoever sent them:
        # [t0, t_end] for a run bounded by duration, [t0, last measured answer] for one bounded by requests.
        window_end = min(t_end, stats.last_done or end)
        window = max(window_end - t0, 0.0)
        return self._report(
            spec, stats, (t0, window_end), window, end_cpu - t0_cpu, max(end - t0, 1e-9), end - begin,
            load_before, _loadavg(),
        )

    def run(self, spec: Mapping[str, Any] | None) -> Report:
        """One run in a fresh event loop. During it, the objects that exist before it are frozen out of the
        garbage collector and collections are made rarer (gc.freeze, gc.set_threshold): at thousands of
        requests per second, collections that rescan every live object cost the client more than the requests.
        Both are restored afterwards."""
        thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(max(thresholds[0], 100000), max(thresholds[1], 50), max(thresholds[2], 50))
        try:
            return asyncio.run(self.run_async(spec))
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()

    def _report(self, spec: Spec, stats: _Stats, bounds: tuple[float, float], wall: float, cpu_seconds: float,
                cpu_wall: float, total_wall: float, load_before: list[float] | None,
                load_after: list[float] | None) -> Report:
        answered = stats.prompt_token_answers
        in_window = [c for c in stats.completions if bounds[0] <= c[0] <= bounds[1]]
        qps = len(in_window) / wall if wall else 0.0
        tokens_avg = stats.prompt_tokens / answered if answered else None
        tokens_per_s = sum(c[2] for c in in_window) / wall if (answered and wall) else None
        report = {
            "name": self.name,
            "api_base": self.api_base,
            "model": self.model,
            "mode": "open" if spec["rate"] else "closed",
            "label": self._label(spec),
            "concurrency": None if spec["rate"] else spec["concurrency"],
            "rate": spec["rate"],
            "warmup_s": spec["warmup"],
            "measured_s": round(wall, 3),
            "client_cpu_window_s": round(cpu_wall, 3),
            "total_s": round(total_wall, 3),
            "input_tokens_target": spec["input_tokens"],
            "input_words": max(1, spec["input_tokens"] - 2),
            "inputs_per_request": spec["inputs_per_request"],
            "encoding_format": spec["encoding_format"],
            "requests": {
                "sent": stats.measured_sent,
                "ok": stats.ok,
                "failed": stats.failed,
                "warmup": stats.sent - stats.measured_sent,
            },
            "qps": round(qps, 2),
            "inputs_per_s": round(sum(c[1] for c in in_window) / wall, 2) if wall else 0.0,
            "latency_ms": latency_summary(stats.latencies),
            "latency_from": "intended send time" if spec["rate"] else "actual send time",
            "send_lag_ms": latency_summary(stats.send_lags) if spec["rate"] else None,
            "errors": dict(sorted(stats.errors.items())),
            "http_statuses": dict(sorted(stats.statuses.items())),
            "error_samples": dict(sorted(stats.samples.items())),
            "prompt_tokens_avg": round(tokens_avg, 1) if tokens_avg is not None else None,
            "input_tokens_per_s": round(tokens_per_s, 1) if tokens_per_s is not None else None,
            "client_cpu_s": round(cpu_seconds, 3),
            "client_cpu_percent": round(100.0 * cpu_seconds / cpu_wall, 1),
            # CPU the client spent per request sent after warm-up: 1000 / this = requests/s one core can drive.
            "client_cpu_ms_per_request": round(1000.0 * cpu_seconds / stats.measured_sent, 4)
            if stats.measured_sent else None,
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "cpu_count": os.cpu_count(),
        }
        return report


def normalize_spec(spec: Mapping[str, Any] | None) -> Spec:
    """DEFAULTS completed by spec, checked; raises ValueError naming the bad field."""
    full = dict(DEFAULTS)
    full.update({k: v for k, v in (spec or {}).items() if v is not None})
    if full["rate"] is not None:
        full["rate"] = float(full["rate"])
        if full["rate"] <= 0:
            raise ValueError("rate must be greater than 0, got %s" % full["rate"])
    elif int(full["concurrency"]) < 1:
        raise ValueError("concurrency must be at least 1, got %s" % full["concurrency"])
    full["concurrency"] = int(full["concurrency"])
    for name in ("input_tokens", "inputs_per_request", "distinct_inputs", "max_connections"):
        full[name] = int(full[name])
        if full[name] < 1:
            raise ValueError("%s must be at least 1, got %s" % (name, full[name]))
    if full["requests"] is not None:
        full["requests"] = int(full["requests"])
        if full["requests"] < 1:
            raise ValueError("requests must be at least 1, got %s" % full["requests"])
    full["duration"] = float(full["duration"] or 0)
    if full["duration"] < 0 or (full["duration"] == 0 and full["requests"] is None):
        raise ValueError("set duration greater than 0 or requests: a run needs a bound")
    full["warmup"] = float(full["warmup"])
    if full["warmup"] < 0:
        raise ValueError("warmup must be 0 or more, got %s" % full["warmup"])
    full["timeout"] = float(full["timeout"])
    if full["timeout"] <= 0:
        raise ValueError("timeout must be greater than 0, got %s" % full["timeout"])
    if full["encoding_format"] not in ("float", "base64"):
        raise ValueError("encoding_format must be float or base64, got %r" % full["encoding_format"])
    return full


def load_specs(concurrencies: Iterable[int] | None = (), rates: Iterable[float] | None = (),
               **common: Any) -> list[Spec]:
    """One spec per closed-loop concurrency, then one per open-loop rate."""
    specs = [dict(common, concurrency=c, rate=None) for c in concurrencies or ()]
    specs += [dict(common, rate=r) for r in rates or ()]
    return specs


def run_load(api_base: str, model: str, specs: Iterable[Mapping[str, Any] | None], api_key: str | None = None,
             name: str | None = None, progress: IO[str] | None = None) -> list[Report]:
    """Run the specs one after another against one endpoint; the list of their reports.

    Each report: name, api_base, model, mode (closed|open), label, concurrency, rate, warmup_s,
    measured_s, requests {sent, ok, failed, warmup}, qps, inputs_per_s, latency_ms {min, mean, p50,
    p90, p99, max} (successful requests only), latency_from, send_lag_ms (open loop), errors
    {kind: count}, http_statuses {status: count}, error_samples {kind: message},
    prompt_tokens_avg (the server's usage.prompt_tokens per request), input_tokens_per_s,
    client_cpu_s, client_cpu_percent, loadavg_before/after, cpu_count.
    """
    generator = LoadGenerator(api_base, model, api_key=api_key, name=name, progress=progress)
    return [generator.run(spec) for spec in specs]


def _parsed_url(url: str) -> Any:
    """The URL parsed once (yarl, which aiohttp depends on), so that requests do not parse it again."""
    try:
        import yarl
    except ImportError:
        return url
    return yarl.URL(url)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loadavg() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


# -- presentation, shared by benchmarks/loadgen.py and playbooks/benchmark.yml -----------------

def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "{:,.{}f}".format(value, digits)
    return "{:,}".format(value)


def error_cell(report: Report) -> str:
    failed = report["requests"]["failed"]
    if not failed:
        return "0"
    parts: list[str] = []
    for kind, count in report["errors"].items():
        if kind == "http" and report["http_statuses"]:
            parts.extend("HTTP %s: %d" % (status, n) for status, n in report["http_statuses"].items())
        else:
            parts.append("%s: %d" % (kind, count))
    return "%d (%s)" % (failed, ", ".join(parts))


def littles_law_cell(report: Report) -> str:
    """QPS x mean latency: about the concurrency in a closed loop; a table whose figures break it is wrong."""
    mean = report["latency_ms"]["mean"]
    if mean is None:
        return "-"
    implied = report["qps"] * mean / 1000.0
    if report["mode"] == "closed":
        return "%.1f (of %d)" % (implied, report["concurrency"])
    return "%.1f" % implied


def markdown_table(reports: Sequence[Report]) -> str:
    """The comparison table: one column per endpoint and load, one row per figure."""
    if not reports:
        return "(no results)\n"
    headers = ["%s, %s" % (r["name"], r["label"]) for r in reports]
    rows: list[tuple[str, Callable[[Report], str]]] = [
        ("QPS (requests/s)", lambda r: _fmt(r["qps"])),
        ("p50 latency (ms)", lambda r: _fmt(r["latency_ms"]["p50"])),
        ("p90 latency (ms)", lambda r: _fmt(r["latency_ms"]["p90"])),
        ("p99 latency (ms)", lambda r: _fmt(r["latency_ms"]["p99"])),
        ("max latency (ms)", lambda r: _fmt(r["latency_ms"]["max"])),
        ("errors", error_cell),
        ("input tokens/s", lambda r: _fmt(r["input_tokens_per_s"], 0)),
        ("client CPU %", lambda r: _fmt(r["client_cpu_percent"])),
        ("tokens per request (server count)", lambda r: _fmt(r["prompt_tokens_avg"])),
        ("in flight by Little's law (QPS x mean latency)", littles_law_cell),
        ("requests measured", lambda r: _fmt(r["requests"]["sent"])),
    ]
    lines = ["| | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(reports)]
    lines += ["| %s | %s |" % (title, " | ".join(cell(r) for r in reports)) for title, cell in rows]
    notes = sorted(set(r["latency_from"] for r in reports))
    lines.append("")
    lines.append("Latency measured from the %s; load average before the first run: %s; %s CPUs." % (
        " / ".join(notes), reports[0].get("loadavg_before"), reports[0].get("cpu_count")))
    return "\n".join(lines) + "\n"
