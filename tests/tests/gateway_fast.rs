//! The fast path for point reads (`proxy/src/exec/fast.rs`, `backend/mux.rs`):
//! autocommit SELECTs routed by one shard-key value share pipelined connections
//! and get MariaDB's answer forwarded raw. These tests check what a client sees:
//! * many sessions reading at once, text and prepared, each get their own rows
//!   (answers are never handed to the wrong session);
//! * column definitions equal those of the set's own MariaDB;
//! * warnings and errors of a point read are there for `SHOW WARNINGS` /
//!   `SHOW ERRORS` / `@@warning_count`, as on one server;
//! * an answer larger than one forwarding chunk arrives whole while other
//!   sessions read on the same connection.

use mysql_async::prelude::*;
use setwise_tests::cluster::{wait_accepting, PROGRAM_READY_TIMEOUT};
use setwise_tests::port::Port;
use setwise_tests::process::ChildGuard;
use setwise_tests::sql::server_error;
use setwise_tests::{bins, Cluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Shop {
    c: Cluster,
    _proxy: ChildGuard,
    /// The gateway's Prometheus endpoint.
    metrics: Port,
}

impl std::ops::Deref for Shop {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.c
    }
}

impl Shop {
    /// Point reads the gateway ran on a pipelined connection so far
    /// (`setwise_proxy_point_reads_total{outcome="pipelined"}`).
    async fn pipelined(&self) -> u64 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics.get()))
            .await
            .unwrap();
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).await.unwrap();
        body.lines()
            .find(|l| {
                l.starts_with("setwise_proxy_point_reads_total")
                    && l.contains("outcome=\"pipelined\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }
}

/// Two sets, the gateway (restarted with its metrics endpoint on), `shop.t
/// (id, v, s)` sharded by id with ids 1..=200.
async fn shop() -> (Shop, mysql_async::Conn) {
    let mut c = Cluster::two_sets_with_gateway().await;
    c.kill_proxy();
    let metrics = setwise_tests::port::reserve();
    let args = [
        "--config".to_string(),
        c.work_dir().join("proxy.toml").display().to_string(),
        "--metrics-listen".to_string(),
        format!("127.0.0.1:{}", metrics.get()),
    ];
    let mut proxy = c.spawn(bins::PROXY, "proxy-metrics", &args).unwrap();
    wait_accepting(&mut proxy, c.proxy_port(), PROGRAM_READY_TIMEOUT)
        .await
        .unwrap();
    let c = Shop {
        c,
        _proxy: proxy,
        metrics,
    };
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop(
        "CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT, s VARCHAR(40)) shardkey=id",
    )
    .await
    .unwrap();
    let values: Vec<String> = (1..=200)
        .map(|i| format!("({i}, {}, 'row-{i}-é')", i * 7))
        .collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    (c, conn)
}

#[tokio::test]
async fn concurrent_point_reads_each_get_their_own_rows() {
    let (c, _conn) = shop().await;
    let mut tasks = Vec::new();
    for worker in 0..8u64 {
        let opts = c.app_opts();
        tasks.push(tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(opts).await.unwrap();
            conn.query_drop("USE shop").await.unwrap();
            for i in 0..300u64 {
                let id = (worker * 37 + i * 13) % 200 + 1;
                let (v, s): (i64, String) = if i % 2 == 0 {
                    conn.exec_first("SELECT v, s FROM t WHERE id = ?", (id,))
                        .await
                        .unwrap()
                        .unwrap()
                } else {
                    conn.query_first(format!("SELECT v, s FROM t WHERE id = {id}"))
                        .await
                        .unwrap()
                        .unwrap()
                };
                assert_eq!(v, id as i64 * 7, "session {worker}, id {id}");
                assert_eq!(s, format!("row-{id}-é"), "session {worker}, id {id}");
                // A missing key: an empty answer, not somebody else's row.
                let none: Option<i64> = conn
                    .exec_first("SELECT v FROM t WHERE id = ?", (id + 1000,))
                    .await
                    .unwrap();
                assert_eq!(none, None);
            }
            conn.disconnect().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Most of these 4,800 reads (all but each shape's first, which is planned)
    // went down the pipelined path.
    let n = c.pipelined().await;
    assert!(n > 4_000, "only {n} point reads were pipelined");
}

#[tokio::test]
async fn point_read_columns_are_the_sets_own() {
    let (c, mut conn) = shop().await;
    let q = "SELECT id, v, s, v * 2 AS w FROM shop.t WHERE id = 5";
    // The first run plans it; the next ones come from the plan cache (fast path).
    // Six runs: a routing change still arriving from the setup (a loaded machine)
    // empties the plan cache once, and the run after it is planned again.
    for _ in 0..6 {
        let mut through = conn.query_iter(q).await.unwrap();
        let gw: Vec<String> = through
            .columns_ref()
            .iter()
            .map(|c| format!("{c:?}"))
            .collect();
        let rows: Vec<mysql_async::Row> = through.collect().await.unwrap();
        assert_eq!(rows.len(), 1);
        let mut direct = None;
        for set in c.set_names() {
            let mut d = c.primary(&set).conn().await.unwrap();
            let mut r = d.query_iter(q).await.unwrap();
            let cols: Vec<String> = r.columns_ref().iter().map(|c| format!("{c:?}")).collect();
            let n = r.collect::<mysql_async::Row>().await.unwrap().len();
            if n == 1 {
                direct = Some(cols);
            }
        }
        assert_eq!(Some(gw), direct);
    }
    assert!(c.pipelined().await >= 2, "the cached runs were pipelined");
}

#[tokio::test]
async fn warnings_and_errors_of_point_reads_are_kept() {
    let (c, mut conn) = shop().await;
    conn.query_drop("USE shop").await.unwrap();
    // Rounds until the cached runs went pipelined (a routing change under a
    // loaded machine may send one through a pooled connection), at most 10.
    for round in 0..10 {
        if round >= 3 && c.pipelined().await >= 6 {
            break;
        }
        let v: Option<i64> = conn
            .query_first("SELECT v FROM t WHERE id = '7x'")
            .await
            .unwrap();
        assert_eq!(v, Some(49), "round {round}");
        let count: Option<u32> = conn.query_first("SELECT @@warning_count").await.unwrap();
        assert_eq!(count, Some(1), "round {round}");
        let w: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS").await.unwrap();
        assert_eq!(w.len(), 1, "round {round}: {w:?}");
        assert_eq!(w[0].1, 1292, "round {round}: {w:?}");

        let e = conn
            .query_drop("SELECT nosuch FROM t WHERE id = 3")
            .await
            .unwrap_err();
        assert_eq!(
            server_error(&e).map(|s| s.0),
            Some(1054),
            "round {round}: {e}"
        );
        let errs: Vec<(String, u32, String)> = conn.query("SHOW ERRORS").await.unwrap();
        assert_eq!(errs.len(), 1, "round {round}: {errs:?}");
        assert_eq!(errs[0].1, 1054, "round {round}: {errs:?}");

        // A clean point read clears them, as a statement using a table does.
        let _: Option<i64> = conn
            .query_first("SELECT v FROM t WHERE id = 8")
            .await
            .unwrap();
        let w: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS").await.unwrap();
        assert!(w.is_empty(), "round {round}: {w:?}");
    }
    assert!(c.pipelined().await >= 6, "the cached runs were pipelined");
}

#[tokio::test]
async fn large_answers_arrive_whole_beside_other_reads() {
    let (c, mut conn) = shop().await;
    conn.query_drop(
        "CREATE TABLE shop.big (k INT, n INT, pad VARCHAR(200), PRIMARY KEY (k, n)) shardkey=k",
    )
    .await
    .unwrap();
    for chunk in 0..6 {
        let values: Vec<String> = (0..500)
            .map(|i| {
                let n = chunk * 500 + i;
                format!(
                    "(1, {n}, REPEAT('{}', 200))",
                    (b'a' + (n % 26) as u8) as char
                )
            })
            .collect();
        conn.query_drop(format!("INSERT INTO shop.big VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    // Point reads on the same sets while the large answers stream.
    let opts = c.app_opts();
    let others = tokio::spawn(async move {
        let mut o = mysql_async::Conn::new(opts).await.unwrap();
        for i in 0..400u64 {
            let id = i % 200 + 1;
            let v: Option<i64> = o
                .exec_first("SELECT v FROM shop.t WHERE id = ?", (id,))
                .await
                .unwrap();
            assert_eq!(v, Some(id as i64 * 7));
        }
    });
    for round in 0..4 {
        let rows: Vec<(i32, String)> = if round % 2 == 0 {
            conn.query("SELECT n, pad FROM shop.big WHERE k = 1 ORDER BY n")
                .await
                .unwrap()
        } else {
            conn.exec("SELECT n, pad FROM shop.big WHERE k = ? ORDER BY n", (1,))
                .await
                .unwrap()
        };
        assert_eq!(rows.len(), 3000, "round {round}");
        for (i, (n, pad)) in rows.iter().enumerate() {
            assert_eq!(*n as usize, i);
            let ch = (b'a' + (i % 26) as u8) as char;
            assert!(pad.len() == 200 && pad.chars().all(|c| c == ch), "row {i}");
        }
    }
    others.await.unwrap();
    assert!(c.pipelined().await >= 300, "the point reads were pipelined");
}
