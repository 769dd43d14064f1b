#!/usr/bin/env bash
# Creates .venv with the locked dependencies (uv; installed with pip when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    scripts/install-packages.sh python3-pip python3-venv
  fi
  echo "==> installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet --user --break-system-packages uv
fi
echo "==> syncing the Python environment (.venv) from uv.lock"
uv sync --frozen --quiet "$@"
