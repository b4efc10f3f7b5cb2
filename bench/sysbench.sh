#!/usr/bin/env bash
# sysbench through three (five) targets, in one run, on this machine's loopback:
#   direct   one MariaDB instance
#   haproxy  haproxy in TCP mode in front of that same instance
#   sync, haproxy-sync (SB_REPLICAS > 0 only): the fair baseline — one primary with SB_REPLICAS
#            semi-sync replicas (AFTER_SYNC, as deploy/local sets up a set), direct and through
#            haproxy
#   gateway  setwise-proxy (release build) in front of 2 sets (one primary each, SB_REPLICAS
#            semi-sync replicas each), the sysbench tables sharded over both sets by id
#   gateway-one (SB_REPLICAS > 0 only): a second setwise-proxy in front of one set made of the
#            servers haproxy-sync fronts (the sync primary and its replicas): the gateway's own
#            cost against haproxy's on the same servers, without sharding's extra MariaDB work
# Prints qps, p95 latency, the ratios gateway/direct and gateway/haproxy and the proxies' CPU time
# per statement, and writes the same as Markdown to bench/results/<date>-sysbench.md.
# Everything runs in a temp dir and is stopped on exit. See bench/README.md.
#
# Environment:
#   SB_THREADS (8)  SB_TIME (20, seconds per run)  SB_TABLES (4)  SB_TABLE_SIZE (10000)
#   SB_TESTS ("oltp_point_select oltp_read_only"; oltp_read_write works too)
#   SB_BUILD (1: cargo build --release the two binaries first; 0: use target/release as is)
#   SB_RESULTS (bench/results/<date>-sysbench.md: where the Markdown goes; empty: nowhere)
#   SB_KEEP (0; 1: keep the temp dir with the logs after the processes are stopped)
#   SB_HOLD (0; 1: after the prepare, print the three ports and wait for Ctrl-C: for profiling)
#   SB_WORKERS (the gateway's `workers`, default 0 = half the cores)
#   SB_PIPELINE (the gateway's `[backend] pipeline_conns`, default 1; 0 = no pipelined point reads)
#   SB_REPLICAS (0; N > 0: N semi-sync replicas per set, and the sync / haproxy-sync targets)
#   SB_AUDIT (0; 1: the gateway writes the SQL audit log, every statement, to the temp dir)
#   SB_DIGESTS (1; 0: the gateway keeps no query digests)
#   SB_METRICS (0; 1: the gateway's metrics port is on, so every metric is recorded)
#   SB_TARGETS (all of them: "direct haproxy [sync haproxy-sync] gateway [gateway-one]"; a subset,
#            in order)
#   SB_XA_DECISIONS (sets: the gateway's `[xa] decisions`, where commits across sets record
#            their decision; etcd: the earlier path)
#   SB_GATEWAY_BINS ("label=path[,key=value...] ...": the gateway target runs once per entry,
#            each started just before its run on the same data with the config's [backend]
#            keys overridden as given (e.g. "tcp=target/release/setwise-proxy,prefer_socket=false"),
#            labelled gw-<label>: before/after comparisons interleaved in one run. Empty:
#            target/release's binary, started once)
#   SB_ROUNDS (1; N: every test on every target N times, in turn)
#   SB_RAW (where one line per run goes: round, test, target, qps, p95, errors, proxy and MariaDB
#            CPU µs per statement, load average; default $WORK/raw.txt, printed at the end.
#            The Markdown report shows the last round)
#   SB_PREFER_SOCKET (1: the gateway's `[backend] prefer_socket`; 0: TCP to the sets)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
(($# == 0)) || {
    echo "usage: $0 (settings come from the environment; try --help)" >&2
    exit 2
}

: "${SB_THREADS:=8}" "${SB_TIME:=20}" "${SB_TABLES:=4}" "${SB_TABLE_SIZE:=10000}"
: "${SB_TESTS:=oltp_point_select oltp_read_only}"
: "${SB_XA_DECISIONS:=sets}"
[[ $SB_XA_DECISIONS == sets || $SB_XA_DECISIONS == etcd ]] || {
    echo "error: SB_XA_DECISIONS must be sets or etcd, not '$SB_XA_DECISIONS'" >&2
    exit 2
}
: "${SB_BUILD:=1}" "${SB_KEEP:=0}" "${SB_HOLD:=0}" "${SB_WORKERS:=0}" "${SB_PIPELINE:=1}" "${SB_REPLICAS:=0}"
: "${SB_AUDIT:=0}" "${SB_DIGESTS:=1}" "${SB_METRICS:=0}"
: "${SB_GATEWAY_BINS:=}" "${SB_ROUNDS:=1}" "${SB_PREFER_SOCKET:=1}"
: "${SB_RESULTS=$BENCH_DIR/results/$(date +%F)-sysbench.md}"
for v in SB_WORKERS SB_PIPELINE SB_REPLICAS SB_AUDIT SB_DIGESTS SB_METRICS SB_PREFER_SOCKET; do
    [[ ${!v} =~ ^[0-9]+$ ]] || {
        echo "error: $v must be a number, not '${!v}'" >&2
        exit 2
    }
done
for v in SB_THREADS SB_TIME SB_TABLES SB_TABLE_SIZE SB_ROUNDS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
        echo "error: $v must be a positive number, not '${!v}'" >&2
        exit 2
    }
