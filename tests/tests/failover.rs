//! End-to-end failover: real MariaDB sets, agents, schedulers and the gateway
//! (docs/failover.md). Each test runs its own small cluster (1 set: primary `set1-n0`,
//! replicas `set1-n1` and `set1-n2`) with the fast control plane of
//! [`setwise_tests::control`] (200 ms rounds, failover after 2 rounds, election TTL 2 s).
//!
//! * a killed primary under write load: failed over, no acknowledged write lost;
//! * a killed primary under point reads (pipelined): no wrong or hung read, reads resume;
//! * a killed agent of a healthy primary: no failover;
//! * a killed scheduler leader: a standby leads and fails over;
//! * a leader that died in the middle of a failover: the next one carries it on;
//! * etcd down: clients keep working, no failover; afterwards failover still works;
//! * an old primary coming back: rejoins, or is rebuilt when it holds a transaction
//!   nobody acknowledged;
//! * a switchover through `setwise switchover` under write load;
//! * a strong set without replicas refuses writes (1290) instead of hanging;
//! * a strong set that loses one of its two replicas keeps taking writes.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use setwise_tests::control::{
    describe, failovers_since, node_record, now_ms, primary_of, set_record, task_of,
    wait_failover_done, wait_leader, wait_not_reporting, wait_reporting, ControlPlane,
};
use setwise_tests::load::{
    ids_on, missing_on, table_dump, wait_all_on, wait_replicating_from, Writer,
};
use setwise_tests::shop::SHOP_T;
use setwise_tests::Cluster;
use topo::{FailoverKind, FailoverPhase, FailoverRecord, Rejoin, Role, SyncMode, Task, TaskState};

/// Bound of every wait for the control plane to act.
const WAIT: Duration = Duration::from_secs(30);
/// A rebuild copies the data over: more time.
const REBUILD_WAIT: Duration = Duration::from_secs(90);
/// The table every test writes.
const TABLE: &str = "shop.t";
const SET: &str = "set1";

/// A 1-set cluster (primary + 2 replicas) with the gateway, `shop.t` created through
/// it, and a control plane of `schedulers` schedulers. `sync`: the set's mode and
/// `semi_timeout_ms` (set before the agents start).
async fn start(schedulers: usize, sync: Option<(SyncMode, u64)>) -> (Cluster, ControlPlane) {
    let c = Cluster::with_gateway(1, 2).await;
    if let Some((mode, timeout)) = sync {
        let mut s = set_record(c.topo(), SET).await.unwrap();
        s.sync = mode;
        s.semi_timeout_ms = timeout;
        c.topo().put_set(&s).await.unwrap();
    }
    drop(c.create_shop(&[SHOP_T]).await);
    let cp = c.start_control_plane(schedulers).await.unwrap();
    (c, cp)
}

/// One autocommit write through a new gateway connection, bounded.
async fn write_once(c: &Cluster, id: i64) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut conn = c.proxy_conn().await?;
        conn.query_drop(format!("INSERT INTO {TABLE} (id, v) VALUES ({id}, 0)"))
            .await?;
        anyhow::Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("write {id} timed out"))?
}

/// Retries [`write_once`] (bounded) until one write with a fresh id succeeds.
async fn wait_writable(c: &Cluster, first_id: i64) {
    let mut id = first_id;
    setwise_tests::retry("a write through the gateway", WAIT, || {
        id += 1;
        write_once(c, id)
    })
    .await
    .unwrap();
}

/// `SELECT COUNT(*)` through the gateway, bounded.
async fn count_through_gateway(c: &Cluster) -> anyhow::Result<i64> {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut conn = c.proxy_conn().await?;
        let n: Option<i64> = conn
            .query_first(format!("SELECT COUNT(*) FROM {TABLE}"))
            .await?;
        anyhow::Ok(n.unwrap_or(0))
    })
    .await
    .map_err(|_| anyhow::anyhow!("read timed out"))?
}

