//! One chaos round: a fault on a set's primary, and what it cost.
//!
//! 1. Before the fault: the set is whole (`control::wait_set_whole`), every node
//!    reports and the set's writer is committing.
//! 2. The fault, on the primary routing names:
//!    - `kill`: `kill -9` its mariadbd;
//!    - `hang`: SIGSTOP it (a frozen server; its agent keeps running);
//!    - `leader`: `kill -9` it, then, as soon as the failover record in `ops/<set>`
//!      shows phase `Fenced` or later (polled every 20 ms), `kill -9` the scheduler
//!      leader: the standby has to finish the failover.
//! 3. RTO = fault → the first write *sent after the fault* acknowledged; then the
//!    failover record (`Done`, new primary in routing) and RPO = acknowledged rows
//!    missing on the new primary.
//! 4. Undo the fault: `kill`/`leader` restart the old primary (read-only, unless
//!    `--restart-writable`), `leader` restarts the killed scheduler, `hang` SIGCONTs the
//!    old primary (which must be fenced and rejoin by itself).
//! 5. Time to whole = fault → the set whole again (one writable primary, every other
//!    node read-only replicating from it with both threads running) and every
//!    acknowledged row on every node; rows a replica has and the primary lacks
//!    (diverged) fail the round.
//!
//! Every wait is bounded; a failed step ends the round with why, and the fault is
//! undone all the same.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use setwise_tests::control::{self, wait_failover_done, ControlPlane};
use setwise_tests::load::{ids_on, missing_on, wait_all_on, Writer};
use setwise_tests::mariadb::NodeOptions;
use setwise_tests::Cluster;
use topo::{FailoverPhase, Task, Topo};

use crate::{Args, TABLE};

/// Bounds of the waits in one round.
const BEFORE_WAIT: Duration = Duration::from_secs(60);
const FAILOVER_WAIT: Duration = Duration::from_secs(60);
const WHOLE_WAIT: Duration = Duration::from_secs(180);
const ALL_ON_WAIT: Duration = Duration::from_secs(60);
/// Bound of one query to a server (a hung server never answers).
const QUERY_WAIT: Duration = Duration::from_secs(10);
/// How often the leader round polls the failover record.
const FENCED_POLL: Duration = Duration::from_millis(20);

/// What a round does to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Kill,
    Hang,
    Leader,
}

impl Fault {
    pub const ALL: [Fault; 3] = [Fault::Kill, Fault::Hang, Fault::Leader];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::Kill => "kill",
            Fault::Hang => "hang",
            Fault::Leader => "leader",
        })
    }
}

impl FromStr for Fault {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "kill" => Fault::Kill,
            "hang" => Fault::Hang,
            "leader" => Fault::Leader,
            other => bail!("unknown fault {other:?} (kill, hang, leader)"),
        })
    }
}

/// One round's figures; `None`: the round failed before measuring it.
pub struct Round {
    pub n: usize,
    pub fault: Fault,
    pub set: String,
    /// What else happened (the leader killed, at which phase).
    pub detail: String,
    pub old: String,
    pub new: Option<String>,
    pub rto: Option<Duration>,
    pub failover_ms: Option<u64>,
    pub held_ms: Option<u64>,
    pub acked: usize,
    pub missing: Option<usize>,
    /// How the old primary came back (its task record), e.g. `repoint`.
    pub rejoin: String,
    /// Fault → the set whole again with every acknowledged row on every node.
    pub whole: Option<Duration>,
    pub failed: Option<String>,
}

/// What the fault changed that has not been undone yet.
#[derive(Default)]
struct Undo {
    paused: Option<String>,
    killed_node: Option<String>,
    killed_scheduler: Option<String>,
}

/// Runs round `n`: `fault` on `set`'s primary, `w` being the set's writer.
pub async fn run(
    c: &mut Cluster,
    cp: &mut ControlPlane,
    args: &Args,
    n: usize,
    fault: Fault,
    set: &str,
    w: &Writer,
) -> Round {
    let mut r = Round {
        n,
        fault,
        set: set.to_string(),
        detail: String::new(),
        old: "-".into(),
        new: None,
        rto: None,
        failover_ms: None,
        held_ms: None,
        acked: 0,
        missing: None,
        rejoin: "-".into(),
        whole: None,
        failed: None,
    };
    let mut undo = Undo::default();
    let result = steps(c, cp, args, w, &mut r, &mut undo).await;
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = result {
        problems.push(format!("{e:#}"));
    }
    problems.extend(undo_all(c, cp, args, &mut undo).await);
    let exited = cp.exited();
    if !exited.is_empty() {
        problems.push(format!("exited during the round: {}", exited.join(", ")));
        for p in &exited {
            let restarted = match p.split_once(' ') {
                Some(("agent", id)) => cp.start_agent(c, id),
                Some(("scheduler", id)) => cp.start_scheduler(c, id),
                _ => Ok(()),
            };
            if let Err(e) = restarted {
                problems.push(format!("restarting {p}: {e:#}"));
            }
        }
    }
    if !problems.is_empty() {
        r.failed = Some(problems.join("; "));
    }
    r
}

