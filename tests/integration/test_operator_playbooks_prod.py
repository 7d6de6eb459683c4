"""The operator playbooks resolve every name on inventories/prod: run from here, they can only fail to connect.

Every host of the prod inventory is pointed at a closed port on loopback (ansible_host 127.0.0.1, port 1), so
no packet leaves this machine and each connection is refused. A playbook that read a role default through
hostvars, or derived a model name from another host, used to stop on an undefined name before it connected
(issue: `'HostVarsVars' has no attribute 'vllm_served_model_name'`); now each reads the contract the roles
recorded on its own host, and the only failure left is the refused connection."""

import json
import os
import subprocess
import sys

import pytest
from doubles.playbook import ansible_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROD = os.path.join(ROOT, "inventories", "prod")
# Every host at a closed loopback port: refused at once, nothing sent beyond this machine.
NOWHERE = ["-e", "ansible_host=127.0.0.1", "-e", "ansible_port=1", "-e", "ansible_connection=ssh",
           "-e", "ansible_ssh_common_args='-o ConnectTimeout=5 -o StrictHostKeyChecking=no'"]
UNDEFINED = ("undefined", "has no attribute", "is not defined")


def run(playbook, tmp_path):
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                      ANSIBLE_LOCAL_TEMP=str(tmp_path), ANSIBLE_HOST_KEY_CHECKING="False",
                      ANSIBLE_RETRY_FILES_ENABLED="0")
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", PROD,
               os.path.join(ROOT, "playbooks", playbook)] + NOWHERE
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    try:
        return done.returncode, json.loads(done.stdout[done.stdout.index("{"):]), done.stderr
    except ValueError:
        pytest.fail("%s printed no JSON report (rc %d): %s" % (playbook, done.returncode, done.stderr[-3000:]))


def task_results(report, name):
    """{host: result} of the task called `name`."""
    found = [task["hosts"] for play in report["plays"] for task in play["tasks"] if task["task"]["name"] == name]
    assert found, "no task %r ran" % name
    return found[0]


def refused(message):
    return "Connection refused" in message and "port 1" in message


@pytest.mark.parametrize(("playbook", "report_task", "expected"), [
    ("verify.yml", "Every replica and gateway verified",
     {"gpu1.example.internal", "gpu2.example.internal", "gateway gateway1.example.internal",
      "gateway gateway2.example.internal"}),
    ("health.yml", "Health of the embedding service",
     {"gpu1.example.internal", "gpu2.example.internal", "gateway gateway1.example.internal",
      "gateway gateway2.example.internal", "app app1.example.internal", "app app2.example.internal"}),
])
def test_on_prod_the_only_failure_is_the_connection(playbook, report_task, expected, tmp_path):
    rc, report, stderr = run(playbook, tmp_path)
    assert rc != 0, "%s passed with every host unreachable" % playbook
    assert not any(word in stderr for word in UNDEFINED), stderr[-3000:]
    # Every play ran (a play whose hosts all fail would end the run) and the last one reports every host,
    # each refused at the connection: nothing stopped on a name before it connected.
    result = task_results(report, report_task)["localhost"]
    text = result.get("msg", "")
    found = text if isinstance(text, dict) else json.loads(text[text.index("{"):].replace("'", '"'))
    assert set(found) == expected, found
    assert all(refused(why) for why in found.values()), found
    if playbook == "health.yml":  # and the monitoring host, asked for its live figures
        figures = task_results(report, "Live figures from Prometheus")["localhost"]["msg"]
        assert set(figures) == {"monitor1.example.internal"}, figures
        assert refused(figures["monitor1.example.internal"]["prometheus"]), figures
