"""cpu_facts through main(), on the fixture trees and on this machine."""

import json
import os
import stat
from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.modules import cpu_facts
from doubles.modules import run_module

FIXTURES = Path(__file__).resolve().parents[1] / "module_utils" / "fixtures" / "cpu"
KEYS = {
    "model_name", "vendor", "architecture", "isa", "bf16_native", "fp16_native", "logical_cpus", "usable_cpus",
    "cores", "physical_cores", "threads_per_core", "sockets", "numa_nodes", "cgroup_cpu_quota", "effective_cpus",
    "memory_total_mib", "memory_available_mib", "cgroup_memory_limit_mib", "reasons",
}


@pytest.fixture
def lscpu(tmp_path, monkeypatch):
    """A stand-in lscpu on PATH that prints the recorded `lscpu -J -e` and logs its arguments."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    binary = bindir / "lscpu"
    log = tmp_path / "lscpu.log"
    recorded = FIXTURES / "lscpu" / "this-build-machine.cpus.json"
    binary.write_text('#!/bin/sh\necho "$*" >> "%s"\ncat "%s"\n' % (log, recorded))
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    return log


def test_facts_of_a_fixture_tree(capsys):
    rc, result, _output = run_module(capsys, cpu_facts.main, {"root": str(FIXTURES / "sapphire-rapids-2s")})
    assert rc == 0 and result["changed"] is False
    facts = result["ansible_facts"]["embedops_cpu"]
    assert set(facts) == KEYS and facts == result["cpu"]
    assert facts["bf16_native"] is True and facts["isa"]["amx_tile"] is True
    assert facts["usable_cpus"] == [0, 1, 2, 3, 8, 9, 10, 11]  # below another root the module's affinity is not applied
    assert [core["cpus"] for core in facts["cores"]] == [[0, 8], [1, 9], [2, 10], [3, 11]]
    assert facts["cgroup_cpu_quota"] == 6.0 and facts["cgroup_memory_limit_mib"] == 65536


def test_check_mode_reads_too(capsys):
    rc, result, _output = run_module(capsys, cpu_facts.main, {"root": str(FIXTURES / "vm-2vcpu-quota")}, check=True)
    assert rc == 0 and result["changed"] is False
    assert result["cpu"]["effective_cpus"] == 1.5
    assert result["cpu"]["reasons"] == ["no NUMA information in sysfs: one node assumed"]


def test_this_machine(capsys):
    rc, result, _output = run_module(capsys, cpu_facts.main)
    assert rc == 0 and result["changed"] is False
    facts = result["ansible_facts"]["embedops_cpu"]
    assert set(facts) == KEYS
    assert facts["logical_cpus"] >= 1 and facts["physical_cores"] >= 1
    assert set(facts["usable_cpus"]) <= set(os.sched_getaffinity(0))
    assert sorted(cpu for core in facts["cores"] for cpu in core["cpus"]) == facts["usable_cpus"]
    assert 0 < facts["effective_cpus"] <= len(facts["usable_cpus"])
    assert facts["memory_total_mib"] > 0


def test_lscpu_is_asked_only_where_sysfs_has_no_topology(capsys, lscpu, monkeypatch):
    seen = []
    real = cpu_facts.cpu_facts

    def spy(root, lscpu_json=None):
        seen.append(lscpu_json)
        return real(root, lscpu_json=lscpu_json)

    monkeypatch.setattr(cpu_facts, "cpu_facts", spy)
    monkeypatch.setattr(cpu_facts, "sysfs_topology_complete", lambda root: False)
    rc, result, _output = run_module(capsys, cpu_facts.main)
    assert rc == 0
    assert lscpu.read_text().split() == ["-J", "-e=CPU,NODE,SOCKET,CORE,ONLINE"]
    assert json.loads(seen[0])["cpus"][0]["cpu"] == 0

    monkeypatch.setattr(cpu_facts, "sysfs_topology_complete", lambda root: True)
    lscpu.unlink()
    rc, result, _output = run_module(capsys, cpu_facts.main)
    assert rc == 0 and not lscpu.exists() and seen[1] is None


def test_lscpu_is_not_run_below_another_root(capsys, lscpu, tmp_path):
    rc, result, _output = run_module(capsys, cpu_facts.main, {"root": str(tmp_path)})
    assert rc == 0 and not lscpu.exists()
    assert "no /proc/cpuinfo: model and ISA flags unknown" in result["cpu"]["reasons"]


def test_a_root_that_is_not_a_directory_fails_naming_it(capsys, tmp_path):
    rc, result, _output = run_module(capsys, cpu_facts.main, {"root": str(tmp_path / "nowhere")})
    assert rc == 1 and result["failed"] is True
    assert str(tmp_path / "nowhere") in result["msg"]
