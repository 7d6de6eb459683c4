"""scripts/gpu-check.sh on a machine like the bare GPU machine it is for: python3 and nvidia-smi only.

nvidia-smi here is a stand-in that prints recorded outputs of real drivers (tests/unit/fixtures/nvidia_smi); the
script runs under the system's python3 with no Ansible on its path.
"""

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "unit" / "fixtures" / "nvidia_smi"
FAKE = """#!/bin/sh
case "$1" in
  --query-gpu=*) cat "%s";;
  *) cat "%s";;
esac
"""


def run(tmp_path, query, header="h100_header.txt", *args):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    smi = bindir / "nvidia-smi"
    smi.write_text(FAKE % (FIXTURES / query, FIXTURES / header))
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    env = {"PATH": "%s:/usr/bin:/bin" % bindir, "HOME": str(tmp_path)}
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    env["EMBEDOPS_PYTHON"] = python
    return subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_eight_h100_bge_m3(tmp_path):
    proc = run(tmp_path, "h100_x8.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8 GPU(s)" in proc.stdout and "NVIDIA H100" in proc.stdout
    assert "dtype: bfloat16, compute capability 9.0 >= 8.0" in proc.stdout
    assert '"replicas": 8' in proc.stdout
    assert "api_server_count:" in proc.stdout


def test_no_driver_says_so(tmp_path):
    proc = run(tmp_path, "driver_failed.txt")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "no usable NVIDIA GPU" in proc.stdout
