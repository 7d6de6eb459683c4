"""The vllm_* filters: through FilterModule, and rendered by Ansible itself from a playbook."""

import json
import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.embedops.embeddings.plugins.filter import vllm as vllm_filters
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import plan_replicas, render_args

FILTERS = vllm_filters.FilterModule().filters()
SETTINGS = {"model": "BAAI/bge-m3", "version": "0.32.0", "replicas": 2, "gpu_ids": ["0", "1"]}

# Settings built from templates, as the role builds them: the filters see Ansible's lazy containers.
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    gpus: ["0", "1"]
    settings:
      model: "{{ model }}"
      version: "0.32.0"
      replicas: "{{ gpus | length }}"
      gpu_ids: "{{ gpus | map('string') | list }}"
      hf_overrides: {}
      max_num_seqs: null
  tasks:
    - ansible.builtin.debug:
        msg:
          args: "{{ settings | embedops.embeddings.vllm_args('0.9.2') }}"
          errors: "{{ settings | embedops.embeddings.vllm_config_errors(gpu_count=1) }}"
          replicas: "{{ settings | embedops.embeddings.vllm_replicas }}"
    - ansible.builtin.debug:
        msg: "{{ settings | combine({'dtype': 'fp8'}) | embedops.embeddings.vllm_args }}"
      ignore_errors: true
"""


def test_filter_names():
    assert sorted(FILTERS) == ["vllm_args", "vllm_config_errors", "vllm_replicas"]


def test_filters_call_the_module_utils():
    assert FILTERS["vllm_args"](SETTINGS) == render_args(SETTINGS)
    assert FILTERS["vllm_args"](SETTINGS, "0.9.2") == render_args(SETTINGS, "0.9.2")
    assert FILTERS["vllm_replicas"](SETTINGS) == plan_replicas(SETTINGS)
    assert FILTERS["vllm_config_errors"](SETTINGS) == []
    assert "vllm_gpu_ids" in FILTERS["vllm_config_errors"](SETTINGS, gpu_count=1)[0]


def test_impossible_settings_fail_the_filter():
    with pytest.raises(AnsibleFilterError, match="vllm_version"):
        FILTERS["vllm_replicas"](dict(SETTINGS, version="latest"))


def test_filters_in_a_playbook(tmp_path):
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(PLAYBOOK)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"model": SETTINGS["model"]}))
    collections = vllm_filters.__file__.split(os.sep + "ansible_collections" + os.sep, maxsplit=1)[0]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", "@%s" % extra],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rendered, failed = [task["hosts"]["localhost"] for task in json.loads(run.stdout)["plays"][0]["tasks"]]

    assert rendered["msg"]["args"] == render_args(SETTINGS, "0.9.2")
    assert "--task" in rendered["msg"]["args"]
    assert rendered["msg"]["errors"] == [
        "vllm_gpu_ids lists 2 GPUs but the host has 1"]
    replicas = rendered["msg"]["replicas"]
    assert replicas == plan_replicas(SETTINGS)
    assert [r["device_requests"][0]["device_ids"] for r in replicas] == [["0"], ["1"]]
    assert failed["failed"] and "vllm_dtype 'fp8'" in failed["msg"]
