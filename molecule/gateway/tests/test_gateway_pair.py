"""A pair of gateways behind one virtual address (host_vars/embedops-gw-a.yml and -b.yml): HAProxy and keepalived
in each pair host's network namespace, on the scenario's network molecule-gwpair. Under steady load through the
official client, the active gateway's HAProxy is killed (and kept down), then the whole active gateway host; the
address moves each time, and does not move back when the first gateway returns. Then a rolling update of the pair
(a new image) under load. Failed requests are counted with the client's default retries (2) and with retries off;
the figures are printed, tagged [gateway pair]."""

import subprocess
import time
import urllib.request
from pathlib import Path

import openai
import pytest
from test_gateway import SteadyLoad, docker, playbook_command

VIP = "172.31.251.100"
BASE = f"http://{VIP}:18480/v1"
KEY = "molecule-pair-key-4f7a"
MODEL = "all-minilm-l6-v2"
HOSTS = {"embedops-gw-a": "molecule-gw-a", "embedops-gw-b": "molecule-gw-b"}  # pair host: its containers' prefix
SCENARIO = Path(__file__).resolve().parent.parent


def holder():
    """The pair host whose interface holds the virtual address, or None. Never both."""
    held = []
    for host in HOSTS:
        found = subprocess.run(["docker", "exec", host, "ip", "-4", "-o", "addr", "show"], capture_output=True,
                               text=True, check=False)
        if f" {VIP}/" in found.stdout:
            held.append(host)
    assert len(held) <= 1, f"both gateways hold {VIP}"
    return held[0] if held else None


