#!/usr/bin/env bash
# A stand-in for NVIDIA's apt repository, which cannot be reached here: the same flat layout
# (<dir>/stable/deb/<arch>/ with Packages and a signed InRelease, the ASCII key at <dir>/gpgkey),
# signed by a throw-away key, holding empty packages with NVIDIA's four names and dependencies in
# each VERSION given. The role installs from it as from NVIDIA's repository or an internal mirror.
# Usage: fake-nvidia-repo.sh DIR VERSION...
set -euo pipefail
root="${1:?usage: fake-nvidia-repo.sh DIR VERSION...}"
shift
arch="$(dpkg --print-architecture)"
repo="$root/stable/deb/$arch"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$repo"
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "embedops test mirror <test@embedops.invalid>" ed25519 sign never
gpg --batch --armor --export >"$root/gpgkey"

for version in "$@"; do
  for pkg in libnvidia-container1 libnvidia-container-tools nvidia-container-toolkit-base nvidia-container-toolkit; do
    case "$pkg" in
      libnvidia-container-tools) depends="libnvidia-container1 (= $version)" ;;
      nvidia-container-toolkit) depends="nvidia-container-toolkit-base (= $version), libnvidia-container-tools (= $version)" ;;
      *) depends="" ;;
    esac
    dir="$work/$pkg-$version"
    mkdir -p "$dir/DEBIAN" "$dir/usr/share/doc/$pkg"
    {
      echo "Package: $pkg"
      echo "Version: $version"
      echo "Architecture: $arch"
      echo "Maintainer: embedops tests <test@embedops.invalid>"
      [ -z "$depends" ] || echo "Depends: $depends"
      echo "Description: empty stand-in for NVIDIA's $pkg (tests only)"
    } >"$dir/DEBIAN/control"
    echo "stand-in for tests" >"$dir/usr/share/doc/$pkg/README.embedops"
    dpkg-deb --root-owner-group --build "$dir" "$repo/${pkg}_${version}_${arch}.deb" >/dev/null
  done
done

cd "$repo"
python3 - <<'PY'
import email.utils
import hashlib
import os
import subprocess

entries = []
for deb in sorted(name for name in os.listdir(".") if name.endswith(".deb")):
    control = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True, check=True).stdout.strip()
    with open(deb, "rb") as f:
        data = f.read()
    entries.append("%s\nFilename: ./%s\nSize: %d\nSHA256: %s\n" % (control, deb, len(data), hashlib.sha256(data).hexdigest()))
with open("Packages", "w") as f:
    f.write("\n".join(entries))
with open("Packages", "rb") as f:
    packages = f.read()
with open("Release", "w") as f:
    f.write("Origin: embedops tests\nLabel: stand-in for NVIDIA's container toolkit repository\nDate: %s\nSHA256:\n %s %d Packages\n"
            % (email.utils.formatdate(usegmt=True), hashlib.sha256(packages).hexdigest(), len(packages)))
PY
gpg --batch --yes --clearsign --output InRelease Release
