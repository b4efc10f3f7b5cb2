#!/usr/bin/env bash
# Runs Django's own test suite (its ORM-heavy apps) twice -- against one plain MariaDB and
# through the Setwise gateway -- and lists the tests that pass on MariaDB but fail or error
# through the gateway.
#
#   tests/orm/django.sh [APPS...]          set up, run both sides, compare (default: the ORM apps)
#   tests/orm/django.sh --only plain|gateway [APPS...]   run one side (then compare)
#   tests/orm/django.sh --compare          compare the last two runs again
#   tests/orm/django.sh --up               only set up (servers)
#   tests/orm/django.sh --down             stop the servers it started
#
# What it does: installs (when missing) a venv with pinned Django, PyMySQL (standing in for
# mysqlclient, via pymysql.install_as_MySQLdb() in django_settings.py) and tblib, and Django's
# source distribution (it ships tests/ and runtests.py); starts (or reuses) a Setwise cluster
# and a plain MariaDB with tests/orm/lib.sh (the same set-up as sqlalchemy.sh, on its own ports
# and home); runs `runtests.py --settings=django_settings --parallel=1 APPS` on each side (both
# at once unless DJANGO_PARALLEL=0); django_junit.py writes a junit XML of each side; compare.py
# writes $DJANGO_HOME/results/report.md and differences.tsv. Django makes its test databases
# itself (test_django, test_django_other; --noinput drops leftovers).
#
# Environment (defaults in brackets):
#   DJANGO_HOME [<repo>/.local/orm-django]   venv, sdist, cluster, plain MariaDB, results
#   DJANGO_VERSION [5.2.20]            Django version (5.2 LTS: Python >= 3.10, MariaDB >= 10.5)
#   DJANGO_PARALLEL [1]                0: one side after the other
#   DJANGO_PLAIN_PORT [17400]  DJANGO_PROXY_PORT [17433]  DJANGO_ETCD_PORT [17479] (and +1)
#   DJANGO_MYSQL_BASE_PORT [17410]     the cluster's MariaDB nodes (base .. base+19)
#   DJANGO_BUDGET_MINUTES [60]         stop a side's run after this long (its XML is written)
#   DJANGO_ARGS                        more runtests.py arguments (e.g. "-k test_ticket")
#   DJANGO_SHARDED [0]                 1: the django_setwise backend on both sides (no foreign
#                                      keys); through the gateway every table with one integer
#                                      primary key is sharded by it (shardkey=), so the ORM's
#                                      queries run across both sets; results in results-sharded/
#   SETWISE_BIN_DIR                    Setwise programs to run [target/release if built, else
#                                      target/debug]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

: "${DJANGO_HOME:=$repo/.local/orm-django}"
: "${DJANGO_VERSION:=5.2.20}"
: "${DJANGO_PARALLEL:=1}"
: "${DJANGO_BUDGET_MINUTES:=60}"
: "${DJANGO_ARGS:=}"
: "${DJANGO_SHARDED:=0}"

PY_PACKAGES=("Django==$DJANGO_VERSION" PyMySQL==1.1.1 tblib==3.2.2)
APPS=(queries aggregation aggregation_regress expressions lookup ordering annotations basic
    transactions select_related many_to_one update delete model_fields db_functions bulk_create
    get_or_create custom_lookups)

ORM_HOME=$DJANGO_HOME
ORM_PLAIN_PORT=${DJANGO_PLAIN_PORT:-17400} ORM_PROXY_PORT=${DJANGO_PROXY_PORT:-17433}
ORM_ETCD_PORT=${DJANGO_ETCD_PORT:-17479} ORM_MYSQL_BASE_PORT=${DJANGO_MYSQL_BASE_PORT:-17410}
ORM_CONSOLE_PORT=17490 ORM_METRICS_BASE_PORT=17500
ORM_RESULTS=$DJANGO_HOME/results
((DJANGO_SHARDED)) && ORM_RESULTS=$DJANGO_HOME/results-sharded
DB_USER=django DB_PASSWORD=django
# shellcheck source=lib.sh
source "$here/lib.sh"

VENV=$ORM_HOME/venv
SDIST_DIR=$ORM_HOME/cache/django-$DJANGO_VERSION

only='' action=run apps=()
while (($#)); do
    case $1 in
    --only) only=${2:?--only needs plain or gateway} && shift ;;
    --compare) action=compare ;;
    --up) action=up ;;
    --down) action=down ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    -*) die "unknown option '$1' (try --help)" ;;
    *) apps+=("$1") ;;
    esac
    shift
done
case $only in '' | plain | gateway) ;; *) die "--only takes plain or gateway, not '$only'" ;; esac
((${#apps[@]})) || apps=("${APPS[@]}")

run_side() { # plain|gateway
    local side=$1 extra=() budget=()
    read -ra extra <<<"$DJANGO_ARGS"
    ((DJANGO_BUDGET_MINUTES > 0)) && budget=(timeout -s INT -k 120 "$((DJANGO_BUDGET_MINUTES * 60))")
    say "Django's runtests.py on the $side side (port $(side_port "$side")): ${apps[*]}"
    local started=$SECONDS rc=0 watcher=''
    if [[ $side == plain ]]; then
        rm -f "$ORM_RESULTS/plain.restarts"
        watch_plain &
        watcher=$!
    fi
    local shardkey=0
    [[ $side == gateway ]] && shardkey=$DJANGO_SHARDED
    (cd "$SDIST_DIR/tests" && PYTHONPATH=$here DJANGO_DB_PORT=$(side_port "$side") \
        DJANGO_SHARDED=$DJANGO_SHARDED DJANGO_SHARDKEY=$shardkey \
        DJANGO_DB_USER=$DB_USER DJANGO_DB_PASSWORD=$DB_PASSWORD \
        DJANGO_JUNIT_XML=$ORM_RESULTS/$side.xml nice -n 10 "${budget[@]}" "$VENV/bin/python" -c '
import signal, sys, runpy
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.argv[0] = "runtests.py"
runpy.run_path("runtests.py", run_name="__main__")' --settings=django_settings --noinput \
        --parallel=1 -v 2 "${extra[@]}" "${apps[@]}" >"$ORM_RESULTS/$side.log" 2>&1) || rc=$?
    [[ -n $watcher ]] && kill "$watcher" 2>/dev/null
    echo "$((SECONDS - started))" >"$ORM_RESULTS/$side.seconds"
    ok "$side: runtests.py exit $rc in $((SECONDS - started))s; $(grep -E '^(Ran|OK|FAILED)' "$ORM_RESULTS/$side.log" | tr '\n' ' ')"
}

compare() { compare_results "$VENV/bin/python" "Django's suite" django_categories; }

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

install_venv "$VENV" "${PY_PACKAGES[@]}"
fetch_sdist "$VENV" django "$DJANGO_VERSION" "$SDIST_DIR" tests/runtests.py
ok "Django $DJANGO_VERSION tests in $SDIST_DIR/tests"
start_servers
# The test user may create and drop Django's test databases; on the gateway it is a gateway user.
[[ $action == up ]] && exit 0

sides=(plain gateway)
[[ -n $only ]] && sides=("$only")
for side in "${sides[@]}"; do rm -f "$ORM_RESULTS/$side.xml" "$ORM_RESULTS/$side.log"; done
if ((DJANGO_PARALLEL)) && ((${#sides[@]} == 2)); then
    run_side plain &
    plain_job=$!
    run_side gateway
    wait "$plain_job"
else
    for side in "${sides[@]}"; do run_side "$side"; done
fi
compare
note "servers left running for the next run; stop them with: $0 --down"
