//! `setwise shard rebalance`: the moves that even a database's slots (or rows) over
//! every healthy set of the cluster ([`crate::balance`]), printed, then written as
//! requests the scheduler runs one at a time, oldest first.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use anyhow::{anyhow, bail, ensure, Result};
use tokio::time::Instant;
use topo::{MoveRecord, Role, TableKind, Topo};

use super::check::{span, Wait, STALE_MS};
use crate::balance::{self, By, PlannedMove};

pub async fn rebalance(
    topo: &Topo,
    db: &str,
    by: By,
    wait: Option<Wait>,
    dry_run: bool,
) -> Result<String> {
    let rec = topo
        .get_db(db)
        .await?
        .ok_or_else(|| anyhow!("database {db} not found (see `setwise db list`)"))?
        .value;
    let tables = topo.list_tables(db).await?;
    let sharded: Vec<&str> = tables
        .iter()
        .filter(|t| matches!(t.kind, TableKind::Sharded { .. }))
        .map(|t| t.name.as_str())
        .collect();
    ensure!(
        !sharded.is_empty(),
        "database {db} has no sharded table: there is nothing to move"
    );
    let open: Vec<String> = topo
        .list_moves()
        .await?
        .into_iter()
        .filter(|m| m.value.db == db && !m.value.phase.is_finished())
        .map(|m| m.value.id)
        .collect();
    ensure!(
        open.is_empty(),
        "moves of {db} are unfinished ({}): rebalance when they have ended",
        open.join(", ")
    );
    let (sets, nodes, health) = (
        topo.list_sets().await?,
        topo.list_nodes().await?,
        topo.list_health().await?,
    );
    let now = crate::now_ms();
    // The map's sets first (ties keep their slots), then the others by name.
    let mut order: Vec<String> = rec.shard_map.sets();
    for s in &sets {
        if !order.contains(&s.name) {
            order.push(s.name.clone());
        }
    }
    let mut out = String::new();
    let mut healthy = Vec::new();
    for name in order {
        let Some(s) = sets.iter().find(|s| s.name == name) else {
            let _ = writeln!(out, "left out: {name} (no set record)");
            continue;
        };
        match crate::capacity::fit::unfit(s, &nodes, &health, now, STALE_MS) {
            None => healthy.push(name),
            Some(why) => {
                let _ = writeln!(out, "left out: {why}");
            }
        }
    }
    ensure!(
        healthy.len() >= 2,
        "fewer than 2 healthy sets to balance {db} over ({})",
        healthy.join(", ")
    );
    let weights = match by {
        By::Slots => balance::uniform_weights(&rec.shard_map),
        By::Data => {
            let stats = topo.list_stats().await?;
            let mut rows: HashMap<String, f64> = HashMap::new();
            for set in rec.shard_map.sets() {
                let Some(p) = nodes
                    .iter()
                    .find(|n| n.set == set && n.role == Role::Primary)
                else {
                    continue;
                };
                let Some(st) = stats.iter().find(|s| s.node == p.id) else {
                    if healthy.contains(&set) {
                        bail!(
                            "no table statistics from {}, the primary of {set}, yet (agents \
                             report them every 10 s): try again, or use --by slots",
                            p.id
                        );
                    }
                    continue;
                };
                let n: u64 = st
                    .tables
                    .iter()
                    .filter(|t| t.db == db && sharded.contains(&t.table.as_str()))
                    .map(|t| t.rows)
                    .sum();
                rows.insert(set, n as f64);
            }
            balance::weights_from_loads(&rec.shard_map, &rows)
        }
    };
    let moves = balance::plan(&rec.shard_map, &healthy, &weights);
    if moves.is_empty() {
        let _ = writeln!(
            out,
            "{db} is balanced over {}: nothing to move",
            healthy.join(", ")
        );
        return Ok(out);
    }
    let _ = writeln!(
        out,
        "{} move(s) to balance {db} by {} over {}:",
        moves.len(),
        if by == By::Slots { "slots" } else { "rows" },
        healthy.join(", ")
    );
    for m in &moves {
        let _ = writeln!(out, "  {}", describe(m, by));
    }
    if dry_run {
        out.push_str("dry run: nothing written\n");
        return Ok(out);
    }
    let now = crate::now_ms();
    let mut ids = Vec::new();
    for (i, m) in moves.iter().enumerate() {
        let at = now + i as u64;
        let mut r = MoveRecord::request(db, m.start, m.end, &m.to, "rebalance", at);
        r.reason = Some(format!(
            "rebalance of {db} by {}",
            if by == By::Slots { "slots" } else { "data" }
        ));
        r.step(at, "requested (setwise shard rebalance)");
        let r = super::create(topo, r).await?;
        let _ = writeln!(out, "move {} requested: {}", r.id, describe(m, by));
        ids.push(r.id);
    }
    let Some(w) = wait else {
        out.push_str("the scheduler runs them one at a time; follow with `setwise shard moves`\n");
        return Ok(out);
    };
    print!("{out}");
    let _ = std::io::stdout().flush();
    let deadline = w.timeout.map(|t| Instant::now() + t);
    let mut tail = String::new();
    for id in ids {
        let done = super::follow::follow(topo, &id, deadline).await?;
        tail.push_str(&super::done_line(&done));
    }
    tail.push_str(&format!("{db} rebalanced\n"));
    Ok(tail)
}

/// `341-511 (171 slots, ~N rows): set1 → set3`.
fn describe(m: &PlannedMove, by: By) -> String {
    let rows = match by {
        By::Slots => String::new(),
        By::Data => format!(", ~{:.0} rows", m.weight),
    };
    format!(
        "slots {} ({} slots{rows}): {} → {}",
        span(m.start, m.end),
        m.slots(),
        m.from,
        m.to
    )
}
