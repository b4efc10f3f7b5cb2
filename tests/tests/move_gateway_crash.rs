//! A gateway killed in the middle of a two-phase commit while a slot move runs
//! (docs/scaleout.md, "invariants" 3): its transaction wrote a row of a moving
//! slot on the source and a row on another set, both branches are prepared and
//! the decision is in etcd, then the gateway dies before phase two. The move must
//! heal by itself: the catch-up keeps the prepared branch's rows waiting for its
//! `XA COMMIT` (no flip may leave them behind), no hold can be acknowledged while
//! the gateway is gone, and the restarted gateway finishes the commit (XA
//! recovery) and acknowledges the next hold. The row ends on the target, once.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::control::{now_ms, ControlPlaneConfig};
use setwise_tests::Cluster;
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

/// `(set, v)` of every copy of row `id` on the three primaries.
async fn copies(c: &Cluster, id: i64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for set in ["set1", "set2", "set3"] {
        let rows = c
            .primary(set)
            .query(&format!("SELECT v FROM shop.orders WHERE id = {id}"))
            .await
            .unwrap();
        for r in rows {
            out.push((set.to_string(), r[0].clone().unwrap_or_default()));
        }
    }
    out
}

#[tokio::test]
async fn a_gateway_killed_between_the_phases_of_a_commit_during_a_move_heals() {
    let mut c = Cluster::builder()
        .sets(3)
        .replicas(0)
        .proxy(false)
        .start()
        .await
        .unwrap();
    // No replicas: commits must not wait for one.
    for s in c.set_names() {
        let mut r = c.topo().get_set(&s).await.unwrap().unwrap();
        r.sync = topo::SyncMode::Async;
        c.topo().put_set(&r).await.unwrap();
    }
    // Decisions in etcd: every branch of a commit across sets is prepared.
    c.set_proxy_extra("[xa]\ndecisions = \"etcd\"\n");
    c.start_proxy().await.unwrap();
    c.shop_orders(ORDERS).await.unwrap();
    // From now on each commit across sets stops after its decision.
    c.set_proxy_env(&[("SETWISE_XA_PAUSE", "decided=600000")]);
    c.start_proxy().await.unwrap();
    // A slow copy: the commit below happens while it runs.
    let cfg = ControlPlaneConfig {
        extra_toml: "\n[moves]\nchunk_rows = 20\nthrottle_ms = 300\n".into(),
        ..Default::default()
    };
    let _cp = c.start_control_plane_with(1, cfg).await.unwrap();

    let (start, end) = (300u32, 700u32);
    let map = c.shard_map("shop").await;
    let owner = |i: i64| {
        let s = topo::slot::slot_of_int(i as i128, map.slots);
        ((start..end).contains(&s), map.set_of_slot(s).unwrap_or(""))
    };
    // `a`: a moving row of set2; `b`: a row of set1 that stays.
    let a = (1..=ORDERS).find(|&i| owner(i) == (true, "set2")).unwrap();
    let b = (1..=ORDERS).find(|&i| owner(i) == (false, "set1")).unwrap();

    let rec = MoveRecord::request("shop", start, end, "set3", "test", now_ms());
    let id = rec.id.clone();
    c.topo()
        .create(&c.topo().keys().move_of(&id), &rec)
        .await
        .unwrap();
    // Both sources' catch-up start positions are recorded, the copy goes on.
    let copying = setwise_tests::wait_for(
        "the copy of set2 to be under way",
        WAIT,
        || record(&c, &id),
        |r: &MoveRecord| {
            r.phase.is_finished()
                || (!r.sources.is_empty()
                    && r.sources
                        .iter()
                        .all(|s| s.gtid_start.is_some() && s.rows_copied > 0))
        },
    )
    .await
    .unwrap();
    assert_eq!(copying.phase, MovePhase::Copy, "{}", describe(&copying));

    // The transaction: prepared on both sets, decided, then stopped.
    let mut s = c.proxy_conn().await.unwrap();
    s.query_drop("BEGIN").await.unwrap();
    for k in [a, b] {
        s.query_drop(format!("UPDATE shop.orders SET v = 'txn' WHERE id = {k}"))
            .await
            .unwrap();
    }
    // Decisions of earlier commits (the load's) stay until a later batch deletes
    // them: only a new one is this COMMIT's.
    let prefix = c.topo().keys().xa();
    let gtrids = |d: Vec<topo::Versioned<topo::XaDecision>>| -> Vec<String> {
        d.into_iter().map(|d| d.value.gtrid).collect()
    };
    let earlier = gtrids(c.topo().list::<topo::XaDecision>(&prefix).await.unwrap());
    let commit = tokio::spawn(async move { s.query_drop("COMMIT").await });
    setwise_tests::wait_until("the commit's decision in etcd", WAIT, || async {
        let now = gtrids(c.topo().list::<topo::XaDecision>(&prefix).await?);
        Ok(now.iter().any(|g| !earlier.contains(g)))
    })
    .await
    .unwrap();
    for set in ["set1", "set2"] {
        let p = c.primary(set).query("XA RECOVER").await.unwrap();
        assert_eq!(p.len(), 1, "{set}: one prepared branch");
    }

    // The gateway dies between the phases; the move goes on to its catch-up,
    // which cannot pass the prepared branch.
    c.kill_proxy();
    commit.abort();
    let caught = setwise_tests::wait_for(
        "the move to reach the catch-up",
        WAIT,
        || record(&c, &id),
        |r: &MoveRecord| r.phase != MovePhase::Copy,
    )
    .await
    .unwrap();
    assert!(
        matches!(caught.phase, MovePhase::CatchUp | MovePhase::Hold),
        "{}",
        describe(&caught)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let waiting = record(&c, &id).await.unwrap().unwrap();
    assert!(
        !waiting.phase.flipped() && !waiting.phase.is_finished(),
        "flipped with a prepared branch of a moving row and no gateway: {}",
        describe(&waiting)
    );

    // The next gateway recovers the commit; the move finishes.
    c.set_proxy_env(&[]);
    c.start_proxy().await.unwrap();
    let done = setwise_tests::wait_for(
        "the move to finish",
        WAIT,
        || record(&c, &id),
        |r: &MoveRecord| r.phase.is_finished(),
    )
    .await
    .unwrap();
    assert_eq!(done.phase, MovePhase::Done, "{}", describe(&done));
    for set in ["set1", "set2"] {
        let p = c.primary(set).query("XA RECOVER").await.unwrap();
        assert!(p.is_empty(), "{set}: branches left prepared: {p:?}");
    }
    assert_eq!(
        copies(&c, a).await,
        vec![("set3".to_string(), "txn".to_string())],
        "the moving row of the recovered commit ({})",
        describe(&done)
    );
    assert_eq!(
        copies(&c, b).await,
        vec![("set1".to_string(), "txn".to_string())]
    );
    let mut conn = c.proxy_conn().await.unwrap();
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.orders")
        .await
        .unwrap();
    assert_eq!(n, Some(ORDERS), "{}", describe(&done));
}
