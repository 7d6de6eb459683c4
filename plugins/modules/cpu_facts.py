#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cpu_facts
short_description: Facts about a Linux host's CPUs, for choosing vLLM's CPU settings
description:
  - Reads C(/proc/cpuinfo), C(/proc/meminfo), sysfs (C(/sys/devices/system/cpu), C(/sys/devices/system/node)) and
    the module's own cgroup (v2, v1 or both) and returns the model, the ISA extensions that matter for inference
    on CPU (AVX-512 BF16/FP16/VNNI, AMX, and on aarch64 SVE, BF16, I8MM), the physical cores with their
    hyperthread siblings, the NUMA nodes, and the CPUs, CPU quota and memory limit the cgroup allows.
  - The usable CPUs are the online CPUs that are also in the process's CPU affinity and in the cgroup's cpuset;
    cores, sockets and the CPUs of each NUMA node count only those.
  - Needs nothing installed. Where sysfs has no CPU topology, C(lscpu -J -e) is asked when it is there, then
    C(/proc/cpuinfo); a missing or unreadable file is never an error, each fallback is said in
    RV(ansible_facts.embedops_cpu.reasons).
  - Read-only, so it runs in check mode too and never reports a change.
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  root:
    description:
      - The directory whose C(proc/) and C(sys/) are read; C(/) is the host itself.
      - For tests (a tree of recorded files) and for reading a chroot's copy. Below another root the module's own CPU
        affinity is not applied and C(lscpu) is not run.
    type: path
    default: /
extends_documentation_fragment:
  - embedops.embeddings.attributes
  - embedops.embeddings.attributes.facts
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: linux
notes:
  - The affinity and cgroup read are the module's own, that is those of the Ansible connection's process. A container
    started later gets the cpuset, quota and memory limit Docker gives it, not these.
  - Memory per NUMA node is what the node's C(meminfo) says; under some hypervisors it is less than
    C(memory_total_mib).
seealso:
  - module: embedops.embeddings.gpu_facts
  - name: Linux CPU topology in sysfs
    description: physical_package_id, core_id and the CPU lists the module reads.
    link: https://www.kernel.org/doc/html/latest/admin-guide/cputopology.html
  - name: cgroup v2
    description: cpuset.cpus.effective, cpu.max and memory.max.
    link: https://docs.kernel.org/admin-guide/cgroup-v2.html
"""

EXAMPLES = r"""
- name: Read the CPUs
  embedops.embeddings.cpu_facts:

- name: Say whether the CPU computes in BF16 natively
  ansible.builtin.debug:
    msg: >-
      {{ ansible_facts.embedops_cpu.model_name }}: bf16 {{ ansible_facts.embedops_cpu.bf16_native }},
      {{ ansible_facts.embedops_cpu.physical_cores }} cores, {{ ansible_facts.embedops_cpu.effective_cpus }} CPUs usable

- name: One OpenMP thread per physical core of NUMA node 0
  ansible.builtin.set_fact:
    omp_bind: >-
      {{ ansible_facts.embedops_cpu.cores | selectattr('node', 'equalto', 0)
         | map(attribute='cpus') | map('first') | join(',') }}
