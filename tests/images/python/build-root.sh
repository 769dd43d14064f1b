#!/usr/bin/env bash
# Builds a Debian bookworm root with python3 3.11 and pip (what python:3.11-slim-bookworm gives)
# without a registry, and writes it as a tar: the local stand-in for the console image's BASE.
# It also trusts this machine's extra CAs (/usr/local/share/ca-certificates), as a base image
# on a network with a TLS-inspecting egress proxy must, so pip inside `docker build` works.
# Usage: build-root.sh OUT.tar   (the tests cache OUT under /var/cache/matrx-test/)
set -euo pipefail
out="$1"
work="$(mktemp -d /var/tmp/matrx-py-root.XXXXXX)"
root="$work/root"
trap 'rm -rf "$work"' EXIT

echo "==> debootstrap minbase bookworm into $root"
debootstrap --variant=minbase bookworm "$root" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

echo "==> apt-get install python3 python3-pip ca-certificates"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  python3 python3-pip ca-certificates >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }

echo "==> trusting this machine's extra CAs"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$root" update-ca-certificates >/dev/null

echo "==> trim: locales, docs, apt caches"
rm -rf "$root"/usr/share/locale/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
rm -f "$root/usr/sbin/policy-rc.d"

echo "==> writing $out"
mkdir -p "$(dirname "$out")"
tar -C "$root" --numeric-owner -cf "$out.partial" .
mv "$out.partial" "$out"
du -h "$out"
