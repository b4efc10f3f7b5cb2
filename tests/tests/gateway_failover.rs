//! The gateway's side of failover, against 2 sets × (primary + 1 replica). The
//! routing changes the scheduler makes are simulated by writing the topo records
//! directly: `writes_blocked` on a set, a fence (epoch bump, primary demoted: the set
//! has no primary), the publication of a new primary (promoted by hand here).
//!
//! The gateway runs with `--failover-wait-ms 1500`. Whether it has seen a routing
//! change is read from its routing cache file, written on every change.

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::cluster::{wait_accepting, PROGRAM_READY_TIMEOUT};
use setwise_tests::process::ChildGuard;
use setwise_tests::sql::{expect, rows, scalar};
use setwise_tests::{bins, wait_until, Cluster};
use topo::slot::slot_of_int;
use topo::{ClusterSnapshot, DatabaseRecord, NodeRecord, Role, SetRecord};

/// The gateway's `failover_wait_ms` in these tests.
const FAILOVER_WAIT: Duration = Duration::from_millis(1500);
/// Bound for the gateway to follow a routing change.
const FOLLOW: Duration = Duration::from_secs(15);

struct Fx {
    c: Cluster,
    _proxy: ChildGuard,
    db: DatabaseRecord,
}

/// The cluster, its gateway restarted with a short failover wait, and
/// `user_db.users` (sharded by `user_id`) on both sets.
async fn fixture() -> Fx {
    let mut c = Cluster::builder()
        .sets(2)
        .replicas(1)
        .proxy(true)
        .start()
        .await
        .unwrap();
    c.kill_proxy();
    let config = c.work_dir().join("proxy.toml");
    let args = [
        "--config".to_string(),
        config.display().to_string(),
        "--failover-wait-ms".to_string(),
        FAILOVER_WAIT.as_millis().to_string(),
    ];
    let mut proxy = c.spawn(bins::PROXY, "proxy-failover", &args).unwrap();
    wait_accepting(&mut proxy, c.proxy_port(), PROGRAM_READY_TIMEOUT)
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE user_db").await.unwrap();
    conn.query_drop(
        "CREATE TABLE user_db.users (user_id BIGINT PRIMARY KEY, name VARCHAR(64)) shardkey=user_id",
    )
    .await
    .unwrap();
    conn.disconnect().await.unwrap();
    let db = c.topo().get_db("user_db").await.unwrap().unwrap().value;
    Fx {
        c,
        _proxy: proxy,
        db,
    }
}

impl Fx {
    /// The `n`-th id (from 1) whose row lives on `set`.
    fn id_on(&self, set: &str, n: usize) -> i64 {
        (1..)
            .filter(|&id| {
                let slot = slot_of_int(id as i128, self.db.shard_map.slots);
                self.db.shard_map.set_of_slot(slot) == Some(set)
            })
            .nth(n - 1)
            .unwrap()
    }

    async fn conn(&self) -> Conn {
        self.c.proxy_conn().await.unwrap()
    }

    async fn set_record(&self, set: &str) -> SetRecord {
        self.c.topo().get_set(set).await.unwrap().unwrap()
    }

    /// Writes node `id`'s record with `role`.
    async fn node_role(&self, id: &str, role: Role) {
        let set = id.split('-').next().unwrap();
        self.c
            .topo()
            .put_node(&NodeRecord {
                id: id.to_string(),
                set: set.to_string(),
                host: "127.0.0.1".into(),
                port: self.c.node(id).port(),
                role,
                rejoin: None,
            })
            .await
            .unwrap();
    }

    /// Waits until the gateway's routing (its cache file) satisfies `f`.
    async fn gateway_sees(&self, what: &str, f: impl Fn(&ClusterSnapshot) -> bool) {
        let path = self.c.work_dir().join("proxy-routing.json");
        wait_until(&format!("the gateway to see {what}"), FOLLOW, || {
            let ok = ClusterSnapshot::load(&path).is_ok_and(|s| f(&s));
            async move { Ok(ok) }
        })
        .await
        .unwrap();
    }

    /// Fences `set` as the scheduler does: epoch + 1 and its primary demoted (the
    /// set has no primary); waits until the gateway follows. Returns the new epoch.
    async fn fence(&self, set: &str, old_primary: &str) -> u64 {
        let mut rec = self.set_record(set).await;
        rec.epoch += 1;
        self.c.topo().put_set(&rec).await.unwrap();
        self.node_role(old_primary, Role::Replica).await;
        let epoch = rec.epoch;
        self.gateway_sees(&format!("{set} fenced"), |s| {
            s.sets[set].epoch == epoch && s.primary_of(set).is_none()
        })
        .await;
        epoch
    }