"""

RETURN = r"""
ansible_facts:
  description: The CPU facts.
  returned: always
  type: dict
  contains:
    embedops_cpu:
      description: The host's CPUs and what this process may use of them.
      type: dict
      contains:
        model_name:
          description: >-
            The model name of C(/proc/cpuinfo); on aarch64, where there is none, the core's name from its implementer
            and part (V(Neoverse-V1)). V(unknown) when nothing says.
          type: str
          sample: Intel(R) Xeon(R) Platinum 8480+
        vendor:
          description: >-
            C(vendor_id) on x86 (V(GenuineIntel), V(AuthenticAMD)); the implementer on aarch64 (V(ARM), V(Ampere)).
          type: str
          sample: GenuineIntel
        architecture:
          description: The machine, as C(uname -m) says it (V(x86_64), V(aarch64)).
          type: str
          sample: x86_64
        isa:
          description:
            - The ISA extensions every CPU lists, from the C(flags) line (x86) or the C(Features) line (aarch64).
            - The x86 keys are always there (false on aarch64); V(neon), V(asimdhp), V(asimddp), V(sve), V(sve2),
              V(bf16) and V(i8mm) are there on aarch64 only.
          type: dict
          sample:
            avx2: true
            avx512f: true
            avx512_bf16: true
            avx512_fp16: true
            avx512_vnni: true
            amx_bf16: true
            amx_fp16: false
            amx_int8: true
            amx_tile: true
        bf16_native:
          description: The CPU computes BF16 itself; C(avx512_bf16) or C(amx_bf16) on x86, C(bf16) on aarch64.
          type: bool
          sample: true
        fp16_native:
          description: >-
            The CPU computes FP16 itself; C(avx512_fp16) or C(amx_fp16) on x86, C(fphp) or C(asimdhp) on aarch64.
          type: bool
          sample: true
        logical_cpus:
          description: Online CPUs (hardware threads) of the host.
          type: int
          sample: 16
        usable_cpus:
          description: The online CPUs in the process's affinity and the cgroup's cpuset, sorted.
          type: list
          elements: int
          sample: [0, 1, 2, 3, 8, 9, 10, 11]
        cores:
          description: The physical cores with at least one usable CPU, sorted by package and core id.
          type: list
          elements: dict
          contains:
            id:
              description: The core's index in this list.
              type: int
            package:
              description: The socket (C(physical_package_id)).
              type: int
            core_id:
              description: The kernel's C(core_id); unique within a package only, and not always contiguous.
              type: int
            node:
              description: The NUMA node of the core (0 without NUMA information).
              type: int
            cpus:
              description: The core's usable hardware threads (its hyperthread siblings).
              type: list
              elements: int
          sample:
            - {id: 0, package: 0, core_id: 0, node: 0, cpus: [0, 8]}
            - {id: 1, package: 0, core_id: 1, node: 0, cpus: [1, 9]}
        physical_cores:
          description: Number of RV(ansible_facts.embedops_cpu.cores).
          type: int
          sample: 4
        threads_per_core:
          description: The most usable threads of one core (1 without SMT or where the cpuset takes one sibling).
          type: int
          sample: 2
        sockets:
          description: Packages with at least one usable CPU.
          type: int
          sample: 1
        numa_nodes:
          description:
            - Every NUMA node of the host with its usable CPUs (an empty list where the process may use none) and its
              memory. Without NUMA information in sysfs, one node 0 with every usable CPU and the total memory.
          type: list
          elements: dict
          contains:
            id:
              description: The node number.
              type: int
            cpus:
              description: The node's usable CPUs.
              type: list
              elements: int
            memory_total_mib:
              description: The node's memory in MiB; null when its meminfo says nothing.
              type: int
          sample:
            - {id: 0, cpus: [0, 1, 2, 3, 8, 9, 10, 11], memory_total_mib: 515556}
            - {id: 1, cpus: [], memory_total_mib: 516052}
        cgroup_cpu_quota:
          description: >-
            CPUs the cgroup's CFS quota allows (v2 C(cpu.max), v1 C(cpu.cfs_quota_us) / C(cpu.cfs_period_us)), the
            tightest of the process's cgroup and its ancestors; null without a quota.
          type: float
          sample: 1.5
        effective_cpus:
          description: The CPUs this process can keep busy, the fewer of the usable CPUs and the quota.
          type: float
          sample: 1.5
        memory_total_mib:
          description: C(MemTotal) of C(/proc/meminfo) in MiB; null when unknown.
          type: int
          sample: 1031608
        memory_available_mib:
          description: C(MemAvailable) of C(/proc/meminfo) in MiB (estimated on kernels without it); null when unknown.
          type: int
          sample: 1010212
        cgroup_memory_limit_mib:
          description: >-
            The cgroup's memory limit in MiB (v2 C(memory.max), v1 C(memory.limit_in_bytes)), the tightest of the
            process's cgroup and its ancestors; null when unlimited.
          type: int
          sample: 65536
        reasons:
          description: >-
            What fell back to a weaker source or an assumption, one short sentence each; empty when nothing did.
          type: list
          elements: str
          sample: ["no NUMA information in sysfs: one node assumed"]
cpu:
  description: Same as RV(ansible_facts.embedops_cpu), for C(register).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.cpu_info import (
    LSCPU_COMMAND,
    cpu_facts,
    sysfs_topology_complete,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(root=dict(type="path", default="/")),
        supports_check_mode=True,
    )
    root = module.params["root"]
    if not os.path.isdir(root):
        module.fail_json(msg="root %s is not a directory: give the directory that holds proc/ and sys/" % root)
    lscpu_json = None
    if os.path.realpath(root) == os.path.realpath("/") and not sysfs_topology_complete(root):
        binary = module.get_bin_path(LSCPU_COMMAND[0])
        if binary:
            rc, out, dummy = module.run_command([binary] + LSCPU_COMMAND[1:], environ_update={"LC_ALL": "C"})
            if rc == 0:
                lscpu_json = out
    facts = cpu_facts(root, lscpu_json=lscpu_json)
    module.exit_json(changed=False, ansible_facts={"embedops_cpu": facts}, cpu=facts)


if __name__ == "__main__":
    main()
