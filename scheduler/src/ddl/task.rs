//! One DDL task from start to end: `running`, every unfinished set's step at once
//! ([`super::step`]), then `done` with the schema change in one etcd transaction
//! when every set applied it, or `failed` when one refused it.

use anyhow::{anyhow, Result};
use topo::{Batch, DdlState, StepState, Topo};
use tracing::{info, warn};

use crate::config::MysqlConfig;
use crate::leader::LeaderCtx;

use super::record::edit;

/// Runs task `id` to its end (or until leadership ends or it is cancelled).
pub async fn run(ctx: LeaderCtx, account: MysqlConfig, id: u64) -> Result<()> {
    let t = edit(&ctx.topo, id, |t| {
        if t.state == DdlState::Queued {
            t.state = DdlState::Running;
            t.started_ms.get_or_insert(crate::now_ms());
        }
        Ok(())
    })
    .await?;
    if t.state != DdlState::Running {
        return Ok(());
    }
    info!(task = id, sql = %t.sql, "DDL task running");
    let steps = (0..t.steps.len())
        .filter(|&i| !matches!(t.steps[i].state, StepState::Done | StepState::Failed))
        .map(|i| super::step::run(ctx.clone(), account.clone(), id, i));
    futures::future::join_all(steps).await;
    if ctx.is_stopping() {
        return Ok(());
    }
    finish(&ctx.topo, id).await
}

/// Ends the task once every step has ended: `done` (with the schema change) or `failed`.
async fn finish(topo: &Topo, id: u64) -> Result<()> {
    for _ in 0..16 {
        let cur = topo
            .get_ddl(id)
            .await?
            .ok_or_else(|| anyhow!("DDL task {id} is gone"))?;
        let mut t = cur.value;
        if t.state != DdlState::Running {
            return Ok(());
        }
        if t.steps
            .iter()
            .any(|s| !matches!(s.state, StepState::Done | StepState::Failed))
        {
            // Cancelled steps or leadership ending left some unfinished: the next
            // round (or leader) resumes them.
            return Ok(());
        }
        let ok = t.steps.iter().all(|s| s.state == StepState::Done);
        t.state = if ok { DdlState::Done } else { DdlState::Failed };
        t.finished_ms = Some(crate::now_ms());
        let key = topo.keys().ddl_task(id);
        let mut b = Batch::new().unchanged(&key, cur.mod_revision);
        if ok {
            b = t.change.batch(topo, b)?;
        }
        b = b.put(&key, &t)?;
        if topo.commit(b).await? {
            crate::metrics::ddl_task(if ok { "done" } else { "failed" });
            if ok {
                info!(task = id, "DDL task done");
            } else {
                let (code, _, msg) = t.client_error();
                warn!(task = id, code, "DDL task failed: {msg}");
            }
            return Ok(());
        }
    }
    Err(anyhow!("DDL task {id}: its record kept changing"))
}
