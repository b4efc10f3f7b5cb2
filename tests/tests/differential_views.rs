//! Views over every kind of table, through the gateway and on one plain MariaDB:
//! the same rows, column definitions and errors; see `setwise_tests::diff::views`.
//! Then views across databases, before and after some of `diffdb`'s slots move
//! to the other set (simulated as the mover leaves them: rows copied, the map
//! flipped, the source's rows deleted).

use setwise_tests::diff::data::{Data, ORDER_COLS, USER_COLS};
use setwise_tests::diff::{views, Diff};
use setwise_tests::placement;
use topo::moves::map_after_move;

#[tokio::test]
async fn views_match_a_plain_mariadb() {
    let data = Data::generate(20_240_601, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    for v in views::VIEWS {
        d.pair(v, v).await.unwrap();
    }
    d.group("views over sharded, broadcast and single tables");
    d.run_all(&views::reads()).await.unwrap();

    let map = d.shard_map();
    let (source, target, span) = placement::half_of_first_range(&map);
    let moved = (1..=300i64)
        .find(|&i| span.contains(topo::slot::slot_of_int(i as i128, map.slots)))
        .unwrap();
    d.group("views across databases");
    d.run_all(&views::cross_db_views()).await.unwrap();
    d.run_all(&views::cross_db_reads(moved)).await.unwrap();
    d.group("a system schema as the session's database");
    d.run_all(&views::system_schema_session()).await.unwrap();

    let tables = [("users", USER_COLS), ("orders", ORDER_COLS)];
    let c = d.cluster();
    placement::copy_span(
        c,
        "diffdb",
        "user_id",
        &tables,
        (&source, &target),
        span,
        map.slots,
    )
    .await;
    placement::delete_span(
        c,
        "diffdb",
        "user_id",
        &["users", "orders"],
        &source,
        span,
        map.slots,
    )
    .await;
    let topo = c.topo().clone();
    let mut rec = topo.get_db("diffdb").await.unwrap().unwrap().value;
    rec.shard_map = map_after_move(&rec.shard_map, span.start, span.end, &target);
    topo.put_db(&rec).await.unwrap();
    placement::wait_routed(c, "diffdb.users", "user_id", moved as u64, &target).await;
    d.group("views across databases, after a move of diffdb's slots");
    d.run_all(&views::cross_db_reads(moved)).await.unwrap();
    d.run_all(&[setwise_tests::diff::Q::any("DROP DATABASE diffx")])
        .await
        .unwrap();
    d.finish();
}
