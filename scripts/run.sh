#!/usr/bin/env bash
# README command (1): sets up and runs the agent on the embedded defaults
# (SQLite state, a local blob folder, this machine's Docker engine).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh ca-certificates git docker.io
scripts/start-docker.sh
scripts/python-env.sh
config_dir="${XDG_CONFIG_HOME:-$HOME/.config}/matrx-ship"
env_file="$config_dir/agent.env"
mkdir -p "$config_dir"
if [ ! -f "$env_file" ]; then
  echo "==> creating $env_file with a new admin token and master key (keep it safe)"
  umask 077
  .venv/bin/python - "$env_file" <<'PY'
import secrets, sys
with open(sys.argv[1], "w") as f:
    f.write(f"MATRX_ADMIN_TOKEN=msk_{secrets.token_urlsafe(32)}\n")
    f.write(f"MATRX_MASTER_KEY={secrets.token_urlsafe(32)}\n")
PY
fi
set -a
# shellcheck disable=SC1090
. "$env_file"
set +a
export MATRX_DATA_DIR="${MATRX_DATA_DIR:-$HOME/.local/share/matrx-ship}"
port="${MATRX_AGENT_PORT:-8700}"
.venv/bin/python -m matrx_ship.clientconfig write "http://127.0.0.1:$port" "$MATRX_ADMIN_TOKEN"
cat <<MSG

  matrx-ship agent
  URL:          http://127.0.0.1:$port   (API docs: http://127.0.0.1:$port/docs)
  admin token:  $MATRX_ADMIN_TOKEN
  state:        $MATRX_DATA_DIR (embedded SQLite + local blobs: NOT durable)
  secrets file: $env_file

MSG
exec .venv/bin/python -m onbox_agent
