"""The ollama_* filters: through FilterModule, and rendered by Ansible itself from a playbook."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.embedops.embeddings.plugins.filter import ollama as ollama_filters
from ansible_collections.embedops.embeddings.plugins.module_utils.ollama_config import config_errors, plan_replicas
from doubles.playbook import run_playbook

FILTERS = ollama_filters.FilterModule().filters()
SETTINGS = {"models": ["bge-m3"], "replicas": 2, "port": 21434, "cpus": [0, 1, 2, 3], "keep_alive": "-1m"}

# Settings built from templates, as the role builds them: the filters see Ansible's lazy containers.
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    cpus: [0, 1, 2, 3]
    settings:
      models: "{{ models }}"
      replicas: "{{ cpus | length // 2 }}"
      port: 21434
      cpus: "{{ cpus }}"
      keep_alive: "-1m"
      ports: []
      max_queue: null
  tasks:
    - ansible.builtin.debug:
        msg:
          errors: "{{ settings | embedops.embeddings.ollama_config_errors }}"
          replicas: "{{ settings | embedops.embeddings.ollama_replicas }}"
          refused: "{{ settings | combine({'replicas': 0}) | embedops.embeddings.ollama_config_errors }}"
    - ansible.builtin.debug:
        msg: "{{ settings | combine({'models': ['bge m3']}) | embedops.embeddings.ollama_replicas }}"
      ignore_errors: true
"""


def test_filter_names():
    assert sorted(FILTERS) == ["ollama_config_errors", "ollama_replicas"]


def test_filters_call_the_module_utils():
    assert FILTERS["ollama_replicas"](SETTINGS) == plan_replicas(SETTINGS)
    assert FILTERS["ollama_config_errors"](SETTINGS) == config_errors(SETTINGS) == []


def test_impossible_settings_fail_the_filter():
    with pytest.raises(AnsibleFilterError, match="ollama_replicas"):
        FILTERS["ollama_replicas"](dict(SETTINGS, replicas=0))


def test_filters_in_a_playbook(tmp_path):
    rendered, failed = run_playbook(tmp_path, PLAYBOOK, {"models": SETTINGS["models"]})

    assert rendered["msg"]["errors"] == []
    assert rendered["msg"]["replicas"] == plan_replicas(SETTINGS)
    assert [r["cpuset_cpus"] for r in rendered["msg"]["replicas"]] == ["0-1", "2-3"]
    assert rendered["msg"]["refused"] == ["ollama_replicas must be 1 or more (got 0)."]
    assert failed["failed"] and 'ollama_models: "bge m3" is not a valid Ollama model name' in failed["msg"]
