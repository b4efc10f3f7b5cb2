//! The application's own XA transactions through the gateway, over rows of both
//! sets, answer as one MariaDB does: the same script of `XA START / END / PREPARE
//! / COMMIT / ROLLBACK / RECOVER` and statements, from two sessions, gives the same
//! outcome (OK or the same error code) at every step and the same rows on a plain
//! MariaDB and through the gateway. A prepared transaction outlives its session
//! and its gateway.

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;

/// Two sessions' statements; `{t}` is the table.
const SCRIPT: &[(usize, &str)] = &[
    (0, "XA START 'a'"),
    (0, "INSERT INTO {t} VALUES (1, 'a'), (12, 'a'), (23, 'a'), (34, 'a'), (45, 'a'), (56, 'a'), (67, 'a'), (78, 'a')"),
    (0, "BEGIN"),
    (0, "COMMIT"),
    (0, "XA START 'b'"),
    (0, "XA END 'b'"),
    (0, "XA PREPARE 'a'"),
    (0, "XA COMMIT 'a'"),
    (0, "CREATE DATABASE nope_db"),
    (0, "XA END 'a'"),
    (0, "INSERT INTO {t} VALUES (89, 'a')"),
    (0, "XA END 'a'"),
    (0, "XA COMMIT 'a'"),
    (0, "XA START 'c'"),
    (0, "XA PREPARE 'a'"),
    (0, "XA RECOVER"),
    (1, "XA START 'a'"),
    (1, "XA COMMIT 'zz'"),
    (0, "XA COMMIT 'zz'"),
    (0, "BEGIN"),
    (0, "XA COMMIT 'a' ONE PHASE"),
    (0, "XA COMMIT 'a'"),
    (0, "XA COMMIT 'a'"),
    (0, "SELECT COUNT(*) FROM {t}"),
    // Another format and branch qualifier; finished by the other session.
    (0, "XA BEGIN 'g1', 'b1', 7"),
    (0, "UPDATE {t} SET v = 'g' WHERE id IN (12, 23, 34, 45, 56)"),
    (0, "XA END 'g1', 'b1', 7"),
    (0, "XA PREPARE 'g1', 'b1', 7"),
    (0, "XA RECOVER"),
    (1, "XA ROLLBACK 'g1', 'b1', 7"),
    (1, "XA RECOVER"),
    (0, "XA ROLLBACK 'g1', 'b1', 7"),
    // One phase from the idle state; rollback from idle.
    (0, "XA START X'0102', 'q'"),
    (0, "DELETE FROM {t} WHERE id IN (1, 78)"),
    (0, "XA END X'0102', 'q'"),
    (0, "XA COMMIT X'0102', 'q' ONE PHASE"),
    (0, "XA START 'k'"),
    (0, "UPDATE {t} SET v = 'k'"),
    (0, "XA ROLLBACK 'k'"),
    (0, "XA END 'k'"),
    (0, "XA ROLLBACK 'k'"),
    (0, "XA ROLLBACK 'k'"),
    (0, "XA END 'k'"),
    (0, "XA PREPARE 'k'"),
    (0, "SELECT id, v FROM {t} ORDER BY id"),
];

/// `ok <rows>` or `err <code>` for each step.
async fn run(conns: &mut [Conn], t: &str) -> Vec<String> {
    let mut outcomes = Vec::new();
    for (who, sql) in SCRIPT {
        let sql = sql.replace("{t}", t);
        let r: Result<Vec<mysql_async::Row>, _> = conns[*who].query(&sql).await;
        outcomes.push(match r {
            Ok(rows) => {
                let rows: Vec<String> = rows
                    .into_iter()
                    .map(|r| {
                        let vals: Vec<String> =
                            r.unwrap().into_iter().map(|v| format!("{v:?}")).collect();
                        vals.join("|")
                    })
                    .collect();
                format!("{sql}: ok {rows:?}")
            }
            Err(e) => format!("{sql}: err {:?}", server_error(&e)),
        });
    }
    outcomes
}

