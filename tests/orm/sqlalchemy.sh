#!/usr/bin/env bash
# Runs SQLAlchemy's own test suite twice -- against one plain MariaDB and through the Setwise
# gateway -- and lists the tests that pass on MariaDB but fail or error through the gateway.
#
#   tests/orm/sqlalchemy.sh [--subset NAME | PYTEST_PATHS...]   set up, run both, compare
#   tests/orm/sqlalchemy.sh --only plain|gateway ...            run one side (then compare)
#   tests/orm/sqlalchemy.sh --compare                           compare the last two runs again
#   tests/orm/sqlalchemy.sh --rerun-plain PYTEST_PATHS...       re-run files on the plain side
#                                     (after it crashed mid-run); the report merges the re-run
#   tests/orm/sqlalchemy.sh --up                                only set up (servers, schemas)
#   tests/orm/sqlalchemy.sh --down                              stop the servers it started
#
# Subsets (--subset, default "core"): core = test/base test/engine test/sql test/orm
# test/dialect/mysql test/dialect/test_suite.py (the dialect compliance suite); full = test/ (everything, hours on 2 cores); smoke = a few files
# (savepoints, isolation, reflection, a basic ORM round trip; ~2 minutes a side).
# Paths after the options replace the subset, e.g. `tests/orm/sqlalchemy.sh test/engine`.
#
# What it does, on a fresh Debian machine: installs (when missing) a Python venv with pinned
# pytest, pytest-timeout and PyMySQL, and SQLAlchemy's source distribution (it ships test/ and
# its pytest plugin); starts (or reuses) a Setwise cluster with deploy/local/up.sh in its own
# SETWISE_HOME on its own ports -- 2 sets of a primary and one replica, the programs already
# built in target/debug unless told otherwise -- and one plain MariaDB with the same mariadbd
# options; makes the databases test, test_schema, test_schema_2 (utf8mb4) fresh on both sides;
# runs pytest with --dburi mysql+pymysql://scott:tiger@127.0.0.1:PORT/test?charset=utf8mb4
# under nice, one side after the other (both at once with SQLA_PARALLEL=1), each test bounded by
# pytest-timeout; junit XML and logs go to $SQLA_HOME/results/; then compare.py writes
# $SQLA_HOME/results/report.md (differences with their first error line, counts, and the
# differences grouped by error). The servers stay up for the next run; --down stops them.
#
# Environment (defaults in brackets):
#   SQLA_HOME [<repo>/.local/orm]     venv, sdist cache, cluster and plain MariaDB, results
#   SQLA_VERSION [2.0.58]             SQLAlchemy version (its sdist)
#   SQLA_TIMEOUT [90]                  seconds per test (pytest-timeout)
#   SQLA_PARALLEL [0]                 1: run both sides at the same time
#   SQLA_PLAIN_PORT [17300]           the plain MariaDB
#   SQLA_PROXY_PORT [17033]           the gateway     SQLA_ETCD_PORT [17379] (and +1)
#   SQLA_MYSQL_BASE_PORT [17310]      the cluster's MariaDB nodes (base .. base+19)
#   SETWISE_BIN_DIR                   Setwise programs to run [target/release if built, else
#                                     target/debug if built, else up.sh builds release]
#   SQLA_BUDGET_MINUTES [0 = none]    stop each side's pytest (SIGINT: its junit XML is still
#                                     written) after this long; the report then compares the
#                                     tests both sides ran and counts the rest as one-side-only
#   SQLA_PYTEST_ARGS                  more pytest arguments (e.g. "-x" or "-k savepoint")
#   SQLA_NO_SAVEPOINTS [0]            1: SQLAlchemy's requirements without savepoints
#                                     (sqla_nosavepoints.py) on both sides: shows what lost
#                                     savepoints hide
#   SQLA_RESULTS [$SQLA_HOME/results] where XML, logs and the report go
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

