//! `EXPLAIN` through the gateway is MariaDB's own EXPLAIN from the set(s) that
//! would run the statement, asked with the text the gateway would send them; and
//! `EXPLAIN SETWISE` shows the gateway's plan (each set's text, then the merge
//! steps) without running it.

use mysql_async::prelude::*;
use mysql_async::Row;
use setwise_tests::Cluster;
use std::time::Duration;

/// Two sets and the gateway; `shop.t` sharded by `id` (ids 1..=40, `v` = id % 7)
/// with an index on `v`, and `shop.c` a single table on the home set.
async fn shop() -> (Cluster, mysql_async::Conn) {
    let c = Cluster::two_sets_with_gateway().await;
    let mut conn = c.proxy_conn().await.unwrap();
    for sql in [
        "CREATE DATABASE shop",
        "CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT, KEY kv (v)) shardkey=id",
        "CREATE TABLE shop.c (k INT PRIMARY KEY, name VARCHAR(20))",
        "INSERT INTO shop.c VALUES (1, 'one'), (2, 'two')",
    ] {
        conn.query_drop(sql).await.unwrap();
    }
    let values: Vec<String> = (1..=40).map(|i| format!("({i}, {})", i % 7)).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    (c, conn)
}

fn names(rows: &[Row]) -> Vec<String> {
    rows.first()
        .map(|r| {
            r.columns_ref()
                .iter()
                .map(|c| c.name_str().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Rows of `EXPLAIN SETWISE` as (on, action, detail).
async fn plan(conn: &mut mysql_async::Conn, sql: &str) -> Vec<(String, String, String)> {
    let rows: Vec<(u64, String, String, String)> =
        conn.query(format!("EXPLAIN SETWISE {sql}")).await.unwrap();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.0, i as u64 + 1, "steps are numbered");
    }
    rows.into_iter().map(|(_, on, a, d)| (on, a, d)).collect()
}

#[tokio::test]
async fn explain_is_mariadbs_from_the_sets_that_run_the_statement() {
    let (c, mut conn) = shop().await;
    // A point read: one set's EXPLAIN, exactly as that set gives it.
    let via: Vec<Row> = conn
        .query("EXPLAIN SELECT * FROM shop.t WHERE id = 7")
        .await
        .unwrap();
    let map = c.shard_map("shop").await;
    let slot = topo::slot::slot_of_int(7, map.slots);
    let set = map.set_of_slot(slot).unwrap().to_string();
    let mut direct_conn = c.primary(&set).conn().await.unwrap();
    let direct: Vec<Row> = direct_conn
        .query("EXPLAIN SELECT * FROM shop.t WHERE id = 7")
        .await
        .unwrap();
    assert_eq!(names(&via), names(&direct));
    assert_eq!(names(&via)[0], "id");
    assert_eq!(via.len(), 1);
    let key = |r: &Row| r.get::<Option<String>, _>("key").flatten();
    assert_eq!(key(&via[0]), Some("PRIMARY".into()));
    assert_eq!(key(&via[0]), key(&direct[0]));

    // A scatter: each set's EXPLAIN, one after another.
    let via: Vec<Row> = conn
        .query("EXPLAIN SELECT id FROM shop.t WHERE v = 3 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(via.len(), 2, "one row per set");
    assert!(via
        .iter()
        .all(|r| r.get::<Option<String>, _>("table").flatten().as_deref() == Some("t")));
    let json: Vec<String> = conn
        .query("EXPLAIN FORMAT=JSON SELECT id FROM shop.t WHERE v = 3")
        .await
        .unwrap();
    assert_eq!(json.len(), 2);
    assert!(
        json.iter().all(|j| j.contains("\"query_block\"")),
        "{json:?}"
    );

    // DESCRIBE / DESC of a statement is an EXPLAIN too; of a table, its columns.
    let via: Vec<Row> = conn
        .query("DESCRIBE SELECT name FROM shop.c WHERE k = 1")
        .await
        .unwrap();
    assert_eq!(via.len(), 1);
    assert_eq!(names(&via)[1], "select_type");
    let cols: Vec<Row> = conn.query("DESCRIBE shop.t").await.unwrap();
    assert_eq!(names(&cols)[0], "Field");
    assert_eq!(cols.len(), 2);

    // Explained writes do not write.
    let via: Vec<Row> = conn
        .query("EXPLAIN UPDATE shop.t SET v = v + 1 WHERE v = 3")
        .await
        .unwrap();
    assert_eq!(via.len(), 2);
    let _: Vec<Row> = conn
        .query("EXPLAIN DELETE FROM shop.t WHERE id = 5")
        .await
        .unwrap();
    let (n, sum): (u64, u64) = conn
        .query_first("SELECT COUNT(*), SUM(v) FROM shop.t")
        .await
        .unwrap()
        .unwrap();
    let want: u64 = (1..=40u64).map(|i| i % 7).sum();
    assert_eq!((n, sum), (40, want));

    // Errors of the explained statement are the planner's or MariaDB's.
    let e = conn
        .query_drop("EXPLAIN SELECT * FROM shop.nope")
        .await
        .unwrap_err();
    let (code, _) = setwise_tests::sql::server_error(&e).expect("a server error");
    assert_eq!(code, 1146, "{e}");
}

#[tokio::test]
async fn explain_setwise_shows_the_gateways_plan() {
    let (c, mut conn) = shop().await;
    // A point read: one set, passed through.
    let p = plan(&mut conn, "SELECT * FROM shop.t WHERE id = 7").await;
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].1, "send");
    assert_eq!(p[0].2, "SELECT * FROM shop.t WHERE id = 7");
    assert_eq!(
        p[1],
        (
            "gateway".into(),
            "pass through".into(),
            "the set's answer as it is".into()
        )
    );

    // Order and limit across sets: each set sends OFFSET + LIMIT rows, the
    // gateway merges and skips.
    let p = plan(
        &mut conn,
        "SELECT id, v FROM shop.t ORDER BY v DESC, id LIMIT 3, 2",
    )
    .await;
    let on: Vec<&str> = p.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(on[..3], ["set1", "set2", "gateway"], "{p:?}");
    assert!(p[0].2.ends_with("ORDER BY v DESC, id LIMIT 5"), "{p:?}");
    assert_eq!(p[2].1, "merge sort");
    assert!(p[2].2.starts_with("column 2 "), "{p:?}");
    assert!(p[2].2.contains(" DESC, column 1 "), "{p:?}");
    assert_eq!(
        p[3],
        (
            "gateway".into(),
            "limit".into(),
            "skip 3, then 2 rows".into()
        )
    );

    // A grouped count: each set's counts summed per group.
    let p = plan(&mut conn, "SELECT v, COUNT(*) FROM shop.t GROUP BY v").await;
    assert!(
        p.iter()
            .any(|s| s.1 == "group" && s.2.contains("column 2 = sum of counts")),
        "{p:?}"
    );

    // A multi-row insert split over the sets is one two-phase commit; nothing runs.
    let map = c.shard_map("shop").await;
    let set_of = |id: i128| {
        map.set_of_slot(topo::slot::slot_of_int(id, map.slots))
            .map(str::to_string)
    };
    let a = (101..300)
        .find(|i| set_of(*i).as_deref() == Some("set1"))
        .unwrap();
    let b = (101..300)
        .find(|i| set_of(*i).as_deref() == Some("set2"))
        .unwrap();
    let p = plan(
        &mut conn,
        &format!("INSERT INTO shop.t VALUES ({a}, 1), ({b}, 2)"),
    )
    .await;
    let actions: Vec<&str> = p.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(
        actions,
        ["send", "send", "sum affected", "two-phase commit"],
        "{p:?}"
    );
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM shop.t WHERE id > 100")
        .await
        .unwrap();
    assert_eq!(n, Some(0));
    // Inside a transaction the commit is the transaction's.
    conn.query_drop("BEGIN").await.unwrap();
    let p = plan(&mut conn, "UPDATE shop.t SET v = 0").await;
    assert_eq!(p.last().unwrap().1, "sum affected", "{p:?}");
    conn.query_drop("ROLLBACK").await.unwrap();

    // Prepared (binary protocol), placeholders anywhere: the plan of the values sent.
    let rows: Vec<(u64, String, String, String)> = conn
        .exec(
            "EXPLAIN SETWISE SELECT id FROM shop.t WHERE v = ? ORDER BY id LIMIT ?",
            (3, 2),
        )
        .await
        .unwrap();
    assert_eq!(rows[0].3, rows[1].3, "the same text to both sets");
    assert!(rows[0].3.contains("WHERE v = 3"), "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.2 == "limit" && r.3 == "skip 0, then 2 rows"),
        "{rows:?}"
    );
    let rows: Vec<Row> = conn
        .exec("EXPLAIN SELECT id FROM shop.t WHERE id = ?", (7,))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);

    // UPDATE/DELETE ... LIMIT across sets: chosen, then written by key.
    let p = plan(&mut conn, "DELETE FROM shop.t ORDER BY v DESC, id LIMIT 3").await;
    let actions: Vec<&str> = p.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(
        actions,
        ["choose rows", "merge sort", "write by key"],
        "{p:?}"
    );

    // A join the gateway runs itself (a sharded table with a single one): its
    // operator and each side's query.
    let p = plan(
        &mut conn,
        "SELECT t.id, c.name FROM shop.t t JOIN shop.c c ON c.k = t.v WHERE t.id < 10",
    )
    .await;
    assert!(p.iter().all(|s| s.0 == "gateway"), "{p:?}");
    assert!(
        p[0].1.ends_with("join INNER on t.v = c.k") || p[0].1.contains(" join INNER on "),
        "{p:?}"
    );
    assert!(p.iter().any(|s| s.2.contains("FROM `shop`.`c`")), "{p:?}");
    assert!(p.iter().any(|s| s.2.contains("FROM `shop`.`t`")), "{p:?}");
    // MariaDB's EXPLAIN of each side's query where it runs: shop.t on both
    // sets, shop.c on its home set.
    let rows: Vec<Row> = conn
        .query("EXPLAIN SELECT t.id, c.name FROM shop.t t JOIN shop.c c ON c.k = t.v")
        .await
        .unwrap();
    let tables: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get::<Option<String>, _>("table").flatten())
        .collect();
    assert_eq!(tables, ["t", "t", "c"], "{rows:?}");

    // What the gateway refuses is refused here too, with the same error.
    let e = conn
        .query_drop("EXPLAIN SETWISE SELECT JSON_OBJECTAGG(id, v) FROM shop.t")
        .await
        .unwrap_err();
    let (code, _) = setwise_tests::sql::server_error(&e).expect("a server error");
    assert_eq!(code, 1235, "{e}");
}

