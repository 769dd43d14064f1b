#!/usr/bin/env bash
# Takes a host from nothing to fully operational, or says why not before changing anything:
#
#   sudo ./bootstrap.sh --env-file PATH [--check]
#
# In order, each step printing "==> what it does" and "    already done: ..." when skipped:
#  1. the env file can be read (refused with exit 2 otherwise);
#  2. the Python environment of this checkout (uv sync --frozen --no-default-groups, skipped
#     when .venv matches uv.lock): the checks need it, and it is all that may change first;
#  3. the checks (python -m matrx_ship.bootcheck): secrets, store URL, store reachable,
#     master key against the store's canary, the catalog's backups in the bucket; any
#     problem refuses with exit 2, naming the variable and the fix;
#  4. production packages: the Docker engine (docker.io), started when it is not running;
#  5. the slot: MATRX_HOME/slots/<commit> holds this commit's code and its .venv,
#     MATRX_HOME/current points at it (the one before stays as MATRX_HOME/previous);
#  6. the agent's env file (MATRX_ENV_FILE, mode 600) is a copy of --env-file;
#  7. the Docker networks (and Traefik's bound volumes) the platform specs name;
#  8. the agent under its supervisor (scripts/install-agent.sh: systemd, or the fallback);
#  9. wait for GET /readyz;
# 10. the platform services (infra/services) registered through the agent when the store
#     lacks them;
# 11. the reconcile, its progress, and a summary (URLs, restores and their age, failures).
#
# A second run changes nothing and says so. --check prints what each step would do (and
# the reconcile's plan when the agent answers) and changes nothing. Every step reads its
# paths, ports and images from the env file (test stand-ins included): docs/bootstrap.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
env_file=""
check=0
changed=0     # whether a step changed something in this run (a refusal says so)
switched=0    # the current slot changed: a running agent must restart into it
env_changed=0 # the agent's env file changed: a running agent must restart to read it

usage() {
    echo "usage: sudo $0 --env-file PATH [--check]" >&2
    echo "  --check  print what each step would do; change nothing (docs/bootstrap.md)" >&2
    exit 64
}

while (($#)); do
    case $1 in
        --env-file) [[ $# -ge 2 ]] || usage; env_file=$2; shift 2 ;;
        --env-file=*) env_file=${1#--env-file=}; shift ;;
        --check) check=1; shift ;;
        -h | --help) usage ;;
        *) echo "bootstrap: unknown argument: $1" >&2; usage ;;
    esac
done
[[ -n $env_file ]] || usage

step() { echo "==> $*"; }
skip() { echo "    already done: $*"; }
would() { echo "    would $*"; }
note() { echo "    $*"; }
indent() { sed -u 's/^/    /'; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }

refuse() {
    local variable=$1 message=$2 fix=$3
    echo "bootstrap: refused (1 problem(s)); nothing was changed:" >&2
    echo "  $variable: $message" >&2
    echo "    fix: $fix" >&2
    exit 2
}

# --- 1. the env file ---------------------------------------------------------------------

