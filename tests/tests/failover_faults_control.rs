//! Failover under real faults of the control plane itself, under write load (issue 11;
//! the fixtures are [`setwise_tests::faults`]):
//!
//! * the scheduler leader killed between fence and promote, and between promote and
//!   publish (held there by the scheduler's `SETWISE_FAILOVER_PAUSE` hook): the other
//!   scheduler carries the failover on;
//! * a primary killed while its agent is dead;
//! * etcd restarted in the middle of a failover.

use std::time::{Duration, Instant};

use setwise_tests::control::{
    describe, now_ms, wait_leader, wait_not_reporting, ControlPlaneConfig,
};
use setwise_tests::faults::*;
use topo::FailoverPhase;

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
