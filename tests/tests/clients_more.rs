//! More real clients, each run twice — against the gateway (2 sets) and against one
//! plain MariaDB — with the outputs compared line by line: the same rows, values as
//! the driver decoded them, column metadata, insert ids, affected rows, error codes
//! and SQLSTATEs. The sessions live in `tests/clients/`:
//! * `check.go`: Go's go-sql-driver/mysql (server-side prepares for queries with
//!   arguments, `LIMIT ? OFFSET ?`, `database/sql` transactions);
//! * `check.php`: PHP's mysqli (native prepares, `fetch_fields` types/flags/lengths)
//!   and PDO (emulated and native prepares, `getColumnMeta`);
//! * `check.rb`: Ruby's mysql2 (Rails' driver; its own type casting).
//!
//! The drivers come from Debian's packages (golang-go +
//! golang-github-go-sql-driver-mysql-dev, php-cli + php-mysql, ruby-mysql2), which
//! `tests/run.sh` installs. A missing one is a skip (said loudly) on a developer
//! machine, and a failure when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use setwise_tests::mariadb::NodeOptions;
use setwise_tests::util::ci;
use setwise_tests::workdir::WorkDir;
use setwise_tests::{Cluster, MariaDb};

/// Bound of one script run (a Go run compiles first).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// The gateway (2 sets, no replicas) and one plain MariaDB, started together.
async fn both() -> (Cluster, MariaDb, WorkDir) {
    let cluster = Cluster::builder().sets(2).replicas(0).proxy(true).start();
    let reference = async {
        let dir = WorkDir::new("clientref")?;
        let db = MariaDb::start("reference", dir.path(), 901, NodeOptions::primary(false)).await?;
        anyhow::Ok((db, dir))
    };
    let (c, (db, dir)) = tokio::try_join!(cluster, reference).unwrap();
    (c, db, dir)
}