# systemd's EnvironmentFile= format: KEY=VALUE, '#' comments, optional quotes. Read, never
# sourced, so a value is data and not shell code. Its values win over this environment.
load_env_file() {
    local line key value number=0
    while IFS= read -r line || [[ -n $line ]]; do
        number=$((number + 1))
        [[ $line =~ ^[[:space:]]*(#|;|$) ]] && continue
        # The line itself is never printed: it may hold a secret.
        [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*(.*)$ ]] ||
            refuse "--env-file" "line $number of $env_file is not KEY=VALUE" \
                "one KEY=value a line; # starts a comment"
        key=${BASH_REMATCH[2]} value=${BASH_REMATCH[3]}
        if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
        export "$key=$value"
    done <"$env_file"
}

check_env_file() {
    local fix="write the env file (variables: docs/env.md) and pass its path to --env-file"
    [[ -e $env_file ]] || refuse "--env-file" "$env_file does not exist" "$fix"
    [[ -f $env_file ]] || refuse "--env-file" "$env_file is not a file" "$fix"
    [[ -r $env_file ]] || refuse "--env-file" "$env_file cannot be read by this user" "run as root: $fix"
    env_file=$(cd "$(dirname "$env_file")" && pwd)/$(basename "$env_file")
    load_env_file
}

settings() {
    home=${MATRX_HOME:-/opt/matrx-ship}
    agent_env=${MATRX_ENV_FILE:-/etc/matrx-ship/agent.env}
    data_dir=${MATRX_DATA_DIR:-/var/lib/matrx-ship}
    run_dir=${MATRX_RUN_DIR:-/run/matrx-ship}
    python_env=${MATRX_PYTHON_ENV:-}
    dynamic_dir=${MATRX_TRAEFIK_DYNAMIC_DIR:-$data_dir/traefik}
    secrets_dir=${MATRX_TRAEFIK_SECRETS_DIR:-/etc/matrx/traefik}
    ready_timeout=${MATRX_READY_TIMEOUT:-120}
    export MATRX_HOME=$home MATRX_ENV_FILE=$agent_env MATRX_DATA_DIR=$data_dir
}

# --- 2. the Python environment -------------------------------------------------------------

lock_hash() { sha256sum "$repo/uv.lock" | cut -d' ' -f1; }

ensure_uv() {
    export PATH="${HOME:-/root}/.local/bin:$PATH"
    command -v uv >/dev/null 2>&1 && return
    python3 -m pip --version >/dev/null 2>&1 || "$repo/scripts/install-packages.sh" python3-pip python3-venv
    note "installing uv"
    python3 -m pip install --quiet --user uv 2>/dev/null ||
        python3 -m pip install --quiet --user --break-system-packages uv
}

# uv sync in $1, then a stamp of the uv.lock it matches, so the next run can skip it.
sync_env() {
    local dir=$1
    ensure_uv
    (cd "$dir" && uv sync --frozen --no-default-groups --quiet)
    lock_hash >"$dir/.venv/.matrx-uv-lock.sha256"
}

env_current() { [[ -x $1/.venv/bin/python && $(cat "$1/.venv/.matrx-uv-lock.sha256" 2>/dev/null) == "$(lock_hash)" ]]; }

python_environment() {
    step "the Python environment of this checkout (uv sync --frozen --no-default-groups)"
    if [[ -n $python_env ]]; then
        [[ -x $python_env/bin/python ]] || refuse MATRX_PYTHON_ENV "$python_env/bin/python is missing" \
            "point MATRX_PYTHON_ENV at an environment made from uv.lock, or unset it"
        skip "MATRX_PYTHON_ENV names the environment ($python_env)"
        py=$python_env/bin/python
        return
    fi
    py=$repo/.venv/bin/python
    if env_current "$repo"; then
        skip "$repo/.venv matches uv.lock"
    elif ((check)); then
        would "run uv sync --frozen --no-default-groups in $repo"
    else
        sync_env "$repo"
        note "synced $repo/.venv"
        changed=1
    fi
}

pyrun() { PYTHONPATH=$repo "$py" -m "$@"; }

# --- 3. the checks ---------------------------------------------------------------------------

checks() {
    step "checking the env file, the store, the master key and the backups (matrx_ship.bootcheck)"
    if [[ ! -x $py ]]; then
        would "check them once the Python environment exists"
        return
    fi
    local rc=0
    pyrun matrx_ship.bootcheck --env-file "$env_file" | indent || rc=$?
    if ((rc == 2)); then
        ((changed)) && echo "bootstrap: (only this checkout's Python environment was installed)" >&2
        exit 2
    fi
    ((rc == 0)) || die "the checks failed (status $rc)"
}

# --- 4. packages -------------------------------------------------------------------------

packages() {
    step "production packages: the Docker engine (docker.io)"
    if command -v dockerd >/dev/null 2>&1; then
        skip "dockerd is installed ($(command -v dockerd))"
    elif ((check)); then
        would "install docker.io with scripts/install-packages.sh"
    else
        "$repo/scripts/install-packages.sh" docker.io | indent
        changed=1
    fi
    if docker info >/dev/null 2>&1; then
        skip "the engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    elif ((check)); then
        would "start the Docker engine (scripts/start-docker.sh)"
    else
        "$repo/scripts/start-docker.sh" | indent
        changed=1
    fi
}

# --- 5. the slot -------------------------------------------------------------------------------

slot_venv() {
    local dir=$1
    if [[ -n $python_env ]]; then
        ln -s "$python_env" "$dir/.venv"
    else
        sync_env "$dir"
    fi
}

the_slot() {
    commit=$(git -C "$repo" rev-parse HEAD) || die "$repo is not a git checkout: bootstrap needs one"
    slot=$home/slots/$commit
    step "the slot $slot (this checkout's commit and its .venv)"
    [[ -z $(git -C "$repo" status --porcelain --untracked-files=no) ]] ||
        note "note: uncommitted changes in $repo are not part of the slot (it holds $commit)"
    if [[ -x $slot/.venv/bin/python ]]; then
        skip "$slot holds ${commit:0:12} with its .venv"
    elif ((check)); then
        would "unpack ${commit:0:12} (git archive) into $slot and give it its .venv"
    else
        local tmp=$home/slots/.new-$commit
        rm -rf "$tmp"
        mkdir -p "$tmp"
        git -C "$repo" archive "$commit" | tar -x -C "$tmp"
        slot_venv "$tmp"
        mv "$tmp" "$slot"
        note "unpacked ${commit:0:12} into $slot"
        changed=1
    fi
    current_link
}

current_link() {
    local now
    now=$(readlink "$home/current" 2>/dev/null || true)
    if [[ $now == "slots/$commit" ]]; then
        skip "$home/current points at it"
    elif ((check)); then
        would "point $home/current at slots/$commit${now:+ (now $now; kept as previous)}"
    else
        [[ -n $now ]] && ln -sfn "$now" "$home/previous"
        ln -sfn "slots/$commit" "$home/current"
        note "$home/current -> slots/$commit${now:+ (previous: $now)}"
        [[ -n $now ]] && switched=1
        changed=1
    fi
}

# --- 6. the agent's env file ---------------------------------------------------------------------

agent_env_file() {
    step "the agent's env file $agent_env (a copy of $env_file, mode 600)"
    if [[ $agent_env -ef $env_file ]] || { [[ -f $agent_env ]] && cmp -s "$env_file" "$agent_env"; }; then
        skip "$agent_env is the same"
    elif ((check)); then
        would "install $env_file as $agent_env"
    else
        [[ -f $agent_env ]] && env_changed=1
        install -D -m 600 "$env_file" "$agent_env"
        note "installed $agent_env"
        changed=1
    fi
}

# --- 7. networks and Traefik's bound volumes --------------------------------------------------------

networks() {
    local name made=() have=()
    step "the Docker networks the platform specs name"
    [[ -x $py ]] || { would "create them (read from the specs once the Python environment exists)"; return 0; }
    while read -r name; do
        [[ -n $name ]] || continue
        if docker network inspect "$name" >/dev/null 2>&1; then
            have+=("$name")
        elif ((check)); then
            would "create the network $name"
        else
            docker network create "$name" >/dev/null
            made+=("$name")
            changed=1
        fi
    done < <(pyrun matrx_ship.bootsteps networks --env-file "$env_file")
    ((${#have[@]})) && skip "${have[*]} exist"
    ((${#made[@]})) && note "created ${made[*]}"
    return 0
}

# The local volumes Traefik's spec names, bound to host folders (docs/supervision.md).
bound_volumes() {
    local name path
    step "Traefik's bound volumes (the ones the platform specs name)"
    [[ -x $py ]] || { would "create them (read from the specs once the Python environment exists)"; return 0; }
    while read -r name; do
        case $name in
            traefik-config) path=$home/current/infra/traefik ;;
            traefik-dynamic) path=$dynamic_dir ;;
            traefik-secrets) path=$secrets_dir ;;
            *) continue ;;
        esac
        if docker volume inspect "$name" >/dev/null 2>&1; then
            skip "$name (bound to $path)"
        elif ((check)); then
            would "create the volume $name bound to $path"
        else
            mkdir -p "$path"
            docker volume create --driver local --opt type=none --opt o=bind \
                --opt "device=$path" "$name" >/dev/null
            note "created $name bound to $path"
            changed=1
        fi
    done < <(pyrun matrx_ship.bootsteps volumes --env-file "$env_file")
    middlewares
}

middlewares() {
    local src=$repo/infra/traefik/dynamic/middlewares.yml dest=$dynamic_dir/middlewares.yml
    if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
        skip "$dest is current"
    elif ((check)); then
        would "copy the shared middlewares into $dest"
    else
        install -D -m 644 "$src" "$dest"
        note "copied the shared middlewares into $dest"
        changed=1
    fi
}

# --- 8. the agent --------------------------------------------------------------------------------

agent() {
    step "the agent, supervised (scripts/install-agent.sh of the slot)"
    if ((check)); then
        would "run $home/current/scripts/install-agent.sh (it skips what is in place)"
        return
    fi
    install_agent
    if ! grep -q "nothing to do" <<<"$out"; then
        changed=1
        return # a supervisor started just now runs the current slot with the new env file
    fi
    local pid
    if ((env_changed)) && pid=$(supervisor_pid); then
        # The fallback reads the env file once, when it starts: restart it, not just the agent.
        note "the env file changed: stopping the supervisor (pid $pid) so a new one reads it"
        kill -TERM "$pid"
        for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        install_agent
    elif ((switched || env_changed)); then
        restart_agent # systemd re-reads the env file; the fallback resolves current each start
    else
        skip "the agent's supervisor was already in place"
    fi
}

install_agent() {
    out=$("$home/current/scripts/install-agent.sh") || { echo "$out" | indent; die "install-agent.sh failed"; }
    echo "$out" | indent
}

supervisor_pid() {
    local pid
    pid=$(cat "$run_dir/matrx-agent-supervise.pid" 2>/dev/null) || return 1
    kill -0 "$pid" 2>/dev/null && grep -q matrx-agent-supervise "/proc/$pid/cmdline" 2>/dev/null &&
        echo "$pid"
}

restart_agent() {
    local pid
    if pid=$(supervisor_pid); then
        note "the slot changed: restarting the agent (SIGHUP to the supervisor $pid)"
        kill -HUP "$pid"
    elif command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        note "the slot or the env file changed: restarting matrx-agent.service"
        systemctl restart matrx-agent.service
    fi
}

# --- 9-11. readiness, platform services, reconcile ------------------------------------------------

agent_answers() { pyrun matrx_ship.bootsteps wait-ready --env-file "$env_file" --timeout 3 >/dev/null 2>&1; }

through_the_agent() {
    step "waiting for the agent to be ready (GET /readyz)"
    if ((check)); then
        if ! agent_answers; then
            would "wait for the agent, register the platform services and run the reconcile"
            return 0
        fi
        skip "the agent is ready"
    else
        pyrun matrx_ship.bootsteps wait-ready --env-file "$env_file" --timeout "$ready_timeout" |
            indent || die "the agent is not ready (see above; its log: docs/supervision.md)"
        note "ready"
    fi
    local flag=()
    ((check)) && flag=(--check)
    step "the platform services (registered through the agent when the store lacks them)"
    local registered=0 rc=0
    pyrun matrx_ship.bootsteps register --env-file "$env_file" "${flag[@]}" || registered=$?
    # A platform service that cannot start is reported; the others still come back.
    step "the reconcile: make the host match the store"
    pyrun matrx_ship.bootsteps reconcile --env-file "$env_file" "${flag[@]}" || rc=$?
    if ((registered)); then
        echo "  NEEDS A PERSON: a platform service could not be registered (above)"
        rc=1
    fi
    return "$rc"
}

main() {
    step "reading the env file $env_file"
    check_env_file
    settings
    python_environment
    checks
    packages
    the_slot
    agent_env_file
    networks
    bound_volumes
    agent
    through_the_agent
}

main
