//! The phases of an operation, in order: fence, elect, promote, publish, repoint
//! (docs/failover.md). Each records its outcome in the driver's record and saves
//! it; each can run again from the record (a new leader resumes there).

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use topo::{
    Batch, FailoverKind, FailoverPhase, HealthReport, NodeRecord, Rejoin, Role, SetRecord, Task,
    Versioned,
};

use super::{
    clear_rejoin, current_rev, health_of, node, primary_lost, Driver, FENCE_COURTESY,
    MAX_PROMOTE_ATTEMPTS,
};
use crate::failover::{elect, freeze, tasks};
use crate::now_ms;

impl Driver {
    /// Bumps the epoch and demotes the old primary in routing (one txn); then makes it
    /// read-only: waited for in a switchover (its final position), a courtesy in a
    /// failover (it is dead).
    pub(super) async fn fence(&mut self) -> Result<()> {
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
                planned: self.rec.kind == FailoverKind::Switchover,
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
    pub(super) async fn elect(&mut self) -> Result<()> {
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
    pub(super) async fn promote(&mut self) -> Result<()> {
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
    pub(super) async fn publish(&mut self) -> Result<()> {
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
                    planned: self.rec.kind == FailoverKind::Switchover,
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
    pub(super) async fn repoint(&mut self) -> Result<()> {
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
        let results = tokio::select! {
            r = futures::future::join_all(runs) => r,
            why = primary_lost(&topo, &set, &new) => {
                // Waiting on would hold the set (no failover while an operation
                // runs): the policy repoints whoever is left once one has a
                // primary again.
                self.step(format!(
                    "stopped repointing: the new primary {new} {why}; the rest is left to the policy"
                ));
                Vec::new()
            }
        };
        for (id, r) in results {
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
}
