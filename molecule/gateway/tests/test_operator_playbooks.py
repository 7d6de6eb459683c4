"""The operator's playbooks on the converged scenario, with its prod-shaped inventory (the gateway on a host of its
own, the keys from an encrypted vault): verify.yml passes; health.yml reports every replica, the gateway and the
application host in one report, naming a replica that is down while the rest stay healthy; switch_model.yml refuses
a vLLM deployment before it changes anything and says what to do instead; benchmark.yml loads the gateway with
an application's key from the vault and writes its report. teardown.yml runs in cleanup.yml, which checks that
it removed what the roles started. Runs after test_gateway.py (it stops a replica)."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
REPLICAS = ("molecule-gw-vllm-0", "molecule-gw-vllm-1")
REPLICAS_HOST, GATEWAY_HOST, APP_HOST = "embedops-gw-host", "embedops-gw-edge", "embedops-gw-app"
GATEWAY, MODEL = "http://127.0.0.1:18380/v1", "all-minilm-l6-v2"


def run(playbook, *args):
    """The playbook's run as JSON (ansible.posix.json), with the return code."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
               str(PLAYBOOKS / playbook), *args]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_VERBOSITY="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, json.loads(done.stdout[done.stdout.index("{"):])


def task_hosts(result, name):
    """{host: result} of the task called `name`."""
    found = [task["hosts"] for play in result["plays"] for task in play["tasks"] if task["task"]["name"] == name]
    assert found, "no task %r ran" % name
    return found[0]


def replica_ids():
    inspect = subprocess.run(["docker", "inspect", "--format", "{{.Name}} {{.Id}}", *REPLICAS], capture_output=True,
                             text=True, check=True).stdout
    return dict(line.split() for line in inspect.splitlines())


def report(result):
    """health.yml's report: {what: 'ok' or why not}."""
    return task_hosts(result, "Health of the embedding service")["localhost"]["msg"]


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


def test_switch_model_refuses_vllm_before_anything_changes():
    """switch_model.yml switches Ollama's model; on vLLM it stops at the recorded contract and says what to do."""
    before = replica_ids()
    rc, result = run("switch_model.yml", "-e", "new_model=nomic-embed-text", "-e", "expected_dimension=768",
                     "-e", "reembed_confirmed=true")
    assert rc != 0, "switch_model.yml went on with a vLLM deployment"
    refusal = task_hosts(result, "The host serves Ollama, deployed by this collection")[REPLICAS_HOST]
    advice = "for vLLM, change vllm_model in the inventory and run site.yml"
    assert refusal.get("failed") and advice in refusal["msg"], refusal
    assert replica_ids() == before, "switch_model.yml recreated a replica before it refused"


def test_benchmark_playbook_loads_the_gateway_with_an_application_s_key(tmp_path):
    """The benchmark through the gateway, with the key of an application from the vault (a Jinja reference in the
    extra vars, never the key itself on a command line): every request answered, the report and table written, the
    key in neither. The chart needs matplotlib, which only requirements/benchmark.txt installs: not drawn here."""
    settings = tmp_path / "endpoints.json"
    settings.write_text(json.dumps({
        "benchmark_endpoints": [{"name": "gateway", "api_base": GATEWAY, "model": MODEL,
                                 "api_key": "{{ vault_app_keys['molecule-client'] }}"}],
        "benchmark_concurrency": [4], "benchmark_duration": 5, "benchmark_warmup": 1, "benchmark_input_tokens": 32,
        "benchmark_output_dir": str(tmp_path / "out"), "benchmark_chart": False}))
    rc, result = run("benchmark.yml", "-e", "@" + str(settings))
    assert rc == 0, json.dumps(result["stats"])
    written = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    [gateway_run] = written["runs"]
    assert gateway_run["name"] == "gateway" and gateway_run["errors"] == {}, gateway_run
    assert gateway_run["requests"]["ok"] > 0 and gateway_run["requests"]["failed"] == 0, gateway_run["requests"]
    table = (tmp_path / "out" / "benchmark.md").read_text()
    assert "gateway" in table and not (tmp_path / "out" / "benchmark.png").exists()
    key = "molecule-client-key-51a0"
    assert key not in json.dumps(result) and key not in json.dumps(written) and key not in table
