#!/usr/bin/env bash
# Rebuild time of a new replica from a RB_MB-sized datadir, through the same path as
# `setwise node add` (docs/rebuild.md): a local cluster (deploy/local/up.sh in a temp dir, one
# set of a primary and one replica), RB_MB MiB of rows loaded into the primary (table
# rb.big, ~1 KiB rows, replicated), then deploy/local/up.sh again with one more replica: its
# agent is given `rebuild` from the primary (mariadb-backup streamed from the primary's agent,
# mbstream -x, --prepare, datadir swap, restart, GTID join, caught up). Prints the primary's
# datadir size, the agent's outcome line and the wall time of the join. Everything runs in a temp
# dir and is stopped on exit.
#
# Environment:
#   RB_MB (850: a datadir of about 1 GB)  RB_KEEP (0; 1: keep the temp dir with the logs)
#   RB_BIN_DIR (target/release; e.g. target/debug): the Setwise programs to run (built already)
#   RB_LOGICAL (0; 1: agents serve no backups, so the rebuild is the logical fallback)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi
(($# == 0)) || {
    echo "usage: $0 (settings come from the environment; try --help)" >&2
    exit 2
}
: "${RB_MB:=850}" "${RB_KEEP:=0}" "${RB_BIN_DIR:=$REPO/target/release}" "${RB_LOGICAL:=0}"
[[ $RB_MB =~ ^[1-9][0-9]*$ ]] || {
    echo "error: RB_MB must be a positive number, not '$RB_MB'" >&2
    exit 2
}
for b in setwise setwise-agent setwise-scheduler setwise-proxy; do
    [[ -x $RB_BIN_DIR/$b ]] || {
        echo "error: $RB_BIN_DIR/$b is missing (cargo build --release --bins, or set RB_BIN_DIR)" >&2
        exit 2
    }
done
for p in mariadb-backup mbstream mariadbd etcd; do
    command -v "$p" >/dev/null || {
        echo "error: $p is not installed" >&2
        exit 2
    }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/setwise-rebuildbench.XXXXXX")
export SETWISE_HOME=$WORK SETWISE_SETS=1 SETWISE_BIN_DIR=$RB_BIN_DIR
# shellcheck source=../deploy/local/lib.sh
source "$REPO/deploy/local/lib.sh"

port_free() { ! port_in_use "$1"; }
pick_ports() {
    local b
    for ((i = 0; i < 50; i++)); do
        b=$((20000 + RANDOM % 30000))
        if port_free "$b" && port_free $((b + 1)) && port_free $((b + 2)) && port_free $((b + 5)) &&
            port_free $((b + 6)) && port_free $((b + 7)); then
            export SETWISE_MYSQL_BASE_PORT=$b SETWISE_ETCD_PORT=$((b + 5)) SETWISE_PROXY_PORT=$((b + 7))
            return 0
        fi
    done
    die "no free ports found"
}

cleanup() {
    "$REPO/deploy/local/down.sh" >/dev/null 2>&1 || true
    if ((RB_KEEP)); then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
pick_ports
check_env

if ((RB_LOGICAL)); then
    # Agents without --backup-listen: a wrapper drops it (the rebuild falls back to the logical copy).
    mkdir -p "$WORK/bin"
    for b in setwise setwise-scheduler setwise-proxy; do ln -s "$RB_BIN_DIR/$b" "$WORK/bin/$b"; done
    cat >"$WORK/bin/setwise-agent" <<EOF
#!/usr/bin/env bash
args=()
while ((\$#)); do
    if [[ \$1 == --backup-listen ]]; then shift 2; continue; fi
    args+=("\$1"); shift
done
exec -a setwise-agent $(printf '%q' "$RB_BIN_DIR/setwise-agent") "\${args[@]}"
EOF
    chmod +x "$WORK/bin/setwise-agent"
    export SETWISE_BIN_DIR=$WORK/bin
fi

say "starting a local cluster: 1 set, primary + 1 replica (in $WORK)"
SETWISE_REPLICAS=1 "$REPO/deploy/local/up.sh" >"$WORK/up1.log" 2>&1 || {
    tail -30 "$WORK/up1.log" >&2
    die "deploy/local/up.sh failed"
}
primary=$(node_port 1 0)
say "loading $RB_MB MiB into set1-n0 (rb.big, replicated to set1-n1)"
rows=$((RB_MB * 1024))
sql "$primary" "CREATE DATABASE IF NOT EXISTS rb;
    CREATE TABLE IF NOT EXISTS rb.big (id BIGINT PRIMARY KEY, pad VARCHAR(1000) NOT NULL)"
t0=$SECONDS
for ((from = 1; from <= rows; from += 100000)); do
    to=$((from + 99999 > rows ? rows : from + 99999))
    sql "$primary" "INSERT INTO rb.big SELECT seq, CONCAT(SHA2(seq, 256), REPEAT(MD5(seq), 29))
        FROM rb.seq_${from}_to_${to}"
done
wait_until '' 600 "set1-n1 to catch up" sh -c \
    "[ \"\$(mariadb -h127.0.0.1 -P$(node_port 1 1) -uroot -N -e 'SELECT COUNT(*) FROM rb.big')\" = $rows ]"
size=$(du -sb --exclude='mysql-bin.*' "$SETWISE_HOME/mysql/set1-n0" | cut -f1)
ok "loaded in $((SECONDS - t0)) s; set1-n0's datadir: $((size / 1048576)) MiB (binlogs, which a backup does not copy, left out)"

say "adding set1-n2 with deploy/local/up.sh (SETWISE_REPLICAS=2: setwise node add, the rebuild path)"
t0=$(date +%s.%N)
SETWISE_REPLICAS=2 "$REPO/deploy/local/up.sh" >"$WORK/up2.log" 2>&1 || {
    tail -30 "$WORK/up2.log" >&2
    die "deploy/local/up.sh (adding set1-n2) failed"
}
t1=$(date +%s.%N)
outcome=$(grep -m1 'node add: rebuild of set1-n2: \(physical\|logical\)' "$WORK/up2.log" || true)
join=$(grep -o 'set1-n2: joined.*' "$WORK/up2.log" | head -1 || true)
[[ -n $join ]] || die "set1-n2 did not join (see $WORK/up2.log)"
have=$(mariadb -h127.0.0.1 -P"$(node_port 1 2)" -uroot -N -e 'SELECT COUNT(*) FROM rb.big')
[[ $have == "$rows" ]] || die "set1-n2 has $have rows of rb.big, not $rows"
echo
echo "datadir of the source (set1-n0, binlogs left out): $((size / 1048576)) MiB, rb.big $rows rows"
echo "${outcome#node add: }"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "up.sh adding set1-n2 (start mariadbd + agent, rebuild, join, caught up): %.1f s\n", b - a }'
