#!/usr/bin/env bash
# Shows which processes of the local Setwise cluster are up (by the pids in $SETWISE_HOME/pids/),
# each MariaDB node's replication state, and `setwise status` when etcd is up.
# Exit status: 0 if every recorded process is up, 1 otherwise (or if nothing was started).
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check_env

if [[ ! -d $SETWISE_HOME/pids ]]; then
    say "no local cluster at $SETWISE_HOME (start one with deploy/local/up.sh)"
    exit 1
fi

say "processes ($SETWISE_HOME/pids)"
total=0 up=0
for glob in etcd 'mariadb-*' 'agent-*' 'scheduler-*' proxy; do
    for name in $(pid_names "$glob"); do
        total=$((total + 1))
        pid=$(recorded_pid "$name")
        detail=''
        case $name in
        etcd) detail="$ETCD_URL" ;;
        proxy) detail="127.0.0.1:$SETWISE_PROXY_PORT" ;;
        mariadb-set*-n*)
            node=${name#mariadb-}
            s=${node%%-*} s=${s#set} k=${node##*-n}
            port=$(node_port "$s" "$k")
            detail="127.0.0.1:$port"
            if is_running "$name" && mysql_alive "$port"; then
                if [[ -n $(slave_field "$port" Master_Host) ]]; then
                    detail+="  replica of :$(slave_field "$port" Master_Port)"
                    detail+="  io=$(slave_field "$port" Slave_IO_Running) sql=$(slave_field "$port" Slave_SQL_Running)"
                    detail+="  lag=$(slave_field "$port" Seconds_Behind_Master)"
                else
                    detail+="  no replication"
                fi
                detail+="  read_only=$(sql "$port" 'SELECT @@read_only')"
                detail+="  gtid=$(sql "$port" 'SELECT @@gtid_current_pos')"
            fi
            ;;
        esac
        if is_running "$name"; then
            up=$((up + 1))
            printf '    %-20s %sup%s    pid %-8s %s\n' "$name" "$_c_green" "$_c_off" "$pid" "$detail"
        else
            printf '    %-20s %sdown%s  pid %-8s (stale pid file; log: %s)\n' "$name" "$_c_red" "$_c_off" \
                "${pid:-?}" "$(logfile "$name")"
        fi
    done
done
((total > 0)) || note "no pid files: nothing is running"

if is_running etcd && etcd_healthy; then
    if [[ -x $SETWISE_BIN/setwise ]]; then
        say "setwise status"
        setwise_cli status || warn "setwise status failed"
    else
        note "($SETWISE_BIN/setwise not built: no cluster status)"
    fi
fi

((total > 0 && up == total))
