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
pytest -n 2 tests/unit tests/integration  # two workers (pytest-xdist): the catalogue cases are ansible-playbook runs

phase "the same tests on the older ansible-core releases meta/runtime.yml claims"
bash scripts/version-matrix.sh

phase "Docker engine and local images"
bash scripts/docker-engine.sh
bash scripts/build-images.sh
phase "vLLM CPU image (built once per recipe hash)"
ansible-playbook -i inventories/local playbooks/vllm_image.yml
phase "execution environment (ansible-builder, built once per recipe hash), and site.yml --check inside it"
bash scripts/ee.sh

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  for d in molecule/*/molecule.yml; do scenarios+=("$(basename "$(dirname "$d")")"); done
fi

# These two run alone: they put real vLLM replicas under load and count failed requests through faults, which
# nothing else should compete with for the two cores. The others (Debian packages in containers, test doubles) run
# two at a time, each with its own containers, networks and ports.
ALONE=" gateway vllm "
SLOTS=2
FILTER='TASK \[|PLAY RECAP|: ok=[0-9]|PASSED|FAILED|SKIPPED|fatal:|ERROR|CRITICAL|slowest|s call |\[(gateway failover|replica killed|rolling update|docker restart|applications|gateway pair|monitoring)'
mkdir -p "$EMBEDOPS_CACHE/logs"

# One scenario: the whole verbose output (-vvv, so the secret search sees everything Ansible can print: module
# arguments, results, diffs) goes to its log; the console gets the task lines, recaps, test results and errors,
# each line prefixed with the scenario's name. Its exit code goes to <log>.rc.
run_scenario() {
  local s=$1 log_file="$EMBEDOPS_CACHE/logs/molecule-$1.log"
  local rc=0
  ANSIBLE_VERBOSITY=3 molecule test -s "$s" > "$log_file" 2>&1 || rc=$?
  echo "$rc" > "$log_file.rc"
}
follow() {  # follow SCENARIO PID: the console's view of a running scenario, until that PID has ended
  local s=$1 pid=$2 log_file="$EMBEDOPS_CACHE/logs/molecule-$1.log"
  tail -n +1 -F --pid="$pid" "$log_file" 2>/dev/null | { grep --line-buffered -aE "$FILTER" || true; } \
    | sed -u "s/^/[$s] /"
}
check_scenario() {  # after the run: its exit code, then the secret search
  local s=$1 log_file="$EMBEDOPS_CACHE/logs/molecule-$1.log"
  if [ "$(cat "$log_file.rc" 2>/dev/null)" != 0 ]; then
    tail -n 300 "$log_file"
    log "molecule scenario $s failed (the whole verbose output: $log_file)"
    return 1
  fi
  log "scenario $s passed: $(wc -c < "$log_file") bytes of verbose output"
  python scripts/no-secrets-in-log.py "$log_file" "molecule/$s"
}
failed=()
declare -A running=() followers=()  # runner PID -> scenario, runner PID -> its console view's PID
start_scenario() {  # in the background, with its console view
  local s=$1 runner
  rm -f "$EMBEDOPS_CACHE/logs/molecule-$s.log.rc"
  : > "$EMBEDOPS_CACHE/logs/molecule-$s.log"
  phase "molecule scenario: $s (started)"
  run_scenario "$s" &
  runner=$!
  follow "$s" "$runner" &
  running[$runner]=$s
  followers[$runner]=$!
}
finish_one() {  # wait for whichever running scenario ends first, then check it
  local pid s
  wait -n -p pid "${!running[@]}" || true
  s=${running[$pid]}
  wait "${followers[$pid]}" || true  # its console view has printed its last lines
  unset "running[$pid]" "followers[$pid]"
  phase "molecule scenario: $s (ended)"
  check_scenario "$s" || failed+=("$s")
}
# The ones that share the cores first (cheapest failures first), then the ones that run alone.
ordered=()
for s in "${scenarios[@]}"; do [[ "$ALONE" == *" $s "* ]] || ordered+=("$s"); done
for s in "${scenarios[@]}"; do [[ "$ALONE" != *" $s "* ]] || ordered+=("$s"); done
for s in "${ordered[@]}"; do
  if [[ "$s" == *_gpu ]] && [ -z "${EMBEDOPS_GPU_HOST:-}" ]; then
    phase "molecule scenario: $s SKIPPED: it needs a real NVIDIA GPU host; set EMBEDOPS_GPU_HOST to one (see molecule/$s/molecule.yml)"
    continue
  fi
  if [[ "$s" == *_online ]] && [ "${EMBEDOPS_ONLINE:-0}" != 1 ]; then
    phase "molecule scenario: $s SKIPPED: it pulls real images and models from the internet, which this machine cannot reach; set EMBEDOPS_ONLINE=1 where it can (see molecule/$s/molecule.yml)"
    continue
  fi
  if [[ "$ALONE" == *" $s "* ]]; then slots=1; else slots=$SLOTS; fi
  while [ ${#running[@]} -ge $slots ]; do finish_one; done
  [ ${#failed[@]} -eq 0 ] || break  # after a failure nothing starts; the ones still running end first
  start_scenario "$s"
  [ $slots != 1 ] || finish_one
done
while [ ${#running[@]} -gt 0 ]; do finish_one; done
[ ${#failed[@]} -eq 0 ] || die "molecule scenarios failed: ${failed[*]} (their verbose output: $EMBEDOPS_CACHE/logs/)"
phase "all tests passed"
