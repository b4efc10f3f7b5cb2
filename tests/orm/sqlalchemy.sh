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

# Pinned Python packages of the run (pytest < 9: SQLAlchemy 2.0's plugin is tested with 7 and 8).
PY_PACKAGES=(pytest==8.3.5 pytest-timeout==2.4.0 PyMySQL==1.1.1 typing-extensions==4.12.2 greenlet==3.1.1)

ORM_HOME=$SQLA_HOME ORM_PLAIN_PORT=$SQLA_PLAIN_PORT ORM_PROXY_PORT=$SQLA_PROXY_PORT
ORM_ETCD_PORT=$SQLA_ETCD_PORT ORM_MYSQL_BASE_PORT=$SQLA_MYSQL_BASE_PORT
ORM_RESULTS=${SQLA_RESULTS:-$SQLA_HOME/results}
DB_USER=scott DB_PASSWORD=tiger
# shellcheck source=lib.sh
source "$here/lib.sh"
SQLA_HOME=$ORM_HOME

VENV=$SQLA_HOME/venv
SDIST_DIR=$SQLA_HOME/cache/sqlalchemy-$SQLA_VERSION
RESULTS=$ORM_RESULTS
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
    install_venv "$VENV" "${PY_PACKAGES[@]}"
    fetch_sdist "$VENV" sqlalchemy "$SQLA_VERSION" "$SDIST_DIR" test/conftest.py
    ok "SQLAlchemy $SQLA_VERSION tests in $SDIST_DIR; $("$VENV/bin/python" -m pytest --version 2>&1)"
}

# ---------------------------------------------------------------- run and compare

run_side() { # plain|gateway [NAME of the output files, default the side]
    local side=$1 name=${2:-$1} port=$SQLA_PLAIN_PORT
    [[ $side == gateway ]] && port=$SQLA_PROXY_PORT
    fresh_schemas "$side" "${SCHEMAS[@]}"
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
    compare_results "$VENV/bin/python" "SQLAlchemy's suite" categories
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
start_servers
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
