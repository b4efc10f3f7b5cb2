//! The gateway's side of a slot move's hold (proxy/src/moving/), against real
//! MariaDB, etcd and the gateway; the test plays the scheduler by writing the
//! move's fence (`moving/<id>`) and the flip itself:
//! * the gateway registers in `gateways/`;
//! * with a `holding` fence on slot S: a write to a key of S waits, a write to
//!   another slot of the same source set and a read of S run at once; the
//!   gateway acknowledges in `move-acks/`; after the flip (new shard map and
//!   fence `flipped` in one etcd transaction) the waiting write runs on the new
//!   owner;
//! * an open transaction that wrote a key of S gets 1213 (40001) at its next
//!   statement or COMMIT and its row is nowhere; one that wrote elsewhere commits;
//! * a hold longer than `[moves] hold_wait_ms` fails the write with 1205;
//! * schema changes of a database with a fence wait, then fail with 1205;
//! * a gateway that lost its etcd registration refuses writes to a database
//!   with a fence (1205) and ends its open transactions there (1213).

use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::shop::t_slot as slot;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;
use topo::{FenceSource, FenceState, MoveFence, SlotSpan};

const MOVE: &str = "m1700000000000";

/// Two sets, the gateway with `extra` config, and `shop.t` sharded by `id`.
async fn shop(extra: &str) -> (Cluster, mysql_async::Conn) {
    let mut c = Cluster::two_sets_without_gateway().await;
    c.set_proxy_extra(extra);
    c.start_proxy().await.expect("start the gateway");
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    (c, conn)
}

/// Two keys owned by `set1`, on different slots: the first's slot moves.
async fn keys(c: &Cluster) -> (i64, i64) {
    let map = c.shard_map("shop").await;
    let on_set1: Vec<i64> = (1..10_000)
        .filter(|k| map.set_of_slot(slot(*k)) == Some("set1"))
        .take(50)
        .collect();
    let inside = on_set1[0];
    let outside = *on_set1.iter().find(|k| slot(**k) != slot(inside)).unwrap();
    (inside, outside)
}

fn fence(slot: u32, state: FenceState) -> MoveFence {
    MoveFence {
        id: MOVE.into(),
        db: "shop".into(),
        to: "set2".into(),
        sources: vec![FenceSource {
            set: "set1".into(),
            ranges: vec![SlotSpan {
                start: slot,
                end: slot + 1,
            }],
        }],
        broadcast: false,
        state,
    }
}

async fn put_fence(c: &Cluster, f: &MoveFence) {
    let t = c.topo();
    t.put(&t.keys().fence(&f.id), f).await.unwrap();
}

/// Waits until this gateway's acknowledgement of the hold is in etcd.
async fn wait_ack(c: &Cluster) -> topo::HoldAck {
    setwise_tests::wait_for(
        "the gateway's hold acknowledgement",
        Duration::from_secs(10),
        || async { Ok(c.topo().list_hold_acks(MOVE).await?.into_iter().next()) },
        |_| true,
    )
    .await
    .unwrap()
}

