"""cpu_info on recorded and composed /proc + /sys trees (fixtures/cpu/README.md says which is which)."""

import json
import os
import shutil
from pathlib import Path

import pytest
from ansible_collections.embedops.embeddings.plugins.module_utils import cpu_info as ci

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cpu"
KEYS = {
    "model_name", "vendor", "architecture", "isa", "bf16_native", "fp16_native", "logical_cpus", "usable_cpus",
    "cores", "physical_cores", "threads_per_core", "sockets", "numa_nodes", "cgroup_cpu_quota", "effective_cpus",
    "memory_total_mib", "memory_available_mib", "cgroup_memory_limit_mib", "reasons",
}
ARM_KEYS = {"neon", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm"}


def facts(sample, **kwargs):
    return ci.cpu_facts(str(FIXTURES / sample), **kwargs)


def copy(sample, tmp_path):
    """A writable copy of a sample, to take files away from."""
    root = tmp_path / sample
    shutil.copytree(FIXTURES / sample, root)
    return root


def threads(result):
    return [core["cpus"] for core in result["cores"]]


def remove_topology(root):
    cpu_dir = root / "sys" / "devices" / "system" / "cpu"
    for topology in cpu_dir.glob("cpu*/topology"):
        shutil.rmtree(topology)


def test_sapphire_rapids_amx_and_a_service_pinned_to_node_0():
    result = facts("sapphire-rapids-2s")
    assert set(result) == KEYS
    assert result["model_name"] == "Intel(R) Xeon(R) Platinum 8480+" and result["vendor"] == "GenuineIntel"
    assert result["architecture"] == "x86_64"
    assert result["isa"] == {
        "avx2": True, "avx512f": True, "avx512_bf16": True, "avx512_fp16": True, "avx512_vnni": True,
        "amx_bf16": True, "amx_fp16": False, "amx_int8": True, "amx_tile": True,
    }
    assert result["bf16_native"] is True and result["fp16_native"] is True
    assert result["logical_cpus"] == 16
    # cgroup v2 cpuset 0-3,8-11: the first socket's cores with both their threads
    assert result["usable_cpus"] == [0, 1, 2, 3, 8, 9, 10, 11]
    assert threads(result) == [[0, 8], [1, 9], [2, 10], [3, 11]]
    assert result["cores"][1] == {"id": 1, "package": 0, "core_id": 1, "node": 0, "cpus": [1, 9]}
    assert result["physical_cores"] == 4 and result["threads_per_core"] == 2 and result["sockets"] == 1
    assert result["numa_nodes"] == [
        {"id": 0, "cpus": [0, 1, 2, 3, 8, 9, 10, 11], "memory_total_mib": 515566},
        {"id": 1, "cpus": [], "memory_total_mib": 516091},
    ]
    assert result["cgroup_cpu_quota"] == 6.0 and result["effective_cpus"] == 6.0
    assert result["memory_total_mib"] == 1031657 and result["memory_available_mib"] == 1013209
    assert result["cgroup_memory_limit_mib"] == 65536
    assert result["reasons"] == []


def test_sapphire_rapids_whole_host_groups_siblings_across_both_sockets(tmp_path):
    root = copy("sapphire-rapids-2s", tmp_path)
    (root / "proc" / "self" / "cgroup").write_text("0::/\n")  # the root cgroup: cpuset 0-15, no quota
    result = ci.cpu_facts(str(root))
    assert result["usable_cpus"] == list(range(16))
    assert [(core["package"], core["core_id"], core["node"]) for core in result["cores"]] == [
        (0, 0, 0), (0, 1, 0), (0, 2, 0), (0, 3, 0), (1, 0, 1), (1, 1, 1), (1, 2, 1), (1, 3, 1),
    ]
    assert threads(result)[4] == [4, 12]  # core_id 0 of package 1 is not core_id 0 of package 0
    assert result["sockets"] == 2 and result["physical_cores"] == 8
    assert [node["cpus"] for node in result["numa_nodes"]] == [[0, 1, 2, 3, 8, 9, 10, 11], [4, 5, 6, 7, 12, 13, 14, 15]]
    assert result["cgroup_cpu_quota"] is None and result["effective_cpus"] == 16.0
    assert result["cgroup_memory_limit_mib"] is None


def test_affinity_of_one_thread_per_core_is_one_thread_per_core():
    result = facts("sapphire-rapids-2s", affinity={0, 1, 2, 3, 4, 5})  # 4 and 5 are outside the cpuset
    assert result["usable_cpus"] == [0, 1, 2, 3]
    assert threads(result) == [[0], [1], [2], [3]]
    assert result["threads_per_core"] == 1 and result["physical_cores"] == 4
    assert result["effective_cpus"] == 4.0  # fewer CPUs than the quota of 6
    assert result["numa_nodes"][0]["cpus"] == [0, 1, 2, 3]


def test_genoa_bf16_without_fp16_or_amx_and_affinity():
    result = facts("epyc-genoa-1s", affinity={0, 1, 4, 5})
    assert result["vendor"] == "AuthenticAMD" and result["model_name"] == "AMD EPYC 9654 96-Core Processor"
    isa = result["isa"]
    assert isa["avx512f"] and isa["avx512_bf16"] and isa["avx512_vnni"]
    assert not isa["avx512_fp16"] and not any(isa[name] for name in ("amx_bf16", "amx_fp16", "amx_int8", "amx_tile"))
    assert result["bf16_native"] is True and result["fp16_native"] is False
    assert result["logical_cpus"] == 8 and result["usable_cpus"] == [0, 1, 4, 5]
    assert threads(result) == [[0, 4], [1, 5]]
    assert [core["core_id"] for core in result["cores"]] == [0, 1]
    assert result["numa_nodes"] == [{"id": 0, "cpus": [0, 1, 4, 5], "memory_total_mib": 772757}]
    assert result["cgroup_cpu_quota"] is None and result["effective_cpus"] == 4.0
    assert result["cgroup_memory_limit_mib"] is None and result["reasons"] == []


def test_genoa_sparse_core_ids_keep_their_kernel_numbers():
    result = facts("epyc-genoa-1s")
    assert [(core["id"], core["core_id"]) for core in result["cores"]] == [(0, 0), (1, 1), (2, 8), (3, 9)]
    assert threads(result) == [[0, 4], [1, 5], [2, 6], [3, 7]]


def test_cascade_lake_without_bf16_and_cgroup_v1_limits():
    result = facts("cascade-lake-2s")
    isa = result["isa"]
    assert isa["avx512f"] and isa["avx512_vnni"] and isa["avx2"]
    assert not isa["avx512_bf16"] and not isa["avx512_fp16"] and not isa["amx_tile"]
    assert result["bf16_native"] is False and result["fp16_native"] is False
    # cpuset v1 at /sys/fs/cgroup/cpuset/embedops: socket 0 only
    assert result["logical_cpus"] == 12 and result["usable_cpus"] == [0, 1, 2, 6, 7, 8]
    assert threads(result) == [[0, 6], [1, 7], [2, 8]]
    assert [core["core_id"] for core in result["cores"]] == [0, 4, 8]
    assert result["sockets"] == 1 and result["threads_per_core"] == 2
    assert [(node["id"], node["cpus"]) for node in result["numa_nodes"]] == [(0, [0, 1, 2, 6, 7, 8]), (1, [])]
    # cpu,cpuacct: -1 at the root and the slice, 400000/100000 on the service
    assert result["cgroup_cpu_quota"] == 4.0 and result["effective_cpus"] == 4.0
    assert result["cgroup_memory_limit_mib"] == 16384  # the service's 16 GiB, not the root's 2**63 - 4096
    assert result["reasons"] == []


def test_small_vm_without_numa_with_a_quota_and_a_cpuset():
    result = facts("vm-2vcpu-quota")
    assert result["isa"]["avx512f"] and not result["bf16_native"]
    assert result["logical_cpus"] == 2 and result["usable_cpus"] == [0, 1]
    assert threads(result) == [[0, 1]]  # two vCPUs, one core with two threads
    assert result["physical_cores"] == 1 and result["threads_per_core"] == 2
    assert result["numa_nodes"] == [{"id": 0, "cpus": [0, 1], "memory_total_mib": 7712}]
    assert result["cgroup_cpu_quota"] == 1.5 and result["effective_cpus"] == 1.5
    assert result["memory_total_mib"] == 7712 and result["cgroup_memory_limit_mib"] == 3072
    assert result["reasons"] == ["no NUMA information in sysfs: one node assumed"]


def test_small_vm_cpuset_narrower_than_the_quota(tmp_path):
    root = copy("vm-2vcpu-quota", tmp_path)
    service = root / "sys" / "fs" / "cgroup" / "system.slice" / "embedder.service"
    (service / "cpuset.cpus.effective").write_text("1\n")
    result = ci.cpu_facts(str(root))
    assert result["usable_cpus"] == [1] and threads(result) == [[1]]
    assert result["cgroup_cpu_quota"] == 1.5 and result["effective_cpus"] == 1.0
    assert result["numa_nodes"][0]["cpus"] == [1]


def test_graviton3_features():
    result = facts("graviton3-4vcpu")
    assert result["architecture"] == "aarch64" and result["vendor"] == "ARM"
    assert result["model_name"] == "Neoverse-V1"
    isa = result["isa"]
    assert set(isa) == set(ci.X86_ISA) | ARM_KEYS
    assert not any(isa[name] for name in ci.X86_ISA)
    assert isa["neon"] and isa["sve"] and isa["bf16"] and isa["i8mm"] and isa["asimdhp"] and isa["asimddp"]
    assert isa["sve2"] is False
    assert result["bf16_native"] is True and result["fp16_native"] is True
    assert threads(result) == [[0], [1], [2], [3]] and result["threads_per_core"] == 1
    assert result["numa_nodes"] == [{"id": 0, "cpus": [0, 1, 2, 3], "memory_total_mib": 7717}]
    assert result["cgroup_cpu_quota"] is None and result["cgroup_memory_limit_mib"] is None
    assert result["reasons"] == []


def test_x86_hosts_have_no_aarch64_keys():
    assert set(facts("epyc-genoa-1s")["isa"]) == set(ci.X86_ISA)


def test_this_build_machine_as_recorded():
    result = facts("this-build-machine")
    assert result["vendor"] == "AuthenticAMD" and result["model_name"] == "AMD EPYC"
    # Zen 3 under Firecracker: AVX2, no AVX-512 of any kind, no AMX
    assert result["isa"]["avx2"] is True
    assert not any(value for name, value in result["isa"].items() if name != "avx2")
    assert result["bf16_native"] is False and result["fp16_native"] is False
    assert result["logical_cpus"] == 2 and result["usable_cpus"] == [0, 1]
    assert threads(result) == [[0], [1]] and result["threads_per_core"] == 1 and result["sockets"] == 1
    assert [node["cpus"] for node in result["numa_nodes"]] == [[0, 1]]
    # hybrid cgroups: v1 cpuset at the root, cfs quota -1, memory limit 2**63 - 4096 (unlimited)
    assert result["cgroup_cpu_quota"] is None and result["effective_cpus"] == 2.0
    assert result["cgroup_memory_limit_mib"] is None
    assert result["memory_total_mib"] == 24683664 // 1024
    assert result["reasons"] == []


def test_vmx_flags_line_is_not_the_flags_line():
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: sse avx2\nvmx flags\t: avx512f amx_tile\n"
    blocks = ci.parse_cpuinfo(text)
    assert blocks[0]["flags"] == "sse avx2" and blocks[0]["vmx flags"] == "avx512f amx_tile"


def test_a_flag_missing_on_one_cpu_is_not_counted(tmp_path):
    root = copy("vm-2vcpu-quota", tmp_path)
    cpuinfo = root / "proc" / "cpuinfo"
    first, second = cpuinfo.read_text().split("\n\n", 1)
    cpuinfo.write_text(first + "\n\n" + second.replace(" avx512_vnni", "", 1))
    assert ci.cpu_facts(str(root))["isa"]["avx512_vnni"] is False


def test_no_sysfs_topology_falls_back_to_cpuinfo(tmp_path):
    root = copy("sapphire-rapids-2s", tmp_path)
    remove_topology(root)
    result = ci.cpu_facts(str(root))
    assert threads(result) == [[0, 8], [1, 9], [2, 10], [3, 11]]  # "physical id" and "core id" still pair siblings
    assert "no CPU topology in sysfs: sockets and cores from /proc/cpuinfo" in result["reasons"]
    assert ci.sysfs_topology_complete(str(root)) is False
    assert ci.sysfs_topology_complete(str(FIXTURES / "sapphire-rapids-2s")) is True


def test_no_sysfs_topology_uses_lscpu_when_given(tmp_path):
    root = copy("this-build-machine", tmp_path)
    remove_topology(root)
    lscpu = (FIXTURES / "lscpu" / "this-build-machine.cpus.json").read_text()
    result = ci.cpu_facts(str(root), lscpu_json=lscpu)
    assert threads(result) == [[0], [1]] and [core["core_id"] for core in result["cores"]] == [0, 1]
    assert result["reasons"] == ["no CPU topology in sysfs: sockets and cores from lscpu"]


def test_no_topology_anywhere_counts_each_cpu_as_a_core(tmp_path):
    root = copy("graviton3-4vcpu", tmp_path)
    remove_topology(root)  # aarch64 /proc/cpuinfo has no "physical id" or "core id"
    result = ci.cpu_facts(str(root))
    assert threads(result) == [[0], [1], [2], [3]] and result["sockets"] == 1
    assert "no CPU topology in sysfs or /proc/cpuinfo: each CPU counted as its own core" in result["reasons"]


def test_an_offline_cpu_is_neither_counted_nor_usable(tmp_path):
    root = copy("epyc-genoa-1s", tmp_path)
    (root / "sys" / "devices" / "system" / "cpu" / "online").write_text("0-6\n")
    shutil.rmtree(root / "sys" / "devices" / "system" / "cpu" / "cpu7" / "topology")  # the kernel removes it too
    result = ci.cpu_facts(str(root))
    assert result["logical_cpus"] == 7 and result["usable_cpus"] == list(range(7))
    assert threads(result) == [[0, 4], [1, 5], [2, 6], [3]]
    assert result["threads_per_core"] == 2 and result["reasons"] == []


def test_no_online_list_counts_the_processors_of_cpuinfo(tmp_path):
    root = copy("vm-2vcpu-quota", tmp_path)
    (root / "sys" / "devices" / "system" / "cpu" / "online").unlink()
    result = ci.cpu_facts(str(root))
    assert result["logical_cpus"] == 2 and result["usable_cpus"] == [0, 1]
    assert "no /sys/devices/system/cpu/online: the processors of /proc/cpuinfo counted as online" in result["reasons"]


def test_an_empty_root_raises_nothing_and_says_why(tmp_path):
    result = ci.cpu_facts(str(tmp_path), machine="x86_64")
    assert set(result) == KEYS
    assert result["model_name"] == "unknown" and result["vendor"] == "unknown"
    assert result["logical_cpus"] == 0 and result["usable_cpus"] == [] and result["cores"] == []
    assert result["threads_per_core"] == 0 and result["sockets"] == 0 and result["effective_cpus"] == 0.0
    assert result["numa_nodes"] == [{"id": 0, "cpus": [], "memory_total_mib": None}]
    assert result["memory_total_mib"] is None and result["memory_available_mib"] is None
    assert result["cgroup_cpu_quota"] is None and result["cgroup_memory_limit_mib"] is None
    assert not any(result["isa"].values()) and result["bf16_native"] is False
    for reason in (
        "no /proc/cpuinfo: model and ISA flags unknown",
        "no online CPU found in sysfs, /proc/cpuinfo or lscpu",
        "no NUMA information in sysfs: one node assumed",
        "no MemTotal in /proc/meminfo: memory unknown",
        "no /proc/self/cgroup: no cgroup limits read",
    ):
        assert reason in result["reasons"]


def test_a_root_that_does_not_exist_raises_nothing(tmp_path):
    result = ci.cpu_facts(str(tmp_path / "nowhere"), machine="aarch64")
    assert result["architecture"] == "aarch64" and result["logical_cpus"] == 0
    assert set(result["isa"]) == set(ci.X86_ISA) | ARM_KEYS


def test_missing_node_meminfo_and_mem_available(tmp_path):
    root = copy("cascade-lake-2s", tmp_path)
    (root / "sys" / "devices" / "system" / "node" / "node1" / "meminfo").unlink()
    meminfo = root / "proc" / "meminfo"
    meminfo.write_text("".join(line + "\n" for line in meminfo.read_text().splitlines() if "MemAvailable" not in line))
    result = ci.cpu_facts(str(root))
    assert result["numa_nodes"][1]["memory_total_mib"] is None
    assert result["memory_available_mib"] == (380113040 + 989040 + 5919420) // 1024  # MemFree + Buffers + Cached
    assert "no MemTotal in /sys/devices/system/node/node1/meminfo: its memory unknown" in result["reasons"]
    assert any(reason.startswith("no MemAvailable in /proc/meminfo") for reason in result["reasons"])


def test_a_cgroup_outside_the_mount_reads_the_mounts_root(tmp_path):
    """A container without a cgroup namespace: /proc/self/cgroup names the host's path, /sys/fs/cgroup is its own."""
    root = copy("vm-2vcpu-quota", tmp_path)
    (root / "proc" / "self" / "cgroup").write_text("0::/system.slice/docker-4b1f.scope\n")
    cgroup = root / "sys" / "fs" / "cgroup"
    (cgroup / "cpu.max").write_text("50000 100000\n")
    (cgroup / "memory.max").write_text("536870912\n")
    result = ci.cpu_facts(str(root))
    assert result["cgroup_cpu_quota"] == 0.5 and result["effective_cpus"] == 0.5
    assert result["cgroup_memory_limit_mib"] == 512 and result["usable_cpus"] == [0, 1]
    assert any("/system.slice/docker-4b1f.scope is not under /sys/fs/cgroup" in reason for reason in result["reasons"])


def test_cgroup_v1_cpuset_without_effective_cpus_and_the_tightest_ancestor(tmp_path):
    root = copy("cascade-lake-2s", tmp_path)
    (root / "sys" / "fs" / "cgroup" / "cpuset" / "embedops" / "cpuset.effective_cpus").unlink()  # kernels before 4.?
    (root / "sys" / "fs" / "cgroup" / "cpuset" / "embedops" / "cpuset.cpus").write_text("0,6\n")
    slice_dir = root / "sys" / "fs" / "cgroup" / "cpu,cpuacct" / "system.slice"
    (slice_dir / "cpu.cfs_quota_us").write_text("250000\n")
    result = ci.cpu_facts(str(root))
    assert result["usable_cpus"] == [0, 6] and threads(result) == [[0, 6]]
    assert result["cgroup_cpu_quota"] == 2.5 and result["effective_cpus"] == 2.0


def test_affinity_and_cpuset_without_a_common_cpu_count_every_online_cpu():
    result = facts("cascade-lake-2s", affinity={3, 4, 5})  # socket 1, the cpuset is socket 0
    assert result["usable_cpus"] == list(range(12))
    assert any("have no CPU in common" in reason for reason in result["reasons"])


def test_a_malformed_cpulist_is_a_reason_not_an_exception(tmp_path):
    root = copy("vm-2vcpu-quota", tmp_path)
    (root / "sys" / "fs" / "cgroup" / "system.slice" / "embedder.service" / "cpuset.cpus.effective").write_text("x\n")
    result = ci.cpu_facts(str(root))
    assert result["usable_cpus"] == [0, 1]  # the parent's cpuset 0-1
    assert any("is not a CPU list" in reason for reason in result["reasons"])


@pytest.mark.parametrize("text, cpus", [
    ("0-3,8-11\n", [0, 1, 2, 3, 8, 9, 10, 11]),
    ("5", [5]),
    ("", []),
    ("\n", []),
    ("0-15:2/4", [0, 1, 4, 5, 8, 9, 12, 13]),
    ("3,1,1-2", [1, 2, 3]),
])
def test_parse_cpulist(text, cpus):
    assert ci.parse_cpulist(text) == cpus


@pytest.mark.parametrize("text", ["a", "3-1", "0-3:0/4", "1-"])
def test_parse_cpulist_refuses_garbage(text):
    with pytest.raises(ValueError):
        ci.parse_cpulist(text)


def test_parse_proc_cgroup_hybrid():
    v2, v1, groups = ci.parse_proc_cgroup((FIXTURES / "cascade-lake-2s" / "proc" / "self" / "cgroup").read_text())
    assert v2 == "/system.slice/vllm.service"
    assert v1["cpuset"] == "/embedops" and v1["cpu"] == v1["cpuacct"] == "/system.slice/vllm.service"
    assert groups["cpu"] == "cpu,cpuacct" and "name=systemd" in v1


def test_parse_lscpu_json_recorded_and_old_style():
    recorded = ci.parse_lscpu_json((FIXTURES / "lscpu" / "this-build-machine.cpus.json").read_text())
    assert recorded["cpus"] == {
        0: {"node": 0, "socket": 0, "core": 0, "online": True},
        1: {"node": 0, "socket": 0, "core": 1, "online": True},
    }
    summary = ci.parse_lscpu_json((FIXTURES / "lscpu" / "this-build-machine.summary.json").read_text())["summary"]
    assert summary["Model name"] == "AMD EPYC" and summary["Vendor ID"] == "AuthenticAMD"
    assert "avx2" in summary["Flags"].split()
    old = ci.parse_lscpu_json(json.dumps({"cpus": [
        {"cpu": "0", "node": "0", "socket": "0", "core": "0", "online": "yes"},
        {"cpu": "1", "node": "0", "socket": "0", "core": "0", "online": "no"},
    ]}))
    assert old["cpus"][1] == {"node": 0, "socket": 0, "core": 0, "online": False}
    nested = ci.parse_lscpu_json(json.dumps({"lscpu": [
        {"field": "Vendor ID:", "data": "ARM", "children": [{"field": "Model name:", "data": "Neoverse-V1"}]},
    ]}))
    assert nested["summary"] == {"Vendor ID": "ARM", "Model name": "Neoverse-V1"}
    assert ci.parse_lscpu_json("lscpu: unknown option -- J") == {"cpus": {}, "summary": {}}


def test_lscpu_summary_fills_in_for_a_missing_cpuinfo(tmp_path):
    root = copy("this-build-machine", tmp_path)
    (root / "proc" / "cpuinfo").unlink()
    summary = (FIXTURES / "lscpu" / "this-build-machine.summary.json").read_text()
    result = ci.cpu_facts(str(root), lscpu_json=summary)
    assert result["model_name"] == "AMD EPYC" and result["architecture"] == "x86_64"
    assert result["isa"]["avx2"] is True and result["logical_cpus"] == 2


def test_default_affinity_is_the_process_own_only_on_the_real_root(tmp_path):
    assert ci.default_affinity(str(tmp_path)) is None
    if hasattr(os, "sched_getaffinity"):
        assert ci.default_affinity("/") == set(os.sched_getaffinity(0))
        real = ci.cpu_facts("/")
        assert set(real["usable_cpus"]) <= set(os.sched_getaffinity(0))
