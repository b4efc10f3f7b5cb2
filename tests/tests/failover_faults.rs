//! Failover under real faults (issue 11): each test runs its own cluster (1 or 2 sets of
//! a primary `setN-n0` and replicas `setN-n1`, `setN-n2`, strong sync), the gateway,
//! agents and the fast control plane of [`setwise_tests::control`], with a writer
//! committing numbered rows through the gateway the whole time. The faults:
//!
//! * a hung primary (SIGSTOP): failed over; once resumed (SIGCONT) it is fenced
//!   (read-only) at once and rejoins as a replica without transactions the new
//!   primary lacks;
//! * the same again on the new primary (a second hang);
//! * the scheduler leader killed between fence and promote, and between promote and
//!   publish (held there by the scheduler's `SETWISE_FAILOVER_PAUSE` hook): the other
//!   scheduler carries the failover on;
//! * a primary killed while its agent is dead;
//! * the new primary killed right after it was published, before the failover's
//!   repoint ran: the set fails over again to the last replica;
//! * two sets losing their primaries at once;
//! * etcd restarted in the middle of a failover;
//! * point reads (prepared and text) running while the primary hangs: never a wrong
//!   row or a hung read, a retryable error at most, then answers from the new primary;
//! * a stop shorter than the agent's `frozen_after_ms`: no failover.
//!
//! Every test ends the same way ([`end_whole`]): every set whole again (one writable
//! primary, every other node read-only replicating from it, read from the servers),
//! writes acknowledged, every acknowledged write on every node, and every node holding
//! exactly the primary's rows.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use setwise_tests::control::{
    describe, now_ms, primary_of, set_problems, wait_leader, wait_not_reporting, wait_set_whole,
    ControlPlane, ControlPlaneConfig,
};
use setwise_tests::load::{
    ids_of_set, ids_on, missing_on, table_dump, wait_all_on, WriteLog, Writer,
};
use setwise_tests::mariadb::NodeOptions;
use setwise_tests::{Cluster, MariaDb};
use topo::{FailoverKind, FailoverPhase, FailoverRecord, Topo};

/// Bound of every wait for the control plane to act.
const WAIT: Duration = Duration::from_secs(30);
/// Bound for a set to be whole again (a rebuild copies the data over).
const WHOLE_WAIT: Duration = Duration::from_secs(120);
/// How fast a resumed old primary must be read-only.
const FENCE_BOUND: Duration = Duration::from_secs(10);
/// Bound of one direct query of a node (a hung server accepts TCP, never answers).
const QUERY: Duration = Duration::from_secs(3);
/// The pause the scheduler hook makes at the chosen phase.
const PAUSE_MS: u64 = 4000;
const TABLE: &str = "shop.t";
const SET: &str = "set1";

// ---- fixtures -----------------------------------------------------------------------

