#!/usr/bin/env bash
# A stand-in for Docker's apt repository (download.docker.com/linux/debian), which cannot be reached
# here: the same layout (dists/<suite>/InRelease signed, dists/<suite>/stable/binary-<arch>/Packages,
# pool/, the ASCII key at <dir>/gpg), signed by a throw-away key. For the first VERSION, docker-ce is
# Debian's own engine (docker.io's files and maintainer scripts under Docker's package name and
# version: so the installed engine really runs); every other VERSION, docker-ce-cli and containerd.io
# are empty packages. A role that installs the wrong version gets no engine and fails.
# Needs apt lists for docker.io on this machine (apt-get download), gpg, dpkg-deb, ar.
# Usage: fake-docker-repo.sh DIR SUITE VERSION...    (VERSION: upstream, such as 27.3.1)
set -euo pipefail
root="${1:?usage: fake-docker-repo.sh DIR SUITE VERSION...}"
suite="${2:?usage: fake-docker-repo.sh DIR SUITE VERSION...}"
shift 2
arch="$(dpkg --print-architecture)"
pool="$root/pool/stable"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$pool" "$root/dists/$suite/stable/binary-$arch"
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "embedops test docker mirror <test@embedops.invalid>" ed25519 sign never
gpg --batch --armor --export >"$root/gpg"

debversion() { echo "5:$1-1~debian.12~$suite"; }

empty_package() {  # NAME VERSION [DEPENDS]
  local dir="$work/$1-$2"
  mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$1"
  {
    echo "Package: $1"
    echo "Version: $2"
    echo "Architecture: $arch"
    echo "Maintainer: embedops tests <test@embedops.invalid>"
    [ -z "${3:-}" ] || echo "Depends: $3"
    echo "Description: empty stand-in for Docker's $1 (tests only)"
  } >"$dir/DEBIAN/control"
  echo "stand-in for tests" >"$dir/usr/share/doc/$1/README.embedops"
  dpkg-deb --root-owner-group --build "$dir" "$pool/${1}_${2#*:}_${arch}.deb" >/dev/null
}

# docker.io's payload under Docker's name: only the control member of the .deb changes, the data
# member is reused as it is (no recompression of 150 MB).
engine_package() {  # VERSION
  local version="$1" dir="$work/engine"
  mkdir -p "$dir/control"
  (cd "$work" && apt-get download docker.io >/dev/null 2>&1) || {
    echo "apt-get download docker.io failed: this machine needs Debian's package lists (apt-get update)" >&2; exit 1; }
  local deb; deb="$(ls "$work"/docker.io_*.deb)"
  (cd "$dir" && ar x "$deb")
  tar -C "$dir/control" -xf "$dir"/control.tar.*
  rm "$dir"/control.tar.*
  python3 - "$dir/control/control" "$version" <<'PY'
import sys
path, version = sys.argv[1], sys.argv[2]
entries = []  # one per field, continuation lines included
for line in open(path).read().split("\n"):
    if line[:1] in (" ", "\t") and entries:
        entries[-1] += "\n" + line
    elif line:
        entries.append(line)
keep = []
for entry in entries:
    name = entry.split(":", 1)[0]
    if name in ("Source", "Conflicts", "Built-Using", "Breaks", "Replaces"):
        continue
    if name == "Package":
        entry = "Package: docker-ce"
    elif name == "Version":
        entry = "Version: " + version
    elif name == "Depends":
        entry += ", docker-ce-cli (= %s), containerd.io" % version
    keep.append(entry)
open(path, "w").write("\n".join(keep) + "\n")
PY
  tar -C "$dir/control" --owner=0 --group=0 -cJf "$dir/control.tar.xz" .
  local data; data="$(cd "$dir" && ls data.tar.*)"
  (cd "$dir" && ar rc "$pool/docker-ce_${version#*:}_${arch}.deb" debian-binary control.tar.xz "$data")
}

first=1
for upstream in "$@"; do
  version="$(debversion "$upstream")"
  if [ "$first" = 1 ]; then
    engine_package "$version"
    first=0
  else
    empty_package docker-ce "$version" "docker-ce-cli (= $version), containerd.io"
  fi
  empty_package docker-ce-cli "$version"
done
empty_package containerd.io 1.7.22-1

cd "$root"
python3 - "$suite" "$arch" <<'PY'
import email.utils
import hashlib
import os
import subprocess
import sys

suite, arch = sys.argv[1], sys.argv[2]
entries = []
for deb in sorted(os.listdir("pool/stable")):
    path = "pool/stable/" + deb
    control = subprocess.run(["dpkg-deb", "-f", path], capture_output=True, text=True, check=True).stdout.strip()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    entries.append("%s\nFilename: %s\nSize: %d\nSHA256: %s\n" % (control, path, os.path.getsize(path), digest.hexdigest()))
packages_path = "stable/binary-%s/Packages" % arch
with open("dists/%s/%s" % (suite, packages_path), "w") as f:
    f.write("\n".join(entries))
with open("dists/%s/%s" % (suite, packages_path), "rb") as f:
    packages = f.read()
with open("dists/%s/Release" % suite, "w") as f:
    f.write("Origin: embedops tests\nLabel: stand-in for Docker's repository\nSuite: %s\nCodename: %s\n"
            "Architectures: %s\nComponents: stable\nDate: %s\nSHA256:\n %s %d %s\n"
            % (suite, suite, arch, email.utils.formatdate(usegmt=True), hashlib.sha256(packages).hexdigest(),
               len(packages), packages_path))
PY
gpg --batch --yes --clearsign --output "dists/$suite/InRelease" "dists/$suite/Release"
