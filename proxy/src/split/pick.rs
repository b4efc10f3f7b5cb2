//! Which replica of a set answers a read: the fit ones (replicating, lag within
//! the threshold, fresh report, not shunned by this gateway), taken in turn
//! (round-robin), those that already applied the session's own last write first
//! (read-your-writes).

use topo::gtid::GtidPos;
use topo::{ClusterSnapshot, HealthReport, NodeRecord, Role};

use super::health::ReplicaHealth;
use crate::config::ReadsConfig;

/// A replica to try, and the position it must reach first (its report does not
/// show the session's last write applied yet: the read waits for it there,
/// `MASTER_GTID_WAIT`, or goes to the primary).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub node: NodeRecord,
    pub wait_for: Option<GtidPos>,
}

/// Why a replica's report makes it unfit for reads; `None`: fit.
pub fn unfit(r: &HealthReport, cfg: &ReadsConfig, now_ms: u64) -> Option<&'static str> {
    if now_ms.saturating_sub(r.at_ms) > cfg.stale_report_ms {
        return Some("stale report");
    }
    if !r.readable || r.frozen || r.error.is_some() {
        return Some("down");
    }
    if r.slave_io_running != Some(true) || r.slave_sql_running != Some(true) {
        return Some("not replicating");
    }
    match r.seconds_behind_master {
        Some(s) if s.saturating_mul(1000) <= cfg.max_replica_lag_ms => None,
        Some(_) => Some("lagging"),
        None => Some("not replicating"),
    }
}

/// The replicas of `set` to try for a read, best first. `required`: the
/// session's own writes on the set a replica must have applied.
pub fn candidates(
    snap: &ClusterSnapshot,
    health: &ReplicaHealth,
    set: &str,
    required: Option<&GtidPos>,
    cfg: &ReadsConfig,
    now_ms: u64,
) -> Vec<Candidate> {
    candidates_at(snap, health, set, required, cfg, now_ms, health.next_turn())
}

/// [`candidates`] rotated by a given `turn` (one statement that takes several
/// connections of a set — column definitions first, then its rows — keeps
/// one turn, so statements still take turns).
pub fn candidates_at(
    snap: &ClusterSnapshot,
    health: &ReplicaHealth,
    set: &str,
    required: Option<&GtidPos>,
    cfg: &ReadsConfig,
    now_ms: u64,
    turn: usize,
) -> Vec<Candidate> {
    let mut fit: Vec<(NodeRecord, HealthReport)> = snap
        .nodes_of(set)
        .into_iter()
        .filter(|n| n.role == Role::Replica && n.rejoin.is_none())
        .filter(|n| !health.is_shunned(&n.id))
        .filter_map(|n| {
            let r = health.report(&n.id)?;
            unfit(&r, cfg, now_ms).is_none().then(|| (n.clone(), r))
        })
        .collect();
    if fit.is_empty() {
        return Vec::new();
    }
    let turn = turn % fit.len();
    fit.rotate_left(turn);
    let applied = |r: &HealthReport| match required {
        None => true,
        Some(req) => r
            .gtid_current_pos
            .as_deref()
            .is_some_and(|p| GtidPos::parse_lossy(p).contains(req)),
    };
    let (ready, behind): (Vec<_>, Vec<_>) = fit.into_iter().partition(|(_, r)| applied(r));
    let mut out: Vec<Candidate> = ready
        .into_iter()
        .map(|(node, _)| Candidate {
            node,
            wait_for: None,
        })
        .collect();
    if out.is_empty() && cfg.gtid_wait_ms > 0 {
        // None shows the write applied yet: wait for it on one of them.
        out.extend(behind.into_iter().take(1).map(|(node, _)| Candidate {
            node,
            wait_for: required.cloned(),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap() -> ClusterSnapshot {
        let mut s = ClusterSnapshot::default();
        for (id, role) in [
            ("n0", Role::Primary),
            ("n1", Role::Replica),
            ("n2", Role::Replica),
        ] {
            s.nodes
                .insert(id.into(), NodeRecord::new(id, "set1", "127.0.0.1", 1, role));
        }
        s
    }

    fn report(node: &str, at_ms: u64, lag: Option<u64>, pos: &str) -> HealthReport {
        HealthReport {
            node: node.into(),
            set: "set1".into(),
            at_ms,
            readable: true,
            slave_io_running: Some(true),
            slave_sql_running: Some(true),
            seconds_behind_master: lag,
            gtid_current_pos: Some(pos.into()),
            ..Default::default()
        }
    }

    fn ids(c: &[Candidate]) -> Vec<&str> {
        let mut v: Vec<&str> = c.iter().map(|c| c.node.id.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn skips_lagging_stale_stopped_and_shunned() {
        let cfg = ReadsConfig::default();
        let h = ReplicaHealth::default();
        let s = snap();
        assert!(candidates(&s, &h, "set1", None, &cfg, 1000).is_empty());
        h.update(report("n1", 1000, Some(0), "0-1-5"));
        h.update(report("n2", 1000, Some(5), "0-1-5"));
        assert_eq!(ids(&candidates(&s, &h, "set1", None, &cfg, 1000)), ["n1"]);
        h.update(report("n2", 1000, Some(1), "0-1-5"));
        assert_eq!(
            ids(&candidates(&s, &h, "set1", None, &cfg, 1000)),
            ["n1", "n2"]
        );
        // Stale.
        assert!(candidates(&s, &h, "set1", None, &cfg, 1000 + 3001).is_empty());
        // SQL thread stopped (no lag reported then).
        let mut stopped = report("n2", 1000, None, "0-1-5");
        stopped.slave_sql_running = Some(false);
        h.update(stopped);
        assert_eq!(ids(&candidates(&s, &h, "set1", None, &cfg, 1000)), ["n1"]);
        h.shun("n1", std::time::Duration::from_secs(60));
        assert!(candidates(&s, &h, "set1", None, &cfg, 1000).is_empty());
        // The primary never answers as a replica.
        h.update(report("n0", 1000, Some(0), "0-1-5"));
        assert!(candidates(&s, &h, "set1", None, &cfg, 1000).is_empty());
    }

    #[test]
    fn turns_and_read_your_writes() {
        let cfg = ReadsConfig::default();
        let h = ReplicaHealth::default();
        let s = snap();
        h.update(report("n1", 1000, Some(0), "0-1-5"));
        h.update(report("n2", 1000, Some(0), "0-1-7"));
        let firsts: std::collections::BTreeSet<String> = (0..4)
            .map(|_| {
                candidates(&s, &h, "set1", None, &cfg, 1000)[0]
                    .node
                    .id
                    .clone()
            })
            .collect();
        assert_eq!(firsts.len(), 2, "round-robin over both");
        let need = GtidPos::parse("0-1-6").unwrap();
        let c = candidates(&s, &h, "set1", Some(&need), &cfg, 1000);
        assert_eq!(ids(&c), ["n2"]);
        assert_eq!(c[0].wait_for, None);
        let need = GtidPos::parse("0-1-9").unwrap();
        let c = candidates(&s, &h, "set1", Some(&need), &cfg, 1000);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].wait_for.as_ref(), Some(&need));
        let no_wait = ReadsConfig {
            gtid_wait_ms: 0,
            ..ReadsConfig::default()
        };
        assert!(candidates(&s, &h, "set1", Some(&need), &no_wait, 1000).is_empty());
    }
}
