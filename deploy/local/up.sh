#!/usr/bin/env bash
# Starts a whole Setwise cluster on this machine: etcd, SETWISE_SETS sets of MariaDB (one primary
# and SETWISE_REPLICAS semi-sync replicas each), one setwise-agent per MariaDB, two schedulers
# (one leads, one stands by) and the gateway, then loads demo data through the gateway.
# Running it again is harmless: live components are left alone, data is reused. Run again with a
# higher SETWISE_REPLICAS on a running cluster, it adds the new nodes (e.g. n3) to every set
# through the rebuild path: `setwise node add`, a mariadb-backup streamed from the primary's
# agent (docs/rebuild.md). Agents may restart their mariadbd (--mysqld-start) for that.
#
#   deploy/local/up.sh               everything
#   deploy/local/up.sh --no-build    use the binaries already in target/release
#   deploy/local/up.sh --db-only     only etcd and the MariaDB sets (no build, no Setwise programs)
#
# Environment: SETWISE_HOME SETWISE_SETS SETWISE_REPLICAS SETWISE_ETCD_PORT
# SETWISE_MYSQL_BASE_PORT SETWISE_PROXY_PORT (see docs/contracts.md) SETWISE_METRICS_BASE_PORT
# (Prometheus ports, docs/observability.md; 0 = none); SETWISE_BIN_DIR=DIR runs
# the programs already built in DIR (e.g. target/debug) and implies --no-build;
# SETWISE_MARIADB_ARGS: extra mariadbd options for every node (e.g. a server character set).
# SETWISE_TLS=1: the gateway offers TLS with a CA and certificate made in $SETWISE_HOME/tls/
# (docs/tls.md); the --ssl connection string is printed at the end.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=1
db_only=0
for arg in "$@"; do
    case $arg in
    --no-build) build=0 ;;
    --db-only) db_only=1 build=0 ;;
    -h | --help)
        sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument '$arg' (try --help)" ;;
    esac
done
[[ -n ${SETWISE_BIN_DIR:-} ]] && build=0

check_env
read -ra MARIADB_EXTRA_ARGS <<<"${SETWISE_MARIADB_ARGS:-}"

# ---------------------------------------------------------------- packages and build

build_binaries() {
    command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) or use --db-only"
    say "building release binaries (cargo build --release --bins; minutes on a first build)"
    (cd "$SETWISE_REPO" && cargo build --release --bins) || die "cargo build failed"
}

need_binaries() {
    local b
    for b in setwise setwise-proxy setwise-scheduler setwise-agent; do
        [[ -x $SETWISE_BIN/$b ]] || die "$SETWISE_BIN/$b is missing: run without --no-build (or build into SETWISE_BIN_DIR)"
    done
}

# ---------------------------------------------------------------- preflight