/// The replica of set1 that is neither `a` nor `b`.
fn third(a: &str, b: &str) -> String {
    ["set1-n0", "set1-n1", "set1-n2"]
        .into_iter()
        .find(|n| *n != a && *n != b)
        .unwrap()
        .to_string()
}

/// kill -9 of the primary while a writer commits through the gateway: a failover
/// record `Done`, the new primary in routing, writes acknowledged again, every
/// acknowledged row on the new primary, the other replica following it.
#[tokio::test]
async fn killed_primary_under_write_load_fails_over_without_losing_acknowledged_writes() {
    let (mut c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    let w = Writer::start(c.app_opts(), TABLE, 1..);
    w.wait_acked(50, WAIT).await.unwrap();

    let since = now_ms();
    let killed = Instant::now();
    c.kill_node("set1-n0");
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    let new = rec.new_primary.clone().unwrap();
    assert_eq!(rec.kind, FailoverKind::Failover);
    assert_eq!(rec.old_primary, "set1-n0");
    assert_ne!(new, "set1-n0");
    let rto = w.wait_ack_after(killed, WAIT).await.unwrap();
    w.wait_acks_after(killed, 30, WAIT).await.unwrap();
    let log = w.stop().await;
    eprintln!(
        "failover {} -> {new}: detected+done in {} ms, writes held {} ms, first write after \
         the kill acknowledged after {rto:?}; {} writes acknowledged, {} failed ({:?})\n{}",
        rec.old_primary,
        rec.duration_ms().unwrap_or(0),
        rec.held_ms().unwrap_or(0),
        log.acks.len(),
        log.failures.len(),
        log.error_summary(3),
        describe(&rec)
    );

    // RPO 0: every acknowledged commit is on the new primary.
    let acked = log.acked_ids();
    let missing = missing_on(c.node(&new), TABLE, &acked).await.unwrap();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes missing on the new primary {new}: {:?}\n{}",
        missing.len(),
        &missing[..missing.len().min(20)],
        describe(&rec)
    );
    // The other replica replicates from the new primary and has every row.
    let other = third("set1-n0", &new);
    wait_replicating_from(c.node(&other), c.node(&new).port(), WAIT)
        .await
        .unwrap();
    wait_all_on(c.node(&other), TABLE, &acked, WAIT)
        .await
        .unwrap();
    assert_eq!(
        c.node(&new).scalar("SELECT @@read_only").await.unwrap(),
        Some("0".into())
    );
    assert!(
        rto < Duration::from_secs(20),
        "writes came back only after {rto:?}"
    );
}

/// The primary's agent dies, MariaDB is fine: its report expires, the scheduler's own
/// probe answers, nothing changes.
#[tokio::test]
async fn killed_agent_of_a_healthy_primary_causes_no_failover() {
    let (c, mut cp) = start(1, None).await;
    let topo = c.topo().clone();
    let epoch = set_record(&topo, SET).await.unwrap().epoch;
    let since = now_ms();
    cp.kill_agent("set1-n0");
    wait_not_reporting(&topo, "set1-n0", Duration::from_secs(15))
        .await
        .unwrap();
    // Deliberate window: 3 s = 15 monitor rounds with the primary's report gone.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let recs = failovers_since(&topo, SET, since).await.unwrap();
    assert!(
        recs.is_empty(),
        "unexpected operation: {}",
        recs.iter().map(describe).collect::<Vec<_>>().join("\n")
    );
    let op = topo.get_op(SET).await.unwrap();
    assert!(
        op.is_none(),
        "operation in progress: {}",
        describe(&op.unwrap().value)
    );
    assert_eq!(
        primary_of(&topo, SET).await.unwrap().as_deref(),
        Some("set1-n0")
    );
    assert_eq!(set_record(&topo, SET).await.unwrap().epoch, epoch);
    write_once(&c, 1).await.unwrap();
    assert_eq!(count_through_gateway(&c).await.unwrap(), 1);
}

