#!/usr/bin/env bash
# Chaos run: round after round, a fault on the primary of a set while writers commit
# numbered rows through the gateway. Faults, in turn (--faults): kill (kill -9 the primary,
# restart it read-only after the failover), hang (SIGSTOP the primary, SIGCONT it after the
# failover: it must be fenced and rejoin by itself), leader (kill -9 the primary and, once the
# failover is fenced, the scheduler leader; both restarted after). Measures RTO (fault -> first
# write sent after it acknowledged), RPO (acknowledged rows missing on the new primary) and
# the time until the set is whole again (one writable primary, every other node replicating
# from it, every acknowledged row on every node). 2 sets x (primary + 2 replicas), gateway,
# agents, 2 schedulers, on this machine's loopback in a temp dir (the test harness: tests/src).
# Not a CI test. Prints one line per round and a summary; writes bench/results/<date>-chaos.md.
# See bench/README.md.
#
# Usage: bench/chaos.sh [--rounds N] [--faults kill,hang,leader] [--max-secs S] [--out FILE|-]
#                       [--rto-target-ms MS] [--rto-max-ms MS] [--takeover-ms MS]
#                       [--restart-writable]
#   defaults: 20 rounds, all three faults, 1800 s, median RTO <= 1000 ms, max <= 2000 ms,
#   schedulers' takeover_ms 600 as in deploy/local (0: a dead leader replaced at its TTL)
# Environment:
#   CHAOS_PROFILE (release: cargo build --release the programs; debug: the debug build)
#   CHAOS_BUILD (1: build first; 0: use the binaries as they are)
#   SETWISE_KEEP_TMP (1 keeps the temp dir with every program's log)
# Exit code 0 only when every round ran with RPO 0 and ended whole again, the median RTO met
# --rto-target-ms and the max --rto-max-ms.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
fi

: "${CHAOS_PROFILE:=release}" "${CHAOS_BUILD:=1}"
case $CHAOS_PROFILE in
release) flags=(--release) ;;
debug) flags=() ;;
*)
    echo "error: CHAOS_PROFILE must be release or debug, not '$CHAOS_PROFILE'" >&2
    exit 2
    ;;
esac
target=${CARGO_TARGET_DIR:-$PWD/target}
[[ $target == /* ]] || target=$PWD/$target
bin_dir=$target/$CHAOS_PROFILE

if [[ $CHAOS_BUILD == 1 ]]; then
    cargo build "${flags[@]}" -p setwise-proxy -p setwise-agent -p setwise-scheduler \
        -p setwise-tests --bins
fi
for b in setwise-proxy setwise-agent setwise-scheduler setwise setwise-chaos; do
    [[ -x $bin_dir/$b ]] || {
        echo "error: $bin_dir/$b is missing (run with CHAOS_BUILD=1)" >&2
        exit 1
    }
done
for tool in mariadbd mariadb-install-db etcd; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool not found (Debian: mariadb-server, etcd-server)" >&2
        exit 1
    }
done
SETWISE_BIN_DIR=$bin_dir exec "$bin_dir/setwise-chaos" "$@"
