"""Applications, each with its own key and limits (gateway_api_keys in group_vars/gateway_hosts.yml, the keys from
the vault), through the official openai client: a greedy application at ten times its rate gets 429s with
Retry-After, and another application's requests all succeed meanwhile. The figures (errors, p50 and p99 with and
without the greedy one) are
printed, tagged [applications], never asserted."""

import statistics
import subprocess
import threading
import time

import openai

GATEWAY = "http://127.0.0.1:18380/v1"
MODEL = "all-minilm-l6-v2"
FAIR = ("molecule-fair", "molecule-fair-key-6c02")  # 40 requests/s, 4 in flight
GREEDY = ("molecule-greedy", "molecule-greedy-key-9e13")  # 3 requests/s, 2 in flight
GREEDY_RATE = 3
FAIR_RATE = 10  # requests/s the fair application sends, well under its limits
SECONDS = 15


class OpenLoop:
    """One application sending `rate` requests a second for `seconds`, each in its own thread (a slow answer never
    delays the next request), with the official client and its retries off unless asked."""

    def __init__(self, key, rate, seconds, max_retries=0, text="an application's request"):
        self.client = openai.OpenAI(base_url=GATEWAY, api_key=key, timeout=60, max_retries=max_retries)
        self.rate, self.seconds, self.text = rate, seconds, text
        self.latencies, self.limited, self.errors = [], [], []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self):
        begin = time.monotonic()
        try:
            self.client.embeddings.create(model=MODEL, input=self.text, encoding_format="float")
            with self._lock:
                self.latencies.append(time.monotonic() - begin)
        except openai.RateLimitError as exc:
            with self._lock:
                self.limited.append((exc.response.headers.get("retry-after"), exc.body))
        except Exception as exc:  # every other failure counts
            with self._lock:
                self.errors.append(repr(exc)[:200])

    def _run(self):
        start, threads = time.monotonic(), []
        for n in range(int(self.rate * self.seconds)):
            thread = threading.Thread(target=self._one, daemon=True)
            thread.start()
            threads.append(thread)
            time.sleep(max(0.0, start + (n + 1) / self.rate - time.monotonic()))
        for thread in threads:
            thread.join(timeout=120)

    def start(self):
        self._thread.start()
        return self

    def join(self):
        self._thread.join()
        return self

    def p(self, q):
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000 if len(self.latencies) > 1 else float("nan")


def test_a_greedy_application_gets_429_and_another_keeps_its_service(capsys):
    alone = OpenLoop(FAIR[1], FAIR_RATE, SECONDS).start().join()
    since = time.time()
    fair = OpenLoop(FAIR[1], FAIR_RATE, SECONDS).start()
    greedy = OpenLoop(GREEDY[1], GREEDY_RATE * 10, SECONDS, text="a greedy application's request").start()
    fair.join()
    greedy.join()

    with capsys.disabled():
        print(f"\n[applications] fair application alone: {len(alone.latencies)} answered, {len(alone.errors)} errors, "
              f"p50 {alone.p(50):.1f} ms, p99 {alone.p(99):.1f} ms; beside a greedy one at {GREEDY_RATE * 10}/s (10x "
              f"its limit): {len(fair.latencies)} answered, {len(fair.errors)} errors, {len(fair.limited)} limited, "
              f"p50 {fair.p(50):.1f} ms, p99 {fair.p(99):.1f} ms (p99 ratio {fair.p(99) / alone.p(99):.2f}); greedy: "
              f"{len(greedy.latencies)} answered ({len(greedy.latencies) / SECONDS:.1f}/s, limit {GREEDY_RATE}/s), "
              f"{len(greedy.limited)} got 429, {len(greedy.errors)} other errors")

    # The fair application never noticed: every request answered, none limited, with or without the greedy one.
    assert (alone.errors, alone.limited) == ([], []) and len(alone.latencies) == FAIR_RATE * SECONDS
    assert (fair.errors, fair.limited) == ([], []) and len(fair.latencies) == FAIR_RATE * SECONDS
    # The greedy one got its share and no more (a sliding second admits at most its rate), and 429s that say when
    # to come back, in OpenAI's error shape.
    assert greedy.errors == []
    assert 0 < len(greedy.latencies) <= GREEDY_RATE * (SECONDS + 1)
    assert len(greedy.limited) == GREEDY_RATE * 10 * SECONDS - len(greedy.latencies)
    assert {retry_after for retry_after, _body in greedy.limited} == {"1"}
    assert all(body["code"] == "rate_limit_exceeded" and GREEDY[0] in body["message"]
               for _retry_after, body in greedy.limited)

    # The access log names each application, never its key.
    log = subprocess.run(["docker", "logs", "--since", str(int(since) - 1), "molecule-gateway"],
                         capture_output=True, text=True, check=True)
    text = log.stdout + log.stderr
    assert " 429 " in text and f"app={GREEDY[0]}" in text and f"app={FAIR[0]}" in text
    assert GREEDY[1] not in text and FAIR[1] not in text


def test_requests_in_flight_over_an_application_s_limit_get_429(capsys):
    """Eight long requests at once from an application that may have four in flight: the rest are told to retry."""
    client = openai.OpenAI(base_url=GATEWAY, api_key=FAIR[1], timeout=60, max_retries=0)
    barrier, outcomes = threading.Barrier(8), []

    def one():
        barrier.wait()
        try:
            client.embeddings.create(model=MODEL, input="a longer text to keep the replica busy " * 40)
            outcomes.append("answered")
        except openai.RateLimitError as exc:
            outcomes.append((exc.response.headers.get("retry-after"), exc.body["message"]))

    threads = [threading.Thread(target=one) for _n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    limited = [outcome for outcome in outcomes if outcome != "answered"]
    with capsys.disabled():
        print(f"\n[applications] 8 requests at once, 4 allowed in flight: {outcomes.count('answered')} answered, "
              f"{len(limited)} got 429")
    assert len(outcomes) == 8 and outcomes.count("answered") >= 4
    assert limited and all(retry_after == "1" and "requests in flight" in message for retry_after, message in limited)