/// The leading scheduler is killed: a standby leads within a few seconds (TTL 2 s)
/// and fails over a primary killed afterwards.
#[tokio::test]
async fn a_standby_scheduler_takes_over_and_fails_over() {
    let (mut c, mut cp) = start(2, None).await;
    let topo = c.topo().clone();
    let leader = wait_leader(&topo, None, WAIT).await.unwrap();
    let killed = Instant::now();
    cp.kill_scheduler(&leader);
    let next = wait_leader(&topo, Some(&leader), Duration::from_secs(10))
        .await
        .unwrap();
    eprintln!(
        "{next} leads {:?} after {leader} was killed",
        killed.elapsed()
    );
    assert!(cp.scheduler_ids().contains(&next), "leader {next}");

    write_once(&c, 1).await.unwrap();
    let since = now_ms();
    c.kill_node("set1-n0");
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    assert_eq!(rec.by, vec![next.clone()], "{}", describe(&rec));
    wait_writable(&c, 100).await;
    let new = rec.new_primary.unwrap();
    let have = ids_on(c.node(&new), TABLE).await.unwrap();
    assert!(have.contains(&1), "row 1 missing on {new}: {have:?}");
}

/// A scheduler leader died after fencing a dead primary (the routing demotes it, the
/// operation is recorded at phase `fenced`, nobody is promoted yet): the scheduler that
/// leads next finds the operation in `ops/` and carries it on to the end.
#[tokio::test]
async fn the_next_leader_carries_on_a_failover_in_progress() {
    let (mut c, mut cp) = start(0, None).await;
    let topo = c.topo().clone();
    write_once(&c, 1).await.unwrap();
    c.kill_node("set1-n0");
    // What the dead leader had done: fenced in routing, recorded at phase Fenced.
    let now = now_ms();
    let mut set = set_record(&topo, SET).await.unwrap();
    set.epoch += 1;
    topo.put_set(&set).await.unwrap();
    let mut old = node_record(&topo, SET, "set1-n0").await.unwrap();
    old.role = Role::Replica;
    old.rejoin = Some(Rejoin {
        new_primary: String::new(),
        promoted_gtid: String::new(),
        since_ms: now,
        planned: false,
    });
    topo.put_node(&old).await.unwrap();
    let rec = FailoverRecord {
        id: format!("{now}-{SET}"),
        set: SET.into(),
        kind: FailoverKind::Failover,
        reason: "primary set1-n0 is unreadable (simulated)".into(),
        old_primary: "set1-n0".into(),
        new_primary: None,
        old_gtid: None,
        new_gtid: None,
        phase: FailoverPhase::Fenced,
        error: None,
        started_ms: now,
        finished_ms: None,
        fenced_ms: Some(now),
        published_ms: None,
        request_id: None,
        target: None,
        wait_gtid: None,
        by: vec!["sched-dead".into()],
        steps: vec!["+0ms fenced (by a leader that then died)".into()],
    };
    topo.create(&topo.keys().op(SET), &rec).await.unwrap();

    cp.start_scheduler(&c, "sched-1").unwrap();
    let done = wait_failover_done(&topo, SET, now, WAIT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", cp.scheduler_story(40)));
    assert_eq!(done.id, rec.id, "{}", describe(&done));
    assert_eq!(
        done.by,
        vec!["sched-dead".to_string(), "sched-1".to_string()]
    );
    assert!(
        done.steps
            .iter()
            .any(|s| s.contains("resumed at phase Fenced")),
        "{}",
        describe(&done)
    );
    assert!(topo.get_op(SET).await.unwrap().is_none());
    wait_writable(&c, 100).await;
    let new = done.new_primary.unwrap();
    let have = ids_on(c.node(&new), TABLE).await.unwrap();
    assert!(have.contains(&1), "row 1 missing on {new}: {have:?}");
}

/// etcd stops while clients run: reads and writes go on from the gateway's routing,
/// nothing is failed over (agents cannot report; the scheduler cannot read); once etcd
/// is back the control plane resumes and a later kill -9 still fails over.
#[tokio::test]
async fn etcd_down_keeps_clients_working_and_the_control_plane_resumes() {
    let (mut c, _cp) = start(1, None).await;
    let w = Writer::start(c.app_opts(), TABLE, 1..);
    w.wait_acked(20, WAIT).await.unwrap();
    let since = now_ms();

    c.etcd_mut().kill();
    let down = Instant::now();
    w.wait_acks_after(down, 50, WAIT).await.unwrap();
    let n = count_through_gateway(&c).await.unwrap();
    assert!(n >= 50, "{n} rows readable through the gateway");
    // Deliberate window: etcd stays down 4 s (agents' leases are 2 s).
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(down.elapsed())).await;
    let during = w.log().acks_sent_after(down);

    c.etcd_mut().restart().await.unwrap();
    let topo = c.topo().clone();
    wait_reporting(&topo, &["set1-n0", "set1-n1", "set1-n2"], WAIT)
        .await
        .unwrap();
    wait_leader(&topo, None, WAIT).await.unwrap();
    // Deliberate window: 3 s of rounds after etcd came back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let recs = failovers_since(&topo, SET, since).await.unwrap();
    assert!(
        recs.is_empty(),
        "failover while/after etcd was down: {}",
        recs.iter().map(describe).collect::<Vec<_>>().join("\n")
    );
    assert!(topo.get_op(SET).await.unwrap().is_none());
    assert_eq!(
        primary_of(&topo, SET).await.unwrap().as_deref(),
        Some("set1-n0")
    );
    eprintln!("{during} writes acknowledged while etcd was down");

    // The control plane works again.
    let since = now_ms();
    let killed = Instant::now();
    c.kill_node("set1-n0");
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    w.wait_acks_after(killed, 10, WAIT).await.unwrap();
    let log = w.stop().await;
    let new = rec.new_primary.unwrap();
    let missing = missing_on(c.node(&new), TABLE, &log.acked_ids())
        .await
        .unwrap();
    assert!(missing.is_empty(), "lost acknowledged writes: {missing:?}");
}

