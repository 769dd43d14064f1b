#!/usr/bin/env bash
# Installs the console's browser side (xterm.js, from dashboard/package.json) into
# dashboard/node_modules, and Node.js itself when missing. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null 2>&1 || ../scripts/install-packages.sh nodejs npm
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing xterm.js for the console's terminal (npm ci in dashboard/)"
  npm ci --no-audit --no-fund --loglevel=error
fi
