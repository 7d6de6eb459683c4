"""The tuner's choices for this GPU machine (run by scripts/gpu-check.sh, which sets up the import path)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

from ansible_collections.embedops.embeddings.plugins.module_utils import cpu_info, nvidia_smi
from ansible_collections.embedops.embeddings.plugins.module_utils.vllm_tuning import tune


def run(argv):
    env = dict(os.environ, LC_ALL="C")
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, check=False)  # noqa: S603
    return proc.returncode, proc.stdout, proc.stderr


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="BAAI/bge-m3")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    args = parser.parse_args()

    dirs = os.pathsep.join([os.environ.get("PATH", "")] + list(nvidia_smi.EXTRA_DIRS))
    binary = shutil.which("nvidia-smi", path=dirs)
    if not binary:
        print("nvidia-smi not found on PATH or in %s: no NVIDIA driver here" % ", ".join(nvidia_smi.EXTRA_DIRS))
        return 2
    try:
        gpus = nvidia_smi.read(run, binary)
    except nvidia_smi.NvidiaSmiError as err:
        print(str(err))
        return 2
    cpu = cpu_info.cpu_facts()
    result = tune({"model": args.model, "profile": "gpu"}, gpus["gpus"], cpu=cpu, multi_api_server=True)
    if args.json:
        print(json.dumps({"gpus": gpus, "cpu": cpu, "tune": result}, indent=2, sort_keys=True))
    else:
        missing = "" if gpus["count"] else ": " + str(gpus["reason"])
        print("driver %s, CUDA %s, %d GPU(s)%s"
              % (gpus["driver_version"], gpus["cuda_version"], gpus["count"], missing))
        for gpu in gpus["gpus"]:
            print("  GPU %s: %s, %s MiB, compute capability %s, MIG %s" % (
                gpu["index"], gpu["name"], gpu["memory_total_mib"], gpu["compute_capability"], gpu["mig_mode"]))
        print("CPU: %s, %d physical cores, %d NUMA node(s), bf16 native %s" % (
            cpu["model_name"], cpu["physical_cores"], len(cpu["numa_nodes"]), cpu["bf16_native"]))
        print("vllm_tune for %s:" % args.model)
        for line in result["reasons"]:
            print("  - " + line)
        print("settings: " + json.dumps(result["settings"], sort_keys=True))
        for error in result["errors"]:
            print("ERROR: " + error)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
