//! What the gateway knows of each node's replication health: the agents' last
//! reports (`health/<set>/<node>` in etcd, followed by the routing watch in
//! [`crate::routing`]), the replicas this gateway itself found broken (shunned
//! for a while), and the round-robin counter that spreads reads over fit replicas.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use topo::HealthReport;

/// Agents' reports by node id, plus this gateway's own observations.
#[derive(Default)]
pub struct ReplicaHealth {
    reports: RwLock<HashMap<String, HealthReport>>,
    /// Node id → until when it gets no reads (connect failed, or it broke
    /// during a read).
    shunned: RwLock<HashMap<String, Instant>>,
    next: AtomicUsize,
}

impl ReplicaHealth {
    /// Replaces every report (a fresh read of etcd).
    pub fn load(&self, reports: Vec<HealthReport>) {
        let mut m = self.reports.write().expect("health");
        m.clear();
        for r in reports {
            m.insert(r.node.clone(), r);
        }
    }

    /// A new report of one node (a watch event); an older one than held is ignored.
    pub fn update(&self, r: HealthReport) {
        let mut m = self.reports.write().expect("health");
        if m.get(&r.node).is_some_and(|old| old.at_ms > r.at_ms) {
            return;
        }
        m.insert(r.node.clone(), r);
    }

    /// The node's report vanished (its agent's lease expired or was revoked).
    pub fn remove(&self, node: &str) {
        self.reports.write().expect("health").remove(node);
    }

    /// The last report of `node`.
    pub fn report(&self, node: &str) -> Option<HealthReport> {
        self.reports.read().expect("health").get(node).cloned()
    }

    /// Keeps reads away from `node` for `for_` (this gateway could not use it).
    pub fn shun(&self, node: &str, for_: Duration) {
        self.shunned
            .write()
            .expect("shunned")
            .insert(node.to_string(), Instant::now() + for_);
    }

    /// Whether `node` is shunned now.
    pub fn is_shunned(&self, node: &str) -> bool {
        self.shunned
            .read()
            .expect("shunned")
            .get(node)
            .is_some_and(|until| *until > Instant::now())
    }

    /// A counter for round-robin over fit replicas.
    pub fn next_turn(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

/// The node id of a `health/<set>/<node>` key (its last segment).
pub fn node_of_key(key: &str) -> Option<&str> {
    key.rsplit('/').next().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_reports_win_and_shunning_expires() {
        let h = ReplicaHealth::default();
        let r = |at_ms| HealthReport {
            node: "n1".into(),
            at_ms,
            ..Default::default()
        };
        h.update(r(10));
        h.update(r(5));
        assert_eq!(h.report("n1").unwrap().at_ms, 10);
        h.remove("n1");
        assert!(h.report("n1").is_none());
        h.shun("n1", Duration::from_secs(60));
        assert!(h.is_shunned("n1"));
        h.shun("n1", Duration::ZERO);
        assert!(!h.is_shunned("n1"));
        assert_eq!(
            node_of_key("/setwise/c/health/set1/set1-n1"),
            Some("set1-n1")
        );
    }
}