/// After a failover the old primary comes back with nothing the new primary lacks:
/// it is repointed (`from_binlog`), its `rejoin` cleared, and it follows the new primary.
///
/// It is restarted with `read_only=ON` (every node starts read-only; promotion makes a
/// node writable): a node restarted writable gets its agent's heartbeat row written
/// before the scheduler's rejoin check, so its binlog is no longer contained in the new
/// primary's and it is rebuilt instead (see the other test).
#[tokio::test]
async fn old_primary_rejoins_as_a_replica_of_the_new_primary() {
    let (mut c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    for id in 1..=20 {
        write_once(&c, id).await.unwrap();
    }
    let since = now_ms();
    c.kill_node("set1-n0");
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    let new = rec.new_primary.clone().unwrap();
    let old = node_record(&topo, SET, "set1-n0").await.unwrap();
    assert_eq!(old.role, Role::Replica);
    let rejoin = old
        .rejoin
        .expect("the old primary must be marked to rejoin");
    assert_eq!(rejoin.new_primary, new);
    assert!(!rejoin.promoted_gtid.is_empty(), "{rejoin:?}");
    wait_writable(&c, 100).await;

    c.node_mut("set1-n0")
        .set_options(setwise_tests::mariadb::NodeOptions::replica());
    c.restart_node("set1-n0").await.unwrap();
    // What it wrote before it died: contained in the new primary's position unless the
    // kill hit a commit (its agent's heartbeat) after its binlog write and before any
    // replica received it — then it must be rebuilt.
    let binlog = c.node("set1-n0").gtid_binlog_pos().await.unwrap();
    let contained = topo::gtid::GtidPos::parse_lossy(&rejoin.promoted_gtid)
        .contains(&topo::gtid::GtidPos::parse_lossy(&binlog));
    setwise_tests::wait_until(
        "set1-n0 to rejoin",
        if contained { WAIT } else { REBUILD_WAIT },
        || async {
            let n = node_record(&topo, SET, "set1-n0").await?;
            Ok(n.rejoin.is_none() && n.role == Role::Replica)
        },
    )
    .await
    .unwrap();
    let task = task_of(&topo, SET, "set1-n0").await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Done, "{task:?}");
    if contained {
        assert!(
            matches!(
                task.task,
                Task::Repoint {
                    from_binlog: true,
                    ..
                }
            ),
            "binlog {binlog} within {}: {task:?}",
            rejoin.promoted_gtid
        );
    } else {
        eprintln!(
            "the kill hit an unacknowledged commit ({binlog} not within {}): rebuilt",
            rejoin.promoted_gtid
        );
        assert!(matches!(task.task, Task::Rebuild { .. }), "{task:?}");
    }
    wait_replicating_from(c.node("set1-n0"), c.node(&new).port(), WAIT)
        .await
        .unwrap();
    for id in 200..210 {
        write_once(&c, id).await.unwrap();
    }
    let ids: Vec<i64> = (1..=20).chain(200..210).collect();
    wait_all_on(c.node("set1-n0"), TABLE, &ids, WAIT)
        .await
        .unwrap();
    assert_eq!(
        c.node("set1-n0")
            .scalar("SELECT @@read_only")
            .await
            .unwrap(),
        Some("1".into())
    );
    // Still in routing as a replica, with the new primary unchanged.
    assert_eq!(
        primary_of(&topo, SET).await.unwrap().as_deref(),
        Some(new.as_str())
    );
}