done
((SB_REPLICAS <= 9)) || {
    echo "error: SB_REPLICAS must be at most 9" >&2
    exit 2
}
ALL_TARGETS=(direct haproxy)
((SB_REPLICAS == 0)) || ALL_TARGETS+=(sync haproxy-sync)
ALL_TARGETS+=(gateway)
((SB_REPLICAS == 0)) || ALL_TARGETS+=(gateway-one)
: "${SB_TARGETS:=${ALL_TARGETS[*]}}"
read -ra TARGETS <<<"$SB_TARGETS"
for t in "${TARGETS[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || {
        echo "error: SB_TARGETS: '$t' is not one of ${ALL_TARGETS[*]} (sync, haproxy-sync and gateway-one need SB_REPLICAS > 0)" >&2
        exit 2
    }
done
read -ra TESTS <<<"$SB_TESTS"
((${#TESTS[@]} > 0)) || {
    echo "error: SB_TESTS is empty" >&2
    exit 2
}

# The deploy scripts' helpers (start_bg, wait_until, port checks, sql, setwise_cli) work on
# SETWISE_HOME, which is our temp dir; nothing outside it is touched.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/setwise-bench.XXXXXX")
export SETWISE_HOME=$WORK
# shellcheck source=../deploy/local/lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/../deploy/local/lib.sh"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/lib.sh"
SETWISE_CLUSTER=bench

cleanup() {
    local rc=$?
    trap - EXIT
    if [[ -n ${SB_PID:-} ]]; then
        kill -TERM "$SB_PID" 2>/dev/null || true # timeout passes it on to sysbench
        wait "$SB_PID" 2>/dev/null || true
    fi
    stop_bench "$SB_KEEP" "logs/, sysbench/"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK"/{pids,logs,conf,mysql,run,proxy,sysbench}

# ---------------------------------------------------------------- binaries and ports

require_programs "sysbench haproxy etcd-server etcd-client mariadb-server mariadb-client" sysbench haproxy etcd etcdctl mariadbd mariadb mariadb-install-db
release_binaries "$SB_BUILD" SB_BUILD

# Free loopback ports; etcd, the plain MariaDB and the sets (bench/lib.sh).
BENCH_REPLICAS=$SB_REPLICAS
bench_ports
free_port HAPROXY_PORT
METRICS_ADDR=''
if ((SB_METRICS)); then
    free_port METRICS_PORT
    METRICS_ADDR=127.0.0.1:$METRICS_PORT
fi
HAPROXY_SYNC_PORT='' PROXY_ONE_PORT=''
((SB_REPLICAS == 0)) || free_port HAPROXY_SYNC_PORT
[[ " ${TARGETS[*]} " != *" gateway-one "* ]] || free_port PROXY_ONE_PORT
start_servers sbtest

# ---------------------------------------------------------------- haproxy

cat >"$WORK/conf/haproxy.cfg" <<EOF
global
    maxconn 1000

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

listen mariadb
    bind 127.0.0.1:$HAPROXY_PORT
    maxconn 1000
    server direct 127.0.0.1:$DIRECT_PORT maxconn 1000
EOF
if ((SB_REPLICAS > 0)); then
    cat >>"$WORK/conf/haproxy.cfg" <<EOF

listen mariadb-sync
    bind 127.0.0.1:$HAPROXY_SYNC_PORT
    maxconn 1000
    server sync 127.0.0.1:$SYNC_PORT maxconn 1000
EOF
fi
haproxy -c -q -f "$WORK/conf/haproxy.cfg" >"$(logfile haproxy-check)" 2>&1 || fail haproxy-check "haproxy rejects its config"
say "starting haproxy on 127.0.0.1:$HAPROXY_PORT"
start_bg haproxy haproxy -f "$WORK/conf/haproxy.cfg" -db

# ---------------------------------------------------------------- gateway

say "registering 2 sets, user sb, database sbtest and its sharded tables in etcd (setwise CLI)"
for set in "${SETS[@]}"; do
    setwise_cli set add "$set" >/dev/null || die "setwise set add $set failed"
    setwise_cli node add "$set-n0" --set "$set" --addr "127.0.0.1:${SET_PORT[$set]}" --role primary >/dev/null ||
        die "setwise node add $set-n0 failed"
    for ((k = 1; k <= SB_REPLICAS; k++)); do
        setwise_cli node add "$set-n$k" --set "$set" --addr "127.0.0.1:${REPLICA_PORT[$set-r$k]}" --role replica >/dev/null ||
            die "setwise node add $set-n$k failed"
    done
done
setwise_cli user add sb --password sb --host 127.0.0.0/8 >/dev/null || die "setwise user add sb failed"
# All of it before the gateway starts, so that its first routing snapshot has it: the database
# (slots spread evenly over both sets) and the tables, declared sharded by id before sysbench
# creates them (sysbench's CREATE TABLE has no shardkey= option).
setwise_cli db add sbtest --sets set1,set2 >/dev/null || die "setwise db add sbtest failed"
for ((i = 1; i <= SB_TABLES; i++)); do
    setwise_cli table set "sbtest.sbtest$i" --shardkey id >/dev/null || die "setwise table set sbtest.sbtest$i failed"
done

cat >"$WORK/conf/proxy.toml" <<EOF
listen = "127.0.0.1:$SETWISE_PROXY_PORT"
routing_cache = "$WORK/proxy/routing.json"
metrics_listen = "$METRICS_ADDR"
workers = $SB_WORKERS

[etcd]
endpoints = ["$ETCD_URL"]
cluster = "$SETWISE_CLUSTER"

[backend]
user = "setwise_proxy"
password = "setwise"
pool_max = 64
connect_timeout_ms = 2000
pipeline_conns = $SB_PIPELINE
prefer_socket = $( ((SB_PREFER_SOCKET)) && echo true || echo false)

[xa]
decisions = "$SB_XA_DECISIONS"

[audit]
enabled = $( ((SB_AUDIT)) && echo true || echo false)
path = "$WORK/logs/audit.log"

[digests]
enabled = $( ((SB_DIGESTS)) && echo true || echo false)
EOF
say "starting setwise-proxy on 127.0.0.1:$SETWISE_PROXY_PORT"
start_bg proxy "$SETWISE_BIN/setwise-proxy" --config "$WORK/conf/proxy.toml"

client() { # port statements (as sb)
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -usb -psb --connect-timeout=5 \
        --batch --skip-column-names -e "$2"
}
wait_until haproxy 30 "haproxy to forward to MariaDB on port $HAPROXY_PORT" client "$HAPROXY_PORT" 'SELECT 1'
((SB_REPLICAS == 0)) ||
    wait_until haproxy 30 "haproxy to forward to MariaDB on port $HAPROXY_SYNC_PORT" client "$HAPROXY_SYNC_PORT" 'SELECT 1'
wait_until proxy 30 "the gateway to answer SELECT 1 as user sb" client "$SETWISE_PROXY_PORT" 'SELECT 1'
# The database is in etcd already (db add); this creates it on the sets.
out=$(client "$SETWISE_PROXY_PORT" 'CREATE DATABASE IF NOT EXISTS sbtest' 2>&1) ||
    fail proxy "CREATE DATABASE sbtest through the gateway failed: $out"
ok "gateway up; database sbtest created on both sets"

# ---------------------------------------------------------------- sysbench

IGNORE_ERRORS=1213,1020,1205,1235 # sysbench's default list (deadlocks, lock waits) + 1235
# A run that has not ended SB_TIME + RUN_GRACE seconds after it started is killed (a prepare
# after an hour). sysbench runs in the background while the script waits for it, so that a signal
# to the script ends the wait at once; cleanup() then stops sysbench too.
RUN_GRACE=60
SB_PID=''
sb() { # port command test [extra args]
    local port=$1 cmd=$2 test=$3 limit=3600 rc=0
    shift 3
    [[ $cmd != run ]] || limit=$((SB_TIME + RUN_GRACE))
    timeout --kill-after=10 "$limit" sysbench "$test" --db-driver=mysql \
        --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=sb --mysql-password=sb --mysql-db=sbtest \
        --tables="$SB_TABLES" --table-size="$SB_TABLE_SIZE" --threads="$SB_THREADS" --time="$SB_TIME" \
        --report-interval=0 --percentile=95 --db-ps-mode=auto --auto-inc=off \
        --mysql-ignore-errors="${IGNORE:-$IGNORE_ERRORS}" "$@" "$cmd" &
    SB_PID=$!
    wait "$SB_PID" || rc=$?
    SB_PID=''
    return "$rc"
}
# The first error sysbench reported in a log, on one line.
first_error() {
    local line
    line=$(grep -m1 -E 'FATAL|ERROR|[Ee]rror' "$1") || line="no error message in sysbench's output"
    tr -s ' \t' ' ' <<<"$line" | cut -c1-200
}
one_line() { tr -s ' \t\n' ' ' | sed 's/ $//' | cut -c1-"$1"; }

say "sysbench prepare: $SB_TABLES tables x $SB_TABLE_SIZE rows on direct"
sb "$DIRECT_PORT" prepare oltp_read_only >"$WORK/sysbench/prepare-direct.log" 2>&1 ||
    fail "" "sysbench prepare on direct failed: $(first_error "$WORK/sysbench/prepare-direct.log")"
if ((SB_REPLICAS > 0)); then
    say "sysbench prepare: $SB_TABLES tables x $SB_TABLE_SIZE rows on sync ($SB_REPLICAS semi-sync replicas)"
    sb "$SYNC_PORT" prepare oltp_read_only >"$WORK/sysbench/prepare-sync.log" 2>&1 ||
        fail "" "sysbench prepare on sync failed: $(first_error "$WORK/sysbench/prepare-sync.log")"
fi

# gateway-one: a second gateway, its own cluster in the same etcd, one set made of the sync primary
# and its replicas; the tables (prepared on sync below) sharded by id over that one set.
if [[ -n $PROXY_ONE_PORT ]]; then
    say "registering set one (the sync servers) in cluster bench-one; a second setwise-proxy on 127.0.0.1:$PROXY_ONE_PORT"
    one_cli() { SETWISE_CLUSTER=bench-one setwise_cli "$@" >/dev/null || die "setwise (bench-one) $* failed"; }
    one_cli set add one
    one_cli node add one-n0 --set one --addr "127.0.0.1:$SYNC_PORT" --role primary
    for ((k = 1; k <= SB_REPLICAS; k++)); do
        one_cli node add "one-n$k" --set one --addr "127.0.0.1:${REPLICA_PORT[sync-r$k]}" --role replica
    done
    one_cli user add sb --password sb --host 127.0.0.0/8
    one_cli db add sbtest --sets one
    for ((i = 1; i <= SB_TABLES; i++)); do one_cli table set "sbtest.sbtest$i" --shardkey id; done
    sed -e "s|^listen = .*|listen = \"127.0.0.1:$PROXY_ONE_PORT\"|" \
        -e "s|^routing_cache = .*|routing_cache = \"$WORK/proxy/routing-one.json\"|" \
        -e "s|^metrics_listen = .*|metrics_listen = \"\"|" \
        -e "s|^cluster = .*|cluster = \"bench-one\"|" \
        -e "s|^path = \"$WORK/logs/audit.log\"|path = \"$WORK/logs/audit-one.log\"|" \
        "$WORK/conf/proxy.toml" >"$WORK/conf/proxy-one.toml"
    start_bg proxy-one "$SETWISE_BIN/setwise-proxy" --config "$WORK/conf/proxy-one.toml"
    wait_until proxy-one 30 "the second gateway to answer SELECT 1 as user sb" client "$PROXY_ONE_PORT" 'SELECT 1'
fi

say "sysbench prepare: $SB_TABLES tables x $SB_TABLE_SIZE rows through the gateway"
GATEWAY_BROKEN=''
ROWS_PER_SET=''
if sb "$SETWISE_PROXY_PORT" prepare oltp_read_only >"$WORK/sysbench/prepare-gateway.log" 2>&1; then
    # Check that the rows really are spread over both sets.
    for set in "${SETS[@]}"; do
        n=0
        for ((i = 1; i <= SB_TABLES; i++)); do
            m=$(sql "${SET_PORT[$set]}" "SELECT COUNT(*) FROM sbtest.sbtest$i") ||
                fail "mariadb-$set" "counting rows of sbtest$i on $set failed"
            n=$((n + m))
        done
        ROWS_PER_SET+="${ROWS_PER_SET:+, }$set $n"
        ((n > 0)) || GATEWAY_BROKEN="the tables are not sharded: $set holds no rows"
    done
    ok "rows per set: $ROWS_PER_SET"
else
    GATEWAY_BROKEN="sysbench prepare through the gateway failed: $(first_error "$WORK/sysbench/prepare-gateway.log")"
fi
[[ -z $GATEWAY_BROKEN ]] || warn "$GATEWAY_BROKEN; the gateway runs are skipped"

if ((SB_HOLD)); then
    say "holding (SB_HOLD=1): direct 127.0.0.1:$DIRECT_PORT, haproxy 127.0.0.1:$HAPROXY_PORT,${SYNC_PORT:+ sync 127.0.0.1:$SYNC_PORT, haproxy-sync 127.0.0.1:$HAPROXY_SYNC_PORT,} gateway 127.0.0.1:$SETWISE_PROXY_PORT (user sb/sb, db sbtest); Ctrl-C stops everything"
    say "gateway pid $(cat "$(pidfile proxy)"), haproxy pid $(cat "$(pidfile haproxy)")"
    while :; do
        sleep 3600 &
        wait $! || break
    done
fi

# Which of sysbench's statement shapes the gateway serves today: one probe each, text protocol
# (sysbench's prepared statements are planned like their text). The transaction probes use one id
# stored on each set, read from the sets themselves.
id_on() { sql "${SET_PORT[$1]}" "SELECT MIN(id) FROM sbtest.sbtest1"; }
ID1=1 ID2=2
if [[ -z $GATEWAY_BROKEN ]]; then
    ID1=$(id_on set1) || fail mariadb-set1 "reading an id from set1 failed"
    ID2=$(id_on set2) || fail mariadb-set2 "reading an id from set2 failed"
fi
SHAPE_ORDER=(point range sum order distinct read_trx update delete_insert write_trx)
declare -A SHAPES=(
    [point]="SELECT c FROM sbtest1 WHERE id=$ID1"
    [range]="SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 100"
    [sum]="SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN 1 AND 100"
    [order]="SELECT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c"
    [distinct]="SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN 1 AND 100 ORDER BY c"
    [read_trx]="BEGIN; SELECT c FROM sbtest1 WHERE id=$ID1; SELECT c FROM sbtest1 WHERE id=$ID2; COMMIT"
    [update]="UPDATE sbtest1 SET k=k+1 WHERE id=$ID1"
    [delete_insert]="DELETE FROM sbtest1 WHERE id=$ID1; INSERT INTO sbtest1 (id, k, c, pad) VALUES ($ID1, 1, 'c', 'pad')"
    [write_trx]="BEGIN; UPDATE sbtest1 SET k=k+1 WHERE id=$ID1; UPDATE sbtest1 SET k=k+1 WHERE id=$ID2; COMMIT"
)
# The shapes each test sends, and the sysbench option that leaves a shape out (the transaction
# shapes: --skip_trx=on, every statement in autocommit mode).
declare -A TEST_SHAPES=(
    [oltp_point_select]="point"
    [oltp_read_only]="point range sum order distinct read_trx"
    [oltp_read_write]="point range sum order distinct read_trx update delete_insert write_trx"
)
declare -A SHAPE_OFF=(
    [range]=--simple_ranges=0 [sum]=--sum_ranges=0 [order]=--order_ranges=0 [distinct]=--distinct_ranges=0
    [read_trx]=--skip_trx=on [write_trx]=--skip_trx=on
)
declare -A SHAPE_RESULT=()
if [[ -z $GATEWAY_BROKEN ]]; then
    for s in "${SHAPE_ORDER[@]}"; do
        if out=$(client "$SETWISE_PROXY_PORT" "USE sbtest; ${SHAPES[$s]}" 2>&1 >/dev/null); then
            SHAPE_RESULT[$s]=ok
        else
            # The client prints the statement, then "ERROR 1235 (42000) at line 1: message".
            out=$(grep -m1 -o 'ERROR.*' <<<"$out" || echo "$out")
            SHAPE_RESULT[$s]=$(sed -E 's/ at line [0-9]+:/:/' <<<"$out" | one_line 200)
        fi
    done
fi

# The runs: one "variant" per test and, when the gateway refuses some of the test's shapes, one
# more with those left out by sysbench's own options (on all three targets, so that the ratios
# compare like with like). The full test is not run on the gateway then: sysbench retries a
# transaction that hit an ignored error (1235) until it succeeds, so a statement refused in every
# transaction makes the run spin until it is killed, with no figures; any other error stops it.
V_LABEL=() V_TEST=() V_ARGS=() V_GW_SKIP=()
add_variant() { # label test args gateway-skip-reason
    V_LABEL+=("$1") V_TEST+=("$2") V_ARGS+=("$3") V_GW_SKIP+=("$4")
}
for test in "${TESTS[@]}"; do
    refused=() off=() can_trim=1
    if [[ -z $GATEWAY_BROKEN ]]; then
        for s in ${TEST_SHAPES[$test]:-}; do
            [[ ${SHAPE_RESULT[$s]} == ok ]] && continue
            refused+=("$s")
            if [[ -z ${SHAPE_OFF[$s]:-} ]]; then
                can_trim=0
            elif [[ " ${off[*]} " != *" ${SHAPE_OFF[$s]} "* ]]; then
                off+=("${SHAPE_OFF[$s]}")
            fi
        done
    fi
    if ((${#refused[@]} == 0)); then
        add_variant "$test" "$test" '' "${GATEWAY_BROKEN:+not run: $GATEWAY_BROKEN}"
        continue
    fi
    add_variant "$test" "$test" '' "not run: the gateway refuses ${refused[*]} (probes below)"
    if ((can_trim)); then
        # Without transactions, two threads' DELETE + INSERT of the same id collide (1062);
        # inside one, the row lock orders them.
        label="$test ${off[*]}"
        if [[ " ${off[*]} " == *" --skip_trx=on "* && " ${TEST_SHAPES[$test]} " == *" delete_insert "* ]]; then
            off+=("--mysql-ignore-errors=$IGNORE_ERRORS,1062")
            label+=" (1062 ignored too)"
        fi
        add_variant "$label" "$test" "${off[*]}" ''
    fi
done

# utime + stime (clock ticks) of a process, all threads: fields 14 and 15 of /proc/PID/stat.
# Empty if the process is gone.
cpu_ticks() {
    local stat f
    [[ -r /proc/$1/stat ]] || return 0
    stat=$(<"/proc/$1/stat") || return 0
    read -ra f <<<"${stat##*) }" # fields from 3 on
    echo $((f[11] + f[12]))
}
sum_ticks() {
    local t=0 p c
    for p in "$@"; do
        c=$(cpu_ticks "$p")
        [[ -n $c ]] || return 0
        t=$((t + c))
    done
    echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)

declare -A T_PORT=([direct]=$DIRECT_PORT [haproxy]=$HAPROXY_PORT [gateway]=$SETWISE_PROXY_PORT)
declare -A T_PROXY=([direct]='' [haproxy]=$(recorded_pid haproxy) [gateway]=$(recorded_pid proxy))
declare -A T_PROXY_NAME=([haproxy]=haproxy [haproxy-sync]=haproxy [gateway]=proxy [gateway-one]=proxy-one)
# MariaDB CPU: the primaries and their replicas.
with_replicas() { # instance...
    local i k
    for i in "$@"; do
        recorded_pid "mariadb-$i"
        for ((k = 1; k <= SB_REPLICAS; k++)); do recorded_pid "mariadb-$i-r$k"; done
    done | tr '\n' ' '
}
declare -A T_DB=(
    [direct]=$(recorded_pid mariadb-direct)
    [haproxy]=$(recorded_pid mariadb-direct)
    [gateway]=$(with_replicas set1 set2)
)
if ((SB_REPLICAS > 0)); then
    T_PORT[sync]=$SYNC_PORT T_PORT[haproxy-sync]=$HAPROXY_SYNC_PORT
    T_PROXY[sync]='' T_PROXY[haproxy-sync]=$(recorded_pid haproxy)
    T_DB[sync]=$(with_replicas sync) T_DB[haproxy-sync]=$(with_replicas sync)
fi
if [[ -n $PROXY_ONE_PORT ]]; then
    T_PORT[gateway-one]=$PROXY_ONE_PORT T_PROXY[gateway-one]=$(recorded_pid proxy-one)
    T_DB[gateway-one]=$(with_replicas sync)
fi
# Results by "variant-index target": qps tps err% p95 proxy-µs/stmt db-µs/stmt, or why not in
# R_NOTE.
declare -A R_QPS=() R_TPS=() R_ERR=() R_P95=() R_PCPU=() R_DBCPU=() R_NOTE=()

run_one() { # variant-index target
    local v=$1 target=$2 key="$1 $2" label=${V_LABEL[$1]} test=${V_TEST[$1]}
    local log="$WORK/sysbench/$1-$test-$2.log" port=${T_PORT[$2]} proxy=${T_PROXY[$2]}
    local db args a p0=0 p1=0 d0 d1 rc=0 parsed IGNORE=$IGNORE_ERRORS # IGNORE: read by sb()
    read -ra db <<<"${T_DB[$target]}"
    read -ra args <<<"${V_ARGS[$v]}"
    for a in "${!args[@]}"; do
        if [[ ${args[a]} == --mysql-ignore-errors=* ]]; then
            IGNORE=${args[a]#*=}
            unset 'args[a]'
        fi
    done
    if [[ $target == gateway ]]; then
        if [[ -n $GATEWAY_BROKEN ]]; then
            R_NOTE[$key]="not run: $GATEWAY_BROKEN"
            return 0
        elif [[ -n ${V_GW_SKIP[$v]} ]]; then
            R_NOTE[$key]=${V_GW_SKIP[$v]}
            warn "$label on gateway: ${R_NOTE[$key]}"
            return 0
        fi
    fi
    say "$label on $target (${SB_TIME}s, $SB_THREADS threads)"
    [[ -z $proxy ]] || p0=$(cpu_ticks "$proxy")
    d0=$(sum_ticks "${db[@]}")
    sb "$port" run "$test" "${args[@]}" >"$log" 2>&1 || rc=$?
    [[ -z $proxy ]] || p1=$(cpu_ticks "$proxy")
    d1=$(sum_ticks "${db[@]}")
    if [[ -z $p1 || -z $d1 ]]; then
        R_NOTE[$key]="a server process exited during the run"
        if [[ -z $p1 ]]; then
            log_tail "${T_PROXY_NAME[$target]}"
            [[ $target != gateway ]] || GATEWAY_BROKEN="setwise-proxy exited during an earlier run"
        fi
    elif ((rc == 124 || rc == 137)); then
        R_NOTE[$key]="did not end within $((SB_TIME + RUN_GRACE))s; killed"
    elif ((rc != 0)); then
        R_NOTE[$key]="failed (exit $rc): $(first_error "$log")"
    fi
    if [[ -n ${R_NOTE[$key]:-} ]]; then
        warn "$label on $target: ${R_NOTE[$key]}"
        return 0
    fi
    # queries: N (X per sec.) / transactions: N (X per sec.) / ignored errors: N / 95th percentile: X
    parsed=$(awk -v tck="$CLK_TCK" -v pd=$((p1 - p0)) -v dd=$((d1 - d0)) -v has_proxy="${proxy:+1}" '
        /^ *transactions:/ { tps = $3; sub(/\(/, "", tps) }
        /^ *queries:/ { q = $2; qps = $3; sub(/\(/, "", qps) }
        /^ *ignored errors:/ { e = $3 }
        /95th percentile:/ { p95 = $3 }
        END {
            if (q == "" || p95 == "") exit 1
            n = q + e
            printf "%.0f %.0f %.2f %.2f %s %s\n", qps, tps, n ? 100 * e / n : 0, p95,
                has_proxy ? sprintf("%.1f", pd * 1e6 / tck / n) : "-", sprintf("%.1f", dd * 1e6 / tck / n)
        }' "$log") || {
        R_NOTE[$key]="no figures in sysbench's output: $(first_error "$log")"
        warn "$label on $target: ${R_NOTE[$key]}"
        return 0
    }
    read -r "R_QPS[$key]" "R_TPS[$key]" "R_ERR[$key]" "R_P95[$key]" "R_PCPU[$key]" "R_DBCPU[$key]" <<<"$parsed"
    ok "qps ${R_QPS[$key]}, errors ${R_ERR[$key]}%, p95 ${R_P95[$key]} ms"
}

# SB_GATEWAY_BINS: labels and paths of the gateway binaries to compare.
GW_LABELS=() GW_PATHS=() GW_CONFS=()
for b in $SB_GATEWAY_BINS; do
    IFS=, read -ra kv <<<"${b#*=}"
    [[ $b == *=* && -x ${kv[0]} ]] || die "SB_GATEWAY_BINS: '$b' is not label=executable[,key=value...]"
    label=${b%%=*} conf="$WORK/conf/proxy-$label.toml"
    cp "$WORK/conf/proxy.toml" "$conf"
    for o in "${kv[@]:1}"; do
        [[ $o =~ ^([a-z_]+)=(.+)$ ]] || die "SB_GATEWAY_BINS: '$o' is not key=value"
        # The key's line in [backend] replaced, or added right after the section's header.
        if grep -q "^${BASH_REMATCH[1]} = " "$conf"; then
            sed -i "s|^${BASH_REMATCH[1]} = .*|${BASH_REMATCH[1]} = ${BASH_REMATCH[2]}|" "$conf"
        else
            sed -i "s|^\[backend\]\$|[backend]\n${BASH_REMATCH[1]} = ${BASH_REMATCH[2]}|" "$conf"
        fi
    done
    GW_LABELS+=("$label") GW_PATHS+=("${kv[0]}") GW_CONFS+=("$conf")
done
: "${SB_RAW:=$WORK/raw.txt}"
ROUND=1 RUN_LABEL=''
# Restarts the gateway: binary $1, config $2 (and waits until it answers).
restart_gateway() {
    stop_group 30 proxy >/dev/null
    start_bg proxy "$1" --config "$2"
    wait_until proxy 30 "the gateway ($1) to answer SELECT 1 as user sb" client "$SETWISE_PROXY_PORT" 'SELECT 1'
    T_PROXY[gateway]=$(recorded_pid proxy)
}
# One line of SB_RAW for the run just made (nothing if it gave no figures).
raw_line() { # variant-index target
    local key="$1 $2"
    [[ -n ${R_QPS[$key]:-} && -z ${R_NOTE[$key]:-} ]] || return 0
    printf 'r%s %s %s qps %s p95 %s err %s proxy_us %s db_us %s load %s\n' "$ROUND" "${V_LABEL[$1]// /_}" \
        "${RUN_LABEL:-$2}" "${R_QPS[$key]}" "${R_P95[$key]}" "${R_ERR[$key]}" "${R_PCPU[$key]}" \
        "${R_DBCPU[$key]}" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$SB_RAW" >&2
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date '+%F %T %Z')
for ((ROUND = 1; ROUND <= SB_ROUNDS; ROUND++)); do
    for v in "${!V_LABEL[@]}"; do
        for target in "${TARGETS[@]}"; do
            if [[ $target == gateway && ${#GW_PATHS[@]} -gt 0 && -z $GATEWAY_BROKEN ]]; then
                for i in "${!GW_PATHS[@]}"; do
                    restart_gateway "${GW_PATHS[i]}" "${GW_CONFS[i]}"
                    RUN_LABEL="gw-${GW_LABELS[i]}"
                    unset "R_NOTE[$v $target]" "R_QPS[$v $target]"
                    run_one "$v" "$target"
                    raw_line "$v" "$target"
                done
                RUN_LABEL=''
            else
                unset "R_NOTE[$v $target]" "R_QPS[$v $target]"
                run_one "$v" "$target"
                raw_line "$v" "$target"
            fi
        done
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
[[ ! -s $SB_RAW ]] || { say "raw lines ($SB_RAW):"; cat "$SB_RAW" >&2; }

# ---------------------------------------------------------------- report

ratio() { # a b -> a/b with 2 decimals, or -
    awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f\n", a / b; else print "-" }'
}

# Tab-separated rows: test target qps tps err% p95 qps/direct qps/haproxy qps/haproxy-sync
# proxy-µs db-µs, or test target note. The sync targets are compared with their own direct one.
rows() {
    local v target key vs_direct vs_haproxy vs_hsync
    for v in "${!V_LABEL[@]}"; do
        for target in "${TARGETS[@]}"; do
            key="$v $target"
            if [[ -n ${R_NOTE[$key]:-} ]]; then
                printf '%s\t%s\t%s\n' "${V_LABEL[$v]}" "$target" "${R_NOTE[$key]}"
                continue
            fi
            vs_direct=- vs_haproxy=- vs_hsync=-
            case $target in
            haproxy | gateway) vs_direct=$(ratio "${R_QPS[$key]}" "${R_QPS[$v direct]:-}") ;;
            haproxy-sync) vs_direct=$(ratio "${R_QPS[$key]}" "${R_QPS[$v sync]:-}") ;;
            gateway-one)
                vs_direct=$(ratio "${R_QPS[$key]}" "${R_QPS[$v sync]:-}")
                vs_hsync=$(ratio "${R_QPS[$key]}" "${R_QPS[$v haproxy-sync]:-}")
                ;;
            esac
            if [[ $target == gateway ]]; then
                vs_haproxy=$(ratio "${R_QPS[$key]}" "${R_QPS[$v haproxy]:-}")
                ((SB_REPLICAS == 0)) || vs_hsync=$(ratio "${R_QPS[$key]}" "${R_QPS[$v haproxy-sync]:-}")
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${V_LABEL[$v]}" "$target" "${R_QPS[$key]}" \
                "${R_TPS[$key]}" "${R_ERR[$key]}" "${R_P95[$key]}" "$vs_direct" "$vs_haproxy" "$vs_hsync" \
                "${R_PCPU[$key]}" "${R_DBCPU[$key]}"
        done
    done
}
HEAD=(test target qps tps 'err %' 'p95 ms' 'qps/direct' 'qps/haproxy' 'qps/haproxy-sync' 'proxy CPU µs/stmt' 'MariaDB CPU µs/stmt')

COMMIT=$(git -C "$SETWISE_REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$SETWISE_REPO" diff --quiet HEAD -- proxy topo 2>/dev/null || COMMIT+=" (with uncommitted changes in proxy/ or topo/)"
REPLICAS_NOTE=''
((SB_REPLICAS == 0)) || REPLICAS_NOTE=", $SB_REPLICAS semi-sync replicas per primary (sync, sets)"
SETTINGS="threads $SB_THREADS, ${SB_TIME}s per run$REPLICAS_NOTE, $SB_TABLES tables x $SB_TABLE_SIZE rows, --db-ps-mode=auto, --auto-inc=off, --mysql-ignore-errors=$IGNORE_ERRORS"

echo
say "results ($SETTINGS)"
{
    printf '%s\t' "${HEAD[@]}"
    echo
    rows
} | awk -F'\t' '
    { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (NF > 3 || i < 3) if (length($i) > w[i]) w[i] = length($i) } n[NR] = NF }
    END {
        for (r = 1; r <= NR; r++) {
            line = ""
            for (i = 1; i <= n[r]; i++)
                line = line sprintf(n[r] == 3 && i == 3 ? "%s" : i <= 2 ? "%-" w[i] "s  " : "%" w[i] "s  ", c[r, i])
            print "    " line
        }
    }'
if [[ -z $GATEWAY_BROKEN ]]; then
    note "gateway on sysbench's statement shapes (one probe each):"
    for s in "${SHAPE_ORDER[@]}"; do note "  $s: ${SHAPE_RESULT[$s]}"; done
    note "rows per set after prepare: $ROWS_PER_SET"
fi
if ((SB_REPLICAS > 0)); then
    note "direct/haproxy: one MariaDB; sync/haproxy-sync: one primary + $SB_REPLICAS semi-sync replicas (qps/direct of haproxy-sync is against sync); gateway: 2 sets of that shape; gateway-one: a gateway in front of the sync servers as one set."
else
    note "direct/haproxy: one MariaDB; gateway: 2 sets, one primary each, no replicas."
fi
note "load average before $LOAD_BEFORE, after $LOAD_AFTER (sysbench and all servers share $(nproc) cores)"

if [[ -n $SB_RESULTS ]]; then
    mkdir -p "$(dirname "$SB_RESULTS")"
    {
        echo "# sysbench: direct MariaDB vs haproxy vs Setwise gateway ($(date +%F))"
        echo
        echo "Written by \`bench/sysbench.sh\`; bench/README.md explains the columns."
        echo
        echo "- started $STARTED; commit $COMMIT"
        echo "- machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr);" \
            "load average before $LOAD_BEFORE, after $LOAD_AFTER"
        echo "- $(sysbench --version), MariaDB $(mariadbd --version | awk '{ print $3 }'), $(haproxy -v | awk 'NR == 1 { print "HAProxy " $3 }')"
        echo "- sysbench: $SETTINGS"
        echo "- MariaDB options (every instance): \`${MARIADB_OPTS[*]}\`"
        if ((SB_REPLICAS > 0)); then
            echo "- direct: one MariaDB. haproxy: \`mode tcp\` in front of that same instance. sync: one primary with" \
                "$SB_REPLICAS semi-sync replicas (AFTER_SYNC, as deploy/local sets up a set); haproxy-sync: haproxy in front of it" \
                "(its qps/direct is against sync). gateway: \`setwise-proxy\` (release build) in front of 2 sets of that" \
                "shape (a primary + $SB_REPLICAS semi-sync replicas each), the tables sharded by \`id\` over both" \
                "(rows per set after prepare: ${ROWS_PER_SET:-?}). qps/haproxy-sync is the fair ratio (same durability)." \
                "gateway-one: a second \`setwise-proxy\` in front of the sync servers as one set (tables sharded by" \
                "\`id\` over that one set): the gateway's own cost on the servers haproxy-sync fronts."
        else
            echo "- direct: one MariaDB. haproxy: \`mode tcp\` in front of that same instance. gateway: \`setwise-proxy\`" \
                "(release build) in front of 2 sets of one primary each, the tables sharded by \`id\` over both" \
                "(rows per set after prepare: ${ROWS_PER_SET:-?}). No replicas (SB_REPLICAS=0)."
        fi
        echo "- gateway settings: \`workers = $SB_WORKERS\` (0 = half the cores), \`[backend] pipeline_conns = $SB_PIPELINE\`" \
            "(pipelined point reads; 0 = off), \`[xa] decisions = \"$SB_XA_DECISIONS\"\`," \
            "\`[audit] enabled = $( ((SB_AUDIT)) && echo true || echo false)\`," \
            "\`[digests] enabled = $( ((SB_DIGESTS)) && echo true || echo false)\`," \
            "\`metrics_listen\` ${METRICS_ADDR:-off}, other settings default."
        echo "- Everything on loopback on this machine: sysbench, the proxies and MariaDB share the same $(nproc) cores."
        echo
        printf '| %s ' "${HEAD[@]}"
        echo '|'
        printf '|%s' '---' '---' '---:' '---:' '---:' '---:' '---:' '---:' '---:' '---:' '---:'
        echo '|'
        rows | awk -F'\t' '{
            if (NF == 3) { printf "| %s | %s | %s | | | | | | | | |\n", $1, $2, $3; next }
            line = "|"; for (i = 1; i <= NF; i++) line = line " " $i " |"; print line }'
        if [[ -z $GATEWAY_BROKEN ]]; then
            echo
            echo "The gateway on sysbench's statement shapes (one probe each, text protocol, before the runs):"
            echo
            for s in "${SHAPE_ORDER[@]}"; do echo "- $s \`${SHAPES[$s]}\`: ${SHAPE_RESULT[$s]}"; done
        fi
    } >"$SB_RESULTS"
    say "written to ${SB_RESULTS#"$SETWISE_REPO"/}"
fi
