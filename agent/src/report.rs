//! Turning a probe into a [`HealthReport`] and publishing it to etcd under the agent's
//! lease (`health/<set>/<node>`), together with the per-table statistics
//! (`stats/<set>/<node>`, same lease): both vanish when the agent stops renewing it.

use anyhow::Result;
use topo::lease::Lease;
use topo::{HealthReport, NodeStats, Topo};
use tracing::{info, warn};

use crate::probe::ProbeOutcome;

/// The report for one probe taken at `at_ms` (Unix ms).
pub fn build_report(node: &str, set: &str, probe: &ProbeOutcome, at_ms: u64) -> HealthReport {
    let slave = probe.slave.as_ref();
    HealthReport {
        node: node.to_string(),
        set: set.to_string(),
        at_ms,
        readable: probe.readable,
        writable: probe.writable,
        read_only: probe.read_only,
        error: probe.error.clone(),
        gtid_current_pos: probe.gtid_current_pos.clone(),
        slave_io_running: slave.map(|s| s.io_running),
        slave_sql_running: slave.map(|s| s.sql_running),
        seconds_behind_master: slave.and_then(|s| s.seconds_behind_master),
        last_error: slave.and_then(|s| s.last_error.clone()),
        gtid_binlog_pos: probe.gtid_binlog_pos.clone(),
        gtid_io_pos: slave.and_then(|s| s.gtid_io_pos.clone()),
        master: slave.and_then(|s| s.master.clone()),
        semi_sync_master: probe.semi_sync_master,
        semi_sync_clients: probe.semi_sync_clients,
        // Filled by the service from etcd and the host.
        gap_trx: None,
        sql_stalled_ms: None,
        cpu_pct: None,
        datadir_bytes: None,
        frozen: probe.frozen,
        // Filled by the service from its config.
        addr: None,
        backup_addr: None,
    }
}

/// A one-word state for transition logs: `frozen`, `down`, `read-only`, `writable`,
/// `not-writable`.
pub fn state_word(r: &HealthReport) -> &'static str {
    if r.frozen {
        return "frozen";
    }
    match (r.readable, r.writable, r.read_only) {
        (false, _, _) => "down",
        (true, true, _) => "writable",
        (true, false, Some(true)) => "read-only",
        (true, false, _) => "not-writable",
    }
}

/// Publishes reports under a lease, granting a new lease whenever the old one is lost.
pub struct Reporter {
    topo: Topo,
    ttl: i64,
    lease: Option<Lease>,
}

impl Reporter {
    pub fn new(topo: Topo, ttl: i64) -> Self {
        Self {
            topo,
            ttl,
            lease: None,
        }
    }

    /// The current lease, granting one first if there is none (or it was lost).
    async fn lease_id(&mut self) -> Result<i64> {
        if self.lease.as_ref().is_some_and(Lease::is_lost) {
            warn!("health lease lost; granting a new one");
            self.lease = None;
        }
        if let Some(l) = &self.lease {
            return Ok(l.id());
        }
        let l = Lease::grant(&self.topo, self.ttl).await?;
        info!(lease = l.id(), ttl = self.ttl, "health lease granted");
        let id = l.id();
        self.lease = Some(l);
        Ok(id)
    }

    /// Writes `report` under the current lease (granting one first if needed).
    /// On failure the lease is given up, so the next call starts with a fresh one.
    pub async fn publish(&mut self, report: &HealthReport) -> Result<()> {
        let lease_id = self.lease_id().await?;
        if let Err(e) = self.topo.put_health(report, lease_id).await {
            self.lease = None;
            return Err(e.into());
        }
        Ok(())
    }

    /// Writes the per-table statistics under the same lease.
    pub async fn publish_stats(&mut self, stats: &NodeStats) -> Result<()> {
        let lease_id = self.lease_id().await?;
        if let Err(e) = self.topo.put_stats(stats, lease_id).await {
            self.lease = None;
            return Err(e.into());
        }
        Ok(())
    }

    /// Revokes the lease: the report disappears at once.
    pub async fn close(mut self) {
        if let Some(l) = self.lease.take() {
            if let Err(e) = l.revoke(&self.topo).await {
                warn!("revoking the health lease failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::SlaveStatus;

    #[test]
    fn primary_report() {
        let p = ProbeOutcome {
            readable: true,
            writable: true,
            read_only: Some(false),
            gtid_current_pos: Some("0-1-5".into()),
            gtid_binlog_pos: Some("0-1-5".into()),
            semi_sync_master: Some(true),
            semi_sync_clients: Some(2),
            ..Default::default()
        };
        let r = build_report("set1-n0", "set1", &p, 42);
        assert_eq!(
            r,
            HealthReport {
                node: "set1-n0".into(),
                set: "set1".into(),
                at_ms: 42,
                readable: true,
                writable: true,
                read_only: Some(false),
                gtid_current_pos: Some("0-1-5".into()),
                gtid_binlog_pos: Some("0-1-5".into()),
                semi_sync_master: Some(true),
                semi_sync_clients: Some(2),
                ..Default::default()
            }
        );
        assert_eq!(state_word(&r), "writable");
    }

    #[test]
    fn replica_and_failed_reports() {
        let p = ProbeOutcome {
            readable: true,
            read_only: Some(true),
            slave: Some(SlaveStatus {
                io_running: true,
                sql_running: false,
                seconds_behind_master: None,
                last_error: Some("Duplicate entry".into()),
                gtid_io_pos: Some("0-1-9".into()),
                master: Some("127.0.0.1:3310".into()),
            }),
            ..Default::default()
        };
        let r = build_report("set1-n1", "set1", &p, 1);
        assert_eq!(r.slave_io_running, Some(true));
        assert_eq!(r.slave_sql_running, Some(false));
        assert_eq!(r.seconds_behind_master, None);
        assert_eq!(r.last_error.as_deref(), Some("Duplicate entry"));
        assert_eq!(r.gtid_io_pos.as_deref(), Some("0-1-9"));
        assert_eq!(r.master.as_deref(), Some("127.0.0.1:3310"));
        assert!(!r.writable);
        assert_eq!(state_word(&r), "read-only");

        let down = ProbeOutcome {
            error: Some("connect: refused".into()),
            ..Default::default()
        };
        let r = build_report("n", "s", &down, 1);
        assert!(!r.readable && !r.writable);
        assert_eq!(r.error.as_deref(), Some("connect: refused"));
        assert_eq!(r.slave_io_running, None);
        assert_eq!(state_word(&r), "down");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["readable"], false);
    }
}
