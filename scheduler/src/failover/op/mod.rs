//! One failover or switchover, driven phase by phase (docs/failover.md). The record in
//! `ops/<set>` is rewritten by compare-and-swap after every step, so a scheduler that
//! lost leadership cannot overwrite its successor's progress, and a new leader resumes
//! from the last recorded phase (every step is idempotent).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use topo::gtid::GtidPos;
use topo::{
    Batch, FailoverKind, FailoverPhase, FailoverRecord, HealthReport, NodeRecord, Role, Task, Topo,
    Versioned,
};
use tracing::{info, warn};

use super::tasks;
use crate::config::{FailoverConfig, MysqlConfig};
use crate::leader::LeaderCtx;
use crate::now_ms;

/// Attempts at electing and promoting before a failover gives up.
const MAX_PROMOTE_ATTEMPTS: usize = 3;
/// How long a failover waits for the old primary's agent to make it read-only (it is
/// usually dead: this is only a courtesy).
const FENCE_COURTESY: Duration = Duration::from_millis(1000);

mod phases;

/// Drives the operation in `ops/<set>` to its end.
pub struct Driver {
    ctx: LeaderCtx,
    cfg: FailoverConfig,
    /// The account the scheduler reaches MariaDB with (freezing replicas at election).
    account: MysqlConfig,
    rec: FailoverRecord,
    /// mod_revision of `ops/<set>` as last written by us.
    rev: i64,
    /// Candidates that failed to promote in this run.
    excluded: Vec<String>,
}

impl Driver {
    /// Records a new operation; fails if one is already in progress on the set. A
    /// switchover also deletes its request (`request` = key and revision) in the same
    /// transaction, so a request is acted on once.
    pub async fn start(
        ctx: LeaderCtx,
        cfg: FailoverConfig,
        account: MysqlConfig,
        mut rec: FailoverRecord,
        request: Option<(String, i64)>,
    ) -> Result<Self> {
        rec.by = vec![ctx.id.clone()];
        let key = ctx.topo.keys().op(&rec.set);
        let mut batch = Batch::new().unchanged(&key, 0).put(&key, &rec)?;
        if let Some((req_key, req_rev)) = &request {
            batch = batch.unchanged(req_key, *req_rev).delete(req_key);
        }
        if !ctx.topo.commit(batch).await? {
            bail!("another operation is in progress on set {}", rec.set);
        }
        let rev = current_rev(&ctx.topo, &rec.set)
            .await?
            .ok_or_else(|| anyhow!("the operation record vanished"))?;
        Ok(Self {
            ctx,
            cfg,
            account,
            rec,
            rev,
            excluded: Vec::new(),
        })
    }

    /// Takes over an operation found in `ops/<set>` (e.g. after a leader change).
    pub fn resume(
        ctx: LeaderCtx,
        cfg: FailoverConfig,
        account: MysqlConfig,
        found: Versioned<FailoverRecord>,
    ) -> Self {
        let mut rec = found.value;
        if !rec.by.contains(&ctx.id) {
            rec.by.push(ctx.id.clone());
        }
        Self {
            ctx,
            cfg,
            account,
            rec,
            rev: found.mod_revision,
            excluded: Vec::new(),
        }
    }

