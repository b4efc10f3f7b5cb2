//! One failover or switchover, driven phase by phase (docs/failover.md). The record in
//! `ops/<set>` is rewritten by compare-and-swap after every step, so a scheduler that
//! lost leadership cannot overwrite its successor's progress, and a new leader resumes
//! from the last recorded phase (every step is idempotent).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use topo::gtid::GtidPos;
use topo::{
    Batch, FailoverKind, FailoverPhase, FailoverRecord, HealthReport, NodeRecord, Rejoin, Role,
    SetRecord, Task, Topo, Versioned,
};
use tracing::{info, warn};

use super::{elect, freeze, tasks};
use crate::config::{FailoverConfig, MysqlConfig};
use crate::leader::LeaderCtx;
use crate::now_ms;

/// Attempts at electing and promoting before a failover gives up.
const MAX_PROMOTE_ATTEMPTS: usize = 3;
/// How long a failover waits for the old primary's agent to make it read-only (it is
/// usually dead: this is only a courtesy).
const FENCE_COURTESY: Duration = Duration::from_millis(1000);

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

    // ---- phases ------------------------------------------------------------------

    /// Bumps the epoch and demotes the old primary in routing (one txn); then makes it
    /// read-only: waited for in a switchover (its final position), a courtesy in a
    /// failover (it is dead).
    async fn fence(&mut self) -> Result<()> {
        let topo = self.ctx.topo.clone();
        let set = self.rec.set.clone();
        let keys = topo.keys().clone();
        let set_v: Versioned<SetRecord> = topo
            .get(&keys.set(&set))
            .await?
            .ok_or_else(|| anyhow!("set {set} is not registered"))?;
        let mut set_rec = set_v.value.clone();
        set_rec.epoch += 1;
        let now = now_ms();
        let mut batch = Batch::new()
            .unchanged(&keys.op(&set), self.rev)
            .unchanged(&keys.set(&set), set_v.mod_revision)
            .put(&keys.set(&set), &set_rec)?;
        let old = self.rec.old_primary.clone();
        let old_node = if old.is_empty() {
            None
        } else {
            node(&topo, &set, &old).await?
        };
        if let Some(mut n) = old_node.clone() {
            n.role = Role::Replica;
            n.rejoin = Some(Rejoin {
                new_primary: String::new(),
                promoted_gtid: String::new(),
                since_ms: now,
            });
            batch = batch.put(&keys.node(&set, &n.id), &n)?;
        }
        self.rec.phase = FailoverPhase::Fenced;
        self.rec.fenced_ms = Some(now);
        self.step(format!(
            "fenced: epoch {} -> {}{}",
            set_v.value.epoch,
            set_rec.epoch,
            if old.is_empty() {
                String::new()
            } else {
                format!(", {old} demoted in routing")
            }
        ));
        batch = batch.put(&keys.op(&set), &self.rec)?;
        if !topo.commit(batch).await? {
            bail!("the set or the operation record changed while fencing");
        }
        self.rev = current_rev(&topo, &set).await?.unwrap_or(self.rev);

        if old_node.is_none() {
            return Ok(());
        }
        match self.rec.kind {
            FailoverKind::Switchover => {
                let within = Duration::from_millis(self.cfg.task_timeout_ms);
                let done = tasks::run(&self.ctx, &set, &old, Task::ReadOnly, within)
                    .await
                    .map_err(|e| anyhow!("making {old} read-only: {e}"))?;
                self.rec.old_gtid = done.gtid.clone();
                self.step(format!(
                    "{old} read-only at {}",
                    done.gtid.as_deref().unwrap_or("?")
                ));
            }
            FailoverKind::Failover => {
                let h = health_of(&topo, &set, &old).await;
                if let Some(h) = &h {
                    self.rec.old_gtid = h.gtid_binlog_pos.clone();
                }
                if h.as_ref().is_some_and(|h| h.readable) {
                    match tasks::run(&self.ctx, &set, &old, Task::ReadOnly, FENCE_COURTESY).await {
                        Ok(_) => self.step(format!("{old} made read-only")),
                        Err(e) => self.step(format!("{old} not made read-only: {e}")),
                    }
                }
            }
        }
        self.save().await
    }

    /// Chooses the new primary. In a failover the replicas' IO threads are stopped
    /// first and their positions read directly ([`freeze`]); replicas that cannot be
    /// reached so are judged from agent reports taken after the failover began.
    async fn elect(&mut self) -> Result<()> {
        let topo = self.ctx.topo.clone();
        let set = self.rec.set.clone();
        let failover = self.rec.kind == FailoverKind::Failover;
        let since = match self.rec.kind {
            // Reports taken after the primary was found dead: positions have settled.
            FailoverKind::Failover => self.rec.started_ms,
            FailoverKind::Switchover => 0,
        };
        let mut direct: Vec<elect::Candidate> = Vec::new();
        if failover {
            let replicas: Vec<NodeRecord> = topo
                .nodes_of(&set)
                .await?
                .into_iter()
                .filter(|n| {
                    n.role == Role::Replica && n.rejoin.is_none() && !self.excluded.contains(&n.id)
                })
                .collect();
            let within = Duration::from_millis(self.cfg.probe_timeout_ms);
            let mut unreachable = Vec::new();
            for (id, r) in freeze::freeze(&self.account, &replicas, within).await {
                match r {
                    Ok(c) => direct.push(c),
                    Err(e) => unreachable.push(format!("{id} ({e})")),
                }
            }
            self.step(format!(
                "replication from the old primary stopped on {}{}",
                if direct.is_empty() {
                    "no replica".to_string()
                } else {
                    direct
                        .iter()
                        .map(|c| c.node.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                },
                if unreachable.is_empty() {
                    String::new()
                } else {
                    format!("; not reached: {}", unreachable.join(", "))
                }
            ));
        }
        let mut skip = self.excluded.clone();
        skip.extend(direct.iter().map(|c| c.node.clone()));
        let wait = Duration::from_millis(self.cfg.report_wait_ms);
        let deadline = tokio::time::Instant::now() + wait;
        let mut field = loop {
            let nodes = topo.nodes_of(&set).await?;
            let health: Vec<HealthReport> = topo
                .list_health()
                .await?
                .into_iter()
                .filter(|h| h.set == set)
                .collect();
            let f = elect::field(&set, &nodes, &health, since, &skip);
            if f.silent.is_empty() || tokio::time::Instant::now() >= deadline {
                break f;
            }
            if self.ctx.is_stopping() {
                bail!("leadership ended");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        field.candidates.extend(direct);
        if !field.silent.is_empty() {
            self.step(format!(
                "no fresh report from {} within {} ms; electing among the others",
                field.silent.join(","),
                wait.as_millis()
            ));
        }
        let chosen = match &self.rec.target {
            Some(t) => field
                .candidates
                .iter()
                .find(|c| &c.node == t)
                .ok_or_else(|| anyhow!("target {t} is not a readable replica of {set}"))?,
            None => elect::choose(&field.candidates)
                .ok_or_else(|| anyhow!("no readable replica of {set} to promote"))?,
        };
        let summary: Vec<String> = field
            .candidates
            .iter()
            .map(|c| format!("{}@{}", c.node, c.received))
            .collect();
        let name = chosen.node.clone();
        let wait_gtid = match self.rec.kind {
            FailoverKind::Failover => chosen.wait_gtid.clone(),
            FailoverKind::Switchover => self.rec.old_gtid.clone(),
        };
        self.rec.new_primary = Some(name.clone());
        self.rec.wait_gtid = wait_gtid.clone();
        self.rec.phase = FailoverPhase::Elected;
        self.step(format!(
            "elected {name} (candidates {}; wait for {})",
            summary.join(" "),
            wait_gtid.as_deref().unwrap_or("everything received")
        ));
        self.save().await
    }

    /// Promotes the elected replica (waits for its relay log to be applied).
    async fn promote(&mut self) -> Result<()> {
        let topo = self.ctx.topo.clone();
        let set = self.rec.set.clone();
        let new = self
            .rec
            .new_primary
            .clone()
            .ok_or_else(|| anyhow!("no elected primary"))?;
        let set_rec = topo
            .get_set(&set)
            .await?
            .ok_or_else(|| anyhow!("set {set} is not registered"))?;
        let wait_gtid = match self.rec.kind {
            FailoverKind::Switchover => self.rec.old_gtid.clone(),
            // Everything it received: the agent stops the IO thread (stopped at
            // election already when it could be reached) and waits until its relay
            // log is applied. A last transaction that arrived incomplete was never
            // acknowledged, so it is not waited for (it would be, named here).
            FailoverKind::Failover => None,
        };
        let task = Task::Promote {
            wait_gtid,
            sync: set_rec.sync,
            semi_timeout_ms: set_rec.semi_timeout_ms,
        };
        let within = Duration::from_millis(self.cfg.task_timeout_ms);
        match tasks::run(&self.ctx, &set, &new, task, within).await {
            Ok(done) => {
                self.rec.new_gtid = done.gtid.clone();
                self.rec.phase = FailoverPhase::Promoted;
                self.step(format!(
                    "promoted {new} at {}",
                    done.gtid.as_deref().unwrap_or("?")
                ));
                self.save().await
            }
            Err(e) => {
                self.excluded.push(new.clone());
                self.step(format!("promoting {new} failed: {e}"));
                if self.rec.target.is_some() || self.excluded.len() >= MAX_PROMOTE_ATTEMPTS {
                    bail!("promotion failed: {e}");
                }
                self.rec.new_primary = None;
                self.rec.phase = FailoverPhase::Fenced;
                self.save().await
            }
        }
    }

    /// Routing names the new primary; the old one waits to rejoin against `new_gtid`.
    async fn publish(&mut self) -> Result<()> {
        let topo = self.ctx.topo.clone();
        let set = self.rec.set.clone();
        let keys = topo.keys().clone();
        let new = self
            .rec
            .new_primary
            .clone()
            .ok_or_else(|| anyhow!("no promoted primary"))?;
        let now = now_ms();
        let mut new_node = node(&topo, &set, &new)
            .await?
            .ok_or_else(|| anyhow!("node {new} is not registered"))?;
        new_node.role = Role::Primary;
        new_node.rejoin = None;
        let mut batch = Batch::new()
            .unchanged(&keys.op(&set), self.rev)
            .put(&keys.node(&set, &new), &new_node)?;
        if !self.rec.old_primary.is_empty() {
            if let Some(mut old) = node(&topo, &set, &self.rec.old_primary).await? {
                old.role = Role::Replica;
                old.rejoin = Some(Rejoin {
                    new_primary: new.clone(),
                    promoted_gtid: self.rec.new_gtid.clone().unwrap_or_default(),
                    since_ms: old.rejoin.as_ref().map(|r| r.since_ms).unwrap_or(now),
                });
                batch = batch.put(&keys.node(&set, &old.id), &old)?;
            }
        }
        self.rec.phase = FailoverPhase::Published;
        self.rec.published_ms = Some(now);
        self.step(format!("published {new} as primary"));
        batch = batch.put(&keys.op(&set), &self.rec)?;
        if !topo.commit(batch).await? {
            bail!("the operation record changed while publishing");
        }
        self.rev = current_rev(&topo, &set).await?.unwrap_or(self.rev);
        Ok(())
    }

    /// Repoints the other replicas (and, in a switchover, the old primary) to the new
    /// primary. Failures are recorded; the rejoin policy retries them later.
    async fn repoint(&mut self) -> Result<()> {
        let topo = self.ctx.topo.clone();
        let set = self.rec.set.clone();
        let new = self.rec.new_primary.clone().unwrap_or_default();
        let primary = node(&topo, &set, &new)
            .await?
            .ok_or_else(|| anyhow!("node {new} is not registered"))?;
        let nodes = topo.nodes_of(&set).await?;
        let health = topo.list_health().await?;
        let live = |id: &str| {
            health
                .iter()
                .any(|h| h.set == set && h.node == id && h.readable)
        };
        let switchover = self.rec.kind == FailoverKind::Switchover;
        let targets: Vec<(NodeRecord, bool)> = nodes
            .into_iter()
            .filter(|n| n.id != new && n.role == Role::Replica && live(&n.id))
            .filter_map(|n| match &n.rejoin {
                None => Some((n, false)),
                // A switched-over primary stopped cleanly at a position the new one has.
                Some(_) if switchover && n.id == self.rec.old_primary => Some((n, true)),
                Some(_) => None,
            })
            .collect();
        let within = Duration::from_millis(self.cfg.task_timeout_ms);
        let runs = targets.iter().map(|(n, from_binlog)| {
            let task = Task::Repoint {
                host: primary.host.clone(),
                port: primary.port,
                from_binlog: *from_binlog,
            };
            let ctx = self.ctx.clone();
            let set = set.clone();
            async move {
                (
                    n.id.clone(),
                    tasks::run(&ctx, &set, &n.id, task, within).await,
                )
            }
        });
        for (id, r) in futures::future::join_all(runs).await {
            match r {
                Ok(_) => {
                    self.step(format!("repointed {id} to {new}"));
                    if switchover && id == self.rec.old_primary {
                        clear_rejoin(&topo, &set, &id).await?;
                    }
                }
                Err(e) => self.step(format!("repointing {id} failed: {e}")),
            }
        }
        self.rec.phase = FailoverPhase::Done;
        self.save().await
    }

    // ---- bookkeeping -------------------------------------------------------------

    /// Ends the operation as failed. When nobody was published in its place, the old
    /// primary gets its role back: a switched-over one is made writable again (it was
    /// only made read-only); a dead one is simply named again in routing, so the next
    /// rounds see it down and try again, and if it comes back it serves as before.
    async fn fail(&mut self, why: String) -> Result<()> {
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
