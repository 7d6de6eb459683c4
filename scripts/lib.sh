# Shared helpers for the scripts in this folder. Sourced, not executed.
# shellcheck shell=bash
set -euo pipefail

EMBEDOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Always derived from this checkout, never inherited: a shell that sourced another checkout's
# lib.sh must not point this one at that checkout's venv.
EMBEDOPS_VENV="$EMBEDOPS_ROOT/.venv"
EMBEDOPS_CACHE="$EMBEDOPS_ROOT/.cache"
# The collection is exposed to Ansible through a symlink tree, so playbooks and Molecule
# resolve embedops.embeddings.* to this working tree.
EMBEDOPS_COLLECTIONS="$EMBEDOPS_CACHE/collections"
export EMBEDOPS_ROOT EMBEDOPS_VENV EMBEDOPS_CACHE EMBEDOPS_COLLECTIONS

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# Hash of the files that make up a recipe; used as an image tag so that an image is rebuilt
# only when its recipe changes.
recipe_hash() {
  cat "$@" | sha256sum | cut -c1-12
}

activate_venv() {
  [ -x "$EMBEDOPS_VENV/bin/ansible-playbook" ] || die "no controller venv at $EMBEDOPS_VENV: run 'make setup' first"
  # shellcheck disable=SC1091
  . "$EMBEDOPS_VENV/bin/activate"
  export ANSIBLE_COLLECTIONS_PATH="$EMBEDOPS_COLLECTIONS"
  export ANSIBLE_CONFIG="$EMBEDOPS_ROOT/ansible.cfg"
}

# pip on these machines is configured with extra local indexes that do not exist for most
# packages; drop its warning about each of them, keep everything else.
quiet_pip() { grep -v "is ignored: it is neither a file nor a directory" || true; }
