//! Commits of transactions that wrote to several sets (two-phase, `proxy/src/session/txn.rs`)
//! under group commit of their decisions (`proxy/src/xa_log.rs`):
//! * decisions of transactions committing at the same time are written to etcd together
//!   (fewer etcd revisions than decisions), and a gateway killed after they are recorded
//!   but before its second phase leaves prepared branches that the next gateway's
//!   recovery commits, every one of them;
//! * decisions of finished commits do not stay in etcd (they are deleted along with
//!   later decisions, or by recovery's round);
//! * the last-agent commit (`[xa] decisions = "sets"`, the default): the coordinator set's
//!   one-phase commit carries the decision row (`setwise_sys.xa_decisions`), no etcd write;
//!   a gateway killed after it, before phase two, leaves prepared branches the next
//!   gateway commits by that row; one killed before it leaves branches recovery rolls
//!   back (after recording the abort on every set); the rows are then deleted;
//! * a dead gateway's branches (no registered gateway has the instance in their gtrid)
//!   are rolled back without waiting for `[xa] grace_ms`.
//!
//! The gateway's test hook `SETWISE_XA_PAUSE=deciding=MS,prepared=MS,decided=MS` pauses the
//! writer of a batch before it takes the decisions waiting, each commit after its first
//! phase, and each commit after its decision is recorded.

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::*;
use setwise_tests::Cluster;

/// Bound for any wait in this file.
const WAIT: Duration = Duration::from_secs(60);
/// Transactions committing at once.
const TXNS: usize = 6;

/// Two sets (a primary each), `shop.t` sharded by `id` with rows 1..=40 (v = 0),
/// inserted one by one (each a one-set commit); the gateway started with `env`,
/// recording its decisions in etcd.
async fn shop(env: &[(&str, &str)]) -> Cluster {
    shop_with(env, "[xa]\ndecisions = \"etcd\"\n").await
}

/// [`shop`], with `extra` as the gateway's extra configuration.
async fn shop_with(env: &[(&str, &str)], extra: &str) -> Cluster {
    let mut c = Cluster::two_sets_without_gateway().await;
    c.set_proxy_env(env);
    c.set_proxy_extra(extra);
    c.start_proxy().await.unwrap();
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop("CREATE DATABASE shop").await.unwrap();
    g.query_drop("CREATE TABLE shop.t (id INT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    for id in 1..=40 {
        g.query_drop(format!("INSERT INTO shop.t VALUES ({id}, 0)"))
            .await
            .unwrap();
    }
    c
}

/// Ids stored on `set`, read from its primary.
async fn ids_on(c: &Cluster, set: &str) -> Vec<i64> {
    let rows = c
        .primary(set)
        .query("SELECT id FROM shop.t ORDER BY id")
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect()
}

/// The gateway's branches left prepared on `set` (gtrids).
async fn prepared_on(c: &Cluster, set: &str) -> Vec<String> {
    let rows = c.primary(set).query("XA RECOVER").await.unwrap();
    rows.into_iter()
        .map(|r| {
            // formatID, gtrid_length, bqual_length, data (gtrid then bqual)
            let glen: usize = r[1].as_deref().unwrap().parse().unwrap();
            r[3].as_deref().unwrap()[..glen].to_string()
        })
        .filter(|g| g.starts_with("sw-"))
        .collect()
}

/// The decisions recorded in etcd: (gtrid, commit, mod revision).
async fn decisions(c: &Cluster) -> Vec<(String, bool, i64)> {
    let prefix = c.topo().keys().xa();
    c.topo()
        .list::<topo::XaDecision>(&prefix)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.value.gtrid, v.value.commit, v.mod_revision))
        .collect()
}

/// `TXNS` clients each update one row on each set in a transaction, then all COMMIT at
/// once; returns the updated ids and the clients' tasks (their COMMITs may hang).
async fn commit_across_sets(c: &Cluster, v: i64) -> (Vec<i64>, Vec<tokio::task::JoinHandle<()>>) {
    let (one, two) = (ids_on(c, "set1").await, ids_on(c, "set2").await);
    assert!(one.len() >= TXNS && two.len() >= TXNS, "{one:?} / {two:?}");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(TXNS + 1));
    let mut tasks = Vec::new();
    let mut ids = Vec::new();
    for k in 0..TXNS {
        let (a, b) = (one[k], two[k]);
        ids.extend([a, b]);
        let mut s = c.proxy_conn().await.unwrap();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            s.query_drop("BEGIN").await.unwrap();
            for id in [a, b] {
                s.query_drop(format!("UPDATE shop.t SET v = {v} WHERE id = {id}"))
                    .await
                    .unwrap();
            }
            barrier.wait().await;
            // May never answer (the gateway is killed under it).
            let _ = s.query_drop("COMMIT").await;
        }));
    }
    barrier.wait().await;
    (ids, tasks)
}

