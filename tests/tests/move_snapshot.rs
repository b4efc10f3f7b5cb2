//! Where a move's catch-up starts (scheduler/src/moves/copy.rs `catchup_start`).
//!
//! A source's `@@gtid_binlog_pos` counts a transaction once it is in the binlog;
//! InnoDB commits it — and a consistent snapshot sees it — only later: on a
//! strong-sync set once a replica acknowledged it (`AFTER_SYNC`). A commit caught
//! between the two when the copy opens its snapshot is in the position read before
//! the snapshot and not in the snapshot. The catch-up must start at or before the
//! snapshot's own position, or that write is in neither the copy nor the catch-up
//! and the move loses it. This is the flake `scaleout::a_move_under_writes_…` hit
//! under load (`copy of set2 from its snapshot at "0-201-256" … catch-up from
//! "0-201-257"`, then `slot 579: set2 has 5 rows, set3 has 4 rows`); here the
//! window is held open on purpose: set2's only replica is stopped, so the commit
//! waits for its acknowledgement through the copy's snapshot (second test: an
//! `XA PREPARE`, which `XA RECOVER` does not list while it waits, so the copy's
//! wait for prepared XA transactions misses it). The verification is
//! off, so what the catch-up alone gives is what the test sees (with it on, the
//! move would fail instead of losing the row).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::control::{now_ms, ControlPlane, ControlPlaneConfig};
use setwise_tests::{wait_until, Cluster};
use topo::{MovePhase, MoveRecord};

const WAIT: Duration = Duration::from_secs(90);
const ORDERS: i64 = 1000;
const START: u32 = 300;
const END: u32 = 700;

async fn record(c: &Cluster, id: &str) -> anyhow::Result<Option<MoveRecord>> {
    Ok(c.topo()
        .get::<MoveRecord>(&c.topo().keys().move_of(id))
        .await?
        .map(|v| v.value))
}

fn describe(r: &MoveRecord) -> String {
    let steps: Vec<&str> = r.steps.iter().map(|s| s.text.as_str()).collect();
    format!(
        "{} error={:?}\n  {}",
        r.phase.word(),
        r.error,
        steps.join("\n  ")
    )
}

/// The ids of `orders` on `p` whose slot is in `start..end`, in order.
async fn ids_on(p: &setwise_tests::MariaDb, slots: u32, start: u32, end: u32) -> Vec<String> {
    let cond = topo::slot::inside_spans_sql(
        "id",
        topo::KeyType::Integer,
        slots,
        &[topo::SlotSpan { start, end }],
    );
    p.query(&format!(
        "SELECT id FROM shop.orders WHERE {cond} ORDER BY id"
    ))
    .await
    .unwrap()
    .into_iter()
    .filter_map(|r| r.into_iter().next().flatten())
    .collect()
}

/// 3 sets of a primary and a replica, the gateway, `shop.orders` on set1+set2
/// with `ORDERS` rows, a control plane (no failover, `[moves] verify = false`),
/// and set2's replica stopped: set2's commits wait for an acknowledgement. The
/// key returned is in the moving slots `START..END`, owned by set2.
async fn stalled_set2() -> (Cluster, ControlPlane, u32, i64) {
    let c = Cluster::builder()
        .sets(3)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.shop_orders(ORDERS).await.unwrap();
    // No failover of set2 while its primary waits for its replica.
    let cfg = ControlPlaneConfig {
        failover_enabled: false,
        extra_toml: "\n[moves]\nverify = false\n".into(),
        ..Default::default()
    };
    let cp = c.start_control_plane_with(1, cfg).await.unwrap();

    let map = c.shard_map("shop").await;
    let k = (1_000_000i64..)
        .find(|&i| {
            let s = topo::slot::slot_of_int(i as i128, map.slots);
            (START..END).contains(&s) && map.set_of_slot(s) == Some("set2")
        })
        .unwrap();

    // set2's commits wait for an acknowledgement nobody sends.
    let primary = c.primary("set2");
    let replica = c.set("set2").replicas().next().expect("set2 has a replica");
    primary
        .exec("SET GLOBAL rpl_semi_sync_master_timeout = 4294967295")
        .await
        .unwrap();
    replica.exec("STOP SLAVE").await.unwrap();
    wait_until(
        "set2's primary to lose its semi-sync replica",
        WAIT,
        || async {
            let v = primary
                .query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")
                .await?;
            Ok(v[0][1].as_deref() == Some("0"))
        },
    )
    .await
    .unwrap();
    (c, cp, map.slots, k)
}

/// Requests the move of `START..END` to set3; returns its id.
async fn request(c: &Cluster) -> String {
    let rec = MoveRecord::request("shop", START, END, "set3", "test", now_ms());
    let id = rec.id.clone();
    c.topo()
        .create(&c.topo().keys().move_of(&id), &rec)
        .await
        .unwrap();
    id
}

