# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a Linux host's CPUs are and which of them this process may use: the reading behind the cpu_facts module.

Stdlib only. Every file is read below a root directory (default "/"), so the tests point it at recorded trees:

  proc/cpuinfo                                  model name, vendor, ISA flags (x86 "flags", aarch64 "Features"),
                                                "physical id"/"core id" when sysfs has no topology
  proc/meminfo                                  MemTotal, MemAvailable
  proc/self/cgroup                              the process's cgroup (v1 lines "N:controllers:/path", v2 "0::/path")
  sys/devices/system/cpu/online                 the online CPUs
  sys/devices/system/cpu/cpuN/topology/         physical_package_id, core_id: hyperthread siblings share both
  sys/devices/system/node/nodeN/                cpulist, meminfo ("Node N MemTotal: ... kB")
  sys/fs/cgroup/<own cgroup>/                   v2: cpuset.cpus.effective, cpu.max, memory.max
  sys/fs/cgroup/{cpuset,cpu,memory}/<cgroup>/   v1: cpuset.effective_cpus (or cpuset.cpus), cpu.cfs_quota_us and
                                                cpu.cfs_period_us, memory.limit_in_bytes

The usable CPUs are online & the process's affinity & the cgroup's cpuset. The CPU quota and the memory limit are
the tightest of the process's cgroup and its ancestors. Nothing missing or unreadable raises: each fact falls back
to the next source (lscpu -J -e output when given, then /proc/cpuinfo, then a plain assumption) and the fallback is
said in "reasons".
"""

from __future__ import annotations

import builtins
import json
import os
import platform
import re
from typing import Any, Iterable, Optional

X86_ISA = (
    "avx2", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni",
    "amx_bf16", "amx_fp16", "amx_int8", "amx_tile",
)
# aarch64 only: fact key -> the word in the Features line.
ARM_ISA = (
    ("neon", "asimd"), ("asimdhp", "asimdhp"), ("asimddp", "asimddp"), ("sve", "sve"), ("sve2", "sve2"),
    ("bf16", "bf16"), ("i8mm", "i8mm"),
)
# A cgroup memory limit this large is "no limit" (v1 writes 2**63 - page size for unlimited).
UNLIMITED_BYTES = 2 ** 60
# lscpu -J -e with these columns is what parse_lscpu_json reads for topology.
LSCPU_COMMAND = ["lscpu", "-J", "-e=CPU,NODE,SOCKET,CORE,ONLINE"]

# "CPU implementer" of /proc/cpuinfo on aarch64, as lscpu names them.
_ARM_IMPLEMENTERS = {
    0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x46: "Fujitsu", 0x48: "HiSilicon", 0x4E: "NVIDIA",
    0x50: "APM", 0x51: "Qualcomm", 0x61: "Apple", 0xC0: "Ampere",
}
# (implementer, "CPU part") -> model name, for the server cores a tuner meets.
_ARM_PARTS: dict[tuple[int, int | None], str] = {
    (0x41, 0xD08): "Cortex-A72", (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1",
    (0x41, 0xD40): "Neoverse-V1", (0x41, 0xD49): "Neoverse-N2", (0x41, 0xD4F): "Neoverse-V2",
    (0x41, 0xD84): "Neoverse-V3", (0x41, 0xD8E): "Neoverse-N3", (0xC0, 0xAC3): "Ampere-1", (0xC0, 0xAC4): "Ampere-1a",
}
_NODE_DIR = re.compile(r"^node([0-9]+)$")
_CPU_DIR = re.compile(r"^cpu([0-9]+)$")
_NODE_MEMTOTAL = re.compile(r"MemTotal:\s*([0-9]+)\s*kB", re.IGNORECASE)
_X86 = ("x86_64", "amd64", "i386", "i486", "i586", "i686")
_ARM64 = ("aarch64", "arm64", "armv8l", "armv8b")

CPU = "sys/devices/system/cpu"
NODE = "sys/devices/system/node"
CGROUP = "sys/fs/cgroup"


def parse_cpulist(text: str | None) -> list[int]:
    """The CPUs of a kernel cpulist ("0-3,8-11", "0-15:2/4", "" for none) as a sorted list; ValueError if malformed."""
    cpus: set[int] = set()
    for part in (text or "").strip().split(","):
        part = part.strip()
        if not part:
            continue
        span, stride = part, None  # stride: (CPUs used, group size) of "first-last:used/group"
        if ":" in part:
            span, stride_text = part.split(":", 1)
            used, group = (int(value) for value in stride_text.split("/", 1))
            if used <= 0 or group <= 0:
                raise ValueError("cpulist stride %r" % part)
            stride = (used, group)
        first_text, dash, last_text = span.partition("-")
        first = int(first_text)
        last = int(last_text) if dash else first
        if last < first or first < 0:
            raise ValueError("cpulist range %r" % part)
        for cpu in range(first, last + 1):
            if stride is None or (cpu - first) % stride[1] < stride[0]:
                cpus.add(cpu)
    return sorted(cpus)


def parse_cpuinfo(text: str | None) -> list[dict[str, str]]:
    """/proc/cpuinfo as a list of dicts, one per blank-line-separated block; keys as written ("model name")."""
    blocks: list[dict[str, str]] = []
    block: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            if block:
                blocks.append(block)
                block = {}
            continue
        key, colon, value = line.partition(":")
        if colon:
            block[key.strip()] = value.strip()
    if block:
        blocks.append(block)
    return blocks


def parse_meminfo(text: str | None) -> dict[str, int]:
    """/proc/meminfo (or a node's meminfo) as {name: kB}; the "Node N" prefix of node files is dropped."""
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, colon, value = line.partition(":")
        words = value.split()
        if not colon or not words:
            continue
        key = re.sub(r"^Node\s+[0-9]+\s+", "", key.strip())
        try:
            values[key] = int(words[0])
        except ValueError:
            continue
    return values


def parse_proc_cgroup(text: str | None) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """(v2 path or None, {v1 controller: path}, {v1 controller: the line's controller list}) of /proc/self/cgroup."""
    v2: str | None = None
    v1: dict[str, str] = {}
    groups: dict[str, str] = {}
    for line in (text or "").splitlines():
        fields = line.strip().split(":", 2)
        if len(fields) != 3:
            continue
        hierarchy, controllers, path = fields
        if hierarchy == "0" and controllers == "":
            v2 = path
            continue
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
                groups[controller] = controllers
    return v2, v1, groups


def parse_lscpu_json(text: str | None) -> dict[str, dict[Any, Any]]:
    """`lscpu -J -e=CPU,NODE,SOCKET,CORE,ONLINE` and/or `lscpu -J` output as dict(cpus, summary).

    cpus: {cpu: {"node", "socket", "core", "online"}} from the "cpus" list (util-linux 2.38 prints numbers and
    booleans, older ones strings such as "0" and "yes"); summary: {field without its colon: data} from the
    "lscpu" list, nested "children" flattened. Either may be empty; text that is not JSON gives both empty.
    """
    result: dict[str, dict[Any, Any]] = {"cpus": {}, "summary": {}}
    try:
        data = json.loads(text or "")
    except ValueError:
        return result
    if not isinstance(data, dict):
        return result
    for row in data.get("cpus") or []:
        if not isinstance(row, dict):
            continue
        cpu = _int(row.get("cpu"))
        if cpu is None:
            continue
        online = row.get("online", True)
        if isinstance(online, str):
            online = online.strip().lower() in ("yes", "y", "true", "1")
        result["cpus"][cpu] = {
            "node": _int(row.get("node")), "socket": _int(row.get("socket")), "core": _int(row.get("core")),
            "online": bool(online),
        }
    stack = list(data.get("lscpu") or [])
    while stack:
        row = stack.pop(0)
        if not isinstance(row, dict):
            continue
        field = str(row.get("field", "")).strip().rstrip(":").strip()
        if field and row.get("data") is not None:
            result["summary"].setdefault(field, str(row["data"]))
        stack.extend(row.get("children") or [])
    return result


def sysfs_topology_complete(root: str = "/") -> bool:
    """Whether every online CPU has topology/physical_package_id and core_id in sysfs (then lscpu adds nothing)."""
    reader = _Reader(root)
    online = reader.cpulist(CPU + "/online")
    if not online:
        return False
    return all(
        reader.int("%s/cpu%d/topology/physical_package_id" % (CPU, cpu)) is not None
        and reader.int("%s/cpu%d/topology/core_id" % (CPU, cpu)) is not None
        for cpu in online
    )


def default_affinity(root: str = "/") -> set[int] | None:
    """The process's own CPU affinity when root is the real root and the platform has it, else None."""
    if os.path.realpath(root) != os.path.realpath("/"):
        return None
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is None:
        return None
    try:
        return set(getaffinity(0))
    except OSError:
        return None


def cpu_facts(
    root: str = "/", affinity: Iterable[int] | None = None, lscpu_json: str | None = None, machine: str | None = None
) -> dict[str, Any]:
    """The embedops_cpu facts of the host whose filesystem is at root.

    affinity: the CPUs the process may run on (a set of ints); None means default_affinity(root), that is the
    module's own on the real root and no restriction on another tree. lscpu_json: optional `lscpu -J` output, read
    only where sysfs and /proc/cpuinfo say nothing. machine: the architecture; by default platform.machine() on the
    real root and what /proc/cpuinfo shows on another tree.
    """
    reader = _Reader(root)
    reasons = reader.reasons
    lscpu: dict[str, dict[Any, Any]] = parse_lscpu_json(lscpu_json) if lscpu_json else {"cpus": {}, "summary": {}}
    cpuinfo_text = reader.text("proc/cpuinfo")
    if cpuinfo_text is None:
        reasons.append("no /proc/cpuinfo: model and ISA flags unknown")
    blocks = parse_cpuinfo(cpuinfo_text)
    processors = [block for block in blocks if _int(block.get("processor")) is not None]

    architecture = _architecture(root, machine, processors, lscpu["summary"])
    identity = _identity(architecture, processors, lscpu["summary"], reasons)
    isa = _isa(architecture, processors, lscpu["summary"])
    if architecture in _ARM64:
        bf16 = isa["bf16"]
        fp16 = isa["asimdhp"] or _has_feature(processors, "fphp")
    else:
        bf16 = isa["avx512_bf16"] or isa["amx_bf16"]
        fp16 = isa["avx512_fp16"] or isa["amx_fp16"]

    online = _online(reader, processors, lscpu["cpus"], reasons)
    cgroup = _Cgroup(reader)
    usable = set(online)
    if affinity is None:
        affinity = default_affinity(root)
    if affinity is not None:
        usable &= set(affinity)
    cpuset = cgroup.cpuset()
    if cpuset is not None:
        usable &= set(cpuset)
    if online and not usable:
        reasons.append(
            "online CPUs %s, affinity and cgroup cpuset have no CPU in common: all online CPUs counted"
            % _cpulist_text(online)
        )
        usable = set(online)
    usable_cpus = sorted(usable)

    nodes, node_of = _numa(reader, usable_cpus, reasons)
    cores = _cores(reader, online, usable, node_of, processors, lscpu["cpus"], reasons)

    memory = parse_meminfo(reader.text("proc/meminfo"))
    memory_total = _mib(memory.get("MemTotal"))
    memory_available = _mib(memory.get("MemAvailable"))
    if memory_total is None:
        reasons.append("no MemTotal in /proc/meminfo: memory unknown")
    elif memory_available is None:
        estimate = sum(memory.get(key, 0) for key in ("MemFree", "Buffers", "Cached"))
        memory_available = _mib(estimate)
        reasons.append("no MemAvailable in /proc/meminfo (kernel before 3.14): MemFree + Buffers + Cached used")
    if not nodes:
        nodes = [{"id": 0, "cpus": usable_cpus, "memory_total_mib": memory_total}]

    quota = cgroup.cpu_quota()
    effective = float(len(usable_cpus))
    if quota is not None:
        effective = min(effective, quota)
    return {
        "model_name": identity["model_name"],
        "vendor": identity["vendor"],
        "architecture": architecture,
        "isa": isa,
        "bf16_native": bool(bf16),
        "fp16_native": bool(fp16),
        "logical_cpus": len(online),
        "usable_cpus": usable_cpus,
        "cores": cores,
        "physical_cores": len(cores),
        "threads_per_core": max([len(core["cpus"]) for core in cores] or [0]),
        "sockets": len({core["package"] for core in cores}),
        "numa_nodes": nodes,
        "cgroup_cpu_quota": quota,
        "effective_cpus": effective,
        "memory_total_mib": memory_total,
        "memory_available_mib": memory_available,
        "cgroup_memory_limit_mib": cgroup.memory_limit_mib(),
        "reasons": reasons,
    }


class _Reader:
    """Reads files below root; None for anything missing or unreadable, never an exception."""

    def __init__(self, root: str) -> None:
        self.root = root or "/"
        self.reasons: list[str] = []

    def path(self, relative: str) -> str:
        return os.path.join(self.root, relative.lstrip("/"))

    def text(self, relative: str) -> str | None:
        try:
            with open(self.path(relative), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except (OSError, ValueError):
            return None

    def int(self, relative: str) -> builtins.int | None:
        return _int(self.text(relative))

    def cpulist(self, relative: str) -> list[builtins.int] | None:
        text = self.text(relative)
        if text is None:
            return None
        try:
            return parse_cpulist(text)
        except ValueError:
            self.reasons.append("/%s is not a CPU list (%r): ignored" % (relative, text.strip()[:40]))
            return None

    def isdir(self, relative: str) -> bool:
        return os.path.isdir(self.path(relative))

    def listdir(self, relative: str) -> list[str]:
        try:
            return os.listdir(self.path(relative))
        except OSError:
            return []


class _Cgroup:
    """The process's cgroup limits, v2 or v1 (a v1 controller wins: a controller is in one hierarchy only)."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        text = reader.text("proc/self/cgroup")
        self.known = text is not None
        if not self.known:
            reader.reasons.append("no /proc/self/cgroup: no cgroup limits read")
        self.v2, self.v1, self.groups = parse_proc_cgroup(text)
        self.v2_mount: str | None = None
        if reader.text(CGROUP + "/cgroup.controllers") is not None:
            self.v2_mount = CGROUP
        elif reader.isdir(CGROUP + "/unified"):
            self.v2_mount = CGROUP + "/unified"
        self._dirs: dict[str, tuple[str | None, list[str]]] = {}

    def dirs(self, controller: str) -> tuple[str | None, list[str]]:
        """("v1"/"v2", [own cgroup dir, its parent, ..., the mount's root]), or (None, [])."""
        if controller in self._dirs:
            return self._dirs[controller]
        found = None  # (version, mount, path)
        if controller in self.v1:
            for name in (controller, self.groups[controller]):
                if self.reader.isdir("%s/%s" % (CGROUP, name)):
                    found = ("v1", "%s/%s" % (CGROUP, name), self.v1[controller])
                    break
        if found is None and self.v2 is not None and self.v2_mount:
            found = ("v2", self.v2_mount, self.v2)
        version: str | None = None
        dirs: list[str] = []
        if found:
            version, mount, path = found
            parts = [part for part in path.split("/") if part and part not in (".", "..")]
            if self.reader.isdir("/".join([mount] + parts)):
                dirs = ["/".join([mount] + parts[:depth]) for depth in range(len(parts), -1, -1)]
            else:
                self.reader.reasons.append(
                    "cgroup %s is not under /%s: its root read instead (a cgroup namespace or a container's view)"
                    % (path, mount)
                )
                dirs = [mount]
        self._dirs[controller] = (version, dirs)
        return version, dirs

    def cpuset(self) -> list[int] | None:
        """The cgroup's effective CPUs (nearest cgroup that says), or None."""
        version, dirs = self.dirs("cpuset")
        names = ["cpuset.cpus.effective"] if version == "v2" else ["cpuset.effective_cpus", "cpuset.cpus"]
        for directory in dirs:
            for name in names:
                cpus = self.reader.cpulist("%s/%s" % (directory, name))
                if cpus:
                    return cpus
        return None

    def cpu_quota(self) -> float | None:
        """CPUs the CFS quota allows (quota / period, the tightest on the way to the root), or None for none."""
        version, dirs = self.dirs("cpu")
        quotas: list[float] = []
        for directory in dirs:
            if version == "v2":
                words = (self.reader.text(directory + "/cpu.max") or "").split()
                quota = _int(words[0]) if words else None  # "max": no quota
                period = _int(words[1]) if len(words) > 1 else 100000
            else:
                quota, period = self.reader.int(directory + "/cpu.cfs_quota_us"), None
                if quota is not None and quota > 0:
                    period = self.reader.int(directory + "/cpu.cfs_period_us")
            if quota is not None and quota > 0 and period:
                quotas.append(round(float(quota) / period, 3))
        return min(quotas) if quotas else None

    def memory_limit_mib(self) -> int | None:
        """The tightest memory limit on the way to the root in MiB, or None when unlimited."""
        version, dirs = self.dirs("memory")
        name = "memory.max" if version == "v2" else "memory.limit_in_bytes"
        limits: list[int] = []
        for directory in dirs:
            value = self.reader.int("%s/%s" % (directory, name))
            if value is not None and 0 < value < UNLIMITED_BYTES:
                limits.append(value // (1024 * 1024))
        return min(limits) if limits else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    text = str(value).strip().lower() if value is not None else ""
    try:
        return int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return None


def _mib(kib: int | None) -> int | None:
    return None if kib is None else int(kib) // 1024


def _cpulist_text(cpus: Iterable[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def _architecture(root: str, machine: str | None, processors: list[dict[str, str]], summary: dict[str, str]) -> str:
    if machine:
        return _normalise_machine(machine)
    if os.path.realpath(root) == os.path.realpath("/") and platform.machine():
        return _normalise_machine(platform.machine())
    first = processors[0] if processors else {}
    if "CPU implementer" in first or "Features" in first:
        return "aarch64"
    if "vendor_id" in first or "flags" in first:
        return "x86_64"
    if summary.get("Architecture"):
        return _normalise_machine(summary["Architecture"])
    return _normalise_machine(platform.machine() or "unknown")


def _normalise_machine(machine: str) -> str:
    machine = machine.strip().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def _identity(
    architecture: str, processors: list[dict[str, str]], summary: dict[str, str], reasons: list[str]
) -> dict[str, str]:
    first = processors[0] if processors else {}
    model: str | None = first.get("model name")
    vendor: str | None = first.get("vendor_id")
    if architecture in _ARM64 or "CPU implementer" in first:
        implementer, part = _int(first.get("CPU implementer")), _int(first.get("CPU part"))
        if implementer is not None:
            vendor = vendor or _ARM_IMPLEMENTERS.get(implementer, "implementer 0x%02x" % implementer)
            if not model:
                model = _ARM_PARTS.get((implementer, part))
                if model is None and part is not None:
                    model = "%s part 0x%03x" % (vendor, part)
    model = model or first.get("cpu") or summary.get("Model name")
    vendor = vendor or summary.get("Vendor ID")
    if not model:
        reasons.append("model name unknown (not in /proc/cpuinfo)")
    if not vendor:
        reasons.append("vendor unknown (not in /proc/cpuinfo)")
    return {"model_name": model or "unknown", "vendor": vendor or "unknown"}


def _feature_sets(processors: list[dict[str, str]], key: str) -> list[set[str]]:
    return [set(block[key].split()) for block in processors if key in block]


def _common_features(processors: list[dict[str, str]], summary: dict[str, str], key: str) -> set[str]:
    """The features every processor block lists (a feature the tuner relies on must be on every CPU)."""
    sets = _feature_sets(processors, key)
    if sets:
        return set.intersection(*sets)
    return set((summary.get("Flags") or "").split())


def _has_feature(processors: list[dict[str, str]], name: str) -> bool:
    return name in _common_features(processors, {}, "Features")


def _isa(architecture: str, processors: list[dict[str, str]], summary: dict[str, str]) -> dict[str, bool]:
    isa = {name: False for name in X86_ISA}
    if architecture in _ARM64:
        features = _common_features(processors, summary, "Features")
        isa.update((key, word in features) for key, word in ARM_ISA)
    else:
        flags = _common_features(processors, summary, "flags")
        isa.update((name, name in flags) for name in X86_ISA)
    return isa


def _online(
    reader: _Reader, processors: list[dict[str, str]], lscpu_cpus: dict[int, dict[str, Any]], reasons: list[str]
) -> list[int]:
    online = reader.cpulist(CPU + "/online")
    if online:
        return online
    # processors holds only the blocks with a processor number (see cpu_facts)
    numbers = sorted({number for number in (_int(block["processor"]) for block in processors) if number is not None})
    if numbers:
        reasons.append("no %s: the processors of /proc/cpuinfo counted as online" % ("/" + CPU + "/online"))
        return numbers
    present = sorted(int(match.group(1)) for match in map(_CPU_DIR.match, reader.listdir(CPU)) if match)
    if present:
        reasons.append("no online list or /proc/cpuinfo: every cpuN directory in sysfs counted as online")
        return present
    from_lscpu = sorted(cpu for cpu, row in lscpu_cpus.items() if row["online"])
    if from_lscpu:
        reasons.append("no online list, /proc/cpuinfo or sysfs CPUs: lscpu's online CPUs used")
        return from_lscpu
    reasons.append("no online CPU found in sysfs, /proc/cpuinfo or lscpu")
    return []


def _numa(
    reader: _Reader, usable_cpus: list[int], reasons: list[str]
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """([{"id", "cpus", "memory_total_mib"}], {cpu: node}) from sysfs; ([], {}) without node directories."""
    ids = sorted(int(match.group(1)) for match in map(_NODE_DIR.match, reader.listdir(NODE)) if match)
    if not ids:
        reasons.append("no NUMA information in sysfs: one node assumed")
        return [], {}
    usable = set(usable_cpus)
    nodes: list[dict[str, Any]] = []
    node_of: dict[int, int] = {}
    for node in ids:
        cpus = reader.cpulist("%s/node%d/cpulist" % (NODE, node)) or []
        for cpu in cpus:
            node_of.setdefault(cpu, node)
        match = _NODE_MEMTOTAL.search(reader.text("%s/node%d/meminfo" % (NODE, node)) or "")
        if not match:
            reasons.append("no MemTotal in /%s/node%d/meminfo: its memory unknown" % (NODE, node))
        nodes.append({
            "id": node,
            "cpus": [cpu for cpu in cpus if cpu in usable],
            "memory_total_mib": _mib(int(match.group(1))) if match else None,
        })
    return nodes, node_of


def _cores(
    reader: _Reader, online: list[int], usable: set[int], node_of: dict[int, int], processors: list[dict[str, str]],
    lscpu_cpus: dict[int, dict[str, Any]], reasons: list[str],
) -> list[dict[str, Any]]:
    """The physical cores with at least one usable thread: (package, core_id) groups of the online CPUs."""
    sysfs: dict[int, tuple[Any, Any]] = {}
    place: Optional[dict[int, tuple[Any, Any]]] = sysfs  # cpu: (package, core); None when sysfs lacks a CPU's
    for cpu in online:
        package = reader.int("%s/cpu%d/topology/physical_package_id" % (CPU, cpu))
        core = reader.int("%s/cpu%d/topology/core_id" % (CPU, cpu))
        if package is None or core is None:
            place = None
            break
        sysfs[cpu] = (package, core)
    if place is None and online and all(
        lscpu_cpus.get(cpu, {}).get("socket") is not None and lscpu_cpus[cpu].get("core") is not None
        for cpu in online
    ):
        reasons.append("no CPU topology in sysfs: sockets and cores from lscpu")
        place = {cpu: (lscpu_cpus[cpu]["socket"], lscpu_cpus[cpu]["core"]) for cpu in online}
        for cpu in online:
            if lscpu_cpus[cpu].get("node") is not None:
                node_of.setdefault(cpu, lscpu_cpus[cpu]["node"])
    if place is None:
        by_number = {_int(block.get("processor")): block for block in processors}
        rows = [
            (cpu, _int(by_number.get(cpu, {}).get("physical id")), _int(by_number.get(cpu, {}).get("core id")))
            for cpu in online
        ]
        if online and all(package is not None and core is not None for dummy, package, core in rows):
            reasons.append("no CPU topology in sysfs: sockets and cores from /proc/cpuinfo")
            place = {cpu: (package, core) for cpu, package, core in rows}
        else:
            if online:
                reasons.append("no CPU topology in sysfs or /proc/cpuinfo: each CPU counted as its own core")
            place = {cpu: (0, cpu) for cpu in online}
    groups: dict[tuple[int, int], list[int]] = {}
    for cpu in online:
        package, core = place[cpu]
        groups.setdefault((max(package, 0), core), []).append(cpu)
    cores: list[dict[str, Any]] = []
    for (package, core), threads in sorted(groups.items()):
        mine = [cpu for cpu in threads if cpu in usable]
        if mine:
            cores.append({
                "id": len(cores), "package": package, "core_id": core, "node": node_of.get(threads[0], 0),
                "cpus": mine,
            })
    return cores
