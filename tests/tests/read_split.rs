//! Read/write split (README "Read/write split", `proxy/src/split/`): real sets with
//! replicas, their agents reporting health (no scheduler: nothing repoints a
//! replica a test stopped), and the gateway. Which node answered a read is told
//! by `@@port` read through the gateway.
//!
//! * a user created `--reads replica`, the `/*slave*/` hint and `SET
//!   setwise_read_from` send plain reads to replicas, spread over both; a
//!   transaction, autocommit off, `FOR UPDATE` go to the primary; `setwise user
//!   reads` changes it for an existing user;
//! * a replica whose SQL thread is stopped gets no reads, and again once it runs;
//!   one lagging more than `max_replica_lag_ms` (1 s) gets none either;
//! * read-your-writes: sessions writing concurrently (single-set and XA
//!   multi-set writes) always read their own last write back;
//! * a replica killed (SIGKILL) while reads run on it: each read answers or fails
//!   cleanly, none hangs, and later reads are answered by the others;
//! * replicas stopped (SIGSTOP) under a read: it is answered by the primary.

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use setwise_tests::control::ControlPlane;
use setwise_tests::load::ids_of_set;
use setwise_tests::{wait_until, Cluster};

const WAIT: Duration = Duration::from_secs(30);
const RO_USER: &str = "ro";

/// A cluster of `sets` sets (primary + `replicas` replicas each) with the
/// gateway, `shop.t` sharded by `id`, an agent per node and a user `ro`
/// created `--reads replica`; returns once a replica answers `ro`'s reads.
async fn start(sets: usize, replicas: usize) -> (Cluster, ControlPlane) {
    let c = Cluster::with_shop_t(sets, replicas).await;
    let out = c
        .setwise(&[
            "user",
            "add",
            RO_USER,
            "--password",
            RO_USER,
            "--host",
            "127.0.0.0/8",
            "--reads",
            "replica",
        ])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cp = c.start_control_plane(0).await.unwrap();
    let replicas = replica_ports(&c, "set1");
    wait_until("a replica answers the replica-read user", WAIT, || {
        let c = &c;
        let replicas = &replicas;
        async move {
            let mut ro = ro_conn(c).await?;
            Ok(replicas.contains(&port_of(&mut ro, "SELECT @@port").await?))
        }
    })
    .await
    .unwrap();
    (c, cp)
}

async fn ro_conn(c: &Cluster) -> anyhow::Result<Conn> {
    let opts = c.proxy_opts(RO_USER, RO_USER, Some("shop"));
    Ok(tokio::time::timeout(Duration::from_secs(10), Conn::new(opts)).await??)
}

/// The port of the node that answered `sql` (its first column is `@@port`).
async fn port_of(conn: &mut Conn, sql: &str) -> anyhow::Result<u16> {
    let p: Option<u16> = tokio::time::timeout(Duration::from_secs(10), conn.query_first(sql))
        .await
        .map_err(|_| anyhow::anyhow!("{sql} timed out"))??;
    p.ok_or_else(|| anyhow::anyhow!("{sql}: no row"))
}

fn replica_ports(c: &Cluster, set: &str) -> BTreeSet<u16> {
    let primary = c.primary(set).name().to_string();
    c.set(set)
        .nodes()
        .iter()
        .filter(|n| n.name() != primary)
        .map(|n| n.port())
        .collect()
}

