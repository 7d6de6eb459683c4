#!/usr/bin/env bash
# Every test of the collection, in the order a failure is cheapest to find:
#   lint -> collection build -> unit tests -> Molecule scenarios (real Docker, real vLLM).
# Sets up what it needs (controller venv, Docker engine, local images) on a fresh machine.
# Usage: scripts/test.sh [scenario ...]   (default: every scenario under molecule/)
. "$(dirname "$0")/lib.sh"
cd "$EMBEDOPS_ROOT" || exit 1
started=$SECONDS
phase() { log "[$(( SECONDS - started ))s] $*"; }

phase "controller toolchain"
bash scripts/setup-controller.sh
activate_venv

phase "lint: yamllint"
yamllint --strict .
phase "lint: ruff"
ruff check .
phase "lint: mypy (plugins/module_utils, as Python 3.9 code)"
mypy
python scripts/bad-input-table.py --check  # docs/security.md's table is the catalogue tests/integration runs
python scripts/role-docs.py --check        # docs/roles/ is the roles' argument specs
python scripts/make-dashboard.py --check   # the Grafana dashboard is what the script writes
phase "lint: ansible-lint (production profile, offline)"
ansible-lint --offline --profile production

phase "ansible-test sanity (offline, local)"
bash scripts/sanity.sh

phase "collection build and install"
dist="$EMBEDOPS_CACHE/dist"; rm -rf "$dist"; mkdir -p "$dist"
ansible-galaxy collection build --force --output-path "$dist" . >/dev/null
ansible-galaxy collection install --force --offline --no-deps -p "$dist/installed" "$dist"/embedops-embeddings-*.tar.gz 2>&1 \
  | grep -v "is not part of the configured Ansible collections paths" >&2 || true
test -f "$dist/installed/ansible_collections/embedops/embeddings/MANIFEST.json"
ANSIBLE_COLLECTIONS_PATH="$dist/installed" ansible-doc -t module embedops.embeddings.embeddings_verify >/dev/null
log "built $(basename "$dist"/embedops-embeddings-*.tar.gz) and installed it"

phase "unit tests, and the role refusing bad input before the host changes"
pytest tests/unit tests/integration

phase "Docker engine and local images"
bash scripts/docker-engine.sh
bash scripts/build-images.sh
phase "vLLM CPU image (built once per recipe hash)"
ansible-playbook -i inventories/local playbooks/vllm_image.yml

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for d in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$d")")"); done
fi
for s in "${scenarios[@]}"; do
  if [[ "$s" == *_gpu ]] && [ -z "${EMBEDOPS_GPU_HOST:-}" ]; then
    phase "molecule scenario: $s SKIPPED: it needs a real NVIDIA GPU host; set EMBEDOPS_GPU_HOST to one (see molecule/$s/molecule.yml)"
    continue
  fi
  if [[ "$s" == *_online ]] && [ "${EMBEDOPS_ONLINE:-0}" != 1 ]; then
    phase "molecule scenario: $s SKIPPED: it pulls real images and models from the internet, which this machine cannot reach; set EMBEDOPS_ONLINE=1 where it can (see molecule/$s/molecule.yml)"
    continue
  fi
  phase "molecule scenario: $s"
  mkdir -p "$EMBEDOPS_CACHE/logs"
  # Verbose (-vvv) so the secret search below sees everything Ansible can print: module arguments,
  # results, diffs. The whole output goes to the log; the console gets the task lines, recaps, test
  # results and errors, and the log's last 300 lines when the scenario fails.
  log_file="$EMBEDOPS_CACHE/logs/molecule-$s.log"
  { ANSIBLE_VERBOSITY=3 molecule test -s "$s" 2>&1; echo $? > "$log_file.rc"; } | tee "$log_file" \
    | { grep --line-buffered -E 'TASK \[|PLAY RECAP|: ok=[0-9]|PASSED|FAILED|SKIPPED|fatal:|ERROR|CRITICAL|\[(gateway failover|replica killed|rolling update|docker restart|applications|gateway pair|monitoring)' || true; }
  if [ "$(cat "$log_file.rc")" != 0 ]; then
    tail -n 300 "$log_file"
    die "molecule scenario $s failed (the whole verbose output: $log_file)"
  fi
  log "scenario $s: $(wc -c < "$log_file") bytes of verbose output"
  python scripts/no-secrets-in-log.py "$log_file" "molecule/$s"
done
phase "all tests passed"