async fn steps(
    c: &mut Cluster,
    cp: &mut ControlPlane,
    args: &Args,
    w: &Writer,
    r: &mut Round,
    undo: &mut Undo,
) -> anyhow::Result<()> {
    let topo = c.topo().clone();
    let set = r.set.clone();
    let ids: Vec<String> = node_ids(c, &set);
    let ids_ref: Vec<&str> = ids.iter().map(String::as_str).collect();
    bounded(
        BEFORE_WAIT + QUERY_WAIT,
        control::wait_set_whole(c, &set, BEFORE_WAIT),
    )
    .await
    .context("before the fault")?;
    control::wait_reporting(&topo, &ids_ref, Duration::from_secs(30))
        .await
        .context("before the fault")?;
    let before = w.acked();
    w.wait_acked(before + 10, Duration::from_secs(30))
        .await
        .context("before the fault")?;
    let leader = match r.fault {
        Fault::Leader => Some(control::wait_leader(&topo, None, Duration::from_secs(10)).await?),
        _ => None,
    };
    let old = control::primary_of(&topo, &set)
        .await?
        .ok_or_else(|| anyhow!("{set} has no primary in routing"))?;
    r.old = old.clone();

    eprintln!("round {}: {} {old} (primary of {set})", r.n, r.fault);
    let since = control::now_ms();
    let t0 = Instant::now();
    match r.fault {
        Fault::Kill | Fault::Leader => {
            c.kill_node(&old);
            undo.killed_node = Some(old.clone());
        }
        Fault::Hang => {
            c.node(&old).pause(true).context("SIGSTOP")?;
            undo.paused = Some(old.clone());
        }
    }
    if let Some(leader) = leader {
        let phase = wait_fenced(&topo, &set, since, FAILOVER_WAIT).await?;
        cp.kill_scheduler(&leader);
        undo.killed_scheduler = Some(leader.clone());
        r.detail = format!("{leader} killed at {phase}");
        eprintln!("round {}: kill -9 {leader} (leader) at {phase}", r.n);
    }

    let rto = w.wait_ack_after(t0, FAILOVER_WAIT).await;
    let rto = match rto {
        Ok(d) => d,
        Err(e) => bail!(
            "{e:#}; failover in progress: {}",
            op_state(&topo, &set).await
        ),
    };
    r.rto = Some(rto);
    let rec = wait_failover_done(&topo, &set, since, FAILOVER_WAIT).await?;
    eprintln!("round {}: {}", r.n, control::describe(&rec));
    r.failover_ms = rec.duration_ms();
    r.held_ms = rec.held_ms();
    let new = rec.new_primary.clone().unwrap_or_default();
    r.new = Some(new.clone());
    w.wait_acks_after(t0, 10, FAILOVER_WAIT).await?;
    let acked = w.log().acked_ids();
    r.acked = acked.len();
    let missing = bounded(QUERY_WAIT, missing_on(c.node(&new), TABLE, &acked)).await?;
    r.missing = Some(missing.len());
    if !missing.is_empty() {
        eprintln!(
            "round {}: {} acknowledged rows missing on {new}: {:?}",
            r.n,
            missing.len(),
            &missing[..missing.len().min(20)]
        );
    }

    undo_all(c, cp, args, undo)
        .await
        .into_iter()
        .next()
        .map_or(Ok(()), |e| Err(anyhow!(e)))?;

    let whole = bounded(
        WHOLE_WAIT + QUERY_WAIT,
        control::wait_set_whole(c, &set, WHOLE_WAIT),
    )
    .await;
    r.rejoin = match control::task_of(&topo, &set, &old).await? {
        Some(t) if t.created_ms >= since => match t.task {
            Task::Repoint { .. } => "repoint".to_string(),
            Task::Rebuild { .. } => "rebuild".to_string(),
            other => other.name().to_string(),
        },
        _ => "no task".to_string(),
    };
    if let Err(e) = whole {
        bail!(
            "redundancy not restored: {e:#}; {old}: {}",
            node_story(&topo, &set, &old).await
        );
    }
    let acked_now = w.log().acked_ids();
    for id in &ids {
        bounded(
            ALL_ON_WAIT + QUERY_WAIT,
            wait_all_on(c.node(id), TABLE, &acked_now, ALL_ON_WAIT),
        )
        .await?;
    }
    r.whole = Some(t0.elapsed());
    diverged(c, &set, &ids).await
}

