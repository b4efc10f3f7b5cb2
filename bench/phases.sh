#!/usr/bin/env bash
# Where the gateway's time goes, per statement shape: CPU time per sysbench event of the gateway
# and of the sets' MariaDB primaries, and statements per event on each set, for a fixed number of
# events of each shape. Measures what a busy machine does not distort much (CPU time and counts,
# not throughput). Runs against a cluster held by `SB_HOLD=1 bench/sysbench.sh` (its temp dir):
#
#   SB_BUILD=0 SB_HOLD=1 SB_TARGETS=gateway SB_RESULTS= bench/sysbench.sh &   # prints "temp dir ..."
#   PH_WORK=/tmp/setwise-bench.XXXXXX bench/phases.sh
#
# Environment:
#   PH_WORK (required: the held run's temp dir)   PH_EVENTS (2000 per shape)   PH_THREADS (4)
#   PH_SHAPES (all of them, in order: see SHAPES below)   PH_TABLES (4)   PH_TABLE_SIZE (10000)
#   PH_STRACE (0; 1: also `strace -c -f` the gateway during the read_only shape: syscalls per event)
#   PH_BIN (empty; a gateway binary to restart the gateway with first, same config; needed
#            when the gateway is not running)
#   PH_BACKEND (empty; "key=value ...": [backend] keys to override in that restart)
# Prints one line per shape: gateway and MariaDB CPU µs per event, then per set the statements
# (Questions) and the Com_* counters that moved, per event.
set -euo pipefail

: "${PH_WORK:?PH_WORK must be the temp dir of a held bench/sysbench.sh run}"
: "${PH_EVENTS:=2000}" "${PH_THREADS:=4}" "${PH_TABLES:=4}" "${PH_TABLE_SIZE:=10000}"
: "${PH_STRACE:=0}" "${PH_BIN:=}" "${PH_BACKEND:=}"

# name -> sysbench test and options (oltp_*'s own knobs; each event is one transaction, or with
# --skip_trx=on the same statements in autocommit mode).
NO_RANGES="--simple_ranges=0 --sum_ranges=0 --order_ranges=0 --distinct_ranges=0"
SHAPE_ORDER=(point_auto trx_point1 trx_point10 trx_range trx_sum trx_order trx_distinct read_only
    range_auto sum_auto order_auto distinct_auto read_write)
declare -A SHAPES=(
    [point_auto]="oltp_read_only --skip_trx=on --point_selects=1 $NO_RANGES"
    [trx_point1]="oltp_read_only --point_selects=1 $NO_RANGES"
    [trx_point10]="oltp_read_only --point_selects=10 $NO_RANGES"
    [trx_range]="oltp_read_only --point_selects=1 --simple_ranges=1 --sum_ranges=0 --order_ranges=0 --distinct_ranges=0"
    [trx_sum]="oltp_read_only --point_selects=1 --simple_ranges=0 --sum_ranges=1 --order_ranges=0 --distinct_ranges=0"
    [trx_order]="oltp_read_only --point_selects=1 --simple_ranges=0 --sum_ranges=0 --order_ranges=1 --distinct_ranges=0"
    [trx_distinct]="oltp_read_only --point_selects=1 --simple_ranges=0 --sum_ranges=0 --order_ranges=0 --distinct_ranges=1"
    [read_only]="oltp_read_only"
    [range_auto]="oltp_read_only --skip_trx=on --point_selects=0 --simple_ranges=1 --sum_ranges=0 --order_ranges=0 --distinct_ranges=0"
    [sum_auto]="oltp_read_only --skip_trx=on --point_selects=0 --simple_ranges=0 --sum_ranges=1 --order_ranges=0 --distinct_ranges=0"
    [order_auto]="oltp_read_only --skip_trx=on --point_selects=0 --simple_ranges=0 --sum_ranges=0 --order_ranges=1 --distinct_ranges=0"
    [distinct_auto]="oltp_read_only --skip_trx=on --point_selects=0 --simple_ranges=0 --sum_ranges=0 --order_ranges=0 --distinct_ranges=1"
    [read_write]="oltp_read_write"
)
: "${PH_SHAPES:=${SHAPE_ORDER[*]}}"

pid_of() { cat "$PH_WORK/pids/$1.pid"; }
port_of_instance() { # mariadb pid -> its --port
    tr '\0' '\n' <"/proc/$1/cmdline" | sed -n 's/^--port=//p'
}
GW_PID=$(pid_of proxy)
GW_PORT=$(sed -n 's/^listen = "127.0.0.1:\([0-9]*\)"/\1/p' "$PH_WORK/conf/proxy.toml")
DB_PIDS=() SET_PORTS=()
for s in set1 set2; do
    p=$(pid_of "mariadb-$s")
    DB_PIDS+=("$p")
    SET_PORTS+=("$(port_of_instance "$p")")
done

