# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared functions of deploy/local/{up,down,status}.sh. Sourced, not run.
#
# Layout under $SETWISE_HOME:
#   .setwise-home              marker: this directory belongs to a Setwise local cluster
#   pids/<name>.pid            pid of each process we started (etcd, mariadb-set1-n0, agent-set1-n0,
#                              scheduler-sched1, proxy)
#   logs/<name>.log            its stdout and stderr
#   conf/                      config files we wrote (proxy.toml)
#   etcd/                      etcd data
#   mysql/template/            datadir made once by mariadb-install-db, copied for every node
#   mysql/<node>/              a node's datadir (<node> = set1-n0, set1-n1, ...)
#   run/<node>.sock, .pid      a node's socket and mariadbd pid file
#   proxy/routing.json         the gateway's last good routing (used when etcd is down)

SETWISE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

: "${SETWISE_HOME:=$SETWISE_REPO/.local/cluster}"
: "${SETWISE_SETS:=2}"
: "${SETWISE_REPLICAS:=2}"
: "${SETWISE_ETCD_PORT:=2379}"
: "${SETWISE_MYSQL_BASE_PORT:=3310}"
: "${SETWISE_PROXY_PORT:=6033}"
# The web console of scheduler k (k = 0, 1, ...) listens on SETWISE_CONSOLE_PORT + k.
: "${SETWISE_CONSOLE_PORT:=8090}"
# Prometheus metrics ports (docs/observability.md): the gateway on the base, scheduler i (0, 1) on
# base+1+i, the agent of node k of set s on base+10*s+k; 0 = no metrics ports.
: "${SETWISE_METRICS_BASE_PORT:=9100}"

SETWISE_CLUSTER=local
SETWISE_SCHEDULERS=(sched1 sched2)
# SETWISE_BIN_DIR: take the programs from there (e.g. target/debug) instead of building release
# binaries; the integration tests read the same variable.
SETWISE_BIN=${SETWISE_BIN_DIR:-${CARGO_TARGET_DIR:-$SETWISE_REPO/target}/release}
SETWISE_BIN=${SETWISE_BIN%/}
# Debian packages a fresh machine needs.
SETWISE_PACKAGES=(mariadb-server mariadb-client mariadb-backup etcd-server etcd-client protobuf-compiler libprotobuf-dev)

# ---------------------------------------------------------------- messages

if [[ -t 1 ]]; then
    _c_bold=$'\e[1m' _c_red=$'\e[31m' _c_green=$'\e[32m' _c_yellow=$'\e[33m' _c_off=$'\e[0m'
else
    _c_bold='' _c_red='' _c_green='' _c_yellow='' _c_off=''
fi

say() { printf '%s==>%s %s\n' "$_c_bold" "$_c_off" "$*"; }
ok() { printf '    %s%s%s\n' "$_c_green" "$*" "$_c_off"; }
note() { printf '    %s\n' "$*"; }
warn() { printf '%swarning:%s %s\n' "$_c_yellow" "$_c_off" "$*" >&2; }
die() {
    printf '%serror:%s %s\n' "$_c_red" "$_c_off" "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- packages

# Installs whichever of SETWISE_PACKAGES are missing (apt-get update only then).
install_packages() {
    local missing=() p
    for p in "${SETWISE_PACKAGES[@]}"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    say "installing Debian packages: ${missing[*]}"
    command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} by hand"
        sudo=(sudo)
    fi
    # Debian's postinst scripts start system services (mariadb on 3306, etcd on 2379 -- the
    # latter would take our default etcd port). A temporary policy-rc.d keeps them from starting
    # during this install; we never stop a service that is already running.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, from Setwise deploy/local/up.sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        own_policy=1
    fi
    local rc=0
    {
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    } || rc=$?
    ((own_policy)) && "${sudo[@]}" rm -f "$policy"
    ((rc == 0)) || die "apt-get failed (exit $rc)"
}

# ---------------------------------------------------------------- environment

