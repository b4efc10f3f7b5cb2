//! The gateway without etcd: it keeps serving from the routing it has, starts
//! from its last-good routing file when etcd is unreachable, refuses what needs
//! etcd (schema changes) with a clear error, and follows etcd again once it is
//! back.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::Cluster;

/// Bound for any wait in this test.
const WAIT: Duration = Duration::from_secs(30);

async fn setup(c: &Cluster) {
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO shop.t (id, v) VALUES (1, 10), (2, 20), (3, 30), (4, 40)")
        .await
        .unwrap();
}

async fn sum(c: &Cluster) -> i64 {
    let mut conn = c.proxy_conn().await.unwrap();
    let s: String = conn
        .query_first("SELECT SUM(v) FROM shop.t")
        .await
        .unwrap()
        .unwrap();
    s.parse().unwrap()
}

#[tokio::test]
async fn gateway_serves_and_starts_while_etcd_is_down() {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    setup(&c).await;
    assert_eq!(sum(&c).await, 100);

    c.etcd_mut().kill();
    // Reads on every set and writes on one set keep working from the routing in
    // memory.
    let mut conn = c.proxy_conn().await.unwrap();
    for id in 1..=4 {
        conn.query_drop(format!("UPDATE shop.t SET v = v + 1 WHERE id = {id}"))
            .await
            .unwrap();
    }
    assert_eq!(sum(&c).await, 104);
    // A write on several sets records its decision on the coordinator set
    // (`[xa] decisions = "sets"`, once recovery created the decision table: at
    // the gateway's start) and commits; before that table exists the decision
    // goes to etcd, and the write is refused clearly. Either way, all or nothing.
    let total = match conn.query_drop("UPDATE shop.t SET v = v + 100").await {
        Ok(()) => 504,
        Err(err) => {
            assert!(err.to_string().contains("etcd is unreachable"), "{err}");
            104
        }
    };
    assert_eq!(sum(&c).await, total);
    // Schema changes need etcd: a clear error, promptly.
    let started = std::time::Instant::now();
    let err = conn
        .query_drop("CREATE TABLE shop.u (id INT PRIMARY KEY) shardkey=id")
        .await
        .unwrap_err();
    assert!(started.elapsed() < WAIT, "DDL without etcd hung");
    let msg = err.to_string();
    assert!(
        msg.contains("etcd is unreachable"),
        "DDL without etcd: {msg}"
    );
    drop(conn);

    // A gateway started while etcd is down serves from its routing file.
    c.kill_proxy();
    tokio::time::timeout(WAIT, c.start_proxy())
        .await
        .expect("gateway start without etcd hung")
        .unwrap();
    assert_eq!(sum(&c).await, total);
    let mut conn = c.proxy_conn().await.unwrap();
    let row: Option<(i64, i64)> = conn
        .query_first("SELECT id, v FROM shop.t WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(row, Some((3, 31 + (total - 104) / 4)));
    drop(conn);

    // etcd back: the gateway follows it again (a new table becomes routable).
    c.etcd_mut().restart().await.unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut conn = c.proxy_conn().await.unwrap();
        match conn
            .query_drop("CREATE TABLE shop.u (id INT PRIMARY KEY, w INT) shardkey=id")
            .await
        {
            Ok(()) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("DDL after etcd came back: {e}"),
        }
    }
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("INSERT INTO shop.u (id, w) VALUES (1, 1), (2, 2), (3, 3)")
        .await
        .unwrap();
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.u")
        .await
        .unwrap();
    assert_eq!(n, Some(3));
}
