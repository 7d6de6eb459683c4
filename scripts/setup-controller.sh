#!/usr/bin/env bash
# One-step controller set-up: a pinned Python 3.12 virtual environment with Ansible, Molecule,
# the test and lint tools, and the collections this project depends on.
#
# Galaxy cannot be reached from the build machines, so the collections come from the pinned
# `ansible` package on PyPI, which carries them as plain folders. Users who reach Galaxy can
# instead run: ansible-galaxy collection install -r requirements/collections.yml
. "$(dirname "$0")/lib.sh"

find_python312() {
  # First a Python the user names, then the usual places: PATH, pyenv's versions.
  local candidate
  for candidate in "${EMBEDOPS_PYTHON:-}" python3.13 python3.12 python3 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 12))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

stamp="$EMBEDOPS_VENV/.embedops-requirements"
want="$(recipe_hash "$EMBEDOPS_ROOT/requirements/controller.txt" "$EMBEDOPS_ROOT/requirements/collections.txt" "$0")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "controller venv up to date ($EMBEDOPS_VENV)"
else
  PY="$(find_python312)" || die "ansible-core 2.21 needs Python >= 3.12 on the controller; set EMBEDOPS_PYTHON to one"
  log "creating controller venv with $PY at $EMBEDOPS_VENV"
  rm -rf "$EMBEDOPS_VENV"
  "$PY" -m venv "$EMBEDOPS_VENV"
  "$EMBEDOPS_VENV/bin/pip" install --quiet --upgrade pip==25.3
  log "installing pinned controller packages (requirements/controller.txt)"
  "$EMBEDOPS_VENV/bin/pip" install --quiet -r "$EMBEDOPS_ROOT/requirements/controller.txt" 2> >(quiet_pip >&2)

  # Collections: extract only the ones we depend on from the ansible wheel.
  read -r ansible_pin collections < <(grep -v '^#' "$EMBEDOPS_ROOT/requirements/collections.txt" | grep .)
  site="$("$EMBEDOPS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  wheeldir="$EMBEDOPS_CACHE/wheels"
  mkdir -p "$wheeldir"
  log "fetching $ansible_pin to extract collections: $collections"
  "$EMBEDOPS_VENV/bin/pip" download --quiet --no-deps -d "$wheeldir" "$ansible_pin"
  wheel="$(ls "$wheeldir"/ansible-"${ansible_pin#ansible==}"-py3-none-any.whl)"
  patterns=()
  for c in $collections; do patterns+=("ansible_collections/${c%%.*}/${c#*.}/*"); done
  "$EMBEDOPS_VENV/bin/python" - "$wheel" "$site" "${patterns[@]}" <<'PY'
import fnmatch, sys, zipfile
wheel, dest, *patterns = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    names = [n for n in zf.namelist() if any(fnmatch.fnmatch(n, p) for p in patterns)]
    zf.extractall(dest, names)
print(f"extracted {len(names)} files")
PY
  echo "$want" >"$stamp"
fi

# Expose this working tree as the collection embedops.embeddings.
mkdir -p "$EMBEDOPS_COLLECTIONS/ansible_collections/embedops"
ln -sfn "$EMBEDOPS_ROOT" "$EMBEDOPS_COLLECTIONS/ansible_collections/embedops/embeddings"
# sed reads all of its input: `head -1` would close the pipe while ansible still writes, and under
# pipefail its BrokenPipeError fails the whole script.
"$EMBEDOPS_VENV/bin/ansible" --version | sed -n 1p >&2

# Debian's promtool for the Prometheus rule tests (tests/unit/test_prometheus_rules.py): unpacked into
# .cache/prometheus, nothing installed on the host.
bash "$EMBEDOPS_ROOT/scripts/setup-promtool.sh"