/// A `semi` set falls back to async while no replica receives (IO threads stopped):
/// the primary commits a row nobody acknowledged, then dies. The failover loses that
/// row (semi's promise); the returning old primary holds it, so it is rebuilt from
/// the new primary and ends with exactly its data.
#[tokio::test]
async fn old_primary_with_an_unacknowledged_transaction_is_rebuilt() {
    let (mut c, mut cp) = start(1, Some((SyncMode::Semi, 500))).await;
    let topo = c.topo().clone();
    for id in 1..=20 {
        write_once(&c, id).await.unwrap();
    }
    c.set(SET).sync_replicas().await.unwrap();
    let p = c.node("set1-n0");
    setwise_tests::wait_until("the agent to apply semi_timeout_ms", WAIT, || async {
        Ok(p.scalar("SELECT @@rpl_semi_sync_master_timeout").await? == Some("500".into()))
    })
    .await
    .unwrap();
    // The replicas stop replicating behind the policy's back (it would repair
    // them: their agents are stopped until the primary is gone).
    for r in ["set1-n1", "set1-n2"] {
        cp.kill_agent(r);
        wait_not_reporting(&topo, r, WAIT).await.unwrap();
        c.node(r).exec("STOP SLAVE IO_THREAD").await.unwrap();
    }
    // Committed on the primary alone after the 500 ms semi-sync timeout.
    const LOST: i64 = 1_000_000;
    write_once(&c, LOST).await.unwrap();
    assert!(ids_on(p, TABLE).await.unwrap().contains(&LOST));
    for r in ["set1-n1", "set1-n2"] {
        assert!(!ids_on(c.node(r), TABLE).await.unwrap().contains(&LOST));
    }
    // The fallback to async is recorded where `setwise status` shows it.
    setwise_tests::wait_until("the set to be marked degraded", WAIT, || async {
        Ok(set_record(&topo, SET).await?.degraded.is_some())
    })
    .await
    .unwrap();
    let status = c.setwise(&["status"]).await.unwrap();
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.contains("DEGRADED"), "{status}");

    let since = now_ms();
    c.kill_node("set1-n0");
    for r in ["set1-n1", "set1-n2"] {
        cp.start_agent(&c, r).unwrap();
    }
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    let new = rec.new_primary.clone().unwrap();
    let have = ids_on(c.node(&new), TABLE).await.unwrap();
    assert!(!have.contains(&LOST) && (1..=20).all(|i| have.contains(&i)));
    wait_writable(&c, 100).await;
    // The new primary has an acknowledging replica again: no longer degraded.
    setwise_tests::wait_until("the degradation to clear", WAIT, || async {
        Ok(set_record(&topo, SET).await?.degraded.is_none())
    })
    .await
    .unwrap();

    c.restart_node("set1-n0").await.unwrap();
    setwise_tests::wait_until("set1-n0 to be rebuilt", REBUILD_WAIT, || async {
        let n = node_record(&topo, SET, "set1-n0").await?;
        Ok(n.rejoin.is_none())
    })
    .await
    .unwrap();
    let task = task_of(&topo, SET, "set1-n0").await.unwrap().unwrap();
    assert!(
        matches!(task.task, Task::Rebuild { .. }) && task.state == TaskState::Done,
        "{task:?}"
    );
    // Physically: a mariadb-backup of the new primary streamed from its agent, and
    // the old primary's mariadbd restarted by its own agent on the swapped datadir.
    let outcome = task.outcome.clone().unwrap_or_default();
    assert!(outcome.starts_with("physical (mariadb-backup"), "{task:?}");
    assert!(outcome.contains("caught up"), "{task:?}");
    // It follows the new primary: a row written now arrives, and then it holds
    // exactly the new primary's data.
    wait_replicating_from(c.node("set1-n0"), c.node(&new).port(), WAIT)
        .await
        .unwrap();
    write_once(&c, 500).await.unwrap();
    wait_all_on(c.node("set1-n0"), TABLE, &[500], WAIT)
        .await
        .unwrap();
    let want = table_dump(c.node(&new), TABLE).await.unwrap();
    setwise_tests::wait_until("set1-n0 to equal the new primary", WAIT, || async {
        Ok(table_dump(c.node("set1-n0"), TABLE).await? == want)
    })
    .await
    .unwrap();
    assert!(!ids_on(c.node("set1-n0"), TABLE)
        .await
        .unwrap()
        .contains(&LOST));
}

