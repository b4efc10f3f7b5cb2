//! Failover under real faults, hung primaries (SIGSTOP) under write load (issue 11;
//! the fixtures are [`setwise_tests::faults`]):
//!
//! * a hung primary: failed over; once resumed (SIGCONT) it is fenced (read-only) at
//!   once and rejoins as a replica without transactions the new primary lacks;
//! * the same again on the new primary (a second hang);
//! * point reads (prepared and text) running while the primary hangs: never a wrong
//!   row or a hung read, a retryable error at most, then answers from the new primary;
//! * a stop shorter than the agent's `frozen_after_ms`: no failover;
//! * a two-set commit whose coordinator's primary hangs: the failover ends the other
//!   set's prepared branch at once (it held its rows' locks until the server woke).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use setwise_tests::control::{describe, now_ms, wait_set_whole, ControlPlaneConfig};
use setwise_tests::faults::*;

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

/// A transaction writing both sets hangs in its coordinator's commit: set2's primary is
/// stopped (SIGSTOP) after set1's branch prepared and before the coordinator's one-phase
/// commit ([`setwise_tests::faults_xa`]). The failover of set2 must end set1's prepared
/// branch — decided on set2's new primary — while the old one is still stopped: it held
/// the row's lock, so every client writing that row waited for the stopped server (its
/// connection stayed open: recovery could not end the branch either, XAER_NOTA).
#[tokio::test]
async fn a_commit_hung_on_its_coordinators_primary_frees_the_other_sets_at_the_failover() {
    let (mut c, _cp, mut pc) = setwise_tests::faults_xa::paused_commit().await;
    let old = pc.old.clone();
    c.node(&old).pause(true).unwrap();
    pc.freed_by_the_failover(&mut c, |c| c.node(&old).pause(false).unwrap())
        .await;
    pc.all_or_nothing(&c).await;
}