: "${SQLA_HOME:=$repo/.local/orm}"
: "${SQLA_VERSION:=2.0.58}"
: "${SQLA_TIMEOUT:=90}"
: "${SQLA_PARALLEL:=0}"
: "${SQLA_PLAIN_PORT:=17300}"
: "${SQLA_PROXY_PORT:=17033}"
: "${SQLA_ETCD_PORT:=17379}"
: "${SQLA_MYSQL_BASE_PORT:=17310}"
: "${SQLA_PYTEST_ARGS:=}"
: "${SQLA_BUDGET_MINUTES:=0}"
: "${SQLA_NO_SAVEPOINTS:=0}"
mkdir -p "$SQLA_HOME"
SQLA_HOME=$(cd "$SQLA_HOME" && pwd)

# Pinned Python packages of the run (pytest < 9: SQLAlchemy 2.0's plugin is tested with 7 and 8).
PY_PACKAGES=(pytest==8.3.5 pytest-timeout==2.4.0 PyMySQL==1.1.1 typing-extensions==4.12.2 greenlet==3.1.1)

# The cluster: deploy/local with its own home and ports (never a default cluster's).
export SETWISE_HOME=$SQLA_HOME/cluster
export SETWISE_SETS=2 SETWISE_REPLICAS=1
export SETWISE_ETCD_PORT=$SQLA_ETCD_PORT SETWISE_MYSQL_BASE_PORT=$SQLA_MYSQL_BASE_PORT
export SETWISE_PROXY_PORT=$SQLA_PROXY_PORT
# Server options of every MariaDB here, plain and in the sets: SQLAlchemy's README.unittests
# character set, and lock waits of 20 s instead of a day, so a statement stuck behind a
# transaction the gateway left open fails as 1205 (and says so) instead of stalling the run.
export SETWISE_MARIADB_ARGS="--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
--lock-wait-timeout=20 --innodb-lock-wait-timeout=20"
if [[ -z ${SETWISE_BIN_DIR:-} ]]; then
    if [[ -x $repo/target/release/setwise-proxy ]]; then
        export SETWISE_BIN_DIR=$repo/target/release
    elif [[ -x $repo/target/debug/setwise-proxy ]]; then
        export SETWISE_BIN_DIR=$repo/target/debug
    fi
fi

# shellcheck source=../../deploy/local/lib.sh
source "$repo/deploy/local/lib.sh"
check_env

VENV=$SQLA_HOME/venv
SDIST_DIR=$SQLA_HOME/cache/sqlalchemy-$SQLA_VERSION
RESULTS=${SQLA_RESULTS:-$SQLA_HOME/results}
PLAIN_DIR=$SETWISE_HOME/mysql/plain
DB_USER=scott DB_PASSWORD=tiger
SCHEMAS=(test test_schema test_schema_2)

# ---------------------------------------------------------------- arguments

subset=core only='' action=run paths=()
while (($#)); do
    case $1 in
    --subset) subset=${2:?--subset needs a name} && shift ;;
    --only) only=${2:?--only needs plain or gateway} && shift ;;
    --compare) action=compare ;;
    --up) action=up ;;
    --rerun-plain) action=rerun ;;
    --down) action=down ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    -*) die "unknown option '$1' (try --help)" ;;
    *) paths+=("$1") ;;
    esac
    shift
done
case $only in '' | plain | gateway) ;; *) die "--only takes plain or gateway, not '$only'" ;; esac
if ((${#paths[@]} == 0)); then
    case $subset in
    core) paths=(test/base test/engine test/sql test/orm test/dialect/mysql test/dialect/test_suite.py) ;;
    full) paths=(test) ;;
    smoke) paths=(test/engine/test_transaction.py test/engine/test_reconnect.py
        test/dialect/mysql/test_dialect.py test/orm/test_transaction.py test/sql/test_query.py) ;;
    *) die "unknown subset '$subset' (core, full, smoke)" ;;
    esac
fi

# ---------------------------------------------------------------- install

