//! An old primary killed with gateway XA branches prepared (`sw-` gtrids) rejoins its
//! set and ends each of them as the set's new primary decided it (agent/src/prepared):
//!
//! * the coordinator's one-phase commit (its branch wrote the decision row `(gtrid, 1)`),
//!   committed on the new primary: committed on the old one too — its binlog holds no
//!   xid for it, and rolling it back lost a committed transaction (commit 3d8c5a9);
//! * a branch no other node ever had (no decision anywhere): rolled back;
//! * a branch prepared on both (binlogged, replicated), which the new primary then
//!   commits: the old primary's replica applier ends the copy its own crash recovery
//!   kept;
//! * a coordinator's branch committed whose decision row the gateways' recovery has
//!   since deleted on the new primary (30 s after the commit): committed, as the
//!   decision row's insert in the old primary's own binlog says.
//!
//! Before, the branches stayed prepared on the old primary, whose replication then
//! stalled behind their row locks (bench/faultload.py kill-primary: lag of 396 s) while
//! `setwise status` called the set whole; a replica whose applier waits behind a lock
//! is no longer counted whole (last test).

use mysql_async::prelude::Queryable;

use setwise_tests::control::{now_ms, ControlPlaneConfig};
use setwise_tests::faults::*;

/// (gtrid, row id) of the three cases.
const COMMITTED: (&str, i64) = ("sw-t1", 900_000_001);
const NEVER_SHIPPED: (&str, i64) = ("sw-t2", 900_000_002);
const REPLICATED: (&str, i64) = ("sw-t3", 900_000_003);
const CLEANED: (&str, i64) = ("sw-t4", 900_000_004);
const CASES: [(&str, i64); 4] = [COMMITTED, NEVER_SHIPPED, REPLICATED, CLEANED];

fn xid(gtrid: &str) -> String {
    format!("'{gtrid}','{SET}'")
}

/// The `sw-t` branches `XA RECOVER` lists on `node`.
async fn prepared_on(node: &setwise_tests::MariaDb) -> anyhow::Result<Vec<String>> {
    let rows = tokio::time::timeout(QUERY, node.query("XA RECOVER"))
        .await
        .map_err(|_| anyhow::anyhow!("{}: XA RECOVER did not answer", node.name()))??;
    Ok(rows
        .iter()
        .filter_map(|r| r.get(3).cloned().flatten())
        .filter(|d| d.starts_with("sw-t"))
        .collect())
}

/// The cases' rows' values on `node`, by id (absent: None).
async fn rows_on(node: &setwise_tests::MariaDb) -> anyhow::Result<Vec<Option<String>>> {
    let mut out = Vec::new();
    for (_, id) in CASES {
        out.push(scalar(node, &format!("SELECT v FROM {TABLE} WHERE id = {id}")).await?);
    }
    Ok(out)
}

