//! What `setwise status` (and the console) shows: the [`StatusView`] read from
//! etcd, the per-set redundancy table, and the status text made of `render`'s
//! tables.

use std::fmt::Write as _;

use topo::{DatabaseRecord, HealthReport, NodeRecord, SetRecord};

use super::render::{dbs_table, format_age, health_table, sets_table, Table};

/// Everything `setwise status` shows.
#[derive(Debug, Clone, Default)]
pub struct StatusView {
    pub cluster: String,
    pub leader: Option<String>,
    pub sets: Vec<SetRecord>,
    pub nodes: Vec<NodeRecord>,
    pub health: Vec<HealthReport>,
    pub dbs: Vec<DatabaseRecord>,
    /// Failovers and switchovers in progress.
    pub ops: Vec<topo::FailoverRecord>,
    /// The latest finished one.
    pub last_failover: Option<topo::FailoverRecord>,
    /// Every node's current task (what is being done to restore redundancy).
    pub tasks: Vec<topo::TaskRecord>,
    pub now_ms: u64,
}

impl StatusView {
    /// Everything `setwise status` (and the console) shows, read from etcd now.
    pub async fn read(topo: &topo::Topo, cluster: &str) -> anyhow::Result<Self> {
        Ok(Self {
            cluster: cluster.to_string(),
            leader: topo::election::leader(topo, crate::leader::ELECTION).await?,
            sets: topo.list_sets().await?,
            nodes: topo.list_nodes().await?,
            health: topo.list_health().await?,
            dbs: topo.list_dbs().await?,
            ops: topo.list_ops().await?,
            last_failover: topo.list_failovers(None).await?.pop(),
            tasks: topo.list_tasks().await?,
            now_ms: crate::now_ms(),
        })
    }
}

/// One line per set: whole, or what keeps it from full redundancy and what is
/// being done about it ([`crate::redundancy`]).
pub fn redundancy_table(v: &StatusView) -> Table {
    let mut t = Table::new(["SET", "REDUNDANCY"]);
    for s in &v.sets {
        let r = crate::redundancy::assess(s, &v.nodes, &v.health, &v.tasks);
        t.row([
            s.name.clone(),
            if r.is_whole() {
                r.describe()
            } else {
                format!("NOT WHOLE: {}", r.describe())
            },
        ]);
    }
    t
}

/// A section: its title, then its table or `(none)`.
fn section(out: &mut String, title: &str, t: &Table) {
    let _ = writeln!(out, "\n{title}");
    if t.is_empty() {
        out.push_str("(none)\n");
    } else {
        out.push_str(&t.render());
    }
}

pub fn status(v: &StatusView) -> String {
    let mut out = format!(
        "cluster {}: scheduler leader {}\n",
        v.cluster,
        v.leader.as_deref().unwrap_or("(none)")
    );
    section(&mut out, "SETS", &sets_table(&v.sets, &v.nodes));
    section(&mut out, "REDUNDANCY", &redundancy_table(v));
    section(
        &mut out,
        "NODES",
        &health_table(&v.nodes, &v.health, v.now_ms),
    );
    section(&mut out, "DATABASES", &dbs_table(&v.dbs));
    for op in &v.ops {
        let _ = writeln!(
            out,
            "\nIN PROGRESS: {:?} of {} from {} (phase {:?}, {} so far)",
            op.kind,
            op.set,
            if op.old_primary.is_empty() {
                "-"
            } else {
                &op.old_primary
            },
            op.phase,
            format_age(v.now_ms.saturating_sub(op.started_ms))
        );
    }
    if let Some(f) = &v.last_failover {
        let _ = writeln!(
            out,
            "\nLAST FAILOVER: {:?} of {} {} ago: {} -> {}, {}",
            f.kind,
            f.set,
            format_age(v.now_ms.saturating_sub(f.started_ms)),
            if f.old_primary.is_empty() {
                "-"
            } else {
                &f.old_primary
            },
            f.new_primary.as_deref().unwrap_or("-"),
            match &f.error {
                None => format!(
                    "done in {} (writes held {})",
                    format_age(f.duration_ms().unwrap_or(0)),
                    format_age(f.held_ms().unwrap_or(0))
                ),
                Some(e) => format!("failed: {e}"),
            }
        );
    }
    out
}
