# Shared by the scripts that run an application's own test suite twice -- against one plain
# MariaDB and through the Setwise gateway -- (tests/orm/sqlalchemy.sh, tests/orm/django.sh):
# the Python venv, the Setwise cluster (deploy/local/up.sh in its own SETWISE_HOME on its own
# ports), the plain MariaDB beside it with the same mariadbd options, the test user, fresh
# schemas, the watchdog of the plain MariaDB, and the comparison (compare.py).
#
# The sourcing script sets, before `source`:
#   ORM_HOME            venv, cache, cluster, plain MariaDB, results of that script
#   ORM_PLAIN_PORT      the plain MariaDB
#   ORM_PROXY_PORT      the gateway
#   ORM_ETCD_PORT       etcd (and +1)
#   ORM_MYSQL_BASE_PORT the cluster's MariaDB nodes (base .. base+19)
#   ORM_CONSOLE_PORT, ORM_METRICS_BASE_PORT (optional: deploy/local's defaults otherwise)
#   ORM_RESULTS         where XML, logs and the report go
#   DB_USER DB_PASSWORD the test user on both sides
# and gets: VENV, PLAIN_DIR, and the functions below.

ORM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ORM_REPO=$(cd "$ORM_LIB_DIR/../.." && pwd)

mkdir -p "$ORM_HOME"
ORM_HOME=$(cd "$ORM_HOME" && pwd)

# The cluster: deploy/local with its own home and ports (never a default cluster's).
export SETWISE_HOME=$ORM_HOME/cluster
export SETWISE_SETS=2 SETWISE_REPLICAS=1
export SETWISE_ETCD_PORT=$ORM_ETCD_PORT SETWISE_MYSQL_BASE_PORT=$ORM_MYSQL_BASE_PORT
export SETWISE_PROXY_PORT=$ORM_PROXY_PORT
[[ -n ${ORM_CONSOLE_PORT:-} ]] && export SETWISE_CONSOLE_PORT=$ORM_CONSOLE_PORT
[[ -n ${ORM_METRICS_BASE_PORT:-} ]] && export SETWISE_METRICS_BASE_PORT=$ORM_METRICS_BASE_PORT
# Server options of every MariaDB here, plain and in the sets: utf8mb4 with
# utf8mb4_unicode_ci (what SQLAlchemy's README.unittests and Django's docs ask for), and lock
# waits of 20 s instead of a day, so a statement stuck behind a transaction the gateway left
# open fails as 1205 (and says so) instead of stalling the run.
export SETWISE_MARIADB_ARGS="--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
--lock-wait-timeout=20 --innodb-lock-wait-timeout=20"
if [[ -z ${SETWISE_BIN_DIR:-} ]]; then
    if [[ -x $ORM_REPO/target/release/setwise-proxy ]]; then
        export SETWISE_BIN_DIR=$ORM_REPO/target/release
    elif [[ -x $ORM_REPO/target/debug/setwise-proxy ]]; then
        export SETWISE_BIN_DIR=$ORM_REPO/target/debug
    fi
fi

# shellcheck source=../../deploy/local/lib.sh
source "$ORM_REPO/deploy/local/lib.sh"
check_env

PLAIN_DIR=$SETWISE_HOME/mysql/plain

install_debian() {
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
        die "apt-get install $* failed"
}

# install_venv VENV NAME==VERSION...: a venv with exactly these pinned packages (pip installs
# them when one is missing or of another version).
install_venv() {
    local venv=$1
    shift
    if [[ ! -x $venv/bin/python ]]; then
        say "creating the Python venv $venv"
        python3 -m venv "$venv" 2>/dev/null || {
            install_debian python3-venv
            python3 -m venv "$venv"
        }
    fi
    if ! "$venv/bin/python" - "$@" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    if version(name) != want:
        sys.exit(1)
EOF
        say "installing $* into the venv"
        "$venv/bin/python" -m pip install --no-input --quiet "$@" || die "pip install failed"
    fi
}

