//! The orphan filter (proxy/src/orphans/): while slots move, the set holding
//! rows of slots it does not own (the target before the flip, the source after
//! it) never lets them into an answer. A move is simulated with topo directly:
//! the rows of half of set1's first slot range are copied into the other set's
//! tables (as the mover's copy does) and a `moving/<id>` fence is written; every
//! statement below must answer exactly as before the copy — counts, sums,
//! groups, top-N, ranges, a co-located join, LEFT JOIN, a subquery, a prepared
//! statement with `LIMIT ?`, and the affected rows of an UPDATE and a DELETE
//! without the key — in state `copying` (orphans on the target) and after the
//! flip (orphans on the source), then after cleanup.

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::{placement, Cluster};
use topo::moves::{map_after_move, FenceSource, FenceState, MoveFence};

/// The tables of `shop` and the columns a move copies.
const TABLES: [(&str, &str); 2] = [("t", "id, g, v"), ("u", "id, w")];

type Rows = Vec<Vec<Option<String>>>;

const READS: &[&str] = &[
    "SELECT COUNT(*) FROM t",
    "SELECT SUM(v), MIN(v), MAX(v) FROM t",
    "SELECT g, COUNT(*), SUM(v) FROM t GROUP BY g ORDER BY g",
    "SELECT id, v FROM t ORDER BY v DESC, id LIMIT 7",
    "SELECT id FROM t WHERE id BETWEEN 20 AND 120 ORDER BY id",
    "SELECT t.id, u.w FROM t JOIN u ON t.id = u.id WHERE t.g = 1 ORDER BY t.id",
    "SELECT COUNT(*), SUM(u.w) FROM t LEFT JOIN u ON u.id = t.id AND u.w > 3",
    "SELECT COUNT(*) FROM t WHERE id IN (SELECT id FROM u WHERE w > 6)",
    "SELECT COUNT(DISTINCT g), COUNT(DISTINCT v) FROM t",
    "SELECT * FROM t ORDER BY id",
    // A join the gateway runs itself (not on the shard key).
    "SELECT t.id, u.id FROM t JOIN u ON t.v = u.w WHERE t.g = 1 ORDER BY t.id, u.id",
    "SELECT v FROM t WHERE id = 7",
    "SELECT id, v FROM t WHERE id IN (3, 8, 11, 150) ORDER BY id",
];

/// Every read's answer, and the prepared statement's.
async fn answers(conn: &mut Conn) -> Vec<Rows> {
    let mut out = Vec::new();
    for q in READS {
        let rows = setwise_tests::sql::rows(conn, q)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        out.push(rows);
    }
    let rows: Vec<mysql_async::Row> = conn
        .exec(
            "SELECT id, v FROM t WHERE g = ? ORDER BY id LIMIT ?",
            (2, 6),
        )
        .await
        .unwrap();
    out.push(
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.as_ref(i).and_then(setwise_tests::sql::text))
                    .collect()
            })
            .collect(),
    );
    out
}

/// Checks the reads, then that an UPDATE and a DELETE without the key touch
/// exactly the rows they would without a move (and puts things back).
async fn check(conn: &mut Conn, want: &[Rows], n_g2: u64, n_g3: u64, phase: &str) {
    let got = answers(conn).await;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let q = READS.get(i).copied().unwrap_or("prepared LIMIT ?");
        assert_eq!(g, w, "{phase}: {q}");
    }
    conn.query_drop("UPDATE t SET v = v + 100 WHERE g = 2")
        .await
        .unwrap();
    assert_eq!(
        conn.affected_rows(),
        n_g2,
        "{phase}: UPDATE without the key"
    );
    conn.query_drop("UPDATE t SET v = v - 100 WHERE g = 2")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), n_g2, "{phase}: UPDATE back");
    let deleted: Rows = setwise_tests::sql::rows(conn, "SELECT id, g, v FROM t WHERE g = 3")
        .await
        .unwrap();
    conn.query_drop("DELETE FROM t WHERE g = 3").await.unwrap();
    assert_eq!(
        conn.affected_rows(),
        n_g3,
        "{phase}: DELETE without the key"
    );
    let values: Vec<String> = deleted
        .iter()
        .map(|r| {
            let v: Vec<String> = r.iter().map(|c| c.clone().unwrap()).collect();
            format!("({})", v.join(", "))
        })
        .collect();
    conn.query_drop(format!(
        "INSERT INTO t (id, g, v) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
    let again = answers(conn).await;
    assert_eq!(again, want, "{phase}: after the writes");
    // UPDATE ... ORDER BY ... LIMIT across sets: the rows chosen are the
    // owners' (a chosen copy would leave an owner's row unchanged).
    conn.query_drop("UPDATE t SET v = v + 100 WHERE g = 4 ORDER BY id LIMIT 30")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 30, "{phase}: UPDATE ... LIMIT");
    let changed = setwise_tests::sql::rows(conn, "SELECT id FROM t WHERE v >= 100 ORDER BY id")
        .await
        .unwrap();
    let first30: Vec<Vec<Option<String>>> = (1..=200)
        .filter(|i| i % 5 == 4)
        .take(30)
        .map(|i: i32| vec![Some(i.to_string())])
        .collect();
    assert_eq!(changed, first30, "{phase}: the rows UPDATE ... LIMIT chose");
    conn.query_drop("UPDATE t SET v = v - 100 WHERE v >= 100")
        .await
        .unwrap();
    assert_eq!(conn.affected_rows(), 30, "{phase}: UPDATE back");
    // In a transaction (a branch started with the statement).
    conn.query_drop("BEGIN").await.unwrap();
    let n = count(conn).await;
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(n, want[0][0][0], "{phase}: COUNT(*) in a transaction");
}

