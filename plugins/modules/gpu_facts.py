#!/usr/bin/python
# Copyright: (c) 2026, embedops.embeddings contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: gpu_facts
short_description: Facts about a host's NVIDIA GPUs, from nvidia-smi
description:
  - Runs C(nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.free,driver_version,compute_cap,mig.mode.current
    --format=csv,noheader,nounits) and plain C(nvidia-smi) (for the CUDA version in its header) and returns what they
    say as facts.
  - A host without C(nvidia-smi), or whose driver cannot be reached (for example C(NVIDIA-SMI has failed because it
    couldn't communicate with the NVIDIA driver), C(No devices were found)), has zero GPUs; the module does not fail
    and RV(ansible_facts.embedops_gpu_reason) says why.
  - Drivers older than 510 do not know the field C(compute_cap); the module asks again without it and reports
    C(compute_capability) as null.
  - Read-only, so it runs in check mode too and never reports a change.
version_added: 0.1.0
author: embedops.embeddings contributors (@embedops)
options:
  nvidia_smi_path:
    description:
      - Path of C(nvidia-smi). By default it is looked up on E(PATH) and in C(/usr/bin), C(/usr/local/nvidia/bin)
        and C(/usr/lib/wsl/lib).
      - A path given here that does not exist is an error, not zero GPUs.
    type: path
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
notes:
  - C(memory_free_mib) changes with every process on the GPU, including the host's own model servers; decide on
    C(memory_total_mib), and read the free memory as information.
seealso:
  - name: nvidia-smi documentation
    description: The query fields and their meaning (C(nvidia-smi --help-query-gpu)).
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
"""

EXAMPLES = r"""
- name: Read the GPUs
  embedops.embeddings.gpu_facts:

- name: Name the GPUs
  ansible.builtin.debug:
    msg: "{{ ansible_facts.embedops_gpus | map(attribute='name') | join(', ') }}"
  when: ansible_facts.embedops_gpu_count > 0

- name: Say why there is no GPU
  ansible.builtin.debug:
    msg: "No GPU: {{ ansible_facts.embedops_gpu_reason }}"
  when: ansible_facts.embedops_gpu_count == 0

- name: nvidia-smi in a non-standard place
  embedops.embeddings.gpu_facts:
    nvidia_smi_path: /opt/nvidia/bin/nvidia-smi
"""

RETURN = r"""
ansible_facts:
  description: The GPU facts.
  returned: always
  type: dict
  contains:
    embedops_gpus:
      description: One entry per GPU, sorted by index. Fields nvidia-smi reports as C([N/A]) are null.
      type: list
      elements: dict
      contains:
        index:
          description: The GPU's index, as C(CUDA_VISIBLE_DEVICES) and Docker's C(device_ids) take it.
          type: int
        uuid:
          description: The GPU's UUID.
          type: str
        name:
          description: The product name.
          type: str
        memory_total_mib:
          description: Memory of the card in MiB.
          type: int
        memory_free_mib:
          description: Memory free when the module ran, in MiB.
          type: int
        compute_capability:
          description: CUDA compute capability, such as V(8.6); null on drivers before 510.
          type: str
        mig_mode:
          description: V(Enabled) or V(Disabled); null on GPUs without MIG.
          type: str
      sample:
        - index: 0
          uuid: GPU-8f6e1c2a-4b7d-11ee-9a3c-0242ac120002
          name: NVIDIA H100 80GB HBM3
          memory_total_mib: 81559
          memory_free_mib: 81004
          compute_capability: "9.0"
          mig_mode: Disabled
    embedops_gpu_count:
      description: Number of GPUs; 0 without nvidia-smi or driver.
      type: int
      sample: 1
    embedops_gpu_driver_version:
      description: NVIDIA driver version; null without GPUs.
      type: str
      sample: 550.54.15
    embedops_gpu_cuda_version:
      description: Newest CUDA version the driver supports, from the header of C(nvidia-smi); null when unknown.
      type: str
      sample: "12.4"
    embedops_gpu_reason:
      description: Why there is no GPU; null when there are GPUs.
      type: str
      sample: nvidia-smi not found on PATH or in /usr/bin, /usr/local/nvidia/bin, /usr/lib/wsl/lib (no NVIDIA driver)
gpus:
  description: Same as RV(ansible_facts.embedops_gpus), for C(register).
  returned: always
  type: list
  elements: dict
count:
  description: Same as RV(ansible_facts.embedops_gpu_count).
  returned: always
  type: int
  sample: 1
driver_version:
  description: Same as RV(ansible_facts.embedops_gpu_driver_version).
  returned: always
  type: str
  sample: 550.54.15
cuda_version:
  description: Same as RV(ansible_facts.embedops_gpu_cuda_version).
  returned: always
  type: str
  sample: "12.4"
reason:
  description: Same as RV(ansible_facts.embedops_gpu_reason).
  returned: always
  type: str
  sample: >-
    nvidia-smi found no usable GPU: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.
    Make sure that the latest NVIDIA driver is installed and running.
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.embedops.embeddings.plugins.module_utils.nvidia_smi import (
    EXTRA_DIRS,
    NvidiaSmiError,
    read,
)


def read_gpus(module, binary):
    """The facts from one host's nvidia-smi (the C locale, so numbers and messages read the same everywhere)."""
    return read(lambda argv: module.run_command(argv, environ_update={"LC_ALL": "C"}), binary)


def main():
    module = AnsibleModule(
        argument_spec=dict(nvidia_smi_path=dict(type="path")),
        supports_check_mode=True,
    )
    binary = module.params["nvidia_smi_path"]
    if binary:
        if not os.access(binary, os.X_OK):
            module.fail_json(
                msg="nvidia_smi_path %s is not an executable file: fix the path, or leave nvidia_smi_path unset to "
                "look nvidia-smi up on PATH" % binary
            )
    else:
        binary = module.get_bin_path("nvidia-smi", opt_dirs=EXTRA_DIRS)
    if not binary:
        facts = {
            "gpus": [], "count": 0, "driver_version": None, "cuda_version": None,
            "reason": "nvidia-smi not found on PATH or in %s (no NVIDIA driver)" % ", ".join(EXTRA_DIRS),
        }
    else:
        try:
            facts = read_gpus(module, binary)
        except NvidiaSmiError as exc:
            module.fail_json(msg="%s: %s" % (binary, exc))
    module.exit_json(
        changed=False,
        ansible_facts={
            "embedops_gpus": facts["gpus"],
            "embedops_gpu_count": facts["count"],
            "embedops_gpu_driver_version": facts["driver_version"],
            "embedops_gpu_cuda_version": facts["cuda_version"],
            "embedops_gpu_reason": facts["reason"],
        },
        **facts
    )


if __name__ == "__main__":
    main()
