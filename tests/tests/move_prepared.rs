//! Prepared statements across a real slot move (scheduler, binlog catch-up, hold,
//! flip, cleanup): a database whose rows all live on set1 has every slot moved to
//! set2. SQL-level statements prepared before the move (`PREPARE s FROM ...`,
//! pinned to set1's connection) and executed after it with user variables as
//! parameters answer from set2, the new owner — reads, a `LIMIT ?`, a write, a
//! statement assigning a user variable — as do statements prepared over the
//! binary protocol (COM_STMT_PREPARE) before the move. The rows are gone from
//! set1 (the cleanup deleted them), so any answer from there would be empty.
//! The database's views (sharded, broadcast, a view over a view) are made on set2
//! by the move and answer there.

use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;
use topo::{MovePhase, MoveRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_prepared_before_a_move_answer_from_the_new_owner() {
    let c = Cluster::builder()
        .sets(2)
        // Strong semi-sync (the default) needs a replica to acknowledge writes.
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .expect("start 2 sets");
    c.create_db("solo", &["set1"]).await.unwrap();
    let mut conn = c.proxy_conn_in("solo").await.unwrap();
    conn.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=40).map(|i| format!("({i}, {})", i * 10)).collect();
    conn.query_drop(format!("INSERT INTO t (id, v) VALUES {}", values.join(",")))
        .await
        .unwrap();
    // Views move with the database: created on set2, which is new to it.
    for ddl in [
        "CREATE VIEW vt AS SELECT id, v FROM t WHERE v > 100",
        "CREATE TABLE b (k INT PRIMARY KEY, name VARCHAR(10)) shardkey=noshardkey_allset",
        "INSERT INTO b VALUES (1, 'one'), (2, 'two')",
        "CREATE VIEW vb AS SELECT k, UPPER(name) AS n FROM b",
        "CREATE VIEW vvt AS SELECT id FROM vt WHERE id > 30",
    ] {
        conn.query_drop(ddl).await.unwrap();
    }
    for p in [
        "PREPARE c FROM 'SELECT COUNT(*), SUM(v) FROM t'",
        "PREPARE g FROM 'SELECT id, v FROM t WHERE id = ?'",
        "PREPARE r FROM 'SELECT id FROM t WHERE v >= ? ORDER BY id LIMIT ?'",
        "PREPARE u FROM 'UPDATE t SET v = v + ? WHERE id = ?'",
        "PREPARE a FROM 'SELECT @next := id + 1 FROM t WHERE id = ?'",
        "PREPARE q FROM 'SELECT ? + v FROM t WHERE id = 1'",
    ] {
        conn.query_drop(p).await.unwrap();
    }
    // The schema is made before the control plane starts (no DDL task to wait for).
    let cp = c.start_control_plane(1).await.unwrap();
    let bin = conn.prep("SELECT v FROM t WHERE id = ?").await.unwrap();
    conn.query_drop("SET @k = 7").await.unwrap();
    let row: Option<(i64, i64)> = conn.query_first("EXECUTE g USING @k").await.unwrap();
    assert_eq!(row, Some((7, 70)));
    // Assigned on set1's connection by a pinned statement: the session carries it.
    let _: Vec<mysql_async::Row> = conn.query("EXECUTE a USING @k").await.unwrap();

    let slots = c.shard_map("solo").await.slots;
    let rec = MoveRecord::request("solo", 0, slots, "set2", "test", now_ms());
    let id = rec.id.clone();
    c.topo()
        .create(&c.topo().keys().move_of(&id), &rec)
        .await
        .unwrap();
    let (t, mid) = (c.topo().clone(), id.clone());
    let finished = setwise_tests::wait_until("the move finishes", Duration::from_secs(120), || {
        let (t, mid) = (t.clone(), mid.clone());
        async move { Ok(t.get_move(&mid).await?.unwrap().value.phase.is_finished()) }
    })
    .await;
    if let Err(e) = finished {
        let m = c.topo().get_move(&id).await.unwrap().unwrap().value;
        panic!("{e:#}: {m:?}\n{}", cp.log_tails(30));
    }
    let m = c.topo().get_move(&id).await.unwrap().unwrap().value;
    assert_eq!(m.phase, MovePhase::Done, "{m:?}\n{}", cp.log_tails(30));
    assert_eq!(c.shard_map("solo").await.sets(), vec!["set2".to_string()]);
    let left = c
        .primary("set1")
        .query("SELECT COUNT(*) FROM solo.t")
        .await
        .unwrap();
    assert_eq!(left[0][0].as_deref(), Some("0"), "the cleanup emptied set1");
    setwise_tests::wait_until(
        "the gateway to route solo to set2",
        Duration::from_secs(30),
        || async {
            let mut k = c.proxy_conn().await?;
            let rows: Vec<mysql_async::Row> = k
                .query("EXPLAIN SETWISE SELECT * FROM solo.t WHERE id = 3")
                .await?;
            Ok(rows
                .iter()
                .any(|r| r.get::<String, _>(1).as_deref() == Some("set2")))
        },
    )
    .await
    .unwrap();

    let views = c
        .primary("set2")
        .query(
            "SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = 'solo'",
        )
        .await
        .unwrap();
    assert_eq!(views[0][0].as_deref(), Some("vb,vt,vvt"), "{m:?}");
    let n: Option<i64> = conn.query_first("SELECT COUNT(*) FROM vt").await.unwrap();
    assert_eq!(n, Some(30));
    let n: Option<i64> = conn.query_first("SELECT COUNT(*) FROM vvt").await.unwrap();
    assert_eq!(n, Some(10));
    let rows: Vec<(i64, String)> = conn.query("SELECT k, n FROM vb ORDER BY k").await.unwrap();
    assert_eq!(rows, vec![(1, "ONE".to_string()), (2, "TWO".to_string())]);
    let n: Option<(i64, i64)> = conn.query_first("EXECUTE c").await.unwrap();
    assert_eq!(n, Some((40, (1..=40).map(|i| i * 10).sum())));
    let row: Option<(i64, i64)> = conn.query_first("EXECUTE g USING @k").await.unwrap();
    assert_eq!(row, Some((7, 70)));
    let row: Option<(i64, i64)> = conn.query_first("EXECUTE g USING @next").await.unwrap();
    assert_eq!(row, Some((8, 80)), "a variable a pinned statement assigned");
    conn.query_drop("SET @k = 8, @from = 300, @n = 3, @d = 1")
        .await
        .unwrap();
    let ids: Vec<i64> = conn.query("EXECUTE r USING @from, @n").await.unwrap();
    assert_eq!(ids, vec![30, 31, 32]);
    conn.query_drop("EXECUTE u USING @d, @k").await.unwrap();
    assert_eq!(conn.affected_rows(), 1);
    let on_set2 = c
        .primary("set2")
        .query("SELECT v FROM solo.t WHERE id = 8")
        .await
        .unwrap();
    assert_eq!(
        on_set2[0][0].as_deref(),
        Some("81"),
        "written on the new owner"
    );
    let _: Vec<mysql_async::Row> = conn.query("EXECUTE a USING @k").await.unwrap();
    let next: Option<i64> = conn.query_first("SELECT @next").await.unwrap();
    assert_eq!(next, Some(9));
    let v: Option<i64> = conn.exec_first(&bin, (8,)).await.unwrap();
    assert_eq!(v, Some(81), "binary protocol");
    // A `?` in the select list cannot be held by the gateway (its column
    // definition): 1615, and a new PREPARE follows the tables to set2.
    let err = conn.query_drop("EXECUTE q USING @k").await.unwrap_err();
    assert_eq!(server_error(&err), Some((1615, "HY000".into())), "{err}");
    conn.query_drop("PREPARE q FROM 'SELECT ? + v FROM t WHERE id = 1'")
        .await
        .unwrap();
    let v: Option<i64> = conn.query_first("EXECUTE q USING @k").await.unwrap();
    assert_eq!(v, Some(18));
    conn.query_drop("DEALLOCATE PREPARE g").await.unwrap();
    let err = conn.query_drop("EXECUTE g USING @k").await.unwrap_err();
    assert_eq!(server_error(&err).map(|e| e.0), Some(1243), "{err}");
}

fn now_ms() -> u64 {
    setwise_tests::control::now_ms()
}
