#!/usr/bin/env bash
# Starts the Docker engine when none answers (systemd when it runs, else dockerd in the background).
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  "$(dirname "$0")/install-packages.sh" docker.io
fi
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo "==> starting docker with systemd"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd systemctl start docker
else
  echo "==> starting dockerd in the background (log: /var/log/matrx-ship/dockerd.log)"
  mkdir -p /var/log/matrx-ship
  nohup dockerd >/var/log/matrx-ship/dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { echo "==> docker is up"; exit 0; }
  sleep 0.5
done
echo "docker did not start; see /var/log/matrx-ship/dockerd.log" >&2
exit 1