# Every component that is not running yet needs its port free; check them all before starting
# anything.
check_ports() {
    local s k
    if ! is_running etcd; then
        check_port "$SETWISE_ETCD_PORT" "etcd client, SETWISE_ETCD_PORT"
        check_port "$ETCD_PEER_PORT" "etcd peer, SETWISE_ETCD_PORT+1"
    fi
    for ((s = 1; s <= SETWISE_SETS; s++)); do
        for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
            is_running "mariadb-$(node_name "$s" "$k")" ||
                check_port "$(node_port "$s" "$k")" "MariaDB $(node_name "$s" "$k"), SETWISE_MYSQL_BASE_PORT"
        done
    done
    if ((!db_only)) && ! is_running proxy; then
        check_port "$SETWISE_PROXY_PORT" "setwise-proxy, SETWISE_PROXY_PORT"
        [[ -z $(metrics_addr proxy) ]] ||
            check_port "$SETWISE_METRICS_BASE_PORT" "setwise-proxy metrics, SETWISE_METRICS_BASE_PORT"
    fi
    if ((!db_only && SETWISE_METRICS_BASE_PORT > 0)); then
        local i
        for ((i = 0; i < ${#SETWISE_SCHEDULERS[@]}; i++)); do
            is_running "scheduler-${SETWISE_SCHEDULERS[i]}" ||
                check_port "$((SETWISE_METRICS_BASE_PORT + 1 + i))" "scheduler metrics, SETWISE_METRICS_BASE_PORT+$((1 + i))"
        done
        for ((s = 1; s <= SETWISE_SETS; s++)); do
            for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
                is_running "agent-$(node_name "$s" "$k")" ||
                    check_port "$((SETWISE_METRICS_BASE_PORT + 10 * s + k))" "agent metrics, SETWISE_METRICS_BASE_PORT+10*set+node"
            done
        done
    fi
    local k
    for ((k = 0; k < ${#SETWISE_SCHEDULERS[@]}; k++)); do
        if ((!db_only)) && ! is_running "scheduler-${SETWISE_SCHEDULERS[k]}"; then
            check_port "$((SETWISE_CONSOLE_PORT + k))" "the console of scheduler-${SETWISE_SCHEDULERS[k]}, SETWISE_CONSOLE_PORT"
        fi
    done
}

# ---------------------------------------------------------------- etcd

start_etcd() {
    if is_running etcd; then
        ok "etcd already running (pid $(recorded_pid etcd))"
        wait_until etcd 30 "etcd to answer on $ETCD_URL" etcd_healthy
        return 0
    else
        say "starting etcd on 127.0.0.1:$SETWISE_ETCD_PORT"
        local peer=http://127.0.0.1:$ETCD_PEER_PORT
        start_bg etcd etcd --name setwise --data-dir "$SETWISE_HOME/etcd" \
            --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
            --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
            --initial-cluster "setwise=$peer" \
            --auto-compaction-mode periodic --auto-compaction-retention 1h
    fi
    wait_until etcd 30 "etcd to answer on $ETCD_URL" etcd_healthy
    ok "etcd up (pid $(recorded_pid etcd))"
}

# ---------------------------------------------------------------- MariaDB

make_template() {
    local t=$SETWISE_HOME/mysql/template
    [[ -d $t ]] && return 0
    say "creating the MariaDB template datadir"
    rm -rf "$t.tmp"
    mariadb-install-db --no-defaults --datadir="$t.tmp" --auth-root-authentication-method=normal \
        --user=root --skip-test-db --innodb-log-file-size=48M >"$(logfile mariadb-install-db)" 2>&1 ||
        fail mariadb-install-db "mariadb-install-db failed"
    mv "$t.tmp" "$t"
}

start_mariadb() { # set index, node index
    local s=$1 k=$2 node port name dir
    node=$(node_name "$s" "$k")
    port=$(node_port "$s" "$k")
    name=mariadb-$node
    dir=$SETWISE_HOME/mysql/$node
    if is_running "$name"; then
        ok "$node already running (pid $(recorded_pid "$name"), port $port)"
        return 0
    fi
    if [[ ! -d $dir ]]; then
        rm -rf "$dir.tmp"
        cp -a "$SETWISE_HOME/mysql/template" "$dir.tmp"
        mv "$dir.tmp" "$dir"
    fi
    say "starting MariaDB $node on 127.0.0.1:$port"
    write_mariadb_script "$s" "$k"
    start_bg "$name" bash "$(mariadb_script "$node")"
}

# The script that starts a node's mariadbd: up.sh runs it, and so does the node's agent
# (--mysqld-start) after a physical rebuild swapped the datadir (docs/rebuild.md). It records
# its pid where up.sh/down.sh look, then execs mariadbd (same pid).
mariadb_script() { echo "$SETWISE_HOME/conf/$1.mariadbd.sh"; }

write_mariadb_script() { # set index, node index
    local s=$1 k=$2 node port dir
    node=$(node_name "$s" "$k")
    port=$(node_port "$s" "$k")
    dir=$SETWISE_HOME/mysql/$node
    # Its own tmpdir: a starting mariadbd deletes every #sql* file in its tmpdir, so nodes
    # sharing /tmp would delete each other's internal temporary tables mid-query.
    mkdir -p "$SETWISE_HOME/tmp/$node"
    # Every node starts read-only (a restarted old primary stays fenced); configure_set() opens
    # the primary. Semi-sync slave is on everywhere: it only matters while a node replicates, and
    # a node that starts replicating later (after a failover) acknowledges at once.
    # Semi-sync master is switched on at run time, on the primary only.
    local extra='' a
    for a in "${MARIADB_EXTRA_ARGS[@]}"; do extra+=" $(printf '%q' "$a")"; done
    cat >"$(mariadb_script "$node")" <<EOF
#!/usr/bin/env bash
# Written by deploy/local/up.sh: starts MariaDB $node (run by up.sh, and by agent-$node after a
# physical rebuild).
echo \$\$ >$(printf '%q' "$(pidfile "mariadb-$node")")
exec mariadbd --no-defaults --user=root \\
    --datadir=$(printf '%q' "$dir") --tmpdir=$(printf '%q' "$SETWISE_HOME/tmp/$node") \\
    --port=$port --bind-address=127.0.0.1 \\
    --socket=$(printf '%q' "$SETWISE_HOME/run/$node.sock") --pid-file=$(printf '%q' "$SETWISE_HOME/run/$node.pid") \\
    --server-id=$(node_server_id "$s" "$k") \\
    --log-bin=mysql-bin --relay-log=relay-bin --binlog-format=ROW --log-slave-updates \\
    --gtid-strict-mode=1 --gtid-domain-id=0 \\
    --report-host=127.0.0.1 --report-port=$port \\
    --read-only=ON --rpl-semi-sync-slave-enabled=ON \\
    --skip-name-resolve \\
    --innodb-buffer-pool-size=128M --innodb-log-file-size=48M$extra
EOF
}

wait_mariadb() { # set index, node index
    local node port
    node=$(node_name "$1" "$2")
    port=$(node_port "$1" "$2")
    wait_until "mariadb-$node" 60 "MariaDB $node to answer on port $port" mysql_alive "$port"
}

# Role of a node: the one registered in etcd if any (the scheduler may have failed over since the
# last run), else n0 is the primary.
node_role() { # set index, node index
    local node json
    node=$(node_name "$1" "$2")
    json=$(etcdctl_ get --print-value-only "$(etcd_key_prefix "nodes/set$1/$node")" 2>/dev/null) || json=''
    if [[ $json =~ \"role\":\ *\"(primary|replica)\" ]]; then
        echo "${BASH_REMATCH[1]}"
        return 0
    fi
    if (($2 == 0)); then echo primary; else echo replica; fi
}

declare -A ROLE
# Nodes that join a set already registered (SETWISE_REPLICAS raised on a running cluster): left
# out of configure_set and register_topology, and added by join_new_nodes through the rebuild
# path (setwise node add: mariadb-backup from the primary's agent).
declare -A JOINING=()

node_registered() { # set index, node index
    (($(etcd_count "nodes/set$1/$(node_name "$1" "$2")") > 0))
}

# Marks the nodes of set s that are new to an already registered set.
find_joining() { # set index
    local s=$1 k
    (($(etcd_count "nodes/set$s/") > 0)) || return 0
    for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
        node_registered "$s" "$k" || JOINING[$s.$k]=1
    done
}

# Whether a node's record in etcd says it is an old primary waiting to rejoin.
node_rejoining() { # set index, node index
    local json
    json=$(etcdctl_ get --print-value-only "$(etcd_key_prefix "nodes/set$1/$(node_name "$1" "$2")")" 2>/dev/null) || json=''
    [[ $json == *'"rejoin":'* ]]
}

configure_set() { # set index
    local s=$1 k node port primary='' primary_port n_primaries=0
    for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
        ROLE[$s.$k]=$(node_role "$s" "$k")
        [[ -n ${JOINING[$s.$k]:-} ]] && continue
        if [[ ${ROLE[$s.$k]} == primary ]]; then
            primary=$k
            n_primaries=$((n_primaries + 1))
        fi
    done
    ((n_primaries == 1)) || die "set$s has $n_primaries primaries registered in etcd; fix with the setwise CLI"
    primary_port=$(node_port "$s" "$primary")
    node=$(node_name "$s" "$primary")

    # Primary: accounts (replicated to the replicas), writable, semi-sync master AFTER_SYNC.
    local have
    have=$(sql "$primary_port" "SELECT COUNT(*) FROM mysql.user WHERE (user, host) IN (('setwise', '%'), ('setwise_proxy', '%'), ('repl', '%'))")
    if [[ $have != 3 ]]; then
        sql "$primary_port" "
            CREATE USER IF NOT EXISTS 'setwise'@'%' IDENTIFIED BY 'setwise';
            GRANT ALL PRIVILEGES ON *.* TO 'setwise'@'%' WITH GRANT OPTION;
            CREATE USER IF NOT EXISTS 'setwise_proxy'@'%' IDENTIFIED BY 'setwise';
            GRANT ALL PRIVILEGES ON *.* TO 'setwise_proxy'@'%' WITH GRANT OPTION;
            REVOKE READ_ONLY ADMIN ON *.* FROM 'setwise_proxy'@'%';
            CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl';
            GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';" ||
            fail "mariadb-$node" "creating accounts on $node failed"
    fi
    local semisync=ON
    ((SETWISE_REPLICAS > 0)) || semisync=OFF # no replica could ever acknowledge
    sql "$primary_port" "
        SET GLOBAL read_only = OFF;
        SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC;
        SET GLOBAL rpl_semi_sync_master_enabled = $semisync;" ||
        fail "mariadb-$node" "configuring primary $node failed"
    ok "set$s: primary $node (port $primary_port), semi-sync master $semisync"

    # Replicas: read-only, semi-sync slave, replicating from the primary by GTID. An old
    # primary the scheduler failed over (its record has "rejoin") is left to the scheduler: it
    # checks the node's binlog against the new primary and repoints or rebuilds it.
    local attached=0
    for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
        [[ $k == "$primary" ]] && continue
        node=$(node_name "$s" "$k")
        if [[ -n ${JOINING[$s.$k]:-} ]]; then
            # Its agent's account, kept out of its binlog (the rebuild replaces its data anyway).
            sql "$(node_port "$s" "$k")" "
                SET SESSION sql_log_bin = 0;
                CREATE USER IF NOT EXISTS 'setwise'@'%' IDENTIFIED BY 'setwise';
                GRANT ALL PRIVILEGES ON *.* TO 'setwise'@'%' WITH GRANT OPTION;" ||
                fail "mariadb-$node" "creating the agent's account on $node failed"
            note "$node is new to set$s: it joins through the rebuild path once its agent runs"
            continue
        fi
        if node_rejoining "$s" "$k"; then
            note "$node is an old primary: the scheduler rejoins it to $(node_name "$s" "$primary")"
            continue
        fi
        attached=$((attached + 1))
        port=$(node_port "$s" "$k")
        local slave_semisync
        slave_semisync=$(sql "$port" 'SELECT @@rpl_semi_sync_slave_enabled') ||
            fail "mariadb-$node" "querying replica $node failed"
        sql "$port" "
            SET GLOBAL read_only = ON;
            SET GLOBAL rpl_semi_sync_master_enabled = OFF;
            SET GLOBAL rpl_semi_sync_slave_enabled = ON;" ||
            fail "mariadb-$node" "configuring replica $node failed"
        if [[ -z $(slave_field "$port" Master_Host) ]]; then
            sql "$port" "
                CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $primary_port,
                    MASTER_USER = 'repl', MASTER_PASSWORD = 'repl', MASTER_USE_GTID = slave_pos,
                    MASTER_CONNECT_RETRY = 1;
                START SLAVE;" || fail "mariadb-$node" "attaching $node to its primary failed"
            note "$node attached to $(node_name "$s" "$primary")"
        elif ! replica_running "$port"; then
            # E.g. its IO thread tried the primary before that was up and now waits out the
            # connect-retry interval: start it over.
            sql "$port" "STOP SLAVE; START SLAVE" || fail "mariadb-$node" "restarting replication on $node failed"
        fi
        # The IO thread only acknowledges if semi-sync was on when it connected.
        if [[ $slave_semisync != 1 ]]; then
            sql "$port" "STOP SLAVE IO_THREAD; START SLAVE IO_THREAD" ||
                fail "mariadb-$node" "restarting the IO thread of $node failed"
        fi
    done
    for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
        [[ $k == "$primary" ]] && continue
        [[ -n ${JOINING[$s.$k]:-} ]] && continue
        node_rejoining "$s" "$k" && continue
        node=$(node_name "$s" "$k")
        port=$(node_port "$s" "$k")
        wait_until "mariadb-$node" 30 "replication on $node to run (see SHOW SLAVE STATUS there)" \
            replica_running "$port"
        ok "set$s: replica $node (port $port) replicating"
    done
    if ((attached > 0)); then
        node=$(node_name "$s" "$primary")
        wait_until "mariadb-$node" 30 "$attached semi-sync replica(s) on $node" \
            semisync_clients_at_least "$primary_port" "$attached"
        ok "set$s: $attached semi-sync replica(s) connected"
    fi
}

# ---------------------------------------------------------------- Setwise programs

register_topology() {
    say "registering the topology in etcd (setwise CLI)"
    local s k node sync=()
    # With no replica no commit could ever be acknowledged: such sets are asynchronous.
    ((SETWISE_REPLICAS > 0)) || sync=(--sync async)
    for ((s = 1; s <= SETWISE_SETS; s++)); do
        setwise_cli set add "set$s" "${sync[@]}" >/dev/null || die "setwise set add set$s failed"
        for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
            [[ -n ${JOINING[$s.$k]:-} ]] && continue
            node=$(node_name "$s" "$k")
            setwise_cli node add "$node" --set "set$s" --addr "127.0.0.1:$(node_port "$s" "$k")" \
                --role "${ROLE[$s.$k]}" >/dev/null || die "setwise node add $node failed"
        done
    done
    setwise_cli user add app --password app --host 127.0.0.0/8 >/dev/null || die "setwise user add app failed"
    ok "sets set1..set$SETWISE_SETS, $(((SETWISE_REPLICAS + 1) * SETWISE_SETS - ${#JOINING[@]})) nodes, gateway user app"
}

agent_reporting() { # set, node
    (($(etcd_count "health/$1/$2") > 0))
}

# Whether a running agent serves backups (an agent started by an older up.sh does not; nodes
# rebuilt from its node would fall back to the logical copy).
agent_serves_backups() { # set, node
    etcdctl_ get --print-value-only "$(etcd_key_prefix "health/$1/$2")" 2>/dev/null | grep -q '"backup_addr"'
}

start_agents() {
    local s k node started=()
    for ((s = 1; s <= SETWISE_SETS; s++)); do
        for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
            node=$(node_name "$s" "$k")
            if is_running "agent-$node"; then
                if agent_serves_backups "set$s" "$node"; then
                    ok "agent-$node already running (pid $(recorded_pid "agent-$node"))"
                    continue
                fi
                note "restarting agent-$node: it serves no physical backups (started by an older up.sh)"
                stop_group 10 "agent-$node"
            fi
            # --mysqld-start: the agent restarts its mariadbd after a physical rebuild;
            # --backup-listen: it serves mariadb-backup streams of its node (docs/rebuild.md).
            start_bg "agent-$node" "$SETWISE_BIN/setwise-agent" --node "$node" --set "set$s" \
                --mysql-addr "127.0.0.1:$(node_port "$s" "$k")" --mysql-user setwise --mysql-password setwise \
                --etcd "$ETCD_URL" --cluster "$SETWISE_CLUSTER" --interval-ms 200 --lease-ttl 2 \
                --mysqld-start "exec bash $(printf '%q' "$(mariadb_script "$node")") >>$(printf '%q' "$(logfile "mariadb-$node")") 2>&1" \
                --backup-listen 127.0.0.1:0 \
                --metrics-listen "$(metrics_addr agent "$s" "$k")"
            started+=("set$s/$node")
        done
    done
    ((${#started[@]} == 0)) && return 0
    say "started ${#started[@]} agent(s); waiting for their health reports"
    local sn
    for sn in "${started[@]}"; do
        wait_until "agent-${sn#*/}" 30 "agent ${sn#*/} to report health under health/$sn" \
            agent_reporting "${sn%/*}" "${sn#*/}"
    done
    ok "agents reporting"
}

scheduler_leader() {
    etcdctl_ get --prefix --sort-by=CREATE --order=ASCEND --limit=1 --print-value-only \
        "$(etcd_key_prefix election/scheduler/)" 2>/dev/null | head -n1
}

candidates_at_least() {
    (($(etcd_count election/scheduler/) >= $1))
}

start_schedulers() {
    local id k=0
    for id in "${SETWISE_SCHEDULERS[@]}"; do
        local console=127.0.0.1:$((SETWISE_CONSOLE_PORT + k))
        k=$((k + 1))
        if is_running "scheduler-$id"; then
            ok "scheduler-$id already running (pid $(recorded_pid "scheduler-$id"))"
            continue
        fi
        say "starting setwise-scheduler --id $id"
        start_bg "scheduler-$id" "$SETWISE_BIN/setwise-scheduler" --id "$id" \
            --config "$SETWISE_REPO/deploy/local/scheduler.toml" --etcd "$ETCD_URL" --cluster "$SETWISE_CLUSTER" \
            --console "$console" \
            --metrics-listen "$(metrics_addr scheduler $((k - 1)))"
    done
    # Each candidate holds a key in the election; the oldest one leads.
    wait_until "scheduler-${SETWISE_SCHEDULERS[0]}" 30 "the schedulers to campaign for leadership" \
        candidates_at_least "${#SETWISE_SCHEDULERS[@]}"
    for id in "${SETWISE_SCHEDULERS[@]}"; do
        is_running "scheduler-$id" || fail "scheduler-$id" "scheduler-$id exited"
    done
    ok "scheduler leader: $(scheduler_leader); the other stands by"
}

# SETWISE_TLS=1: a CA and a gateway certificate for 127.0.0.1 / localhost, made once (openssl).
make_tls_cert() {
    local d="$SETWISE_HOME/tls"
    [[ -s $d/ca.pem && -s $d/server.pem && -s $d/server-key.pem ]] && return 0
    command -v openssl >/dev/null || die "SETWISE_TLS=1 needs openssl (apt-get install openssl)"
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=Setwise local CA" -keyout "$d/ca-key.pem" -out "$d/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null || die "openssl could not make the CA"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$d/server-key.pem" -out "$d/server.csr" 2>/dev/null ||
        die "openssl could not make the gateway's key"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
        -days 3650 -out "$d/server.pem" -extfile <(printf '%s\n' \
            'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
            'keyUsage=digitalSignature' 'extendedKeyUsage=serverAuth') 2>/dev/null ||
        die "openssl could not sign the gateway's certificate"
    ok "TLS certificate for the gateway in $d (CA: $d/ca.pem)"
}

write_proxy_conf() {
    cat >"$SETWISE_HOME/conf/proxy.toml" <<EOF
# Written by deploy/local/up.sh (rewritten on every run).
listen = "127.0.0.1:$SETWISE_PROXY_PORT"
routing_cache = "$SETWISE_HOME/proxy/routing.json"
metrics_listen = "$(metrics_addr proxy)"

[etcd]
endpoints = ["$ETCD_URL"]
cluster = "$SETWISE_CLUSTER"

[backend]
user = "setwise_proxy"
password = "setwise"
pool_max = 64
connect_timeout_ms = 2000
EOF
    if [[ ${SETWISE_TLS:-0} == 1 ]]; then
        make_tls_cert
        printf '\n[tls]\ncert = "%s"\nkey = "%s"\n' "$SETWISE_HOME/tls/server.pem" \
            "$SETWISE_HOME/tls/server-key.pem" >>"$SETWISE_HOME/conf/proxy.toml"
    fi
}

# A Prometheus scrape config for every metrics port of this cluster (deploy/grafana/README.md).
write_prometheus_conf() {
    local s k targets
    targets="'$(metrics_addr proxy)', '$(metrics_addr scheduler 0)', '$(metrics_addr scheduler 1)'"
    for ((s = 1; s <= SETWISE_SETS; s++)); do
        for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
            targets+=", '$(metrics_addr agent "$s" "$k")'"
        done
    done
    cat >"$SETWISE_HOME/conf/prometheus.yml" <<EOF
# Written by deploy/local/up.sh: every Setwise program's metrics port.
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: setwise
    static_configs:
      - targets: [$targets]
EOF
}

gateway_answers() {
    gateway_sql 'SELECT 1'
}

start_proxy() {
    write_proxy_conf
    if is_running proxy; then
        ok "setwise-proxy already running (pid $(recorded_pid proxy))"
    else
        say "starting setwise-proxy on 127.0.0.1:$SETWISE_PROXY_PORT"
        start_bg proxy "$SETWISE_BIN/setwise-proxy" --config "$SETWISE_HOME/conf/proxy.toml"
    fi
    wait_until proxy 30 "setwise-proxy to accept connections on port $SETWISE_PROXY_PORT" \
        port_accepts "$SETWISE_PROXY_PORT"
    wait_until proxy 30 "the gateway to answer SELECT 1 as user app" gateway_answers
    ok "gateway up"
}

# ---------------------------------------------------------------- demo data

load_demo_data() {
    say "creating demo data through the gateway (user_db.users, order_db.orders)"
    local i users='' orders='' statuses=(new paid shipped 'done')
    for ((i = 1; i <= 100; i++)); do
        users+="${users:+,}($i,'user$i','user$i@example.com')"
    done
    for ((i = 1; i <= 300; i++)); do
        orders+="${orders:+,}($i,$(((i - 1) % 100 + 1)),$((i * 37 % 1000 + 5)).$((i * 7 % 100)),'${statuses[i % 4]}')"
    done
    local out
    out=$(gateway_sql "
        CREATE DATABASE IF NOT EXISTS user_db;
        CREATE DATABASE IF NOT EXISTS order_db;
        CREATE TABLE IF NOT EXISTS user_db.users (
            user_id BIGINT NOT NULL PRIMARY KEY,
            name VARCHAR(64) NOT NULL,
            email VARCHAR(128),
            created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
        ) shardkey=user_id;
        CREATE TABLE IF NOT EXISTS order_db.orders (
            order_id BIGINT NOT NULL,
            user_id BIGINT NOT NULL,
            amount DECIMAL(12,2) NOT NULL,
            status VARCHAR(16) NOT NULL,
            PRIMARY KEY (order_id, user_id)
        ) shardkey=user_id;
        INSERT IGNORE INTO user_db.users (user_id, name, email) VALUES $users;
        INSERT INTO order_db.orders (order_id, user_id, amount, status) VALUES $orders
            ON DUPLICATE KEY UPDATE amount = VALUES(amount), status = VALUES(status);" 2>&1) ||
        fail proxy "loading demo data through the gateway failed: $out"
    local who
    who=$(gateway_sql 'SELECT name FROM user_db.users WHERE user_id = 42' 2>&1) ||
        fail proxy "reading user 42 through the gateway failed: $who"
    [[ $who == user42 ]] || fail proxy "user 42 read through the gateway is '$who', not user42"
    # Where the rows went, counted on each set's primary directly.
    local db_table counts total n s k
    for db_table in user_db.users order_db.orders; do
        counts='' total=0
        for ((s = 1; s <= SETWISE_SETS; s++)); do
            for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
                [[ ${ROLE[$s.$k]} == primary ]] || continue
                n=$(sql "$(node_port "$s" "$k")" "SELECT COUNT(*) FROM $db_table" 2>/dev/null) || n=0
                counts+="${counts:+, }set$s $n"
                total=$((total + n))
            done
        done
        ok "$db_table: $total rows ($counts)"
    done
}

# ---------------------------------------------------------------- new nodes of running sets

# Each node new to a registered set joins through the rebuild path: `setwise node add` has its
# agent rebuild it from the set's primary (mariadb-backup streamed from the primary's agent,
# prepared, datadir swapped, mariadbd restarted by the agent), join by GTID and catch up.
join_new_nodes() {
    local s k node port out
    for ((s = 1; s <= SETWISE_SETS; s++)); do
        for ((k = 0; k <= SETWISE_REPLICAS; k++)); do
            [[ -n ${JOINING[$s.$k]:-} ]] || continue
            node=$(node_name "$s" "$k")
            port=$(node_port "$s" "$k")
            say "set$s: adding $node (127.0.0.1:$port) through the rebuild path: setwise node add --set set$s 127.0.0.1:$port"
            # Progress lines (stderr) go to the terminal as they come.
            out=$(setwise_cli node add --set "set$s" "127.0.0.1:$port" --wait 1800) ||
                fail "agent-$node" "setwise node add --set set$s 127.0.0.1:$port failed"
            ok "$out"
        done
    done
}

# ---------------------------------------------------------------- main

mkdir -p "$SETWISE_HOME"/{pids,logs,conf,mysql,run,proxy}
touch "$SETWISE_HOME/.setwise-home"

install_packages
if ((build)); then build_binaries; fi
((db_only)) || need_binaries
check_ports

start_etcd

make_template
for ((s = 1; s <= SETWISE_SETS; s++)); do
    for ((k = 0; k <= SETWISE_REPLICAS; k++)); do start_mariadb "$s" "$k"; done
done
for ((s = 1; s <= SETWISE_SETS; s++)); do
    for ((k = 0; k <= SETWISE_REPLICAS; k++)); do wait_mariadb "$s" "$k"; done
done
say "configuring replication"
for ((s = 1; s <= SETWISE_SETS; s++)); do
    ((db_only)) || find_joining "$s"
    configure_set "$s"
done

if ((!db_only)); then
    register_topology
    start_agents
    start_schedulers
    start_proxy
    load_demo_data
    join_new_nodes
fi

echo
say "Setwise local cluster is up"
if ((!db_only)); then
    note "connect:   mariadb -h127.0.0.1 -P$SETWISE_PROXY_PORT -uapp -papp"
    note "URL:       mysql://app:app@127.0.0.1:$SETWISE_PROXY_PORT/user_db"
    if [[ ${SETWISE_TLS:-0} == 1 ]]; then
        note "TLS:       mariadb -h127.0.0.1 -P$SETWISE_PROXY_PORT -uapp -papp --ssl --ssl-ca=$SETWISE_HOME/tls/ca.pem --ssl-verify-server-cert"
    fi
    note "DBA CLI:   $SETWISE_BIN/setwise --etcd $ETCD_URL status"
    note "console:   http://127.0.0.1:$SETWISE_CONSOLE_PORT (every scheduler serves one: ports $SETWISE_CONSOLE_PORT..)"
    if ((SETWISE_METRICS_BASE_PORT > 0)); then
        write_prometheus_conf
        note "metrics:   gateway http://$(metrics_addr proxy)/metrics, schedulers $(metrics_addr scheduler 0) $(metrics_addr scheduler 1),"
        note "           agents 127.0.0.1:$((SETWISE_METRICS_BASE_PORT + 10))+ (node k of set s: $SETWISE_METRICS_BASE_PORT + 10*s + k)"
        note "           Prometheus scrape config: $SETWISE_HOME/conf/prometheus.yml; dashboard: deploy/grafana/setwise.json"
        note "digests:   $SETWISE_BIN/setwise --etcd $ETCD_URL digests --top 20   (or SHOW SETWISE DIGESTS through the gateway)"
    fi
fi
note "MariaDB:   set1..set$SETWISE_SETS on ports $SETWISE_MYSQL_BASE_PORT.. (node k of set s: $SETWISE_MYSQL_BASE_PORT + 10*(s-1) + k; root, no password)"
note "etcd:      $ETCD_URL"
note "data:      $SETWISE_HOME (datadirs in mysql/, etcd/)"
note "logs:      $SETWISE_HOME/logs/"
note "status:    deploy/local/status.sh      stop: deploy/local/down.sh"
if ((!db_only)); then
    # Sets added by this run (SETWISE_SETS raised) own no slots yet: say how to give them some.
    map=$(setwise_cli shardmap order_db 2>/dev/null) || map=''
    idle=()
    for ((s = 1; s <= SETWISE_SETS; s++)); do
        [[ $map == *"→ set$s"* ]] || idle+=("set$s")
    done
    if ((${#idle[@]} > 0)) && [[ -n $map ]]; then
        echo
        say "${idle[*]} own(s) no slots of order_db yet; next step, move slots there online:"
        note "$SETWISE_BIN/setwise --etcd $ETCD_URL --cluster $SETWISE_CLUSTER shard rebalance --db order_db --wait"
    fi
fi
