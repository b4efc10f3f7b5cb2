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

/// The gtrids of the gateway's branches prepared on `node` (bounded: [`QUERY`]).
async fn prepared_on(node: &setwise_tests::MariaDb) -> anyhow::Result<Vec<String>> {
    let rows = tokio::time::timeout(QUERY, node.query("XA RECOVER")).await??;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let glen: usize = r[1].as_deref()?.parse().ok()?;
            Some(r[3].as_deref()?.get(..glen)?.to_string())
        })
        .filter(|g| g.starts_with("sw-"))
        .collect())
}

/// A transaction writing both sets hangs in its coordinator's commit: set2's primary is
/// stopped (SIGSTOP) after set1's branch prepared (the gateway's hook pauses each commit
/// there) and before the coordinator's one-phase commit. The failover of set2 must end
/// set1's prepared branch — decided on set2's new primary — while the old one is still
/// stopped: it held the row's lock, so every client writing that row waited for the
/// stopped server (its connection stayed open: recovery could not end the branch either,
/// XAER_NOTA). The client gets an error, the row is writable again, and once everything
/// healed the transaction is either on both sets or on neither.
#[tokio::test]
async fn a_commit_hung_on_its_coordinators_primary_frees_the_other_sets_at_the_failover() {
    let mut c = setwise_tests::Cluster::builder()
        .sets(2)
        .replicas(2)
        .proxy(false)
        .start()
        .await
        .expect("start 2 sets");
    c.set_proxy_env(&[("SETWISE_XA_PAUSE", "prepared=3000")]);
    c.start_proxy().await.unwrap();
    drop(c.create_shop(&[setwise_tests::shop::SHOP_T]).await);
    let _cp = c
        .start_control_plane_with(1, ControlPlaneConfig::default())
        .await
        .unwrap();
    let topo = c.topo().clone();
    let a = setwise_tests::load::ids_of_set(&c, "shop", "t", "set1")
        .await
        .unwrap()
        .next()
        .unwrap();
    let b = setwise_tests::load::ids_of_set(&c, "shop", "t", "set2")
        .await
        .unwrap()
        .next()
        .unwrap();
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop(format!("INSERT INTO {TABLE} VALUES ({a}, 0)"))
        .await
        .unwrap();
    g.query_drop(format!("INSERT INTO {TABLE} VALUES ({b}, 0)"))
        .await
        .unwrap();
    // (Every commit writing both sets pauses after its first phase; the set2
    // branch, written last, is the coordinator.)
    let mut client = c.proxy_conn().await.unwrap();
    let commit = tokio::spawn(async move {
        client.query_drop("BEGIN").await?;
        client
            .query_drop(format!("UPDATE {TABLE} SET v = 1 WHERE id = {a}"))
            .await?;
        client
            .query_drop(format!("UPDATE {TABLE} SET v = 1 WHERE id = {b}"))
            .await?;
        client.query_drop("COMMIT").await
    });
    let p1 = routed_primary(&topo, "set1").await;
    let in_doubt = setwise_tests::wait_for(
        "set1's branch to be prepared",
        WAIT,
        || async { Ok(Some(prepared_on(c.node(&p1)).await?)) },
        |g: &Vec<String>| !g.is_empty(),
    )
    .await
    .unwrap();
    let old = routed_primary(&topo, "set2").await;
    let since = now_ms();
    c.node(&old).pause(true).unwrap();
    let rec = wait_failover_of(&topo, "set2", &old, since).await;
    eprintln!("{}", describe(&rec));

    // The client's COMMIT ends (an error: its outcome was not known when it ended).
    let r = tokio::time::timeout(WAIT, commit)
        .await
        .expect("the COMMIT did not end after the failover")
        .unwrap();
    eprintln!("COMMIT: {r:?}");
    // set1's branch is ended while set2's old primary is still stopped, and the row
    // it locked takes writes again.
    let left = setwise_tests::wait_for(
        "set1's prepared branch to end",
        WAIT,
        || async { Ok(Some(prepared_on(c.node(&p1)).await?)) },
        |g: &Vec<String>| !g.iter().any(|x| in_doubt.contains(x)),
    )
    .await;
    if let Err(e) = left {
        c.node(&old).pause(false).unwrap();
        panic!("{e:#}\nsessions of {p1}:\n{}", sessions(c.node(&p1)).await);
    }
    let mut other = c.proxy_conn().await.unwrap();
    other
        .query_drop("SET SESSION innodb_lock_wait_timeout = 5")
        .await
        .unwrap();
    let written = tokio::time::timeout(
        WAIT,
        other.query_drop(format!("UPDATE {TABLE} SET v = v + 10 WHERE id = {a}")),
    )
    .await;
    c.node(&old).pause(false).unwrap();
    written
        .expect("the write of set1's row did not end")
        .expect("set1's row is still locked by the transaction hung on set2");

    // Healed: the transaction is on both sets or on neither.
    for set in ["set1", "set2"] {
        if let Err(e) = wait_set_whole(&c, set, WHOLE_WAIT).await {
            panic!("{set}: {e:#}\n{}", status(&c).await);
        }
    }
    let v = |id: i64| {
        let set = if id == a { "set1" } else { "set2" };
        let topo = topo.clone();
        let c = &c;
        async move {
            let p = routed_primary(&topo, set).await;
            scalar(
                c.node(&p),
                &format!("SELECT v FROM {TABLE} WHERE id = {id}"),
            )
            .await
            .unwrap()
            .unwrap()
        }
    };
    let (va, vb) = (v(a).await, v(b).await);
    assert!(
        (va == "11" && vb == "1") || (va == "10" && vb == "0"),
        "half a transaction: v = {va} on set1 (10 + its 1?), {vb} on set2"
    );
    assert!(prepared_on(c.node(&routed_primary(&topo, "set1").await))
        .await
        .unwrap()
        .is_empty());
}
