#!/usr/bin/env bash
# The one command that checks the whole workspace on a fresh Debian 12 machine:
#   1. installs missing Debian packages (apt-get update only if something is missing)
#      and the packages of the client tests (Python: pip; Node.js: npm ci in tests/node);
#   2. cargo fmt --check;
#   3. builds everything once (cargo build --workspace --all-targets);
#   4. cargo clippy --workspace --all-targets -- -D warnings;
#   5. runs every test: cargo nextest run --workspace (cargo test --workspace without nextest),
#      with SETWISE_BIN_DIR pointing at the binaries just built.
# Every step runs even if an earlier one failed (tests are skipped only if the build failed);
# the exit code is non-zero if any step failed. Non-interactive: fine with CI=true, no stdin.
#
# Environment: CARGO_TARGET_DIR (honoured), SETWISE_SKIP_INSTALL=1 (skip step 1),
# SETWISE_SKIP_LINT=1 (skip fmt and clippy), SETWISE_KEEP_TMP=1 (keep test dirs),
# extra arguments are passed to the test runner (e.g. a filter: tests/run.sh gateway).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

started=$SECONDS
failed=()
step() { printf '\n==> %s  (%ss)\n' "$*" "$((SECONDS - started))"; }
run_step() { # NAME COMMAND...: runs COMMAND, records NAME if it fails
    local name=$1
    shift
    step "$name: $*"
    if ! "$@"; then
        printf '!!! %s failed\n' "$name" >&2
        failed+=("$name")
        return 1
    fi
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

# ------------------------------------------------------------------ 1. packages
debian_packages=(mariadb-server mariadb-client mariadb-backup etcd-server etcd-client
    protobuf-compiler libprotobuf-dev sysbench haproxy libmariadb-java chromium chromium-driver
    golang-go golang-github-go-sql-driver-mysql-dev php-cli php-mysql ruby-mysql2 prometheus)

install_packages() {
    local missing=() p
    # A JDK for the Connector/J client test, unless the machine has one.
    command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
    for p in "${debian_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "installing: ${missing[*]}"
        as_root apt-get update -q
        as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "Debian packages present"
    fi
    # The packaged services are not needed (tests start their own): keep them from
    # holding ports 3306 / 2379 on a fresh install.
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        as_root systemctl disable --now mariadb etcd prometheus prometheus-node-exporter >/dev/null 2>&1 || true
    fi
    # Python clients of the client tests: PyMySQL (text protocol) and
    # mysql-connector-python (binary protocol, prepared statements).
    if ! python3 -c 'import pymysql, mysql.connector' 2>/dev/null; then
        echo "installing PyMySQL and mysql-connector-python"
        python3 -m pip install --no-input --quiet pymysql mysql-connector-python
        python3 -c 'import pymysql, mysql.connector'
    fi
    # Node.js client test (tests/node, mysql2): Debian's nodejs and npm if there is no node,
    # then `npm ci` whenever node_modules is missing or was installed from another lock file.
    if ! command -v node >/dev/null 2>&1; then
        echo "installing nodejs and npm"
        as_root apt-get update -q
        as_root apt-get install -y -q --no-install-recommends nodejs npm
    elif ! command -v npm >/dev/null 2>&1; then
        echo "installing npm"
        as_root apt-get update -q
        as_root apt-get install -y -q --no-install-recommends npm
    fi
    local lock_sum stamp=tests/node/node_modules/.setwise-lock-sum
    lock_sum=$(cat tests/node/package.json tests/node/package-lock.json | sha256sum | cut -d' ' -f1)
    if [[ ! -f $stamp || $(<"$stamp") != "$lock_sum" ]]; then
        echo "installing the Node.js client test's packages (npm ci --prefix tests/node)"
        npm ci --prefix tests/node --no-audit --no-fund --loglevel=error || return 1
        echo "$lock_sum" >"$stamp"
    fi
}

if [[ ${SETWISE_SKIP_INSTALL:-0} != 1 ]]; then
    step "packages"
    if ! install_packages; then
        echo "!!! installing packages failed" >&2
        exit 1
    fi
fi
for tool in cargo mariadbd mariadb-install-db etcd protoc; do
    command -v "$tool" >/dev/null || { echo "!!! $tool not found" >&2; exit 1; }
done

target=${CARGO_TARGET_DIR:-$root/target}
[[ $target == /* ]] || target=$root/$target
export SETWISE_BIN_DIR=$target/debug

# ------------------------------------------------------------------ 2-4. format, build, lint
lint=$([[ ${SETWISE_SKIP_LINT:-0} == 1 ]] && echo 0 || echo 1)
((lint)) && run_step fmt cargo fmt --all -- --check --color=never || true
built=1
run_step build cargo build --workspace --all-targets || built=0
((lint)) && run_step clippy cargo clippy --workspace --all-targets -- -D warnings || true

# ------------------------------------------------------------------ 5. tests
if ((built)); then
    if cargo nextest --version >/dev/null 2>&1; then
        run_step tests cargo nextest run --workspace --no-fail-fast \
            --tool-config-file "setwise-tests:$root/tests/nextest.toml" "$@" || true
    else
        run_step tests cargo test --workspace --no-fail-fast -- "$@" || true
    fi
else
    echo "!!! tests skipped: the build failed" >&2
fi

step "done"
if ((${#failed[@]})); then
    printf '!!! FAILED: %s (in %ss)\n' "${failed[*]}" "$((SECONDS - started))" >&2
    exit 1
fi
printf 'all checks passed in %ss\n' "$((SECONDS - started))"
