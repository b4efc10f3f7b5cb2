//! Carrying the policy's decisions out: set flags in etcd, and tasks given to a
//! node only when it has none in flight, its report already reflects the last one,
//! and a failed one has waited its turn ([`next_step`]); a repoint that cannot work
//! becomes a rebuild ([`escalate`]).

use anyhow::Result;
use topo::{Degradation, HealthReport, NodeRecord, SetRecord, Task, TaskRecord, TaskState, Topo};
use tracing::{info, warn};

use super::{Decision, POLICY_TASK_START_WITHIN, RETRY_FAILED_MS};
use crate::failover::op::clear_rejoin;
use crate::failover::tasks;
use crate::leader::LeaderCtx;

/// A repoint that failed because the node cannot replicate from the primary
/// at all — error 1236: the primary lacks what the node asks for (its GTID
/// position is not in the primary's binlog: it holds transactions the primary
/// never had) — is turned into a rebuild from the primary.
pub fn escalate(cur: Option<&TaskRecord>, wanted: &Task) -> Option<Task> {
    let Task::Repoint { host, port, .. } = wanted else {
        return None;
    };
    let cur = cur?;
    let failed_fatally = cur.state == TaskState::Failed
        && matches!(cur.task, Task::Repoint { .. })
        && cur
            .error
            .as_deref()
            .is_some_and(|e| e.contains("1236") || e.contains("not in the master's binlog"));
    failed_fatally.then(|| Task::Rebuild {
        host: host.clone(),
        port: *port,
    })
}

/// Carries out `decisions`; errors are logged, not returned (the next round retries).
pub async fn apply(ctx: &LeaderCtx, health: &[HealthReport], decisions: Vec<Decision>) {
    for d in decisions {
        if ctx.is_stopping() {
            return;
        }
        if let Err(e) = apply_one(ctx, health, &d).await {
            warn!("policy: {d:?}: {e:#}");
        }
    }
}

async fn apply_one(ctx: &LeaderCtx, health: &[HealthReport], d: &Decision) -> Result<()> {
    let topo = &ctx.topo;
    match d {
        Decision::BlockWrites { set, reason } => {
            warn!(set, "refusing writes: {reason}");
            update_set(topo, set, |s| s.writes_blocked = Some(reason.clone())).await
        }
        Decision::AllowWrites { set } => {
            info!(set, "writes allowed again");
            update_set(topo, set, |s| s.writes_blocked = None).await
        }
        Decision::Degrade { set, reason } => {
            warn!(set, "degraded: {reason}");
            let since_ms = crate::now_ms();
            update_set(topo, set, |s| {
                s.degraded = Some(Degradation {
                    since_ms,
                    reason: reason.clone(),
                })
            })
            .await
        }
        Decision::Recover { set } => {
            info!(set, "semi-sync acknowledgements are back");
            update_set(topo, set, |s| s.degraded = None).await
        }
        Decision::Task {
            set,
            node,
            task,
            why,
            rejoin,
        } => {
            let report_at = health
                .iter()
                .find(|h| &h.node == node && &h.set == set)
                .map(|h| h.at_ms)
                .unwrap_or(0);
            let cur = tasks::current(topo, set, node).await;
            let escalated = escalate(cur.as_ref(), task);
            let (task, why) = match &escalated {
                Some(t) => (
                    t,
                    format!(
                        "{why}; the last repoint failed for good ({}): rebuilding it",
                        cur.as_ref()
                            .and_then(|c| c.error.as_deref())
                            .unwrap_or("no error text")
                    ),
                ),
                None => (task, why.clone()),
            };
            let since = if *rejoin {
                rejoin_since(topo, set, node).await
            } else {
                0
            };
            let step = match escalated {
                // A repoint that cannot work: no point waiting to retry it.
                Some(_) => Step::Give,
                None => next_step(
                    cur.as_ref(),
                    task,
                    *rejoin,
                    since,
                    report_at,
                    crate::now_ms(),
                ),
            };
            match step {
                Step::Wait => Ok(()),
                Step::ClearRejoin => {
                    info!(set, node, "old primary rejoined the set");
                    clear_rejoin(topo, set, node).await
                }
                Step::Give => {
                    info!(set, node, task = task.name(), "{why}");
                    tasks::give(ctx, set, node, task.clone(), POLICY_TASK_START_WITHIN)
                        .await
                        .map(|_| ())
                        .map_err(anyhow::Error::msg)
                }
            }
        }
    }
}

