//! The replica's periodic look at its prepared gateway branches ([`super::settle`]):
//! every [`PERIOD`], on a node whose record says replica (no rejoin pending: the
//! rejoin's `repoint` does it) and while no task runs, the branches it held
//! prepared at the previous look too are decided from the set's primary. A branch
//! replication just prepared (and is about to end) is not looked at on its first sight.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use topo::{Role, Topo};
use tracing::warn;

use super::Branch;
use crate::db::{self, ProbeTarget, SqlResult};

/// Time between looks.
pub const PERIOD: Duration = Duration::from_secs(5);

pub struct Watch {
    pub local: ProbeTarget,
    pub topo: Topo,
    pub set: String,
    pub node: String,
    /// True while a task runs on the node.
    pub busy: Arc<AtomicBool>,
    pub etcd_timeout: Duration,
    seen: BTreeSet<Branch>,
    last_error: Option<String>,
}

impl Watch {
    pub fn new(
        local: ProbeTarget,
        topo: Topo,
        set: &str,
        node: &str,
        busy: Arc<AtomicBool>,
        etcd_timeout: Duration,
    ) -> Self {
        Self {
            local,
            topo,
            set: set.to_string(),
            node: node.to_string(),
            busy,
            etcd_timeout,
            seen: BTreeSet::new(),
            last_error: None,
        }
    }

    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = tick.tick() => {}
            }
            let bound = PERIOD.max(self.local.probe_timeout) * 6;
            let r = tokio::time::timeout(bound, self.round())
                .await
                .unwrap_or_else(|_| Err(format!("timed out after {bound:?}")));
            match r {
                Ok(()) => self.last_error = None,
                Err(e) => {
                    if self.last_error.as_deref() != Some(e.as_str()) {
                        warn!("deciding the node's prepared XA branches: {e}");
                    }
                    self.last_error = Some(e);
                }
            }
        }
    }

    async fn round(&mut self) -> SqlResult<()> {
        if self.busy.load(Ordering::SeqCst) {
            return Ok(());
        }
        let nodes =
            match tokio::time::timeout(self.etcd_timeout, self.topo.nodes_of(&self.set)).await {
                Ok(Ok(n)) => n,
                _ => return Ok(()), // etcd out of reach: the next look
            };
        let me = nodes.iter().find(|n| n.id == self.node);
        let replica = me.is_some_and(|m| m.role == Role::Replica && m.rejoin.is_none());
        let primary = nodes
            .iter()
            .find(|n| n.role == Role::Primary && n.id != self.node);
        let (true, Some(primary)) = (replica, primary) else {
            self.seen.clear();
            return Ok(());
        };
        let mut conn = db::connect(&self.local).await?;
        let r = async {
            let now = super::prepared(&mut conn).await?;
            let again: BTreeSet<Branch> = now.intersection(&self.seen).cloned().collect();
            self.seen = now;
            if again.is_empty() || self.busy.load(Ordering::SeqCst) {
                return Ok(());
            }
            let target = ProbeTarget {
                host: primary.host.clone(),
                port: primary.port,
                ..self.local.clone()
            };
            super::settle(&mut conn, &target, Some(&again))
                .await
                .map(|_| ())
        }
        .await;
        let _ = tokio::time::timeout(Duration::from_millis(500), conn.disconnect()).await;
        r
    }
}