/// Rows with `id` on the primary of `set`.
async fn rows_on(c: &Cluster, set: &str, id: i64) -> usize {
    c.primary(set)
        .query(&format!("SELECT v FROM shop.t WHERE id = {id}"))
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_held_write_waits_and_runs_on_the_new_owner_after_the_flip() {
    let (c, mut conn) = shop("[moves]\nhold_wait_ms = 20000\n").await;
    // (a) The gateway registered.
    let gws = setwise_tests::wait_for(
        "the gateway's registration",
        Duration::from_secs(10),
        || async {
            let g = c.topo().list_gateways().await?;
            Ok((!g.is_empty()).then_some(g))
        },
        |_| true,
    )
    .await
    .unwrap();
    assert_eq!(gws.len(), 1, "{gws:?}");
    assert!(
        gws[0].addr.ends_with(&format!(":{}", c.proxy_port())),
        "{gws:?}"
    );

    let (inside, outside) = keys(&c).await;
    let s = slot(inside);
    let map = c.shard_map("shop").await;
    let on_set2 = (1..10_000)
        .find(|k| map.set_of_slot(slot(*k)) == Some("set2"))
        .unwrap();
    let outside2 = (outside + 1..100_000)
        .find(|k| map.set_of_slot(slot(*k)) == Some("set1") && slot(*k) != s)
        .unwrap();
    conn.query_drop(format!("INSERT INTO shop.t VALUES ({outside}, 0)"))
        .await
        .unwrap();
    put_fence(&c, &fence(s, FenceState::Holding)).await;
    let ack = wait_ack(&c).await;
    assert_eq!(ack.gateway, gws[0].id);
    assert!(ack.revision > 0);

    // A write to the held slot waits.
    let mut writer = c.proxy_conn().await.unwrap();
    let held = tokio::spawn(async move {
        let r = writer
            .query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 7)"))
            .await;
        (r, writer)
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !held.is_finished(),
        "a write to a held slot ran during the hold"
    );
    // Writes to other slots of the same source set and reads of the held slot
    // run at once.
    tokio::time::timeout(Duration::from_secs(3), async {
        conn.query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {outside}"))
            .await
            .unwrap();
        let r: Vec<i64> = conn
            .query(format!("SELECT id FROM shop.t WHERE id = {inside}"))
            .await
            .unwrap();
        assert!(r.is_empty());
        // An autocommit write over both sets (one distributed transaction).
        conn.query_drop(format!(
            "INSERT INTO shop.t VALUES ({outside2}, 1), ({on_set2}, 1)"
        ))
        .await
        .unwrap();
    })
    .await
    .expect("writes elsewhere and reads are not held");
    assert!(!held.is_finished());

    // The flip, as the mover makes it: the new map and the fence in one batch.
    let t = c.topo();
    let db = t.get_db("shop").await.unwrap().unwrap();
    let mut rec = db.value.clone();
    rec.shard_map = topo::map_after_move(&rec.shard_map, s, s + 1, "set2");
    let batch = topo::Batch::new()
        .unchanged(&t.keys().db("shop"), db.mod_revision)
        .put(&t.keys().db("shop"), &rec)
        .unwrap()
        .put(&t.keys().fence(MOVE), &fence(s, FenceState::Flipped))
        .unwrap();
    assert!(t.commit(batch).await.unwrap());
    let (r, _writer) = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held write runs after the flip")
        .unwrap();
    r.expect("the held write succeeds");
    assert_eq!(rows_on(&c, "set2", inside).await, 1, "on the new owner");
    assert_eq!(rows_on(&c, "set1", inside).await, 0, "not on the old owner");
    let v: Option<i64> = conn
        .query_first(format!("SELECT v FROM shop.t WHERE id = {inside}"))
        .await
        .unwrap();
    assert_eq!(v, Some(7));
}

#[tokio::test]
async fn a_hold_ends_transactions_that_wrote_its_slots() {
    let (c, mut conn) = shop("[moves]\nhold_wait_ms = 20000\n").await;
    let (inside, outside) = keys(&c).await;
    let s = slot(inside);
    let inside2 = (inside + 1..100_000).find(|k| slot(*k) == s).unwrap();
    put_fence(&c, &fence(s, FenceState::Copying)).await;
    // Give the gateway the copying fence (footprints are exact from then on).
    setwise_tests::wait_until(
        "the gateway to see the fence",
        Duration::from_secs(10),
        || async { Ok(c.topo().list_fences().await?.len() == 1) },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut a = c.proxy_conn().await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    let mut d = c.proxy_conn().await.unwrap();
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 1)"))
        .await
        .unwrap();
    d.query_drop("SET autocommit = 0").await.unwrap();
    d.query_drop(format!("INSERT INTO shop.t VALUES ({inside2}, 1)"))
        .await
        .unwrap();
    b.query_drop("BEGIN").await.unwrap();
    b.query_drop(format!("INSERT INTO shop.t VALUES ({outside}, 1)"))
        .await
        .unwrap();
    // An application's XA transaction.
    let inside3 = (inside2 + 1..200_000).find(|k| slot(*k) == s).unwrap();
    let mut x = c.proxy_conn().await.unwrap();
    x.query_drop("XA START 'x1'").await.unwrap();
    x.query_drop(format!("INSERT INTO shop.t VALUES ({inside3}, 1)"))
        .await
        .unwrap();
    x.query_drop("XA END 'x1'").await.unwrap();

    put_fence(&c, &fence(s, FenceState::Holding)).await;
    wait_ack(&c).await;

    // The transaction that wrote the held slot: its COMMIT is refused, retryably.
    let e = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1213, "40001".into())), "{e}");
    assert!(e.to_string().contains(MOVE), "{e}");
    // Its next statement (a read) ends the other one the same way.
    let e = d.query_drop("SELECT 1").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1213, "40001".into())), "{e}");
    let e = x.query_drop("XA PREPARE 'x1'").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1213, "40001".into())), "{e}");
    let one: Option<i64> = x.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    for id in [inside, inside2, inside3] {
        for set in ["set1", "set2"] {
            assert_eq!(rows_on(&c, set, id).await, 0, "{id} on {set}");
        }
    }
    // The sessions go on (a new transaction).
    let one: Option<i64> = a.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    // The transaction that wrote only another slot commits.
    b.query_drop("COMMIT").await.unwrap();
    assert_eq!(rows_on(&c, "set1", outside).await, 1);
    // Writes to the held slot in a transaction wait too (here: the fence goes
    // back to copying, as a released hold does, and the write runs).
    b.query_drop("BEGIN").await.unwrap();
    let held = tokio::spawn(async move {
        let r = b
            .query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 2)"))
            .await;
        (r, b)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!held.is_finished());
    put_fence(&c, &fence(s, FenceState::Copying)).await;
    let (r, mut b) = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("released")
        .unwrap();
    r.unwrap();
    b.query_drop("COMMIT").await.unwrap();
    assert_eq!(rows_on(&c, "set1", inside).await, 1);
    conn.query_drop("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn holds_and_moves_longer_than_the_waits_fail_with_1205() {
    let (c, mut conn) = shop("[moves]\nhold_wait_ms = 700\nddl_wait_ms = 700\n").await;
    let (inside, outside) = keys(&c).await;
    let s = slot(inside);
    put_fence(&c, &fence(s, FenceState::Holding)).await;
    wait_ack(&c).await;
    let started = std::time::Instant::now();
    let e = conn
        .query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 1)"))
        .await
        .unwrap_err();
    assert_eq!(server_error(&e), Some((1205, "HY000".into())), "{e}");
    assert!(e.to_string().contains(MOVE), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(650));
    // A scatter write (slots unknown) is held too.
    let e = conn
        .query_drop("UPDATE shop.t SET v = 2 WHERE v = 1")
        .await
        .unwrap_err();
    assert_eq!(server_error(&e), Some((1205, "HY000".into())), "{e}");
    // Prepared statements go through the same gate.
    let e = conn
        .exec_drop("UPDATE shop.t SET v = ? WHERE id = ?", (3, inside))
        .await
        .unwrap_err();
    assert_eq!(server_error(&e), Some((1205, "HY000".into())), "{e}");
    conn.exec_drop("INSERT INTO shop.t VALUES (?, ?)", (outside, 3))
        .await
        .unwrap();
    // And SQL-level PREPARE / EXECUTE.
    conn.query_drop("PREPARE s FROM 'UPDATE shop.t SET v = 4 WHERE id = ?'")
        .await
        .unwrap();
    conn.query_drop(format!("SET @k = {inside}")).await.unwrap();
    let e = conn.query_drop("EXECUTE s USING @k").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1205, "HY000".into())), "{e}");
    conn.query_drop(format!("SET @k = {outside}"))
        .await
        .unwrap();
    conn.query_drop("EXECUTE s USING @k").await.unwrap();
    // Schema changes of the database wait for the move, then fail.
    for ddl in [
        "ALTER TABLE shop.t ADD COLUMN w INT",
        "CREATE TABLE shop.n (id INT PRIMARY KEY) shardkey=id",
        "TRUNCATE TABLE shop.t",
    ] {
        let e = conn.query_drop(ddl).await.unwrap_err();
        assert_eq!(server_error(&e), Some((1205, "HY000".into())), "{ddl}: {e}");
        assert!(e.to_string().contains("setwise shard moves"), "{e}");
    }
    // Other databases are not concerned.
    conn.query_drop("CREATE DATABASE other").await.unwrap();
    conn.query_drop("CREATE TABLE other.t (id INT PRIMARY KEY) shardkey=id")
        .await
        .unwrap();
    // A schema change that waits runs once the move is over (its fence gone).
    let t = c.topo().clone();
    let gone = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        t.delete(&t.keys().fence(MOVE)).await.unwrap();
    });
    conn.query_drop("ALTER TABLE shop.t ADD COLUMN w INT")
        .await
        .unwrap();
    gone.await.unwrap();
    conn.query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 1, 1)"))
        .await
        .unwrap();
}