    /// Runs to `Done` or `Failed` and files the record under `failovers/`.
    pub async fn run(mut self) -> Result<FailoverRecord> {
        let resumed = self.rec.phase != FailoverPhase::Started;
        if resumed {
            let phase = self.rec.phase;
            self.step(format!("resumed at phase {phase:?} by {}", self.ctx.id));
            self.save().await?;
        }
        loop {
            let r = match self.rec.phase {
                FailoverPhase::Started => self.fence().await,
                FailoverPhase::Fenced => self.elect().await,
                FailoverPhase::Elected => self.promote().await,
                FailoverPhase::Promoted => self.publish().await,
                FailoverPhase::Published => self.repoint().await,
                FailoverPhase::Done | FailoverPhase::Failed => break,
            };
            if r.is_ok() {
                super::failpoint::after(self.rec.phase).await;
            }
            if let Err(e) = r {
                if self.ctx.is_stopping() {
                    return Err(anyhow!(
                        "leadership ended during {:?}: {e:#}",
                        self.rec.phase
                    ));
                }
                if crate::etcd_trouble(&e) {
                    // Not a reason to give up (and restore a dead primary): the
                    // record in etcd still says where the operation is, and the
                    // leader resumes it from there once etcd answers.
                    return Err(anyhow!(
                        "etcd failed during {:?}; the operation resumes from its record: {e:#}",
                        self.rec.phase
                    ));
                }
                self.fail(format!("{e:#}")).await?;
            }
        }
        self.rec.finished_ms = Some(now_ms());
        let topo = self.ctx.topo.clone();
        if self.ctx.is_stopping() {
            bail!("leadership ended");
        }
        topo.finish_op(&self.rec).await?;
        match self.rec.phase {
            FailoverPhase::Done => info!(
                set = %self.rec.set,
                kind = ?self.rec.kind,
                old = %self.rec.old_primary,
                new = self.rec.new_primary.as_deref().unwrap_or("-"),
                duration_ms = self.rec.duration_ms().unwrap_or(0),
                held_ms = self.rec.held_ms().unwrap_or(0),
                "{} done",
                kind_word(self.rec.kind)
            ),
            _ => warn!(
                set = %self.rec.set,
                "{} failed: {}",
                kind_word(self.rec.kind),
                self.rec.error.as_deref().unwrap_or("")
            ),
        }
        Ok(self.rec)
    }

    // ---- bookkeeping -------------------------------------------------------------

    /// Ends the operation as failed. When nobody was published in its place, the old
    /// primary gets its role back: a switched-over one is made writable again (it was
    /// only made read-only); a dead one is simply named again in routing, so the next
    /// rounds see it down and try again, and if it comes back it serves as before.
    async fn fail(&mut self, why: String) -> Result<()> {
        // Only the driver that owns the record may undo anything: after a change
        // of leader the record was rewritten by the next one (which resumed it),
        // and restoring the old primary now would undo its work.
        let now_rev = current_rev(&self.ctx.topo, &self.rec.set).await?;
        if now_rev != Some(self.rev) {
            bail!("another scheduler took the operation over ({why})");
        }
        self.step(format!("failed: {why}"));
        self.rec.error = Some(why);
        let fenced =
            self.rec.phase >= FailoverPhase::Fenced && self.rec.phase < FailoverPhase::Published;
        if fenced && !self.rec.old_primary.is_empty() {
            let r = match self.rec.kind {
                FailoverKind::Switchover => self.restore_old_primary(true).await,
                FailoverKind::Failover => self.restore_old_primary(false).await,
            };
            if let Err(e) = r {
                self.step(format!("restoring the old primary failed: {e:#}"));
            }
        }
        self.rec.phase = FailoverPhase::Failed;
        self.save().await
    }

    /// Names the old primary again in routing; `writable`: first make it writable.
    async fn restore_old_primary(&mut self, writable: bool) -> Result<()> {
        let topo = self.ctx.topo.clone();
        let set = self.rec.set.clone();
        let old = self.rec.old_primary.clone();
        if writable {
            // No `rejoin` while it is made writable again: its agent would fence a
            // demoted node it sees writable.
            clear_rejoin(&topo, &set, &old).await?;
            let set_rec = topo
                .get_set(&set)
                .await?
                .ok_or_else(|| anyhow!("set {set} is not registered"))?;
            let task = Task::Promote {
                wait_gtid: None,
                sync: set_rec.sync,
                semi_timeout_ms: set_rec.semi_timeout_ms,
            };
            tasks::run(
                &self.ctx,
                &set,
                &old,
                task,
                Duration::from_millis(self.cfg.task_timeout_ms),
            )
            .await
            .map_err(|e| anyhow!(e))?;
        }
        let mut n = node(&topo, &set, &old)
            .await?
            .ok_or_else(|| anyhow!("node {old} is not registered"))?;
        n.role = Role::Primary;
        n.rejoin = None;
        topo.put_node(&n).await?;
        self.rec.published_ms = Some(now_ms());
        self.step(format!("{old} is named primary again"));
        Ok(())
    }