if [[ -n $PH_BIN || -n $PH_BACKEND ]]; then
    conf=$PH_WORK/conf/proxy-phases.toml
    cp "$PH_WORK/conf/proxy.toml" "$conf"
    for kv in $PH_BACKEND; do
        k=${kv%%=*} v=${kv#*=}
        if grep -q "^$k = " "$conf"; then
            sed -i "s|^$k = .*|$k = $v|" "$conf"
        else
            sed -i "s|^\[backend\]$|[backend]\n$k = $v|" "$conf"
        fi
    done
    bin=${PH_BIN:-$(readlink -f "/proc/$GW_PID/exe" 2>/dev/null || true)}
    kill -TERM "$GW_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
    "${bin:?no gateway binary}" --config "$conf" >>"$PH_WORK/logs/proxy-phases.log" 2>&1 &
    GW_PID=$!
    echo "$GW_PID" >"$PH_WORK/pids/proxy.pid"
    for _ in $(seq 1 100); do
        mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$GW_PORT" -usb -psb -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.2
    done
fi

ticks() { # pid... -> utime + stime, all threads
    local t=0 p f
    for p in "$@"; do
        read -ra f <<<"$(sed 's/.*) //' "/proc/$p/stat")"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}
CLK_TCK=$(getconf CLK_TCK)
COUNTERS="Questions Com_select Com_stmt_execute Com_stmt_prepare Com_xa_start Com_xa_end Com_xa_prepare Com_xa_commit Com_xa_rollback Com_begin Com_commit Com_rollback Com_insert Com_update Com_delete Com_set_option"
status() { # port -> "name value" lines
    local like
    like=$(sed "s/\([A-Za-z_]*\)/'\1'/g; s/ /,/g" <<<"$COUNTERS")
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$1" -uroot --batch --skip-column-names \
        -e "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ($like)"
}

for name in $PH_SHAPES; do
    [[ -n ${SHAPES[$name]:-} ]] || { echo "unknown shape $name" >&2; exit 2; }
    read -ra args <<<"${SHAPES[$name]}"
    declare -A before=()
    for i in 0 1; do
        while read -r k v; do before[$i.$k]=$v; done < <(status "${SET_PORTS[$i]}")
    done
    g0=$(ticks "$GW_PID") d0=$(ticks "${DB_PIDS[@]}")
    st=''
    if ((PH_STRACE)) && [[ $name == read_only ]]; then
        st=$PH_WORK/logs/strace-$name.txt
        strace -c -f -q -p "$GW_PID" -o "$st" &
        ST_PID=$!
        sleep 0.5
    fi
    t0=$(date +%s.%N)
    sysbench "${args[0]}" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$GW_PORT" \
        --mysql-user=sb --mysql-password=sb --mysql-db=sbtest --tables="$PH_TABLES" \
        --table-size="$PH_TABLE_SIZE" --threads="$PH_THREADS" --events="$PH_EVENTS" --time=0 \
        --db-ps-mode=auto --auto-inc=off --report-interval=0 \
        --mysql-ignore-errors=1213,1020,1205 "${args[@]:1}" run >"$PH_WORK/logs/phases-$name.log" 2>&1 ||
        { echo "$name: sysbench failed (see $PH_WORK/logs/phases-$name.log)" >&2; continue; }
    t1=$(date +%s.%N)
    if [[ -n $st ]]; then
        kill -INT "$ST_PID"
        wait "$ST_PID" 2>/dev/null || true
    fi
    g1=$(ticks "$GW_PID") d1=$(ticks "${DB_PIDS[@]}")
    line=$(awk -v n="$name" -v e="$PH_EVENTS" -v g=$((g1 - g0)) -v d=$((d1 - d0)) -v hz="$CLK_TCK" \
        -v s="$(echo "$t1 - $t0" | bc)" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
        'BEGIN { printf "%-14s gw_us %7.1f db_us %7.1f wall_s %5.1f load %s", n, g*1e6/hz/e, d*1e6/hz/e, s, l }')
    for i in 0 1; do
        line+=" | set$((i + 1)):"
        while read -r k v; do
            dv=$((v - ${before[$i.$k]:-0}))
            ((dv == 0)) && continue
            line+=$(awk -v k="$k" -v d="$dv" -v e="$PH_EVENTS" 'BEGIN { sub(/^(COM_|Com_)/, "", k); printf " %s %.2f", tolower(k), d/e }')
        done < <(status "${SET_PORTS[$i]}")
    done
    echo "$line"
    if [[ -n $st ]]; then
        echo "  syscalls of the gateway during $name (per event):"
        awk -v e="$PH_EVENTS" '$1 ~ /^[0-9.]+$/ && NF >= 5 { printf "    %-16s %6.2f calls  %6.1f us\n", $NF, $4/e, $2*1e6/e }' "$st" | sort -k2 -nr | head -12
    fi
    unset before
done
