#!/usr/bin/env bash
# Cross-set joins through the gateway against the same join on one MariaDB, in one run on this
# machine's loopback: tables jb.a and jb.b of JB_ROWS rows each, sharded by `id` over 2 sets (one
# primary each) behind the gateway, and the same tables on one plain MariaDB ("direct").
#   lookup  SELECT a.id, b.w FROM a JOIN b ON b.id = a.k   (b reached by its shard key, batches of
#           JB_BATCH key values; forced with /* setwise:lookup */)
#   hash    SELECT a.id, b.w FROM a JOIN b ON b.k = a.k    (both sides read once; /* setwise:hash */)
# Each query runs JB_RUNS times on each target (rows read to the end by the mariadb client);
# prints the best time of each and the ratio gateway/direct. Everything runs in a temp dir and is
# stopped on exit.
#
# Environment:
#   JB_ROWS (100000)  JB_RUNS (3)  JB_BATCH (500: the gateway's [join] batch)
#   JB_BUILD (1: cargo build --release the two binaries first; 0: use target/release as is)
#   JB_KEEP (0; 1: keep the temp dir with the logs)
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

: "${JB_ROWS:=100000}" "${JB_RUNS:=3}" "${JB_BUILD:=1}" "${JB_KEEP:=0}" "${JB_BATCH:=500}"
for v in JB_ROWS JB_RUNS JB_BATCH; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
        echo "error: $v must be a positive number, not '${!v}'" >&2
        exit 2
    }
done

# The deploy scripts' helpers (start_bg, wait_until, port checks, sql, setwise_cli) work on
# SETWISE_HOME, which is our temp dir; nothing outside it is touched.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/setwise-joinbench.XXXXXX")
export SETWISE_HOME=$WORK
# shellcheck source=../deploy/local/lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/../deploy/local/lib.sh"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/lib.sh"
SETWISE_CLUSTER=bench

