#!/usr/bin/env bash
# Installs the named Debian/Ubuntu packages that are missing (idempotent; apt-get update once).
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
echo "==> installing ${missing[*]}"
$sudo_cmd apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
