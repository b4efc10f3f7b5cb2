//! Turning a probe into a [`HealthReport`] and publishing it to etcd under the agent's
//! lease (`health/<set>/<node>`): the report vanishes when the agent stops renewing it.

use anyhow::Result;
use topo::lease::Lease;
use topo::{HealthReport, Topo};
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
        ..Default::default()
    }
}

/// A one-word state for transition logs: `down`, `read-only`, `writable`, `not-writable`.
pub fn state_word(r: &HealthReport) -> &'static str {
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

    /// Writes `report` under the current lease (granting one first if needed).
    /// On failure the lease is given up, so the next call starts with a fresh one.
    pub async fn publish(&mut self, report: &HealthReport) -> Result<()> {
        if self.lease.as_ref().is_some_and(Lease::is_lost) {
            warn!("health lease lost; granting a new one");
            self.lease = None;
        }
        let lease_id = match &self.lease {
            Some(l) => l.id(),
            None => {
                let l = Lease::grant(&self.topo, self.ttl).await?;
                info!(lease = l.id(), ttl = self.ttl, "health lease granted");
                let id = l.id();
                self.lease = Some(l);
                id
            }
        };
        if let Err(e) = self.topo.put_health(report, lease_id).await {
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
    use crate::probe::SlaveStatus;

    #[test]
    fn primary_report() {
        let p = ProbeOutcome {
            readable: true,
            writable: true,
            read_only: Some(false),
            gtid_current_pos: Some("0-1-5".into()),
            slave: None,
            error: None,
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
            }),
            ..Default::default()
        };
        let r = build_report("set1-n1", "set1", &p, 1);
        assert_eq!(r.slave_io_running, Some(true));
        assert_eq!(r.slave_sql_running, Some(false));
        assert_eq!(r.seconds_behind_master, None);
        assert_eq!(r.last_error.as_deref(), Some("Duplicate entry"));
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