    /// Makes replica `id` a writable primary by hand (what the agent's `promote`
    /// does), after it applied everything of its primary.
    async fn promote_by_hand(&self, set: &str, id: &str) {
        let k: usize = id.rsplit('n').next().unwrap().parse().unwrap();
        self.c
            .set(set)
            .catch_up(k, 0, Duration::from_secs(30))
            .await
            .unwrap();
        self.c
            .node(id)
            .exec("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0")
            .await
            .unwrap();
    }
}

impl Fx {
    /// A switchover of set1 from `set1-n0` to `set1-n1` done by hand: the old
    /// primary read-only (and still up), fence, promote, publish; waits until the
    /// gateway follows.
    async fn switch_set1_by_hand(&self) {
        self.c
            .node("set1-n0")
            .exec("SET GLOBAL read_only = 1")
            .await
            .unwrap();
        self.fence("set1", "set1-n0").await;
        self.promote_by_hand("set1", "set1-n1").await;
        self.node_role("set1-n1", Role::Primary).await;
        self.gateway_sees("set1-n1 as set1's primary", |s| {
            s.primary_of("set1").is_some_and(|n| n.id == "set1-n1")
        })
        .await;
    }
}

/// The gateway's connections (pooled and pipelined) open on `node`.
async fn gateway_conns(node: &setwise_tests::MariaDb) -> anyhow::Result<i64> {
    node.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'setwise_proxy'")
        .await
        .map(|v| v.unwrap_or_default().parse::<i64>().unwrap_or(0))
}

/// The server error (code, SQLSTATE, message) of a failed statement.
fn server_err(e: &mysql_async::Error) -> (u16, String, String) {
    match e {
        mysql_async::Error::Server(s) => (s.code, s.state.clone(), s.message.clone()),
        other => panic!("expected an error packet, got {other}"),
    }
}

async fn count(node: &setwise_tests::MariaDb, where_: &str) -> i64 {
    node.scalar(&format!(
        "SELECT COUNT(*) FROM user_db.users WHERE {where_}"
    ))
    .await
    .unwrap()
    .unwrap()
    .parse()
    .unwrap()
}

#[tokio::test]
async fn blocked_writes_are_refused_reads_go_on() {
    let fx = fixture().await;
    let k = fx.id_on("set1", 1);
    let other = fx.id_on("set2", 1);
    let mut conn = fx.conn().await;
    conn.query_drop(format!(
        "INSERT INTO user_db.users VALUES ({k}, 'a'), ({other}, 'b')"
    ))
    .await
    .unwrap();

    let reason = "no replica acknowledges commits (test)";
    let mut rec = fx.set_record("set1").await;
    rec.writes_blocked = Some(reason.into());
    fx.c.topo().put_set(&rec).await.unwrap();
    fx.gateway_sees("set1's writes blocked", |s| {
        s.sets["set1"].writes_blocked.is_some()
    })
    .await;

    for sql in [
        format!("UPDATE user_db.users SET name = 'x' WHERE user_id = {k}"),
        format!(
            "INSERT INTO user_db.users VALUES ({}, 'y')",
            fx.id_on("set1", 2)
        ),
    ] {
        let e = conn.query_drop(&sql).await.unwrap_err();
        let (code, state, msg) = server_err(&e);
        assert_eq!((code, state.as_str()), (1290, "HY000"), "{sql}: {msg}");
        assert_eq!(msg, format!("Set 'set1' refuses writes: {reason}"));
    }
    // Reads keep working, on the blocked set too; the other set takes writes.
    let q = format!("SELECT user_id, name FROM user_db.users WHERE user_id = {k}");
    assert_eq!(
        rows(&mut conn, &q).await.unwrap(),
        expect(&[&[&k.to_string(), "a"]])
    );
    conn.query_drop(format!(
        "UPDATE user_db.users SET name = 'b2' WHERE user_id = {other}"
    ))
    .await
    .unwrap();
    // In a transaction: the read works, the write is refused, nothing else breaks.
    conn.query_drop("BEGIN").await.unwrap();
    assert_eq!(rows(&mut conn, &q).await.unwrap().len(), 1);
    let e = conn
        .query_drop(format!(
            "UPDATE user_db.users SET name = 'x' WHERE user_id = {k}"
        ))
        .await
        .unwrap_err();
    assert_eq!(server_err(&e).0, 1290);
    conn.query_drop("ROLLBACK").await.unwrap();

    // Cleared: writes go through again.
    rec.writes_blocked = None;
    fx.c.topo().put_set(&rec).await.unwrap();
    fx.gateway_sees("set1's writes allowed", |s| {
        s.sets["set1"].writes_blocked.is_none()
    })
    .await;
    conn.query_drop(format!(
        "UPDATE user_db.users SET name = 'z' WHERE user_id = {k}"
    ))
    .await
    .unwrap();
    assert_eq!(
        fx.c.node("set1-n0")
            .scalar(&format!(
                "SELECT name FROM user_db.users WHERE user_id = {k}"
            ))
            .await
            .unwrap()
            .as_deref(),
        Some("z")
    );
}