install_python() {
    if [[ ! -x $VENV/bin/python ]]; then
        say "creating the Python venv $VENV"
        python3 -m venv "$VENV" 2>/dev/null || {
            install_debian python3-venv
            python3 -m venv "$VENV"
        }
    fi
    if ! "$VENV/bin/python" - "${PY_PACKAGES[@]}" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    if version(name) != want:
        sys.exit(1)
EOF
        say "installing ${PY_PACKAGES[*]} into the venv"
        "$VENV/bin/python" -m pip install --no-input --quiet "${PY_PACKAGES[@]}" ||
            die "pip install failed"
    fi
    if [[ ! -f $SDIST_DIR/test/conftest.py ]]; then
        say "fetching SQLAlchemy $SQLA_VERSION's source distribution"
        local dl=$SQLA_HOME/cache/download
        rm -rf "$dl" "$SDIST_DIR"
        mkdir -p "$dl"
        "$VENV/bin/python" -m pip download --no-input --quiet --no-deps --no-binary :all: \
            "sqlalchemy==$SQLA_VERSION" -d "$dl" || die "pip download of sqlalchemy==$SQLA_VERSION failed"
        tar xzf "$dl/sqlalchemy-$SQLA_VERSION.tar.gz" -C "$SQLA_HOME/cache" || die "unpacking the sdist failed"
        [[ -f $SDIST_DIR/test/conftest.py ]] || die "$SDIST_DIR has no test/conftest.py"
    fi
    ok "SQLAlchemy $SQLA_VERSION tests in $SDIST_DIR; $("$VENV/bin/python" -m pytest --version 2>&1)"
}

install_debian() {
    local sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
        die "apt-get install $* failed"
}

# ---------------------------------------------------------------- servers

start_cluster() {
    # With SETWISE_BIN_DIR set up.sh runs those programs; else it builds release binaries.
    say "Setwise cluster in $SETWISE_HOME (programs: ${SETWISE_BIN_DIR:-release build})"
    "$repo/deploy/local/up.sh" >"$SQLA_HOME/up.log" 2>&1 || {
        tail -n 30 "$SQLA_HOME/up.log" >&2
        die "deploy/local/up.sh failed (log: $SQLA_HOME/up.log)"
    }
    ok "gateway on 127.0.0.1:$SETWISE_PROXY_PORT (up.sh log: $SQLA_HOME/up.log)"
    # The test user, as a gateway user.
    setwise_cli user add "$DB_USER" --password "$DB_PASSWORD" --host 127.0.0.0/8 >/dev/null ||
        die "setwise user add $DB_USER failed"
}

# One plain MariaDB beside the cluster, with the same mariadbd options as a set's primary
# (binlog, skip-name-resolve, buffer sizes, server character set), from the same template.
start_plain() {
    if is_running mariadb-plain; then
        ok "plain MariaDB already running (pid $(recorded_pid mariadb-plain), port $SQLA_PLAIN_PORT)"
    else
        check_port "$SQLA_PLAIN_PORT" "the plain MariaDB, SQLA_PLAIN_PORT"
        if [[ ! -d $PLAIN_DIR ]]; then
            [[ -d $SETWISE_HOME/mysql/template ]] || die "no template datadir (up.sh makes it)"
            cp -a "$SETWISE_HOME/mysql/template" "$PLAIN_DIR.tmp"
            mv "$PLAIN_DIR.tmp" "$PLAIN_DIR"
        fi
        say "starting the plain MariaDB on 127.0.0.1:$SQLA_PLAIN_PORT"
        local extra
        read -ra extra <<<"$SETWISE_MARIADB_ARGS"
        mkdir -p "$SETWISE_HOME/tmp/plain" # own tmpdir: a starting mariadbd deletes #sql* files there
        start_bg mariadb-plain mariadbd --no-defaults --user=root \
            --datadir="$PLAIN_DIR" --tmpdir="$SETWISE_HOME/tmp/plain" --port="$SQLA_PLAIN_PORT" --bind-address=127.0.0.1 \
            --socket="$SETWISE_HOME/run/plain.sock" --pid-file="$SETWISE_HOME/run/plain.pid" \
            --server-id=1 --log-bin=mysql-bin --binlog-format=ROW --gtid-strict-mode=1 \
            --skip-name-resolve \
            --innodb-buffer-pool-size=128M --innodb-log-file-size=48M "${extra[@]}"
    fi
    wait_until mariadb-plain 60 "the plain MariaDB to answer on port $SQLA_PLAIN_PORT" mysql_alive "$SQLA_PLAIN_PORT"
    sql "$SQLA_PLAIN_PORT" "
        CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PASSWORD';
        GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%';" || die "creating user $DB_USER on the plain MariaDB failed"
    ok "plain MariaDB up (pid $(recorded_pid mariadb-plain))"
}

