"""The gateway as a user and an operator see it: one endpoint, auth, and no failed request while
a replica is killed, stops and comes back, or is updated. Runs on the controller (the instance
shares the host network; the containers run on the controller's Docker engine). The playbooks run
here with subprocess use Molecule's inventory and configuration, from the verifier's environment."""

import base64
import csv
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest

GATEWAY = "http://127.0.0.1:18380/v1"
CLIENT_KEY = "molecule-client-key-51a0"
REPLICA_KEY = "molecule-replica-key-77e1"
MODEL = "all-minilm-l6-v2"
REPLICA_0 = ("molecule-gw-vllm-0", "http://127.0.0.1:18300")
REPLICA_1 = ("molecule-gw-vllm-1", "http://127.0.0.1:18301")
RUNTIME_SOCKET = "/var/lib/embedops-molecule/gateway-run/admin.sock"  # gateway_runtime_dir in host_vars
SCENARIO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=GATEWAY, api_key=CLIENT_KEY, timeout=60, max_retries=0)


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def playbook_command(name, extra_vars):
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return [ansible_playbook, "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(SCENARIO / name),
            "-e", json.dumps(extra_vars)]


def gateway_status():
    """{server: status} of the gateway's replicas, from HAProxy's runtime API ("show stat")."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(RUNTIME_SOCKET)
        sock.sendall(b"show stat\n")
        data = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    rows = csv.DictReader(data.lstrip("# ").splitlines())
    return {row["svname"]: row["status"] for row in rows if row["pxname"] == "replicas"
            and row["svname"] not in ("FRONTEND", "BACKEND")}


def container(name):
    return json.loads(docker("inspect", name))[0]


def container_id(name):
    """The container's Id, or None while it does not exist (docker_container recreates by remove, then create)."""
    found = subprocess.run(["docker", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True,
                           check=False)
    return found.stdout.strip() if found.returncode == 0 else None


class SteadyLoad:
    """Four clients sending embedding requests through the gateway, one after another, until stopped (by default
    without the client's own retries, so that every failure the gateway lets through counts)."""

    def __init__(self, workers=4, base_url=GATEWAY, api_key=CLIENT_KEY, max_retries=0, timeout=60):
        self.base_url, self.api_key, self.max_retries, self.timeout = base_url, api_key, max_retries, timeout
        self.ok, self.failures = 0, []
        self.first_failure = self.last_failure = None  # seconds from the start, to place an outage
        self._begin = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._worker, args=(n,), daemon=True) for n in range(workers)]

    def _worker(self, n):
        own = openai.OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout,
                            max_retries=self.max_retries)
        while not self._stop.is_set():
            try:
                own.embeddings.create(model=MODEL, input=f"steady load from worker {n}", encoding_format="float")
                with self._lock:
                    self.ok += 1
            except Exception as exc:  # every kind of failure counts
                with self._lock:
                    self.failures.append(repr(exc))
                    self.last_failure = round(time.monotonic() - self._begin, 1)
                    self.first_failure = self.first_failure or self.last_failure

    def kinds(self):
        """Each kind of failure seen, with its count: printed with the figures, so a stray one is explained."""
        counts = {}
        for failure in self.failures:
            counts[failure[:160]] = counts.get(failure[:160], 0) + 1
        return counts

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        time.sleep(3)
        return self

    def __exit__(self, *exc):
        time.sleep(3)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)


def serving_again(replica, since, limit=180):
    """Seconds from `since` until the gateway sends the replica traffic again (its token count grows), or None."""
    before = None
    while time.monotonic() - since < limit:
        try:
            count = replica_tokens(replica[1])
        except OSError:
            time.sleep(1)
            continue
        before = count if before is None else before
        if count > before:
            return time.monotonic() - since
        time.sleep(1)
    return None


def replica_tokens(base):
    """Prompt tokens one replica has embedded, from vLLM's Prometheus /metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:prompt_tokens_total{"))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (sum(x * x for x in a) * sum(y * y for y in b)) ** 0.5


def test_float_and_base64_through_the_gateway(client):
    """Each request is computed anew, perhaps on the other replica and in another batch: in bfloat16 on this CPU
    the values of two answers differ in the third digit (measured: 0.0016 at most), so the same vector means a
    cosine of at least 0.999, as embeddings_verify's base64 check has it. A wrong decoding gives another vector."""
    texts = ["first", "second text", "third, longer text"]
    floats = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1, 2]
    assert all(len(d.embedding) == 384 for d in floats.data)
    raw = client.embeddings.with_raw_response.create(model=MODEL, input=texts, encoding_format="base64")
    for item, reference in zip(raw.http_response.json()["data"], floats.data):
        decoded = struct.unpack("<384f", base64.b64decode(item["embedding"]))
        assert cosine(decoded, reference.embedding) >= 0.999
    # The official client's default (base64, decoded by the client) gives the same vectors.
    default = client.embeddings.create(model=MODEL, input=texts)
    assert cosine(default.data[2].embedding, floats.data[2].embedding) >= 0.999
    assert cosine(default.data[2].embedding, floats.data[0].embedding) < 0.99  # and a different text does not


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Bearer " + REPLICA_KEY],
                         ids=["no-key", "wrong-key", "replica-key"])
def test_without_the_gateway_key_401(authorization):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    body = b'{"model": "%s", "input": "hello"}' % MODEL.encode()
    request = urllib.request.Request(GATEWAY + "/embeddings", data=body, method="POST", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=30)
    assert err.value.code == 401
    assert b"invalid_api_key" in err.value.read()


