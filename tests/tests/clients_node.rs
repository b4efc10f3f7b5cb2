//! A real Node.js client against the gateway (2 sets × primary + 1 replica): mysql2's
//! `connection.execute()` (server-side prepared statements, binary protocol) and
//! `connection.query()` (text protocol, client-side placeholders). The checks live in
//! `tests/node/prepared.js`, which prints one line per check and exits 0 when all pass;
//! mysql2 is pinned by `tests/node/package-lock.json` (`npm ci --prefix tests/node`,
//! which `tests/run.sh` runs). A missing `node` or mysql2 is a skip (said loudly) on a
//! developer machine, and a failure when `CI` is set.
//!
//! Afterwards the rows the script left are checked on the sets themselves: the gateway's
//! count is the sum of the primaries', every row lives on the set owning its slot, and
//! each replica holds what its primary holds.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::sql::scalar;
use setwise_tests::util::{bounded, ci};
use setwise_tests::Cluster;
use topo::TableKind;

/// Bound for one script run (the script's own watchdog fires at 90 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// The script's exit code for "mysql2 not installed".
const EXIT_SKIP: i32 = 77;

const DB: &str = "nodedb";
const TABLE: &str = "accounts";

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// `Ok(versions)` when `node` runs and can load mysql2 from `tests/node/node_modules`.
async fn probe_node() -> Result<String, String> {
    let probe = tokio::process::Command::new("node")
        .args([
            "-e",
            "require('mysql2'); \
             console.log(`node ${process.version}, mysql2 ${require('mysql2/package.json').version}`)",
        ])
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(30), probe).await {
        Err(_) => Err("`node -e \"require('mysql2')\"` did not finish within 30 s".into()),
        Ok(Err(e)) => Err(format!(
            "cannot run `node` ({e}): install Node.js (apt-get install nodejs npm)"
        )),
        Ok(Ok(out)) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr
                .lines()
                .find(|l| l.contains("Error"))
                .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
                .unwrap_or("")
                .trim();
            Err(format!(
                "node cannot load mysql2 ({}: {why}): run `npm ci --prefix tests/node`",
                out.status
            ))
        }
    }
}

fn count(v: Option<String>, what: &str) -> u64 {
    v.as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{what}: not a count: {v:?}"))
}

#[tokio::test]
async fn clients_node_mysql2_prepared_statements() {
    let versions = match probe_node().await {
        Ok(v) => v,
        Err(why) if ci() => panic!("{why} (CI is set, so a missing client is a failure)"),
        Err(why) => {
            eprintln!("SKIPPED clients_node_mysql2_prepared_statements: {why}");
            return;
        }
    };
    println!("{versions}");

    let c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();

    // The schema through the gateway, with the TDSQL shardkey= option.
    let mut conn = bounded("connect to the gateway", c.proxy_conn()).await;
    bounded("CREATE DATABASE", async {
        Ok(conn.query_drop(format!("CREATE DATABASE {DB}")).await?)
    })
    .await;
    let ddl = format!(
        "CREATE TABLE {DB}.{TABLE} (id BIGINT NOT NULL PRIMARY KEY, small INT NULL, \
         big BIGINT NULL, name VARCHAR(64) NULL, amount DECIMAL(12,2) NULL, \
         created DATETIME(3) NULL, note TEXT NULL) \
         DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci shardkey=id"
    );
    bounded("CREATE TABLE", async { Ok(conn.query_drop(&ddl).await?) }).await;
    let table = bounded("read the table record", async {
        Ok(c.topo().get_table(DB, TABLE).await?)
    })
    .await
    .expect("no table record in etcd after CREATE TABLE");
    assert!(
        matches!(&table.kind, TableKind::Sharded { key, .. } if key == "id"),
        "the table is not sharded by id: {table:?}"
    );
    let map = c.shard_map(DB).await;
    let sets = map.sets();
    assert_eq!(
        sets.len(),
        2,
        "the shard map should span both sets: {map:?}"
    );

    // The script.
    let port = c.proxy_port().to_string();
    let shard_map = serde_json::to_string(&map).unwrap();
    let script = node_dir().join("prepared.js");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .args(["--host", "127.0.0.1", "--port", &port])
        .args(["--user", "app", "--password", "app"])
        .args(["--database", DB, "--table", TABLE])
        .args(["--shard-map", &shard_map])
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("prepared.js did not finish within {SCRIPT_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("run node {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("prepared.js:\n{stdout}");
    assert_ne!(
        out.status.code(),
        Some(EXIT_SKIP),
        "prepared.js found mysql2 missing although the probe loaded it:\n{stdout}{stderr}"
    );
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "prepared.js failed ({}):\n{stdout}\nstderr:\n{stderr}\ngateway log: {}",
        out.status,
        c.proxy_log().display()
    );

    // What it left, seen on the sets themselves.
    let through_gateway = count(
        bounded("COUNT(*) through the gateway", async {
            scalar(&mut conn, &format!("SELECT COUNT(*) FROM {DB}.{TABLE}")).await
        })
        .await,
        "COUNT(*) through the gateway",
    );
    let mut on_sets = 0;
    for set in &sets {
        let primary = c.primary(set);
        let n = count(
            bounded(
                &format!("COUNT(*) on {set}"),
                primary.scalar(&format!("SELECT COUNT(*) FROM {DB}.{TABLE}")),
            )
            .await,
            "COUNT(*) on a primary",
        );
        assert!(n > 0, "{set} holds no row of {DB}.{TABLE}: not sharded");
        let cond = setwise_tests::placement::misplaced_condition(&map, set, "id");
        let misplaced = bounded(
            &format!("misplaced rows on {set}"),
            primary.query(&format!(
                "SELECT id FROM {DB}.{TABLE} WHERE {cond} ORDER BY id"
            )),
        )
        .await;
        assert!(
            misplaced.is_empty(),
            "rows on {set} whose slot another set owns (ids {misplaced:?}; {cond})"
        );
        on_sets += n;

        // The replica holds what its primary holds.
        bounded(
            &format!("{set}'s replicas to catch up"),
            c.set(set).sync_replicas(),
        )
        .await;
        let checksum = format!("CHECKSUM TABLE {DB}.{TABLE}");
        let want = bounded("CHECKSUM on the primary", primary.query(&checksum)).await;
        for replica in c.set(set).replicas() {
            let got = bounded("CHECKSUM on a replica", replica.query(&checksum)).await;
            assert_eq!(got, want, "{} differs from its primary", replica.name());
        }
    }
    assert_eq!(
        through_gateway, on_sets,
        "COUNT(*) through the gateway is not the sum of the sets' counts"
    );
}