/// Ports answering `sql` over `n` runs.
async fn ports(conn: &mut Conn, sql: &str, n: usize) -> BTreeSet<u16> {
    let mut out = BTreeSet::new();
    for _ in 0..n {
        out.insert(port_of(conn, sql).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_go_to_replicas_when_asked() {
    let (c, _cp) = start(1, 2).await;
    let primary = c.primary("set1").port();
    let replicas = replica_ports(&c, "set1");
    let only_primary = BTreeSet::from([primary]);

    // The replica-read user: plain reads spread over both replicas.
    let mut ro = ro_conn(&c).await.unwrap();
    ro.query_drop("INSERT INTO t (id, v) VALUES (1, 10)")
        .await
        .unwrap();
    assert_eq!(ports(&mut ro, "SELECT @@port", 10).await, replicas);
    // A parenthesized SELECT and a WITH ... SELECT are plain reads too: only
    // replicas answer them.
    for sql in [
        "(SELECT @@port)",
        "WITH p AS (SELECT @@port AS port) SELECT port FROM p",
    ] {
        let answered = ports(&mut ro, sql, 10).await;
        assert!(
            !answered.is_empty() && answered.is_subset(&replicas),
            "{sql}: {answered:?}"
        );
    }
    let v: Option<String> = ro.query_first("SELECT @@setwise_read_from").await.unwrap();
    assert_eq!(v.as_deref(), Some("replica"));
    // Its own write is read back wherever the read goes.
    let row: Option<(i64, u16)> = ro
        .query_first("SELECT v, @@port FROM t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(row.map(|r| r.0), Some(10));
    // Locking reads, transactions and autocommit off: the primary.
    assert_eq!(
        ports(&mut ro, "SELECT @@port FROM t WHERE id = 1 FOR UPDATE", 4).await,
        only_primary
    );
    assert_eq!(
        ports(
            &mut ro,
            "SELECT @@port FROM t WHERE id = 1 LOCK IN SHARE MODE",
            4
        )
        .await,
        only_primary
    );
    ro.query_drop("BEGIN").await.unwrap();
    assert_eq!(ports(&mut ro, "SELECT @@port", 4).await, only_primary);
    ro.query_drop("COMMIT").await.unwrap();
    ro.query_drop("SET autocommit = 0").await.unwrap();
    assert_eq!(ports(&mut ro, "SELECT @@port", 4).await, only_primary);
    ro.query_drop("SET autocommit = 1").await.unwrap();
    // The session variable overrides the user's setting.
    ro.query_drop("SET setwise_read_from = 'primary'")
        .await
        .unwrap();
    assert_eq!(ports(&mut ro, "SELECT @@port", 4).await, only_primary);
    ro.query_drop("SET setwise_read_from = DEFAULT")
        .await
        .unwrap();
    assert!(replicas.contains(&port_of(&mut ro, "SELECT @@port").await.unwrap()));

    // Another user reads from primaries, except with the hint or the variable.
    let mut app = c.proxy_conn().await.unwrap();
    app.query_drop("USE shop").await.unwrap();
    assert_eq!(ports(&mut app, "SELECT @@port", 4).await, only_primary);
    let v: Option<String> = app.query_first("SELECT @@setwise_read_from").await.unwrap();
    assert_eq!(v.as_deref(), Some("primary"));
    let hinted = ports(&mut app, "/*slave*/ SELECT @@port FROM t WHERE id = 1", 10).await;
    assert_eq!(hinted, replicas);
    let hinted = ports(&mut app, "SELECT /* slave */ @@port", 10).await;
    assert_eq!(hinted, replicas);
    app.query_drop("SET SESSION setwise_read_from = 'replica'")
        .await
        .unwrap();
    assert_eq!(ports(&mut app, "SELECT @@port", 10).await, replicas);
    let e = app
        .query_drop("SET setwise_read_from = 'nowhere'")
        .await
        .unwrap_err();
    assert_eq!(
        setwise_tests::sql::server_error(&e),
        Some((1231, "42000".into()))
    );
    // Prepared statements too.
    let p: Option<(i64, u16)> = app
        .exec_first("SELECT v, @@port FROM t WHERE id = ?", (1,))
        .await
        .unwrap();
    let (v, port) = p.unwrap();
    assert_eq!(v, 10);
    assert!(replicas.contains(&port), "{port}");
    // A write is never sent to a replica.
    app.query_drop("/*slave*/ UPDATE t SET v = 11 WHERE id = 1")
        .await
        .unwrap();

    // `setwise user add` again without --reads keeps the user's setting;
    // `setwise user reads` changes it.
    let out = c
        .setwise(&[
            "user",
            "add",
            RO_USER,
            "--password",
            RO_USER,
            "--host",
            "127.0.0.0/8",
        ])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let rec = c.topo().get_user(RO_USER).await.unwrap().unwrap();
    assert_eq!(rec.reads, topo::Reads::Replica);
    let out = c
        .setwise(&["user", "reads", RO_USER, "primary"])
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_until("ro reads from the primary", WAIT, || {
        let c = &c;
        async move {
            let mut ro = ro_conn(c).await?;
            Ok(port_of(&mut ro, "SELECT @@port").await? == primary)
        }
    })
    .await
    .unwrap();
    let out = c.setwise(&["user", "list"]).await.unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(list.contains("READS"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replica_with_stopped_sql_thread_is_skipped() {
    let (c, _cp) = start(1, 2).await;
    let replicas = replica_ports(&c, "set1");
    let stopped = c.node("set1-n1");
    let other = c.node("set1-n2").port();
    stopped.exec("STOP SLAVE SQL_THREAD").await.unwrap();
    wait_until("set1-n1 reported not applying", WAIT, || async {
        let h = c.topo().list_health().await?;
        Ok(h.iter()
            .any(|r| r.node == "set1-n1" && r.slave_sql_running == Some(false)))
    })
    .await
    .unwrap();
    // Rows written meanwhile are not on it; no read may come from it.
    let mut app = c.proxy_conn().await.unwrap();
    for id in 1..=5 {
        app.query_drop(format!("INSERT INTO shop.t (id, v) VALUES ({id}, {id})"))
            .await
            .unwrap();
    }
    // Another session's write is seen on the running replica once it applied it.
    let applying = c.node("set1-n2");
    wait_until("set1-n2 applied the rows", WAIT, || async {
        let n = applying
            .scalar("SELECT COUNT(*) FROM shop.t WHERE id BETWEEN 1 AND 5")
            .await?;
        Ok(n.as_deref() == Some("5"))
    })
    .await
    .unwrap();
    let mut ro = ro_conn(&c).await.unwrap();
    for id in 1..=5 {
        for _ in 0..4 {
            let row: Option<(i64, u16)> = ro
                .query_first(format!("SELECT v, @@port FROM t WHERE id = {id}"))
                .await
                .unwrap();
            let (v, port) = row.expect("the row");
            assert_eq!(v, id);
            assert_eq!(
                port, other,
                "read of {id} from a replica that does not apply"
            );
        }
    }
    // Running again, it gets reads again.
    stopped.exec("START SLAVE SQL_THREAD").await.unwrap();
    wait_until("set1-n1 answers reads again", WAIT, || {
        let c = &c;
        let replicas = &replicas;
        async move {
            let mut ro = ro_conn(c).await?;
            let mut seen = BTreeSet::new();
            for _ in 0..6 {
                seen.insert(port_of(&mut ro, "SELECT @@port").await?);
            }
            Ok(&seen == replicas)
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_read_their_own_writes() {
    // Two sets: a write on both is one XA transaction, one GTID per set.
    let (c, _cp) = start(2, 1).await;
    let a: Vec<i64> = ids_of_set(&c, "shop", "t", "set1")
        .await
        .unwrap()
        .take(4)
        .collect();
    let b: Vec<i64> = ids_of_set(&c, "shop", "t", "set2")
        .await
        .unwrap()
        .take(4)
        .collect();
    let mut app = c.proxy_conn().await.unwrap();
    for id in a.iter().chain(&b) {
        app.query_drop(format!("INSERT INTO shop.t (id, v) VALUES ({id}, 0)"))
            .await
            .unwrap();
    }
    let primaries = BTreeSet::from([c.primary("set1").port(), c.primary("set2").port()]);
    // Each replica applies in bursts: its SQL thread waits on a table lock held
    // most of the time, while it still counts as replicating with no lag — a
    // read sent there without read-your-writes would miss the session's write.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut stallers = Vec::new();
    for set in ["set1", "set2"] {
        let replica = c.set(set).nodes()[1].root_opts();
        let stop = stop.clone();
        stallers.push(tokio::spawn(async move {
            let mut conn = Conn::new(replica).await?;
            for _ in 0..1000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                conn.query_drop("LOCK TABLES shop.t READ").await?;
                tokio::time::sleep(Duration::from_millis(150)).await;
                conn.query_drop("UNLOCK TABLES").await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(())
        }));
    }
    const ROUNDS: i64 = 25;
    let mut tasks = Vec::new();
    for s in 0..4 {
        let (x, y) = (a[s], b[s]);
        let opts = c.proxy_opts(RO_USER, RO_USER, Some("shop"));
        let primaries = primaries.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(opts).await?;
            let mut on_replicas = 0;
            for i in 1..=ROUNDS {
                if i % 3 == 0 {
                    // Both sets in one (XA) write.
                    conn.query_drop(format!("UPDATE t SET v = {i} WHERE id IN ({x}, {y})"))
                        .await?;
                } else {
                    conn.query_drop(format!("UPDATE t SET v = {i} WHERE id = {x}"))
                        .await?;
                    conn.query_drop(format!("UPDATE t SET v = {i} WHERE id = {y}"))
                        .await?;
                }
                for id in [x, y] {
                    let row: Option<(i64, u16)> = conn
                        .query_first(format!("SELECT v, @@port FROM t WHERE id = {id}"))
                        .await?;
                    let (v, port) = row.ok_or_else(|| anyhow::anyhow!("row {id} missing"))?;
                    anyhow::ensure!(v == i, "session read {v} for row {id} after writing {i}");
                    if !primaries.contains(&port) {
                        on_replicas += 1;
                    }
                }
            }
            anyhow::Ok(on_replicas)
        }));
    }
    let mut on_replicas = 0;
    for t in tasks {
        on_replicas += tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .expect("a session hung")
            .unwrap()
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in stallers {
        t.await.unwrap().unwrap();
    }
    // Read-your-writes must not simply send every read to the primary.
    eprintln!("reads after a write answered by a replica: {on_replicas}");
    assert!(
        on_replicas > 0,
        "no read after a write was answered by a replica"
    );

    // Reads merged across sets: each set's rows from its replica, own writes seen.
    let mut ro = ro_conn(&c).await.unwrap();
    ro.query_drop("UPDATE t SET v = 100").await.unwrap();
    let rows: Vec<(i64, i64, u16)> = ro
        .query("SELECT id, v, @@port FROM t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.1 == 100), "{rows:?}");
    let replicas: BTreeSet<u16> = replica_ports(&c, "set1")
        .into_iter()
        .chain(replica_ports(&c, "set2"))
        .collect();
    wait_until(
        "a merged read answered by both sets' replicas",
        WAIT,
        || {
            let c = &c;
            let replicas = &replicas;
            async move {
                let mut ro = ro_conn(c).await?;
                let rows: Vec<(i64, u16)> = ro.query("SELECT v, @@port FROM t ORDER BY id").await?;
                let ports: BTreeSet<u16> = rows.iter().map(|r| r.1).collect();
                Ok(rows.iter().all(|r| r.0 == 100) && &ports == replicas)
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replica_killed_during_reads() {
    let (mut c, _cp) = start(1, 2).await;
    let victim = c.node("set1-n1").port();
    let mut app = c.proxy_conn().await.unwrap();
    app.query_drop("INSERT INTO shop.t (id, v) VALUES (1, 1)")
        .await
        .unwrap();
    // Other sessions' reads see a write once a replica applied it: wait for both.
    for port in replica_ports(&c, "set1") {
        let node = c
            .set("set1")
            .nodes()
            .iter()
            .find(|n| n.port() == port)
            .unwrap();
        wait_until("the replica applied the row", WAIT, || async move {
            Ok(node
                .scalar("SELECT v FROM shop.t WHERE id = 1")
                .await?
                .as_deref()
                == Some("1"))
        })
        .await
        .unwrap();
    }
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let done = std::sync::Arc::new(AtomicU32::new(0));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let opts = c.proxy_opts(RO_USER, RO_USER, Some("shop"));
        let (stop, done) = (stop.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut conn = Conn::new(opts).await?;
            let (mut ok, mut errors, mut seen) = (0u32, Vec::new(), BTreeSet::new());
            for _ in 0..400 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = tokio::time::timeout(
                    Duration::from_secs(10),
                    conn.query_first::<(i64, u16, i64), _>(
                        "SELECT v, @@port, SLEEP(0.02) FROM t WHERE id = 1",
                    ),
                )
                .await
                .map_err(|_| anyhow::anyhow!("a read hung"))?;
                match r {
                    Ok(Some((1, port, _))) => {
                        ok += 1;
                        seen.insert(port);
                    }
                    Ok(other) => anyhow::bail!("wrong answer {other:?}"),
                    // A clean MySQL error; the connection stays usable.
                    Err(mysql_async::Error::Server(e)) => errors.push((e.code, e.state)),
                    Err(e) => anyhow::bail!("not a clean error: {e}"),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok((ok, errors, seen))
        }));
    }
    // Whether `n` reads were done in time (else a reader stopped: its error
    // shows below).
    let reads_past = |n: u32| {
        let done = done.clone();
        async move {
            wait_until("reads running", WAIT, || {
                let done = done.clone();
                async move { Ok(done.load(Ordering::Relaxed) >= n) }
            })
            .await
            .is_ok()
        }
    };
    // Reads run on both replicas; one is killed under them; reads go on.
    let mut running = reads_past(40).await;
    c.kill_node("set1-n1");
    let at_kill = done.load(Ordering::Relaxed);
    running &= reads_past(at_kill + 80).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all_errors, mut seen) = (Vec::new(), BTreeSet::new());
    for r in readers {
        let (ok, errors, ports) = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("a reader hung")
            .unwrap()
            .unwrap();
        assert!(ok > 0);
        all_errors.extend(errors);
        assert!(running, "reads stopped");
        seen.extend(ports);
    }
    assert!(seen.contains(&victim), "no read ran on the replica killed");
    eprintln!("errors after the kill: {all_errors:?}");
    // A read that had begun to answer fails with a retryable error; one that
    // had not runs again elsewhere.
    assert!(
        all_errors
            .iter()
            .all(|(code, state)| *code == 1105 && state == "08S01"),
        "{all_errors:?}"
    );
    assert!(all_errors.len() <= 4, "{all_errors:?}");
    // Later reads: answered, by the others.
    let mut ro = ro_conn(&c).await.unwrap();
    for _ in 0..20 {
        let port = port_of(&mut ro, "SELECT @@port").await.unwrap();
        assert_ne!(port, victim);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replica_stopped_under_a_read() {
    let (c, _cp) = start(1, 2).await;
    let primary = c.primary("set1").port();
    let mut ro = ro_conn(&c).await.unwrap();
    // A read on a replica, both replicas stopped (SIGSTOP) while it runs: it is
    // answered by the primary once the gateway sees its replica no longer
    // answers, not left hanging.
    let read = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let r: Option<(i64, u16)> = ro.query_first("SELECT SLEEP(1), @@port").await?;
        anyhow::Ok((r, started.elapsed()))
    });
    wait_until("the read runs on a replica", WAIT, || async {
        for id in ["set1-n1", "set1-n2"] {
            let n = c
                .node(id)
                .scalar(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE INFO LIKE 'SELECT SLEEP(1)%'",
                )
                .await?;
            if n.as_deref() != Some("0") {
                return Ok(true);
            }
        }
        Ok(false)
    })
    .await
    .unwrap();
    for id in ["set1-n1", "set1-n2"] {
        c.node(id).pause(true).unwrap();
    }
    let r = tokio::time::timeout(Duration::from_secs(30), read).await;
    for id in ["set1-n1", "set1-n2"] {
        c.node(id).pause(false).unwrap();
    }
    let (row, took) = r.expect("the read hung").unwrap().unwrap();
    assert_eq!(row, Some((0, primary)), "after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lagging_replica_is_skipped() {
    let (c, _cp) = start(1, 2).await;
    let other = c.node("set1-n2").port();
    // set1-n1 keeps replicating but cannot apply: its SQL thread waits on a
    // table lock while a write's event gets older (Seconds_Behind_Master grows).
    let mut locker = c.node("set1-n1").conn().await.unwrap();
    locker.query_drop("LOCK TABLES shop.t READ").await.unwrap();
    let mut app = c.proxy_conn().await.unwrap();
    app.query_drop("INSERT INTO shop.t (id, v) VALUES (7, 7)")
        .await
        .unwrap();
    wait_until("set1-n1 reported lagging over 1 s", WAIT, || async {
        let h = c.topo().list_health().await?;
        Ok(h.iter().any(|r| {
            r.node == "set1-n1"
                && r.slave_sql_running == Some(true)
                && r.seconds_behind_master.is_some_and(|s| s >= 2)
        }))
    })
    .await
    .unwrap();
    let mut ro = ro_conn(&c).await.unwrap();
    for _ in 0..10 {
        let row: Option<(i64, u16)> = ro
            .query_first("SELECT v, @@port FROM t WHERE id = 7")
            .await
            .unwrap();
        assert_eq!(row, Some((7, other)), "a read from the lagging replica");
    }
    locker.query_drop("UNLOCK TABLES").await.unwrap();
}
