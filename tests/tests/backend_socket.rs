//! The gateway's connections to a set's MariaDB on this host (`[backend]
//! prefer_socket`, on by default):
//! * with the server's Unix socket there, every connection of the gateway's user
//!   on the set — the pooled ones and the pipelined ones of point reads — comes
//!   through the socket (MariaDB shows its host as `localhost`), and answers are
//!   the set's;
//! * with the socket file gone, the gateway stays on TCP and answers the same;
//! * with `prefer_socket = false`, TCP even though the socket is there.

use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::Cluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Two sets without replicas, etcd, the metrics endpoint; the gateway not started.
async fn cluster() -> Cluster {
    Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy_metrics(true)
        .start()
        .await
        .expect("start 2 sets")
}

/// Point reads the gateway ran on a pipelined connection so far.
async fn pipelined(c: &Cluster) -> u64 {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", c.proxy_metrics_port()))
        .await
        .unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    body.lines()
        .filter(|l| {
            l.starts_with("setwise_proxy_point_reads_total") && l.contains("outcome=\"pipelined\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// `shop.t` sharded by id (ids 1..=100), then point reads (text and prepared) and
/// a scatter through the gateway, checked against the rows written.
async fn work(c: &Cluster) {
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=100).map(|i| format!("({i}, {})", i * 3)).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    for id in 1..=20i64 {
        let v: Option<i64> = conn
            .query_first(format!("SELECT v FROM shop.t WHERE id = {id}"))
            .await
            .unwrap();
        assert_eq!(v, Some(id * 3));
        let v: Option<i64> = conn
            .exec_first("SELECT v FROM shop.t WHERE id = ?", (id,))
            .await
            .unwrap();
        assert_eq!(v, Some(id * 3));
    }
    let sum: Option<i64> = conn.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(3 * 5050));
    let ids: Vec<i64> = conn
        .query("SELECT id FROM shop.t WHERE id BETWEEN 10 AND 19")
        .await
        .unwrap();
    let mut ids = ids;
    ids.sort();
    assert_eq!(ids, (10..=19).collect::<Vec<_>>());
    assert!(pipelined(c).await > 0, "point reads were pipelined");
}

/// Hosts of the gateway user's connections on every set's primary.
async fn gateway_hosts(c: &Cluster) -> Vec<String> {
    let mut hosts = Vec::new();
    for set in c.set_names() {
        let rows = c
            .primary(&set)
            .query("SELECT HOST FROM information_schema.PROCESSLIST WHERE USER = 'setwise_proxy'")
            .await
            .unwrap();
        hosts.extend(
            rows.into_iter()
                .filter_map(|r| r.into_iter().next().flatten()),
        );
    }
    hosts
}

/// Waits until every gateway connection on the sets is through the socket
/// (`unix`) or over TCP; a connection mysql_async just left for the socket may
/// take a moment to go.
async fn wait_all(c: &Cluster, unix: bool) {
    let what = if unix { "the socket" } else { "TCP" };
    let ok = setwise_tests::wait_until(
        &format!("every gateway connection on {what}"),
        Duration::from_secs(10),
        || async {
            let hosts = gateway_hosts(c).await;
            Ok(!hosts.is_empty() && hosts.iter().all(|h| (h == "localhost") == unix))
        },
    )
    .await;
    if ok.is_err() {
        panic!(
            "gateway connections not all on {what}: {:?}",
            gateway_hosts(c).await
        );
    }
}

#[tokio::test]
async fn connections_go_through_the_socket_when_there() {
    let mut c = cluster().await;
    c.start_proxy().await.unwrap();
    work(&c).await;
    wait_all(&c, true).await;
}

#[tokio::test]
async fn a_missing_socket_leaves_tcp() {
    let mut c = cluster().await;
    for set in c.set_names() {
        let sock = c.primary(&set).data_dir().join("mysqld.sock");
        std::fs::remove_file(&sock).unwrap();
    }
    c.start_proxy().await.unwrap();
    work(&c).await;
    wait_all(&c, false).await;
}

#[tokio::test]
async fn prefer_socket_off_stays_on_tcp() {
    let mut c = cluster().await;
    c.set_proxy_backend("prefer_socket = false");
    c.start_proxy().await.unwrap();
    work(&c).await;
    wait_all(&c, false).await;
}
