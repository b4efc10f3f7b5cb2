//! `setwise shard` against a whole cluster (3 sets, agents, a scheduler leader
//! running the move driver, the gateway): `rebalance --wait` spreads a database
//! over a set new to it and exits 0 once every move is done, with every row still
//! there exactly once; `move --wait` of a range back exits 0 too, and `moves --json`
//! shows both finished with their figures.

use std::time::Duration;

use mysql_async::prelude::*;
use serde_json::Value;
use setwise_tests::control::ControlPlaneConfig;
use setwise_tests::Cluster;
use topo::SyncMode;

const ROWS: i64 = 1500;

async fn count_and_sum(c: &Cluster) -> (i64, i64) {
    let mut conn = c.proxy_conn().await.unwrap();
    let (n, s): (i64, Option<i64>) = conn
        .query_first("SELECT COUNT(*), CAST(SUM(v) AS SIGNED) FROM shop.t")
        .await
        .unwrap()
        .unwrap();
    (n, s.unwrap_or(0))
}

fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn rebalance_and_move_wait_until_done() {
    let c = Cluster::builder()
        .sets(3)
        .replicas(0)
        .proxy(true)
        .start()
        .await
        .unwrap();
    for s in c.set_names() {
        let mut r = c.topo().get_set(&s).await.unwrap().unwrap();
        r.sync = SyncMode::Async;
        c.topo().put_set(&r).await.unwrap();
    }
    c.create_db("shop", &["set1", "set2"]).await.unwrap();
    setwise_tests::retry(
        "the gateway to know shop",
        Duration::from_secs(30),
        || async {
            let mut conn = c.proxy_conn().await?;
            conn.query_drop("USE shop").await?;
            anyhow::Ok(())
        },
    )
    .await
    .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT NOT NULL) shardkey=id")
        .await
        .unwrap();
    let rows: Vec<String> = (1..=ROWS).map(|i| format!("({i}, {})", i % 97)).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", rows.join(",")))
        .await
        .unwrap();
    drop(conn);
    let before = count_and_sum(&c).await;
    let _cp = c
        .start_control_plane_with(1, ControlPlaneConfig::default())
        .await
        .unwrap();
    // A target must be reported writable: wait for the primaries' reports to say so.
    setwise_tests::wait_until(
        "every primary reported writable",
        Duration::from_secs(30),
        || async {
            let h = c.topo().list_health().await?;
            Ok(["set1-n0", "set2-n0", "set3-n0"]
                .iter()
                .all(|n| h.iter().any(|r| &r.node == n && r.writable)))
        },
    )
    .await
    .unwrap();

    let out = c
        .setwise(&[
            "shard",
            "rebalance",
            "--db",
            "shop",
            "--wait",
            "--timeout",
            "150",
        ])
        .await
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "rebalance failed: {stderr}\n{stdout}");
    assert!(stdout.contains("2 move(s) to balance shop"), "{stdout}");
    assert!(stdout.contains("shop rebalanced"), "{stdout}");
    assert_eq!(stdout.matches(" done: slots ").count(), 2, "{stdout}");
    let map = c.shard_map("shop").await;
    let owned = |set: &str| -> u32 {
        map.ranges
            .iter()
            .filter(|r| r.set == set)
            .map(|r| r.end - r.start)
            .sum()
    };
    for s in ["set1", "set2", "set3"] {
        assert!((341..=342).contains(&owned(s)), "{s}: {map:?}");
    }
    assert_eq!(count_and_sum(&c).await, before);

    // A range back to set1, followed to the end.
    let out = c
        .setwise(&[
            "shard",
            "move",
            "--db",
            "shop",
            "--slots",
            "341-400",
            "--to",
            "set1",
            "--wait",
            "--timeout",
            "120",
        ])
        .await
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "move failed: {stderr}\n{stdout}");
    assert!(stdout.contains("done"), "{stdout}");
    assert_eq!(c.shard_map("shop").await.set_of_slot(400), Some("set1"));
    assert_eq!(count_and_sum(&c).await, before);

    let out = c.setwise(&["shard", "moves", "--json"]).await.unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let moves = v.as_array().unwrap();
    assert_eq!(moves.len(), 3, "{v}");
    for m in moves {
        assert_eq!(m["phase"], "done", "{m}");
        assert_eq!(m["finished"], true);
    }
    // Done moves cannot be cancelled.
    let id = moves[2]["id"].as_str().unwrap();
    let out = c
        .setwise(&["shard", "moves", "--cancel", id])
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(texts(&out).1.contains("already flipped"));
}
