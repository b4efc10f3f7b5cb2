//! Views over every kind of table, through the gateway and on one plain MariaDB:
//! the same rows, column definitions and errors; see `setwise_tests::diff::views`.
//! Then views across databases, before and after some of `diffdb`'s slots move
//! to the other set (simulated as the mover leaves them: rows copied, the map
//! flipped, the source's rows deleted).

use mysql_async::prelude::*;
use mysql_async::{Params, Row};
use setwise_tests::diff::data::{Data, ORDER_COLS, USER_COLS};
use setwise_tests::diff::{views, Diff};
use setwise_tests::Cluster;
use topo::moves::{map_after_move, SlotSpan};

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
    let first = map.ranges[0].clone();
    let target = map
        .ranges
        .iter()
        .find(|r| r.set != first.set)
        .unwrap()
        .set
        .clone();
    let span = SlotSpan {
        start: first.start,
        end: first.start + (first.end - first.start) / 2,
    };
    let moved = (1..=300i64)
        .find(|&i| span.contains(topo::slot::slot_of_int(i as i128, map.slots)))
        .unwrap();
    d.group("views across databases");
    d.run_all(&views::cross_db_views()).await.unwrap();
    d.run_all(&views::cross_db_reads(moved)).await.unwrap();

    move_slots(d.cluster(), &first.set, &target, span, map.slots).await;
    let topo = d.cluster().topo().clone();
    let mut rec = topo.get_db("diffdb").await.unwrap().unwrap().value;
    rec.shard_map = map_after_move(&rec.shard_map, span.start, span.end, &target);
    topo.put_db(&rec).await.unwrap();
    let c = d.cluster();
    let to = target.as_str();
    setwise_tests::wait_until(
        "the gateway to see the flip",
        std::time::Duration::from_secs(15),
        || async move {
            let mut k = c.proxy_conn().await?;
            let rows: Vec<Row> = k
                .query(format!(
                    "EXPLAIN SETWISE SELECT * FROM diffdb.users WHERE user_id = {moved}"
                ))
                .await?;
            k.disconnect().await?;
            Ok(rows
                .iter()
                .any(|r| r.get::<String, _>(1).as_deref() == Some(to)))
        },
    )
    .await
    .unwrap();
    d.group("views across databases, after a move of diffdb's slots");
    d.run_all(&views::cross_db_reads(moved)).await.unwrap();
    d.run_all(&[setwise_tests::diff::Q::any("DROP DATABASE diffx")])
        .await
        .unwrap();
    d.finish();
}

/// The rows of `span` (users and orders) moved from `from` to `to`, as a finished
/// move leaves them.
async fn move_slots(c: &Cluster, from: &str, to: &str, span: SlotSpan, slots: u32) {
    let mut src = c.primary(from).conn().await.unwrap();
    let mut dst = c.primary(to).conn().await.unwrap();
    for (table, cols) in [("users", USER_COLS), ("orders", ORDER_COLS)] {
        let cond = format!(
            "CRC32(user_id) % {slots} BETWEEN {} AND {}",
            span.start,
            span.end - 1
        );
        let rows: Vec<Row> = src
            .exec(
                format!("SELECT {cols} FROM diffdb.{table} WHERE {cond}"),
                (),
            )
            .await
            .unwrap();
        assert!(!rows.is_empty(), "rows of {table} move");
        let marks = vec!["?"; cols.split(',').count()].join(", ");
        dst.exec_batch(
            format!("REPLACE INTO diffdb.{table} ({cols}) VALUES ({marks})"),
            rows.into_iter().map(|r| Params::Positional(r.unwrap())),
        )
        .await
        .unwrap();
        src.query_drop(format!("DELETE FROM diffdb.{table} WHERE {cond}"))
            .await
            .unwrap();
    }
}