/// `sets` sets (primary + 2 replicas each) with the gateway, `shop.t` sharded over them
/// created through it, and a control plane of `schedulers` schedulers with `cfg`.
async fn start(sets: usize, schedulers: usize, cfg: ControlPlaneConfig) -> (Cluster, ControlPlane) {
    let c = Cluster::builder()
        .sets(sets)
        .replicas(2)
        .proxy(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    drop(conn);
    let cp = c.start_control_plane_with(schedulers, cfg).await.unwrap();
    (c, cp)
}

/// A writer per set, each with ids that land on its set (as `setwise-chaos` does);
/// waits until each has 20 acknowledged writes.
async fn writers(c: &Cluster) -> Vec<(String, Writer)> {
    let mut out: Vec<(String, Writer)> = Vec::new();
    for set in c.set_names() {
        let ids = ids_of_set(c, "shop", "t", &set).await.unwrap();
        out.push((set, Writer::start(c.app_opts(), TABLE, ids)));
    }
    for (_, w) in &out {
        w.wait_acked(20, WAIT).await.unwrap();
    }
    out
}

/// The one writer of a 1-set cluster.
async fn writer(c: &Cluster) -> Writer {
    writers(c).await.pop().unwrap().1
}

/// The primary of `set` in routing.
async fn routed_primary(topo: &Topo, set: &str) -> String {
    primary_of(topo, set)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{set} has no single primary in routing"))
}

/// A bounded query of one value straight on a node.
async fn scalar(node: &MariaDb, sql: &str) -> anyhow::Result<Option<String>> {
    tokio::time::timeout(QUERY, node.scalar(sql))
        .await
        .map_err(|_| anyhow::anyhow!("{} did not answer within {QUERY:?}", node.name()))?
}

/// `setwise status`, for failure messages.
async fn status(c: &Cluster) -> String {
    match c.setwise(&["status"]).await {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("setwise status: {e:#}"),
    }
}

/// The busy sessions of `node` (what a statement waits for), for failure messages.
async fn sessions(node: &MariaDb) -> String {
    let q = "SELECT ID, USER, COMMAND, TIME, STATE, LEFT(INFO, 100) \
             FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep' ORDER BY ID";
    match tokio::time::timeout(QUERY, node.query(q)).await {
        Ok(Ok(rows)) => rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.as_deref().unwrap_or("NULL"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Ok(Err(e)) => format!("(processlist: {e:#})"),
        Err(_) => "(processlist: no answer)".into(),
    }
}

/// Waits (bounded) until `ops/<set>` holds an operation at `phase`; returns it.
async fn wait_op_phase(topo: &Topo, set: &str, phase: FailoverPhase) -> FailoverRecord {
    setwise_tests::wait_for(
        &format!("the operation on {set} at phase {phase:?}"),
        WAIT,
        || async { Ok(topo.get_op(set).await?.map(|v| v.value)) },
        |r: &FailoverRecord| r.phase == phase,
    )
    .await
    .unwrap()
}

/// Waits (bounded) for a finished failover of `set` whose old primary is `old`,
/// started at or after `since_ms`; checks it is `Done` with another primary, in routing.
async fn wait_failover_of(topo: &Topo, set: &str, old: &str, since_ms: u64) -> FailoverRecord {
    let found = setwise_tests::wait_for(
        &format!("a finished failover of {set} away from {old}"),
        WAIT,
        || async {
            Ok(topo
                .list_failovers(Some(set))
                .await?
                .into_iter()
                .filter(|f| f.started_ms >= since_ms && f.old_primary == old)
                .min_by_key(|f| f.started_ms))
        },
        |_| true,
    )
    .await;
    let rec = match found {
        Ok(r) => r,
        Err(e) => {
            let op = topo.get_op(set).await.ok().flatten().map(|v| v.value);
            panic!(
                "{e:#}
in progress: {}",
                op.as_ref().map(describe).unwrap_or_else(|| "none".into())
            )
        }
    };
    assert_eq!(rec.phase, FailoverPhase::Done, "{}", describe(&rec));
    let new = rec.new_primary.clone().expect("done with a new primary");
    assert_ne!(new, old, "{}", describe(&rec));
    assert_eq!(
        primary_of(topo, set).await.unwrap().as_deref(),
        Some(new.as_str()),
        "routing does not name the new primary: {}",
        describe(&rec)
    );
    rec
}

/// Every acknowledged write of `log` is on `node`.
async fn assert_nothing_lost(node: &MariaDb, log: &WriteLog, when: &str) {
    let acked = log.acked_ids();
    let missing = missing_on(node, TABLE, &acked).await.unwrap();
    assert!(
        missing.is_empty(),
        "{when}: {} of {} acknowledged writes missing on {}: first {:?}",
        missing.len(),
        acked.len(),
        node.name(),
        &missing[..missing.len().min(20)]
    );
}

/// Restarts killed node `id` read-only (as every node starts; promotion makes a node
/// writable), as `setwise-chaos` does.
async fn restart_as_replica(c: &mut Cluster, id: &str) {
    c.node_mut(id).set_options(NodeOptions::replica());
    c.restart_node(id).await.unwrap();
}

/// How every test ends, for each set and its writer: the set whole again (bounded by
/// [`WHOLE_WAIT`]), writes acknowledged on it, then (writer stopped) every acknowledged
/// write on the primary and on every node, and every node holding exactly the
/// primary's rows (no transaction the primary lacks).
async fn end_whole(c: &Cluster, writers: Vec<(String, Writer)>) {
    for (set, _) in &writers {
        if let Err(e) = wait_set_whole(c, set, WHOLE_WAIT).await {
            panic!("{e:#}\n{}", status(c).await);
        }
    }
    let now = Instant::now();
    for (set, w) in &writers {
        w.wait_acks_after(now, 20, WAIT)
            .await
            .unwrap_or_else(|e| panic!("writes to the whole {set}: {e:#}"));
    }
    for (set, w) in writers {
        let log = w.stop().await;
        eprintln!(
            "writer of {set}: {} acknowledged, {} failed ({:?})",
            log.acks.len(),
            log.failures.len(),
            log.error_summary(4)
        );
        let primary = routed_primary(c.topo(), &set).await;
        assert_nothing_lost(c.node(&primary), &log, "at the end").await;
        let want = table_dump(c.node(&primary), TABLE).await.unwrap();
        let want_ids = ids_on(c.node(&primary), TABLE).await.unwrap();
        for node in c.set(&set).nodes() {
            wait_all_on(node, TABLE, &log.acked_ids(), WAIT)
                .await
                .unwrap();
            let same = setwise_tests::wait_until(
                &format!(
                    "{} to hold exactly the rows of the primary {primary}",
                    node.name()
                ),
                WAIT,
                || async { Ok(table_dump(node, TABLE).await? == want) },
            )
            .await;
            if let Err(e) = same {
                let have = ids_on(node, TABLE).await.unwrap();
                let extra: Vec<&i64> = have.iter().filter(|i| !want_ids.contains(i)).collect();
                panic!(
                    "{e:#}: {} rows there, {} on the primary; not on the primary: {:?}",
                    have.len(),
                    want.len(),
                    &extra[..extra.len().min(20)]
                );
            }
        }
        let problems = set_problems(c, &set).await.unwrap();
        assert!(problems.is_empty(), "{set} no longer whole: {problems:?}");
        // And `setwise status` says so (from the agents' reports, a round later).
        let line = format!("{set}  whole (2 replicas replicating)");
        let said = setwise_tests::wait_until(&format!("setwise status: {line}"), WAIT, || async {
            Ok(status(c).await.lines().any(|l| l.starts_with(&line)))
        })
        .await;
        if let Err(e) = said {
            panic!("{e:#}\n{}", status(c).await);
        }
    }
}

/// One hang of `set`'s primary under `w`: SIGSTOP it; a failover `Done` with another
/// primary; writes acknowledged again (freeze -> first acknowledgement printed); no
/// acknowledged write missing on the new primary; SIGCONT; the old primary read-only
/// within [`FENCE_BOUND`] (polled on it directly). Returns (old, new).
async fn hang_primary(c: &Cluster, w: &Writer, set: &str) -> (String, String) {
    let topo = c.topo().clone();
    let old = routed_primary(&topo, set).await;
    let before = w.acked();
    w.wait_acked(before + 20, WAIT).await.unwrap();

    let since = now_ms();
    let frozen = Instant::now();
    c.node(&old).pause(true).unwrap();
    let rec = wait_failover_of(&topo, set, &old, since).await;
    assert_eq!(rec.kind, FailoverKind::Failover, "{}", describe(&rec));
    let new = rec.new_primary.clone().unwrap();
    let rto = w.wait_ack_after(frozen, WAIT).await.unwrap();
    w.wait_acks_after(frozen, 20, WAIT).await.unwrap();
    eprintln!(
        "{old} frozen: failover to {new} done {} ms after detection, writes held {} ms; \
         first write after the freeze acknowledged after {rto:?}\n{}",
        rec.duration_ms().unwrap_or(0),
        rec.held_ms().unwrap_or(0),
        describe(&rec)
    );
    assert_nothing_lost(c.node(&new), &w.log(), "after the failover").await;

    let resumed = Instant::now();
    c.node(&old).pause(false).unwrap();
    loop {
        let last = match scalar(c.node(&old), "SELECT @@GLOBAL.read_only").await {
            Ok(Some(v)) if v == "1" => break,
            Ok(v) => format!("read_only = {v:?}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            resumed.elapsed() < FENCE_BOUND,
            "the resumed old primary {old} is not read-only {FENCE_BOUND:?} after SIGCONT \
             (last: {last}); its sessions:\n{}\n{}",
            sessions(c.node(&old)).await,
            status(c).await
        );
        tokio::time::sleep(setwise_tests::POLL).await;
    }
    eprintln!("{old} read-only {:?} after SIGCONT", resumed.elapsed());
    // Clients go on writing to the new primary, whatever the old one does.
    let t = Instant::now();
    w.wait_acks_after(t, 20, WAIT).await.unwrap();
    (old, new)
}

// ---- hung primaries -------------------------------------------------------------------

/// SIGSTOP of the primary under write load: failed over; SIGCONT: the old primary is
/// read-only at once and rejoins (repointed or rebuilt) with nothing the new primary
/// lacks.
#[tokio::test]
async fn hung_primary_is_failed_over_then_fenced_and_rejoins() {
    let (c, _cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let w = writer(&c).await;
    hang_primary(&c, &w, SET).await;
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

/// The first hang healed, the new primary hangs too: failed over again, and once
/// resumed it rejoins as well.
#[tokio::test]
async fn a_second_hang_of_the_new_primary_also_heals() {
    let (c, _cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let w = writer(&c).await;
    let (_, first_new) = hang_primary(&c, &w, SET).await;
    if let Err(e) = wait_set_whole(&c, SET, WHOLE_WAIT).await {
        panic!("after the first hang: {e:#}\n{}", status(&c).await);
    }
    let (old, _) = hang_primary(&c, &w, SET).await;
    assert_eq!(old, first_new);
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

// ---- the scheduler leader killed in a real failover --------------------------------

/// Kill -9 of the primary with 2 schedulers both pausing after `phase`; the leader is
/// killed while the record shows `phase`; the other one carries the failover on.
async fn leader_killed_at(phase: FailoverPhase, hook: &str) {
    let cfg = ControlPlaneConfig::default().pause_after(&format!("{hook}={PAUSE_MS}"));
    let (mut c, mut cp) = start(1, 2, cfg).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let leader = wait_leader(&topo, None, WAIT).await.unwrap();
    let old = routed_primary(&topo, SET).await;

    let since = now_ms();
    let killed = Instant::now();
    c.kill_node(&old);
    let at = wait_op_phase(&topo, SET, phase).await;
    assert_eq!(at.by, vec![leader.clone()], "{}", describe(&at));
    cp.kill_scheduler(&leader);
    let next = wait_leader(&topo, Some(&leader), WAIT).await.unwrap();

    let rec = wait_failover_of(&topo, SET, &old, since).await;
    assert_eq!(rec.id, at.id, "{}", describe(&rec));
    assert_eq!(rec.by, vec![leader, next], "{}", describe(&rec));
    assert!(
        rec.steps
            .iter()
            .any(|s| s.contains(&format!("resumed at phase {phase:?}"))),
        "{}",
        describe(&rec)
    );
    let rto = w.wait_ack_after(killed, WAIT).await.unwrap();
    eprintln!("writes back {rto:?} after the kill\n{}", describe(&rec));
    let new = rec.new_primary.clone().unwrap();
    assert_nothing_lost(c.node(&new), &w.log(), "after the failover").await;

    restart_as_replica(&mut c, &old).await;
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

#[tokio::test]
async fn leader_killed_between_fence_and_promote() {
    leader_killed_at(FailoverPhase::Fenced, "fenced").await;
}

#[tokio::test]
async fn leader_killed_between_promote_and_publish() {
    leader_killed_at(FailoverPhase::Promoted, "promoted").await;
}

// ---- other faults ------------------------------------------------------------------------

/// The primary's agent dies (its report expires), then the primary: the scheduler's own
/// probes fail it over; both come back and the old primary rejoins.
#[tokio::test]
async fn primary_killed_while_its_agent_is_dead() {
    let (mut c, mut cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let old = routed_primary(&topo, SET).await;
    cp.kill_agent(&old);
    wait_not_reporting(&topo, &old, Duration::from_secs(15))
        .await
        .unwrap();

    let since = now_ms();
    let killed = Instant::now();
    c.kill_node(&old);
    let rec = wait_failover_of(&topo, SET, &old, since).await;
    let rto = w.wait_ack_after(killed, WAIT).await.unwrap();
    eprintln!("writes back {rto:?} after the kill\n{}", describe(&rec));
    let new = rec.new_primary.clone().unwrap();
    assert_nothing_lost(c.node(&new), &w.log(), "after the failover").await;
    // `setwise status` says what is missing: the old primary, and why.
    let st = status(&c).await;
    assert!(
        st.lines().any(|l| l.starts_with("set1")
            && l.contains("NOT WHOLE")
            && l.contains(&format!("{old}: no health report"))),
        "{st}"
    );

    restart_as_replica(&mut c, &old).await;
    cp.start_agent(&c, &old).unwrap();
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

/// The primary dies; right after the new primary is published (the scheduler paused
/// before the repoint of the other replica) the new primary dies too: the set fails
/// over again to the last replica (within 30 s of the second kill: not after the first
/// failover's repoint to the dead node timed out), and both killed nodes rejoin.
#[tokio::test]
async fn new_primary_killed_while_the_previous_repoint_runs() {
    let cfg = ControlPlaneConfig::default().pause_after("published=3000");
    let (mut c, _cp) = start(1, 1, cfg).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let first = routed_primary(&topo, SET).await;

    let since = now_ms();
    c.kill_node(&first);
    let at = wait_op_phase(&topo, SET, FailoverPhase::Published).await;
    let second = at.new_primary.clone().unwrap();
    let killed = Instant::now();
    c.kill_node(&second);
    eprintln!("killed {second} at {}", describe(&at));

    let rec2 = wait_failover_of(&topo, SET, &second, since).await;
    let last = rec2.new_primary.clone().unwrap();
    assert_ne!(last, first, "{}", describe(&rec2));
    eprintln!(
        "second failover done {:?} after the second kill: {}",
        killed.elapsed(),
        describe(&rec2)
    );
    // Only one operation runs on a set at a time: the first one has finished.
    let recs = topo.list_failovers(Some(SET)).await.unwrap();
    let rec1 = recs
        .iter()
        .find(|f| f.id == at.id)
        .expect("the first failover is filed");
    eprintln!("first failover: {}", describe(rec1));
    // Strong sync and no replica left: writes may be refused until one is back.
    assert_nothing_lost(c.node(&last), &w.log(), "after the second failover").await;

    restart_as_replica(&mut c, &first).await;
    restart_as_replica(&mut c, &second).await;
    let rto = w.wait_ack_after(killed, WHOLE_WAIT).await.unwrap();
    eprintln!("writes back {rto:?} after the second kill");
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

/// Two failovers in a row leave one node: a strong-sync primary with no replica, whose
/// every commit (its agent's heartbeat, the writer's) waits for an acknowledgement and
/// holds MariaDB's commit lock. Both old primaries come back holding a transaction
/// nobody acknowledged, so both must be rebuilt from that primary — and a backup waits
/// for the commit lock. Once the set's writes have been refused for a while the
/// primary's agent releases the waiting commits (agent/src/sync.rs `Release`): both
/// rebuilds run and the set is whole again, its writes allowed only once a replica
/// acknowledges. (Before the release, the set never healed: the CI failure of
/// `new_primary_killed_while_the_previous_repoint_runs`, when its first old primary
/// happened to hold an unacknowledged commit.)
#[tokio::test]
async fn every_replica_rebuilt_from_a_primary_whose_commits_wait_for_acknowledgement() {
    let (mut c, mut cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let first = routed_primary(&topo, SET).await;
    let since = now_ms();
    c.kill_node(&first);
    let second = wait_failover_of(&topo, SET, &first, since)
        .await
        .new_primary
        .unwrap();
    w.wait_ack_after(Instant::now(), WAIT).await.unwrap();
    let since = now_ms();
    c.kill_node(&second);
    let last = wait_failover_of(&topo, SET, &second, since)
        .await
        .new_primary
        .unwrap();
    // The lone primary refuses writes (strong sync, nobody acknowledges).
    setwise_tests::wait_for(
        "the set's writes refused",
        WAIT,
        || async { Ok(topo.get_set(SET).await?) },
        |s| s.writes_blocked.is_some(),
    )
    .await
    .unwrap();
    // Each old primary comes back (its agent stopped meanwhile) with a transaction of
    // its own in its binlog, which the last primary never had: it must be rebuilt.
    for old in [&first, &second] {
        cp.kill_agent(old);
        restart_as_replica(&mut c, old).await;
        c.node(old)
            .exec("CREATE DATABASE diverged_here")
            .await
            .unwrap();
        cp.start_agent(&c, old).unwrap();
    }
    end_whole(&c, vec![(SET.to_string(), w)]).await;
    for old in [&first, &second] {
        let dbs = scalar(
            c.node(old),
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'diverged_here'",
        )
        .await
        .unwrap();
        assert_eq!(
            dbs.as_deref(),
            Some("0"),
            "{old} was not rebuilt from {last}"
        );
    }
}

/// Both sets lose their primary at the same moment: both fail over, both old primaries
/// rejoin.
#[tokio::test]
async fn two_sets_fail_at_once() {
    let (mut c, _cp) = start(2, 2, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let ws = writers(&c).await;
    let mut olds = Vec::new();
    for (set, _) in &ws {
        olds.push((set.clone(), routed_primary(&topo, set).await));
    }
    let since = now_ms();
    let killed = Instant::now();
    for (_, old) in &olds {
        c.kill_node(old);
    }
    for ((set, old), (_, w)) in olds.iter().zip(&ws) {
        let rec = wait_failover_of(&topo, set, old, since).await;
        let rto = w.wait_ack_after(killed, WAIT).await.unwrap();
        eprintln!(
            "{set}: writes back {rto:?} after the kill\n{}",
            describe(&rec)
        );
        let new = rec.new_primary.clone().unwrap();
        assert_nothing_lost(c.node(&new), &w.log(), "after the failover").await;
    }
    for (_, old) in &olds {
        restart_as_replica(&mut c, old).await;
    }
    end_whole(&c, ws).await;
}

/// etcd is killed and restarted while a failover is between fence and elect (held
/// there by the pause hook): the failover finishes, the set heals.
#[tokio::test]
async fn etcd_restarted_during_a_failover() {
    let cfg = ControlPlaneConfig::default().pause_after("fenced=3000");
    let (mut c, _cp) = start(1, 1, cfg).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let old = routed_primary(&topo, SET).await;

    let since = now_ms();
    let killed = Instant::now();
    c.kill_node(&old);
    let at = wait_op_phase(&topo, SET, FailoverPhase::Fenced).await;
    c.etcd_mut().restart().await.unwrap();
    eprintln!(
        "etcd restarted {:?} after the kill, at {}",
        killed.elapsed(),
        describe(&at)
    );
    let rec = wait_failover_of(&topo, SET, &old, since).await;
    assert_eq!(rec.id, at.id, "{}", describe(&rec));
    let rto = w.wait_ack_after(killed, WAIT).await.unwrap();
    eprintln!("writes back {rto:?} after the kill\n{}", describe(&rec));
    let new = rec.new_primary.clone().unwrap();
    assert_nothing_lost(c.node(&new), &w.log(), "after the failover").await;

    restart_as_replica(&mut c, &old).await;
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

/// Point reads (prepared and text) keep running while the primary hangs: none returns
/// a wrong row; one caught on the hung primary ends with a retryable `1105 (08S01)`
/// soon after the failover's fence instead of hanging (bounded here by [`READ_BOUND`]);
/// reads are answered again by the new primary; the set heals once it is resumed.
#[tokio::test]
async fn reads_during_a_hung_primary_end_with_a_retryable_error_and_resume() {
    const READ_BOUND: Duration = Duration::from_secs(5);
    let (c, _cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let old = routed_primary(&topo, SET).await;
    let ids: Vec<i64> = w.log().acked_ids().into_iter().take(20).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = [true, false]
        .into_iter()
        .map(|prepared| {
            let (opts, stop, ids) = (c.app_opts(), stop.clone(), ids.clone());
            tokio::spawn(async move {
                let mut conn: Option<mysql_async::Conn> = None;
                let (mut ok, mut failed, mut worst) = (0usize, Vec::new(), Duration::ZERO);
                for (n, id) in ids.iter().cycle().enumerate() {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) || n > 100_000 {
                        break;
                    }
                    let t = Instant::now();
                    let r = tokio::time::timeout(READ_BOUND, async {
                        let c = match &mut conn {
                            Some(c) => c,
                            None => conn.insert(mysql_async::Conn::new(opts.clone()).await?),
                        };
                        if prepared {
                            c.exec_first::<i64, _, _>(
                                format!("SELECT id FROM {TABLE} WHERE id = ?"),
                                (*id,),
                            )
                            .await
                        } else {
                            c.query_first::<i64, _>(format!(
                                "SELECT id FROM {TABLE} WHERE id = {id}"
                            ))
                            .await
                        }
                    })
                    .await;
                    worst = worst.max(t.elapsed());
                    match r {
                        Ok(Ok(got)) => {
                            assert_eq!(got, Some(*id), "a wrong answer for id {id}");
                            ok += 1;
                        }
                        Ok(Err(mysql_async::Error::Server(e))) => {
                            assert_eq!((e.code, e.state.as_str()), (1105, "08S01"), "{e}");
                            failed.push(e.message);
                            conn = None;
                        }
                        Ok(Err(e)) => panic!("read of {id}: {e}"),
                        Err(_) => panic!("a read of {id} hung for {READ_BOUND:?}"),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                (prepared, ok, failed, worst)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let since = now_ms();
    let frozen = Instant::now();
    c.node(&old).pause(true).unwrap();
    let rec = wait_failover_of(&topo, SET, &old, since).await;
    w.wait_acks_after(frozen, 20, WAIT).await.unwrap();
    c.node(&old).pause(false).unwrap();
    let after = Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        let (prepared, ok, failed, worst) = r.await.unwrap();
        eprintln!(
            "reader (prepared: {prepared}): {ok} answered, {} failed {failed:?}, slowest {worst:?}",
            failed.len()
        );
        assert!(ok > 0 && failed.len() <= 3, "{}", describe(&rec));
    }
    assert!(after.elapsed() < WAIT);
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

/// A stop shorter than the agent's `frozen_after_ms` (300 ms) — a debugger's
/// breakpoint, a short pause — is not a hang: no failover, the primary stays, writes
/// go on.
#[tokio::test]
async fn a_short_stop_of_the_primary_is_not_a_hang() {
    let (c, _cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let primary = routed_primary(&topo, SET).await;
    let since = now_ms();
    for _ in 0..3 {
        c.node(&primary).pause(true).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.node(&primary).pause(false).unwrap();
        let now = Instant::now();
        w.wait_acks_after(now, 10, WAIT).await.unwrap();
    }
    // Deliberate window: long enough for a failover to have started (rounds are 200 ms).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ops = topo.get_op(SET).await.unwrap();
    let done = setwise_tests::control::failovers_since(&topo, SET, since)
        .await
        .unwrap();
    assert!(ops.is_none() && done.is_empty(), "{ops:?} {done:?}");
    assert_eq!(routed_primary(&topo, SET).await, primary);
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}
