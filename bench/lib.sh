# What the benchmarks share (sourced by bench/sysbench.sh and bench/join.sh after
# deploy/local/lib.sh, with WORK set): free loopback ports, and the servers every benchmark
# measures against — etcd, one plain MariaDB ("direct") and two sets of one primary each, the
# same server options on all three, a user `sb` and a database on the plain one, the gateway's
# account on the sets. With BENCH_REPLICAS=N (> 0) each set's primary gets N semi-sync replicas
# (AFTER_SYNC, as deploy/local sets them up) and one more primary with N such replicas, "sync",
# is the fair baseline for the gateway (same durability, no sharding).

# lib.sh's fail() points at deploy/local/down.sh; here the EXIT trap cleans up.
fail() {
    [[ -n $1 ]] && log_tail "$1"
    die "$2"
}

# Stops every process the benchmark started; keeps $WORK when $1 is 1 (saying so with $2).
stop_bench() { # keep kept-message
    local names
    mapfile -t names < <(pid_names '*')
    if ((${#names[@]} > 0)); then
        stop_group 30 "${names[@]}" >/dev/null
    fi
    if (($1)); then
        echo "kept $WORK ($2)" >&2
    else
        rm -rf "$WORK"
    fi
}

# Dies unless every program named is installed; $1 is the Debian packages that bring them.
require_programs() { # packages program...
    local pkgs=$1 p
    shift
    for p in "$@"; do
        command -v "$p" >/dev/null || die "$p not found (apt-get install $pkgs)"
    done
}

# Builds the release binaries when $1 is 1 ($2 names the knob), then checks they are there.
release_binaries() { # build knob
    local b
    if (($1)); then
        say "building setwise-proxy and setwise (cargo build --release; waits if another build holds the lock)"
        (cd "$SETWISE_REPO" && cargo build --release --bin setwise-proxy --bin setwise) >"$WORK/logs/build.log" 2>&1 ||
            fail build "cargo build failed"
    fi
    for b in setwise-proxy setwise; do
        [[ -x $SETWISE_BIN/$b ]] || die "$SETWISE_BIN/$b is missing: cargo build --release --bins (or $2=1)"
    done
}

# Free loopback ports, from a random base so that parallel runs rarely collide.
declare -A TAKEN=()
free_port() { # variable to set
    local p=$((20000 + RANDOM % 30000))
    while port_in_use "$p" || [[ -n ${TAKEN[$p]:-} ]]; do
        p=$((p + 1))
    done
    TAKEN[$p]=1
    printf -v "$1" '%s' "$p"
}

# The ports and names every benchmark uses (etcd, the gateway, the plain MariaDB, the sets).
bench_ports() {
    free_port SETWISE_ETCD_PORT
    free_port ETCD_PEER_PORT
    free_port SETWISE_PROXY_PORT
    free_port DIRECT_PORT
    free_port SET1_PORT
    free_port SET2_PORT
    ETCD_URL=http://127.0.0.1:$SETWISE_ETCD_PORT
    SETS=(set1 set2)
    declare -gA SET_PORT=([set1]=$SET1_PORT [set2]=$SET2_PORT)
    # Replicas: "<primary>-r<k>" for the sets and the "sync" baseline (BENCH_REPLICAS > 0).
    : "${BENCH_REPLICAS:=0}"
    declare -gA REPLICA_PORT=()
    SYNC_PORT=''
    if ((BENCH_REPLICAS > 0)); then
        free_port SYNC_PORT
        local p k
        for p in sync "${SETS[@]}"; do
            for ((k = 1; k <= BENCH_REPLICAS; k++)); do free_port "REPLICA_PORT[$p-r$k]"; done
        done
    fi
}

# Starts etcd, the plain MariaDB and both sets' primaries, and waits for them; `sb` and database
# $1 on the plain one.
start_servers() { # database
    local db=$1 name port set
    say "starting etcd on 127.0.0.1:$SETWISE_ETCD_PORT (temp dir $WORK)"
    start_bg etcd etcd --name bench --data-dir "$WORK/etcd" \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "bench=http://127.0.0.1:$ETCD_PEER_PORT"

    # The same server options for every instance: the direct one and both sets' primaries.
    MARIADB_OPTS=(
        --innodb-buffer-pool-size=256M --innodb-log-file-size=48M
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
        --skip-name-resolve --max-connections=500
        --log-bin=mysql-bin --binlog-format=ROW
    )

    install_db() {
        rm -rf "$WORK/mysql/template"
        mariadb-install-db --no-defaults --datadir="$WORK/mysql/template" --auth-root-authentication-method=normal \
            --user=root --skip-test-db --innodb-log-file-size=48M >>"$(logfile mariadb-install-db)" 2>&1
    }
    say "creating a MariaDB datadir (mariadb-install-db)"
    # Seen failing once (with other MariaDB tests busy on the machine) and working right after: one
    # more try. Its own messages come first in its output, the generic advice last.
    if ! install_db; then
        warn "mariadb-install-db failed; trying once more"
        install_db || {
            grep -v '^$' "$(logfile mariadb-install-db)" | head -n 40 >&2
            die "mariadb-install-db failed twice (output above)"
        }
    fi

    start_instance() { # name port server-id [extra options]
        local name=$1 port=$2 id=$3
        shift 3
        cp -a "$WORK/mysql/template" "$WORK/mysql/$name"
        mkdir -p "$WORK/tmp/$name" # own tmpdir: a starting mariadbd deletes #sql* files there
        start_bg "mariadb-$name" mariadbd --no-defaults --user=root \
            --datadir="$WORK/mysql/$name" --tmpdir="$WORK/tmp/$name" --port="$port" --bind-address=127.0.0.1 \
            --socket="$WORK/run/$name.sock" --pid-file="$WORK/run/$name.pid" \
            --server-id="$id" "${MARIADB_OPTS[@]}" "$@"
    }
    # Replicas read-only with semi-sync slave on (as deploy/local/up.sh starts its nodes).
    REPLICA_OPTS=(--relay-log=relay-bin --log-slave-updates --read-only=ON --rpl-semi-sync-slave-enabled=ON)
    declare -gA INSTANCE_PORT=([direct]=$DIRECT_PORT [set1]=${SET_PORT[set1]} [set2]=${SET_PORT[set2]})
    start_instance direct "$DIRECT_PORT" 1
    start_instance set1 "${SET_PORT[set1]}" 101
    start_instance set2 "${SET_PORT[set2]}" 201
    if ((BENCH_REPLICAS > 0)); then
        INSTANCE_PORT[sync]=$SYNC_PORT
        start_instance sync "$SYNC_PORT" 301
        local r id=1000
        for r in "${!REPLICA_PORT[@]}"; do
            INSTANCE_PORT[$r]=${REPLICA_PORT[$r]}
            id=$((id + 1))
            start_instance "$r" "${REPLICA_PORT[$r]}" "$id" "${REPLICA_OPTS[@]}"
        done
    fi

    wait_until etcd 30 "etcd to answer on $ETCD_URL" etcd_healthy
    for name in "${!INSTANCE_PORT[@]}"; do
        port=${INSTANCE_PORT[$name]}
        wait_until "mariadb-$name" 60 "MariaDB $name to answer on port $port" mysql_alive "$port"
        [[ -n ${REPLICA_PORT[$name]:-} ]] && continue # replicated from its primary
        sql "$port" "DELETE FROM mysql.global_priv WHERE User = ''; FLUSH PRIVILEGES;" ||
            fail "mariadb-$name" "dropping anonymous users on $name failed"
    done
    if ((BENCH_REPLICAS > 0)); then
        for name in sync "${SETS[@]}"; do start_replication "$name"; done
    fi
    sql "$DIRECT_PORT" "
        CREATE USER 'sb'@'%' IDENTIFIED BY 'sb';
        GRANT ALL PRIVILEGES ON *.* TO 'sb'@'%';
        CREATE DATABASE $db;" || fail mariadb-direct "creating user sb and database $db on direct failed"
    for set in "${SETS[@]}"; do
        sql "${SET_PORT[$set]}" "
            CREATE USER 'setwise_proxy'@'%' IDENTIFIED BY 'setwise';
            GRANT ALL PRIVILEGES ON *.* TO 'setwise_proxy'@'%' WITH GRANT OPTION;
            REVOKE READ_ONLY ADMIN ON *.* FROM 'setwise_proxy'@'%';" ||
            fail "mariadb-$set" "creating the gateway's account on $set failed"
    done
    if ((BENCH_REPLICAS > 0)); then
        # sb for sysbench and haproxy-sync; setwise_proxy for the gateway in front of it as one set
        # (sysbench.sh's gateway-one).
        sql "$SYNC_PORT" "
            CREATE USER 'sb'@'%' IDENTIFIED BY 'sb';
            GRANT ALL PRIVILEGES ON *.* TO 'sb'@'%';
            CREATE USER 'setwise_proxy'@'%' IDENTIFIED BY 'setwise';
            GRANT ALL PRIVILEGES ON *.* TO 'setwise_proxy'@'%' WITH GRANT OPTION;
            REVOKE READ_ONLY ADMIN ON *.* FROM 'setwise_proxy'@'%';
            CREATE DATABASE $db;" || fail mariadb-sync "creating users sb, setwise_proxy and database $db on sync failed"
    fi
    ok "MariaDB: direct on $DIRECT_PORT, set1 on ${SET_PORT[set1]}, set2 on ${SET_PORT[set2]}${SYNC_PORT:+, sync on $SYNC_PORT}" \
        "${SYNC_PORT:+($BENCH_REPLICAS semi-sync replicas each for sync, set1, set2)}"
}

# Primary $1 (an instance name): semi-sync master AFTER_SYNC with its BENCH_REPLICAS replicas
# replicating by GTID from its first binlog (the same template datadir), as deploy/local/up.sh
# configures a set; waits until every replica acknowledges.
start_replication() { # primary
    local p=$1 k r port=${INSTANCE_PORT[$1]}
    sql "$port" "
        CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
        GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
        SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC;
        SET GLOBAL rpl_semi_sync_master_enabled = ON;" || fail "mariadb-$p" "configuring primary $p failed"
    for ((k = 1; k <= BENCH_REPLICAS; k++)); do
        r=$p-r$k
        sql "${REPLICA_PORT[$r]}" "
            CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $port,
                MASTER_USER = 'repl', MASTER_PASSWORD = 'repl', MASTER_USE_GTID = slave_pos,
                MASTER_CONNECT_RETRY = 1;
            START SLAVE;" || fail "mariadb-$r" "attaching $r to $p failed"
    done
    for ((k = 1; k <= BENCH_REPLICAS; k++)); do
        r=$p-r$k
        wait_until "mariadb-$r" 30 "replication on $r to run" replica_running "${REPLICA_PORT[$r]}"
    done
    wait_until "mariadb-$p" 30 "$BENCH_REPLICAS semi-sync replicas on $p" \
        semisync_clients_at_least "$port" "$BENCH_REPLICAS"
}
