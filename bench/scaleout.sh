#!/usr/bin/env bash
# Scale-out under load (not a test): a local cluster of 2 sets (deploy/local/up.sh in a temp dir),
# sysbench.sbtest1 of SO_ROWS rows sharded by id plus sbtest.ledger, sysbench oltp_read_write through
# the gateway (SO_THREADS threads) and writers that record every acknowledged insert/update of the
# ledger; then set3 is added (SETWISE_SETS=3 up.sh) and a third of the slots moved to it
# (`setwise shard move ... --wait`) while the load runs before, during and after. Prints rows
# lost / duplicated (ledger vs the writers' record; per-slot counts and checksums of sbtest1 on the
# owners vs through the gateway), the longest write hold (the move record's longest_hold_ms and the
# writers' longest latency), qps before/during/after and the move's duration, and writes the same
# as Markdown to bench/results/<date>-scaleout.md. Everything is stopped on exit.
#
# Environment:
#   SO_ROWS (1000000)  SO_THREADS (16)  SO_WRITERS (4)  SO_BEFORE (20 s)  SO_AFTER (20 s)
#   SO_SLOTS (0-340: the slots moved to set3)  SO_MOVE_TIMEOUT (1800 s)
#   SO_REPLICAS (0: sets of one primary, sync async; 1+: semi-sync replicas, sync strong)
#   SO_BUILD (1: cargo build --release --bins first; 0: use SETWISE_BIN_DIR or target/release)
#   SO_RESULTS (bench/results/<date>-scaleout.md; empty: nowhere)  SO_KEEP (0; 1 keeps the temp dir)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
(($# == 0)) || {
    echo "usage: $0 (settings come from the environment; try --help)" >&2
    exit 2
}

: "${SO_ROWS:=1000000}" "${SO_THREADS:=16}" "${SO_WRITERS:=4}" "${SO_BEFORE:=20}" "${SO_AFTER:=20}"
: "${SO_SLOTS:=0-340}" "${SO_MOVE_TIMEOUT:=1800}" "${SO_REPLICAS:=0}" "${SO_BUILD:=1}" "${SO_KEEP:=0}"
: "${SO_RESULTS=$BENCH_DIR/results/$(date +%F)-scaleout.md}"
for v in SO_ROWS SO_THREADS SO_WRITERS SO_BEFORE SO_AFTER SO_MOVE_TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
        echo "error: $v must be a positive number, not '${!v}'" >&2
        exit 2
    }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/setwise-scaleout.XXXXXX")
export SETWISE_HOME=$WORK
REPO=$(cd "$BENCH_DIR/.." && pwd)
if ((SO_BUILD)) || [[ -z ${SETWISE_BIN_DIR:-} ]]; then export SETWISE_BIN_DIR=$REPO/target/release; fi
# shellcheck source=../deploy/local/lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/../deploy/local/lib.sh"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/lib.sh"

