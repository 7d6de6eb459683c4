#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# - If one already answers (systemd, a service, someone else's dockerd), use it and leave it alone.
# - Otherwise install Debian's docker.io if needed and start dockerd in the background
#   (overlay2, falling back to vfs). A daemon this script starts is recorded in
#   $EMBEDOPS_CACHE/dockerd.pid; no other daemon is ever stopped.
. "$(dirname "$0")/lib.sh"

if docker info >/dev/null 2>&1; then
  log "Docker engine answers: $(docker info --format '{{.ServerVersion}} ({{.Driver}})')"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io (engine) with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  log "starting docker with systemd"
  systemctl start docker
else
  mkdir -p "$EMBEDOPS_CACHE"
  start_dockerd() {
    log "starting dockerd in the background (storage driver $1)"
    nohup dockerd --storage-driver "$1" >"$EMBEDOPS_CACHE/dockerd.log" 2>&1 &
    echo $! >"$EMBEDOPS_CACHE/dockerd.pid"
    for _ in $(seq 60); do
      docker info >/dev/null 2>&1 && return 0
      kill -0 "$(cat "$EMBEDOPS_CACHE/dockerd.pid")" 2>/dev/null || return 1
      sleep 1
    done
    return 1
  }
  if ! start_dockerd overlay2; then
    log "overlay2 did not work (see $EMBEDOPS_CACHE/dockerd.log); falling back to vfs"
    kill "$(cat "$EMBEDOPS_CACHE/dockerd.pid")" 2>/dev/null || true
    sleep 2
    start_dockerd vfs || die "dockerd did not start; see $EMBEDOPS_CACHE/dockerd.log"
  fi
fi
docker info >/dev/null 2>&1 || die "Docker engine does not answer after start"
log "Docker engine answers: $(docker info --format '{{.ServerVersion}} ({{.Driver}})')"
