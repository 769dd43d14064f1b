#!/usr/bin/env bash
# Points the agent back at its previous slot and restarts it.
#
#   MATRX_HOME/current  -> slots/<bad commit>    becomes  -> slots/<previous commit>
#   MATRX_HOME/previous -> slots/<previous commit>        (kept: the previous slot stays)
#   MATRX_HOME/failed   -> slots/<bad commit>             (what was reverted, for a person)
#
# Run by matrx-agent-revert.service (OnFailure= of matrx-agent.service), by the SSM
# "roll back the agent" document, or by hand. Idempotent: when current already is the
# previous slot it says so and changes nothing (and does not restart, so a previous slot
# that also fails cannot start a revert loop). Overlapping runs are serialised by a lock.
#
# Environment: MATRX_HOME (default /opt/matrx-ship), MATRX_AGENT_UNIT (matrx-agent.service),
# MATRX_RUN_DIR (/run/matrx-ship: where the fallback supervisor keeps its pidfile).
set -euo pipefail

home=${MATRX_HOME:-/opt/matrx-ship}
unit=${MATRX_AGENT_UNIT:-matrx-agent.service}
run_dir=${MATRX_RUN_DIR:-/run/matrx-ship}

say() { echo "revert-slot: $*"; }
die() { echo "revert-slot: error: $*" >&2; exit 1; }

# Replace a symlink in one rename, so nothing ever sees it missing or half-written.
relink() {
    local target=$1 link=$2 tmp
    tmp="$(dirname "$link")/.$(basename "$link").tmp.$$"
    ln -sfn "$target" "$tmp"
    mv -Tf "$tmp" "$link"
}

restart_agent() {
    local pid
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        # The unit hit its start limit to get here: clear it, or the restart is refused.
        say "clearing the start limit of $unit and restarting it"
        systemctl reset-failed "$unit" || true
        systemctl restart --no-block "$unit"
        return
    fi
    pid=$(cat "$run_dir/matrx-agent-supervise.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        say "asking the supervisor (pid $pid) to restart the agent (SIGHUP)"
        kill -HUP "$pid"
    else
        say "no systemd and no supervisor running: not restarting the agent" \
            "(scripts/install-agent.sh starts it)"
    fi
}

main() {
    local prev_link prev_slot cur_slot
    [[ -d $home ]] || die "$home does not exist (set MATRX_HOME)"
    exec 8>"$home/.revert.lock"
    flock 8
    [[ -L $home/previous ]] || die "$home/previous is not a symlink: there is no previous slot"
    prev_link=$(readlink "$home/previous")
    prev_slot=$(readlink -f "$home/previous")
    [[ -d $prev_slot ]] || die "the previous slot $prev_slot is missing; nothing to revert to"
    cur_slot=$(readlink -f "$home/current" 2>/dev/null || true)
    if [[ $cur_slot == "$prev_slot" ]]; then
        say "current already points at the previous slot ($prev_slot); nothing to do"
        return
    fi
    say "current slot is ${cur_slot:-missing}; reverting to the previous slot $prev_slot"
    if [[ -n $cur_slot && -d $cur_slot ]]; then
        relink "$(readlink "$home/current")" "$home/failed"
        say "recorded the reverted slot as $home/failed -> $cur_slot"
    fi
    relink "$prev_link" "$home/current"
    say "current -> $prev_link"
    restart_agent
}

main "$@"