SB_PID='' WRITER_PID=''
cleanup() {
    local rc=$?
    trap - EXIT
    touch "$WORK/stop-writers" 2>/dev/null || true
    for p in $SB_PID $WRITER_PID; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    stop_bench "$SO_KEEP" "logs/, sysbench.log, ledger.log"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK"/{pids,logs,conf,mysql,run,proxy}

require_programs "sysbench etcd-server etcd-client mariadb-server mariadb-client jq" \
    sysbench etcd etcdctl mariadbd mariadb mariadb-install-db jq python3
python3 -c 'import pymysql' 2>/dev/null || die "python3 module pymysql not found (pip install pymysql)"
if ((SO_BUILD)); then
    say "building the release binaries (cargo build --release --bins)"
    (cd "$REPO" && cargo build --release --bins) >"$WORK/logs/build.log" 2>&1 || fail build "cargo build failed"
fi
for b in setwise setwise-proxy setwise-scheduler setwise-agent; do
    [[ -x $SETWISE_BIN/$b ]] || die "$SETWISE_BIN/$b is missing: SO_BUILD=1, or SETWISE_BIN_DIR=DIR with SO_BUILD=0"
done

# ---------------------------------------------------------------- ports and the cluster

# A base with 30 free ports in a row (node k of set s: base + 10*(s-1) + k).
free_range() {
    local base i
    for _ in $(seq 1 200); do
        base=$((20000 + RANDOM % 30000))
        for ((i = 0; i < 30; i++)); do port_in_use $((base + i)) && continue 2; done
        echo "$base"
        return 0
    done
    die "no 30 free ports in a row found"
}
free_port SETWISE_ETCD_PORT
while port_in_use $((SETWISE_ETCD_PORT + 1)); do free_port SETWISE_ETCD_PORT; done
TAKEN[$((SETWISE_ETCD_PORT + 1))]=1
free_port SETWISE_PROXY_PORT
SETWISE_MYSQL_BASE_PORT=$(free_range)
export SETWISE_ETCD_PORT SETWISE_PROXY_PORT SETWISE_MYSQL_BASE_PORT SETWISE_REPLICAS=$SO_REPLICAS
# Full row images with column names for the mover's binlog catch-up.
export SETWISE_MARIADB_ARGS="--binlog-row-metadata=FULL --max-connections=500 --innodb-buffer-pool-size=256M"
check_env

up() { # sets
    SETWISE_SETS=$1 "$REPO/deploy/local/up.sh" --no-build >"$WORK/logs/up-$1-sets.log" 2>&1 ||
        fail "" "deploy/local/up.sh with $1 sets failed: see $WORK/logs/up-$1-sets.log (SO_KEEP=1 keeps it)"
}
# Without replicas a `strong` set refuses writes: register the sets `async` first.
async_sets() { # sets
    ((SO_REPLICAS == 0)) || return 0
    local s
    for ((s = 1; s <= $1; s++)); do
        setwise_cli set add "set$s" --sync async >/dev/null || die "setwise set add set$s failed"
    done
}
say "starting a 2-set cluster in $WORK (deploy/local/up.sh)"
SETWISE_SETS=2 "$REPO/deploy/local/up.sh" --db-only >"$WORK/logs/up-db-only.log" 2>&1 ||
    fail "" "deploy/local/up.sh --db-only failed: see $WORK/logs/up-db-only.log (SO_KEEP=1 keeps it)"
async_sets 2
up 2
ok "etcd $ETCD_URL, gateway 127.0.0.1:$SETWISE_PROXY_PORT, MariaDB from port $SETWISE_MYSQL_BASE_PORT"

setwise_cli db add sbtest --sets set1,set2 >/dev/null || die "setwise db add sbtest failed"
setwise_cli table set sbtest.sbtest1 --shardkey id >/dev/null || die "setwise table set failed"
wait_until proxy 30 "the gateway to create sbtest" gateway_sql 'CREATE DATABASE IF NOT EXISTS sbtest'
gateway_sql 'CREATE TABLE IF NOT EXISTS sbtest.ledger (id BIGINT NOT NULL PRIMARY KEY, v BIGINT NOT NULL,
    w INT NOT NULL) shardkey=id' || fail proxy "creating sbtest.ledger failed"

# Execs sysbench (call it in a subshell or in the background, so that $! is sysbench's pid).
sb() { # command [extra args]
    local cmd=$1
    shift
    exec sysbench oltp_read_write --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$SETWISE_PROXY_PORT" \
        --mysql-user=app --mysql-password=app --mysql-db=sbtest --tables=1 --table-size="$SO_ROWS" \
        --threads="$SO_THREADS" --auto-inc=off --db-ps-mode=auto --mysql-ignore-errors=1213,1020,1205,1235 \
        "$@" "$cmd"
}
say "sysbench prepare: $SO_ROWS rows through the gateway"
t=$SECONDS
(sb prepare --threads=1) >"$WORK/logs/prepare.log" 2>&1 || fail "" "sysbench prepare failed: $(tail -n3 "$WORK/logs/prepare.log")"
ok "prepared in $((SECONDS - t)) s"

say "adding set3 (SETWISE_SETS=3 deploy/local/up.sh)"
async_sets 3
up 3
setwise_cli shardmap sbtest | sed 's/^/    /'

# ---------------------------------------------------------------- load, move, load

say "load: sysbench oltp_read_write ($SO_THREADS threads) and $SO_WRITERS ledger writers"
SB_START=$(date +%s.%N)
sb run --time=$((SO_BEFORE + SO_MOVE_TIMEOUT + SO_AFTER + 60)) --report-interval=1 >"$WORK/sysbench.log" 2>&1 &
SB_PID=$!
python3 "$BENCH_DIR/scaleout_load.py" write --port "$SETWISE_PROXY_PORT" --threads "$SO_WRITERS" \
    --ledger "$WORK/ledger.log" --stop-file "$WORK/stop-writers" 2>"$WORK/logs/writers.log" &
WRITER_PID=$!
sleep "$SO_BEFORE"

say "moving slots $SO_SLOTS of sbtest to set3"
MOVE_START=$(date +%s.%N)
move_rc=0
setwise_cli shard move --db sbtest --slots "$SO_SLOTS" --to set3 --wait --timeout "$SO_MOVE_TIMEOUT" ||
    move_rc=$?
MOVE_END=$(date +%s.%N)
if ((move_rc == 0)); then
    say "after the move: $SO_AFTER s more load"
    sleep "$SO_AFTER"
