//! Session statements across sets, as one plain MariaDB behaves:
//! * `START TRANSACTION READ ONLY` refuses writes on every set with 1792 (25006) while
//!   reads and COMMIT work; `READ WRITE` and a plain `BEGIN` write; `START SLAVE`-like
//!   statements are not taken for a transaction start;
//! * `KILL QUERY` stops a statement running on several sets at once (1317), and the
//!   connection lives on; a join the gateway runs itself too.

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;

/// Two sets, no replicas, the gateway, and `shop.t` (sharded by `id`) with ids 1..=20.
async fn shop() -> (Cluster, mysql_async::Conn) {
    let c = Cluster::two_sets_with_gateway().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 0)")).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    (c, conn)
}

#[tokio::test]
async fn kill_query_stops_a_statement_on_every_set() {
    let (c, mut killer) = shop().await;
    killer
        .query_drop("CREATE TABLE shop.c (k INT PRIMARY KEY); INSERT INTO shop.c VALUES (0)")
        .await
        .unwrap();
    // How many sets run the statement at once: a merged read runs on all sets
    // together; a plain scatter and an autocommit write across sets (a distributed
    // transaction) go set after set.
    for (sql, at_once) in [
        ("SELECT SLEEP(30) AS s, id FROM shop.t ORDER BY id", 2),
        ("SELECT SLEEP(30) FROM shop.t", 1),
        ("UPDATE shop.t SET v = SLEEP(30)", 1),
        // A join the gateway runs itself (shop.c is a single table): its sides
        // run on the sets at once.
        (
            "SELECT t.id, SLEEP(30) + t.v AS s, c.k FROM shop.t t JOIN shop.c c ON c.k = t.v",
            2,
        ),
    ] {
        let mut victim = c.proxy_conn().await.unwrap();
        let id: Option<u32> = victim.query_first("SELECT CONNECTION_ID()").await.unwrap();
        let id = id.unwrap();
        let run = tokio::spawn(async move {
            let r = victim.query_drop(sql).await;
            (r, victim)
        });
        let cl = &c;
        setwise_tests::wait_until(
            "the statement to run",
            Duration::from_secs(10),
            || async move {
                let mut k = cl.proxy_conn().await?;
                let rows: Vec<mysql_async::Row> = k.query("SHOW PROCESSLIST").await?;
                k.disconnect().await?;
                Ok(rows.iter().any(|r| {
                    r.get::<u32, _>(0) == Some(id)
                        && r.get::<String, _>(4).as_deref() == Some("Query")
                }))
            },
        )
        .await
        .unwrap();
        // Every set runs its part.
        setwise_tests::wait_until(
            "the sets to run it",
            Duration::from_secs(10),
            || async move {
                let mut running = 0;
                for set in ["set1", "set2"] {
                    let n = cl
                        .primary(set)
                        .scalar(
                            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                         WHERE INFO LIKE '%SLEEP(30)%' AND INFO NOT LIKE '%PROCESSLIST%'",
                        )
                        .await?;
                    if n.as_deref() != Some("0") {
                        running += 1;
                    }
                }
                Ok(running >= at_once)
            },
        )
        .await
        .unwrap();
        let t = Instant::now();
        killer.query_drop(format!("KILL QUERY {id}")).await.unwrap();
        let (r, mut victim) = tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .unwrap_or_else(|_| panic!("{sql}: not interrupted within 10 s"))
            .unwrap();
        assert!(t.elapsed() < Duration::from_secs(10), "{sql}");
        if let Err(e) = r {
            assert_eq!(server_error(&e).map(|(c, _)| c), Some(1317), "{sql}: {e}");
        }
        let one: Option<i64> = victim.query_first("SELECT 1").await.unwrap();
        assert_eq!(one, Some(1), "{sql}: the connection lives on");
    }
}