# client SIDE SQL: runs SQL as the test user, on the plain MariaDB or through the gateway.
client() {
    local port=$SQLA_PLAIN_PORT
    [[ $1 == gateway ]] && port=$SQLA_PROXY_PORT
    mariadb --no-defaults --protocol=TCP -h127.0.0.1 -P"$port" -u"$DB_USER" -p"$DB_PASSWORD" \
        --connect-timeout=5 --batch --skip-column-names -e "$2"
}

# Empty databases for a run (SQLAlchemy's README: "the database must be entirely empty").
fresh_schemas() {
    local side=$1 db stmts=''
    for db in "${SCHEMAS[@]}"; do
        stmts+="DROP DATABASE IF EXISTS $db; CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
    done
    client "$side" "$stmts" || die "recreating ${SCHEMAS[*]} on the $side side failed"
}

stop_all() {
    "$repo/deploy/local/down.sh" # stops mariadb-plain too: its pid file is in SETWISE_HOME/pids
}

# ---------------------------------------------------------------- run and compare

# Restarts the plain MariaDB if it dies during its run (at most 5 times): MariaDB 10.11.19 has
# been seen to segfault (ha_maria::drop_table, from an information_schema temporary table)
# under the suite. Tests that ran while it was down error on the plain side, so they drop
# out of the comparison; plain.restarts records when.
watch_plain() {
    local restarts=0
    while sleep 5; do
        is_running mariadb-plain && continue
        ((restarts++ < 5)) || return 0
        echo "$(date -u '+%F %T') the plain MariaDB died (log: $(logfile mariadb-plain)); restarting it" |
            tee -a "$RESULTS/plain.restarts" >&2
        (start_plain >/dev/null 2>&1) || true
    done
}

