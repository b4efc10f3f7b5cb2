//! A client's prepared statement whose rows the gateway concatenates from several
//! sets (`exec/parallel.rs`) runs as a prepared statement on every set:
//! * each set counts a `COM_STMT_EXECUTE` per execute (MariaDB does not parse the
//!   text each time), in autocommit mode and inside a transaction;
//! * the rows and their binary-protocol values equal those of one plain MariaDB
//!   holding the same rows (integers, unsigned, decimals, floats, temporal
//!   values, strings, blobs, NULLs), as do the column types.

use mysql_async::prelude::*;
use mysql_async::{Row, Value};
use setwise_tests::Cluster;

const COLUMNS: &str = "id BIGINT PRIMARY KEY, i INT, u BIGINT UNSIGNED, d DECIMAL(12,3), \
     f DOUBLE, dt DATETIME(3), day DATE, tm TIME(2), s VARCHAR(40), b BLOB";

fn rows() -> Vec<String> {
    (1..=60)
        .map(|n| {
            if n % 7 == 0 {
                format!("({n}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
            } else {
                format!(
                    "({n}, {}, {}, {n}.125, {n}.5e3, '2026-12-0{} 10:11:{:02}.{n:03}', \
                     '2026-01-{:02}', '-{n}:01:02.5', 'row-{n}-é', x'00ff{n:02}')",
                    -n * 3,
                    u64::MAX - n as u64,
                    1 + n % 9,
                    n % 60,
                    1 + n % 28,
                )
            }
        })
        .collect()
}

/// `COM_STMT_EXECUTE`s each set's primary counted so far.
async fn executes(c: &Cluster) -> Vec<u64> {
    let mut v = Vec::new();
    for set in c.set_names() {
        let n = c
            .primary(&set)
            .query("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")
            .await
            .unwrap();
        v.push(n[0][1].as_deref().unwrap().parse().unwrap());
    }
    v
}

fn by_id(mut rows: Vec<Row>) -> Vec<Vec<Value>> {
    let mut v: Vec<Vec<Value>> = rows.drain(..).map(|r| r.unwrap()).collect();
    v.sort_by_key(|r| match &r[0] {
        Value::Int(i) => *i,
        other => panic!("id {other:?}"),
    });
    v
}

#[tokio::test]
async fn concatenated_prepared_reads_run_prepared_on_the_sets() {
    let c = Cluster::two_sets_with_gateway().await;
    let mut gw = c.proxy_conn().await.unwrap();
    gw.query_drop("CREATE DATABASE shop").await.unwrap();
    gw.query_drop(format!("CREATE TABLE shop.t ({COLUMNS}) shardkey=id"))
        .await
        .unwrap();
    gw.query_drop(format!("INSERT INTO shop.t VALUES {}", rows().join(",")))
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
        .query_drop(format!("INSERT INTO plain.t VALUES {}", rows().join(",")))
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

    let gw_stmt = gw
        .prep("SELECT * FROM shop.t WHERE id BETWEEN ? AND ?")
        .await
        .unwrap();
    let plain_stmt = plain
        .prep("SELECT * FROM plain.t WHERE id BETWEEN ? AND ?")
        .await
        .unwrap();
    for in_txn in [false, true] {
        let before = executes(&c).await;
        if in_txn {
            gw.query_drop("BEGIN").await.unwrap();
        }
        for (lo, hi) in [(1i64, 60i64), (5, 17), (40, 45)] {
            let got: Vec<Row> = gw.exec(&gw_stmt, (lo, hi)).await.unwrap();
            let want: Vec<Row> = plain.exec(&plain_stmt, (lo, hi)).await.unwrap();
            if let (Some(g), Some(w)) = (got.first(), want.first()) {
                let types = |r: &Row| -> Vec<_> {
                    r.columns_ref()
                        .iter()
                        .map(|c| (c.name_str().into_owned(), c.column_type()))
                        .collect()
                };
                assert_eq!(types(g), types(w), "column types, {lo}..{hi}");
            }
            assert_eq!(by_id(got), by_id(want), "rows {lo}..{hi}, txn {in_txn}");
        }
        if in_txn {
            gw.query_drop("COMMIT").await.unwrap();
        }
        let after = executes(&c).await;
        for (b, a) in before.iter().zip(&after) {
            assert!(
                a - b >= 3,
                "every set executed the 3 reads as prepared statements (txn {in_txn}): {before:?} -> {after:?}"
            );
        }
    }
}

/// A client's prepared statement merged across sets (aggregate, ORDER BY,
/// DISTINCT) runs prepared on every set where its rows come typed as text rows
/// would (`route::prepared_merge`, `merge::typed`); other shapes (floating
/// point and temporal columns, LIMIT ?, a negative value) keep the text path.
/// Every answer equals one plain MariaDB's, in and outside a transaction.
#[tokio::test]
async fn merged_prepared_reads_run_prepared_on_the_sets() {
    let c = Cluster::two_sets_with_gateway().await;
    let mut gw = c.proxy_conn().await.unwrap();
    gw.query_drop("CREATE DATABASE shop").await.unwrap();
    gw.query_drop(format!("CREATE TABLE shop.t ({COLUMNS}) shardkey=id"))
        .await
        .unwrap();
    gw.query_drop(format!("INSERT INTO shop.t VALUES {}", rows().join(",")))
        .await
        .unwrap();
    let mut plain = c.primary("set1").conn().await.unwrap();
    plain.query_drop("CREATE DATABASE plain").await.unwrap();
    plain
        .query_drop(format!("CREATE TABLE plain.t ({COLUMNS})"))
        .await
        .unwrap();
    plain
        .query_drop(format!("INSERT INTO plain.t VALUES {}", rows().join(",")))
        .await
        .unwrap();
    // (statement, runs prepared on the sets)
    let shapes = [
        ("SELECT SUM(i) FROM {db}.t WHERE id BETWEEN ? AND ?", true),
        (
            "SELECT s FROM {db}.t WHERE id BETWEEN ? AND ? ORDER BY s, id",
            true,
        ),
        (
            "SELECT DISTINCT i % 5 AS m FROM {db}.t WHERE id BETWEEN ? AND ? ORDER BY m",
            true,
        ),
        (
            "SELECT d, u, b FROM {db}.t WHERE id BETWEEN ? AND ? ORDER BY d DESC, id",
            true,
        ),
        (
            "SELECT COUNT(*), MAX(s), MIN(i) FROM {db}.t WHERE id > ? AND id < ?",
            true,
        ),
        (
            "SELECT f, dt, day, tm FROM {db}.t WHERE id BETWEEN ? AND ? ORDER BY id",
            false,
        ),
        (
            "SELECT s FROM {db}.t WHERE id > ? ORDER BY s, id LIMIT ?",
            false,
        ),
    ];
    for in_txn in [false, true] {
        if in_txn {
            gw.query_drop("BEGIN").await.unwrap();
            plain.query_drop("BEGIN").await.unwrap();
        }
        for (sql, prepared) in shapes {
            let gw_stmt = gw.prep(sql.replace("{db}", "shop")).await.unwrap();
            let plain_stmt = plain.prep(sql.replace("{db}", "plain")).await.unwrap();
            let before = executes(&c).await;
            for (lo, hi) in [(1i64, 60i64), (5, 17), (40, 45), (30, 31)] {
                let got: Vec<Row> = gw.exec(&gw_stmt, (lo, hi)).await.unwrap();
                let want: Vec<Row> = plain.exec(&plain_stmt, (lo, hi)).await.unwrap();
                let cols = |rows: &[Row]| -> Vec<_> {
                    rows.first()
                        .map(|r| {
                            r.columns_ref()
                                .iter()
                                .map(|c| (c.name_str().into_owned(), c.column_type()))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                assert_eq!(cols(&got), cols(&want), "{sql} {lo}..{hi}");
                let values = |rows: Vec<Row>| -> Vec<Vec<Value>> {
                    rows.into_iter().map(Row::unwrap).collect()
                };
                assert_eq!(values(got), values(want), "{sql} {lo}..{hi}, txn {in_txn}");
            }
            let after = executes(&c).await;
            // The plain reference is set1's primary: its 4 executes count there.
            let own: Vec<u64> = c
                .set_names()
                .iter()
                .zip(before.iter().zip(&after))
                .map(|(set, (b, a))| a - b - if set == "set1" { 4 } else { 0 })
                .collect();
            for n in &own {
                if prepared {
                    assert!(
                        *n >= 4,
                        "{sql}: every set executed it prepared (txn {in_txn}): {own:?}"
                    );
                } else {
                    assert_eq!(*n, 0, "{sql}: as text (txn {in_txn}): {own:?}");
                }
            }
        }
        if in_txn {
            gw.query_drop("COMMIT").await.unwrap();
            plain.query_drop("COMMIT").await.unwrap();
        }
    }
    // A negative value is spliced as two tokens: the text path, same answer.
    let sql = "SELECT SUM(u), COUNT(*) FROM {db}.t WHERE i > ?";
    let got: Vec<Row> = gw
        .exec(sql.replace("{db}", "shop"), (-30i64,))
        .await
        .unwrap();
    let want: Vec<Row> = plain
        .exec(sql.replace("{db}", "plain"), (-30i64,))
        .await
        .unwrap();
    assert_eq!(
        got.into_iter().map(Row::unwrap).collect::<Vec<_>>(),
        want.into_iter().map(Row::unwrap).collect::<Vec<_>>()
    );
}
