//! The capacity proposal (pure): when a set is over a limit, move slots of the
//! heaviest database it holds to the least loaded set that has room, enough to bring
//! the two halfway together (rows per slot estimated from the table statistics and
//! the shard map), as one contiguous range.

use serde::Serialize;
use topo::{DatabaseRecord, HealthReport, NodeRecord, NodeStats, SetRecord, TableRecord};

use super::load::{self, Measured, SetLoad};
use super::CapacityConfig;
use crate::balance;

/// Everything a proposal is computed from.
pub struct Inputs<'a> {
    pub sets: &'a [SetRecord],
    pub nodes: &'a [NodeRecord],
    pub health: &'a [HealthReport],
    pub stats: &'a [NodeStats],
    pub dbs: &'a [DatabaseRecord],
    pub tables: &'a [TableRecord],
    pub measured: &'a Measured,
    /// Ids of moves not finished yet (none is proposed meanwhile).
    pub unfinished: Vec<String>,
    pub now_ms: u64,
    pub stale_ms: u64,
}

/// A move the monitor proposes (slots `start..end`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProposedMove {
    pub db: String,
    pub start: u32,
    pub end: u32,
    pub from: String,
    pub to: String,
    /// Rows expected to move (estimate).
    pub rows_est: u64,
    /// The numbers that call for it.
    pub reason: String,
}

/// What the monitor sees and proposes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Proposal {
    pub loads: Vec<SetLoad>,
    pub limits: CapacityConfig,
    pub moves: Vec<ProposedMove>,
    /// One line: balanced, what to move and why, or why nothing can be done.
    pub verdict: String,
}

pub fn propose(inp: &Inputs, cfg: &CapacityConfig) -> Proposal {
    let loads = load::loads(
        inp.sets,
        inp.nodes,
        inp.health,
        inp.stats,
        inp.tables,
        inp.measured,
        cfg,
        inp.now_ms,
        inp.stale_ms,
    );
    let (moves, verdict) = decide(inp, cfg, &loads);
    Proposal {
        loads,
        limits: cfg.clone(),
        moves,
        verdict,
    }
}

