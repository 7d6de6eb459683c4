"""The vllm_* filters: through FilterModule, and rendered by Ansible itself from a playbook."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.embedops.embeddings.plugins.filter import vllm as vllm_filters
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_config import plan_replicas, render_args
from doubles.playbook import run_playbook

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
    rendered, failed = run_playbook(tmp_path, PLAYBOOK, {"model": SETTINGS["model"]})

    assert rendered["msg"]["args"] == render_args(SETTINGS, "0.9.2")
    assert "--task" in rendered["msg"]["args"]
    assert rendered["msg"]["errors"] == [
        "vllm_gpu_ids lists 2 GPUs but the host has 1"]
    replicas = rendered["msg"]["replicas"]
    assert replicas == plan_replicas(SETTINGS)
    assert [r["device_requests"][0]["device_ids"] for r in replicas] == [["0"], ["1"]]
    assert failed["failed"] and "vllm_dtype 'fp8'" in failed["msg"]
