#!/usr/bin/env bash
# Installs the on-box agent on this host so it is restarted whenever it dies and started
# at boot; idempotent (a second run says what is already in place and changes nothing).
#
# - With systemd as PID 1 (/run/systemd/system exists): installs matrx-agent.service and
#   matrx-agent-revert.service into MATRX_UNIT_DIR, daemon-reload when they changed,
#   systemctl enable --now.
# - Without (containers, CI machines), or with MATRX_SUPERVISOR=fallback: starts
#   infra/supervise/matrx-agent-supervise.sh in its own session, unless it is already running.
# Both run the agent of the current slot, MATRX_HOME/current -> MATRX_HOME/slots/<commit>
# (bootstrap.sh prepares the slots). The revert and supervisor scripts are copied to
# MATRX_HOME/bin, outside the slots, so a broken slot cannot break its own rescue.
#
# Environment (defaults in brackets): MATRX_HOME [/opt/matrx-ship], MATRX_ENV_FILE
# [/etc/matrx-ship/agent.env], MATRX_SUPERVISOR [auto: systemd when it is PID 1], MATRX_UNIT_DIR [/etc/systemd/system], MATRX_DATA_DIR
# [/var/lib/matrx-ship], MATRX_LOG_DIR [/var/log/matrx-ship], MATRX_RUN_DIR [/run/matrx-ship].
# See docs/supervision.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${MATRX_HOME:-/opt/matrx-ship}
env_file=${MATRX_ENV_FILE:-/etc/matrx-ship/agent.env}
unit_dir=${MATRX_UNIT_DIR:-/etc/systemd/system}
data_dir=${MATRX_DATA_DIR:-/var/lib/matrx-ship}
log_dir=${MATRX_LOG_DIR:-/var/log/matrx-ship}
run_dir=${MATRX_RUN_DIR:-/run/matrx-ship}
supervisor=${MATRX_SUPERVISOR:-auto}
units=(matrx-agent.service matrx-agent-revert.service)

say() { echo "install-agent: $*"; }
die() { echo "install-agent: error: $*" >&2; exit 1; }

preflight() {
    [[ -r $env_file ]] || die "cannot read the env file $env_file: write it (docs/env.md)" \
        "or point MATRX_ENV_FILE at it"
    [[ -x $home/current/.venv/bin/python ]] || die "no runnable slot: $home/current/.venv/bin/python" \
        "is missing; bootstrap.sh prepares $home/slots/<commit> and the current link"
}

# Copies a file only when its content differs; fails (status 1) when it was already current.
install_file() {
    local src=$1 dest=$2 mode=$3
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then return 1; fi
    mkdir -p "$(dirname "$dest")"
    install -m "$mode" "$src" "$dest"
    say "installed $dest"
}

install_scripts() {
    local name
    for name in systemd/revert-slot.sh supervise/matrx-agent-supervise.sh; do
        install_file "$repo/infra/$name" "$home/bin/$(basename "$name")" 0755 ||
            say "$home/bin/$(basename "$name") is current"
    done
}

# The units name the default paths; a host with other paths gets a copy that names its own.
render_unit() {
    sed -e "s|/etc/matrx-ship/agent.env|$env_file|g" \
        -e "s|/var/lib/matrx-ship|$data_dir|g" \
        -e "s|/opt/matrx-ship|$home|g" "$repo/infra/systemd/$1"
}

install_systemd() {
    local unit rendered changed=0
    rendered=$(mktemp -d)
    trap 'rm -rf "$rendered"' RETURN
    for unit in "${units[@]}"; do
        render_unit "$unit" >"$rendered/$unit"
        if install_file "$rendered/$unit" "$unit_dir/$unit" 0644; then changed=$((changed + 1)); fi
    done
    if ((changed > 0)); then
        say "reloading systemd ($changed unit file(s) changed)"
        systemctl daemon-reload
    else
        say "the unit files in $unit_dir are current"
    fi
    if systemctl is-enabled --quiet matrx-agent.service && \
        systemctl is-active --quiet matrx-agent.service; then
        say "matrx-agent.service is already enabled and running; nothing to do" \
            "(logs: journalctl -u matrx-agent)"
        return
    fi
    say "enabling and starting matrx-agent.service"
    systemctl enable --now matrx-agent.service
    say "started; logs: journalctl -u matrx-agent -f"
}

supervisor_pid() {
    local pid
    pid=$(cat "$run_dir/matrx-agent-supervise.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
        grep -q matrx-agent-supervise "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

install_fallback() {
    local pid
    if pid=$(supervisor_pid); then
        say "the supervisor is already running (pid $pid); nothing to do" \
            "(log: $log_dir/agent.log)"
        return
    fi
    mkdir -p "$log_dir" "$run_dir"
    say "no systemd on this host: starting the fallback supervisor" \
        "$home/bin/matrx-agent-supervise.sh (log: $log_dir/agent.log)"
    # setsid: its own session, so it outlives this shell and its terminal. Never nohup: a
    # signal ignored when bash starts cannot be trapped, and SIGHUP restarts the agent.
    MATRX_HOME=$home MATRX_ENV_FILE=$env_file MATRX_DATA_DIR=$data_dir \
        MATRX_LOG_DIR=$log_dir MATRX_RUN_DIR=$run_dir \
        setsid "$home/bin/matrx-agent-supervise.sh" </dev/null >>"$log_dir/agent.log" 2>&1 &
    for _ in $(seq 1 50); do
        if pid=$(supervisor_pid); then
            say "the supervisor is running (pid $pid); it restarts the agent when it dies"
            return
        fi
        sleep 0.1
    done
    die "the supervisor did not start; see $log_dir/agent.log"
}

main() {
    say "installing the agent of $home/current (env file $env_file)"
    preflight
    mkdir -p "$data_dir"
    chmod 0700 "$data_dir"
    install_scripts
    case $supervisor in
        auto | systemd | fallback) ;;
        *) die "MATRX_SUPERVISOR=$supervisor: use auto, systemd or fallback" ;;
    esac
    if [[ $supervisor == systemd || ($supervisor == auto && -d /run/systemd/system) ]]; then
        install_systemd
    else
        install_fallback
    fi
}

main "$@"