/// A gateway cut off from etcd loses its registration (the scheduler's holds no
/// longer wait for it): its writes to a database with a move under way fail
/// with 1205 instead of running unseen; other databases go on; once etcd is
/// back it registers again and the writes run.
#[tokio::test]
async fn a_gateway_without_its_registration_refuses_writes_to_moving_databases() {
    let (mut c, mut conn) = shop("[moves]\nhold_wait_ms = 1000\nlease_ttl_s = 2\n").await;
    conn.query_drop("CREATE DATABASE other").await.unwrap();
    conn.query_drop("CREATE TABLE other.t (id INT PRIMARY KEY) shardkey=id")
        .await
        .unwrap();
    let (inside, outside) = keys(&c).await;
    put_fence(&c, &fence(slot(inside), FenceState::Copying)).await;
    let write = format!("REPLACE INTO shop.t VALUES ({outside}, 0)");
    // Registered, and the fence in the gateway's own routing (not only in
    // etcd: under load its watch may lag, and once etcd is gone it would never
    // learn of the move): a read sent to the move's target gets the orphan filter.
    let read = "SELECT COUNT(*) FROM shop.t WHERE v > 2";
    setwise_tests::wait_until(
        "the gateway to register and see the fence",
        Duration::from_secs(10),
        || async {
            let gws = c.topo().list_gateways().await?.len();
            let mut k = c.proxy_conn().await?;
            let plan: Vec<(u64, String, String, String)> =
                k.query(format!("EXPLAIN SETWISE {read}")).await?;
            Ok(gws == 1 && plan.iter().any(|r| r.1 == "set2" && r.3 != read))
        },
    )
    .await
    .unwrap();
    conn.query_drop(&write).await.unwrap();
    // A transaction that wrote to the database, open when the registration goes.
    let mut open = c.proxy_conn().await.unwrap();
    open.query_drop("BEGIN").await.unwrap();
    open.query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 5)"))
        .await
        .unwrap();

    c.etcd_mut().kill();
    let mut conn2 = c.proxy_conn().await.unwrap();
    // Bounded: the lease (2 s) is no longer surely alive within about 2 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let refused = loop {
        match conn2.query_drop(&write).await {
            Err(e) => break e,
            Ok(()) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "writes to the moving database still run 10 s after etcd stopped"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(
        server_error(&refused),
        Some((1205, "HY000".into())),
        "{refused}"
    );
    assert!(refused.to_string().contains("registration"), "{refused}");
    // The open transaction was ended: a hold may flip without this gateway.
    let e = open.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1213, "40001".into())), "{e}");
    assert_eq!(rows_on(&c, "set1", inside).await, 0);
    // Reads, and writes to a database without a move, go on.
    conn2
        .query_drop("INSERT INTO other.t VALUES (1), (2), (3)")
        .await
        .unwrap();
    let n: Option<i64> = conn2
        .query_first("SELECT COUNT(*) FROM shop.t")
        .await
        .unwrap();
    assert_eq!(n, Some(1));

    c.etcd_mut().restart().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while let Err(e) = conn2.query_drop(&write).await {
        assert!(
            std::time::Instant::now() < deadline,
            "writes still refused 20 s after etcd came back: {e}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.topo().list_gateways().await.unwrap().len(), 1);
}

/// An SQL-level `PREPARE` over a database whose rows all live on one set is
/// pinned to that set; once a move flips some of its slots elsewhere, `EXECUTE`
/// is taken over by the gateway (as MariaDB re-prepares a statement whose tables
/// changed) and counts both sets — user variables as parameters included —
/// instead of counting one set's rows only; a new `PREPARE` of the same text
/// counts both sets too.
#[tokio::test]
async fn an_sql_prepared_statement_pinned_to_a_set_is_re_prepared_after_a_flip() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .start()
        .await
        .expect("start 2 sets");
    c.create_db("solo", &["set1"]).await.unwrap();
    let mut conn = c.proxy_conn_in("solo").await.unwrap();
    conn.query_drop("CREATE TABLE solo.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=40).map(|i| format!("({i}, {i})")).collect();
    conn.query_drop(format!(
        "INSERT INTO solo.t (id, v) VALUES {}",
        values.join(",")
    ))
    .await
    .unwrap();
    conn.query_drop("PREPARE s FROM 'SELECT COUNT(*) FROM solo.t'")
        .await
        .unwrap();
    let n: Option<i64> = conn.query_first("EXECUTE s").await.unwrap();
    assert_eq!(n, Some(40));
    conn.query_drop("PREPARE g FROM 'SELECT v FROM solo.t WHERE id = ?'")
        .await
        .unwrap();
    conn.query_drop("PREPARE r FROM 'SELECT id FROM solo.t WHERE v > ? ORDER BY id LIMIT ?'")
        .await
        .unwrap();

    // A move of the slots of half the keys to set2, as the mover makes it: the
    // rows copied, then the map flipped (no fence left: the cleanup is done).
    let map = c.shard_map("solo").await;
    let (lo, hi) = (0, map.slots / 2);
    let moving: Vec<i64> = (1..=40).filter(|k| slot(*k) < hi).collect();
    assert!(!moving.is_empty() && moving.len() < 40);
    c.primary("set2")
        .exec("CREATE DATABASE IF NOT EXISTS solo")
        .await
        .unwrap();
    c.primary("set2")
        .exec("CREATE TABLE IF NOT EXISTS solo.t (id BIGINT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    for k in &moving {
        c.primary("set2")
            .exec(&format!("INSERT INTO solo.t (id, v) VALUES ({k}, {k})"))
            .await
            .unwrap();
        c.primary("set1")
            .exec(&format!("DELETE FROM solo.t WHERE id = {k}"))
            .await
            .unwrap();
    }
    let t = c.topo();
    let mut rec = t.get_db("solo").await.unwrap().unwrap().value;
    rec.shard_map = topo::map_after_move(&rec.shard_map, lo, hi, "set2");
    t.put_db(&rec).await.unwrap();
    setwise_tests::retry(
        "the gateway to route solo over both sets",
        Duration::from_secs(30),
        || async {
            let mut conn = c.proxy_conn().await?;
            let n: Option<i64> = conn.query_first("SELECT COUNT(*) FROM solo.t").await?;
            anyhow::ensure!(n == Some(40), "{n:?}");
            anyhow::Ok(())
        },
    )
    .await
    .unwrap();

    let n: Option<i64> = conn.query_first("EXECUTE s").await.unwrap();
    assert_eq!(n, Some(40));
    // Each moved key answered from set2 (set1's copy is gone).
    for k in moving.iter().take(3) {
        conn.query_drop(format!("SET @k = {k}")).await.unwrap();
        let v: Option<i64> = conn.query_first("EXECUTE g USING @k").await.unwrap();
        assert_eq!(v, Some(*k), "key {k}");
    }
    conn.query_drop("SET @from = 30, @n = 4").await.unwrap();
    let ids: Vec<i64> = conn.query("EXECUTE r USING @from, @n").await.unwrap();
    assert_eq!(ids, vec![31, 32, 33, 34]);
    conn.query_drop("DEALLOCATE PREPARE g").await.unwrap();
    let err = conn.query_drop("EXECUTE g USING @k").await.unwrap_err();
    assert_eq!(server_error(&err), Some((1243, "HY000".into())), "{err}");
    conn.query_drop("PREPARE s FROM 'SELECT COUNT(*) FROM solo.t'")
        .await
        .unwrap();
    let n: Option<i64> = conn.query_first("EXECUTE s").await.unwrap();
    assert_eq!(n, Some(40));
}
