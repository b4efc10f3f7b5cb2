//! Choosing the new primary: among the set's replicas with a fresh, readable report,
//! the one that has received the most (`Gtid_IO_Pos`, applied or not). With semi-sync
//! AFTER_SYNC every acknowledged commit is in some replica's relay log, so the most
//! advanced replica holds all of them. Pure functions of the records.

use std::cmp::Ordering;

use topo::gtid::GtidPos;
use topo::{HealthReport, NodeRecord, Role};

/// A replica that could be promoted.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub node: String,
    /// What it has received (`Gtid_IO_Pos`, else `@@gtid_current_pos`).
    pub received: GtidPos,
    /// The text of `received`, to wait for at promotion (None when empty).
    pub wait_gtid: Option<String>,
    pub sql_running: bool,
}

/// Who may be promoted, and which replicas have not reported since `since_ms`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Field {
    pub candidates: Vec<Candidate>,
    /// Replicas with no fresh report (yet): their data is unknown.
    pub silent: Vec<String>,
}

/// The replicas of `set` (role replica, not rejoining, not in `exclude`) and what their
/// reports taken at or after `since_ms` say.
pub fn field(
    set: &str,
    nodes: &[NodeRecord],
    health: &[HealthReport],
    since_ms: u64,
    exclude: &[String],
) -> Field {
    let mut out = Field::default();
    for n in nodes.iter().filter(|n| {
        n.set == set && n.role == Role::Replica && n.rejoin.is_none() && !exclude.contains(&n.id)
    }) {
        match health
            .iter()
            .find(|h| h.node == n.id && h.set == set && h.at_ms >= since_ms)
        {
            Some(h) if h.readable => {
                let text = h
                    .gtid_io_pos
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .or_else(|| h.gtid_current_pos.clone())
                    .unwrap_or_default();
                out.candidates.push(Candidate {
                    node: n.id.clone(),
                    received: GtidPos::parse_lossy(&text),
                    wait_gtid: (!text.trim().is_empty()).then_some(text),
                    sql_running: h.slave_sql_running.unwrap_or(false),
                });
            }
            Some(_) => {} // reported, but down: not a candidate, not waited for
            None => out.silent.push(n.id.clone()),
        }
    }
    out
}

/// The most advanced candidate; ties prefer a running SQL thread, then the lowest id.
pub fn choose(cands: &[Candidate]) -> Option<&Candidate> {
    cands.iter().max_by(|a, b| {
        a.received
            .advance_cmp(&b.received)
            .then(a.sql_running.cmp(&b.sql_running))
            .then_with(|| b.node.cmp(&a.node))
    })
}

/// Whether `a` has received at least as much as everyone in `cands`.
pub fn is_most_advanced(a: &Candidate, cands: &[Candidate]) -> bool {
    cands
        .iter()
        .all(|c| a.received.advance_cmp(&c.received) != Ordering::Less)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: Role) -> NodeRecord {
        NodeRecord::new(id, "s", "127.0.0.1", 1, role)
    }
    fn rep(id: &str, at: u64, io: &str, readable: bool) -> HealthReport {
        HealthReport {
            node: id.into(),
            set: "s".into(),
            at_ms: at,
            readable,
            gtid_io_pos: Some(io.into()),
            slave_sql_running: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn most_advanced_fresh_replica_wins() {
        let nodes = vec![
            node("s-n0", Role::Primary),
            node("s-n1", Role::Replica),
            node("s-n2", Role::Replica),
            node("s-n3", Role::Replica),
            node("s-n4", Role::Replica),
        ];
        let health = vec![
            rep("s-n0", 100, "", false),
            rep("s-n1", 100, "0-1-7", true),
            rep("s-n2", 100, "0-1-9", true),
            rep("s-n3", 50, "0-1-99", true), // stale: taken before the primary died
            rep("s-n4", 100, "0-1-99", false),
        ];
        let f = field("s", &nodes, &health, 90, &[]);
        assert_eq!(f.silent, vec!["s-n3".to_string()]);
        assert_eq!(f.candidates.len(), 2);
        let c = choose(&f.candidates).unwrap();
        assert_eq!(c.node, "s-n2");
        assert_eq!(c.wait_gtid.as_deref(), Some("0-1-9"));
        assert!(is_most_advanced(c, &f.candidates));
        let f = field("s", &nodes, &health, 90, &["s-n2".into()]);
        assert_eq!(choose(&f.candidates).unwrap().node, "s-n1");
    }

    #[test]
    fn ties_prefer_running_sql_then_lowest_id() {
        let mut a = Candidate {
            node: "b".into(),
            received: GtidPos::parse_lossy("0-1-5"),
            wait_gtid: None,
            sql_running: true,
        };
        let b = Candidate {
            node: "a".into(),
            ..a.clone()
        };
        assert_eq!(choose(&[a.clone(), b.clone()]).unwrap().node, "a");
        a.sql_running = true;
        let c = Candidate {
            sql_running: false,
            ..b.clone()
        };
        assert_eq!(choose(&[a.clone(), c]).unwrap().node, "b");
        assert!(choose(&[]).is_none());
    }
}
