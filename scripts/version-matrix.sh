#!/usr/bin/env bash
# The unit and integration tests (pytest tests/unit tests/integration: the roles' preflights, the monitoring role's
# files with promtool, the operator playbooks on inventories/prod, the modules and filters), and the sanity tests that
# depend on ansible-core's version, on each ansible-core that meta/runtime.yml claims, besides the controller's own
# (2.21, the rest of `make test`).
# Each runs in a venv of its own, made once per pin under ~/.cache/embedops/ (EMBEDOPS_MATRIX_HOME), with the same
# Python as the controller venv, the same test packages, and the collections the controller venv holds on the path.
. "$(dirname "$0")/lib.sh"
cd "$EMBEDOPS_ROOT" || exit 1

# requires_ansible in meta/runtime.yml is the first of these; bump the pins with ansible-core's releases.
VERSIONS="${EMBEDOPS_MATRIX_VERSIONS:-2.19.14 2.20.10}"
home="${EMBEDOPS_MATRIX_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/embedops/ansible-core}"
base_python="$("$EMBEDOPS_VENV/bin/python" -c 'import sys; print(sys._base_executable)')"
site="$("$EMBEDOPS_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# The test packages of requirements/controller.txt, at its pins (no ansible-core, no lint or Molecule).
packages="$(grep -E '^(pytest|pytest-xdist|requests|openai|aiohttp)==' requirements/controller.txt | sed 's/ .*//')"

for version in $VERSIONS; do
  venv="$home/$version"
  if ! "$venv/bin/python" -c "import ansible, sys; sys.exit(ansible.__version__ != '$version')" 2>/dev/null; then
    log "ansible-core $version: a venv of its own at $venv"
    rm -rf "$venv"
    "$base_python" -m venv "$venv"
    # shellcheck disable=SC2086  # one package a word
    "$venv/bin/pip" install --quiet "ansible-core==$version" $packages 2> >(quiet_pip >&2)
  fi
  log "ansible-core $version: unit and integration tests"
  ANSIBLE_COLLECTIONS_PATH="$EMBEDOPS_COLLECTIONS:$site" \
    "$venv/bin/python" -m pytest -q -n 2 -p no:cacheprovider tests/unit tests/integration \
    || die "the tests failed on ansible-core $version (meta/runtime.yml claims it): see above"
  # The sanity tests whose verdict depends on ansible-core itself: the modules' and plugins' documentation and
  # argument specs as this release reads them, meta/runtime.yml against its schema, and every module and
  # module_utils importing only what this release's ansible.module_utils has (on the controller's Python: the
  # Pythons of the managed hosts are covered by the full sanity run).
  log "ansible-core $version: ansible-test sanity (ansible-doc, validate-modules, runtime-metadata, import)"
  EMBEDOPS_SANITY_VENV="$venv" bash scripts/sanity.sh ansible-doc validate-modules runtime-metadata import \
    --python "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    || die "ansible-test sanity failed on ansible-core $version (meta/runtime.yml claims it): see above"
done
