#!/usr/bin/env bash
# The GPU check for a bare NVIDIA machine: Python 3 and the driver's nvidia-smi, nothing else (no Docker,
# vLLM, Ansible or network). It reads the GPUs as the gpu_facts module does, the CPU as cpu_facts does, and
# prints what vllm_tune would choose for a model on this machine (default BAAI/bge-m3), each with its reason.
#
#   bash scripts/gpu-check.sh [--model BAAI/bge-m3] [--json]
#
# Exit status: 0 when the tuner has a configuration for this machine, 1 when it refuses (the errors say
# why), 2 when nvidia-smi is missing or fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The collection's module_utils are imported by their real names, as Ansible imports them.
mkdir -p "$tmp/ansible_collections/embedops"
ln -s "$root" "$tmp/ansible_collections/embedops/embeddings"
PYTHONPATH="$tmp" exec timeout 240 "${EMBEDOPS_PYTHON:-python3}" "$root/scripts/gpu_check.py" "$@"
