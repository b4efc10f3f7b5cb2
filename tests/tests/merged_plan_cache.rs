//! Merged plans (sort, group, aggregate across sets) come from the plan cache
//! when a statement of the same text shape runs again with other literals
//! (`proxy/src/route/merged_cache.rs`):
//! * the gateway's plan-cache hits count them (none before the cache, none
//!   with `[backend] merge_plan_cache = false`);
//! * every answer — rows, column names and types — equals one plain
//!   MariaDB's, also where a literal changes the plan (LIMIT, HAVING, a
//!   positional ORDER BY) or a column's name (a literal in the select list),
//!   in the text and the binary protocol, in and outside a transaction.

use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};
use setwise_tests::scrape;
use setwise_tests::Cluster;

const COLUMNS: &str = "id BIGINT PRIMARY KEY, k INT NOT NULL, c CHAR(20) NOT NULL";

/// 200 rows: `k` repeats (groups, DISTINCT), `c` is unique under the
/// case-insensitive collation but mixes cases (its order is the collation's).
fn rows() -> String {
    (1..=200i64)
        .map(|id| {
            let case = if id % 3 == 0 { "C" } else { "c" };
            format!("({id}, {}, '{case}-{:03}')", id % 7, (id * 37) % 211)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Statements of one text shape each, with different literals; `{db}` is the
/// database.
fn shapes() -> Vec<Vec<String>> {
    let mut v: Vec<Vec<String>> = Vec::new();
    let ranges = [(1, 100), (5, 104), (150, 249), (0, 0), (33, 34)];
    v.push(
        ranges
            .iter()
            .map(|(a, b)| format!("SELECT SUM(k) FROM {{db}}.t WHERE id BETWEEN {a} AND {b}"))
            .collect(),
    );
    v.push(
        ranges
            .iter()
            .map(|(a, b)| format!("SELECT c FROM {{db}}.t WHERE id BETWEEN {a} AND {b} ORDER BY c"))
            .collect(),
    );
    v.push(
        ranges
            .iter()
            .map(|(a, b)| {
                format!("SELECT DISTINCT k FROM {{db}}.t WHERE id BETWEEN {a} AND {b} ORDER BY k")
            })
            .collect(),
    );
    // Literals in the select list name their columns.
    v.push(
        [(5, "x"), (17, "it''s"), (40, "")]
            .iter()
            .map(|(n, s)| {
                format!(
                    "SELECT c, {n} AS n, '{s}', {n}.5 FROM {{db}}.t WHERE id < {n} ORDER BY c DESC"
                )
            })
            .collect(),
    );
    // Literals the plan depends on.
    v.push(
        [3, 7, 0]
            .iter()
            .map(|n| format!("SELECT c FROM {{db}}.t ORDER BY c LIMIT {n}"))
            .collect(),
    );
    v.push(
        [27, 28, 29]
            .iter()
            .map(|n| {
                format!(
                    "SELECT k, COUNT(*) FROM {{db}}.t GROUP BY k HAVING COUNT(*) > {n} ORDER BY k"
                )
            })
            .collect(),
    );
    v.push(
        [1, 2]
            .iter()
            .map(|p| format!("SELECT c, k FROM {{db}}.t WHERE id < 40 ORDER BY {p}, id"))
            .collect(),
    );
    v.push(
        [10, 100, 0]
            .iter()
            .map(|n| {
                format!("SELECT k, AVG(id), MAX(c), COUNT(*) FROM {{db}}.t WHERE id > {n} GROUP BY k ORDER BY k")
            })
            .collect(),
    );
    v
}

type Answer = (
    Vec<(String, mysql_async::consts::ColumnType)>,
    Vec<Vec<Value>>,
);

fn columns(rows: &[Row]) -> Vec<(String, mysql_async::consts::ColumnType)> {
    rows.first()
        .map(|r| {
            r.columns_ref()
                .iter()
                .map(|c| (c.name_str().into_owned(), c.column_type()))
                .collect()
        })
        .unwrap_or_default()
}

async fn text(conn: &mut Conn, sql: &str) -> Answer {
    let rows: Vec<Row> = conn
        .query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let cols = columns(&rows);
    (cols, rows.into_iter().map(Row::unwrap).collect())
}

async fn binary(conn: &mut Conn, sql: &str, params: (i64, i64)) -> Answer {
    let rows: Vec<Row> = conn
        .exec(sql, params)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let cols = columns(&rows);
    (cols, rows.into_iter().map(Row::unwrap).collect())
}

async fn hits(c: &Cluster) -> f64 {
    let s = scrape::metrics(c.proxy_metrics_port()).await.unwrap();
    scrape::sum(&s, "setwise_proxy_plan_cache_total", &[("result", "hit")])
}

/// Runs every shape on the gateway and on the plain MariaDB, text then
/// binary, outside and inside a transaction; returns the gateway's plan-cache
/// hits during the SUM shape's five statements (text, autocommit).
async fn compare(c: &Cluster, gw: &mut Conn, plain: &mut Conn) -> f64 {
    let mut sum_hits = 0.0;
    for in_txn in [false, true] {
        if in_txn {
            gw.query_drop("BEGIN").await.unwrap();
            plain.query_drop("BEGIN").await.unwrap();
        }
        for (i, shape) in shapes().into_iter().enumerate() {
            let before = hits(c).await;
            for sql in &shape {
                let got = text(gw, &sql.replace("{db}", "shop")).await;
                let want = text(plain, &sql.replace("{db}", "plain")).await;
                assert_eq!(got, want, "{sql} (transaction: {in_txn})");
            }
            if i == 0 && !in_txn {
                sum_hits = hits(c).await - before;
            }
        }
        for sql in [
            "SELECT SUM(k) FROM {db}.t WHERE id BETWEEN ? AND ?",
            "SELECT c FROM {db}.t WHERE id BETWEEN ? AND ? ORDER BY c",
            "SELECT DISTINCT k FROM {db}.t WHERE id BETWEEN ? AND ? ORDER BY k",
        ] {
            for params in [(1, 100), (7, 106), (190, 289), (5, 5)] {
                let got = binary(gw, &sql.replace("{db}", "shop"), params).await;
                let want = binary(plain, &sql.replace("{db}", "plain"), params).await;
                assert_eq!(got, want, "{sql} {params:?} (transaction: {in_txn})");
            }
        }
        if in_txn {
            gw.query_drop("COMMIT").await.unwrap();
            plain.query_drop("COMMIT").await.unwrap();
        }
    }
    sum_hits
}

#[tokio::test]
async fn merged_plans_are_cached_and_answer_as_mariadb() {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .proxy_metrics(true)
        .start()
        .await
        .expect("start 2 sets and the gateway");
    let mut gw = c.proxy_conn().await.unwrap();
    gw.query_drop("CREATE DATABASE shop").await.unwrap();
    gw.query_drop(format!("CREATE TABLE shop.t ({COLUMNS}) shardkey=id"))
        .await
        .unwrap();
    gw.query_drop(format!("INSERT INTO shop.t VALUES {}", rows()))
        .await
        .unwrap();
    // The reference: one plain MariaDB (set1's primary, a database of its own).
    let mut plain = c.primary("set1").conn().await.unwrap();
    plain.query_drop("CREATE DATABASE plain").await.unwrap();
    plain
        .query_drop(format!("CREATE TABLE plain.t ({COLUMNS})"))
        .await
        .unwrap();
    plain
        .query_drop(format!("INSERT INTO plain.t VALUES {}", rows()))
        .await
        .unwrap();
    for set in c.set_names() {
        let n = c
            .primary(&set)
            .scalar("SELECT COUNT(*) FROM shop.t")
            .await
            .unwrap();
        assert_ne!(n.as_deref(), Some("0"), "{set} holds rows");
    }

    let cached = compare(&c, &mut gw, &mut plain).await;
    assert!(
        cached >= 4.0,
        "the SUM shape's last 4 statements come from the plan cache (hits: {cached})"
    );

    // Switched off: planned every time, the same answers.
    drop(gw);
    c.kill_proxy();
    c.set_proxy_backend("merge_plan_cache = false");
    c.start_proxy().await.unwrap();
    let mut gw = c.proxy_conn().await.unwrap();
    let cached = compare(&c, &mut gw, &mut plain).await;
    assert_eq!(
        cached, 0.0,
        "merge_plan_cache = false: no merged plan is cached"
    );
}