# Checks the knobs and makes SETWISE_HOME absolute (it need not exist yet).
check_env() {
    local v
    for v in SETWISE_SETS SETWISE_REPLICAS SETWISE_ETCD_PORT SETWISE_MYSQL_BASE_PORT SETWISE_PROXY_PORT \
        SETWISE_CONSOLE_PORT SETWISE_METRICS_BASE_PORT; do
        [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number, not '${!v}'"
    done
    ((SETWISE_SETS >= 1)) || die "SETWISE_SETS must be at least 1"
    ((SETWISE_REPLICAS <= 9)) || die "SETWISE_REPLICAS must be at most 9 (each set has 10 ports)"
    ((SETWISE_ETCD_PORT > 0 && SETWISE_ETCD_PORT < 65535)) || die "SETWISE_ETCD_PORT out of range"
    ((SETWISE_MYSQL_BASE_PORT > 0 && SETWISE_MYSQL_BASE_PORT + 10 * SETWISE_SETS < 65536)) ||
        die "SETWISE_MYSQL_BASE_PORT out of range"
    ((SETWISE_PROXY_PORT > 0 && SETWISE_PROXY_PORT < 65536)) || die "SETWISE_PROXY_PORT out of range"
    ((SETWISE_METRICS_BASE_PORT + 10 * SETWISE_SETS + 10 < 65536)) || die "SETWISE_METRICS_BASE_PORT out of range"
    [[ -n $SETWISE_HOME ]] || die "SETWISE_HOME is empty"
    case $SETWISE_HOME in
    /*) ;;
    *) SETWISE_HOME=$PWD/$SETWISE_HOME ;;
    esac
    SETWISE_HOME=${SETWISE_HOME%/}
    [[ -n $SETWISE_HOME ]] || die "SETWISE_HOME must not be /"
    ETCD_URL=http://127.0.0.1:$SETWISE_ETCD_PORT
    ETCD_PEER_PORT=$((SETWISE_ETCD_PORT + 1))
}

# ---------------------------------------------------------------- names and ports

node_name() { echo "set$1-n$2"; }                                           # set index, node index
node_port() { echo $((SETWISE_MYSQL_BASE_PORT + 10 * ($1 - 1) + $2)); }     # set index, node index
node_server_id() { echo $((100 * $1 + $2 + 1)); }                           # set index, node index
pidfile() { echo "$SETWISE_HOME/pids/$1.pid"; }
logfile() { echo "$SETWISE_HOME/logs/$1.log"; }

# The program a process of this name runs (argv[0]'s base name), to tell our process from
# an unrelated one that got the same pid later.
program_of() {
    case $1 in
    etcd) echo etcd ;;
    mariadb-*) echo mariadbd ;;
    agent-*) echo setwise-agent ;;
    scheduler-*) echo setwise-scheduler ;;
    proxy) echo setwise-proxy ;;
    *) echo '' ;;
    esac
}

# ---------------------------------------------------------------- processes

# pid recorded for NAME, or nothing.
recorded_pid() {
    local f
    f=$(pidfile "$1")
    [[ -f $f ]] || return 0
    local pid
    pid=$(tr -dc '0-9' <"$f")
    echo "$pid"
}

# True if PID is alive and runs PROGRAM (argv[0]'s base name); empty PROGRAM matches anything.
pid_runs() {
    local pid=$1 program=$2 argv0
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    [[ -z $program ]] && return 0
    argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
    [[ ${argv0##*/} == "$program" ]]
}

# True if the pid file of NAME names a live process of the right program.
is_running() {
    pid_runs "$(recorded_pid "$1")" "$(program_of "$1")"
}

