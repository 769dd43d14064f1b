#!/usr/bin/env bash
# README command (1): sets up and runs the agent and the console on the embedded defaults
# (SQLite state, a local blob folder, this machine's Docker engine). Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-packages.sh ca-certificates curl git docker.io
scripts/start-docker.sh
scripts/python-env.sh
dashboard/setup.sh
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
console_port="${MATRX_CONSOLE_PORT:-8501}"
.venv/bin/python -m matrx_ship.clientconfig write "http://127.0.0.1:$port" "$MATRX_ADMIN_TOKEN"
mkdir -p "$MATRX_DATA_DIR"
echo "==> starting the agent (log: $MATRX_DATA_DIR/agent.log)"
.venv/bin/python -m onbox_agent >>"$MATRX_DATA_DIR/agent.log" 2>&1 &
agent_pid=$!
trap 'kill "$agent_pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$agent_pid" 2>/dev/null || { echo "the agent exited; see $MATRX_DATA_DIR/agent.log" >&2; exit 1; }
  sleep 0.5
done
cat <<MSG

  matrx-ship
  agent:        http://127.0.0.1:$port   (API docs: http://127.0.0.1:$port/docs)
  console:      http://127.0.0.1:$console_port   (sign in with the admin token)
  admin token:  $MATRX_ADMIN_TOKEN
  state:        $MATRX_DATA_DIR (embedded SQLite + local blobs: NOT durable)
  secrets file: $env_file

MSG
MATRX_AGENT_URL="http://127.0.0.1:$port" MATRX_CONSOLE_SCOPE="${MATRX_CONSOLE_SCOPE:-manager}" \
  .venv/bin/streamlit run dashboard/streamlit_app.py --server.port "$console_port" \
  --server.address 127.0.0.1 --server.headless true