def test_gateway_health_answers_without_key():
    with urllib.request.urlopen("http://127.0.0.1:18380/gateway/health", timeout=5) as resp:
        assert resp.status == 200


def test_oversized_request_refused_with_413():
    """Refused on its Content-Length, before the body is read or a replica is involved."""
    conn = http.client.HTTPConnection("127.0.0.1", 18380, timeout=30)
    conn.putrequest("POST", "/v1/embeddings")
    conn.putheader("Authorization", "Bearer " + CLIENT_KEY)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(11 * 1024 * 1024))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()


def test_site_check_diff_on_the_converged_hosts_reports_no_change():
    """site.yml in --check --diff on the converged hosts: every host's recap says changed=0."""
    run = subprocess.run(playbook_command("converge.yml", {}) + ["--check", "--diff"], capture_output=True,
                         text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    recap = run.stdout[run.stdout.rindex("PLAY RECAP"):]
    hosts = [line.split()[0] for line in recap.splitlines() if " ok=" in line]
    assert sorted(hosts) == [
        "embedops-gw-a", "embedops-gw-app", "embedops-gw-b", "embedops-gw-edge", "embedops-gw-host"], recap
    assert recap.count(" changed=0 ") == 5 and " failed=0 " in recap, recap


def test_replica_killed_under_load(capsys):
    """A crash, not a stop: the replica's main process gets SIGKILL from the host; Docker's restart
    policy brings it back and the gateway's health checks put it back in rotation. No request fails."""
    restarts = container(REPLICA_0[0])["RestartCount"]
    with SteadyLoad() as load:
        os.kill(container(REPLICA_0[0])["State"]["Pid"], signal.SIGKILL)
        killed = time.monotonic()
        back = serving_again(REPLICA_0, killed)
    with capsys.disabled():
        print(f"\n[replica killed] {load.ok} requests, {len(load.failures)} failed; "
              f"replica served again {back and round(back, 1)} s after SIGKILL; failures: {load.kinds()}")
    assert container(REPLICA_0[0])["RestartCount"] == restarts + 1, "Docker did not restart the killed replica"
    assert back is not None, "the killed replica never received traffic from the gateway again"
    assert load.ok > 50
    # A request in flight on the killed replica is retried on the other by the gateway.
    assert load.failures == [], load.kinds()


def test_replica_stopped_and_started_under_load_loses_no_request(capsys):
    """Steady load from 4 clients; one replica stops, then starts again. No request fails."""
    with SteadyLoad() as load:
        docker("stop", REPLICA_1[0])
        time.sleep(5)
        docker("start", REPLICA_1[0])
        back = serving_again(REPLICA_1, time.monotonic())
    with capsys.disabled():
        print(f"\n[gateway failover] {load.ok} requests, {len(load.failures)} failed; "
              f"replica served again {back and round(back, 1)} s after docker start; failures: {load.kinds()}")
    assert back is not None, "the restarted replica never received traffic from the gateway"
    assert load.ok > 50
    # A stopping vLLM answers 500 ("cannot schedule new futures after shutdown") while its /health
    # still passes; the gateway retries those on the other replica. Before the gateway waited for
    # whole bodies (option http-buffer-request) 1-3 in ~4,000 reached the client.
    assert load.failures == [], load.kinds()


def test_rolling_update_interrupted_between_replicas_then_completed(tmp_path, capsys):
    """An operator changes a flag; the run dies (SIGKILL, as a lost controller) right after the first
    replica was recreated; the next run completes the update. The role drains each replica at the
    gateway before recreating it, so under steady load no request fails."""
    change = {"vllm_max_num_seqs": 24}
    # Only the replicas' host, as an operator updating one host runs it: the application host and the pair would
    # have nothing to change. The gateway is on a host of its own, outside the limit: the role drains each replica
    # there, through that host's runtime API, as on a prod inventory.
    limit = ["--limit", "embedops-gw-host"]
    old = {name: container(name)["Id"] for name in (REPLICA_0[0], REPLICA_1[0])}
    started = time.monotonic()
    with SteadyLoad() as load:
        with open(tmp_path / "interrupted.log", "w") as log:
            run = subprocess.Popen(playbook_command("converge.yml", change) + limit, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
            try:
                while container_id(REPLICA_0[0]) in (old[REPLICA_0[0]], None):
                    assert run.poll() is None, (tmp_path / "interrupted.log").read_text()[-3000:]
                    time.sleep(0.5)
            finally:  # the run never outlives the test, whatever happens
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
        left = gateway_status()
        second = subprocess.run(playbook_command("converge.yml", change) + limit, capture_output=True, text=True,
                                timeout=900, check=False)
    took = time.monotonic() - started
    with capsys.disabled():
        print(f"\n[rolling update, interrupted and completed] {load.ok} requests, {len(load.failures)} failed, "
              f"{round(took)} s (failures from {load.first_failure} s to {load.last_failure} s); "
              f"the interrupted run left the gateway with {left}")
    assert second.returncode == 0, second.stdout[-3000:]
    # The interrupted run had taken the first replica out of rotation (drained) and left the second alone.
    assert left[REPLICA_0[0]] == "MAINT" and left[REPLICA_1[0]].startswith("UP"), left
    assert container(REPLICA_1[0])["Id"] != old[REPLICA_1[0]], "the second run did not complete the update"
    for name in (REPLICA_0[0], REPLICA_1[0]):
        args = container(name)["Args"]
        assert "--max-num-seqs" in args and args[args.index("--max-num-seqs") + 1] == "24", args
    assert set(gateway_status().values()) == {"UP"}
    assert load.ok > 50
    assert load.failures == [], (load.failures[:5], second.stdout[-4000:])
