#!/usr/bin/env bash
# Debian's promtool (package prometheus, 2.42 on bookworm) for the rule tests, without installing a
# service: the package is downloaded with apt and unpacked into .cache/prometheus, and nothing else
# on the host changes. promtool links only against libc.
#   bash scripts/setup-promtool.sh      -> .cache/prometheus/usr/bin/promtool
# tests/unit/test_prometheus_rules.py runs it (or the promtool that PROMTOOL names).
. "$(dirname "$0")/lib.sh"

dest="$EMBEDOPS_CACHE/prometheus"
promtool="$dest/usr/bin/promtool"
stamp="$dest/.embedops-version"
command -v apt-get >/dev/null || { log "no apt-get here: promtool not set up (set PROMTOOL to a promtool 2.42 for the rule tests)"; exit 0; }

want="$(apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: //p')"
if [ -z "$want" ] || [ "$want" = "(none)" ]; then
  log "apt knows no prometheus package yet: reading the package lists"
  apt-get update -qq
  want="$(apt-cache policy prometheus | sed -n 's/^ *Candidate: //p')"
  { [ -n "$want" ] && [ "$want" != "(none)" ]; } || die "no prometheus package in this host's apt sources (Debian bookworm has 2.42)"
fi
if [ -x "$promtool" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  log "promtool $want present ($promtool)"
  exit 0
fi

log "unpacking Debian's prometheus $want into $dest (promtool only; nothing installed)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# apt-get download runs as the invoking user in the current folder; as root it warns that _apt
# cannot write there, which is harmless.
(cd "$work" && apt-get download -q "prometheus=$want" 2> >(grep -v "unsandboxed as root" >&2))
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
mkdir -p "$dest/usr/bin"
cp "$work/x/usr/bin/promtool" "$promtool"
echo "$want" >"$stamp"
"$promtool" --version 2>&1 | sed -n 1p >&2
