#!/usr/bin/env bash
# Stops the local Setwise cluster: exactly the processes named in $SETWISE_HOME/pids/, newest
# layer first (proxy, schedulers, agents, MariaDB, etcd). TERM, a bounded wait, then KILL.
#
#   deploy/local/down.sh           stop; keep the data
#   deploy/local/down.sh --purge   stop and delete $SETWISE_HOME (data, logs, config)
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

purge=0
for arg in "$@"; do
    case $arg in
    --purge) purge=1 ;;
    -h | --help)
        sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$arg' (try --help)" ;;
    esac
done

check_env

if [[ ! -d $SETWISE_HOME ]]; then
    say "nothing at $SETWISE_HOME: no local cluster there"
    exit 0
fi

say "stopping the local cluster in $SETWISE_HOME"
mapfile -t proxies < <(pid_names proxy)
mapfile -t schedulers < <(pid_names 'scheduler-*')
mapfile -t agents < <(pid_names 'agent-*')
mapfile -t mariadbs < <(pid_names 'mariadb-*')
mapfile -t etcds < <(pid_names etcd)
# Anything else with a pid file here (a name this script does not know) goes first.
others=()
for name in $(pid_names '*'); do
    case $name in
    proxy | scheduler-* | agent-* | mariadb-* | etcd) ;;
    *) others+=("$name") ;;
    esac
done

((${#others[@]} == 0)) || stop_group 20 "${others[@]}"
((${#proxies[@]} == 0)) || stop_group 20 "${proxies[@]}"
((${#schedulers[@]} == 0)) || stop_group 20 "${schedulers[@]}"
((${#agents[@]} == 0)) || stop_group 20 "${agents[@]}"
((${#mariadbs[@]} == 0)) || stop_group 120 "${mariadbs[@]}" # InnoDB flushes on shutdown
((${#etcds[@]} == 0)) || stop_group 20 "${etcds[@]}"

if ((purge)); then
    [[ -e $SETWISE_HOME/.setwise-home ]] ||
        die "$SETWISE_HOME has no .setwise-home marker; not deleting a directory up.sh did not make"
    rm -rf "$SETWISE_HOME"
    say "deleted $SETWISE_HOME"
else
    say "stopped; data and logs kept in $SETWISE_HOME (up.sh reuses them; rm -rf $SETWISE_HOME or down.sh --purge deletes them)"
fi