# fetch_sdist VENV NAME VERSION DIR: NAME's source distribution (it ships the tests), unpacked
# so that DIR is its top folder; nothing done when DIR/MARKER exists (MARKER: 5th argument).
fetch_sdist() {
    local venv=$1 name=$2 version=$3 dir=$4 marker=$5
    [[ -e $dir/$marker ]] && return 0
    say "fetching $name $version's source distribution"
    local dl=$ORM_HOME/cache/download-$name
    rm -rf "$dl" "$dir"
    mkdir -p "$dl"
    "$venv/bin/python" -m pip download --no-input --quiet --no-deps --no-binary :all: \
        "$name==$version" -d "$dl" || die "pip download of $name==$version failed"
    tar xzf "$dl"/*.tar.gz -C "$(dirname "$dir")" || die "unpacking the sdist failed"
    [[ -e $dir/$marker ]] || die "$dir has no $marker"
}

start_cluster() {
    # With SETWISE_BIN_DIR set up.sh runs those programs; else it builds release binaries.
    say "Setwise cluster in $SETWISE_HOME (programs: ${SETWISE_BIN_DIR:-release build})"
    "$ORM_REPO/deploy/local/up.sh" >"$ORM_HOME/up.log" 2>&1 || {
        tail -n 30 "$ORM_HOME/up.log" >&2
        die "deploy/local/up.sh failed (log: $ORM_HOME/up.log)"
    }
    ok "gateway on 127.0.0.1:$SETWISE_PROXY_PORT (up.sh log: $ORM_HOME/up.log)"
    # The test user, as a gateway user.
    setwise_cli user add "$DB_USER" --password "$DB_PASSWORD" --host 127.0.0.0/8 >/dev/null ||
        die "setwise user add $DB_USER failed"
}

# One plain MariaDB beside the cluster, with the same mariadbd options as a set's primary
# (binlog, skip-name-resolve, buffer sizes, server character set), from the same template.
start_plain() {
    if is_running mariadb-plain; then
        ok "plain MariaDB already running (pid $(recorded_pid mariadb-plain), port $ORM_PLAIN_PORT)"
    else
        check_port "$ORM_PLAIN_PORT" "the plain MariaDB"
        if [[ ! -d $PLAIN_DIR ]]; then
            [[ -d $SETWISE_HOME/mysql/template ]] || die "no template datadir (up.sh makes it)"
            cp -a "$SETWISE_HOME/mysql/template" "$PLAIN_DIR.tmp"
            mv "$PLAIN_DIR.tmp" "$PLAIN_DIR"
        fi
        say "starting the plain MariaDB on 127.0.0.1:$ORM_PLAIN_PORT"
        local extra
        read -ra extra <<<"$SETWISE_MARIADB_ARGS"
        mkdir -p "$SETWISE_HOME/tmp/plain" # own tmpdir: a starting mariadbd deletes #sql* files there
        start_bg mariadb-plain mariadbd --no-defaults --user=root \
            --datadir="$PLAIN_DIR" --tmpdir="$SETWISE_HOME/tmp/plain" --port="$ORM_PLAIN_PORT" --bind-address=127.0.0.1 \
            --socket="$SETWISE_HOME/run/plain.sock" --pid-file="$SETWISE_HOME/run/plain.pid" \
            --server-id=1 --log-bin=mysql-bin --binlog-format=ROW --gtid-strict-mode=1 \
            --skip-name-resolve \
            --innodb-buffer-pool-size=128M --innodb-log-file-size=48M "${extra[@]}"
    fi
    wait_until mariadb-plain 60 "the plain MariaDB to answer on port $ORM_PLAIN_PORT" mysql_alive "$ORM_PLAIN_PORT"
    sql "$ORM_PLAIN_PORT" "
        CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
        GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';" || die "creating user $DB_USER on the plain MariaDB failed"
    ok "plain MariaDB up (pid $(recorded_pid mariadb-plain))"
}

# start_servers: the cluster, the plain MariaDB, and the folders of a run.
start_servers() {
    mkdir -p "$SETWISE_HOME"/{pids,logs,run} "$ORM_RESULTS"
    start_cluster
    start_plain
}

side_port() { # plain|gateway
    if [[ $1 == gateway ]]; then echo "$ORM_PROXY_PORT"; else echo "$ORM_PLAIN_PORT"; fi
}

# client SIDE SQL: runs SQL as the test user, on the plain MariaDB or through the gateway.
client() {
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$(side_port "$1")" -u"$DB_USER" -p"$DB_PASSWORD" \
        --connect-timeout=5 --batch --skip-column-names -e "$2"
}

# fresh_schemas SIDE DB...: the databases dropped and made empty (utf8mb4_unicode_ci).
fresh_schemas() {
    local side=$1 db stmts=''
    shift
    for db in "$@"; do
        stmts+="DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
    done
    client "$side" "$stmts" || die "recreating $* on the $side side failed"
}

stop_all() {
    "$ORM_REPO/deploy/local/down.sh" # stops mariadb-plain too: its pid file is in SETWISE_HOME/pids
}

# Restarts the plain MariaDB if it dies during its run (at most 5 times): MariaDB 10.11.19 has
# been seen to segfault (ha_maria::drop_table, from an information_schema temporary table)
# under SQLAlchemy's suite. Tests that ran while it was down error on the plain side, so they
# drop out of the comparison; plain.restarts records when.
watch_plain() {
    local restarts=0
    while sleep 5; do
        is_running mariadb-plain && continue
        ((restarts++ < 5)) || return 0
        echo "$(date -u '+%F %T') the plain MariaDB died (log: $(logfile mariadb-plain)); restarting it" |
            tee -a "$ORM_RESULTS/plain.restarts" >&2
        (start_plain >/dev/null 2>&1) || true
    done
}

# compare_results PYTHON TITLE CATEGORIES_MODULE: report.md and differences.tsv in ORM_RESULTS
# from plain.xml (+ plain-rerun.xml) and gateway.xml.
compare_results() {
    local python=$1 title=$2 categories=$3
    [[ -f $ORM_RESULTS/plain.xml && -f $ORM_RESULTS/gateway.xml ]] ||
        die "no $ORM_RESULTS/{plain,gateway}.xml to compare: run both sides first"
    local plain=$ORM_RESULTS/plain.xml
    [[ -f $ORM_RESULTS/plain-rerun.xml ]] && plain+=",$ORM_RESULTS/plain-rerun.xml"
    "$python" "$ORM_LIB_DIR/compare.py" "$plain" "$ORM_RESULTS/gateway.xml" \
        --title "$title" --categories "$categories" \
        --out "$ORM_RESULTS/report.md" --tsv "$ORM_RESULTS/differences.tsv"
    ok "report: $ORM_RESULTS/report.md (differences one per line: $ORM_RESULTS/differences.tsv)"
    if [[ -s $ORM_RESULTS/plain.restarts ]]; then
        warn "the plain MariaDB was restarted during its run ($ORM_RESULTS/plain.restarts): the tests" \
            "that ran while it was down are left out; re-run their files with --rerun-plain FILES..." \
            "(the report then merges plain-rerun.xml)"
    fi
}