fn decide(inp: &Inputs, cfg: &CapacityConfig, loads: &[SetLoad]) -> (Vec<ProposedMove>, String) {
    let mut over: Vec<&SetLoad> = loads.iter().filter(|l| !l.over.is_empty()).collect();
    if over.is_empty() {
        return (Vec::new(), "balanced: no set is over a limit".into());
    }
    over.sort_by(|a, b| b.ratio.total_cmp(&a.ratio));
    if !inp.unfinished.is_empty() {
        return (
            Vec::new(),
            format!(
                "{} over capacity; no proposal while move {} is unfinished",
                over[0].set,
                inp.unfinished.join(", ")
            ),
        );
    }
    let room = 1.0 - cfg.min_headroom_pct / 100.0;
    let target = loads
        .iter()
        .filter(|l| l.unfit.is_none() && l.over.is_empty() && l.ratio <= room)
        .min_by(|a, b| a.ratio.total_cmp(&b.ratio).then(a.set.cmp(&b.set)));
    let Some(target) = target else {
        return (
            Vec::new(),
            format!(
                "{} over capacity ({}), but no healthy set has {:.0}% headroom: add a set",
                over[0].set,
                over[0].over.join(", "),
                cfg.min_headroom_pct
            ),
        );
    };
    for src in over {
        // The heaviest database with slots on the source.
        let mut cands: Vec<(&DatabaseRecord, u64)> = inp
            .dbs
            .iter()
            .filter(|d| d.shard_map.ranges.iter().any(|r| r.set == src.set))
            .filter_map(|d| src.sharded_rows.get(&d.name).map(|&r| (d, r)))
            .collect();
        cands.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.name.cmp(&b.0.name)));
        let Some(&(db, db_rows)) = cands.first() else {
            continue;
        };
        let owned: u32 = db
            .shard_map
            .ranges
            .iter()
            .filter(|r| r.set == src.set)
            .map(|r| r.end - r.start)
            .sum();
        // Halfway: the share of the source's load that brings both to the middle.
        let share = if src.ratio > 0.0 {
            ((src.ratio - target.ratio) / (2.0 * src.ratio)).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let rows_to_move = share * src.rows.max(db_rows) as f64;
        let rows_per_slot = db_rows as f64 / f64::from(owned.max(1));
        let want = if rows_per_slot > 0.0 {
            (rows_to_move / rows_per_slot).ceil() as u32
        } else {
            (share * f64::from(owned)).ceil() as u32
        };
        // Never the source's last slot of the database.
        let want = want.min(owned.saturating_sub(1));
        if want == 0 {
            continue;
        }
        let Some((start, end)) = balance::take_slots(&db.shard_map, &src.set, want) else {
            continue;
        };
        let rows_est = (f64::from(end - start) * rows_per_slot).round() as u64;
        let reason = format!(
            "{} over capacity ({}); {} at {:.0}% of its limits",
            src.set,
            src.over.join(", "),
            target.set,
            target.ratio * 100.0
        );
        let verdict = format!(
            "move slots {}-{} of {} ({} → {}, ~{} rows): {reason}",
            start,
            end - 1,
            db.name,
            src.set,
            target.set,
            rows_est
        );
        return (
            vec![ProposedMove {
                db: db.name.clone(),
                start,
                end,
                from: src.set.clone(),
                to: target.set.clone(),
                rows_est,
                reason,
            }],
            verdict,
        );
    }
    (
        Vec::new(),
        "sets over capacity hold no sharded rows that could move".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::{Role, ShardMap, SyncMode, TableKind, TableStats};

    const NOW: u64 = 100_000;

    struct World {
        sets: Vec<SetRecord>,
        nodes: Vec<NodeRecord>,
        health: Vec<HealthReport>,
        stats: Vec<NodeStats>,
        dbs: Vec<DatabaseRecord>,
        tables: Vec<TableRecord>,
    }

    /// Sets with (datadir bytes, rows of order_db.orders); order_db over the first two.
    fn world(sets: &[(&str, u64, u64)]) -> World {
        let mut w = World {
            sets: vec![],
            nodes: vec![],
            health: vec![],
            stats: vec![],
            dbs: vec![DatabaseRecord {
                name: "order_db".into(),
                home_set: "set1".into(),
                shard_map: ShardMap::even(1024, &["set1".into(), "set2".into()]),
            }],
            tables: vec![TableRecord {
                db: "order_db".into(),
                name: "orders".into(),
                kind: TableKind::Sharded {
                    key: "id".into(),
                    key_type: Default::default(),
                },
            }],
        };
        for &(s, bytes, rows) in sets {
            let node = format!("{s}-n0");
            w.sets.push(SetRecord::new(s, SyncMode::Strong));
            w.nodes
                .push(NodeRecord::new(&node, s, "h", 1, Role::Primary));
            w.health.push(HealthReport {
                node: node.clone(),
                set: s.into(),
                at_ms: NOW,
                readable: true,
                writable: true,
                cpu_pct: Some(10.0),
                datadir_bytes: Some(bytes),
                ..Default::default()
            });
            w.stats.push(NodeStats {
                node,
                set: s.into(),
                at_ms: NOW,
                tables: vec![TableStats {
                    db: "order_db".into(),
                    table: "orders".into(),
                    rows,
                    ..Default::default()
                }],
            });
        }
        w
    }

    fn run(w: &World, cfg: &CapacityConfig) -> Proposal {
        let m = Measured::default();
        propose(
            &Inputs {
                sets: &w.sets,
                nodes: &w.nodes,
                health: &w.health,
                stats: &w.stats,
                dbs: &w.dbs,
                tables: &w.tables,
                measured: &m,
                unfinished: vec![],
                now_ms: NOW,
                stale_ms: 5000,
            },
            cfg,
        )
    }

    fn cfg() -> CapacityConfig {
        CapacityConfig {
            max_datadir_bytes: 1000,
            ..Default::default()
        }
    }

    #[test]
    fn balanced_when_under_the_limits() {
        let w = world(&[("set1", 500, 1000), ("set2", 500, 1000)]);
        let p = run(&w, &cfg());
        assert!(p.moves.is_empty());
        assert!(p.verdict.starts_with("balanced"), "{}", p.verdict);
        assert_eq!(p.loads.len(), 2);
    }

    #[test]
    fn a_full_set_gives_slots_to_the_empty_one() {
        let w = world(&[("set1", 1200, 5120), ("set2", 600, 5120), ("set3", 100, 0)]);
        let p = run(&w, &cfg());
        assert_eq!(p.moves.len(), 1, "{}", p.verdict);
        let m = &p.moves[0];
        assert_eq!(
            (m.from.as_str(), m.to.as_str(), m.db.as_str()),
            ("set1", "set3", "order_db")
        );
        // set1 at 1.2, set3 at 0.1: move (1.2-0.1)/2.4 = 46% of set1's 5120 rows, 10 per slot.
        assert_eq!(m.end, 512);
        assert_eq!(m.end - m.start, 235);
        assert_eq!(m.rows_est, 2350);
        assert!(m.reason.contains("datadir"), "{}", m.reason);
    }

    #[test]
    fn no_room_no_unhealthy_target_and_unfinished_moves() {
        let w = world(&[("set1", 1200, 5120), ("set2", 800, 5120)]);
        let p = run(&w, &cfg());
        assert!(p.moves.is_empty());
        assert!(p.verdict.contains("add a set"), "{}", p.verdict);

        let mut w = world(&[("set1", 1200, 5120), ("set2", 600, 5120), ("set3", 100, 0)]);
        w.health[2].writable = false;
        let p = run(&w, &cfg());
        assert_eq!(p.moves[0].to, "set2", "{}", p.verdict);

        let m = Measured::default();
        let p = propose(
            &Inputs {
                sets: &w.sets,
                nodes: &w.nodes,
                health: &w.health,
                stats: &w.stats,
                dbs: &w.dbs,
                tables: &w.tables,
                measured: &m,
                unfinished: vec!["m1".into()],
                now_ms: NOW,
                stale_ms: 5000,
            },
            &cfg(),
        );
        assert!(p.moves.is_empty());
        assert!(p.verdict.contains("m1"), "{}", p.verdict);
    }
}