/// While slots move, `EXPLAIN SETWISE` shows the text each set gets: on the set
/// holding rows of slots it does not own (here the move's target, in state
/// `copying`), the orphan filter `NOT IFNULL(<slot of the key> BETWEEN ..., 0)`
/// in each query block reading the table, and a join's side query as sent there;
/// the other set's text unchanged; no filter once the move's fence is gone.
#[tokio::test]
async fn explain_setwise_shows_the_orphan_filter_during_a_move() {
    use topo::moves::{FenceSource, FenceState, MoveFence};
    let (c, mut conn) = shop().await;
    let map = c.shard_map("shop").await;
    let (source, target, span) = setwise_tests::placement::half_of_first_range(&map);
    let fence = MoveFence {
        id: "m1".into(),
        db: "shop".into(),
        to: target.clone(),
        sources: vec![FenceSource {
            set: source.clone(),
            ranges: vec![span],
        }],
        broadcast: false,
        state: FenceState::Copying,
    };
    let key = c.topo().keys().fence(&fence.id);
    c.topo().put(&key, &fence).await.unwrap();
    let sql = "SELECT COUNT(*) FROM shop.t WHERE v > 2";
    let cond = format!("BETWEEN {} AND {}", span.start, span.end - 1);
    let filtered = |p: &[(String, String, String)], set: &str| {
        p.iter()
            .find(|s| s.0 == set && s.1 == "send")
            .map(|s| s.2.clone())
            .unwrap_or_default()
    };
    setwise_tests::wait_until(
        "the gateway to see the fence",
        Duration::from_secs(15),
        || {
            let c = &c;
            let target = target.clone();
            async move {
                let mut k = c.proxy_conn().await?;
                let rows: Vec<(u64, String, String, String)> =
                    k.query(format!("EXPLAIN SETWISE {sql}")).await?;
                Ok(rows.iter().any(|r| r.1 == target && r.3 != sql))
            }
        },
    )
    .await
    .unwrap();
    let p = plan(&mut conn, sql).await;
    let on_target = filtered(&p, &target);
    assert!(
        on_target.contains("NOT IFNULL(") && on_target.contains(&cond),
        "{p:?}"
    );
    assert!(
        on_target.replace(' ', "").ends_with("AND(v>2)"),
        "{on_target}"
    );
    assert_eq!(filtered(&p, &source), sql, "the source owns its rows");
    // The text shown is the one that runs: the target's copy never counts.
    let n: Option<u64> = conn.query_first(sql).await.unwrap();
    assert_eq!(n, Some((1..=40).filter(|i| i % 7 > 2).count() as u64));

    // Each query block reading the table gets its own filter; a subquery the
    // gateway runs first shows its query as the target gets it; a write too.
    let p = plan(
        &mut conn,
        "SELECT v, COUNT(*) FROM (SELECT v FROM shop.t WHERE id < 30) d \
         WHERE v IN (SELECT v FROM shop.t WHERE id > 3) GROUP BY v",
    )
    .await;
    assert!(
        filtered(&p, &target).matches("NOT IFNULL(").count() >= 1,
        "{p:?}"
    );
    let p = plan(
        &mut conn,
        "SELECT id FROM shop.t WHERE v IN (SELECT v FROM shop.t WHERE id < 5)",
    )
    .await;
    assert!(filtered(&p, &target).contains("NOT IFNULL("), "{p:?}");
    let p = plan(&mut conn, "UPDATE shop.t SET v = v + 1 WHERE v = 3").await;
    assert!(filtered(&p, &target).contains("NOT IFNULL("), "{p:?}");
    // A join the gateway runs (not on the shard key): each side's query as the
    // target gets it.
    let p = plan(
        &mut conn,
        "SELECT a.id, b.id FROM shop.t a JOIN shop.t b ON a.v = b.id WHERE a.id < 10",
    )
    .await;
    assert!(
        p.iter()
            .any(|s| s.0 == target && s.1 == "send" && s.2.contains("NOT IFNULL(")),
        "{p:?}"
    );

    c.topo().delete(&key).await.unwrap();
    setwise_tests::wait_until(
        "the gateway to drop the fence",
        Duration::from_secs(15),
        || {
            let c = &c;
            async move {
                let mut k = c.proxy_conn().await?;
                let rows: Vec<(u64, String, String, String)> =
                    k.query(format!("EXPLAIN SETWISE {sql}")).await?;
                Ok(rows.iter().filter(|r| r.2 == "send").all(|r| r.3 == sql))
            }
        },
    )
    .await
    .unwrap();
}
