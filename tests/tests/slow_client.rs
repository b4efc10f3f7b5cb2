//! Slow clients: a client that sends a big SELECT and never reads its answer
//! holds the backend connections of that statement and a bounded buffer in the
//! gateway, never the whole result — for a plain scatter over both sets, a merge
//! over both sets (ORDER BY) and a single-set read. Meanwhile other sessions keep
//! working; once the client goes away, or after `[limits] net_write_timeout`
//! without reading, its session ends and the sets stop sending.

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use setwise_tests::raw::RawConn;
use setwise_tests::Cluster;

/// Rows of each table, and the bytes of each row's `pad`: 50 MB per table.
const ROWS: usize = 3200;
const PAD: usize = 16000;
/// The most the gateway's RSS may grow while a client does not read (the
/// result is 50 MB).
const BOUND_KB: u64 = 16 * 1024;

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn setup() -> Cluster {
    let mut c = Cluster::two_sets_without_gateway().await;
    c.set_proxy_extra("[limits]\nnet_write_timeout = 8\n");
    c.start_proxy().await.expect("start the gateway");
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.big (id BIGINT PRIMARY KEY, pad MEDIUMTEXT) shardkey=id")
        .await
        .unwrap();
    // A single table: on the database's home set only.
    conn.query_drop("CREATE TABLE shop.one (id BIGINT PRIMARY KEY, pad MEDIUMTEXT)")
        .await
        .unwrap();
    for table in ["big", "one"] {
        for batch in 0..ROWS / 200 {
            let values: Vec<String> = (1..=200)
                .map(|i| format!("({}, REPEAT('x', {PAD}))", batch * 200 + i))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO shop.{table} VALUES {}",
                values.join(",")
            ))
            .await
            .unwrap();
        }
    }
    conn.disconnect().await.unwrap();
    c
}

/// Statements from the gateway still running `needle` on the sets.
async fn running_on_sets(c: &Cluster, needle: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    for set in ["set1", "set2"] {
        let mut conn = mysql_async::Conn::new(c.primary(set).root_opts()).await?;
        let count: Option<usize> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE USER = 'setwise_proxy' AND INFO LIKE ?",
                (format!("%{needle}%"),),
            )
            .await?;
        conn.disconnect().await?;
        n += count.unwrap_or(0);
    }
    Ok(n)
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_bounded_memory() {
    let mut c = setup().await;
    let pid = c.proxy_process().unwrap().pid().unwrap();
    let addr = c.proxy_addr().parse().unwrap();
    let mut other = c.proxy_conn().await.unwrap();
    // (what, statement, whether the client goes away or stays, not reading)
    for (what, sql, leaves) in [
        ("scatter", "SELECT id, pad FROM shop.big", true),
        ("merge", "SELECT id, pad FROM shop.big ORDER BY id", false),
        ("single set", "SELECT id, pad FROM shop.one", true),
    ] {
        let mut slow = RawConn::connect(addr, None, "app", "app")
            .await
            .unwrap()
            .unwrap();
        let id = slow.query("SELECT CONNECTION_ID()").await.unwrap().unwrap()[0][0]
            .clone()
            .unwrap();
        let before = rss_kb(pid);
        slow.send_query(sql.as_bytes()).await.unwrap();
        // The sets are sending, the gateway is stuck writing to the client.
        let cl = &c;
        setwise_tests::wait_until("the sets to run it", Duration::from_secs(20), || async {
            Ok(running_on_sets(cl, "pad").await? > 0)
        })
        .await
        .unwrap();
        // Bounded while it stays unread (sampled for 3 s), and other sessions are served.
        let mut most = before;
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            most = most.max(rss_kb(pid));
            let started = Instant::now();
            let n: Option<usize> = other
                .query_first("SELECT COUNT(*) FROM shop.big WHERE id <= 100")
                .await
                .unwrap();
            assert_eq!(n, Some(100));
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{what}: another session waited {:?}",
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            most - before < BOUND_KB,
            "{what}: the gateway grew by {} KB for a client that does not read",
            most - before
        );
        // It goes away, or stays past net_write_timeout: its session ends, the
        // sets stop.
        let kept = if leaves {
            drop(slow);
            None
        } else {
            Some(slow)
        };
        setwise_tests::wait_until("the session to end", Duration::from_secs(30), || async {
            let rows: Vec<mysql_async::Row> =
                cl.proxy_conn().await?.query("SHOW PROCESSLIST").await?;
            let gone = !rows
                .iter()
                .any(|r| r.get::<u64, _>(0).map(|v| v.to_string()) == Some(id.clone()));
            Ok(gone && running_on_sets(cl, "pad").await? == 0)
        })
        .await
        .unwrap();
        drop(kept);
    }
    // Point reads pipelined by a client that reads none of the answers: they
    // share the gateway's pipelined connections with other sessions' point reads.
    let slow = RawConn::connect(addr, None, "app", "app")
        .await
        .unwrap()
        .unwrap();
    let before = rss_kb(pid);
    let mut burst = Vec::new();
    for k in 1..=2000 {
        let sql = format!("SELECT pad FROM shop.big WHERE id = {}", k % ROWS + 1);
        let mut p = vec![3u8];
        p.extend_from_slice(sql.as_bytes());
        burst.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
        burst.push(0);
        burst.extend_from_slice(&p);
    }
    // Written in the background: the gateway stops reading once it is stuck.
    let mut stream = slow.stream;
    let writer = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let _ = stream.write_all(&burst).await;
        stream
    });
    let mut most = before;
    for k in 0..15 {
        most = most.max(rss_kb(pid));
        let started = Instant::now();
        let v: Option<String> = other
            .query_first(format!(
                "SELECT LEFT(pad, 1) FROM shop.big WHERE id = {}",
                k + 1
            ))
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("x"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "point reads of another session waited {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        most - before < BOUND_KB,
        "pipelined: grew by {} KB",
        most - before
    );
    writer.abort();
    other.disconnect().await.unwrap();
}
