//! The SQL audit log (`[audit]`, docs/observability.md): statements of two
//! clients appear with the right fields; a password never appears; a failing
//! file or a slow writer drops records and counts them while clients go on at
//! full speed.

use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::Value;
use setwise_tests::scrape::{self, sum};
use setwise_tests::{wait_until, Cluster};

const WAIT: Duration = Duration::from_secs(20);
const SECRET: &str = "Sup3rS3cretPw";

/// Two sets, the gateway with its metrics port and `[audit]` as given (plus
/// `env` for the gateway), and `shop.t` with ids 1..=4.
async fn start(audit: &str, env: &[(&str, &str)]) -> Cluster {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();
    c.set_proxy_extra(audit);
    c.set_proxy_env(env);
    c.start_proxy().await.unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO shop.t VALUES (1, 10), (2, 20), (3, 30), (4, 40)")
        .await
        .unwrap();
    c
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn find<'a>(recs: &'a [Value], text: &str) -> Option<&'a Value> {
    recs.iter().find(|r| r["text"].as_str() == Some(text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_statements_with_their_fields_and_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let c = start(
        &format!(
            "[audit]\nenabled = true\nmax_text = 200\npath = \"{}\"\n",
            path.display()
        ),
        &[],
    )
    .await;
    let mut a = c.proxy_conn().await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    let a_id: u32 = a
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    let b_id: u32 = b
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a_id, b_id);
    a.query_drop("USE shop").await.unwrap();
    let rows: Vec<(i64, i64)> = a
        .query("SELECT id, v FROM t WHERE id IN (1, 2)")
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    b.query_drop("UPDATE shop.t SET v = 31 WHERE id = 3")
        .await
        .unwrap();
    let all: Vec<i64> = b.query("SELECT v FROM shop.t").await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(a.query_drop("SELECT nope FROM t").await.is_err());
    for sql in [
        format!("CREATE USER 'eve'@'%' IDENTIFIED BY '{SECRET}'"),
        format!("ALTER USER app IDENTIFIED BY '{SECRET}'"),
        format!("SET PASSWORD = PASSWORD('{SECRET}')"),
        format!("SET PASSWORD FOR app = '{SECRET}'"),
        format!("GRANT SELECT ON *.* TO eve IDENTIFIED BY '{SECRET}'"),
    ] {
        // Refused by the gateway (users are the CLI's); recorded all the same.
        let _ = b.query_drop(&sql).await;
    }
    let long = format!("SELECT '{}' AS long_one", "x".repeat(300));
    b.query_drop(&long).await.unwrap();
    b.query_drop("SELECT 'last'").await.unwrap();

    wait_until("the audit log to hold the last statement", WAIT, || {
        let recs = records(&path);
        async move { Ok(find(&recs, "SELECT 'last'").is_some()) }
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(SECRET),
        "a password reached the audit log:\n{text}"
    );
    let recs = records(&path);

    let sel = find(&recs, "SELECT id, v FROM t WHERE id IN (1, 2)").expect("client a's SELECT");
    assert_eq!(sel["conn"].as_u64(), Some(a_id as u64));
    assert_eq!(sel["user"], "app");
    assert_eq!(sel["db"], "shop");
    assert!(sel["source"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(
        sel["fingerprint"],
        "SELECT id, v FROM t WHERE id IN (?,...)"
    );
    assert_eq!(sel["rows"], 2);
    assert_eq!(sel["error"], 0);
    assert!(sel["latency_us"].as_u64().unwrap() > 0);
    assert!(sel["time"].as_str().unwrap().ends_with('Z'));
    assert!(!sel["sets"].as_array().unwrap().is_empty());

    let upd = find(&recs, "UPDATE shop.t SET v = 31 WHERE id = 3").expect("client b's UPDATE");
    assert_eq!(upd["conn"].as_u64(), Some(b_id as u64));
    assert_eq!(upd["db"], Value::Null);
    assert_eq!(upd["sets"].as_array().unwrap().len(), 1);
    let scan = find(&recs, "SELECT v FROM shop.t").expect("client b's scan");
    assert_eq!(scan["rows"], 4);
    assert_eq!(scan["sets"], serde_json::json!(["set1", "set2"]));

    let cut = recs
        .iter()
        .find(|r| r["truncated"] == true)
        .expect("the long statement, cut");
    assert_eq!(cut["text"].as_str().unwrap(), &long[..200]);
    assert_eq!(sel.get("truncated"), None, "only long texts say so");

    let bad = find(&recs, "SELECT nope FROM t").expect("the failed SELECT");
    assert_eq!(bad["error"], 1054);
    assert_eq!(bad["rows"], 0);

    let masked = find(&recs, "CREATE USER ? IDENTIFIED BY ?")
        .or_else(|| find(&recs, "CREATE USER '?'@'?' IDENTIFIED BY ?"))
        .or_else(|| {
            recs.iter().find(|r| {
                r["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("CREATE USER"))
            })
        })
        .expect("the CREATE USER record");
    assert!(masked["error"].as_u64().unwrap() > 0);
    for r in &recs {
        if r["text"]
            .as_str()
            .is_some_and(|t| t.contains("PASSWORD") || t.contains("IDENTIFIED"))
        {
            assert!(r["text"].as_str().unwrap().contains('?'), "{r}");
        }
    }

    let m = scrape::metrics(c.proxy_metrics_port()).await.unwrap();
    assert!(sum(&m, "setwise_proxy_audit_records_total", &[]) >= recs.len() as f64);
    assert_eq!(sum(&m, "setwise_proxy_audit_dropped_total", &[]), 0.0);
}

/// Runs `n` point reads on one connection; returns how long they took.
async fn point_reads(c: &Cluster, n: usize) -> Duration {
    let mut conn = c.proxy_conn().await.unwrap();
    let start = Instant::now();
    for i in 0..n {
        let v: Option<i64> = conn
            .query_first(format!("SELECT v FROM shop.t WHERE id = {}", i % 4 + 1))
            .await
            .unwrap();
        assert!(v.is_some());
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_written_drops_and_counts_records() {
    // A path under a regular file: not even root can create it.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let path = blocker.join("audit.log");
    let c = start(
        &format!("[audit]\nenabled = true\npath = \"{}\"\n", path.display()),
        &[],
    )
    .await;
    point_reads(&c, 200).await;
    let port = c.proxy_metrics_port();
    wait_until("the failed writes to be counted", WAIT, || async move {
        let m = scrape::metrics(port).await?;
        Ok(sum(
            &m,
            "setwise_proxy_audit_dropped_total",
            &[("reason", "write_error")],
        ) >= 200.0)
    })
    .await
    .unwrap();
    let m = scrape::metrics(port).await.unwrap();
    assert_eq!(sum(&m, "setwise_proxy_audit_records_total", &[]), 0.0);
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_writer_with_a_full_queue_never_slows_clients() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    // The writer takes 100 ms per record; the queue holds 4.
    let c = start(
        &format!(
            "[audit]\nenabled = true\nqueue = 4\npath = \"{}\"\n",
            path.display()
        ),
        &[("SETWISE_AUDIT_WRITE_DELAY_MS", "100")],
    )
    .await;
    let took = point_reads(&c, 300).await;
    // Waiting for the writer would take 30 s.
    assert!(
        took < Duration::from_secs(10),
        "300 point reads took {took:?}"
    );
    let m = scrape::metrics(c.proxy_metrics_port()).await.unwrap();
    let dropped = sum(
        &m,
        "setwise_proxy_audit_dropped_total",
        &[("reason", "queue_full")],
    );
    assert!(dropped >= 200.0, "dropped {dropped}");
}