fi
END=$(date +%s.%N)
touch "$WORK/stop-writers"
wait "$WRITER_PID" || true
WRITER_PID=''
kill -TERM "$SB_PID" 2>/dev/null || true
wait "$SB_PID" 2>/dev/null || true
SB_PID=''

# ---------------------------------------------------------------- figures

MOVE_JSON=$(setwise_cli shard moves --db sbtest --json | jq -c '.[-1]')
phase=$(jq -r .phase <<<"$MOVE_JSON")
hold_ms=$(jq -r '.longest_hold_ms // "-"' <<<"$MOVE_JSON")
took_ms=$(jq -r .took_ms <<<"$MOVE_JSON")
holds=$(jq -r .holds <<<"$MOVE_JSON")
rows_copied=$(jq -r .rows_copied <<<"$MOVE_JSON")

# qps per phase from sysbench's per-second reports ("[ 12s ] ... qps: 1234.56 ...").
qps_between() { # from to (unix seconds)
    awk -v s0="$SB_START" -v a="$1" -v b="$2" '
        /^\[ *[0-9]+s \]/ { t = s0 + substr($2, 1, length($2) - 1)
            for (i = 1; i <= NF; i++) if ($i == "qps:") q = $(i + 1)
            if (t > a && t <= b) { sum += q; n++ } }
        END { if (n) printf "%.0f", sum / n; else printf "-" }' "$WORK/sysbench.log"
}
QPS_BEFORE=$(qps_between "$SB_START" "$MOVE_START")
QPS_DURING=$(qps_between "$MOVE_START" "$MOVE_END")
QPS_AFTER=$(qps_between "$MOVE_END" "$END")

sets_arg=''
for s in 1 2 3; do
    p=''
    for ((k = 0; k <= SO_REPLICAS; k++)); do
        [[ $(sql "$(node_port "$s" "$k")" 'SELECT @@read_only' 2>/dev/null) == 0 ]] && p=$(node_port "$s" "$k")
    done
    [[ -n $p ]] || die "no writable primary found in set$s"
    sets_arg+="${sets_arg:+,}set$s=$p"
done
say "checking every row (sets' primaries directly, and through the gateway)"
CHECK=$(python3 "$BENCH_DIR/scaleout_load.py" check --ledger "$WORK/ledger.log" \
    --map-json "$(etcdctl_ get --print-value-only "$(etcd_key_prefix dbs/sbtest)")" --sets "$sets_arg" \
    --gateway-port "$SETWISE_PROXY_PORT" --rows "$SO_ROWS" --window "$MOVE_START" "$MOVE_END" 2>&1) ||
    true
echo "$CHECK" | sed 's/^/    /'

SUMMARY=$(
    cat <<EOF
| figure | value |
|---|---|
| rows | $SO_ROWS (sbtest1), slots $SO_SLOTS of 1024 moved set1 → set3 |
| move | phase $phase$( ((move_rc == 0)) || echo " (setwise shard move exited $move_rc)"), took $took_ms ms, $rows_copied rows copied, $holds hold(s) |
| longest write hold (move record) | $hold_ms ms |
| qps before / during / after | $QPS_BEFORE / $QPS_DURING / $QPS_AFTER |
$(grep -E '^(ledger|sbtest1|writers|RESULT)' <<<"$CHECK" | sed 's/|/\\|/g; s/^\([a-zA-Z0-9 ]*\): \(.*\)$/| \1 | \2 |/')
EOF
)
echo
say "scale-out under load ($SO_THREADS sysbench threads, $SO_WRITERS writers, debug=$([[ $SETWISE_BIN == *debug* ]] && echo yes || echo no))"
echo "$SUMMARY"
if [[ -n $SO_RESULTS ]]; then
    mkdir -p "$(dirname "$SO_RESULTS")"
    {
        echo "# bench/scaleout.sh, $(date -u '+%F %H:%M UTC')"
        echo
        echo "- $(nproc) cores, $(sysbench --version), MariaDB $(mariadbd --version | awk '{ print $3 }'), binaries $SETWISE_BIN"
        echo "- SO_ROWS=$SO_ROWS SO_THREADS=$SO_THREADS SO_WRITERS=$SO_WRITERS SO_BEFORE=$SO_BEFORE SO_AFTER=$SO_AFTER SO_REPLICAS=$SO_REPLICAS"
        echo
        echo "$SUMMARY"
    } >"$SO_RESULTS"
    note "written to $SO_RESULTS"
fi
((move_rc == 0)) || die "the move did not finish (phase $phase)"
grep -q '^RESULT: OK' <<<"$CHECK" || die "rows lost, duplicated or wrong (see above)"