    fn step(&mut self, what: String) {
        let at = now_ms().saturating_sub(self.rec.started_ms);
        info!(set = %self.rec.set, "{}: {what}", kind_word(self.rec.kind));
        self.rec.steps.push(format!("+{at}ms {what}"));
    }

    /// Writes the record (CAS on our last revision).
    async fn save(&mut self) -> Result<()> {
        if self.ctx.is_stopping() {
            bail!("leadership ended");
        }
        let key = self.ctx.topo.keys().op(&self.rec.set);
        self.rev = self.ctx.topo.cas(&key, &self.rec, self.rev).await?;
        self.rev = current_rev(&self.ctx.topo, &self.rec.set)
            .await?
            .unwrap_or(self.rev);
        Ok(())
    }
}

fn kind_word(k: FailoverKind) -> &'static str {
    match k {
        FailoverKind::Failover => "failover",
        FailoverKind::Switchover => "switchover",
    }
}

async fn current_rev(topo: &Topo, set: &str) -> Result<Option<i64>> {
    Ok(topo.get_op(set).await?.map(|v| v.mod_revision))
}

async fn node(topo: &Topo, set: &str, id: &str) -> Result<Option<NodeRecord>> {
    Ok(topo
        .get::<NodeRecord>(&topo.keys().node(set, id))
        .await?
        .map(|v| v.value))
}

async fn health_of(topo: &Topo, set: &str, id: &str) -> Option<HealthReport> {
    topo.get::<HealthReport>(&topo.keys().health_of(set, id))
        .await
        .ok()
        .flatten()
        .map(|v| v.value)
}

/// Resolves when `node`'s agent reports it down twice in a row, 100 ms apart (or
/// its report is gone); says how.
async fn primary_lost(topo: &Topo, set: &str, node: &str) -> String {
    let mut bad = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let why = match health_of(topo, set, node).await {
            None => Some("has no health report".to_string()),
            Some(h) if !h.readable => Some(format!(
                "is down: {}",
                h.error.as_deref().unwrap_or("unreadable")
            )),
            Some(_) => None,
        };
        match why {
            Some(why) => {
                bad += 1;
                if bad >= 2 {
                    return why;
                }
            }
            None => bad = 0,
        }
    }
}

/// Clears a node's `rejoin` (it replicates from the current primary again).
pub async fn clear_rejoin(topo: &Topo, set: &str, id: &str) -> Result<()> {
    topo.update(&topo.keys().node(set, id), |cur: Option<NodeRecord>| {
        let mut n = cur.ok_or_else(|| topo::TopoError::NotFound {
            what: "node",
            name: id.to_string(),
        })?;
        n.rejoin = None;
        Ok(n)
    })
    .await?;
    Ok(())
}

/// Whether a returning old primary's binlog is contained in what the new primary had at
/// promotion (then it can simply replicate; else it holds unacknowledged transactions).
pub fn can_rejoin(binlog: &str, promoted_gtid: &str) -> bool {
    GtidPos::parse_lossy(promoted_gtid).contains(&GtidPos::parse_lossy(binlog))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejoin_needs_containment() {
        assert!(can_rejoin("0-101-10", "0-101-10"));
        assert!(can_rejoin("0-101-9", "0-101-10"));
        assert!(can_rejoin("", "0-101-10"));
        assert!(!can_rejoin("0-101-11", "0-101-10"));
        assert!(!can_rejoin("0-101-10,1-101-1", "0-101-10"));
    }
}