/// Runs `cmd` in `tests/clients` (bounded); its stdout, or `Err` with everything
/// when it failed (or, with `done`, printed no `ALL DONE`).
async fn run(mut cmd: tokio::process::Command, what: &str, done: bool) -> Result<String, String> {
    cmd.current_dir(clients_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(RUN_TIMEOUT, cmd.output()).await {
        Err(_) => return Err(format!("{what} did not finish within {RUN_TIMEOUT:?}")),
        Ok(Err(e)) => return Err(format!("cannot run {what}: {e}")),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() && (!done || stdout.contains("ALL DONE")) {
        Ok(stdout)
    } else {
        Err(format!(
            "{what} failed ({}):\n{stdout}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Whether `probe` runs; a skip (or, under CI, a failure) when not.
async fn have(test: &str, probe: &[&str], install: &str) -> bool {
    let mut cmd = tokio::process::Command::new(probe[0]);
    cmd.args(&probe[1..]);
    match run_quiet(cmd).await {
        true => true,
        false if ci() => panic!("{test}: `{}` fails: {install} (CI is set)", probe.join(" ")),
        false => {
            eprintln!("SKIPPED {test}: `{}` fails: {install}", probe.join(" "));
            false
        }
    }
}

async fn run_quiet(mut cmd: tokio::process::Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    matches!(
        tokio::time::timeout(Duration::from_secs(60), cmd.status()).await,
        Ok(Ok(s)) if s.success()
    )
}

/// The first lines where the two runs differ (with their line numbers), or none.
fn differences(gateway: &str, plain: &str) -> Vec<String> {
    let (g, p): (Vec<&str>, Vec<&str>) = (gateway.lines().collect(), plain.lines().collect());
    let mut d = Vec::new();
    for i in 0..g.len().max(p.len()) {
        let (a, b) = (g.get(i).copied(), p.get(i).copied());
        if a != b {
            d.push(format!(
                "line {}:\n  gateway: {}\n  MariaDB: {}",
                i + 1,
                a.unwrap_or("(none)"),
                b.unwrap_or("(none)")
            ));
        }
        if d.len() >= 15 {
            break;
        }
    }
    d
}

/// Runs the client `make(host, port, user, password, suffix)` against both and
/// compares.
async fn compare<F>(what: &str, make: F)
where
    F: Fn(&str, u16, &str, &str, &str) -> tokio::process::Command,
{
    let (c, plain, _dir) = both().await;
    let (on_gateway, on_plain) = (
        format!("{what} through the gateway"),
        format!("{what} on one MariaDB"),
    );
    let gateway = run(
        make("127.0.0.1", c.proxy_port(), "app", "app", " shardkey=id"),
        &on_gateway,
        true,
    );
    let reference = run(
        make("127.0.0.1", plain.port(), "root", "", ""),
        &on_plain,
        true,
    );
    let (gateway, reference) = tokio::join!(gateway, reference);
    let reference = reference.unwrap_or_else(|e| panic!("{e}"));
    let gateway = gateway.unwrap_or_else(|e| {
        panic!("{e}\ngateway log: {}", c.proxy_log().display());
    });
    println!("{gateway}");
    let d = differences(&gateway, &reference);
    assert!(
        d.is_empty(),
        "{what}: the gateway and one MariaDB differ:\n{}\ngateway log: {}",
        d.join("\n"),
        c.proxy_log().display()
    );
}

#[tokio::test]
async fn clients_go_sql_driver_same_as_mariadb() {
    let gopath = Path::new("/usr/share/gocode");
    if !have(
        "clients_go_sql_driver_same_as_mariadb",
        &["go", "version"],
        "apt-get install golang-go golang-github-go-sql-driver-mysql-dev",
    )
    .await
    {
        return;
    }
    let driver = gopath.join("src/github.com/go-sql-driver/mysql");
    assert!(
        driver.is_dir() || !ci(),
        "{} missing: apt-get install golang-github-go-sql-driver-mysql-dev",
        driver.display()
    );
    if !driver.is_dir() {
        eprintln!("SKIPPED: {} missing", driver.display());
        return;
    }
    // One build, run twice (a `go run` per side would compile twice at once).
    let work = WorkDir::new("goclient").unwrap();
    let bin = work.path().join("check");
    let mut build = tokio::process::Command::new("go");
    build
        .args(["build", "-o"])
        .arg(&bin)
        .arg("check.go")
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("GOCACHE", work.path().join("cache"));
    run(build, "go build check.go", false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    compare("go-sql-driver", |host, port, user, pass, suffix| {
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.arg("-dsn")
            .arg(format!("{user}:{pass}@tcp({host}:{port})/"))
            .arg("-suffix")
            .arg(suffix);
        cmd
    })
    .await;
}

#[tokio::test]
async fn clients_php_mysqli_and_pdo_same_as_mariadb() {
    if !have(
        "clients_php_mysqli_and_pdo_same_as_mariadb",
        &[
            "php",
            "-r",
            "exit(class_exists('mysqli') && extension_loaded('pdo_mysql') ? 0 : 1);",
        ],
        "apt-get install php-cli php-mysql",
    )
    .await
    {
        return;
    }
    compare("PHP mysqli/PDO", |host, port, user, pass, suffix| {
        let mut cmd = tokio::process::Command::new("php");
        cmd.arg("check.php")
            .args([host, &port.to_string(), user, pass, suffix]);
        cmd
    })
    .await;
}

#[tokio::test]
async fn clients_ruby_mysql2_same_as_mariadb() {
    if !have(
        "clients_ruby_mysql2_same_as_mariadb",
        &["ruby", "-e", "require 'mysql2'"],
        "apt-get install ruby-mysql2",
    )
    .await
    {
        return;
    }
    compare("Ruby mysql2", |host, port, user, pass, suffix| {
        let mut cmd = tokio::process::Command::new("ruby");
        cmd.arg("check.rb")
            .args([host, &port.to_string(), user, pass, suffix]);
        cmd
    })
    .await;
}