#[tokio::test]
async fn a_commit_hung_on_acknowledgement_ends_when_writes_are_blocked() {
    let fx = fixture().await;
    let k = fx.id_on("set1", 1);
    let primary = fx.c.node("set1-n0");
    let replica = fx.c.node("set1-n1");
    // A strong set whose only replica stopped: every commit waits for an
    // acknowledgement that never comes.
    primary
        .exec("SET GLOBAL rpl_semi_sync_master_timeout = 4294967295")
        .await
        .unwrap();
    replica.exec("STOP SLAVE").await.unwrap();
    wait_until(
        "set1-n0 to lose its semi-sync replica",
        FOLLOW,
        move || async move {
            let v = primary
                .query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")
                .await?;
            Ok(v[0][1].as_deref() == Some("0"))
        },
    )
    .await
    .unwrap();

    let mut conn = fx.conn().await;
    let insert = format!("INSERT INTO user_db.users VALUES ({k}, 'hung')");
    let write = tokio::spawn(async move {
        let r = conn.query_drop(insert).await;
        (r, Instant::now())
    });
    // The commit is waiting on the primary.
    wait_until(
        "the INSERT to wait for an acknowledgement",
        FOLLOW,
        move || async move {
            let n = primary
                .scalar(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE USER = 'setwise_proxy' AND INFO LIKE 'INSERT INTO user_db.users%'",
                )
                .await?;
            Ok(n.as_deref() != Some("0"))
        },
    )
    .await
    .unwrap();
    assert!(
        !write.is_finished(),
        "the INSERT cannot commit without a replica"
    );

    let mut rec = fx.set_record("set1").await;
    rec.writes_blocked = Some("no replica acknowledges commits".into());
    fx.c.topo().put_set(&rec).await.unwrap();
    let blocked_at = Instant::now();
    let (r, ended) = tokio::time::timeout(FOLLOW, write)
        .await
        .expect("the hung INSERT ends once writes are blocked")
        .unwrap();
    let (code, state, msg) = server_err(&r.unwrap_err());
    assert_eq!((code, state.as_str()), (1105, "08S01"), "{msg}");
    assert!(msg.contains("unknown"), "the outcome is unknown: {msg}");
    assert!(
        ended.duration_since(blocked_at) < Duration::from_secs(5),
        "ended {:?} after the block",
        ended.duration_since(blocked_at)
    );

    // Let the set recover.
    replica.exec("START SLAVE").await.unwrap();
    rec.writes_blocked = None;
    fx.c.topo().put_set(&rec).await.unwrap();
    fx.gateway_sees("set1's writes allowed", |s| {
        s.sets["set1"].writes_blocked.is_none()
    })
    .await;
    let mut conn = fx.conn().await;
    conn.query_drop(format!("REPLACE INTO user_db.users VALUES ({k}, 'after')"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_write_waits_for_the_new_primary() {
    let fx = fixture().await;
    let k1 = fx.id_on("set1", 1);
    let k2 = fx.id_on("set1", 2);
    let mut conn = fx.conn().await;
    conn.query_drop(format!("INSERT INTO user_db.users VALUES ({k1}, 'before')"))
        .await
        .unwrap();

    // Nobody is promoted: the write fails, retryably, after about the wait.
    fx.fence("set1", "set1-n0").await;
    let start = Instant::now();
    let e = conn
        .query_drop(format!("INSERT INTO user_db.users VALUES ({k2}, 'x')"))
        .await
        .unwrap_err();
    let took = start.elapsed();
    let (code, state, msg) = server_err(&e);
    assert_eq!((code, state.as_str()), (1105, "08S01"), "{msg}");
    assert!(msg.contains("failing over"), "{msg}");
    assert!(
        took >= FAILOVER_WAIT - Duration::from_millis(100) && took < FAILOVER_WAIT * 3,
        "failed after {took:?}, the wait is {FAILOVER_WAIT:?}"
    );
    // Reads of the set wait and fail alike; the other set is unaffected.
    let e = conn
        .query_drop(format!("SELECT * FROM user_db.users WHERE user_id = {k1}"))
        .await
        .unwrap_err();
    assert_eq!(server_err(&e).0, 1105);
    let other = fx.id_on("set2", 1);
    conn.query_drop(format!("INSERT INTO user_db.users VALUES ({other}, 'o')"))
        .await
        .unwrap();

    // Promoted within the wait: the write goes to the new primary.
    fx.promote_by_hand("set1", "set1-n1").await;
    let insert = format!("INSERT INTO user_db.users VALUES ({k2}, 'waited')");
    let write = tokio::spawn(async move {
        let r = conn.query_drop(insert).await;
        (r, conn)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !write.is_finished(),
        "the write waits while the set has no primary"
    );
    fx.node_role("set1-n1", Role::Primary).await;
    let (r, mut conn) = tokio::time::timeout(FOLLOW, write).await.unwrap().unwrap();
    r.expect("the write waited for the new primary");
    let new = fx.c.node("set1-n1");
    let old = fx.c.node("set1-n0");
    assert_eq!(count(new, &format!("user_id = {k2}")).await, 1);
    assert_eq!(count(old, &format!("user_id = {k2}")).await, 0);
    // Reads are served by the new primary (which has the old rows).
    assert_eq!(
        rows(
            &mut conn,
            &format!("SELECT name FROM user_db.users WHERE user_id IN ({k1}, {k2}) ORDER BY name")
        )
        .await
        .unwrap(),
        expect(&[&["before"], &["waited"]])
    );
}

#[tokio::test]
async fn a_transaction_across_an_epoch_change_is_fenced() {
    let fx = fixture().await;
    let a = fx.id_on("set1", 1);
    let b = fx.id_on("set2", 1);
    let mut conn = fx.conn().await;

    // The next statement after the change.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!("INSERT INTO user_db.users VALUES ({a}, 't1')"))
        .await
        .unwrap();
    conn.query_drop(format!("INSERT INTO user_db.users VALUES ({b}, 't1')"))
        .await
        .unwrap();
    let mut rec = fx.set_record("set1").await;
    rec.epoch += 1;
    fx.c.topo().put_set(&rec).await.unwrap();
    let epoch = rec.epoch;
    fx.gateway_sees("set1's new epoch", |s| s.sets["set1"].epoch == epoch)
        .await;
    let e = conn
        .query_drop(format!("SELECT * FROM user_db.users WHERE user_id = {b}"))
        .await
        .unwrap_err();
    let (code, state, msg) = server_err(&e);
    assert_eq!((code, state.as_str()), (1213, "40001"), "{msg}");
    assert!(msg.contains("set1") && msg.contains("changed"), "{msg}");
    // Rolled back on both sets; the session goes on outside a transaction.
    assert_eq!(
        count(fx.c.node("set1-n0"), &format!("user_id = {a}")).await,
        0
    );
    assert_eq!(
        count(fx.c.node("set2-n0"), &format!("user_id = {b}")).await,
        0
    );
    assert_eq!(
        scalar(&mut conn, "SELECT COUNT(*) FROM user_db.users")
            .await
            .unwrap()
            .as_deref(),
        Some("0")
    );

    // At COMMIT.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!("INSERT INTO user_db.users VALUES ({a}, 't2')"))
        .await
        .unwrap();
    conn.query_drop(format!("INSERT INTO user_db.users VALUES ({b}, 't2')"))
        .await
        .unwrap();
    let mut rec = fx.set_record("set2").await;
    rec.epoch += 1;
    fx.c.topo().put_set(&rec).await.unwrap();
    let epoch = rec.epoch;
    fx.gateway_sees("set2's new epoch", |s| s.sets["set2"].epoch == epoch)
        .await;
    let e = conn.query_drop("COMMIT").await.unwrap_err();
    let (code, state, msg) = server_err(&e);
    assert_eq!((code, state.as_str()), (1213, "40001"), "{msg}");
    assert!(msg.contains("set2"), "{msg}");
    assert_eq!(count(fx.c.node("set1-n0"), "TRUE").await, 0);
    assert_eq!(count(fx.c.node("set2-n0"), "TRUE").await, 0);

    // A transaction begun under the new epochs commits.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop(format!(
        "INSERT INTO user_db.users VALUES ({a}, 't3'), ({b}, 't3')"
    ))
    .await
    .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(fx.c.node("set1-n0"), "name = 't3'").await, 1);
    assert_eq!(count(fx.c.node("set2-n0"), "name = 't3'").await, 1);
}

#[tokio::test]
async fn after_a_switchover_nothing_lands_on_the_old_primary() {
    let fx = fixture().await;
    let ids: Vec<i64> = (1..=4).map(|n| fx.id_on("set1", n)).collect();
    let old = fx.c.node("set1-n0");
    let new = fx.c.node("set1-n1");
    // Several sessions, so the pool to set1's primary holds several connections.
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(fx.conn().await);
    }
    futures::future::join_all(
        conns.iter_mut().zip(&ids).map(|(c, id)| {
            c.query_drop(format!("INSERT INTO user_db.users VALUES ({id}, 'before')"))
        }),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .unwrap();
    assert!(
        gateway_conns(old).await.unwrap() > 0,
        "pooled connections to set1-n0"
    );

    // Switchover: old primary read-only, fence, promote, publish.
    fx.switch_set1_by_hand().await;

    // The pools to the old primary are closed...
    wait_until(
        "the gateway's connections to set1-n0 to close",
        FOLLOW,
        move || async move { Ok(gateway_conns(old).await? == 0) },
    )
    .await
    .unwrap();
    // ...and every statement, in the sessions of before and new ones, runs on the new.
    let new_id = new.server_id().to_string();
    for c in conns.iter_mut() {
        for id in &ids {
            let got = scalar(
                c,
                &format!("SELECT @@server_id FROM user_db.users WHERE user_id = {id}"),
            )
            .await
            .unwrap();
            assert_eq!(got.as_deref(), Some(new_id.as_str()), "read of {id}");
        }
    }
    let more: Vec<i64> = (5..=8).map(|n| fx.id_on("set1", n)).collect();
    for (c, id) in conns.iter_mut().zip(&more) {
        c.query_drop(format!("INSERT INTO user_db.users VALUES ({id}, 'after')"))
            .await
            .unwrap();
    }
    let mut fresh = fx.conn().await;
    fresh
        .query_drop(format!(
            "UPDATE user_db.users SET name = 'updated' WHERE user_id IN ({}, {})",
            ids[0], ids[1]
        ))
        .await
        .unwrap();
    assert_eq!(count(new, "name = 'after'").await, 4);
    assert_eq!(count(new, "name = 'updated'").await, 2);
    assert_eq!(count(old, "name IN ('after', 'updated')").await, 0);
    assert_eq!(
        gateway_conns(old).await.unwrap(),
        0,
        "no connection to set1-n0 again"
    );
}

#[tokio::test]
async fn point_reads_move_to_the_new_primary() {
    let fx = fixture().await;
    let ids: Vec<i64> = (1..=4).map(|n| fx.id_on("set1", n)).collect();
    let old = fx.c.node("set1-n0");
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(fx.conn().await);
    }
    let values: Vec<String> = ids.iter().map(|id| format!("({id}, 'before')")).collect();
    conns[0]
        .query_drop(format!(
            "INSERT INTO user_db.users VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    // Point reads from every session, text and prepared, several rounds (the plan
    // cache then sends them down the pipelined path).
    async fn read_all(conns: &mut [Conn], ids: &[i64], want: &str) {
        for round in 0..3 {
            let reads = conns.iter_mut().enumerate().map(|(i, c)| async move {
                let id = ids[i % ids.len()];
                let got: Option<String> = if (round + i) % 2 == 0 {
                    c.exec_first("SELECT name FROM user_db.users WHERE user_id = ?", (id,))
                        .await
                        .unwrap()
                } else {
                    c.query_first(format!(
                        "SELECT name FROM user_db.users WHERE user_id = {id}"
                    ))
                    .await
                    .unwrap()
                };
                (id, got)
            });
            for (id, got) in futures::future::join_all(reads).await {
                assert_eq!(got.as_deref(), Some(want), "read of {id}");
            }
        }
    }
    read_all(&mut conns, &ids, "before").await;

    // Switchover; the old primary stays up (read-only) with the old rows.
    fx.switch_set1_by_hand().await;
    wait_until(
        "the gateway's connections to set1-n0 (pooled and pipelined) to close",
        FOLLOW,
        move || async move { Ok(gateway_conns(old).await? == 0) },
    )
    .await
    .unwrap();
    // Rows changed on the new primary only: a read served by the old one would
    // still say 'before'.
    conns[1]
        .query_drop(format!(
            "UPDATE user_db.users SET name = 'after' WHERE user_id IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ))
        .await
        .unwrap();
    read_all(&mut conns, &ids, "after").await;
    assert_eq!(count(old, "name = 'after'").await, 0);
}
