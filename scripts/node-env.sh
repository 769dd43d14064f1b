#!/usr/bin/env bash
# Installs the CDK CLI (package.json) into node_modules/, and Node.js itself when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null 2>&1 || scripts/install-packages.sh nodejs npm
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing the CDK CLI (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
