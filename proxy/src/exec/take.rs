//! The connection each part of a statement runs on, and where it goes after:
//! the open transaction's branch, the session's pinned connection, a replica
//! (reads outside a transaction, `crate::split`) or a pooled primary
//! connection; given back to the transaction, the pins, the statement's kept
//! diagnostics, or the pool. Work on it runs under the set's liveness guard.

use super::{check_writable, discard, epoch_of, release, Exec};
use crate::backend::Conn;
use crate::error::ProxyError;

impl Exec<'_> {
    /// A connection for `set`: the transaction's, or a pooled one.
    pub async fn take(&mut self, set: &str) -> Result<Conn, ProxyError> {
        self.take_at(set).await.map(|(c, _)| c)
    }

    /// A connection for `set` and the routing epoch of the primary it leads to:
    /// the transaction's (a transaction a set's primary changed under is fenced
    /// here), or a pooled one. A write to a set whose writes are blocked is refused.
    pub async fn take_at(&mut self, set: &str) -> Result<(Conn, u64), ProxyError> {
        self.take_branch(set, false).await.map(|(c, e, _)| (c, e))
    }

    /// [`take_at`](Self::take_at); with `defer_start`, a transaction branch
    /// opened here is not started yet: the statements that start it come back, to
    /// be sent with the statement (see [`Txn::take_deferred`]).
    pub(super) async fn take_branch(
        &mut self,
        set: &str,
        defer_start: bool,
    ) -> Result<(Conn, u64, Vec<String>), ProxyError> {
        if self.write {
            check_writable(self.conns.snap, set)?;
        }
        let snap = self.conns.snap;
        // The session's own connection to the set, unless the transaction already
        // holds it.
        let in_txn = self
            .txn
            .as_deref()
            .is_some_and(|t| t.conns.contains_key(set));
        let pinned = match &self.pins {
            Some(p) if !in_txn => p.take(set, epoch_of(snap, set)),
            _ => None,
        };
        if pinned.is_some() {
            self.from_pins.insert(set.to_string());
            if let Some(t) = self.txn.as_deref_mut() {
                t.pinned.insert(set.to_string());
                t.drop_ahead(set);
            }
        }
        if pinned.is_none() && !self.write && self.txn.is_none() {
            if let Some(reads) = &self.reads {
                if let Some((c, node)) = Box::pin(reads.take(&self.conns, set)).await {
                    metrics::counter!(crate::metrics::READS, "target" => "replica").increment(1);
                    self.on_replica.insert(set.to_string(), node);
                    return Ok((c, epoch_of(snap, set), Vec::new()));
                }
            }
        }
        if !self.write {
            metrics::counter!(crate::metrics::READS, "target" => "primary").increment(1);
        }
        let pooled = self.conns.pooled_at(set);
        let fresh = async move {
            match pinned {
                Some(c) => Ok(c),
                None => pooled.await,
            }
        };
        match self.txn.as_deref_mut() {
            Some(t) if defer_start => t.take_deferred(set, self.write, snap, fresh).await,
            Some(t) => t
                .take(set, self.write, snap, fresh)
                .await
                .map(|(c, e)| (c, e, Vec::new())),
            None => fresh.await.map(|(c, e)| (c, e, Vec::new())),
        }
    }

    /// Returns a connection taken with [`take`](Self::take); outside a transaction
    /// one holding diagnostics (warnings, an error) is kept in `diagnostics`.
    pub fn give_back(&mut self, set: &str, conn: Conn, err: Option<&ProxyError>) {
        let lost = matches!(
            err,
            Some(ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. })
        );
        if let Some(node) = self.on_replica.remove(set).filter(|_| lost) {
            self.replica_lost(&node.id);
        }
        if let Some(t) = self.txn.as_deref_mut() {
            if self.pin {
                t.pinned.insert(set.to_string());
            } else if self.stateful {
                t.tainted.insert(set.to_string());
            }
            // The sets holding this statement's diagnostics (`SHOW WARNINGS`).
            let raised = conn.get_warnings() > 0 || matches!(err, Some(ProxyError::Backend { .. }));
            if (raised || !self.keeps_diag) && !std::mem::replace(&mut self.diag_begun, true) {
                t.diag.clear();
            }
            if raised {
                t.diag.insert(set.to_string());
            }
            t.give_back(set, conn, err);
        } else if let (false, true, Some(pins)) = (
            lost,
            self.pin || self.from_pins.remove(set),
            self.pins.as_ref(),
        ) {
            pins.put(set, conn, epoch_of(self.conns.snap, set));
        } else if self.stateful
            || matches!(
                err,
                Some(ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. })
            )
        {
            // Broken, or its statement was given up: never reused.
            discard(conn);
        } else if self.keep.take().is_some() || conn.get_warnings() > 0 {
            self.diagnostics.push((set.to_string(), conn));
        } else {
            release(conn);
        }
    }

    /// Marks the connection about to be given back as holding diagnostics when it
    /// has warnings or MariaDB refused the statement.
    pub(super) fn keep_diagnostics(&mut self, _set: &str, conn: &Conn, err: Option<&ProxyError>) {
        let diag = conn.get_warnings() > 0 || matches!(err, Some(ProxyError::Backend { .. }));
        if diag && self.txn.is_none() {
            self.keep = Some(());
        }
    }

    /// Runs `fut`, work on `set`, under [`guard`] — or, when its connection
    /// leads to a replica, under the replica's own liveness check.
    pub(super) async fn guarded_on<T>(
        &self,
        set: &str,
        epoch: u64,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, ProxyError> {
        match self.on_replica.get(set) {
            Some(node) => {
                let started = std::time::Instant::now();
                let r = Box::pin(crate::split::take::guard_all(
                    self.conns.backends,
                    &[(set, node)],
                    fut,
                ))
                .await;
                crate::observe::backend(set, started.elapsed(), r.is_err());
                r
            }
            None => self.conns.guarded(set, epoch, self.write, fut).await,
        }
    }

    /// A replica broke under a read: no more reads go there for a while, and
    /// none of this statement's.
    pub(super) fn replica_lost(&mut self, node: &str) {
        if let Some(reads) = self.reads.take() {
            reads
                .health
                .shun(node, std::time::Duration::from_millis(reads.cfg.shun_ms));
        }
    }
}
