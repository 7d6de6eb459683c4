#!/usr/bin/env bash
# The execution environment (execution-environment.yml), built here with ansible-builder and checked:
#   bash scripts/ee.sh        build embedops/ee:<hash> (once per recipe hash), then run site.yml --check for the local
#                             inventory inside it, against this machine's Docker engine
# Offline, as everything here: the image's Python packages come from wheels downloaded first with the controller's pip
# (for the image's Python, Debian bookworm's 3.11) into the build context, the collection from its own built tarball,
# and the collections it depends on from the controller venv, where scripts/setup-controller.sh put them from the
# pinned `ansible` package. The base is this machine's Debian (embedops/bookworm:local, scripts/build-images.sh).
. "$(dirname "$0")/lib.sh"
cd "$EMBEDOPS_ROOT" || exit 1
activate_venv
started=$SECONDS

base="${EMBEDOPS_EE_BASE:-embedops/bookworm:local}"
work="$EMBEDOPS_CACHE/ee"
files="$work/files"
site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

rm -rf "$work"
mkdir -p "$files/wheels" "$files/collection" "$files/ansible_collections"

# The collection as ansible-galaxy builds it (galaxy.yml's build_ignore applies), under a fixed name.
ansible-galaxy collection build --force --output-path "$work" . >/dev/null 2> >(grep -v Cryptography >&2)
mv "$work"/embedops-embeddings-*.tar.gz "$files/collection/embedops-embeddings.tar.gz"

# The collections it depends on, as the controller has them (requirements/collections.txt).
for name in community/docker community/library_inventory_filtering_v1 community/general ansible/posix; do
  mkdir -p "$files/ansible_collections/${name%/*}"
  cp -a "$site/ansible_collections/$name" "$files/ansible_collections/$name"
done

# Every wheel the image's pip installs: the pins of execution-environment.yml, and what ansible-builder's own steps
# install (bindep, pyyaml and packaging in its builder stage, dumb-init in the final one), for CPython 3.11 on x86_64.
pins="$(python - <<'PY'
import yaml
ee = yaml.safe_load(open("execution-environment.yml"))
deps = ee["dependencies"]
print(" ".join([deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"], *deps["python"]]))
PY
)"
# shellcheck disable=SC2086  # one requirement a word
pip download --quiet --dest "$files/wheels" --only-binary=:all: --python-version 3.11 --implementation cp \
  --abi cp311 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  $pins bindep==2.14.0 pyyaml==6.0.4 packaging==26.4 dumb-init==1.2.5 2> >(quiet_pip >&2)

# One image per recipe: the definition, this script, the base, the collection and the wheels.
hash="$( (cat execution-environment.yml "$0"; docker image inspect --format '{{.Id}}' "$base";
          find "$files" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s|$files/||") | sha256sum | cut -c1-12)"
image="embedops/ee:$hash"
if docker image inspect "$image" >/dev/null 2>&1; then
  log "execution environment $image present"
else
  log "building the execution environment $image (ansible-builder, base $base)"
  ansible-builder build --file execution-environment.yml --context "$work/context" --container-runtime docker \
    --tag "$image" --build-arg EE_BASE_IMAGE="$base" --verbosity 1 \
    || die "ansible-builder could not build the execution environment: see above"
fi

# What AWX would run: ansible-playbook inside the image, the project mounted, the host's Docker engine through its
# socket. The local inventory's host is the container itself (connection local), which reaches that engine but has
# no docker.io package: the docker_engine role, rightly, will not install a second engine beside one that answers,
# so it is told to leave the engine as it is (docker_engine_install=false, as its refusal says). --check changes
# nothing. The host's CA bundle goes in too: the model's package index is reached as from the host.
log "site.yml --check for the local inventory, inside $image"
docker run --rm --network host --user root \
  -v /var/run/docker.sock:/var/run/docker.sock -v "$EMBEDOPS_ROOT:/runner/project:ro" -w /runner/project \
  -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -e ANSIBLE_CONFIG=/runner/project/ansible.cfg -e ANSIBLE_COLLECTIONS_PATH=/usr/share/ansible/collections \
  -e ANSIBLE_LOCAL_TEMP=/tmp/ansible-local -e ANSIBLE_REMOTE_TEMP=/tmp/ansible-remote \
  "$image" ansible-playbook -i inventories/local site.yml --check -e docker_engine_install=false \
  || die "site.yml --check failed inside the execution environment $image"
# The collection is in the recipe, so each change of it makes a new image: older ones are removed (their shared
# layers stay with this one).
docker images embedops/ee --format '{{.Repository}}:{{.Tag}}' | grep -vx "$image" | xargs -r docker rmi >/dev/null || true
log "execution environment: passed in $((SECONDS - started))s"
