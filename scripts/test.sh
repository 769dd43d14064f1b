#!/usr/bin/env bash
# README command (2): installs and starts what the tests need, then lints and runs every test.
# The Docker engine is started here; PostgreSQL and the S3 endpoint (moto) are started by the
# test fixtures on free loopback ports and stopped at the end. Arguments go to pytest:
# `scripts/test.sh -m "not engine"` is the fast lane: no engine test, no PostgreSQL or moto.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> system packages (docker.io, busybox-static, postgresql, debootstrap, chromium)"
scripts/install-packages.sh ca-certificates git docker.io busybox-static postgresql debootstrap \
  chromium
scripts/start-docker.sh
scripts/python-env.sh
scripts/node-env.sh
dashboard/setup.sh
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
echo "==> lint: ruff and mypy"
.venv/bin/ruff check .
.venv/bin/mypy
echo "==> tests: pytest $*"
exec .venv/bin/pytest "$@"
