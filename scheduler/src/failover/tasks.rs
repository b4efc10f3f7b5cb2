//! Giving an agent a task (`tasks/<set>/<node>`) and waiting for its outcome.

use std::time::Duration;

use topo::{Task, TaskRecord, TaskState, Topo};

use crate::leader::LeaderCtx;

/// How often a waiting scheduler re-reads the task record.
const POLL: Duration = Duration::from_millis(25);

/// Writes a new pending task for `node`, replacing any earlier one. The agent
/// must start it within `start_within`, or it expires (an agent that was dead or
/// whose node was frozen does not run it late).
pub async fn give(
    ctx: &LeaderCtx,
    set: &str,
    node: &str,
    task: Task,
    start_within: Duration,
) -> Result<TaskRecord, String> {
    if ctx.is_stopping() {
        return Err("leadership ended".into());
    }
    let now = crate::now_ms();
    let mut rec = TaskRecord::new(set, node, task, &ctx.id, now);
    rec.expires_ms = Some(now + start_within.as_millis() as u64);
    ctx.topo
        .put_task(&rec)
        .await
        .map_err(|e| format!("cannot write task for {node}: {e}"))?;
    Ok(rec)
}

/// Waits until task `given` is done (`Ok` with the final record) or failed, replaced,
/// timed out, or leadership ended (`Err`).
pub async fn wait(
    ctx: &LeaderCtx,
    given: &TaskRecord,
    within: Duration,
) -> Result<TaskRecord, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if ctx.is_stopping() {
            return Err("leadership ended".into());
        }
        match ctx.topo.get_task(&given.set, &given.node).await {
            Ok(Some(v)) if v.value.id != given.id => {
                return Err(format!(
                    "task {} on {} was replaced by {}",
                    given.id, given.node, v.value.id
                ))
            }
            Ok(Some(v)) => match v.value.state {
                TaskState::Done => return Ok(v.value),
                TaskState::Failed => {
                    return Err(format!(
                        "{} on {} failed: {}",
                        given.task.name(),
                        given.node,
                        v.value.error.as_deref().unwrap_or("no error text")
                    ))
                }
                TaskState::Pending | TaskState::Running => {}
            },
            Ok(None) => return Err(format!("task on {} disappeared", given.node)),
            Err(e) => tracing::debug!("reading task of {}: {e}", given.node),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{} on {} did not finish within {} ms (is its agent running?)",
                given.task.name(),
                given.node,
                within.as_millis()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`give`] then [`wait`].
pub async fn run(
    ctx: &LeaderCtx,
    set: &str,
    node: &str,
    task: Task,
    within: Duration,
) -> Result<TaskRecord, String> {
    let rec = give(ctx, set, node, task, within).await?;
    wait(ctx, &rec, within).await
}

/// The node's current task, if any (errors read as none).
pub async fn current(topo: &Topo, set: &str, node: &str) -> Option<TaskRecord> {
    topo.get_task(set, node)
        .await
        .ok()
        .flatten()
        .map(|v| v.value)
}
