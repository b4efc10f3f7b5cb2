//! The fixtures of the failover-under-faults tests (`tests/tests/failover_faults_*.rs`,
//! issue 11): each test runs its own cluster (1 or 2 sets of a primary `setN-n0` and
//! replicas `setN-n1`, `setN-n2`, strong sync), the gateway, agents and the fast control
//! plane of [`crate::control`], with a writer committing numbered rows through the
//! gateway the whole time.
//!
//! Every test ends the same way ([`end_whole`]): every set whole again (one writable
//! primary, every other node read-only replicating from it, read from the servers),
//! writes acknowledged, every acknowledged write on every node, and every node holding
//! exactly the primary's rows.

use std::time::{Duration, Instant};

use topo::{FailoverKind, FailoverPhase, FailoverRecord, Topo};

use crate::control::{
    describe, now_ms, primary_of, set_problems, wait_set_whole, ControlPlane, ControlPlaneConfig,
};
use crate::load::{ids_of_set, ids_on, missing_on, table_dump, wait_all_on, WriteLog, Writer};
use crate::mariadb::NodeOptions;
use crate::{Cluster, MariaDb};

/// Bound of every wait for the control plane to act.
pub const WAIT: Duration = Duration::from_secs(30);
/// Bound for a set to be whole again (a rebuild copies the data over).
pub const WHOLE_WAIT: Duration = Duration::from_secs(120);
/// How fast a resumed old primary must be read-only.
pub const FENCE_BOUND: Duration = Duration::from_secs(10);
/// Bound of one direct query of a node (a hung server accepts TCP, never answers).
pub const QUERY: Duration = Duration::from_secs(3);
/// The pause the scheduler hook makes at the chosen phase.
pub const PAUSE_MS: u64 = 4000;
pub const TABLE: &str = "shop.t";
pub const SET: &str = "set1";

/// `sets` sets (primary + 2 replicas each) with the gateway, `shop.t` sharded over them
/// created through it, and a control plane of `schedulers` schedulers with `cfg`.
pub async fn start(
    sets: usize,
    schedulers: usize,
    cfg: ControlPlaneConfig,
) -> (Cluster, ControlPlane) {
    let c = Cluster::with_shop_t(sets, 2).await;
    let cp = c.start_control_plane_with(schedulers, cfg).await.unwrap();
    (c, cp)
}

/// A writer per set, each with ids that land on its set (as `setwise-chaos` does);
/// waits until each has 20 acknowledged writes.
pub async fn writers(c: &Cluster) -> Vec<(String, Writer)> {
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
pub async fn writer(c: &Cluster) -> Writer {
    writers(c).await.pop().unwrap().1
}

/// The primary of `set` in routing.
pub async fn routed_primary(topo: &Topo, set: &str) -> String {
    primary_of(topo, set)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{set} has no single primary in routing"))
}

/// A bounded query of one value straight on a node.
pub async fn scalar(node: &MariaDb, sql: &str) -> anyhow::Result<Option<String>> {
    tokio::time::timeout(QUERY, node.scalar(sql))
        .await
        .map_err(|_| anyhow::anyhow!("{} did not answer within {QUERY:?}", node.name()))?
}

/// `setwise status`, for failure messages.
pub async fn status(c: &Cluster) -> String {
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
pub async fn sessions(node: &MariaDb) -> String {
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
pub async fn wait_op_phase(topo: &Topo, set: &str, phase: FailoverPhase) -> FailoverRecord {
    crate::wait_for(
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
pub async fn wait_failover_of(topo: &Topo, set: &str, old: &str, since_ms: u64) -> FailoverRecord {
    let found = crate::wait_for(
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
pub async fn assert_nothing_lost(node: &MariaDb, log: &WriteLog, when: &str) {
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
pub async fn restart_as_replica(c: &mut Cluster, id: &str) {
    c.node_mut(id).set_options(NodeOptions::replica());
    c.restart_node(id).await.unwrap();
}

/// How every test ends, for each set and its writer: the set whole again (bounded by
/// [`WHOLE_WAIT`]), writes acknowledged on it, then (writer stopped) every acknowledged
/// write on the primary and on every node, and every node holding exactly the
/// primary's rows (no transaction the primary lacks).
pub async fn end_whole(c: &Cluster, writers: Vec<(String, Writer)>) {
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
            let same = crate::wait_until(
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
        let said = crate::wait_until(&format!("setwise status: {line}"), WAIT, || async {
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
pub async fn hang_primary(c: &Cluster, w: &Writer, set: &str) -> (String, String) {
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
        tokio::time::sleep(crate::POLL).await;
    }
    eprintln!("{old} read-only {:?} after SIGCONT", resumed.elapsed());
    // Clients go on writing to the new primary, whatever the old one does.
    let t = Instant::now();
    w.wait_acks_after(t, 20, WAIT).await.unwrap();
    (old, new)
}
