#!/usr/bin/env bash
# Build the local base images. No registry is reachable, so nothing is pulled:
#   embedops/bookworm          Debian bookworm minbase made with debootstrap and imported
#   embedops/molecule-docker   + Docker CLI and python3-requests: Molecule instance that drives
#                              the host's engine through /var/run/docker.sock (sibling containers)
#   embedops/molecule-systemd  + systemd as PID 1: Molecule instance for roles that manage services
#   embedops/molecule-dind     + Docker engine inside (Docker-in-Docker, unprivileged): roles that
#                              change daemon.json and restart dockerd
#   embedops/ollama-double     a test double of Ollama's REST API (tests/ollama_double)
# Each image is tagged by a hash of its recipe and rebuilt only when the recipe changes; the
# tag `local` always points at the current build.
. "$(dirname "$0")/lib.sh"

images_dir="$EMBEDOPS_ROOT/tests/images"
packages="python3,python3-apt,sudo,ca-certificates,iproute2,procps"

# The Debian mirror this host already uses, so the image sees the same archive.
# Under pipefail no reader here may stop early (`head` would kill its writer with SIGPIPE), and a
# grep that matches nothing, or a sources.list that does not exist (deb822 only), must not fail it.
debian_mirror() {
  local urls u m=""
  urls="$(grep -rhv '^[[:space:]]*#' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
          | grep -oE 'https?://[^ ]*debian[^ ]*' || true)"
  for u in $urls; do
    case "$u" in *-security*) ;; *) m="$u"; break ;; esac
  done
  echo "${m:-http://deb.debian.org/debian}"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

build_base() {
  local tag
  tag="$(printf '%s\n' "bookworm minbase $packages v1" | sha256sum | cut -c1-12)"
  if have_image "embedops/bookworm:$tag"; then
    log "embedops/bookworm:$tag present"
  else
    command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
    local root; root="$(mktemp -d)"
    log "debootstrap bookworm into $root from $(debian_mirror) (about 2 minutes)"
    debootstrap --variant=minbase --include="$packages" bookworm "$root" "$(debian_mirror)" >"$EMBEDOPS_CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $EMBEDOPS_CACHE/debootstrap.log"
    # Keep the mirror the image was made from for apt inside builds.
    echo "deb $(debian_mirror) bookworm main" >"$root/etc/apt/sources.list"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "embedops/bookworm:$tag" >/dev/null
    rm -rf "$root"
  fi
  docker tag "embedops/bookworm:$tag" embedops/bookworm:local
}

build_derived() {
  local name="$1" dir="${2:-$images_dir/$1}" tag
  tag="$( (docker image inspect --format '{{.Id}}' embedops/bookworm:local
           find "$dir" -type f -not -name '*.pyc' | sort | xargs cat) | sha256sum | cut -c1-12)"
  if have_image "embedops/$name:$tag"; then
    log "embedops/$name:$tag present"
  else
    log "building embedops/$name:$tag"
    docker build -q -t "embedops/$name:$tag" "$dir" >/dev/null
  fi
  docker tag "embedops/$name:$tag" "embedops/$name:local"
}

mkdir -p "$EMBEDOPS_CACHE"
build_base
build_derived molecule-docker
build_derived molecule-systemd
build_derived molecule-dind
# The test double of Ollama's REST API (Ollama's binary cannot be had here).
build_derived ollama-double "$EMBEDOPS_ROOT/tests/ollama_double"