/// `setwise switchover --set set1 --to set1-n2` while a writer runs: no acknowledged
/// write lost, the target is primary, the old primary replicates from it.
#[tokio::test]
async fn switchover_through_the_cli_under_write_load() {
    let (c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    let w = Writer::start(c.app_opts(), TABLE, 1..);
    w.wait_acked(50, WAIT).await.unwrap();
    let since = now_ms();
    let asked = Instant::now();
    let out = c
        .setwise(&[
            "switchover",
            "--set",
            SET,
            "--to",
            "set1-n2",
            "--wait",
            "30",
        ])
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert!(
        out.status.success(),
        "setwise switchover: {}\n{stdout}{stderr}",
        out.status
    );
    // Not a terminal: plain progress lines (one per phase seen), then the outcome.
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() >= 2
            && lines[..lines.len() - 1]
                .iter()
                .all(|l| l.starts_with(&format!("switchover of {SET}: ")))
            && lines[lines.len() - 1].contains("-> set1-n2 done in"),
        "{stdout}"
    );
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    assert_eq!(rec.kind, FailoverKind::Switchover, "{}", describe(&rec));
    assert_eq!(rec.new_primary.as_deref(), Some("set1-n2"));
    assert!(rec.request_id.is_some());
    w.wait_acks_after(asked, 30, WAIT).await.unwrap();
    let log = w.stop().await;
    eprintln!(
        "{stdout}switchover held writes {} ms; {} writes acknowledged, {} failed ({:?})",
        rec.held_ms().unwrap_or(0),
        log.acks.len(),
        log.failures.len(),
        log.error_summary(3)
    );
    let acked = log.acked_ids();
    let missing = missing_on(c.node("set1-n2"), TABLE, &acked).await.unwrap();
    assert!(
        missing.is_empty(),
        "acknowledged writes missing on set1-n2: {missing:?}"
    );
    // The old primary replicates from the new one and has everything.
    wait_replicating_from(c.node("set1-n0"), c.node("set1-n2").port(), WAIT)
        .await
        .unwrap();
    let old = node_record(&topo, SET, "set1-n0").await.unwrap();
    assert_eq!((old.role, old.rejoin), (Role::Replica, None));
    wait_all_on(c.node("set1-n0"), TABLE, &acked, WAIT)
        .await
        .unwrap();
    wait_all_on(c.node("set1-n1"), TABLE, &acked, WAIT)
        .await
        .unwrap();
}

