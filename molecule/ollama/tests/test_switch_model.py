"""playbooks/switch_model.yml on the converged Ollama replicas (the Ollama test double): a switch to another model
is refused until the operator confirms the stored vectors will be embedded again, a switch that fails verification
changes nothing, and one that passes serves the new model on every replica and removes the old one only then. Runs
after test_ollama.py (it changes the served model) with the scenario's own inventory, as an operator would run the
playbook.
"""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import openai

OLD = "all-minilm"
NEW = "embedops/tiny-embed"  # in the double's registry: 64-dimensional, 8 MiB
PORTS = (21434, 21435)  # the two replicas, published on the host's loopback
PLAYBOOK = Path(__file__).resolve().parents[3] / "playbooks" / "switch_model.yml"


def switch(**extra_vars):
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
               str(PLAYBOOK), "-e", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="1")
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


def listed(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/tags", timeout=10) as resp:
        return {model["name"] for model in json.load(resp)["models"]}


def dimension(port, model):
    api = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="ollama", timeout=60, max_retries=0)
    return len(api.embeddings.create(model=model, input="switch", encoding_format="float").data[0].embedding)


def test_another_model_is_refused_until_re_embedding_is_confirmed():
    run = switch(new_model=NEW, expected_dimension=64, remove_old_model=True)
    said = " ".join((run.stdout + run.stderr).split())
    assert run.returncode != 0, said[-2000:]
    assert f"new_model {NEW} is another model than {OLD}: their vectors are not interchangeable" in said, said[-3000:]
    assert "run again with -e reembed_confirmed=true. Nothing was changed." in said, said[-3000:]
    for port in PORTS:
        assert listed(port) == {f"{OLD}:latest"}, "nothing may be pulled before the confirmation"


def test_a_switch_with_the_wrong_dimension_changes_nothing():
    run = switch(new_model=NEW, expected_dimension=65, remove_old_model=True, reembed_confirmed=True)
    said = " ".join((run.stdout + run.stderr).split())  # the callback wraps long messages
    assert run.returncode != 0, said[-2000:]
    assert f"{NEW} makes 64-dimensional vectors, not 65 (expected_dimension)" in said, said[-3000:]
    assert f"Nothing was switched: {OLD} still serves" in said, said[-3000:]
    for port in PORTS:
        assert f"{NEW}:latest" not in listed(port), "the failed switch left the new model behind"
        assert dimension(port, OLD) == 384


def test_a_verified_switch_serves_the_new_model_then_removes_the_old():
    run = switch(new_model=NEW, expected_dimension=64, remove_old_model=True, reembed_confirmed=True)
    assert run.returncode == 0, run.stdout[-3000:]
    for port in PORTS:
        assert listed(port) == {f"{NEW}:latest"}
        assert dimension(port, NEW) == 64