# start_bg NAME COMMAND...: runs COMMAND in its own session, in the background, output appended
# to logs/NAME.log, pid in pids/NAME.pid. setsid execs (no fork) because a background child of a
# script is not a process-group leader, so $! is the program's own pid.
start_bg() {
    local name=$1
    shift
    local log
    log=$(logfile "$name")
    printf '\n==== %s start: %s\n' "$(date '+%F %T')" "$*" >>"$log"
    setsid "$@" </dev/null >>"$log" 2>&1 &
    local pid=$! i argv0
    echo "$pid" >"$(pidfile "$name")"
    # Until the exec, the pid still runs this shell (forked) or setsid: is_running would call it
    # another program. Wait (bounded) for the exec so callers can tell "exited" from "starting".
    for ((i = 0; i < 500; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || break
        case ${argv0##*/} in
        bash | setsid | "${BASH##*/}") sleep 0.01 ;;
        *) break ;;
        esac
    done
}

# Prints the last lines of NAME's log.
log_tail() {
    local log
    log=$(logfile "$1")
    [[ -f $log ]] || return 0
    printf -- '---- last lines of %s\n' "$log" >&2
    tail -n "${2:-30}" "$log" >&2
    printf -- '----\n' >&2
}

# fail NAME MESSAGE: prints NAME's log tail (if NAME is set) and exits.
fail() {
    [[ -n $1 ]] && log_tail "$1"
    die "$2 (stop what was started with deploy/local/down.sh)"
}

# wait_until NAME TIMEOUT_S DESCRIPTION COMMAND...: polls COMMAND until it succeeds. Fails with
# NAME's log tail when the deadline passes or NAME's process exits meanwhile (empty NAME: no
# process to watch).
wait_until() {
    local name=$1 timeout=$2 desc=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [[ -n $name ]] && ! is_running "$name"; then
            fail "$name" "$name exited while waiting for $desc"
        fi
        if ((SECONDS >= deadline)); then
            fail "$name" "timed out after ${timeout}s waiting for $desc"
        fi
        sleep 0.2
    done
}

# stop_group TIMEOUT_S NAME...: TERM to each live process, wait for all (bounded), then KILL
# the stragglers. Removes the pid files. Never touches a pid that runs another program.
stop_group() {
    local timeout=$1
    shift
    local name pid program live=()
    for name in "$@"; do
        pid=$(recorded_pid "$name")
        program=$(program_of "$name")
        if pid_runs "$pid" "$program"; then
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$name:$pid")
        elif [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            note "$name: pid $pid is not ${program:-ours} any more; left alone"
        fi
    done
    local deadline=$((SECONDS + timeout)) entry waiting
    while :; do
        waiting=0
        for entry in "${live[@]}"; do
            kill -0 "${entry##*:}" 2>/dev/null && waiting=1
        done
        ((waiting == 0 || SECONDS >= deadline)) && break
        sleep 0.2
    done
    for entry in "${live[@]}"; do
        name=${entry%%:*} pid=${entry##*:}
        if kill -0 "$pid" 2>/dev/null; then
            warn "$name (pid $pid) did not stop within ${timeout}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        else
            ok "stopped $name (pid $pid)"
        fi
    done
    for name in "$@"; do
        rm -f "$(pidfile "$name")"
    done
}

# Names of the pid files present, matching a glob (e.g. 'agent-*'), sorted.
pid_names() {
    local f
    for f in "$SETWISE_HOME"/pids/$1.pid; do
        [[ -e $f ]] || continue
        f=${f##*/}
        echo "${f%.pid}"
    done
}

# ---------------------------------------------------------------- ports

# True if something listens on TCP PORT (any address), from /proc/net/tcp{,6}.
port_in_use() {
    local hex files=() f
    hex=$(printf ':%04X' "$1")
    for f in /proc/net/tcp /proc/net/tcp6; do
        [[ -r $f ]] && files+=("$f")
    done
    if ((${#files[@]} == 0)); then
        # No /proc: try to connect instead.
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
        return
    fi
    awk -v p="$hex" 'FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' "${files[@]}"
}

# check_port PORT WHAT: dies, naming the port and what wanted it, if PORT is taken.
check_port() {
    if port_in_use "$1"; then
        local who=''
        if command -v ss >/dev/null 2>&1; then
            who=$(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*' | head -n1 | sed 's/users:((//')
        fi
        die "port $1 (for $2) is already in use${who:+ by $who}; stop that program or choose another port with the SETWISE_*_PORT variables"
    fi
}

# True if a TCP connection to 127.0.0.1:PORT succeeds.
port_accepts() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------- etcd

etcdctl_() {
    ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" --dial-timeout=2s --command-timeout=5s "$@"
}

etcd_healthy() {
    etcdctl_ endpoint health >/dev/null 2>&1
}

etcd_key_prefix() { echo "/setwise/$SETWISE_CLUSTER/$1"; }

# Number of keys under a prefix (below the cluster root).
etcd_count() {
    local n
    n=$(etcdctl_ get --prefix --keys-only "$(etcd_key_prefix "$1")" 2>/dev/null | grep -c .) || true
    echo "${n:-0}"
}

# ---------------------------------------------------------------- MariaDB

# sql PORT STATEMENTS: runs as root over TCP, tab-separated output without headers.
sql() {
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -uroot --connect-timeout=5 \
        --batch --skip-column-names -e "$2"
}

mysql_alive() {
    sql "$1" 'SELECT 1' >/dev/null 2>&1
}

# slave_field PORT FIELD: one field of SHOW SLAVE STATUS (empty if not a replica).
slave_field() {
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -uroot --connect-timeout=5 \
        -E -e 'SHOW SLAVE STATUS' 2>/dev/null |
        awk -v f="$2" -F': ' '{ sub(/^ +/, "", $1) } $1 == f { print $2; exit }'
}

replica_running() {
    [[ $(slave_field "$1" Slave_IO_Running) == Yes && $(slave_field "$1" Slave_SQL_Running) == Yes ]]
}

# status_var PORT NAME: a global status variable's value.
status_var() {
    sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{ print $2 }'
}

semisync_clients_at_least() {
    local n
    n=$(status_var "$1" Rpl_semi_sync_master_clients)
    [[ -n $n ]] && ((n >= $2))
}

# ---------------------------------------------------------------- gateway

gateway_sql() {
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$SETWISE_PROXY_PORT" -uapp -papp \
        --connect-timeout=5 --batch --skip-column-names -e "$1"
}

setwise_cli() {
    "$SETWISE_BIN/setwise" --etcd "$ETCD_URL" --cluster "$SETWISE_CLUSTER" "$@"
}

# ---------------------------------------------------------------- metrics ports

# The metrics address of a program (empty when SETWISE_METRICS_BASE_PORT=0):
# metrics_addr proxy | metrics_addr scheduler INDEX | metrics_addr agent SET NODE_INDEX
metrics_addr() {
    ((SETWISE_METRICS_BASE_PORT > 0)) || return 0
    case $1 in
    proxy) echo "127.0.0.1:$SETWISE_METRICS_BASE_PORT" ;;
    scheduler) echo "127.0.0.1:$((SETWISE_METRICS_BASE_PORT + 1 + $2))" ;;
    agent) echo "127.0.0.1:$((SETWISE_METRICS_BASE_PORT + 10 * $2 + $3))" ;;
    esac
}
