//! A transaction that can only roll back frees its locks on every set at once,
//! without waiting for its client's next statement (`proxy/src/session/release.rs`):
//! * a slot move's hold aborts an open transaction that wrote a held slot (the
//!   test plays the scheduler by writing the move's fence, as tests/move_gate.rs
//!   does) while its client is idle: the rows it locked on both sets can be
//!   locked by another session right away; its client still gets 1213 at COMMIT;
//! * a deadlock on one set's branch: the other set's branch is rolled back too.

use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::shop::t_slot as slot;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;
use topo::{FenceSource, FenceState, MoveFence, SlotSpan};

const MOVE: &str = "m1700000000001";

/// Two sets, and `shop.t` sharded by `id`.
async fn shop() -> Cluster {
    let mut c = Cluster::two_sets_without_gateway().await;
    c.set_proxy_extra("[moves]\nhold_wait_ms = 20000\n");
    c.start_proxy().await.expect("start the gateway");
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    c
}

/// The first key owned by `set`.
async fn key_on(c: &Cluster, set: &str) -> i64 {
    let map = c.shard_map("shop").await;
    (1..10_000)
        .find(|k| map.set_of_slot(slot(*k)) == Some(set))
        .unwrap()
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

/// Locks row `id` on the primary of `set` directly (waiting at most 1 s for
/// the lock), then lets it go: whether another session could lock it.
async fn lockable(c: &Cluster, set: &str, id: i64) -> bool {
    let mut conn = c.primary(set).conn().await.unwrap();
    conn.query_drop("SET innodb_lock_wait_timeout = 1")
        .await
        .unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    let r = conn
        .query_drop(format!("SELECT v FROM shop.t WHERE id = {id} FOR UPDATE"))
        .await;
    conn.query_drop("ROLLBACK").await.unwrap();
    match r {
        Ok(()) => true,
        Err(e) if server_error(&e).map(|(c, _)| c) == Some(1205) => false,
        Err(e) => panic!("locking {id} on {set}: {e}"),
    }
}

#[tokio::test]
async fn a_transaction_a_hold_aborts_frees_its_locks_while_its_client_is_idle() {
    let c = shop().await;
    let (inside, other) = (key_on(&c, "set1").await, key_on(&c, "set2").await);
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop(format!("INSERT INTO shop.t VALUES ({other}, 0)"))
        .await
        .unwrap();
    put_fence(&c, &fence(slot(inside), FenceState::Copying)).await;
    setwise_tests::wait_until(
        "the gateway to see the fence",
        Duration::from_secs(10),
        || async { Ok(c.topo().list_fences().await?.len() == 1) },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut a = c.proxy_conn().await.unwrap();
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop(format!("INSERT INTO shop.t VALUES ({inside}, 1)"))
        .await
        .unwrap();
    a.query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {other}"))
        .await
        .unwrap();
    assert!(
        !lockable(&c, "set2", other).await,
        "A holds its row on set2"
    );

    put_fence(&c, &fence(slot(inside), FenceState::Holding)).await;
    // A sends nothing: its locks go anyway.
    setwise_tests::wait_until(
        "A's locks on both sets to be freed",
        Duration::from_secs(15),
        || async { Ok(lockable(&c, "set2", other).await && lockable(&c, "set1", inside).await) },
    )
    .await
    .unwrap();
    // Nothing of A's stays, and A is told at its next statement.
    let v: Option<i64> = g
        .query_first(format!("SELECT v FROM shop.t WHERE id = {other}"))
        .await
        .unwrap();
    assert_eq!(v, Some(0));
    let e = a.query_drop("COMMIT").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1213, "40001".into())), "{e}");
    let one: Option<i64> = a.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    for set in ["set1", "set2"] {
        let n = c
            .primary(set)
            .query(&format!("SELECT 1 FROM shop.t WHERE id = {inside}"))
            .await
            .unwrap();
        assert!(n.is_empty(), "A's row on {set}");
    }
}

#[tokio::test]
async fn a_deadlock_on_one_set_frees_the_locks_on_the_others() {
    let c = shop().await;
    let (k1, k2) = (key_on(&c, "set1").await, key_on(&c, "set2").await);
    let k1b = {
        let map = c.shard_map("shop").await;
        (k1 + 1..20_000)
            .find(|k| map.set_of_slot(slot(*k)) == Some("set1"))
            .unwrap()
    };
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop(format!(
        "INSERT INTO shop.t VALUES ({k1}, 0), ({k1b}, 0), ({k2}, 0)"
    ))
    .await
    .unwrap();
    // A locks k2 (set2) and k1 (set1); B, directly on set1, locks k1b, then
    // waits for k1; A then asks for k1b: a deadlock on set1.
    let mut a = c.proxy_conn().await.unwrap();
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {k2}"))
        .await
        .unwrap();
    a.query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {k1}"))
        .await
        .unwrap();
    let mut b = c.primary("set1").conn().await.unwrap();
    b.query_drop("BEGIN").await.unwrap();
    b.query_drop(format!("UPDATE shop.t SET v = 2 WHERE id = {k1b}"))
        .await
        .unwrap();
    let waiting = tokio::spawn(async move {
        let r = b
            .query_drop(format!("UPDATE shop.t SET v = 2 WHERE id = {k1}"))
            .await;
        (r, b)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = a
        .query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {k1b}"))
        .await;
    let (rb, mut b) = waiting.await.unwrap();
    // One of the two is the victim; when A is, its branch on set2 is gone too.
    if let Err(e) = r {
        assert_eq!(server_error(&e), Some((1213, "40001".into())), "{e}");
        rb.unwrap();
        b.query_drop("ROLLBACK").await.unwrap();
        assert!(lockable(&c, "set2", k2).await, "A's lock on set2 stays");
    } else {
        b.query_drop("ROLLBACK").await.unwrap();
        a.query_drop("ROLLBACK").await.unwrap();
    }
}