def answers():
    try:
        with urllib.request.urlopen(f"http://{VIP}:18480/gateway/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def seconds_until(condition, since, limit=30):
    while time.monotonic() - since < limit:
        if condition():
            return time.monotonic() - since
        time.sleep(0.1)
    return None


def loads():
    """Two clients with the official client's default retries (2), two with retries off; both with a 10 s timeout,
    as an application should set (the client's default is 600 s): a request in flight on the gateway that gives the
    address away gets no answer, and waits for it."""
    return (SteadyLoad(workers=2, base_url=BASE, api_key=KEY, max_retries=2, timeout=10),
            SteadyLoad(workers=2, base_url=BASE, api_key=KEY, max_retries=0, timeout=10))


def report(capsys, what, retried, bare, **figures):
    shown = ", ".join(f"{name} {value:.1f} s" if isinstance(value, float) else f"{name} {value}"
                      for name, value in figures.items())
    with capsys.disabled():
        print(f"\n[gateway pair] {what}: default retries {retried.ok} ok / {len(retried.failures)} failed; retries "
              f"off {bare.ok} ok / {len(bare.failures)} failed{'; ' + shown if shown else ''}; failures: "
              f"{retried.kinds()} / {bare.kinds()}")


def test_the_pair_serves_on_the_virtual_address():
    client = openai.OpenAI(base_url=BASE, api_key=KEY, timeout=60, max_retries=0)
    assert len(client.embeddings.create(model=MODEL, input="through the pair").data[0].embedding) == 384
    assert holder() in HOSTS
    # Each gateway answers on its own too: the one without the address is ready to take it.
    for host in HOSTS:
        assert docker("inspect", "--format", "{{.State.Health.Status}}", HOSTS[host] + "-haproxy").strip() == "healthy"


def test_haproxy_killed_on_the_active_gateway_moves_the_address(capsys):
    """SIGKILL to the active gateway's HAProxy, kept down (as a crash-looping HAProxy would be): keepalived's health
    check gives the address to the other gateway."""
    first = holder()
    haproxy = HOSTS[first] + "-haproxy"
    retried, bare = loads()
    with retried, bare:
        docker("update", "--restart", "no", haproxy)
        since = time.monotonic()
        docker("kill", "--signal", "KILL", haproxy)
        moved = seconds_until(lambda: holder() not in (None, first), since)
        served = seconds_until(lambda: holder() not in (None, first) and answers(), since)
        time.sleep(3)
    docker("update", "--restart", "unless-stopped", haproxy)
    docker("start", haproxy)
    report(capsys, "HAProxy killed on the active gateway", retried, bare, address_moved_after=moved,
           answering_after=served)
    assert moved is not None and served is not None
    assert retried.ok > 0 and bare.ok > 0  # served before and after; the failures in between are the figures


def test_the_whole_active_gateway_stops_and_returns_without_taking_the_address_back(capsys):
    first = holder()
    other = next(host for host in HOSTS if host != first)
    retried, bare = loads()
    with retried, bare:
        since = time.monotonic()
        docker("kill", first)  # the host is gone: its namespace, HAProxy and keepalived with it
        moved = seconds_until(lambda: holder() == other, since)
        served = seconds_until(lambda: holder() == other and answers(), since)
        time.sleep(2)
    report(capsys, "whole active gateway host stopped", retried, bare, address_moved_after=moved,
           answering_after=served)
    assert moved is not None and served is not None

    # The host comes back, and with it its gateway (its containers start again in the host's new namespace).
    retried, bare = loads()
    with retried, bare:
        back_since = str(int(time.time()) - 1)
        docker("start", first)
        docker("restart", "--time", "1", HOSTS[first] + "-haproxy", HOSTS[first] + "-keepalived")
        assert seconds_until(lambda: docker("inspect", "--format", "{{.State.Health.Status}}",
                                            HOSTS[first] + "-haproxy").strip() == "healthy",
                             time.monotonic(), limit=60) is not None
        # keepalived is up again as BACKUP: the address stays where it is (nopreempt), without a flap.
        watched = []
        for _n in range(16):
            watched.append(holder())
            time.sleep(0.5)
    report(capsys, "the stopped gateway back", retried, bare)
    assert set(watched) == {other}, watched
    assert retried.failures == [] and bare.failures == []
    # ... and the returned gateway takes part again, as BACKUP, ready to take the address.
    log = subprocess.run(["docker", "logs", "--since", back_since, HOSTS[first] + "-keepalived"], capture_output=True,
                         text=True, check=True)
    assert "Entering BACKUP STATE" in log.stdout + log.stderr, (log.stdout + log.stderr)[-2000:]


@pytest.fixture()
def next_image():
    """The pair's image with one more label: an update that recreates both HAProxy containers."""
    current = docker("inspect", "--format", "{{.Config.Image}}", "molecule-gw-a-haproxy").strip()
    build = subprocess.run(["docker", "build", "--quiet", "--tag", "molecule-gateway-next:rolling", "-"],
                           input=f"FROM {current}\nLABEL io.embedops.test=rolling-update\n", text=True,
                           capture_output=True, check=True)
    assert build.stdout.strip()
    yield current
    subprocess.run(["docker", "rmi", "--force", "molecule-gateway-next:rolling"], capture_output=True, check=False)


def test_rolling_update_of_the_pair_under_load(next_image, capsys):
    """The role, one gateway at a time: the one holding the address hands it over before its HAProxy changes."""
    update = playbook_command("pair-update.yml", {
        "gateway_image_source": "local", "gateway_image": "molecule-gateway-next", "gateway_image_tag": "rolling"})
    retried, bare = loads()
    with retried, bare:
        run = subprocess.run(update, capture_output=True, text=True, timeout=600, check=False)
    report(capsys, "rolling update of the pair (a new image)", retried, bare)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Handover | stop keepalived on this gateway" in run.stdout  # the holder gave the address away
    for host in HOSTS:
        image = docker("inspect", "--format", "{{.Config.Image}}", HOSTS[host] + "-haproxy").strip()
        assert image == "molecule-gateway-next:rolling"
    assert retried.failures == []
    assert holder() in HOSTS and answers()
