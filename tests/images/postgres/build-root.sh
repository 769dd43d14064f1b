#!/usr/bin/env bash
# Builds a Debian bookworm root with PostgreSQL 15 (no registry needed) and writes it as a tar.
# Usage: build-root.sh OUT.tar   (the tests cache OUT under /var/cache/matrx-test/)
set -euo pipefail
out="$1"
work="$(mktemp -d /var/tmp/matrx-pg-root.XXXXXX)"
root="$work/root"
trap 'rm -rf "$work"' EXIT

echo "==> debootstrap minbase bookworm into $root"
debootstrap --variant=minbase bookworm "$root" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

echo "==> no services in the chroot, no default cluster"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common"
echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.conf"

echo "==> apt-get install postgresql-15"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  postgresql-15 >"$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }

echo "==> trim: JIT (LLVM), locales, docs, apt caches"
rm -f "$root"/usr/lib/postgresql/15/lib/llvmjit*.so
rm -rf "$root"/usr/lib/postgresql/15/lib/bitcode
rm -f "$root"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "$root"/usr/lib/x86_64-linux-gnu/libz3.so*
rm -rf "$root"/usr/share/locale/* "$root"/usr/share/i18n "$root"/usr/share/doc/* "$root"/usr/share/man/*
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
rm -f "$root/usr/sbin/policy-rc.d"

echo "==> writing $out"
mkdir -p "$(dirname "$out")"
tar -C "$root" --numeric-owner -cf "$out.partial" .
mv "$out.partial" "$out"
du -h "$out"