/// Fails when a node of `set` holds rows the primary does not (an errant transaction
/// kept): replicas are read first, so rows the primary wrote since do not count.
async fn diverged(c: &Cluster, set: &str, ids: &[String]) -> anyhow::Result<()> {
    let primary = control::primary_of(c.topo(), set)
        .await?
        .ok_or_else(|| anyhow!("{set} has no primary in routing"))?;
    let mut on_replicas: Vec<(String, BTreeSet<i64>)> = Vec::new();
    for id in ids.iter().filter(|id| **id != primary) {
        on_replicas.push((
            id.clone(),
            bounded(QUERY_WAIT, ids_on(c.node(id), TABLE)).await?,
        ));
    }
    let on_primary = bounded(QUERY_WAIT, ids_on(c.node(&primary), TABLE)).await?;
    let mut out = Vec::new();
    for (id, rows) in on_replicas {
        let extra: Vec<i64> = rows.difference(&on_primary).copied().collect();
        if !extra.is_empty() {
            out.push(format!(
                "{id} has {} rows the primary {primary} lacks: {:?}",
                extra.len(),
                &extra[..extra.len().min(10)]
            ));
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        bail!("diverged: {}", out.join("; "))
    }
}

/// Undoes what is left of the fault; returns what failed.
async fn undo_all(
    c: &mut Cluster,
    cp: &mut ControlPlane,
    args: &Args,
    undo: &mut Undo,
) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(id) = undo.paused.take() {
        eprintln!("SIGCONT {id}");
        if let Err(e) = c.node(&id).pause(false) {
            errors.push(format!("SIGCONT {id}: {e:#}"));
        }
    }
    if let Some(id) = undo.killed_scheduler.take() {
        eprintln!("restarting scheduler {id}");
        if let Err(e) = cp.start_scheduler(c, &id) {
            errors.push(format!("restarting scheduler {id}: {e:#}"));
        }
    }
    if let Some(id) = undo.killed_node.take() {
        eprintln!(
            "restarting {id} ({})",
            if args.restart_writable {
                "as it was"
            } else {
                "read-only"
            }
        );
        if !args.restart_writable {
            c.node_mut(&id).set_options(NodeOptions::replica());
        }
        if let Err(e) = c.restart_node(&id).await {
            errors.push(format!("restarting {id}: {e:#}"));
        }
    }
    errors
}

/// Polls `ops/<set>` every 20 ms until a failover started at or after `since_ms` is
/// at `Fenced` or later; returns the phase seen (`done` when it finished unseen).
async fn wait_fenced(
    topo: &Topo,
    set: &str,
    since_ms: u64,
    timeout: Duration,
) -> anyhow::Result<String> {
    let start = Instant::now();
    loop {
        match topo.get_op(set).await.map(|v| v.map(|v| v.value)) {
            Ok(Some(op)) if op.started_ms >= since_ms && op.phase >= FailoverPhase::Fenced => {
                return Ok(format!("{:?}", op.phase).to_lowercase());
            }
            Ok(None)
                if !control::failovers_since(topo, set, since_ms)
                    .await
                    .unwrap_or_default()
                    .is_empty() =>
            {
                return Ok("done".into());
            }
            _ => {}
        }
        if start.elapsed() > timeout {
            bail!(
                "no failover of {set} reached Fenced within {timeout:?}; in progress: {}",
                op_state(topo, set).await
            );
        }
        tokio::time::sleep(FENCED_POLL).await;
    }
}

/// Node `id`'s record (rejoin) and last task, for error messages.
async fn node_story(topo: &Topo, set: &str, id: &str) -> String {
    let rejoin = match control::node_record(topo, set, id).await {
        Ok(n) => format!("rejoin {:?}", n.rejoin),
        Err(e) => format!("{e:#}"),
    };
    let task = match control::task_of(topo, set, id).await {
        Ok(Some(t)) => format!(
            "task {} {:?} by {}{}",
            t.task.name(),
            t.state,
            t.by,
            t.error.map(|e| format!(" error: {e}")).unwrap_or_default()
        ),
        Ok(None) => "no task".into(),
        Err(e) => format!("{e:#}"),
    };
    format!("{rejoin}, {task}")
}

/// The failover in progress on `set`, described, for error messages.
async fn op_state(topo: &Topo, set: &str) -> String {
    match topo.get_op(set).await {
        Ok(Some(v)) => control::describe(&v.value),
        Ok(None) => "none".into(),
        Err(e) => format!("(ops/{set} unreadable: {e})"),
    }
}

/// `fut`, failing when it has not finished within `limit` (a hung server never
/// answers, and the harness's queries have no timeout of their own).
async fn bounded<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| anyhow!("no answer within {limit:?} (a server hangs?)"))?
}

fn node_ids(c: &Cluster, set: &str) -> Vec<String> {
    c.set(set)
        .nodes()
        .iter()
        .map(|n| n.name().to_string())
        .collect()
}
