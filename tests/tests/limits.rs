//! Limits (`[limits]` of the gateway's config), with MariaDB's errors:
//! * over `max_connections` and over `max_connections_per_address`, 1040 in place
//!   of the handshake (the bytes MariaDB 10.11 sends); over `max_user_connections`,
//!   1203 after authentication; places are given back when connections end;
//! * `SET @@session.wait_timeout = 1` then idle: the gateway closes the connection
//!   and its open transaction is rolled back (its row locks released); the value
//!   is the session's own (`SELECT @@wait_timeout`); a handshake never completed
//!   is dropped after `connect_timeout`;
//! * `max_statement_time` (session and `SET STATEMENT ... FOR`) stops the
//!   statement on the sets, single-set and scatter, with MariaDB's 1969 exactly
//!   as one plain MariaDB answers it;
//! * a client packet over `max_allowed_packet`: 1153 (08S01) as MariaDB sends it,
//!   and the connection is closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::mariadb::{MariaDb, NodeOptions};
use setwise_tests::raw::{self, RawConn};
use setwise_tests::workdir::WorkDir;
use setwise_tests::Cluster;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// What MariaDB 10.11 sends in place of its greeting when over max_connections.
const TOO_MANY: &[u8] = b"\x17\x00\x00\x00\xff\x10\x04Too many connections";

/// Two sets, the gateway with `[limits]` = `limits`, and `shop.t` (ids 1..=20).
async fn shop(limits: &str) -> Cluster {
    let mut c = Cluster::two_sets_without_gateway().await;
    c.set_proxy_extra(&format!("[limits]\n{limits}\n"));
    c.start_proxy().await.expect("start the gateway");
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 0)")).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    c
}

/// A TCP connection to the gateway from `source` and the first bytes it sends
/// (the greeting, or an error in its place).
async fn raw(c: &Cluster, source: &str) -> (TcpStream, Vec<u8>) {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{source}:0").parse::<SocketAddr>().unwrap())
        .unwrap();
    let mut stream = s.connect(c.proxy_addr().parse().unwrap()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("the gateway answers a new connection")
        .unwrap();
    buf.truncate(n);
    (stream, buf)
}

fn is_greeting(b: &[u8]) -> bool {
    b.len() > 5 && b[4] == 10
}

fn error_of(e: &mysql_async::Error) -> (u16, String, String) {
    match e {
        mysql_async::Error::Server(s) => (s.code, s.state.clone(), s.message.clone()),
        other => panic!("not a server error: {other:?}"),
    }
}

/// A raw client of `app` from `source`: authenticated, or the server's error.
async fn app_from(c: &Cluster, source: &str) -> Result<RawConn, raw::ServerError> {
    RawConn::connect(c.proxy_addr().parse().unwrap(), Some(source), "app", "app")
        .await
        .expect("the gateway answers")
}

fn too_many() -> raw::ServerError {
    (1040, "08004".into(), "Too many connections".into())
}

#[tokio::test]
async fn connection_limits_overall_per_address_and_per_user() {
    let c = shop("max_connections = 4\nmax_connections_per_address = 2\nmax_user_connections = 3")
        .await;
    // Per address: two; a third is refused once authenticated (as MariaDB
    // refuses an account without CONNECTION ADMIN over max_connections) ...
    let u1 = app_from(&c, "127.0.0.1").await.unwrap();
    let u2 = app_from(&c, "127.0.0.1").await.unwrap();
    assert_eq!(app_from(&c, "127.0.0.1").await.err(), Some(too_many()));
    // ... which the mariadb CLI shows as MariaDB's own.
    let out = std::process::Command::new("mariadb")
        .args([
            "-h127.0.0.1",
            "-uapp",
            "-papp",
            "--skip-ssl",
            "-e",
            "SELECT 1",
        ])
        .arg(format!("-P{}", c.proxy_port()))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "ERROR 1040 (08004): Too many connections"
    );
    // One more than the limit waits in the handshake; beyond, the bytes MariaDB
    // sends in place of its greeting.
    let (g1, first) = raw(&c, "127.0.0.1").await;
    assert!(is_greeting(&first), "{first:?}");
    let (_g2, first) = raw(&c, "127.0.0.1").await;
    assert_eq!(first, TOO_MANY, "over max_connections_per_address");
    drop(g1);
    // Per user: three (from other addresses); a fourth gets 1203 once authenticated.
    let u3 = app_from(&c, "127.0.0.2").await.unwrap();
    let e = app_from(&c, "127.0.0.3").await.err();
    assert_eq!(
        e,
        Some((
            1203,
            "42000".into(),
            "User app already has more than 'max_user_connections' active connections".into()
        ))
    );
    // Overall: four, one more waits in the handshake, beyond refused.
    let (_g3, first) = raw(&c, "127.0.0.3").await;
    assert!(is_greeting(&first), "{first:?}");
    let (_g4, first) = raw(&c, "127.0.0.4").await;
    assert!(is_greeting(&first), "{first:?}");
    let (_g5, first) = raw(&c, "127.0.0.5").await;
    assert_eq!(first, TOO_MANY, "over max_connections");
    // Connections that end give their places back.
    drop((u1, u2, u3, _g2, _g3, _g4, _g5));
    let cl = &c;
    setwise_tests::wait_until(
        "places to be given back",
        Duration::from_secs(10),
        || async {
            let a = app_from(cl, "127.0.0.1").await.is_ok();
            let b = app_from(cl, "127.0.0.1").await.is_ok();
            Ok(a && b)
        },
    )
    .await
    .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    let one: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
}

