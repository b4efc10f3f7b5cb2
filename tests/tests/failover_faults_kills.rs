//! Failover under real faults, primaries killed in a row or at once, under write load
//! (issue 11; the fixtures are [`setwise_tests::faults`]):
//!
//! * the new primary killed right after it was published, before the failover's
//!   repoint ran: the set fails over again to the last replica;
//! * two failovers in a row leave a lone strong-sync primary whose commits wait for an
//!   acknowledgement: both old primaries are rebuilt from it;
//! * two sets losing their primaries at once;
//! * a two-set commit whose coordinator's primary is killed: the failover ends the other
//!   set's prepared branch at once (it held its rows' locks for recovery's grace period).

use std::time::Instant;

use setwise_tests::control::{describe, now_ms, ControlPlaneConfig};
use setwise_tests::faults::*;
use topo::FailoverPhase;

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

/// A transaction writing both sets loses its coordinator: set2's primary is killed after
/// set1's branch prepared and before the coordinator's one-phase commit
/// ([`setwise_tests::faults_xa`]). The gateway decides the transaction on set2's new
/// primary once the set failed over, so set1's prepared branch and its row's lock end
/// then — not after recovery's grace period (600 s in this test, 20 s by default, while
/// every client writing that row waited).
#[tokio::test]
async fn a_commit_whose_coordinators_primary_is_killed_frees_the_other_sets_at_the_failover() {
    let (mut c, _cp, mut pc) = setwise_tests::faults_xa::paused_commit().await;
    let old = pc.old.clone();
    c.kill_node(&old);
    pc.freed_by_the_failover(&mut c, |_| {}).await;
    restart_as_replica(&mut c, &old).await;
    pc.all_or_nothing(&c).await;
}