cleanup() {
    local rc=$?
    trap - EXIT
    stop_bench "$JB_KEEP" "logs/, data/"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK"/{pids,logs,conf,mysql,run,proxy,data}

# ---------------------------------------------------------------- binaries and ports

require_programs "etcd-server etcd-client mariadb-server mariadb-client" etcd etcdctl mariadbd mariadb mariadb-install-db
release_binaries "$JB_BUILD" JB_BUILD

# Free loopback ports; etcd, the plain MariaDB and the sets (bench/lib.sh).
bench_ports
start_servers jb

# ---------------------------------------------------------------- gateway

say "registering 2 sets, user sb, database jb and its sharded tables in etcd (setwise CLI)"
for set in "${SETS[@]}"; do
    setwise_cli set add "$set" >/dev/null || die "setwise set add $set failed"
    setwise_cli node add "$set-n0" --set "$set" --addr "127.0.0.1:${SET_PORT[$set]}" --role primary >/dev/null ||
        die "setwise node add $set-n0 failed"
done
setwise_cli user add sb --password sb --host 127.0.0.0/8 >/dev/null || die "setwise user add sb failed"
# Both tables sharded by id: `a.k = b.id` reaches b by its shard key (lookup join), `a.k = b.k`
# does not (hash join).
setwise_cli db add jb --sets set1,set2 >/dev/null || die "setwise db add jb failed"
for t in a b; do
    setwise_cli table set "jb.$t" --shardkey id >/dev/null || die "setwise table set jb.$t failed"
done

cat >"$WORK/conf/proxy.toml" <<EOF
listen = "127.0.0.1:$SETWISE_PROXY_PORT"
routing_cache = "$WORK/proxy/routing.json"
metrics_listen = ""

[etcd]
endpoints = ["$ETCD_URL"]
cluster = "$SETWISE_CLUSTER"

[backend]
user = "setwise_proxy"
password = "setwise"
pool_max = 64
connect_timeout_ms = 2000

[join]
memory_limit = 4294967296
batch = $JB_BATCH
EOF
say "starting setwise-proxy on 127.0.0.1:$SETWISE_PROXY_PORT"
start_bg proxy "$SETWISE_BIN/setwise-proxy" --config "$WORK/conf/proxy.toml"

client() { # port statements (as sb)
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -usb -psb --connect-timeout=5 \
        --batch --skip-column-names -e "$2"
}
wait_until proxy 30 "the gateway to answer SELECT 1 as user sb" client "$SETWISE_PROXY_PORT" 'SELECT 1'
# The database is in etcd already (db add); this creates it on the sets.
out=$(client "$SETWISE_PROXY_PORT" 'CREATE DATABASE IF NOT EXISTS jb' 2>&1) ||
    fail proxy "CREATE DATABASE jb through the gateway failed: $out"
ok "gateway up; database jb created on both sets"

# ---------------------------------------------------------------- data

# a.k points at b.id (every row matches one), b.k = id: 1:1 joins of JB_ROWS rows.
say "loading jb.a and jb.b ($JB_ROWS rows each) on direct and through the gateway"
DDL_A="CREATE TABLE a (id BIGINT PRIMARY KEY, k BIGINT, v VARCHAR(32), KEY (k))"
DDL_B="CREATE TABLE b (id BIGINT PRIMARY KEY, k BIGINT, w VARCHAR(32), KEY (k))"
dclient() { mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -usb -psb -D jb --batch --skip-column-names "${@:2}"; }
dclient "$DIRECT_PORT" -e "$DDL_A; $DDL_B" || fail mariadb-direct "CREATE TABLE on direct failed"
dclient "$SETWISE_PROXY_PORT" -e "$DDL_A; $DDL_B" || fail proxy "CREATE TABLE through the gateway failed"
awk -v n="$JB_ROWS" 'BEGIN {
    for (t = 0; t < 2; t++) {
        for (i = 1; i <= n; i++) {
            if ((i - 1) % 1000 == 0) printf "%sINSERT INTO %s VALUES ", (i > 1 ? ";\n" : ""), (t ? "b" : "a");
            else printf ",";
            k = (i * 7919) % n + 1;
            printf "(%d,%d,\x27row %d\x27)", i, (t ? i : k), i;
        }
        print ";";
    }
}' >"$WORK/data/load.sql"
dclient "$DIRECT_PORT" <"$WORK/data/load.sql" || fail mariadb-direct "loading on direct failed"
dclient "$SETWISE_PROXY_PORT" <"$WORK/data/load.sql" || fail proxy "loading through the gateway failed"
for set in "${SETS[@]}"; do
    n=$(sql "${SET_PORT[$set]}" "SELECT COUNT(*) FROM jb.a")
    note "$set holds $n rows of jb.a"
done

# ---------------------------------------------------------------- joins

declare -A QUERY=(
    [lookup]="SELECT a.id, b.w FROM a JOIN b ON b.id = a.k /* setwise:lookup */"
    [hash]="SELECT a.id, b.w FROM a JOIN b ON b.k = a.k /* setwise:hash */"
)
best_ms() { # port query -> best wall time in ms over JB_RUNS runs; checks the row count
    local best='' t0 t1 ms rows
    for ((r = 0; r < JB_RUNS; r++)); do
        t0=$(date +%s%N)
        rows=$(dclient "$1" -e "$2" | wc -l) || return 1
        t1=$(date +%s%N)
        ((rows == JB_ROWS)) || { warn "expected $JB_ROWS rows, got $rows"; return 1; }
        ms=$(((t1 - t0) / 1000000))
        [[ -z $best || $ms -lt $best ]] && best=$ms
    done
    echo "$best"
}
printf '\n%-8s %12s %12s %8s\n' join "direct ms" "gateway ms" ratio
for name in lookup hash; do
    d=$(best_ms "$DIRECT_PORT" "${QUERY[$name]}") || fail mariadb-direct "$name join on direct failed"
    g=$(best_ms "$SETWISE_PROXY_PORT" "${QUERY[$name]}") || fail proxy "$name join through the gateway failed"
    printf '%-8s %12d %12d %8s\n' "$name" "$d" "$g" "$(awk -v g="$g" -v d="$d" 'BEGIN { printf "%.1f", g / (d ? d : 1) }')"
done
echo "($JB_ROWS x $JB_ROWS rows, best of $JB_RUNS runs, release build, 2 sets, this machine)"
