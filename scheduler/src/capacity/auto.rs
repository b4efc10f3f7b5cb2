//! The leader's side of the capacity monitor: every round it smooths each primary's
//! CPU; every few seconds it reads the statistics, turns `rows_changed` into writes
//! per second, computes the [`Proposal`](super::Proposal), logs it when it changes
//! and — with `[capacity] auto = true`, no move unfinished, and the last automatic
//! move at least `min_interval_s` ago — writes it as a move (`by = "auto"`), which the
//! move driver then runs like any other.

use std::collections::HashMap;

use anyhow::Result;
use topo::{HealthReport, MoveRecord, NodeRecord, Role, SetRecord};
use tracing::{info, warn};

use super::load::Measured;
use super::{propose, CapacityConfig, Inputs};
use crate::leader::LeaderCtx;

/// How often the proposal is computed (the agents' statistics come every 10 s).
const EVAL_EVERY_MS: u64 = 5000;
/// Weight of a new CPU sample in the smoothed figure.
const CPU_ALPHA: f64 = 0.2;

/// State kept across the leader's rounds.
#[derive(Debug, Default)]
pub struct AutoScaler {
    measured: Measured,
    /// Per node: the last statistics seen (at_ms, rows changed in total).
    changed: HashMap<String, (u64, u64)>,
    last_eval_ms: u64,
    last_verdict: String,
    failing: bool,
}

impl AutoScaler {
    /// One leader round.
    #[allow(clippy::too_many_arguments)]
    pub async fn round(
        &mut self,
        ctx: &LeaderCtx,
        cfg: &CapacityConfig,
        stale_ms: u64,
        sets: &[SetRecord],
        nodes: &[NodeRecord],
        health: &[HealthReport],
        now_ms: u64,
    ) {
        self.smooth_cpu(nodes, health);
        if now_ms.saturating_sub(self.last_eval_ms) < EVAL_EVERY_MS {
            return;
        }
        self.last_eval_ms = now_ms;
        match self
            .evaluate(ctx, cfg, stale_ms, sets, nodes, health, now_ms)
            .await
        {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                warn!("capacity monitor: {e:#}");
                self.failing = true;
            }
            Err(_) => {}
        }
    }

    fn smooth_cpu(&mut self, nodes: &[NodeRecord], health: &[HealthReport]) {
        for p in nodes.iter().filter(|n| n.role == Role::Primary) {
            let Some(c) = health
                .iter()
                .find(|h| h.node == p.id)
                .and_then(|h| h.cpu_pct)
            else {
                continue;
            };
            let v = self.measured.cpu_pct.entry(p.set.clone()).or_insert(c);
            *v += CPU_ALPHA * (c - *v);
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn evaluate(
        &mut self,
        ctx: &LeaderCtx,
        cfg: &CapacityConfig,
        stale_ms: u64,
        sets: &[SetRecord],
        nodes: &[NodeRecord],
        health: &[HealthReport],
        now_ms: u64,
    ) -> Result<()> {
        let t = &ctx.topo;
        let stats = t.list_stats().await?;
        for s in &stats {
            let total: u64 = s.tables.iter().map(|x| x.rows_changed).sum();
            if let Some(&(at, before)) = self.changed.get(&s.node) {
                if s.at_ms > at {
                    let rate = total.saturating_sub(before) as f64 * 1000.0 / (s.at_ms - at) as f64;
                    if nodes
                        .iter()
                        .any(|n| n.id == s.node && n.role == Role::Primary)
                    {
                        self.measured.writes_per_s.insert(s.set.clone(), rate);
                    }
                }
            }
            self.changed.insert(s.node.clone(), (s.at_ms, total));
        }
        let dbs = t.list_dbs().await?;
        let mut tables = Vec::new();
        for d in &dbs {
            tables.extend(t.list_tables(&d.name).await?);
        }
        let moves: Vec<MoveRecord> = t.list_moves().await?.into_iter().map(|v| v.value).collect();
        let unfinished: Vec<String> = moves
            .iter()
            .filter(|m| !m.phase.is_finished())
            .map(|m| m.id.clone())
            .collect();
        let proposal = propose(
            &Inputs {
                sets,
                nodes,
                health,
                stats: &stats,
                dbs: &dbs,
                tables: &tables,
                measured: &self.measured,
                unfinished: unfinished.clone(),
                now_ms,
                stale_ms,
            },
            cfg,
        );
        if proposal.verdict != self.last_verdict {
            if proposal.moves.is_empty() {
                info!("capacity: {}", proposal.verdict);
            } else {
                warn!("capacity: {}", proposal.verdict);
            }
            self.last_verdict = proposal.verdict.clone();
        }
        let Some(p) = proposal.moves.first() else {
            return Ok(());
        };
        if !cfg.auto || !unfinished.is_empty() || ctx.is_stopping() {
            return Ok(());
        }
        let last_auto = moves
            .iter()
            .filter(|m| m.by == "auto")
            .map(|m| m.created_ms)
            .max()
            .unwrap_or(0);
        if now_ms.saturating_sub(last_auto) < cfg.min_interval_s.saturating_mul(1000) {
            return Ok(());
        }
        let mut rec = MoveRecord::request(&p.db, p.start, p.end, &p.to, "auto", now_ms);
        rec.reason = Some(p.reason.clone());
        rec.step(
            now_ms,
            format!("proposed by the capacity monitor: {}", p.reason),
        );
        t.create(&t.keys().move_of(&rec.id), &rec).await?;
        info!(
            id = %rec.id,
            "capacity: automatic move of slots {}-{} of {} from {} to {} requested",
            p.start,
            p.end - 1,
            p.db,
            p.from,
            p.to
        );
        Ok(())
    }
}