/// One branch on `node`'s connection: `XA START`, `writes`, `XA END`, `XA PREPARE`;
/// binlogged or not.
async fn prepare(node: &setwise_tests::MariaDb, gtrid: &str, writes: &[String], log_bin: bool) {
    let mut conn = node.conn().await.unwrap();
    let mut sql = vec![format!("SET SESSION sql_log_bin = {}", u8::from(log_bin))];
    sql.push(format!("XA START {}", xid(gtrid)));
    sql.extend(writes.iter().cloned());
    sql.push(format!("XA END {}", xid(gtrid)));
    sql.push(format!("XA PREPARE {}", xid(gtrid)));
    for s in sql {
        conn.query_drop(&s)
            .await
            .unwrap_or_else(|e| panic!("{}: {s}: {e}", node.name()));
    }
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn an_old_primary_ends_its_prepared_branches_as_the_new_primary_decided() {
    let (mut c, _cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let w = writer(&c).await;
    let old = routed_primary(&topo, SET).await;
    let replicas: Vec<String> = c
        .set(SET)
        .nodes()
        .iter()
        .map(|n| n.name().to_string())
        .filter(|n| *n != old)
        .collect();
    // The decision table (the gateway's recovery creates it on the primary) on every node.
    for n in c.set(SET).nodes() {
        setwise_tests::wait_until(
            &format!("setwise_sys.xa_decisions on {}", n.name()),
            WAIT,
            || async {
                Ok(scalar(
                    n,
                    "SELECT COUNT(*) FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA = 'setwise_sys' AND TABLE_NAME = 'xa_decisions'",
                )
                .await?
                .as_deref()
                    == Some("1"))
            },
        )
        .await
        .unwrap();
    }

    let insert = |id: i64| format!("INSERT INTO {TABLE} (id, v) VALUES ({id}, 1)");
    let decision = |gtrid: &str| {
        format!("INSERT INTO setwise_sys.xa_decisions (gtrid, commit_) VALUES ('{gtrid}', 1)")
    };
    // Unlogged on every replica: what replication brought there of a one-phase commit.
    let on_replicas = |writes: Vec<String>| {
        let c = &c;
        let replicas = &replicas;
        async move {
            for r in replicas {
                let mut conn = c.node(r).conn().await.unwrap();
                conn.query_drop("SET SESSION sql_log_bin = 0")
                    .await
                    .unwrap();
                conn.query_drop("BEGIN").await.unwrap();
                for s in &writes {
                    conn.query_drop(s).await.unwrap();
                }
                conn.query_drop("COMMIT").await.unwrap();
                conn.disconnect().await.unwrap();
            }
        }
    };
    // The coordinator's branch, prepared on the old primary as a kill inside its
    // one-phase commit leaves it; committed on every replica. (Its decision row dated
    // ahead there, so that the gateways' recovery does not delete it during the test:
    // that is the fourth case.)
    let (g, id) = COMMITTED;
    prepare(c.node(&old), g, &[insert(id), decision(g)], false).await;
    on_replicas(vec![
        insert(id),
        format!(
            "INSERT INTO setwise_sys.xa_decisions (gtrid, commit_, at) \
             VALUES ('{g}', 1, NOW() + INTERVAL 1 DAY)"
        ),
    ])
    .await;
    // The same, but with the decision row's insert in the old primary's binlog (as
    // the one-phase commit writes it there) and deleted on the new primary below.
    let (g, id) = CLEANED;
    prepare(c.node(&old), g, &[insert(id)], false).await;
    on_replicas(vec![insert(id)]).await;
    c.node(&old).exec(&decision(g)).await.unwrap();
    // A branch that never left the old primary.
    let (g, id) = NEVER_SHIPPED;
    prepare(c.node(&old), g, &[insert(id)], false).await;
    // A branch prepared through replication on every replica too.
    let (g, id) = REPLICATED;
    prepare(c.node(&old), g, &[insert(id)], true).await;
    for r in &replicas {
        setwise_tests::wait_until(&format!("{g} prepared on {r}"), WAIT, || async {
            Ok(prepared_on(c.node(r))
                .await?
                .iter()
                .any(|d| d.starts_with(g)))
        })
        .await
        .unwrap();
    }
    assert_eq!(prepared_on(c.node(&old)).await.unwrap().len(), 4);

    let since = now_ms();
    c.kill_node(&old);
    let new = wait_failover_of(&topo, SET, &old, since)
        .await
        .new_primary
        .unwrap();
    // The new primary commits the replicated branch (as the gateway's recovery would;
    // if recovery already rolled it back, that end replicates the same way).
    let (g, _) = REPLICATED;
    match c.node(&new).exec(&format!("XA COMMIT {}", xid(g))).await {
        Ok(()) => {}
        Err(e) if format!("{e:#}").contains("1397") => {
            eprintln!("{g} already ended on {new}: {e:#}")
        }
        Err(e) => panic!("XA COMMIT {g} on {new}: {e:#}"),
    }
    c.node(&new)
        .exec(&format!(
            "DELETE FROM setwise_sys.xa_decisions WHERE gtrid = '{}'",
            CLEANED.0
        ))
        .await
        .unwrap();
    restart_as_replica(&mut c, &old).await;

    let gone = setwise_tests::wait_until(
        &format!("{old} to hold no prepared branch"),
        WHOLE_WAIT,
        || async { Ok(prepared_on(c.node(&old)).await?.is_empty()) },
    )
    .await;
    if let Err(e) = gone {
        panic!("{e:#}\n{}", sessions(c.node(&old)).await);
    }
    let want = rows_on(c.node(&new)).await.unwrap();
    assert_eq!(want[0].as_deref(), Some("1"), "committed on {new}");
    assert_eq!(want[1], None, "never on {new}");
    assert_eq!(want[3].as_deref(), Some("1"), "committed on {new}");
    setwise_tests::wait_until(
        &format!("{old} to hold the rows of {new}: {want:?}"),
        WAIT,
        || async { Ok(rows_on(c.node(&old)).await? == want) },
    )
    .await
    .unwrap();
    // Later writes of the same rows on the new primary reach the old one.
    for (_, id) in CASES {
        c.node(&new)
            .exec(&format!(
                "INSERT INTO {TABLE} (id, v) VALUES ({id}, 2) ON DUPLICATE KEY UPDATE v = 2"
            ))
            .await
            .unwrap();
    }
    let two = vec![Some("2".to_string()); CASES.len()];
    let applied = setwise_tests::wait_until(
        &format!("{old} to apply {new}'s later writes of the branches' rows"),
        WAIT,
        || async { Ok(rows_on(c.node(&old)).await? == two) },
    )
    .await;
    if let Err(e) = applied {
        panic!("{e:#}\n{}", sessions(c.node(&old)).await);
    }
    // The branches were ended unlogged: the old primary's own transactions (the
    // last GTID with its server id, per domain) are those the new primary has.
    let server_id = scalar(c.node(&old), "SELECT @@server_id")
        .await
        .unwrap()
        .unwrap();
    let own = |state: Option<String>| -> Vec<String> {
        state
            .unwrap_or_default()
            .split(',')
            .map(|g| g.trim().to_string())
            .filter(|g| g.split('-').nth(1) == Some(server_id.as_str()))
            .collect()
    };
    let state = "SELECT @@GLOBAL.gtid_binlog_state";
    let want = own(scalar(c.node(&new), state).await.unwrap());
    assert!(!want.is_empty(), "{new} holds transactions of {old}");
    setwise_tests::wait_until(
        &format!("{old}'s own GTIDs to be those {new} has: {want:?}"),
        WAIT,
        || async { Ok(own(scalar(c.node(&old), state).await?) == want) },
    )
    .await
    .unwrap();
    end_whole(&c, vec![(SET.to_string(), w)]).await;
}

/// A replica whose threads run but whose applier waits behind a lock (held here by a
/// session's locking read; after a kill, by a prepared branch) is not counted whole by
/// `setwise status` while it waits (10 s without progress), and is again once it
/// applies. (Before, a replica stalled 396 s behind a prepared branch was "whole".)
#[tokio::test]
async fn a_replica_whose_applier_waits_behind_a_lock_is_not_whole() {
    let (c, _cp) = start(1, 1, ControlPlaneConfig::default()).await;
    let topo = c.topo().clone();
    let primary = routed_primary(&topo, SET).await;
    let replica = c
        .set(SET)
        .nodes()
        .iter()
        .map(|n| n.name().to_string())
        .find(|n| *n != primary)
        .unwrap();
    const ID: i64 = 900_000_010;
    c.node(&primary)
        .exec(&format!("INSERT INTO {TABLE} (id, v) VALUES ({ID}, 1)"))
        .await
        .unwrap();
    let whole = format!("{SET}  whole (2 replicas replicating)");
    setwise_tests::wait_until(&format!("setwise status: {whole}"), WAIT, || async {
        Ok(status(&c).await.lines().any(|l| l.starts_with(&whole)))
    })
    .await
    .unwrap();
    let mut lock = c.node(&replica).conn().await.unwrap();
    lock.query_drop("BEGIN").await.unwrap();
    lock.query_drop(format!("SELECT v FROM {TABLE} WHERE id = {ID} FOR UPDATE"))
        .await
        .unwrap();
    c.node(&primary)
        .exec(&format!("UPDATE {TABLE} SET v = 2 WHERE id = {ID}"))
        .await
        .unwrap();
    let stuck = format!("{replica}'s replication SQL thread has applied nothing for");
    let said = setwise_tests::wait_until(&format!("setwise status: {stuck}"), WAIT, || async {
        Ok(status(&c).await.contains(&stuck))
    })
    .await;
    if let Err(e) = said {
        panic!("{e:#}\n{}", status(&c).await);
    }
    lock.query_drop("ROLLBACK").await.unwrap();
    lock.disconnect().await.unwrap();
    setwise_tests::wait_until(&format!("setwise status: {whole}"), WAIT, || async {
        Ok(status(&c).await.lines().any(|l| l.starts_with(&whole)))
    })
    .await
    .unwrap();
    let v = scalar(
        c.node(&replica),
        &format!("SELECT v FROM {TABLE} WHERE id = {ID}"),
    )
    .await
    .unwrap();
    assert_eq!(v.as_deref(), Some("2"));
}