/// What to do about a wanted task given the node's current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Wait,
    Give,
    ClearRejoin,
}

/// `cur`: the node's task record; `since`: when its rejoin began; `report_at`: its
/// latest health report.
pub fn next_step(
    cur: Option<&TaskRecord>,
    wanted: &Task,
    rejoin: bool,
    since: u64,
    report_at: u64,
    now: u64,
) -> Step {
    let Some(cur) = cur else { return Step::Give };
    match cur.state {
        TaskState::Pending | TaskState::Running => Step::Wait,
        TaskState::Done
            if rejoin
                && cur.created_ms >= since
                && matches!(cur.task, Task::Repoint { .. } | Task::Rebuild { .. }) =>
        {
            Step::ClearRejoin
        }
        // The report does not show the effect of the last task yet.
        TaskState::Done if cur.updated_ms >= report_at => Step::Wait,
        TaskState::Failed if now.saturating_sub(cur.updated_ms) < RETRY_FAILED_MS => Step::Wait,
        _ if !rejoin
            && cur.task == *wanted
            && cur.state == TaskState::Done
            && now.saturating_sub(cur.updated_ms) < RETRY_FAILED_MS =>
        {
            Step::Wait
        }
        _ => Step::Give,
    }
}

async fn rejoin_since(topo: &Topo, set: &str, node: &str) -> u64 {
    topo.get::<NodeRecord>(&topo.keys().node(set, node))
        .await
        .ok()
        .flatten()
        .and_then(|v| v.value.rejoin)
        .map(|r| r.since_ms)
        .unwrap_or(0)
}

async fn update_set(topo: &Topo, set: &str, f: impl Fn(&mut SetRecord)) -> Result<()> {
    topo.update(&topo.keys().set(set), |cur: Option<SetRecord>| {
        let mut s = cur.ok_or_else(|| topo::TopoError::NotFound {
            what: "set",
            name: set.to_string(),
        })?;
        f(&mut s);
        Ok(s)
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_not_repeated() {
        let ro = Task::ReadOnly;
        let mut t = TaskRecord::new("s", "n", ro.clone(), "x", 100);
        assert_eq!(next_step(None, &ro, false, 0, 0, 0), Step::Give);
        assert_eq!(next_step(Some(&t), &ro, false, 0, 500, 500), Step::Wait);
        t.state = TaskState::Done;
        t.updated_ms = 200;
        // Report older than the task's end: wait for a fresh one.
        assert_eq!(next_step(Some(&t), &ro, false, 0, 150, 300), Step::Wait);
        // Fresh report still wants it, soon after: wait; much later: again.
        assert_eq!(next_step(Some(&t), &ro, false, 0, 250, 300), Step::Wait);
        assert_eq!(
            next_step(Some(&t), &ro, false, 0, 20_250, 20_300),
            Step::Give
        );
        t.state = TaskState::Failed;
        assert_eq!(next_step(Some(&t), &ro, false, 0, 250, 5_000), Step::Wait);
        assert_eq!(next_step(Some(&t), &ro, false, 0, 250, 20_000), Step::Give);
        let rp = Task::Repoint {
            host: "h".into(),
            port: 1,
            from_binlog: true,
        };
        let mut t = TaskRecord::new("s", "n", rp.clone(), "x", 100);
        t.state = TaskState::Done;
        assert_eq!(
            next_step(Some(&t), &rp, true, 50, 0, 300),
            Step::ClearRejoin
        );
        assert_eq!(next_step(Some(&t), &rp, true, 150, 300, 300), Step::Give);
    }
}
