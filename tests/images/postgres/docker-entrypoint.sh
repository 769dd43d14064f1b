#!/bin/bash
# The official postgres image's entrypoint contract: on first start initdb with
# POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB in $PGDATA, run
# /docker-entrypoint-initdb.d/*.sql (and *.sh), then exec the server on all
# addresses: scram-sha-256 over TCP, trust on the local socket.
set -Eeuo pipefail

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

init_cluster() {
  local user="${POSTGRES_USER:-postgres}"
  local db="${POSTGRES_DB:-$user}"
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "error: POSTGRES_PASSWORD is not set; the database would have no password" >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  echo "initdb: user $user, database $db, data in $PGDATA"
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 \
    -D "$PGDATA" >/dev/null
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" \
    -w start >/dev/null
  local psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$user" -h /var/run/postgresql)
  if [ "$db" != postgres ]; then
    "${psql[@]}" --dbname postgres -q -c "CREATE DATABASE \"$db\""
  fi
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) echo "running $f"; "${psql[@]}" --dbname "$db" -q -f "$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$db" -q ;;
      *.sh) echo "sourcing $f"; . "$f" ;;
      *) if [ -e "$f" ]; then echo "ignoring $f"; fi ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "init done; starting the server"
}

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  init_cluster
fi
exec "$@"