/// A `strong` set whose replicas are all down: the scheduler blocks writes, the
/// gateway refuses them with 1290 (HY000) instead of hanging, reads go on; a replica
/// back unblocks them.
#[tokio::test]
async fn strong_set_without_replicas_refuses_writes_then_recovers() {
    let (mut c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    write_once(&c, 1).await.unwrap();
    c.kill_node("set1-n1");
    c.kill_node("set1-n2");
    setwise_tests::wait_until("writes_blocked on set1", WAIT, || async {
        Ok(set_record(&topo, SET).await?.writes_blocked.is_some())
    })
    .await
    .unwrap();
    let refused = Instant::now();
    let err = setwise_tests::retry("a write refused with 1290", WAIT, || async {
        match write_once(&c, 2).await {
            Ok(()) => anyhow::bail!("write 2 succeeded on a strong set without replicas"),
            Err(e) => match e.downcast_ref::<mysql_async::Error>() {
                Some(mysql_async::Error::Server(s)) if s.code == 1290 => Ok(s.clone()),
                _ => anyhow::bail!("not 1290: {e:#}"),
            },
        }
    })
    .await
    .unwrap();
    assert_eq!(err.state, "HY000", "{err:?}");
    eprintln!("refused: {} (after {:?})", err.message, refused.elapsed());
    assert_eq!(count_through_gateway(&c).await.unwrap(), 1);
    assert!(topo.get_op(SET).await.unwrap().is_none());

    c.restart_node("set1-n1").await.unwrap();
    setwise_tests::wait_until("writes_blocked to clear", WAIT, || async {
        Ok(set_record(&topo, SET).await?.writes_blocked.is_none())
    })
    .await
    .unwrap();
    wait_writable(&c, 100).await;
    assert_eq!(
        primary_of(&topo, SET).await.unwrap().as_deref(),
        Some("set1-n0")
    );
}

/// A `strong` set whose failover leaves the new primary without a replica (one
/// replica down, then the primary killed): once the failover is done the
/// scheduler blocks writes promptly (a refused write, not a hung one), and a
/// replica back unblocks them.
#[tokio::test]
async fn strong_set_left_without_replicas_by_a_failover_refuses_writes() {
    let (mut c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    write_once(&c, 1).await.unwrap();
    c.kill_node("set1-n2");
    write_once(&c, 2).await.unwrap();
    c.kill_node("set1-n0");
    let killed = Instant::now();
    setwise_tests::wait_until("set1-n1 promoted", WAIT, || async {
        Ok(primary_of(&topo, SET).await?.as_deref() == Some("set1-n1"))
    })
    .await
    .unwrap();
    let promoted = killed.elapsed();
    setwise_tests::wait_until("writes_blocked on set1", WAIT, || async {
        Ok(set_record(&topo, SET).await?.writes_blocked.is_some())
    })
    .await
    .unwrap();
    eprintln!(
        "promoted after {promoted:?}, writes blocked after {:?}",
        killed.elapsed()
    );
    let err = setwise_tests::retry("a write refused with 1290", WAIT, || async {
        match write_once(&c, 3).await {
            Ok(()) => anyhow::bail!("write 3 succeeded on a strong set without replicas"),
            Err(e) => match e.downcast_ref::<mysql_async::Error>() {
                Some(mysql_async::Error::Server(s)) if s.code == 1290 => Ok(s.clone()),
                _ => anyhow::bail!("not 1290: {e:#}"),
            },
        }
    })
    .await
    .unwrap();
    assert_eq!(err.state, "HY000", "{err:?}");
    assert_eq!(count_through_gateway(&c).await.unwrap(), 2);

    c.restart_node("set1-n2").await.unwrap();
    setwise_tests::wait_until("writes_blocked to clear", WAIT, || async {
        Ok(set_record(&topo, SET).await?.writes_blocked.is_none())
    })
    .await
    .unwrap();
    wait_writable(&c, 100).await;
}

/// 1 primary + 2 replicas under strong sync: losing any one replica leaves one to
/// acknowledge, so writes go on and the set is never marked as refusing writes.
#[tokio::test]
async fn strong_set_keeps_writing_after_losing_one_replica() {
    let (mut c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    write_once(&c, 1).await.unwrap();
    c.kill_node("set1-n2");
    for id in 2..=20 {
        write_once(&c, id).await.unwrap();
    }
    // Several monitor rounds later the set is still open for writes.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        assert!(set_record(&topo, SET)
            .await
            .unwrap()
            .writes_blocked
            .is_none());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ids: Vec<i64> = (1..=20).collect();
    wait_all_on(c.node("set1-n1"), TABLE, &ids, WAIT)
        .await
        .unwrap();
    assert_eq!(
        primary_of(&topo, SET).await.unwrap().as_deref(),
        Some("set1-n0")
    );
}

/// kill -9 of the primary while sessions run point reads (the gateway's pipelined
/// path): no read ever returns another row's value or hangs; once the failover is
/// done every session reads again, from the new primary.
#[tokio::test]
async fn point_reads_survive_a_killed_primary() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    let (mut c, _cp) = start(1, None).await;
    let topo = c.topo().clone();
    let ids: Vec<i64> = (1..=40).collect();
    let mut conn = c.proxy_conn().await.unwrap();
    let values: Vec<String> = ids.iter().map(|i| format!("({i}, {})", i * 3)).collect();
    conn.query_drop(format!(
        "INSERT INTO {TABLE} (id, v) VALUES {}",
        values.join(",")
    ))
    .await
    .unwrap();
    drop(conn);
    for n in ["set1-n1", "set1-n2"] {
        wait_all_on(c.node(n), TABLE, &ids, WAIT).await.unwrap();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let wrong = Arc::new(AtomicU64::new(0));
    let hung = Arc::new(AtomicU64::new(0));
    let done_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let mut readers = Vec::new();
    for r in 0..4i64 {
        let (opts, stop, wrong, hung) = (c.app_opts(), stop.clone(), wrong.clone(), hung.clone());
        let done_at = done_at.clone();
        readers.push(tokio::spawn(async move {
            // Reads that succeeded after the failover was recorded done.
            let mut after = 0u32;
            let mut conn = None;
            for i in 0..200_000i64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = (i * 7 + r) % 40 + 1;
                let step = tokio::time::timeout(Duration::from_secs(15), async {
                    if conn.is_none() {
                        conn = Some(mysql_async::Conn::new(opts.clone()).await?);
                    }
                    let c = conn.as_mut().expect("connected");
                    let v: Option<i64> = if i % 2 == 0 {
                        c.exec_first(format!("SELECT v FROM {TABLE} WHERE id = ?"), (id,))
                            .await?
                    } else {
                        c.query_first(format!("SELECT v FROM {TABLE} WHERE id = {id}"))
                            .await?
                    };
                    anyhow::Ok(v)
                })
                .await;
                match step {
                    Ok(Ok(v)) => {
                        if v != Some(id * 3) {
                            wrong.fetch_add(1, Ordering::Relaxed);
                        }
                        if done_at.lock().unwrap().is_some() {
                            after += 1;
                        }
                    }
                    Ok(Err(_)) => {
                        conn = None;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(_) => {
                        hung.fetch_add(1, Ordering::Relaxed);
                        conn = None;
                    }
                }
            }
            after
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let since = now_ms();
    c.kill_node("set1-n0");
    let rec = wait_failover_done(&topo, SET, since, WAIT).await.unwrap();
    *done_at.lock().unwrap() = Some(Instant::now());
    // Let every session read for a while on the new primary.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut afters = Vec::new();
    for r in readers {
        afters.push(r.await.unwrap());
    }
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "reads returned another row's value"
    );
    assert_eq!(hung.load(Ordering::Relaxed), 0, "reads hung for 15 s");
    assert!(
        afters.iter().all(|&n| n >= 10),
        "every session reads again after the failover: {afters:?}\n{}",
        describe(&rec)
    );
}
