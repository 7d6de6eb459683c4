"""vllm_tune rendered by Ansible itself, wired as the proposed roles/vllm/tasks/tune.yml wires it.

The settings are built from templates with null defaults, as the vllm role's _vllm_config builds them, so the
filter sees Ansible's lazy values; the chosen flags then go through vllm_config_errors and vllm_args.
"""

from pathlib import Path

from ansible_collections.embedops.embeddings.plugins.module_utils.nvidia_smi import parse_query
from doubles.playbook import run_playbook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nvidia_smi"

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  connection: local
  vars:
    vllm_model: BAAI/bge-m3
    vllm_version: "0.32.0"
    vllm_profile: gpu
    vllm_replicas: null
    vllm_tensor_parallel_size: null
    vllm_dtype: auto
    vllm_max_model_len: null
    vllm_max_num_seqs: "{{ seqs | default(None) }}"
    vllm_max_num_batched_tokens: null
    vllm_gpu_memory_utilization: null
    vllm_gpu_ids: []
    _vllm_config:
      version: "{{ vllm_version }}"
      model: "{{ vllm_model }}"
      profile: "{{ vllm_profile }}"
      replicas: "{{ vllm_replicas }}"
      tensor_parallel_size: "{{ vllm_tensor_parallel_size }}"
      dtype: "{{ vllm_dtype }}"
      max_model_len: "{{ vllm_max_model_len }}"
      max_num_seqs: "{{ vllm_max_num_seqs }}"
      max_num_batched_tokens: "{{ vllm_max_num_batched_tokens }}"
      gpu_memory_utilization: "{{ vllm_gpu_memory_utilization }}"
      gpu_ids: "{{ vllm_gpu_ids | map('string') | list }}"
  tasks:
    - name: Tune | choose the flags left unset
      ansible.builtin.set_fact:
        _vllm_tuned: "{{ _vllm_config | embedops.embeddings.vllm_tune(gpus=gpus) }}"

    - name: Tune | a configuration this host cannot run
      ansible.builtin.fail:
        msg: "{{ _vllm_tuned.errors | join('\\n') }}"
      when: _vllm_tuned.errors | length > 0

    - name: Tune | use the chosen flags
      ansible.builtin.set_fact:
        vllm_dtype: "{{ _vllm_tuned.settings.dtype }}"
        vllm_max_model_len: "{{ _vllm_tuned.settings.max_model_len }}"
        vllm_max_num_seqs: "{{ _vllm_tuned.settings.max_num_seqs }}"
        vllm_max_num_batched_tokens: "{{ _vllm_tuned.settings.max_num_batched_tokens }}"
        vllm_gpu_memory_utilization: "{{ _vllm_tuned.settings.gpu_memory_utilization }}"
        vllm_tensor_parallel_size: "{{ _vllm_tuned.settings.tensor_parallel_size }}"
        vllm_replicas: "{{ _vllm_tuned.settings.replicas }}"
        vllm_gpu_ids: "{{ _vllm_tuned.settings.gpu_ids | default(vllm_gpu_ids, true) }}"

    - ansible.builtin.debug:
        msg:
          tuned: "{{ _vllm_tuned }}"
          errors: "{{ _vllm_config | embedops.embeddings.vllm_config_errors(gpu_count=gpus | length) }}"
          args: "{{ _vllm_config | embedops.embeddings.vllm_args }}"
"""


def test_tuned_flags_pass_the_role_checks_and_render(tmp_path):
    gpus = parse_query((FIXTURES / "t4_x4.csv").read_text())[0]
    msg = run_playbook(tmp_path, PLAYBOOK, {"gpus": gpus, "seqs": 64})[-1]["msg"]
    tuned = msg["tuned"]
    assert tuned["errors"] == []
    assert tuned["settings"]["max_num_seqs"] == 64 and "max_num_seqs" not in tuned["chosen"]
    assert tuned["settings"]["dtype"] == "float16" and tuned["settings"]["replicas"] == 4
    assert msg["errors"] == []
    args = msg["args"]
    for flag, value in (("--dtype", "float16"), ("--max-model-len", "8192"), ("--max-num-seqs", "64"),
                        ("--max-num-batched-tokens", "8192"), ("--gpu-memory-utilization", "0.9")):
        assert args[args.index(flag) + 1] == value


def test_errors_stop_the_play_with_the_message(tmp_path):
    failed = run_playbook(tmp_path, PLAYBOOK, {"gpus": []}, expect_rc=2)[-1]
    assert failed["failed"] and "set vllm_profile: cpu" in failed["msg"]