/// Waits for the move to end; checks it is done and set3 holds exactly the rows
/// of the moving slots the sources held (`before`), `k` among them.
async fn check_done(c: &Cluster, id: &str, slots: u32, before: Vec<String>, k: i64) {
    assert!(before.contains(&k.to_string()));
    let done = setwise_tests::wait_for(
        "the move to finish",
        WAIT,
        || record(c, id),
        |r: &MoveRecord| r.phase.is_finished(),
    )
    .await
    .unwrap();
    assert_eq!(done.phase, MovePhase::Done, "{}", describe(&done));
    let mut on_target = ids_on(c.primary("set3"), slots, START, END).await;
    on_target.sort();
    assert!(
        on_target.contains(&k.to_string()),
        "the write that waited for its replica is not on set3: lost ({})",
        describe(&done)
    );
    assert_eq!(on_target, before, "{}", describe(&done));
}

/// The rows of the moving slots on the sources, sorted.
async fn sources_rows(c: &Cluster, slots: u32) -> Vec<String> {
    let mut before = ids_on(c.primary("set1"), slots, START, END).await;
    before.extend(ids_on(c.primary("set2"), slots, START, END).await);
    before.sort();
    before
}

#[tokio::test]
async fn a_commit_waiting_for_its_replica_during_the_copy_snapshot_is_not_lost() {
    let (c, _cp, slots, k) = stalled_set2().await;
    let primary = c.primary("set2");
    let replica = c.set("set2").replicas().next().expect("set2 has a replica");
    let pos_before = primary.scalar("SELECT @@gtid_binlog_pos").await.unwrap();
    let mut writer = primary.conn().await.unwrap();
    let write = tokio::spawn(async move {
        writer
            .query_drop(format!(
                "INSERT INTO shop.orders (id, v) VALUES ({k}, 'waited')"
            ))
            .await
    });
    // In the binlog (the position moved), not yet visible.
    wait_until("the INSERT to be in set2's binlog", WAIT, || async {
        Ok(primary.scalar("SELECT @@gtid_binlog_pos").await? != pos_before)
    })
    .await
    .unwrap();
    let seen = primary
        .scalar(&format!("SELECT COUNT(*) FROM shop.orders WHERE id = {k}"))
        .await
        .unwrap();
    assert_eq!(seen.as_deref(), Some("0"), "the INSERT committed already");

    let id = request(&c).await;
    // The copy of set2 opens its snapshot while the INSERT still waits.
    let copying = setwise_tests::wait_for(
        "the copy of set2 to open its snapshot",
        WAIT,
        || record(&c, &id),
        |r: &MoveRecord| {
            r.phase.is_finished()
                || r.sources
                    .iter()
                    .any(|s| s.set == "set2" && s.gtid_start.is_some())
        },
    )
    .await
    .unwrap();
    assert!(!copying.phase.is_finished(), "{}", describe(&copying));
    assert!(!write.is_finished(), "the INSERT committed before the copy");
    replica.exec("START SLAVE").await.unwrap();
    tokio::time::timeout(WAIT, write)
        .await
        .expect("the INSERT commits once the replica is back")
        .unwrap()
        .unwrap();

    check_done(&c, &id, slots, sources_rows(&c, slots).await, k).await;
}

/// The same window for an XA transaction: its `XA PREPARE` (its rows are in the
/// binlog from there) waits for the replica while the move starts. Whether the
/// copy sees it prepared (and waits for its end) or not, its rows, committed
/// later with `XA COMMIT`, must end on the target.
#[tokio::test]
async fn an_xa_prepare_waiting_for_its_replica_when_the_move_starts_is_not_lost() {
    let (c, _cp, slots, k) = stalled_set2().await;
    let primary = c.primary("set2");
    let replica = c.set("set2").replicas().next().expect("set2 has a replica");
    let pos_before = primary.scalar("SELECT @@gtid_binlog_pos").await.unwrap();
    let mut xa = primary.conn().await.unwrap();
    xa.query_drop("XA START 'mv-x1'").await.unwrap();
    xa.query_drop(format!(
        "INSERT INTO shop.orders (id, v) VALUES ({k}, 'xa')"
    ))
    .await
    .unwrap();
    xa.query_drop("XA END 'mv-x1'").await.unwrap();
    let prepare = tokio::spawn(async move {
        let r = xa.query_drop("XA PREPARE 'mv-x1'").await;
        (xa, r)
    });
    wait_until("the XA PREPARE to be in set2's binlog", WAIT, || async {
        Ok(primary.scalar("SELECT @@gtid_binlog_pos").await? != pos_before)
    })
    .await
    .unwrap();
    let listed = primary.query("XA RECOVER").await.unwrap();
    eprintln!("XA RECOVER while the XA PREPARE waits for the replica: {listed:?}");

    let id = request(&c).await;
    setwise_tests::wait_for(
        "the copy to start",
        WAIT,
        || record(&c, &id),
        |r: &MoveRecord| r.phase >= MovePhase::Copy,
    )
    .await
    .unwrap();
    // The copy of set2 either waits for the prepared transaction or has passed it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !prepare.is_finished(),
        "the XA PREPARE ended before the copy"
    );
    replica.exec("START SLAVE").await.unwrap();
    let (mut xa, r) = tokio::time::timeout(WAIT, prepare)
        .await
        .expect("the XA PREPARE ends once the replica is back")
        .unwrap();
    r.unwrap();
    xa.query_drop("XA COMMIT 'mv-x1'").await.unwrap();

    check_done(&c, &id, slots, sources_rows(&c, slots).await, k).await;
}
