//! DDL tasks, the scheduler leader's side (docs/ddl.md). Gateways record each schema
//! change in `ddl/<id>` ([`topo::DdlTask`]); the leader wakes on the watch, picks
//! every unfinished task that no earlier task on the same object holds back
//! ([`topo::blocked_by`]) and runs it ([`task`]): each set's primary gets its text
//! ([`step`]), a set that is down or failing over waits for its return, and once
//! every set applied it the schema change and the task's `done` go to etcd in one
//! transaction. A task whose outcome on a set was lost (leader change, broken
//! connection) is checked on that set before it runs again ([`check`]).

pub mod check;
pub mod record;
pub mod step;
pub mod task;

use std::collections::HashSet;
use std::time::Duration;

use tokio::task::JoinSet;
use topo::{DdlState, DdlTask};
use tracing::{info, warn};

use crate::config::MysqlConfig;
use crate::leader::LeaderCtx;

/// How often the leader looks at the tasks without a watch event.
const SCAN_EVERY: Duration = Duration::from_millis(500);
/// Finished tasks kept in etcd (the oldest beyond are deleted; a half-applied
/// failed task is kept until it is retried or cancelled).
const KEEP_FINISHED: usize = 200;

/// Runs DDL tasks until leadership ends.
pub async fn run(mut ctx: LeaderCtx, account: MysqlConfig) {
    let mut running: JoinSet<u64> = JoinSet::new();
    let mut active: HashSet<u64> = HashSet::new();
    let mut watch = None;
    info!(term = ctx.term, "DDL tasks: started");
    loop {
        if watch.is_none() {
            watch = ctx.topo.watch_ddl().await.ok();
        }
        let woke = async {
            match watch.as_mut() {
                Some(w) => matches!(w.message().await, Ok(Some(_))),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctx.stopped() => break,
            ok = woke => if !ok { watch = None },
            _ = tokio::time::sleep(SCAN_EVERY) => {}
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(id) = done {
                    active.remove(&id);
                }
            }
        }
        while let Some(done) = running.try_join_next() {
            if let Ok(id) = done {
                active.remove(&id);
            }
        }
        if running.is_empty() {
            active.clear();
        }
        let all: Vec<DdlTask> = match ctx.topo.list_ddl().await {
            Ok(v) => v.into_iter().map(|v| v.value).collect(),
            Err(e) => {
                warn!("DDL tasks: cannot read them: {e}");
                continue;
            }
        };
        prune(&ctx, &all).await;
        for t in &all {
            if t.state.is_finished() || active.contains(&t.id) {
                continue;
            }
            if let Some(b) = topo::blocked_by(t, &all) {
                if b.half_applied() {
                    refuse_behind(&ctx, t.id, b.id).await;
                }
                continue;
            }
            active.insert(t.id);
            let (ctx, account, id) = (ctx.clone(), account.clone(), t.id);
            running.spawn(async move {
                if let Err(e) = task::run(ctx, account, id).await {
                    warn!(task = id, "DDL task stopped: {e:#}");
                }
                id
            });
        }
    }
    running.shutdown().await;
    info!(term = ctx.term, "DDL tasks: stopped");
}

/// Deletes the oldest finished tasks beyond [`KEEP_FINISHED`].
async fn prune(ctx: &LeaderCtx, all: &[DdlTask]) {
    let finished: Vec<&DdlTask> = all
        .iter()
        .filter(|t| t.state.is_finished() && !t.half_applied())
        .collect();
    let extra = finished.len().saturating_sub(KEEP_FINISHED);
    for t in finished.into_iter().take(extra) {
        if let Err(e) = ctx.topo.delete(&ctx.topo.keys().ddl_task(t.id)).await {
            warn!(task = t.id, "DDL tasks: cannot delete an old one: {e}");
            return;
        }
    }
}

/// Fails task `id` without touching a set: an earlier task on its object is half
/// applied and must be retried or cancelled first.
async fn refuse_behind(ctx: &LeaderCtx, id: u64, blocker: u64) {
    let key = ctx.topo.keys().ddl_task(id);
    let r = ctx
        .topo
        .update::<DdlTask, _>(&key, |cur| {
            let mut t = cur.ok_or_else(|| topo::TopoError::Invalid {
                what: "ddl task",
                why: format!("{id} is gone"),
            })?;
            if t.state == DdlState::Queued {
                t.state = DdlState::Failed;
                t.finished_ms = Some(crate::now_ms());
                t.error = Some(format!(
                    "DDL task {blocker} on the same object is half-applied: \
                     `setwise ddl retry {blocker}` or `setwise ddl cancel {blocker} --force` first"
                ));
            }
            Ok(t)
        })
        .await;
    match r {
        Ok(t) if t.state == DdlState::Failed => crate::metrics::ddl_task("refused"),
        Ok(_) => {}
        Err(e) => warn!(task = id, "DDL task: cannot record its refusal: {e}"),
    }
}
