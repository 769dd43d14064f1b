#!/bin/sh
# Serves the test app; see the Dockerfile for the knobs (START_DELAY: seconds before healthy).
[ -n "$FAIL_START" ] && { echo "failing on purpose" >&2; exit 3; }
echo "version ${APP_VERSION:-1}" > /www/index.html
[ -n "$START_DELAY" ] && ( sleep "$START_DELAY"; [ -z "$UNHEALTHY" ] && echo ok > /www/healthz ) &
[ -z "$UNHEALTHY" ] && [ -z "$START_DELAY" ] && echo ok > /www/healthz
echo "app starting version=${APP_VERSION:-1}"
echo "app stderr hello" >&2
if [ -n "$LOG_EVERY" ]; then
  ( i=0; while true; do i=$((i+1)); echo "tick $i"; echo "warn $i" >&2; sleep "$LOG_EVERY"; done ) &
fi
[ -n "$UNHEALTHY_AFTER" ] && ( sleep "$UNHEALTHY_AFTER"; rm -f /www/healthz ) &
if [ -n "$EXIT_AFTER" ]; then
  httpd -f -p 8080 -h /www &
  sleep "$EXIT_AFTER"; echo "exiting on purpose after $EXIT_AFTER s" >&2; exit 4
fi
exec httpd -f -p 8080 -h /www
