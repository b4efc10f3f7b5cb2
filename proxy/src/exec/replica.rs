//! Getting a replica connection for one read: the candidates of `crate::split::pick`
//! tried in order, each from its own pool (keyed like a primary's, marked
//! `replica`), the session's own last write waited for there when its report
//! does not show it applied yet. `None` at any doubt: the read goes to the primary.
//! Here, with the executor's connection helpers, rather than in `crate::split`
//! (which the executor uses).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use topo::NodeRecord;
use tracing::debug;

use super::conns::{discard, Conns};
use super::wire::release;
use crate::backend::Conn;
use crate::split::pick::candidates_at;
use crate::split::take::fallback;
use crate::split::ReplicaReads;

/// Longest wait for a replica connection (a dead replica must not slow a read
/// down much: the primary answers instead).
const CONNECT_WITHIN: Duration = Duration::from_millis(1000);
/// Replicas tried for one read before the primary answers.
const TRIES: usize = 2;

impl ReplicaReads {
    /// A connection to a fit replica of `set` and the replica; `None`: the
    /// primary answers.
    pub async fn take(&self, conns: &Conns<'_>, set: &str) -> Option<(Conn, NodeRecord)> {
        if self.primary_only.contains(set) {
            fallback("own_write");
            return None;
        }
        let now = crate::split::now_ms();
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
