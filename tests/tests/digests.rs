//! Query digests (docs/observability.md): `SHOW SETWISE DIGESTS` counts what was
//! run per fingerprint (count, latency, rows, errors, sets), resets, and
//! `setwise digests` reads the same through the gateways' metrics ports.

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use serde_json::Value;
use setwise_tests::{wait_until, Cluster};

struct D {
    text: String,
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
    rows: u64,
    errors: u64,
    sets: String,
}

async fn digests(conn: &mut mysql_async::Conn, sql: &str) -> Vec<D> {
    let rows: Vec<Row> = conn.query(sql).await.unwrap();
    rows.into_iter()
        .map(|r| {
            let n = |i: usize| r.get::<u64, _>(i).unwrap();
            D {
                text: r.get(2).unwrap(),
                count: n(3),
                sum: n(4),
                min: n(5),
                max: n(6),
                rows: n(7),
                errors: n(8),
                sets: r.get(11).unwrap(),
            }
        })
        .collect()
}

fn one<'a>(ds: &'a [D], text: &str) -> &'a D {
    ds.iter().find(|d| d.text == text).unwrap_or_else(|| {
        panic!(
            "no digest {text:?} in {:?}",
            ds.iter().map(|d| &d.text).collect::<Vec<_>>()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_match_the_statements_run() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("USE shop").await.unwrap();
    conn.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("SHOW SETWISE DIGESTS RESET").await.unwrap();

    for i in 1..=6 {
        conn.query_drop(format!("INSERT INTO t VALUES ({i}, {})", i * 10))
            .await
            .unwrap();
    }
    for i in 1..=6 {
        let v: Option<i64> = conn
            .query_first(format!("SELECT v FROM t WHERE id = {i}"))
            .await
            .unwrap();
        assert_eq!(v, Some(i * 10));
    }
    let all: Vec<i64> = conn.query("SELECT v FROM t").await.unwrap();
    assert_eq!(all.len(), 6);
    for _ in 0..2 {
        assert!(conn
            .query_drop("SELECT nope FROM t WHERE id = 1")
            .await
            .is_err());
    }
    // Prepared statements are booked under their text too.
    let stmt = conn.prep("SELECT v FROM t WHERE id = ?").await.unwrap();
    let v: Option<i64> = conn.exec_first(&stmt, (2,)).await.unwrap();
    assert_eq!(v, Some(20));

    // A statement the gateway runs through another (SET STATEMENT ... FOR) is booked
    // once, under its own text, not again under the inner one.
    let v: Option<i64> = conn
        .query_first("SET STATEMENT max_statement_time = 10 FOR SELECT v FROM t WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(v, Some(30));
    let ds = digests(&mut conn, "SHOW SETWISE DIGESTS").await;
    let ins = one(&ds, "INSERT INTO t VALUES (?,...)");
    assert_eq!((ins.count, ins.errors, ins.rows), (6, 0, 0));
    // (Which sets ids 1..=6 live on depends on the hash; the scan reaches both.)
    assert!(ins.sets.starts_with("set"), "{}", ins.sets);
    let point = one(&ds, "SELECT v FROM t WHERE id = ?");
    assert_eq!(point.count, 7, "6 texts and 1 prepared execution");
    assert_eq!(point.rows, 7);
    assert_eq!(point.errors, 0);
    assert!(point.min <= point.max && point.max <= point.sum && point.min > 0);
    assert_eq!(point.sets, ins.sets);
    let scan = one(&ds, "SELECT v FROM t");
    assert_eq!(
        (scan.count, scan.rows, scan.sets.as_str()),
        (1, 6, "set1,set2")
    );
    let bad = one(&ds, "SELECT nope FROM t WHERE id = ?");
    assert_eq!((bad.count, bad.errors, bad.rows), (2, 2, 0));
    // Largest total latency first.
    assert!(ds.windows(2).all(|w| w[0].sum >= w[1].sum));
    let top2 = digests(&mut conn, "SHOW SETWISE DIGESTS LIMIT 2").await;
    assert_eq!(top2.len(), 2);

    // `setwise digests` through the metrics port the gateway registered in etcd.
    let out = c
        .setwise(&["digests", "--top", "3", "--json"])
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let p = list
        .iter()
        .find(|d| d["fingerprint"] == "SELECT v FROM t WHERE id = ?")
        .expect("the point read among the top 3");
    assert!(p["count"].as_u64().unwrap() >= 7);
    assert_eq!(p["schema"], "shop");
    let table = c.setwise(&["digests"]).await.unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("DIGEST"), "{text}");
    assert!(text.contains("SELECT v FROM t WHERE id = ?"), "{text}");

    // Reset, through the CLI: the table starts again.
    let out = c.setwise(&["digests", "--reset", "--json"]).await.unwrap();
    assert!(out.status.success());
    let port = c.proxy_metrics_port();
    wait_until(
        "the digest table to be empty",
        std::time::Duration::from_secs(10),
        || async move {
            let body = setwise_tests::scrape::get(port, "/digests").await?;
            Ok(body.trim() == "[]")
        },
    )
    .await
    .unwrap();
    conn.query_drop("SELECT v FROM t WHERE id = 3")
        .await
        .unwrap();
    let ds = digests(&mut conn, "SHOW SETWISE DIGESTS").await;
    assert_eq!(ds.len(), 1, "only the statement after the reset");
    assert_eq!(one(&ds, "SELECT v FROM t WHERE id = ?").count, 1);
}
