#!/usr/bin/env bash
# Scatter reads of a big table through the gateway, against the same read on one MariaDB, in one
# run on this machine's loopback: sc.t of SC_ROWS rows sharded by `id` over 2 sets (one primary
# each) behind the gateway, the same table on one plain MariaDB ("direct"). Each query is read to
# its end by the mariadb client (--quick: row by row, nothing buffered on the client side) and
# timed; the gateway's peak RSS during each query is read from /proc (VmHWM, reset before each
# query through /proc/PID/clear_refs), to show that a scatter streams in bounded memory.
#   all      SELECT * FROM t                          (every row, merged as the sets send them)
#   sorted   SELECT * FROM t ORDER BY k               (a merge of the sets' sorted streams)
#   grouped  SELECT g, COUNT(*), SUM(k) FROM t GROUP BY g   (partial aggregates merged)
#   limit    SELECT * FROM t ORDER BY k LIMIT 10      (top-N of each set, merged)
# Prints per query: rows, time direct / gateway, the ratio, the gateway's RSS before and its peak;
# writes the same as Markdown to bench/results/<date>-scatter.md. Everything runs in a temp dir
# and is stopped on exit.
#
# Environment:
#   SC_ROWS (1000000)  SC_RUNS (2: runs per query and target, best time kept)
#   SC_BUILD (1: cargo build --release the two binaries first; 0: use target/release as is)
#   SC_RESULTS (bench/results/<date>-scatter.md; empty: nowhere)  SC_KEEP (0; 1 keeps the temp dir)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
(($# == 0)) || {
    echo "usage: $0 (settings come from the environment; try --help)" >&2
    exit 2
}

: "${SC_ROWS:=1000000}" "${SC_RUNS:=2}" "${SC_BUILD:=1}" "${SC_KEEP:=0}"
: "${SC_RESULTS=$BENCH_DIR/results/$(date +%F)-scatter.md}"
for v in SC_ROWS SC_RUNS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || {
        echo "error: $v must be a positive number, not '${!v}'" >&2
        exit 2
    }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/setwise-scatterbench.XXXXXX")
export SETWISE_HOME=$WORK
# shellcheck source=../deploy/local/lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/../deploy/local/lib.sh"
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$BENCH_DIR/lib.sh"
SETWISE_CLUSTER=bench

cleanup() {
    local rc=$?
    trap - EXIT
    stop_bench "$SC_KEEP" "logs/, data/"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$WORK"/{pids,logs,conf,mysql,run,proxy,data}

require_programs "etcd-server etcd-client mariadb-server mariadb-client" etcd etcdctl mariadbd mariadb mariadb-install-db
release_binaries "$SC_BUILD" SC_BUILD
bench_ports
start_servers sc

say "registering 2 sets, user sb and the sharded table sc.t in etcd (setwise CLI)"
for set in "${SETS[@]}"; do
    setwise_cli set add "$set" >/dev/null || die "setwise set add $set failed"
    setwise_cli node add "$set-n0" --set "$set" --addr "127.0.0.1:${SET_PORT[$set]}" --role primary >/dev/null ||
        die "setwise node add $set-n0 failed"
done
setwise_cli user add sb --password sb --host 127.0.0.0/8 >/dev/null || die "setwise user add sb failed"
setwise_cli db add sc --sets set1,set2 >/dev/null || die "setwise db add sc failed"
setwise_cli table set sc.t --shardkey id >/dev/null || die "setwise table set sc.t failed"

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
EOF
say "starting setwise-proxy on 127.0.0.1:$SETWISE_PROXY_PORT"
start_bg proxy "$SETWISE_BIN/setwise-proxy" --config "$WORK/conf/proxy.toml"
PROXY_PID=$(recorded_pid proxy)

dclient() { # port [mariadb args...] (as sb, database sc)
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -usb -psb -D sc --connect-timeout=5 \
        --batch --skip-column-names --quick "${@:2}"
}
wait_until proxy 30 "the gateway to answer SELECT 1 as user sb" \
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$SETWISE_PROXY_PORT" -usb -psb -e 'SELECT 1'
out=$(mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$SETWISE_PROXY_PORT" -usb -psb \
    -e 'CREATE DATABASE IF NOT EXISTS sc' 2>&1) || fail proxy "CREATE DATABASE sc through the gateway failed: $out"

# ---------------------------------------------------------------- data

say "loading sc.t ($SC_ROWS rows) on direct and through the gateway"
DDL="CREATE TABLE t (id BIGINT PRIMARY KEY, k BIGINT NOT NULL, g INT NOT NULL, pad VARCHAR(100) NOT NULL, KEY (k))"
dclient "$DIRECT_PORT" -e "$DDL" || fail mariadb-direct "CREATE TABLE on direct failed"
dclient "$SETWISE_PROXY_PORT" -e "$DDL" || fail proxy "CREATE TABLE through the gateway failed"
awk -v n="$SC_ROWS" 'BEGIN {
    for (i = 1; i <= n; i++) {
        if ((i - 1) % 2000 == 0) printf "%sINSERT INTO t VALUES ", (i > 1 ? ";\n" : "");
        else printf ",";
        printf "(%d,%d,%d,\x27%s row %d\x27)", i, (i * 7919) % n, i % 100, "padding padding padding padding padding", i;
    }
    print ";";
}' >"$WORK/data/load.sql"
t=$SECONDS
dclient "$DIRECT_PORT" <"$WORK/data/load.sql" || fail mariadb-direct "loading on direct failed"
dclient "$SETWISE_PROXY_PORT" <"$WORK/data/load.sql" || fail proxy "loading through the gateway failed"
rm -f "$WORK/data/load.sql"
ok "loaded in $((SECONDS - t)) s"
for set in "${SETS[@]}"; do
    note "$set holds $(sql "${SET_PORT[$set]}" "SELECT COUNT(*) FROM sc.t") rows"
done

# ---------------------------------------------------------------- queries

NAMES=(all sorted grouped limit)
declare -A QUERY=(
    [all]="SELECT * FROM t"
    [sorted]="SELECT * FROM t ORDER BY k"
    [grouped]="SELECT g, COUNT(*), SUM(k) FROM t GROUP BY g"
    [limit]="SELECT * FROM t ORDER BY k LIMIT 10"
)
declare -A ROWS=([all]=$SC_ROWS [sorted]=$SC_ROWS [grouped]=100 [limit]=10)

kib() { awk -v f="$2" '$1 == f":" { print $2 }' "/proc/$1/status"; } # pid field -> KiB
# Runs query $2 on port $1 SC_RUNS times; prints "best_ms peak_kib" (peak: the gateway's VmHWM
# since the reset before the runs; 0 for direct).
measure() { # port name
    local best='' t0 t1 ms rows peak=0
    [[ $1 == "$SETWISE_PROXY_PORT" ]] && echo 5 >"/proc/$PROXY_PID/clear_refs"
    for ((r = 0; r < SC_RUNS; r++)); do
        t0=$(date +%s%N)
        rows=$(dclient "$1" -e "${QUERY[$2]}" | wc -l) || return 1
        t1=$(date +%s%N)
        ((rows == ROWS[$2])) || {
            warn "$2: expected ${ROWS[$2]} rows, got $rows"
            return 1
        }
        ms=$(((t1 - t0) / 1000000))
        [[ -z $best || $ms -lt $best ]] && best=$ms
    done
    [[ $1 == "$SETWISE_PROXY_PORT" ]] && peak=$(kib "$PROXY_PID" VmHWM)
    echo "$best $peak"
}

rss0=$(kib "$PROXY_PID" VmRSS)
header=$(printf '| query | rows | direct ms | gateway ms | gateway/direct | gateway RSS before | gateway peak RSS |\n|---|---|---|---|---|---|---|')
lines=()
for name in "${NAMES[@]}"; do
    read -r d _ < <(measure "$DIRECT_PORT" "$name") || fail mariadb-direct "$name on direct failed"
    rss=$(kib "$PROXY_PID" VmRSS)
    read -r g peak < <(measure "$SETWISE_PROXY_PORT" "$name") || fail proxy "$name through the gateway failed"
    lines+=("$(printf '| `%s` | %d | %d | %d | %s | %d MiB | %d MiB |' "${QUERY[$name]}" "${ROWS[$name]}" "$d" "$g" \
        "$(awk -v g="$g" -v d="$d" 'BEGIN { printf "%.2f", g / (d ? d : 1) }')" $((rss / 1024)) $((peak / 1024)))")
done

summary="$SC_ROWS rows sharded over 2 sets (one primary each), the mariadb client reading with --quick, best of $SC_RUNS runs, binaries from ${SETWISE_BIN#"$SETWISE_REPO"/}, this machine; the gateway's RSS at start: $((rss0 / 1024)) MiB"
echo
echo "$header"
printf '%s\n' "${lines[@]}"
echo "($summary)"
if [[ -n $SC_RESULTS ]]; then
    mkdir -p "$(dirname "$SC_RESULTS")"
    {
        echo "# Scatter reads through the gateway vs one MariaDB ($(date +%F))"
        echo
        echo "\`SC_ROWS=$SC_ROWS SC_RUNS=$SC_RUNS bench/scatter.sh\`"
        echo
        echo "$header"
        printf '%s\n' "${lines[@]}"
        echo
        echo "$summary."
    } >"$SC_RESULTS"
    note "written to $SC_RESULTS"
fi
