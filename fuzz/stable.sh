#!/usr/bin/env bash
# Runs the stable harness of each fuzz target for about SECONDS (default 120),
# 20,000 mutations per seed, seeds 101, 102, ... until the time is up or an
# input fails (printed; saved under target/fuzz-failures/).
#   fuzz/stable.sh 300                 # every target
#   fuzz/stable.sh 300 lexer planner   # some
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
shift || true
targets=${*:-lexer planner execute session packet binlog_rows binlog_gtid}
cargo test -q -p setwise-proxy -p setwise-scheduler --lib --no-run 2>/dev/null || exit 1
for t in $targets; do
  case $t in
    binlog_*) crate=setwise-scheduler; path=moves::binlog::fuzz::tests::fuzz_$t ;;
    *) crate=setwise-proxy; path=fuzz::tests::fuzz_$t ;;
  esac
  end=$((SECONDS + secs)); seed=100; n=0; status=ok
  while [ $SECONDS -lt $end ]; do
    seed=$((seed + 1))
    if ! SETWISE_FUZZ_ITERS=20000 SETWISE_FUZZ_SEED=$seed \
      cargo test -q -p $crate --lib -- --exact $path > /tmp/setwise-fuzz-$t.out 2>&1; then
      status="FAILED at seed $seed (/tmp/setwise-fuzz-$t.out)"
      grep -a "on input" /tmp/setwise-fuzz-$t.out | head -1
      break
    fi
    n=$((n + 20000))
  done
  echo "$t: $n mutations, seeds 101..$seed, $status"
done
