"""The operator's playbooks on the converged scenario, with its inventory: verify.yml passes, and
health.yml reports every replica, the gateway and the application host in one report, naming a
replica that is down while the rest stay healthy. Runs after test_gateway.py (it stops a replica)."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
REPLICAS = ("molecule-gw-vllm-0", "molecule-gw-vllm-1")
GATEWAY_HOST, APP_HOST = "embedops-gw-host", "embedops-gw-app"


def run(playbook):
    """The playbook's run as JSON (ansible.posix.json), with the return code."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
               str(PLAYBOOKS / playbook)]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_VERBOSITY="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, json.loads(done.stdout[done.stdout.index("{"):])


def report(result):
    """health.yml's report: {what: 'ok' or why not}."""
    for play in result["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == "Health of the embedding service":
                return task["hosts"]["localhost"]["msg"]
    raise AssertionError("health.yml printed no report")


def replica_serving(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_verify_playbook_passes():
    rc, result = run("verify.yml")
    assert rc == 0, json.dumps(result["stats"])
    assert all(stats["failures"] == 0 and stats["unreachable"] == 0 for stats in result["stats"].values())


def test_health_report_lists_everything_healthy():
    rc, result = run("health.yml")
    health = report(result)
    assert rc == 0, health
    assert health == {REPLICAS[0]: "ok", REPLICAS[1]: "ok", f"gateway {GATEWAY_HOST}": "ok", f"app {APP_HOST}": "ok"}


def test_health_report_names_a_stopped_replica_and_checks_the_rest():
    subprocess.run(["docker", "stop", REPLICAS[1]], check=True, capture_output=True)
    try:
        rc, result = run("health.yml")
    finally:
        subprocess.run(["docker", "start", REPLICAS[1]], check=True, capture_output=True)
    health = report(result)
    assert rc != 0, "health.yml passed with a replica stopped"
    assert "connection refused" in health[REPLICAS[1]], health  # the module says why, in words
    # The gateway and the application go on through the other replica.
    assert {key: value for key, value in health.items() if key != REPLICAS[1]} == {
        REPLICAS[0]: "ok", f"gateway {GATEWAY_HOST}": "ok", f"app {APP_HOST}": "ok"}
    deadline = time.monotonic() + 240
    while not replica_serving(18301) and time.monotonic() < deadline:
        time.sleep(2)
    assert replica_serving(18301), "the replica did not come back after docker start"
