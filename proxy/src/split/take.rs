//! What one statement may read from replicas ([`ReplicaReads`]), the guard
//! over reads on replicas, and the count of reads that fell back to the
//! primary. Taking the replica connection is the executor's
//! (`crate::exec::replica`: it uses the executor's pools and helpers).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use topo::gtid::GtidPos;

use super::health::ReplicaHealth;
use crate::backend::Backends;
use crate::config::ReadsConfig;
use crate::error::ProxyError;
use topo::NodeRecord;

/// What one statement may read from replicas, and under which conditions.
pub struct ReplicaReads {
    pub health: Arc<ReplicaHealth>,
    pub cfg: ReadsConfig,
    /// Set → the session's own writes there a replica must have applied.
    pub required: BTreeMap<String, GtidPos>,
    /// Sets the session wrote to at a position it could not learn: their
    /// primaries answer.
    pub primary_only: BTreeSet<String>,
    /// This statement's turn among the fit replicas, taken at its first read.
    pub turn: std::sync::OnceLock<usize>,
}

/// How long a read waits on a replica before the gateway checks that the
/// replica still answers (a long query is fine; a stopped server is not).
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// How long that check may take.
const CHECK_WITHIN: Duration = Duration::from_secs(2);

/// Runs `fut` — reads on `on`, each a set and the replica it reads from — until
/// it ends, unless one of the replicas stops answering (checked every few
/// seconds): a stopped or hung replica must not hang the client
/// (`crate::exec::guard` checks primaries).
pub async fn guard_all<T>(
    backends: &Backends,
    on: &[(&str, &NodeRecord)],
    fut: impl std::future::Future<Output = T>,
) -> Result<T, ProxyError> {
    tokio::pin!(fut);
    if on.is_empty() {
        return Ok(fut.await);
    }
    loop {
        tokio::select! {
            biased;
            r = &mut fut => return Ok(r),
            _ = tokio::time::sleep(CHECK_AFTER) => {
                for (set, node) in on {
                    if !Box::pin(backends.answers(&node.host, node.port, CHECK_WITHIN)).await {
                        return Err(ProxyError::SetUnavailable {
                            set: set.to_string(),
                            detail: format!(
                                "its replica {} stopped answering during the read",
                                node.addr()
                            ),
                        });
                    }
                }
            }
        }
    }
}

/// Counts a read that could have gone to a replica but went to the primary.
pub fn fallback(reason: &'static str) {
    metrics::counter!(crate::metrics::REPLICA_FALLBACKS, "reason" => reason).increment(1);
}
