#!/usr/bin/env bash
# Keeps the agent running where the host has no systemd (containers, CI machines): the
# fallback of infra/systemd/matrx-agent.service, with the same behaviour in plain bash.
#
# - runs MATRX_HOME/current/.venv/bin/python -m onbox_agent in the current slot, with the
#   variables of MATRX_ENV_FILE (KEY=VALUE lines, as systemd's EnvironmentFile= reads them);
# - restarts it MATRX_RESTART_SEC (1 s) after it exits or is killed; after
#   MATRX_START_LIMIT_BURST (5) starts within MATRX_START_LIMIT_INTERVAL (60 s) it backs
#   off, doubling the wait up to MATRX_BACKOFF_MAX (60 s), until a run outlasts the interval;
# - writes MATRX_RUN_DIR/matrx-agent-supervise.pid (itself) and matrx-agent.pid (the agent);
# - appends its own lines and the agent's output to MATRX_LOG_DIR/agent.log (rotated to
#   agent.log.1 past MATRX_LOG_MAX_BYTES when the agent (re)starts);
# - SIGTERM/SIGINT: stops the agent (SIGTERM, SIGKILL after MATRX_STOP_TIMEOUT s) and exits;
#   SIGHUP: restarts the agent at once (revert-slot.sh uses it after switching slots).
# Start it with scripts/install-agent.sh; see docs/supervision.md.
set -euo pipefail

home=${MATRX_HOME:-/opt/matrx-ship}
env_file=${MATRX_ENV_FILE:-/etc/matrx-ship/agent.env}
run_dir=${MATRX_RUN_DIR:-/run/matrx-ship}
log_dir=${MATRX_LOG_DIR:-/var/log/matrx-ship}
restart_sec=${MATRX_RESTART_SEC:-1}
burst=${MATRX_START_LIMIT_BURST:-5}
interval=${MATRX_START_LIMIT_INTERVAL:-60}
backoff_max=${MATRX_BACKOFF_MAX:-60}
stop_timeout=${MATRX_STOP_TIMEOUT:-20}
log_max=${MATRX_LOG_MAX_BYTES:-10485760}
log="$log_dir/agent.log"
pidfile="$run_dir/matrx-agent-supervise.pid"
agent_pidfile="$run_dir/matrx-agent.pid"
agent_pid=""
sleeper=""
restart_now=0
starts=()

say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) matrx-agent-supervise[$$]: $*" >>"$log"; }
die() { echo "matrx-agent-supervise: error: $*" >&2; exit 1; }

# systemd's EnvironmentFile= format: KEY=VALUE, '#' comments, optional quotes. Read, never
# sourced, so a value is data and not shell code.
load_env_file() {
    local line key value
    [[ -r $env_file ]] || die "cannot read the env file $env_file (set MATRX_ENV_FILE)"
    while IFS= read -r line || [[ -n $line ]]; do
        [[ $line =~ ^[[:space:]]*(#|;|$) ]] && continue
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
            die "$env_file: not a KEY=VALUE line: ${line:0:40}"
        key=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        export "$key=$value"
    done <"$env_file"
}

rotate_log() {
    if [[ $(stat -c %s "$log" 2>/dev/null || echo 0) -gt $log_max ]]; then
        mv -f "$log" "$log.1"
        say "rotated the previous log to $log.1"
    fi
}

start_agent() {
    local slot
    slot=$(readlink -f "$home/current" 2>/dev/null || true)
    rotate_log
    if [[ -z $slot || ! -x $slot/.venv/bin/python ]]; then
        say "no runnable slot at $home/current (want $home/current/.venv/bin/python)"
        agent_pid=""
        return
    fi
    # cd: `python -m` puts the slot first on sys.path, so the slot's code is what runs.
    # 9>&-: the agent must not inherit the supervisor's lock.
    (cd "$slot" && exec "$slot/.venv/bin/python" -m onbox_agent) >>"$log" 2>&1 9>&- &
    agent_pid=$!
    echo "$agent_pid" >"$agent_pidfile"
    say "started the agent (pid $agent_pid) from slot $slot"
}

# Waits for the agent; `wait` also returns (>128) when a trapped signal arrives, so keep
# waiting while the agent is still there.
wait_agent() {
    local rc
    while :; do
        rc=0
        wait "$agent_pid" || rc=$?
        if ((rc > 128)) && kill -0 "$agent_pid" 2>/dev/null; then continue; fi
        return "$rc"
    done
}

stop_agent() {
    local deadline=$((SECONDS + stop_timeout))
    [[ -n $agent_pid ]] && kill -0 "$agent_pid" 2>/dev/null || return 0
    say "stopping the agent (pid $agent_pid): SIGTERM, SIGKILL after ${stop_timeout}s"
    kill -TERM "$agent_pid" 2>/dev/null || true
    while kill -0 "$agent_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$agent_pid" 2>/dev/null; then
        say "the agent did not stop in ${stop_timeout}s: SIGKILL"
        kill -KILL "$agent_pid" 2>/dev/null || true
    fi
    wait "$agent_pid" 2>/dev/null || true
}

on_term() {
    trap - TERM INT HUP
    say "asked to stop"
    if [[ -n $sleeper ]]; then kill "$sleeper" 2>/dev/null || true; fi
    stop_agent
    rm -f "$agent_pidfile" "$pidfile"
    say "stopped"
    exit 0
}

on_hup() {
    say "SIGHUP: restarting the agent now"
    restart_now=1
    stop_agent
}

# Keeps only the starts within the start-limit interval.
forget_old_starts() {
    local now t recent=()
    now=$(date +%s)
    for t in "${starts[@]}"; do
        if ((now - t < interval)); then recent+=("$t"); fi
    done
    starts=("${recent[@]}")
}

# How long to wait before the next start: RestartSec, or a doubling backoff once the
# burst of starts within the interval is used up (systemd's start limit, without giving up).
next_delay() {
    local n=${#starts[@]} delay=$restart_sec
    if ((n >= burst)); then
        delay=$((restart_sec * 2 ** (n - burst + 1)))
        if ((delay > backoff_max)); then delay=$backoff_max; fi
    fi
    echo "$delay"
}

main() {
    local rc began delay
    mkdir -p "$run_dir" "$log_dir"
    exec 9>"$run_dir/matrx-agent-supervise.lock"
    flock -n 9 || die "another supervisor holds $run_dir/matrx-agent-supervise.lock"
    load_env_file
    echo $$ >"$pidfile"
    trap on_term TERM INT
    trap on_hup HUP
    say "supervising the agent of $home/current (env file $env_file, log $log)"
    while :; do
        restart_now=0
        began=$(date +%s)
        starts+=("$began")
        start_agent
        rc=0
        if [[ -n $agent_pid ]]; then wait_agent || rc=$?; else rc=127; fi
        if ((restart_now)); then continue; fi
        # A run that outlasted the interval clears the crash-loop history.
        if (($(date +%s) - began >= interval)); then starts=(); fi
        forget_old_starts
        delay=$(next_delay)
        say "the agent exited (status $rc); starting it again in ${delay}s"
        # In the background, so SIGTERM/SIGHUP are handled at once, not after the sleep.
        sleep "$delay" 9>&- &
        sleeper=$!
        wait "$sleeper" || true
        sleeper=""
    done
}

main "$@"