async fn count(conn: &mut Conn) -> Option<String> {
    setwise_tests::sql::scalar(conn, "SELECT COUNT(*) FROM t")
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn moving_slots_are_never_counted_twice() {
    let c = Cluster::two_sets_with_gateway().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("USE shop").await.unwrap();
    conn.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY, g INT, v INT) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE u (id BIGINT PRIMARY KEY, w INT) shardkey=id")
        .await
        .unwrap();
    let t: Vec<String> = (1..=200)
        .map(|i| format!("({i}, {}, {})", i % 5, i * 3 % 17))
        .collect();
    conn.query_drop(format!("INSERT INTO t VALUES {}", t.join(",")))
        .await
        .unwrap();
    let u: Vec<String> = (1..=200)
        .step_by(2)
        .map(|i| format!("({i}, {})", i % 13))
        .collect();
    conn.query_drop(format!("INSERT INTO u VALUES {}", u.join(",")))
        .await
        .unwrap();
    let want = answers(&mut conn).await;
    let n_g2 = (1..=200).filter(|i| i % 5 == 2).count() as u64;
    let n_g3 = (1..=200).filter(|i| i % 5 == 3).count() as u64;
    let baseline = count(&mut conn).await;
    assert_eq!(baseline.as_deref(), Some("200"));

    // Half of the first range's slots move from its owner to the other set.
    let map = c.shard_map("shop").await;
    let (source, target, span) = placement::half_of_first_range(&map);
    placement::copy_span(
        &c,
        "shop",
        "id",
        &TABLES,
        (&source, &target),
        span,
        map.slots,
    )
    .await;
    // Unfiltered, the copies count twice.
    assert_ne!(count(&mut conn).await, baseline, "the copy is visible");

    let topo = c.topo();
    let mut fence = MoveFence {
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
    let key = topo.keys().fence(&fence.id);
    topo.put(&key, &fence).await.unwrap();
    let settle = |phase: &'static str| {
        let cl = &c;
        let b = baseline.clone();
        async move {
            setwise_tests::wait_until(phase, Duration::from_secs(15), || {
                let b = b.clone();
                async move {
                    let mut k = cl.proxy_conn().await?;
                    k.query_drop("USE shop").await?;
                    let n = count(&mut k).await;
                    k.disconnect().await?;
                    Ok(n == b)
                }
            })
            .await
            .unwrap();
        }
    };
    settle("the gateway to filter the target's copies").await;
    check(&mut conn, &want, n_g2, n_g3, "copying").await;

    // The flip: the map gives the slots to the target (its copies caught up
    // first), the source holds the orphans now.
    placement::copy_span(
        &c,
        "shop",
        "id",
        &TABLES,
        (&source, &target),
        span,
        map.slots,
    )
    .await;
    fence.state = FenceState::Flipped;
    topo.put(&key, &fence).await.unwrap();
    let mut rec = topo.get_db("shop").await.unwrap().unwrap().value;
    rec.shard_map = map_after_move(&rec.shard_map, span.start, span.end, &target);
    topo.put_db(&rec).await.unwrap();
    // A point read of a moved key goes to the target now: its copy answers
    // after the source's row is gone.
    let moved = (1..=200u64)
        .find(|&i| span.contains(topo::slot::slot_of_int(i as i128, map.slots)))
        .unwrap();
    placement::wait_routed(&c, "shop.t", "id", moved, &target).await;
    settle("the gateway to filter the source's leftovers").await;
    check(&mut conn, &want, n_g2, n_g3, "flipped").await;

    // Cleanup: the source's rows deleted, the fence gone.
    placement::delete_span(&c, "shop", "id", &["t", "u"], &source, span, map.slots).await;
    topo.delete(&key).await.unwrap();
    check(&mut conn, &want, n_g2, n_g3, "cleaned up").await;
}
