//! Whether a set may take slots: it has a primary whose agent reports it writable,
//! recently, and the scheduler has not blocked its writes. Used by `setwise shard
//! move` (refuses an unfit target), `shard rebalance` (leaves unfit sets out) and the
//! capacity monitor (never proposes an unfit target).

use topo::{HealthReport, NodeRecord, Role, SetRecord};

/// Why `set` cannot take slots now, or None when it can.
pub fn unfit(
    set: &SetRecord,
    nodes: &[NodeRecord],
    health: &[HealthReport],
    now_ms: u64,
    stale_ms: u64,
) -> Option<String> {
    let name = &set.name;
    if let Some(why) = &set.writes_blocked {
        return Some(format!("writes to set {name} are blocked ({why})"));
    }
    let Some(p) = nodes
        .iter()
        .find(|n| &n.set == name && n.role == Role::Primary)
    else {
        return Some(format!("set {name} has no primary"));
    };
    let Some(h) = health.iter().find(|h| h.node == p.id && &h.set == name) else {
        return Some(format!(
            "primary {} of set {name} has no health report (is its agent running?)",
            p.id
        ));
    };
    let age = now_ms.saturating_sub(h.at_ms);
    if age > stale_ms {
        return Some(format!(
            "the health report of primary {} of set {name} is stale ({} s old)",
            p.id,
            age / 1000
        ));
    }
    if h.frozen {
        return Some(format!("primary {} of set {name} is frozen", p.id));
    }
    if !h.writable {
        let why = h
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Some(format!(
            "primary {} of set {name} is not writable{why}",
            p.id
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::SyncMode;

    fn report(node: &str, at: u64, writable: bool) -> HealthReport {
        HealthReport {
            node: node.into(),
            set: "s".into(),
            at_ms: at,
            readable: true,
            writable,
            ..Default::default()
        }
    }

    #[test]
    fn fitness() {
        let mut set = SetRecord::new("s", SyncMode::Strong);
        let nodes = vec![NodeRecord::new("s-n0", "s", "h", 1, Role::Primary)];
        let ok = vec![report("s-n0", 10_000, true)];
        assert_eq!(unfit(&set, &nodes, &ok, 11_000, 5000), None);
        assert!(unfit(&set, &[], &ok, 11_000, 5000)
            .unwrap()
            .contains("no primary"));
        assert!(unfit(&set, &nodes, &[], 11_000, 5000)
            .unwrap()
            .contains("no health report"));
        assert!(unfit(&set, &nodes, &ok, 20_000, 5000)
            .unwrap()
            .contains("stale"));
        let ro = vec![report("s-n0", 10_000, false)];
        assert!(unfit(&set, &nodes, &ro, 11_000, 5000)
            .unwrap()
            .contains("not writable"));
        set.writes_blocked = Some("no replica".into());
        assert!(unfit(&set, &nodes, &ok, 11_000, 5000)
            .unwrap()
            .contains("blocked"));
    }
}
