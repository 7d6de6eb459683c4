"""gpu_facts through main(), against a stand-in nvidia-smi that prints recorded outputs."""

import os
import stat
from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import gpu_facts
from doubles.modules import run_module

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nvidia_smi"
# Prints $FAKE_QUERY for the query (or $FAKE_REFUSE when the query asks for compute_cap), $FAKE_HEADER for a
# plain call, and logs its arguments to $FAKE_LOG.
FAKE = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1" in
  --query-gpu=*)
    if [ -n "$FAKE_REFUSE" ]; then
      case "$1" in *compute_cap*) cat "$FAKE_REFUSE"; exit 2;; esac
    fi
    cat "$FAKE_QUERY"; exit "${FAKE_RC:-0}";;
  *) cat "$FAKE_HEADER";;
esac
"""


@pytest.fixture
def smi(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    binary = bindir / "nvidia-smi"
    binary.write_text(FAKE)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_HEADER", str(FIXTURES / "h100_header.txt"))

    class Smi:
        path = str(binary)

        def serve(self, query, rc=0, refuse=None):
            monkeypatch.setenv("FAKE_QUERY", str(FIXTURES / query))
            monkeypatch.setenv("FAKE_RC", str(rc))
            if refuse:
                monkeypatch.setenv("FAKE_REFUSE", str(FIXTURES / refuse))

        def calls(self):
            log = tmp_path / "calls.log"
            return log.read_text().splitlines() if log.exists() else []

    return Smi()


def test_gpus_become_facts(smi, capsys):
    smi.serve("h100_x8.csv")
    rc, result, _output = run_module(capsys, gpu_facts.main)
    assert rc == 0 and result["changed"] is False
    facts = result["ansible_facts"]
    assert facts["embedops_gpu_count"] == 8 == result["count"]
    assert facts["embedops_gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert facts["embedops_gpus"][0]["memory_total_mib"] == 81559
    assert facts["embedops_gpu_driver_version"] == "550.54.15"
    assert facts["embedops_gpu_cuda_version"] == "12.4"
    assert facts["embedops_gpu_reason"] is None
    assert smi.calls()[0].startswith("--query-gpu=index,uuid,name,memory.total,memory.free,driver_version,compute_cap")
    assert smi.calls()[1] == ""  # plain nvidia-smi, for the CUDA version


def test_check_mode_reads_too(smi, capsys):
    smi.serve("a10g.csv")
    rc, result, _output = run_module(capsys, gpu_facts.main, check=True)
    assert rc == 0 and result["changed"] is False and result["count"] == 1
    assert result["gpus"][0]["compute_capability"] == "8.6"


def test_old_driver_is_asked_again_without_compute_cap(smi, capsys):
    smi.serve("v100_old_driver.csv", refuse="old_driver_compute_cap.txt")
    rc, result, _output = run_module(capsys, gpu_facts.main)
    assert rc == 0, result
    assert result["count"] == 1 and result["gpus"][0]["compute_capability"] is None
    assert result["gpus"][0]["name"] == "Tesla V100-SXM2-16GB"
    queries = [call for call in smi.calls() if call.startswith("--query-gpu")]
    assert len(queries) == 2 and "compute_cap" not in queries[1]


def test_driver_down_is_zero_gpus_not_a_failure(smi, capsys):
    smi.serve("driver_failed.txt", rc=9)
    rc, result, _output = run_module(capsys, gpu_facts.main)
    assert rc == 0 and "failed" not in result
    assert result["ansible_facts"]["embedops_gpu_count"] == 0
    assert "couldn't communicate with the NVIDIA driver" in result["ansible_facts"]["embedops_gpu_reason"]
    assert len(smi.calls()) == 1  # no header call after a failed query


def test_no_nvidia_smi_is_zero_gpus(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(gpu_facts, "EXTRA_DIRS", [str(tmp_path / "nowhere")])
    rc, result, _output = run_module(capsys, gpu_facts.main)
    assert rc == 0 and result["count"] == 0 and result["gpus"] == []
    assert result["reason"].startswith("nvidia-smi not found on PATH")
    assert result["ansible_facts"]["embedops_gpu_reason"] == result["reason"]


def test_explicit_path(smi, capsys):
    smi.serve("t4_x4.csv")
    rc, result, _output = run_module(capsys, gpu_facts.main, {"nvidia_smi_path": smi.path})
    assert rc == 0 and result["count"] == 4


def test_explicit_path_that_does_not_exist_fails_naming_it(capsys, tmp_path):
    rc, result, _output = run_module(capsys, gpu_facts.main, {"nvidia_smi_path": str(tmp_path / "nvidia-smi")})
    assert rc == 1 and result["failed"] is True
    assert "nvidia_smi_path" in result["msg"] and "leave nvidia_smi_path unset" in result["msg"]


def test_unreadable_output_fails_with_the_output(smi, capsys):
    smi.serve("old_driver_compute_cap.txt", rc=2)
    rc, result, _output = run_module(capsys, gpu_facts.main, {"nvidia_smi_path": smi.path})
    assert rc == 1 and "Field" in result["msg"] and smi.path in result["msg"]


def test_infinite_number_fails_naming_the_field(smi, capsys):
    smi.serve("inf_memory.csv")
    rc, result, _output = run_module(capsys, gpu_facts.main, {"nvidia_smi_path": smi.path})
    assert rc == 1 and result["failed"] is True
    assert "'inf' for memory.total, not a finite number" in result["msg"] and smi.path in result["msg"]
