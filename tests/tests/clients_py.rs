//! Real Python clients against the gateway (2 sets × primary + 1 replica): PyMySQL
//! (text protocol) and mysql-connector-python with `prepared=True` (binary protocol),
//! alone or compared with one plain MariaDB (the differential reference).
//! The checks live in `tests/py/*.py`; each prints one line per check and exits 0
//! when all pass. A missing Python module is a skip (said loudly) on a developer
//! machine, and a failure when `CI` is set.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use setwise_tests::Cluster;

/// Bound for one script run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The scripts' exit code for "module not installed".
const EXIT_SKIP: i32 = 77;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("py")
        .join(name)
}

/// Whether `python3` can import `module`.
async fn has_module(module: &str) -> bool {
    let probe = tokio::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    matches!(
        tokio::time::timeout(Duration::from_secs(30), probe).await,
        Ok(Ok(s)) if s.success()
    )
}

/// `Some(message)` when the test must be skipped: the module is missing and `CI` is
/// unset (or empty, `0`, `false`). Panics when it is missing under CI.
async fn skip_without(module: &str, package: &str) -> Option<String> {
    if has_module(module).await {
        return None;
    }
    let msg = format!(
        "python3 cannot import `{module}`: install it with `python3 -m pip install {package}`"
    );
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    if ci {
        panic!("{msg} (CI is set, so a missing client is a failure)");
    }
    Some(msg)
}

/// Runs `tests/py/<name>` against the gateway of `c`; panics with its output unless
/// it exits 0 and reports "ALL OK".
async fn run_script(c: &Cluster, name: &str) {
    let port = c.proxy_port().to_string();
    let args = ["--host", "127.0.0.1", "--port", &port];
    run_script_with(
        c,
        name,
        &[&args[..], &["--user", "app", "--password", "app"]].concat(),
    )
    .await;
}

/// [`run_script`] with the script's arguments `args`.
async fn run_script_with(c: &Cluster, name: &str, args: &[&str]) {
    let path = script(name);
    let run = tokio::process::Command::new("python3")
        .arg(&path)
        .args(args)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("{name} did not finish within {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("run python3 {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{name}:\n{stdout}");
    assert_ne!(
        out.status.code(),
        Some(EXIT_SKIP),
        "{name} found its module missing although python3 imported it:\n{stdout}{stderr}"
    );
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "{name} failed ({}):\n{stdout}\nstderr:\n{stderr}\ngateway log: {}",
        out.status,
        c.proxy_log().display()
    );
}

async fn cluster() -> Cluster {
    Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn clients_py_pymysql_text_protocol() {
    if let Some(why) = skip_without("pymysql", "pymysql").await {
        eprintln!("SKIPPED clients_py_pymysql_text_protocol: {why}");
        return;
    }
    let c = cluster().await;
    // The agents' system schema, as agents create it on the primaries: it must stay
    // invisible through the gateway (the script checks).
    for set in c.set_names() {
        c.primary(&set)
            .exec("CREATE DATABASE IF NOT EXISTS setwise_sys")
            .await
            .unwrap();
    }
    run_script(&c, "pymysql_client.py").await;
}

#[tokio::test]
async fn clients_py_connector_prepared_statements() {
    if let Some(why) = skip_without("mysql.connector", "mysql-connector-python").await {
        eprintln!("SKIPPED clients_py_connector_prepared_statements: {why}");
        return;
    }
    let c = cluster().await;
    run_script(&c, "connector_prepared.py").await;
}

/// The parameter types mysql-connector-python binds (TINY .. LONGLONG by an
/// int's size, STRING, DECIMAL, DATE, ...) type the answers as on one plain
/// MariaDB: column definitions and values of the same statements, one set,
/// every set, broadcast, INSERTs of every type (`tests/py/prepared_types.py`).
#[tokio::test]
async fn clients_py_connector_parameter_types_as_mariadb() {
    if let Some(why) = skip_without("mysql.connector", "mysql-connector-python").await {
        eprintln!("SKIPPED clients_py_connector_parameter_types_as_mariadb: {why}");
        return;
    }
    let d = setwise_tests::diff::Diff::start()
        .await
        .expect("start the cluster and the reference");
    let (gw, rf) = (
        d.cluster().proxy_port().to_string(),
        d.reference_port().to_string(),
    );
    let args = ["--gw-port", &gw, "--ref-port", &rf];
    run_script_with(d.cluster(), "prepared_types.py", &args).await;
}

#[tokio::test]
async fn clients_py_pymysql_no_backslash_escapes() {
    if let Some(why) = skip_without("pymysql", "pymysql").await {
        eprintln!("SKIPPED clients_py_pymysql_no_backslash_escapes: {why}");
        return;
    }
    let c = cluster().await;
    run_script(&c, "pymysql_no_backslash.py").await;
}
