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
//! waits for its acknowledgement through the copy's snapshot. The verification is
//! off, so what the catch-up alone gives is what the test sees (with it on, the
//! move would fail instead of losing the row).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::control::{now_ms, ControlPlaneConfig};
use setwise_tests::{wait_until, Cluster};
use topo::{MovePhase, MoveRecord};

const WAIT: Duration = Duration::from_secs(90);
const ORDERS: i64 = 1000;

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

#[tokio::test]
async fn a_commit_waiting_for_its_replica_during_the_copy_snapshot_is_not_lost() {
    let c = Cluster::builder()
        .sets(3)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.create_db("shop", &["set1", "set2"]).await.unwrap();
    setwise_tests::retry("the gateway to know shop", WAIT, || async {
        let mut conn = c.proxy_conn().await?;
        conn.query_drop("USE shop").await?;
        anyhow::Ok(())
    })
    .await
    .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, v VARCHAR(20)) shardkey=id")
        .await
        .unwrap();
    let rows: Vec<String> = (1..=ORDERS).map(|i| format!("({i}, 'o{i}')")).collect();
    conn.query_drop(format!(
        "INSERT INTO shop.orders (id, v) VALUES {}",
        rows.join(",")
    ))
    .await
    .unwrap();
    drop(conn);
    // No failover of set2 while its primary waits for its replica.
    let cfg = ControlPlaneConfig {
        failover_enabled: false,
        extra_toml: "\n[moves]\nverify = false\n".into(),
        ..Default::default()
    };
    let _cp = c.start_control_plane_with(1, cfg).await.unwrap();

    let (start, end) = (300u32, 700u32);
    let map = c.shard_map("shop").await;
    let k = (1_000_000i64..)
        .find(|&i| {
            let s = topo::slot::slot_of_int(i as i128, map.slots);
            (start..end).contains(&s) && map.set_of_slot(s) == Some("set2")
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

    let rec = MoveRecord::request("shop", start, end, "set3", "test", now_ms());
    let id = rec.id.clone();
    c.topo()
        .create(&c.topo().keys().move_of(&id), &rec)
        .await
        .unwrap();
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

    let mut before = ids_on(c.primary("set1"), map.slots, start, end).await;
    before.extend(ids_on(primary, map.slots, start, end).await);
    before.sort();
    assert!(before.contains(&k.to_string()));
    let done = setwise_tests::wait_for(
        "the move to finish",
        WAIT,
        || record(&c, &id),
        |r: &MoveRecord| r.phase.is_finished(),
    )
    .await
    .unwrap();
    assert_eq!(done.phase, MovePhase::Done, "{}", describe(&done));
    let mut on_target = ids_on(c.primary("set3"), map.slots, start, end).await;
    on_target.sort();
    assert!(
        on_target.contains(&k.to_string()),
        "the write that waited for its replica is not on set3: lost ({})",
        describe(&done)
    );
    assert_eq!(on_target, before, "{}", describe(&done));
}
