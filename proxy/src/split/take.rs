//! Getting a replica connection for one read: the candidates of [`super::pick`]
//! tried in order, each from its own pool (keyed like a primary's, marked
//! `replica`), the session's own last write waited for there when its report
//! does not show it applied yet. `None` at any doubt: the read goes to the primary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use topo::gtid::GtidPos;
use tracing::debug;

use super::health::ReplicaHealth;
use super::pick::candidates_at;
use crate::backend::Backends;
use crate::backend::Conn;
use crate::config::ReadsConfig;
use crate::error::ProxyError;
use crate::exec::conns::{discard, Conns};
use crate::exec::wire::release;
use topo::NodeRecord;

/// Longest wait for a replica connection (a dead replica must not slow a read
/// down much: the primary answers instead).
const CONNECT_WITHIN: Duration = Duration::from_millis(1000);
/// Replicas tried for one read before the primary answers.
const TRIES: usize = 2;

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

impl ReplicaReads {
    /// A connection to a fit replica of `set` and the replica; `None`: the
    /// primary answers.
    pub async fn take(&self, conns: &Conns<'_>, set: &str) -> Option<(Conn, NodeRecord)> {
        if self.primary_only.contains(set) {
            fallback("own_write");
            return None;
        }
        let now = super::now_ms();
        let turn = *self.turn.get_or_init(|| self.health.next_turn());
        let cands = candidates_at(
            conns.snap,
            &self.health,
            set,
            self.required.get(set),
            &self.cfg,
            now,
            turn,
        );
        if cands.is_empty() {
            fallback(if self.required.contains_key(set) {
                "own_write"
            } else {
                "no_fit_replica"
            });
            return None;
        }
        let shun = Duration::from_millis(self.cfg.shun_ms);
        for c in cands.into_iter().take(TRIES) {
            let mut key = conns.key(set, &c.node);
            key.replica = true;
            let within = CONNECT_WITHIN.min(Duration::from_millis(
                conns.backends.config().connect_timeout_ms.max(100),
            ));
            let mut conn = match tokio::time::timeout(within, conns.backends.get(set, &key)).await {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    debug!(node = %c.node.id, "replica refused a connection: {e}");
                    self.health.shun(&c.node.id, shun);
                    continue;
                }
                Err(_) => {
                    debug!(node = %c.node.id, "replica did not accept a connection in time");
                    self.health.shun(&c.node.id, shun);
                    continue;
                }
            };
            if let Some(pos) = &c.wait_for {
                let q = format!(
                    "SELECT MASTER_GTID_WAIT('{pos}', {:.3})",
                    self.cfg.gtid_wait_ms as f64 / 1000.0
                );
                match conn.query_first::<Option<i64>, _>(q).await {
                    Ok(Some(Some(0))) => {}
                    Ok(_) => {
                        release(conn);
                        fallback("own_write");
                        return None;
                    }
                    Err(_) => {
                        discard(conn);
                        self.health.shun(&c.node.id, shun);
                        continue;
                    }
                }
            }
            return Some((conn, c.node));
        }
        fallback("replica_unreachable");
        None
    }
}