#[tokio::test]
async fn xa_statements_answer_as_one_mariadb() {
    let c = Cluster::two_sets_with_gateway().await;
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop("CREATE DATABASE shop").await.unwrap();
    g.query_drop("CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(8)) shardkey=id")
        .await
        .unwrap();
    // The rows of the script land on both sets.
    let map = c.shard_map("shop").await;
    let sets: std::collections::BTreeSet<&str> = [1, 12, 23, 34, 45, 56, 67, 78]
        .into_iter()
        .map(|i| {
            map.set_of_slot(topo::slot::slot_of_int(i, map.slots))
                .unwrap()
        })
        .collect();
    assert_eq!(sets.len(), 2, "the script's rows span both sets");
    // The reference: a plain MariaDB (set1's primary, its own database).
    let plain = c.primary("set1");
    plain
        .exec("CREATE DATABASE plain; CREATE TABLE plain.t (id INT PRIMARY KEY, v VARCHAR(8))")
        .await
        .unwrap();
    let mut reference = vec![plain.conn().await.unwrap(), plain.conn().await.unwrap()];
    let want = run(&mut reference, "plain.t").await;
    let mut gateway = vec![c.proxy_conn().await.unwrap(), c.proxy_conn().await.unwrap()];
    let got = run(&mut gateway, "shop.t").await;
    let want: Vec<String> = want.iter().map(|s| s.replace("plain.t", "T")).collect();
    let got: Vec<String> = got.iter().map(|s| s.replace("shop.t", "T")).collect();
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(g, w, "gateway vs plain MariaDB");
    }
    assert_eq!(got.len(), want.len());
}

#[tokio::test]
async fn a_prepared_transaction_outlives_its_session_and_gateway() {
    let mut c = Cluster::two_sets_with_gateway().await;
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop("CREATE DATABASE shop").await.unwrap();
    g.query_drop("CREATE TABLE shop.t (id INT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 0)")).collect();
    g.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    for (xid, v) in [("'keep'", 1), ("'drop'", 2)] {
        let mut s = c.proxy_conn().await.unwrap();
        s.query_drop(format!("XA START {xid}")).await.unwrap();
        // Row by row by primary key (a scan would lock the other's rows too).
        for id in (1..=20).filter(|i| i % 2 == v - 1) {
            s.query_drop(format!("UPDATE shop.t SET v = {v} WHERE id = {id}"))
                .await
                .unwrap();
        }
        s.query_drop(format!("XA END {xid}")).await.unwrap();
        s.query_drop(format!("XA PREPARE {xid}")).await.unwrap();
        s.disconnect().await.unwrap();
    }
    // The gateway dies and comes back; recovery does not touch the branches.
    drop(g);
    c.kill_proxy();
    c.start_proxy().await.unwrap();
    let mut g = c.proxy_conn().await.unwrap();
    let listed: Vec<(i64, i64, i64, Vec<u8>)> = g.query("XA RECOVER").await.unwrap();
    let mut names: Vec<Vec<u8>> = listed.into_iter().map(|r| r.3).collect();
    names.sort();
    assert_eq!(names, [b"drop".to_vec(), b"keep".to_vec()]);
    // Prepared rows are locked: a write to them waits; reads see the old values.
    let n: Option<i64> = g
        .query_first("SELECT COUNT(*) FROM shop.t WHERE v <> 0")
        .await
        .unwrap();
    assert_eq!(n, Some(0));
    g.query_drop("XA COMMIT 'keep'").await.unwrap();
    g.query_drop("XA ROLLBACK 'drop'").await.unwrap();
    let rows: Vec<(i64, i64)> = g
        .query("SELECT id, v FROM shop.t ORDER BY id")
        .await
        .unwrap();
    let want: Vec<(i64, i64)> = (1..=20)
        .map(|i| (i, if i % 2 == 0 { 1 } else { 0 }))
        .collect();
    assert_eq!(rows, want);
    let left: Vec<mysql_async::Row> = g.query("XA RECOVER").await.unwrap();
    assert!(left.is_empty());
    // Nothing stays prepared on the sets.
    for set in ["set1", "set2"] {
        let n = c.primary(set).query("XA RECOVER").await.unwrap();
        assert!(n.is_empty(), "{set}: {n:?}");
    }
    let e = g.query_drop("XA COMMIT 'keep'").await.unwrap_err();
    assert_eq!(server_error(&e).map(|e| e.0), Some(1397));
}
