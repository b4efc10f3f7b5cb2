//! MariaDB Connector/J (Debian `libmariadb-java`) against the gateway: text and
//! server-side prepared statements, batches, a transaction across sets, JDBC
//! metadata. The checks live in `tests/java/JdbcClient.java`, compiled here.
//! A missing JDK or driver is a skip (said loudly) on a developer machine and a
//! failure when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::util::ci;
use setwise_tests::Cluster;

const DRIVER: &str = "/usr/share/java/mariadb-java-client.jar";
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

async fn run(cmd: &mut tokio::process::Command, what: &str) -> std::process::Output {
    let fut = cmd.stdin(Stdio::null()).kill_on_drop(true).output();
    tokio::time::timeout(RUN_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Compiles the client into `dir`; `None` (skip) when the JDK or driver is missing.
async fn compile(dir: &Path) -> Option<()> {
    let have_javac = tokio::process::Command::new("javac")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !have_javac || !Path::new(DRIVER).exists() {
        let msg = "javac or the MariaDB JDBC driver is missing: apt-get install default-jdk-headless libmariadb-java";
        assert!(!ci(), "{msg} (CI is set, so a missing client is a failure)");
        eprintln!("SKIPPED clients_java: {msg}");
        return None;
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("java/JdbcClient.java");
    let out = run(
        tokio::process::Command::new("javac")
            .arg("-d")
            .arg(dir)
            .arg("-cp")
            .arg(DRIVER)
            .arg(&src),
        "javac",
    )
    .await;
    assert!(
        out.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

#[tokio::test]
async fn clients_java_connector_j_text_and_prepared() {
    let classes = tempfile::tempdir().unwrap();
    if compile(classes.path()).await.is_none() {
        return;
    }
    let c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE jdb").await.unwrap();
    drop(conn);
    let cp = format!("{DRIVER}:{}", classes.path().display());
    let port = c.proxy_port().to_string();
    for server_prep in ["true", "false"] {
        let out = run(
            tokio::process::Command::new("java").args([
                "-cp",
                &cp,
                "JdbcClient",
                &port,
                server_prep,
            ]),
            "java JdbcClient",
        )
        .await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("useServerPrepStmts={server_prep}:\n{stdout}");
        assert!(
            out.status.success() && stdout.contains("ALL OK"),
            "Connector/J (useServerPrepStmts={server_prep}) failed:\n{stdout}\nstderr:\n{}\ngateway log: {}",
            String::from_utf8_lossy(&out.stderr),
            c.proxy_log().display()
        );
    }
}
