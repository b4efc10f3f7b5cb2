#!/usr/bin/env bash
# Memory of idle client connections: opens N authenticated connections through the gateway
# (bench/idle_conns.py, raw sockets), holds them idle, and reports the gateway's RSS
# (VmRSS of /proc/PID/status) before, while held and after they close, and per connection.
# By default it starts its own etcd + 2 sets + gateway (as bench/sysbench.sh does) in a temp dir
# and writes the figures to bench/results/<date>-idle-conns.md.
#
# Environment:
#   IDLE_N (10000)  connections to hold
#   IDLE_BIN (target/release)  where setwise-proxy and setwise are; IDLE_BUILD (0; 1: cargo build
#             --release them first)
#   IDLE_PORT + IDLE_PID  measure an already running gateway instead (its port and process id);
#             IDLE_USER / IDLE_PASSWORD (app / app) are its account
#   IDLE_WORKERS (0)  the gateway's `workers`
#   IDLE_RESULTS (bench/results/<date>-idle-conns.md; empty: nowhere)
#   IDLE_KEEP (0; 1 keeps the temp dir)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

: "${IDLE_N:=10000}" "${IDLE_BUILD:=0}" "${IDLE_KEEP:=0}" "${IDLE_WORKERS:=0}"
: "${IDLE_USER:=app}" "${IDLE_PASSWORD:=app}" "${IDLE_PORT:=}" "${IDLE_PID:=}"
: "${IDLE_RESULTS=$BENCH_DIR/results/$(date +%F)-idle-conns.md}"
[[ $IDLE_N =~ ^[1-9][0-9]*$ ]] || {
    echo "error: IDLE_N must be a positive number" >&2
    exit 2
}
# One descriptor per connection, in the client and in the gateway (which inherits this limit).
need=$((IDLE_N + 1000))
if (($(ulimit -n) < need)); then
    ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
(($(ulimit -n) >= need)) || {
    echo "error: ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); IDLE_N=$IDLE_N needs $need" >&2
    exit 2
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

if [[ -z $IDLE_PORT ]]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/setwise-idle.XXXXXX")
    export SETWISE_HOME=$WORK
    # shellcheck source=../deploy/local/lib.sh source-path=SCRIPTDIR
    source "$BENCH_DIR/../deploy/local/lib.sh"
    # shellcheck source=lib.sh source-path=SCRIPTDIR
    source "$BENCH_DIR/lib.sh"
    SETWISE_CLUSTER=bench
    SETWISE_BIN=${IDLE_BIN:-$SETWISE_REPO/target/release}
    cleanup() {
        local rc=$?
        trap - EXIT
        stop_bench "$IDLE_KEEP" "logs/"
        exit "$rc"
    }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    mkdir -p "$WORK"/{pids,logs,conf,mysql,run,proxy}
    require_programs "etcd-server mariadb-server mariadb-client" etcd mariadbd mariadb mariadb-install-db python3
    release_binaries "$IDLE_BUILD" IDLE_BUILD
    bench_ports
    start_servers idle
    for set in "${SETS[@]}"; do
        setwise_cli set add "$set" >/dev/null || die "setwise set add $set failed"
        setwise_cli node add "$set-n0" --set "$set" --addr "127.0.0.1:${SET_PORT[$set]}" --role primary >/dev/null ||
            die "setwise node add $set-n0 failed"
    done
    setwise_cli user add "$IDLE_USER" --password "$IDLE_PASSWORD" --host 127.0.0.0/8 >/dev/null ||
        die "setwise user add failed"
    cat >"$WORK/conf/proxy.toml" <<EOF
listen = "127.0.0.1:$SETWISE_PROXY_PORT"
routing_cache = "$WORK/proxy/routing.json"
metrics_listen = ""
workers = $IDLE_WORKERS

[etcd]
endpoints = ["$ETCD_URL"]
cluster = "$SETWISE_CLUSTER"

[backend]
user = "setwise_proxy"
password = "setwise"
EOF
    say "starting setwise-proxy on 127.0.0.1:$SETWISE_PROXY_PORT"
    start_bg proxy "$SETWISE_BIN/setwise-proxy" --config "$WORK/conf/proxy.toml"
    client() {
        mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$SETWISE_PROXY_PORT" -u"$IDLE_USER" \
            -p"$IDLE_PASSWORD" --connect-timeout=5 --batch --skip-column-names -e "$1"
    }
    wait_until proxy 30 "the gateway to answer SELECT 1" client 'SELECT 1'
    IDLE_PORT=$SETWISE_PROXY_PORT
    IDLE_PID=$(cat "$WORK/pids/proxy.pid")
fi
[[ -n $IDLE_PID && -r /proc/$IDLE_PID/status ]] || {
    echo "error: no gateway process $IDLE_PID (set IDLE_PID with IDLE_PORT)" >&2
    exit 2
}

before=$(rss_kb "$IDLE_PID")
# The client holds the connections until its stdin (a fifo we keep open) closes.
ctl=$(mktemp -u "${TMPDIR:-/tmp}/idle-ctl.XXXXXX")
out=$(mktemp "${TMPDIR:-/tmp}/idle-out.XXXXXX")
mkfifo "$ctl"
python3 "$BENCH_DIR/idle_conns.py" 127.0.0.1 "$IDLE_PORT" "$IDLE_USER" "$IDLE_PASSWORD" "$IDLE_N" <"$ctl" >"$out" 2>&1 &
hold_pid=$!
exec 3>"$ctl"
for ((i = 0; i < 600; i++)); do
    grep -q '^ready\|^error\|Traceback' "$out" && break
    kill -0 "$hold_pid" 2>/dev/null || break
    sleep 1
done
grep -q "^ready $IDLE_N" "$out" || {
    kill "$hold_pid" 2>/dev/null || true
    echo "error: the client did not hold $IDLE_N connections: $(tail -3 "$out")" >&2
    rm -f "$ctl" "$out"
    exit 1
}
sleep 2 # let the gateway's worker threads settle
held=$(rss_kb "$IDLE_PID")
exec 3>&-
wait "$hold_pid" 2>/dev/null || true
rm -f "$ctl" "$out"
sleep 3 # sessions end as the gateway reads the closes
after=$(rss_kb "$IDLE_PID")

per=$(awk -v b="$before" -v h="$held" -v n="$IDLE_N" 'BEGIN {printf "%.1f", (h - b) / n}')
table="| connections | RSS before | RSS held | RSS after close | per connection |
|---|---|---|---|---|
| $IDLE_N | $((before / 1024)).$((before % 1024 * 10 / 1024)) MB | $((held / 1024)).$((held % 1024 * 10 / 1024)) MB | $((after / 1024)).$((after % 1024 * 10 / 1024)) MB | $per KB |"
echo "$table"
if [[ -n $IDLE_RESULTS ]]; then
    {
        echo "# Idle connections: gateway RSS ($(date -u '+%F %H:%M UTC'))"
        echo
        echo "bench/idle_conns.sh, IDLE_N=$IDLE_N, binary ${SETWISE_BIN:-pid $IDLE_PID}, $(nproc) cores."
        echo
        echo "$table"
    } >"$IDLE_RESULTS"
    echo "written to $IDLE_RESULTS"
fi
