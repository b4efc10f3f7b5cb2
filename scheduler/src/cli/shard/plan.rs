//! `setwise shard plan`: the capacity monitor's view computed from the current
//! records — each set's load against the `[capacity]` limits and the move proposed
//! (or "balanced"). The CLI sees one sample: writes/s are the leader's to measure.

use std::fmt::Write as _;

use anyhow::Result;
use topo::{MoveRecord, Topo};

use super::check::{span, STALE_MS};
use crate::capacity::load::{bytes, Measured};
use crate::capacity::{propose, CapacityConfig, Inputs, Proposal};
use crate::cli::render::Table;

pub async fn plan(topo: &Topo, cfg: &CapacityConfig, json: bool) -> Result<String> {
    let (sets, nodes, health, stats, dbs) = (
        topo.list_sets().await?,
        topo.list_nodes().await?,
        topo.list_health().await?,
        topo.list_stats().await?,
        topo.list_dbs().await?,
    );
    let mut tables = Vec::new();
    for d in &dbs {
        tables.extend(topo.list_tables(&d.name).await?);
    }
    let moves: Vec<MoveRecord> = topo
        .list_moves()
        .await?
        .into_iter()
        .map(|v| v.value)
        .collect();
    let measured = Measured::default();
    let p = propose(
        &Inputs {
            sets: &sets,
            nodes: &nodes,
            health: &health,
            stats: &stats,
            dbs: &dbs,
            tables: &tables,
            measured: &measured,
            unfinished: moves
                .iter()
                .filter(|m| !m.phase.is_finished())
                .map(|m| m.id.clone())
                .collect(),
            now_ms: crate::now_ms(),
            stale_ms: STALE_MS,
        },
        cfg,
    );
    if json {
        return Ok(serde_json::to_string_pretty(&p)? + "\n");
    }
    Ok(render(&p))
}

fn limit(v: u64, f: impl Fn(u64) -> String) -> String {
    if v == 0 {
        "none".into()
    } else {
        f(v)
    }
}

pub fn render(p: &Proposal) -> String {
    let l = &p.limits;
    let mut out = format!(
        "limits: datadir {}, cpu {}, rows {}; a target keeps {:.0}% headroom; auto {}\n",
        limit(l.max_datadir_bytes, bytes),
        if l.max_cpu_pct > 0.0 {
            format!("{:.0}%", l.max_cpu_pct)
        } else {
            "none".into()
        },
        limit(l.max_rows, |v| v.to_string()),
        l.min_headroom_pct,
        if l.auto { "on" } else { "off" }
    );
    let mut t = Table::new([
        "SET", "PRIMARY", "CPU", "DATADIR", "ROWS", "WRITES/S", "LOAD", "STATE",
    ]);
    for s in &p.loads {
        let state = if !s.over.is_empty() {
            format!("over: {}", s.over.join(", "))
        } else if let Some(why) = &s.unfit {
            format!("cannot take slots: {why}")
        } else {
            "ok".into()
        };
        t.row([
            s.set.clone(),
            s.primary.clone().unwrap_or_else(|| "-".into()),
            s.cpu_pct
                .map(|c| format!("{c:.0}%"))
                .unwrap_or_else(|| "-".into()),
            s.datadir_bytes.map(bytes).unwrap_or_else(|| "-".into()),
            s.rows.to_string(),
            s.writes_per_s
                .map(|w| format!("{w:.0}"))
                .unwrap_or_else(|| "-".into()),
            format!("{:.0}%", s.ratio * 100.0),
            state,
        ]);
    }
    out.push_str(&t.render());
    if p.moves.is_empty() {
        let _ = writeln!(out, "proposal: {}", p.verdict);
    }
    for m in &p.moves {
        let _ = writeln!(
            out,
            "proposal: move slots {} of {} from {} to {} (~{} rows): {}\n  \
             setwise shard move --db {} --slots {} --to {} --wait",
            span(m.start, m.end),
            m.db,
            m.from,
            m.to,
            m.rows_est,
            m.reason,
            m.db,
            span(m.start, m.end),
            m.to
        );
    }
    out
}
