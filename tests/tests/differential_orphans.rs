//! The differential suite during a slot move: the generated reads and writes of
//! `differential.rs` through the gateway while a set holds rows of slots it does
//! not own must still answer as one plain MariaDB does (the orphan filter,
//! proxy/src/orphans/). The move is simulated with topo: the rows of half of the
//! first shard-map range are copied into the other set (binary protocol, exact
//! values) and a `moving/<id>` fence written — state `copying` (orphans on the
//! target), then `flipped` with the map pointing the slots at the target (orphans
//! on the source).

use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::diff::data::{Data, ORDER_COLS, USER_COLS};
use setwise_tests::diff::reads::{self, Gen, MERGED_MUST_MATCH};
use setwise_tests::diff::writes::{self, Fresh};
use setwise_tests::diff::{aggregates, merges, unions, Diff, Q};
use setwise_tests::placement;
use topo::moves::{map_after_move, FenceSource, FenceState, MoveFence};

const DATA_SEED: u64 = 20_240_601;

/// Waits until the gateway's count of users is the reference's.
async fn settle(d: &mut Diff, what: &str) {
    let want: Option<u64> =
        d.rf.query_first("SELECT COUNT(*) FROM users")
            .await
            .unwrap();
    let c = d.cluster();
    setwise_tests::wait_until(what, Duration::from_secs(15), || async move {
        let mut k = c.proxy_conn().await?;
        let n: Option<u64> = k.query_first("SELECT COUNT(*) FROM diffdb.users").await?;
        k.disconnect().await?;
        Ok(n == want)
    })
    .await
    .unwrap();
}

async fn reads(d: &mut Diff, g: &mut Gen<'_>, phase: &str) {
    let merged_must: Vec<Q> = MERGED_MUST_MATCH
        .iter()
        .map(|(s, o)| Q {
            order: *o,
            ..Q::any(*s)
        })
        .collect();
    let groups: Vec<(&str, Vec<Q>)> = vec![
        ("point selects", reads::point_selects(g, 80)),
        ("co-located joins", reads::joins(g, 40)),
        ("merged (MERGED_MUST_MATCH)", merged_must),
        ("scatter selects", reads::scatter(g, 80)),
        ("merging across sets", merges::merges(g, 80)),
        ("binary protocol: selects", reads::binary_selects(g, 60)),
        ("UNION (distinct)", unions::unions(g, 40)),
        ("STD / VARIANCE / BIT_*", aggregates::statistics(g, 40)),
        ("GROUP BY ... WITH ROLLUP", aggregates::rollups(g, 30)),
        ("table contents", Vec::new()),
    ];
    for (name, qs) in groups {
        d.group(&format!("{phase}: {name}"));
        d.run_all(&qs).await.unwrap();
    }
    d.compare_tables().await.unwrap();
}

#[tokio::test]
async fn differential_reads_and_writes_during_a_move() {
    let data = Data::generate(DATA_SEED, 300, 1000);
    let mut d = Diff::start().await.expect("start");
    d.setup(&data).await.expect("load");
    let map = d.shard_map();
    let mut g = Gen::new(5, &data, map.clone());
    let mut fresh = Fresh::new();

    let (source, target, span) = placement::half_of_first_range(&map);
    let tables = [("users", USER_COLS), ("orders", ORDER_COLS)];
    let sets = (source.as_str(), target.as_str());
    placement::copy_span(
        d.cluster(),
        "diffdb",
        "user_id",
        &tables,
        sets,
        span,
        map.slots,
    )
    .await;
    let topo = d.cluster().topo().clone();
    let mut fence = MoveFence {
        id: "m1".into(),
        db: "diffdb".into(),
        to: target.clone(),
        sources: vec![FenceSource {
            set: source.clone(),
            ranges: vec![span],
        }],
        broadcast: false,
        state: FenceState::Copying,
    };
    let key = topo.keys().fence(&fence.id);
    topo.put(&key, &fence).await.unwrap();
    settle(&mut d, "the gateway to filter the target's copies").await;
    reads(&mut d, &mut g, "copying").await;
    d.group("copying: writes");
    d.run_all(&writes::text_writes(&mut g, &mut fresh, 100))
        .await
        .unwrap();
    d.compare_tables().await.unwrap();

    // The flip, after the copies caught up with the writes.
    placement::copy_span(
        d.cluster(),
        "diffdb",
        "user_id",
        &tables,
        sets,
        span,
        map.slots,
    )
    .await;
    fence.state = FenceState::Flipped;
    topo.put(&key, &fence).await.unwrap();
    let mut rec = topo.get_db("diffdb").await.unwrap().unwrap().value;
    rec.shard_map = map_after_move(&rec.shard_map, span.start, span.end, &target);
    topo.put_db(&rec).await.unwrap();
    // Routing by key follows the new map: the source's rows of the moved slots
    // are deleted first, so a gateway still routing there would miss them.
    let moved = (1..100_000u64)
        .find(|&i| span.contains(topo::slot::slot_of_int(i as i128, map.slots)))
        .unwrap();
    placement::wait_routed(d.cluster(), "diffdb.users", "user_id", moved, &target).await;
    settle(&mut d, "the gateway to filter the source's leftovers").await;
    let mut g = Gen::new(6, &data, rec.shard_map.clone());
    reads(&mut d, &mut g, "flipped").await;
    d.group("flipped: writes");
    d.run_all(&writes::text_writes(&mut g, &mut fresh, 100))
        .await
        .unwrap();
    d.compare_tables().await.unwrap();
    d.finish();
}