#[tokio::test]
async fn decisions_are_grouped_and_a_crash_before_phase_two_still_commits_every_branch() {
    let mut c = shop(&[("SETWISE_XA_PAUSE", "deciding=1500,decided=600000")]).await;
    let (ids, tasks) = commit_across_sets(&c, 7).await;

    // Every transaction prepared on both sets and had its decision recorded, in
    // fewer etcd writes than transactions; none went on to its second phase.
    let cl = &c;
    setwise_tests::wait_until("every decision recorded", WAIT, || async move {
        Ok(decisions(cl).await.len() == TXNS)
    })
    .await
    .unwrap();
    let ds = decisions(&c).await;
    assert_eq!(
        ds.len(),
        TXNS,
        "decisions still recorded (no phase two): {ds:?}"
    );
    assert!(ds.iter().all(|d| d.1), "{ds:?}");
    let writes: BTreeSet<i64> = ds.iter().map(|d| d.2).collect();
    assert!(
        writes.len() < TXNS,
        "{TXNS} decisions in {} etcd writes: not grouped ({ds:?})",
        writes.len()
    );
    let gtrids: BTreeSet<String> = ds.iter().map(|d| d.0.clone()).collect();
    for set in ["set1", "set2"] {
        let p: BTreeSet<String> = prepared_on(&c, set).await.into_iter().collect();
        assert_eq!(p, gtrids, "{set}: prepared branches");
    }

    // The gateway dies between the phases; the next one (no pause) recovers them.
    c.kill_proxy();
    for t in tasks {
        t.abort();
    }
    c.set_proxy_env(&[]);
    c.start_proxy().await.unwrap();
    let cl = &c;
    setwise_tests::wait_until("recovery to finish every branch", WAIT, || async move {
        Ok(prepared_on(cl, "set1").await.is_empty() && prepared_on(cl, "set2").await.is_empty())
    })
    .await
    .unwrap();
    let mut g = c.proxy_conn().await.unwrap();
    let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let rows: Vec<(i64, i64)> = g
        .query(format!(
            "SELECT id, v FROM shop.t WHERE id IN ({}) ORDER BY id",
            list.join(",")
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2 * TXNS, "{rows:?}");
    assert!(rows.iter().all(|r| r.1 == 7), "not all committed: {rows:?}");
}

#[tokio::test]
async fn decisions_of_finished_commits_do_not_stay_in_etcd() {
    let c = shop(&[]).await;
    for round in 1..=3 {
        let (ids, tasks) = commit_across_sets(&c, round).await;
        for t in tasks {
            t.await.unwrap();
        }
        let mut g = c.proxy_conn().await.unwrap();
        let list: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
        let n: Option<i64> = g
            .query_first(format!(
                "SELECT COUNT(*) FROM shop.t WHERE v = {round} AND id IN ({})",
                list.join(",")
            ))
            .await
            .unwrap();
        assert_eq!(n, Some(2 * TXNS as i64));
    }
    // Deleted with later decisions, the last ones by recovery's round (every 5 s).
    let cl = &c;
    setwise_tests::wait_until("no decision left in etcd", WAIT, || async move {
        Ok(decisions(cl).await.is_empty())
    })
    .await
    .unwrap();
    for set in ["set1", "set2"] {
        assert!(prepared_on(&c, set).await.is_empty(), "{set}");
    }
}

/// `SHOW GLOBAL STATUS` counter `name` on `set`'s primary.
async fn status(c: &Cluster, set: &str, name: &str) -> i64 {
    let rows = c
        .primary(set)
        .query(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await
        .unwrap();
    rows[0][1].as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_read_only_transaction_runs_without_xa_and_reads_one_snapshot_per_set() {
    let c = shop(&[]).await;
    let mut r = c.proxy_conn().await.unwrap();
    let mut w = c.proxy_conn().await.unwrap();
    let sum = "SELECT CAST(SUM(v) AS SIGNED) FROM shop.t";
    let before: Vec<(i64, i64)> = futures::future::join_all(["set1", "set2"].map(|s| async {
        (
            status(&c, s, "Com_xa_start").await,
            status(&c, s, "Com_begin").await,
        )
    }))
    .await;

    r.query_drop("START TRANSACTION READ ONLY").await.unwrap();
    let first: Option<i64> = r.query_first(sum).await.unwrap();
    assert_eq!(first, Some(0));
    // Another session writes on both sets (a two-phase commit): unseen until COMMIT.
    w.query_drop("UPDATE shop.t SET v = v + 1").await.unwrap();
    let again: Option<i64> = r.query_first(sum).await.unwrap();
    assert_eq!(
        again,
        Some(0),
        "one snapshot per set for the whole transaction"
    );
    // A write is refused on any set, as one MariaDB refuses it (1792).
    let e = r
        .query_drop("UPDATE shop.t SET v = 5 WHERE id = 1")
        .await
        .unwrap_err();
    assert_eq!(
        setwise_tests::sql::server_error(&e).map(|e| e.0),
        Some(1792)
    );
    r.query_drop("COMMIT").await.unwrap();
    let after: Option<i64> = r.query_first(sum).await.unwrap();
    assert_eq!(after, Some(40));

    for (i, set) in ["set1", "set2"].into_iter().enumerate() {
        let xa = status(&c, set, "Com_xa_start").await - before[i].0;
        let begin = status(&c, set, "Com_begin").await - before[i].1;
        // The other session's write is an XA branch; the read-only reader none.
        assert_eq!(xa, 1, "{set}: XA START count");
        assert!(
            begin >= 1,
            "{set}: the reader's branch is a plain transaction"
        );
    }

    // A plain BEGIN may write: its branches are XA branches.
    let before: Vec<i64> =
        futures::future::join_all(["set1", "set2"].map(|s| status(&c, s, "Com_xa_start"))).await;
    r.query_drop("BEGIN").await.unwrap();
    let _: Option<i64> = r.query_first(sum).await.unwrap();
    // (Counted before COMMIT, which also starts the next transaction's
    // branches: `exec::txn::primed`.)
    for (i, set) in ["set1", "set2"].into_iter().enumerate() {
        assert_eq!(
            status(&c, set, "Com_xa_start").await - before[i],
            1,
            "{set}"
        );
    }
    r.query_drop("COMMIT").await.unwrap();
}

/// The decision rows on `set`'s primary: (gtrid, commit).
async fn rows_of_decisions(c: &Cluster, set: &str) -> Vec<(String, bool)> {
    match c
        .primary(set)
        .query("SELECT gtrid, commit_ FROM setwise_sys.xa_decisions")
        .await
    {
        Ok(rows) => rows
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].as_deref() == Some("1")))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until recovery's first round created the decision table on both sets.
async fn decision_tables(c: &Cluster) {
    setwise_tests::wait_until("the decision tables", WAIT, || async move {
        for set in ["set1", "set2"] {
            if c.primary(set)
                .query("SELECT 1 FROM setwise_sys.xa_decisions LIMIT 1")
                .await
                .is_err()
            {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await
    .unwrap();
}

/// One client updates one row on each set (v = `v`) and commits; returns the ids
/// and the client's task (its COMMIT may hang under a pause).
async fn one_across_sets(c: &Cluster, v: i64) -> ([i64; 2], tokio::task::JoinHandle<()>) {
    let ids = [ids_on(c, "set1").await[0], ids_on(c, "set2").await[0]];
    let mut s = c.proxy_conn().await.unwrap();
    let task = tokio::spawn(async move {
        s.query_drop("BEGIN").await.unwrap();
        for id in ids {
            s.query_drop(format!("UPDATE shop.t SET v = {v} WHERE id = {id}"))
                .await
                .unwrap();
        }
        let _ = s.query_drop("COMMIT").await;
    });
    (ids, task)
}

/// `v` of `ids`, read through the gateway.
async fn values(c: &Cluster, ids: [i64; 2]) -> Vec<i64> {
    let mut g = c.proxy_conn().await.unwrap();
    g.query(format!(
        "SELECT v FROM shop.t WHERE id IN ({}, {}) ORDER BY id",
        ids[0], ids[1]
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn a_crash_after_the_coordinator_commit_commits_the_prepared_branches_by_its_row() {
    let mut c = shop_with(&[("SETWISE_XA_PAUSE", "decided=600000")], "").await;
    decision_tables(&c).await;
    let (ids, task) = one_across_sets(&c, 7).await;
    // The coordinator (set2) committed with its row; set1's branch is prepared.
    let cl = &c;
    setwise_tests::wait_until(
        "the decision row and the prepared branch",
        WAIT,
        || async move {
            Ok(!rows_of_decisions(cl, "set2").await.is_empty()
                && !prepared_on(cl, "set1").await.is_empty())
        },
    )
    .await
    .unwrap();
    let rows = rows_of_decisions(&c, "set2").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].1, "a commit row: {rows:?}");
    assert_eq!(prepared_on(&c, "set1").await, vec![rows[0].0.clone()]);
    assert!(prepared_on(&c, "set2").await.is_empty());
    assert!(decisions(&c).await.is_empty(), "no decision in etcd");

    c.kill_proxy();
    task.abort();
    c.set_proxy_env(&[]);
    c.start_proxy().await.unwrap();
    let cl = &c;
    setwise_tests::wait_until("recovery to commit the branch", WAIT, || async move {
        Ok(prepared_on(cl, "set1").await.is_empty())
    })
    .await
    .unwrap();
    assert_eq!(values(&c, ids).await, vec![7, 7]);
    // The row goes once no branch needs it.
    let cl = &c;
    setwise_tests::wait_until("the decision row deleted", WAIT, || async move {
        Ok(rows_of_decisions(cl, "set2").await.is_empty())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_crash_before_the_coordinator_commit_rolls_every_branch_back() {
    let mut c = shop_with(&[("SETWISE_XA_PAUSE", "prepared=600000")], "").await;
    decision_tables(&c).await;
    let (ids, task) = one_across_sets(&c, 9).await;
    let cl = &c;
    setwise_tests::wait_until("the prepared branch", WAIT, || async move {
        Ok(!prepared_on(cl, "set1").await.is_empty())
    })
    .await
    .unwrap();
    let gtrid = prepared_on(&c, "set1").await[0].clone();
    assert!(rows_of_decisions(&c, "set2").await.is_empty());

    // The coordinator's branch (never prepared) dies with the gateway's
    // connection; recovery records the abort on every set, then rolls back.
    c.kill_proxy();
    task.abort();
    c.set_proxy_env(&[]);
    c.start_proxy().await.unwrap();
    let cl = &c;
    setwise_tests::wait_until("recovery to roll the branch back", WAIT, || async move {
        Ok(prepared_on(cl, "set1").await.is_empty())
    })
    .await
    .unwrap();
    assert_eq!(values(&c, ids).await, vec![0, 0]);
    for set in ["set1", "set2"] {
        let rows = rows_of_decisions(&c, set).await;
        assert!(
            rows.is_empty() || rows == vec![(gtrid.clone(), false)],
            "{set}: {rows:?}"
        );
    }
    // A slow coordinator could not commit now: its row's key is taken.
    let mut p = c.primary("set2").conn().await.unwrap();
    let r = p
        .query_drop(format!(
            "INSERT INTO setwise_sys.xa_decisions (gtrid, commit_) VALUES ('{gtrid}', 1)"
        ))
        .await;
    let rows = rows_of_decisions(&c, "set2").await;
    if rows.is_empty() {
        // Already cleaned (older than 30 s): nothing prepared needs it.
        r.unwrap();
    } else {
        assert!(r.is_err(), "{rows:?}");
    }
}

/// A dead gateway's prepared branch (its gtrid's instance is no registered gateway's)
/// is rolled back by the next gateway's recovery at once, not after the grace period a
/// live gateway's branch gets (600 s here): its row locks stalled every client of those
/// rows for that long after a gateway restart (20 s by default, measured under load).
#[tokio::test]
async fn a_dead_gateways_branch_is_rolled_back_without_the_grace_period() {
    let mut c = shop_with(
        &[("SETWISE_XA_PAUSE", "prepared=600000")],
        "[xa]\ngrace_ms = 600000\n",
    )
    .await;
    decision_tables(&c).await;
    let (ids, task) = one_across_sets(&c, 5).await;
    let cl = &c;
    setwise_tests::wait_until("the prepared branch", WAIT, || async move {
        Ok(!prepared_on(cl, "set1").await.is_empty())
    })
    .await
    .unwrap();
    c.kill_proxy();
    task.abort();
    c.set_proxy_env(&[]);
    c.start_proxy().await.unwrap();
    let cl = &c;
    setwise_tests::wait_until("recovery to roll the orphan back", WAIT, || async move {
        Ok(prepared_on(cl, "set1").await.is_empty())
    })
    .await
    .unwrap();
    assert_eq!(values(&c, ids).await, vec![0, 0]);
    // The row is free: a write of it does not wait.
    let mut g = c.proxy_conn().await.unwrap();
    g.query_drop("SET SESSION innodb_lock_wait_timeout = 1")
        .await
        .unwrap();
    g.query_drop(format!("UPDATE shop.t SET v = 6 WHERE id = {}", ids[0]))
        .await
        .unwrap();
}

#[tokio::test]
async fn last_agent_commits_record_nothing_in_etcd() {
    let c = shop_with(&[], "").await;
    decision_tables(&c).await;
    for round in 1..=3 {
        let (ids, task) = one_across_sets(&c, round).await;
        task.await.unwrap();
        assert_eq!(values(&c, ids).await, vec![round, round]);
    }
    assert!(decisions(&c).await.is_empty());
    let rows = rows_of_decisions(&c, "set2").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for set in ["set1", "set2"] {
        assert!(prepared_on(&c, set).await.is_empty(), "{set}");
    }
}
