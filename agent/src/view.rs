//! What the agent reads of its set from etcd every round (a few cheap gets): its own
//! node record (role, `rejoin`), the set record (sync mode) and the primary's health
//! report, for the transaction gap and sync-mode reconciliation.

use topo::gtid::GtidPos;
use topo::{HealthReport, NodeRecord, Role, SetRecord, Topo};

/// The set as seen from one node.
#[derive(Debug, Clone, Default)]
pub struct SetView {
    pub set: Option<SetRecord>,
    /// This node's record.
    pub me: Option<NodeRecord>,
    /// The node recorded as primary (None when no record says so).
    pub primary: Option<NodeRecord>,
    /// The primary's latest health report (None when it has none).
    pub primary_report: Option<HealthReport>,
}

impl SetView {
    pub async fn load(topo: &Topo, set: &str, node: &str) -> topo::Result<Self> {
        let (set_rec, nodes) = tokio::try_join!(topo.get_set(set), topo.nodes_of(set))?;
        let me = nodes.iter().find(|n| n.id == node).cloned();
        let primary = nodes.into_iter().find(|n| n.role == Role::Primary);
        let primary_report = match &primary {
            Some(p) if p.id != node => topo
                .get::<HealthReport>(&topo.keys().health_of(set, &p.id))
                .await?
                .map(|v| v.value),
            _ => None,
        };
        Ok(Self {
            set: set_rec,
            me,
            primary,
            primary_report,
        })
    }

    /// Whether this node's record says primary with no pending rejoin.
    pub fn i_am_primary(&self) -> bool {
        self.me
            .as_ref()
            .is_some_and(|m| m.role == Role::Primary && m.rejoin.is_none())
    }

    /// Whether this node was demoted (role replica, `rejoin` set) while the server
    /// says `read_only` is OFF: it must be fenced at once. `Some(kill_clients)`:
    /// demoted by a failover (hung or dead, back now): every client session must end
    /// too; by a switchover, sessions are left to finish.
    pub fn demoted_but_writable(&self, read_only: Option<bool>) -> Option<bool> {
        if read_only != Some(false) {
            return None;
        }
        let me = self.me.as_ref().filter(|m| m.role == Role::Replica)?;
        me.rejoin.as_ref().map(|r| !r.planned)
    }

    /// Transactions this node lacks compared with the primary's binlog.
    pub fn gap_trx(&self, own_current_pos: Option<&str>) -> Option<u64> {
        if self.i_am_primary() {
            return Some(0);
        }
        let ahead = self.primary_report.as_ref()?.gtid_binlog_pos.as_deref()?;
        gap(own_current_pos?, ahead)
    }
}

/// `own`'s gap to `ahead` in transactions; None when either does not parse.
pub fn gap(own: &str, ahead: &str) -> Option<u64> {
    let own = GtidPos::parse(own).ok()?;
    let ahead = GtidPos::parse(ahead).ok()?;
    Some(own.gap_to(&ahead))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: Role) -> NodeRecord {
        NodeRecord::new(id, "s", "127.0.0.1", 1, role)
    }

    #[test]
    fn gap_from_the_primary_report() {
        let mut v = SetView {
            me: Some(node("s-n1", Role::Replica)),
            primary: Some(node("s-n0", Role::Primary)),
            ..Default::default()
        };
        assert_eq!(v.gap_trx(Some("0-1-5")), None);
        v.primary_report = Some(HealthReport {
            gtid_binlog_pos: Some("0-1-9".into()),
            ..Default::default()
        });
        assert_eq!(v.gap_trx(Some("0-1-5")), Some(4));
        assert_eq!(v.gap_trx(Some("")), Some(9));
        assert_eq!(v.gap_trx(None), None);
        assert_eq!(v.gap_trx(Some("junk")), None);
        v.me = Some(node("s-n1", Role::Primary));
        assert!(v.i_am_primary());
        assert_eq!(v.gap_trx(Some("0-1-5")), Some(0));
        v.me.as_mut().unwrap().rejoin = Some(topo::Rejoin {
            new_primary: "s-n0".into(),
            promoted_gtid: "0-1-9".into(),
            since_ms: 1,
            planned: false,
        });
        assert!(!v.i_am_primary());
    }
}