/// One plain MariaDB with `shop.t` like the gateway's, and max_allowed_packet = 1 MiB.
async fn reference() -> (WorkDir, MariaDb, Conn) {
    let dir = WorkDir::new("limitsref").unwrap();
    let mut opts = NodeOptions::primary(false);
    opts.extra_args.push("--max-allowed-packet=1048576".into());
    let db = MariaDb::start("reference", dir.path(), 901, opts)
        .await
        .unwrap();
    let mut conn = Conn::new(db.root_opts()).await.unwrap();
    conn.query_drop(
        "CREATE DATABASE shop; CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT); \
         USE shop; INSERT INTO shop.t SELECT seq, 0 FROM seq_1_to_20",
    )
    .await
    .unwrap();
    (dir, db, conn)
}

#[tokio::test]
async fn timeouts_and_packet_size() {
    let (c, (_dir, rf_db, mut rf)) = tokio::join!(
        shop("connect_timeout = 1\nmax_allowed_packet = 1048576\ninteractive_timeout = 1"),
        reference()
    );
    let mut gw = c.proxy_conn().await.unwrap();

    // ---- max_statement_time, per session and per statement -------------------------------
    for sql in [
        // one set
        "SELECT SLEEP(3) FROM shop.t WHERE id = 1",
        // both sets
        "SELECT SLEEP(3) FROM shop.t",
        "SELECT id, SLEEP(3) AS s FROM shop.t ORDER BY id",
    ] {
        for (session, text) in [
            (true, sql.to_string()),
            (
                false,
                format!("SET STATEMENT max_statement_time = 0.5 FOR {sql}"),
            ),
        ] {
            let set = if session { "0.5" } else { "0" };
            let q = format!("SET SESSION max_statement_time = {set}");
            gw.query_drop(&q).await.unwrap();
            rf.query_drop(&q).await.unwrap();
            let started = Instant::now();
            let e_gw = gw.query_drop(&text).await.unwrap_err();
            assert!(
                started.elapsed() < Duration::from_millis(2500),
                "{text}: stopped on the sets ({:?})",
                started.elapsed()
            );
            let e_rf = rf.query_drop(&text).await.unwrap_err();
            assert_eq!(error_of(&e_gw), error_of(&e_rf), "{text}");
            assert_eq!(error_of(&e_gw).0, 1969, "{text}");
            // The session's own value is back after SET STATEMENT.
            let now: Option<String> = gw.query_first("SELECT @@max_statement_time").await.unwrap();
            let want: Option<String> = rf.query_first("SELECT @@max_statement_time").await.unwrap();
            assert_eq!(now, want, "{text}");
        }
    }
    gw.query_drop("SET SESSION max_statement_time = 0")
        .await
        .unwrap();
    // Inside a transaction: its branch connection gets it, and gets it back.
    gw.query_drop("BEGIN").await.unwrap();
    gw.query_drop("SELECT v FROM shop.t WHERE id = 1")
        .await
        .unwrap();
    let e = gw
        .query_drop(
            "SET STATEMENT max_statement_time = 0.5 FOR SELECT SLEEP(3) FROM shop.t WHERE id = 1",
        )
        .await
        .unwrap_err();
    assert_eq!(error_of(&e).0, 1969);
    let s: Option<i64> = gw
        .query_first("SELECT SLEEP(1) FROM shop.t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(s, Some(0), "the branch is back to no limit");
    gw.query_drop("ROLLBACK").await.unwrap();

    // ---- max_allowed_packet ---------------------------------------------------------------
    // The bytes of the answer (sequence id included), then the connection closes.
    async fn oversized(addr: SocketAddr, user: &str, password: &str) -> (u8, Vec<u8>, bool) {
        let mut conn = RawConn::connect(addr, None, user, password)
            .await
            .unwrap()
            .unwrap();
        let big = format!("SELECT LENGTH('{}')", "a".repeat(2 << 20));
        // The server may close before reading it all.
        let _ = conn.send_query(big.as_bytes()).await;
        let answer = conn.read().await.unwrap();
        let mut rest = [0u8; 16];
        let closed = matches!(
            tokio::time::timeout(Duration::from_secs(10), conn.stream.read(&mut rest)).await,
            Ok(Ok(0) | Err(_))
        );
        (answer.0, answer.1, closed)
    }
    let from_gw = oversized(c.proxy_addr().parse().unwrap(), "app", "app").await;
    let from_rf = oversized(rf_db.addr().parse().unwrap(), "root", "").await;
    assert_eq!(from_gw, from_rf);
    assert_eq!(
        raw::parse_err(&from_gw.1),
        Some((
            1153,
            "08S01".into(),
            "Got a packet bigger than 'max_allowed_packet' bytes".into()
        ))
    );
    assert!(from_gw.2, "closed");
    // Up to the limit is fine.
    let fits = format!("SELECT LENGTH('{}')", "a".repeat(1000 * 1000));
    let n: Option<i64> = gw.query_first(&fits).await.unwrap();
    assert_eq!(n, Some(1_000_000));

    // ---- wait_timeout -----------------------------------------------------------------------
    let mut idle = c.proxy_conn().await.unwrap();
    let id: Option<u32> = idle.query_first("SELECT CONNECTION_ID()").await.unwrap();
    idle.query_drop("BEGIN").await.unwrap();
    idle.query_drop("UPDATE shop.t SET v = 1 WHERE id = 1")
        .await
        .unwrap();
    idle.query_drop("SET @@session.wait_timeout = 1")
        .await
        .unwrap();
    let row: Option<(u64, u64)> = idle
        .query_first("SELECT @@wait_timeout, @@session.interactive_timeout")
        .await
        .unwrap();
    assert_eq!(row, Some((1, 1)), "interactive_timeout = 1 in the config");
    let cols: Vec<mysql_async::Row> = idle.query("SELECT @@wait_timeout").await.unwrap();
    assert_eq!(cols[0].columns_ref()[0].name_str(), "@@wait_timeout");
    // SHOW VARIABLES too shows the session's values, not the backend connection's.
    let shown: Vec<(String, String)> = idle
        .query("SHOW SESSION VARIABLES WHERE Variable_name IN ('wait_timeout', 'interactive_timeout', 'lock_wait_timeout')")
        .await
        .unwrap();
    assert_eq!(shown.len(), 3, "{shown:?}");
    for (name, value) in &shown {
        let want = if name == "lock_wait_timeout" {
            "86400"
        } else {
            "1"
        };
        assert_eq!(value, want, "{shown:?}");
    }
    // Idle: closed by the gateway, the transaction rolled back.
    let cl = &c;
    setwise_tests::wait_until(
        "the idle connection to close",
        Duration::from_secs(10),
        || async {
            let mut k = cl.proxy_conn().await?;
            let rows: Vec<mysql_async::Row> = k.query("SHOW PROCESSLIST").await?;
            k.disconnect().await?;
            Ok(!rows.iter().any(|r| r.get::<u32, _>(0) == id))
        },
    )
    .await
    .unwrap();
    assert!(idle.query_drop("SELECT 1").await.is_err());
    gw.query_drop("SET SESSION innodb_lock_wait_timeout = 3")
        .await
        .unwrap();
    let v: Option<i64> = gw
        .query_first("SELECT v FROM shop.t WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    assert_eq!(v, Some(0), "rolled back, its lock released");
    // The sets' connections never saw it: pooled connections stay open.
    let w: Option<u64> = gw.query_first("SELECT @@wait_timeout").await.unwrap();
    assert_eq!(w, Some(28800));

    // An interactive client (CLIENT_INTERACTIVE) starts at interactive_timeout.
    let mut cli = RawConn::connect_with(c.proxy_addr().parse().unwrap(), None, "app", "app", 0x400)
        .await
        .unwrap()
        .unwrap();
    let rows = cli.query("SELECT @@wait_timeout").await.unwrap().unwrap();
    assert_eq!(rows, vec![vec![Some("1".to_string())]]);
    let mut rest = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), cli.stream.read(&mut rest))
        .await
        .expect("an idle interactive client is closed after interactive_timeout");
    assert_eq!(n.unwrap_or(0), 0);

    // ---- connect_timeout: a handshake that never completes is dropped ----------------------
    let (mut stream, first) = raw(&c, "127.0.0.1").await;
    assert!(is_greeting(&first));
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("closed within connect_timeout");
    assert_eq!(n.unwrap_or(0), 0);
}