#[tokio::test]
async fn read_only_transactions_refuse_writes_on_every_set() {
    let (_c, mut conn) = shop().await;
    conn.query_drop("START TRANSACTION READ ONLY")
        .await
        .unwrap();
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.t")
        .await
        .unwrap();
    assert_eq!(n, Some(20));
    for id in 1..=20 {
        let e = conn
            .query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {id}"))
            .await
            .unwrap_err();
        assert_eq!(
            server_error(&e),
            Some((1792, "25006".to_string())),
            "id {id}: {e}"
        );
    }
    let e = conn
        .query_drop("UPDATE shop.t SET v = 1")
        .await
        .unwrap_err();
    assert_eq!(server_error(&e), Some((1792, "25006".to_string())), "{e}");
    conn.query_drop("COMMIT").await.unwrap();
    let changed: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.t WHERE v <> 0")
        .await
        .unwrap();
    assert_eq!(changed, Some(0));

    // READ WRITE (and the next plain BEGIN) write again.
    conn.query_drop("START TRANSACTION READ WRITE")
        .await
        .unwrap();
    conn.query_drop("UPDATE shop.t SET v = 2").await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE shop.t SET v = v + 1 WHERE id = 7")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    let sum: Option<i64> = conn.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(41));

    // Not a transaction start: what follows still autocommits (ROLLBACK undoes nothing).
    let r = conn.query_drop("START SLAVE").await;
    assert!(
        r.is_err(),
        "START SLAVE through the gateway must not succeed"
    );
    conn.query_drop("UPDATE shop.t SET v = 100 WHERE id = 1")
        .await
        .unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    let v: Option<i64> = conn
        .query_first("SELECT v FROM shop.t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(v, Some(100), "START SLAVE opened a transaction");
}

/// Sessions with states of their own (a user variable with a new value each, a
/// time zone) share the sets' `max_connections` with every other session: the
/// gateway must not keep a connection open per state it ever saw (pipelined
/// point reads kept one per state for good; idle pools of such states kept theirs
/// for a minute), and when a set refuses a connection as full, what it keeps idle
/// for other states goes first. With room for 30 more connections per set, 96
/// sessions of distinct states, 8 at a time, all get their answers, each its own.
#[tokio::test]
async fn sessions_of_distinct_states_do_not_use_up_the_sets_connections() {
    let (c, _conn) = shop().await;
    for set in c.set_names() {
        let mut root = c.primary(&set).conn().await.unwrap();
        let now: Option<(String, u64)> = root
            .query_first("SHOW STATUS LIKE 'Threads_connected'")
            .await
            .unwrap();
        let max = now.unwrap().1 + 30;
        root.query_drop(format!("SET GLOBAL max_connections = {max}"))
            .await
            .unwrap();
    }
    let tasks: Vec<_> = (0..8u64)
        .map(|t| {
            let opts = c.proxy_opts("app", "app", Some("shop"));
            tokio::spawn(async move {
                let mut failures = Vec::new();
                for n in 0..12u64 {
                    let v = t * 1000 + n;
                    let mut s = mysql_async::Conn::new(opts.clone()).await.unwrap();
                    let tz = format!("+0{}:00", n % 10);
                    let steps = [
                        format!("SET @v = {v}, time_zone = '{tz}'"),
                        format!(
                            "SELECT @v, @@time_zone, id FROM t WHERE id = {}",
                            1 + n % 20
                        ),
                        "SELECT @v, @@time_zone, COUNT(*) FROM t".to_string(),
                    ];
                    for sql in &steps {
                        match s.query::<mysql_async::Row, _>(sql.as_str()).await {
                            Ok(rows) if sql.starts_with("SET") => assert!(rows.is_empty()),
                            Ok(rows) => {
                                let got: Option<(u64, String)> =
                                    rows.first().map(|r| (r.get(0).unwrap(), r.get(1).unwrap()));
                                if got != Some((v, tz.clone())) {
                                    failures.push(format!("{sql}: {got:?}"));
                                }
                            }
                            Err(e) => failures.push(format!("{sql}: {e}")),
                        }
                    }
                    s.disconnect().await.unwrap();
                }
                failures
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
}

/// A set holding `max_prepared_stmt_count` statements over all its connections
/// refuses new ones (1461) to everyone; the gateway's idle connections (here
/// of sessions with states of their own, each keeping its cached statements)
/// are what fills it. The gateway closes them and prepares again: 12 sessions
/// of distinct states, 5 statements each, with room for 30 statements per set
/// and 4 cached per connection, all answered.
#[tokio::test]
async fn a_set_full_of_prepared_statements_gets_the_idle_ones_closed() {
    let mut c = Cluster::two_sets_without_gateway().await;
    c.set_proxy_backend("stmt_cache = 4");
    c.start_proxy().await.expect("start the gateway");
    drop(
        c.create_shop(&[
            setwise_tests::shop::SHOP_T,
            "INSERT INTO shop.t VALUES (1, 1), (2, 2), (3, 3), (4, 4)",
        ])
        .await,
    );
    for set in c.set_names() {
        let mut root = c.primary(&set).conn().await.unwrap();
        root.query_drop("SET GLOBAL max_prepared_stmt_count = 30")
            .await
            .unwrap();
    }
    let mut failures = Vec::new();
    for n in 0..12u32 {
        let mut s = mysql_async::Conn::new(c.proxy_opts("app", "app", Some("shop")))
            .await
            .unwrap();
        s.query_drop(format!("SET @s = {n}")).await.unwrap();
        s.query_drop("BEGIN").await.unwrap();
        for j in 0..5u32 {
            let sql = format!("SELECT id, v + {j} FROM t WHERE id = ?");
            match s.exec::<(i64, i64), _, _>(sql.as_str(), (1,)).await {
                Ok(rows) if rows == vec![(1, 1 + j as i64)] => {}
                other => failures.push(format!("session {n}, {sql}: {other:?}")),
            }
        }
        let scatter = format!("SELECT id FROM t WHERE v > ? + {n}");
        if let Err(e) = s.exec::<i64, _, _>(scatter.as_str(), (0,)).await {
            failures.push(format!("session {n}, {scatter}: {e}"));
        }
        s.query_drop("COMMIT").await.unwrap();
        s.disconnect().await.unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        failures.first()
    );
}
