//! A set's load: what its primary's agent reports (CPU, datadir size, rows per
//! table, writes), measured against the `[capacity]` limits.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use topo::{HealthReport, NodeRecord, NodeStats, Role, SetRecord, TableKind, TableRecord};

use super::CapacityConfig;

/// Schemas of MariaDB itself, never counted.
const SYSTEM_DBS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// One set's load, from its primary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SetLoad {
    pub set: String,
    pub primary: Option<String>,
    pub cpu_pct: Option<f64>,
    pub datadir_bytes: Option<u64>,
    /// Rows of every table on the primary (InnoDB's estimates).
    pub rows: u64,
    /// Rows inserted, updated or deleted per second (None: not measured yet).
    pub writes_per_s: Option<f64>,
    /// Rows of each database's sharded tables on the primary.
    pub sharded_rows: BTreeMap<String, u64>,
    /// The largest of measure / limit over the limits set (1.0 = at a limit).
    pub ratio: f64,
    /// The limits passed, as text.
    pub over: Vec<String>,
    /// Why the set cannot take slots (None: it can).
    pub unfit: Option<String>,
}

/// Per-set figures measured over time by the caller (the leader smooths CPU and
/// turns `rows_changed` into a rate); empty maps use the reports as they are.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub cpu_pct: HashMap<String, f64>,
    pub writes_per_s: HashMap<String, f64>,
}

/// The load of every set.
#[allow(clippy::too_many_arguments)]
pub fn loads(
    sets: &[SetRecord],
    nodes: &[NodeRecord],
    health: &[HealthReport],
    stats: &[NodeStats],
    tables: &[TableRecord],
    measured: &Measured,
    cfg: &CapacityConfig,
    now_ms: u64,
    stale_ms: u64,
) -> Vec<SetLoad> {
    sets.iter()
        .map(|s| {
            let primary = nodes
                .iter()
                .find(|n| n.set == s.name && n.role == Role::Primary);
            let h = primary.and_then(|p| health.iter().find(|h| h.node == p.id));
            let st = primary.and_then(|p| stats.iter().find(|x| x.node == p.id));
            let mut rows = 0;
            let mut sharded_rows: BTreeMap<String, u64> = BTreeMap::new();
            for t in st.map(|x| x.tables.as_slice()).unwrap_or_default() {
                if SYSTEM_DBS.contains(&t.db.as_str()) {
                    continue;
                }
                rows += t.rows;
                let sharded = tables.iter().any(|r| {
                    r.db == t.db && r.name == t.table && matches!(r.kind, TableKind::Sharded { .. })
                });
                if sharded {
                    *sharded_rows.entry(t.db.clone()).or_default() += t.rows;
                }
            }
            let cpu_pct = measured
                .cpu_pct
                .get(&s.name)
                .copied()
                .or(h.and_then(|h| h.cpu_pct));
            let datadir_bytes = h.and_then(|h| h.datadir_bytes);
            let (ratio, over) = measure(cfg, cpu_pct, datadir_bytes, rows);
            SetLoad {
                set: s.name.clone(),
                primary: primary.map(|p| p.id.clone()),
                cpu_pct,
                datadir_bytes,
                rows,
                writes_per_s: measured.writes_per_s.get(&s.name).copied(),
                sharded_rows,
                ratio,
                over,
                unfit: super::fit::unfit(s, nodes, health, now_ms, stale_ms),
            }
        })
        .collect()
}

/// The largest measure/limit ratio, and the limits passed.
fn measure(
    cfg: &CapacityConfig,
    cpu: Option<f64>,
    datadir: Option<u64>,
    rows: u64,
) -> (f64, Vec<String>) {
    let mut ratio: f64 = 0.0;
    let mut over = Vec::new();
    if let (Some(b), true) = (datadir, cfg.max_datadir_bytes > 0) {
        let r = b as f64 / cfg.max_datadir_bytes as f64;
        ratio = ratio.max(r);
        if r > 1.0 {
            over.push(format!(
                "datadir {} > max_datadir_bytes {}",
                bytes(b),
                bytes(cfg.max_datadir_bytes)
            ));
        }
    }
    if let (Some(c), true) = (cpu, cfg.max_cpu_pct > 0.0) {
        let r = c / cfg.max_cpu_pct;
        ratio = ratio.max(r);
        if r > 1.0 {
            over.push(format!("cpu {c:.0}% > max_cpu_pct {:.0}%", cfg.max_cpu_pct));
        }
    }
    if cfg.max_rows > 0 {
        let r = rows as f64 / cfg.max_rows as f64;
        ratio = ratio.max(r);
        if r > 1.0 {
            over.push(format!("rows {rows} > max_rows {}", cfg.max_rows));
        }
    }
    (ratio, over)
}

/// `12.3 GiB`, `512 MiB`, `900 B`.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_against_limits() {
        let cfg = CapacityConfig {
            max_datadir_bytes: 1000,
            max_cpu_pct: 100.0,
            max_rows: 0,
            ..Default::default()
        };
        let (r, over) = measure(&cfg, Some(50.0), Some(1500), 10);
        assert!((r - 1.5).abs() < 1e-9);
        assert_eq!(over.len(), 1);
        assert!(over[0].starts_with("datadir"), "{over:?}");
        let (r, over) = measure(&cfg, None, None, 1_000_000);
        assert_eq!(r, 0.0);
        assert!(over.is_empty());
        assert_eq!(bytes(900), "900 B");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
    }
}