run_side() { # plain|gateway [NAME of the output files, default the side]
    local side=$1 name=${2:-$1} port=$SQLA_PLAIN_PORT
    [[ $side == gateway ]] && port=$SQLA_PROXY_PORT
    fresh_schemas "$side"
    local uri="mysql+pymysql://$DB_USER:$DB_PASSWORD@127.0.0.1:$port/test?charset=utf8mb4"
    local extra=()
    read -ra extra <<<"$SQLA_PYTEST_ARGS"
    if ((SQLA_NO_SAVEPOINTS)); then
        export PYTHONPATH=$here${PYTHONPATH:+:$PYTHONPATH}
    fi
    say "pytest on the $side side: $uri ${paths[*]}"
    local started=$SECONDS rc=0 watcher=''
    if [[ $side == plain ]]; then
        rm -f "$RESULTS/plain.restarts"
        [[ $name == plain ]] && rm -f "$RESULTS/plain-rerun.xml"
        watch_plain &
        watcher=$!
    fi
    # -p no:cacheprovider: nothing written into the sdist; PYTHONNOUSERSITE unset so the
    # sdist's test/conftest.py puts its lib/ first on sys.path; --maxfail: pyproject.toml
    # stops after 250. SIGINT (the budget) makes pytest stop and still write its XML; Python is
    # told to take it, as a background job of this script starts with SIGINT ignored.
    local budget=()
    ((SQLA_BUDGET_MINUTES > 0)) && budget=(timeout -s INT -k 120 "$((SQLA_BUDGET_MINUTES * 60))")
    (cd "$SDIST_DIR" && nice -n 10 "${budget[@]}" "$VENV/bin/python" -c '
import signal, sys, pytest
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.exit(pytest.main())' -p no:cacheprovider --maxfail=1000000 \
        --dburi "$uri" --timeout="$SQLA_TIMEOUT" --timeout-method=signal \
        --junitxml="$RESULTS/$name.xml" -o junit_family=xunit2 -o junit_logging=no \
        -q -rN --no-header --tb=line -W ignore \
        -m 'not memory_intensive and not mypy' --exclude-tag memory-intensive \
        --exclude-tag timing-intensive -k 'not aaa_profiling' \
        "${extra[@]}" "${paths[@]}" >"$RESULTS/$name.log" 2>&1) || rc=$?
    [[ -n $watcher ]] && kill "$watcher" 2>/dev/null
    echo "$((SECONDS - started))" >"$RESULTS/$name.seconds"
    ok "$name: pytest exit $rc in $((SECONDS - started))s; $(tail -n 1 "$RESULTS/$name.log")"
}

compare() {
    [[ -f $RESULTS/plain.xml && -f $RESULTS/gateway.xml ]] ||
        die "no $RESULTS/{plain,gateway}.xml to compare: run both sides first"
    local plain=$RESULTS/plain.xml
    [[ -f $RESULTS/plain-rerun.xml ]] && plain+=",$RESULTS/plain-rerun.xml"
    "$VENV/bin/python" "$here/compare.py" "$plain" "$RESULTS/gateway.xml" \
        --out "$RESULTS/report.md" --tsv "$RESULTS/differences.tsv"
    ok "report: $RESULTS/report.md (differences one per line: $RESULTS/differences.tsv)"
    if [[ -s $RESULTS/plain.restarts ]]; then
        warn "the plain MariaDB was restarted during its run ($RESULTS/plain.restarts): the tests" \
            "that ran while it was down are left out; re-run their files with --rerun-plain FILES..." \
            "(the report then merges plain-rerun.xml)"
    fi
}

case $action in
down)
    stop_all
    exit 0
    ;;
compare)
    compare
    exit 0
    ;;
esac

install_python
mkdir -p "$SETWISE_HOME"/{pids,logs,run} "$RESULTS"
start_cluster
start_plain
[[ $action == up ]] && exit 0
if [[ $action == rerun ]]; then
    rm -f "$SDIST_DIR/test.cfg"
    ((SQLA_NO_SAVEPOINTS)) && printf '[sqla_testing]\nrequirement_cls = sqla_nosavepoints:NoSavepoints\n' >"$SDIST_DIR/test.cfg"
    run_side plain plain-rerun
    compare
    exit 0
fi

# SQLAlchemy's requirements class comes from setup.cfg, overridden by test.cfg beside it (its
# --requirements option is overridden by setup.cfg in turn, so it cannot be used).
rm -f "$SDIST_DIR/test.cfg"
if ((SQLA_NO_SAVEPOINTS)); then
    printf '[sqla_testing]\nrequirement_cls = sqla_nosavepoints:NoSavepoints\n' >"$SDIST_DIR/test.cfg"
fi

sides=(plain gateway)
[[ -n $only ]] && sides=("$only")
for side in "${sides[@]}"; do rm -f "$RESULTS/$side.xml" "$RESULTS/$side.log"; done
if ((SQLA_PARALLEL)) && ((${#sides[@]} == 2)); then
    run_side plain &
    plain_job=$!
    run_side gateway
    wait "$plain_job"
else
    for side in "${sides[@]}"; do run_side "$side"; done
fi
compare
note "servers left running for the next run; stop them with: $0 --down"
