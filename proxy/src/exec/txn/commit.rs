//! COMMIT of a transaction: the checks against current routing before it,
//! and the one-phase commit of every branch at once (read-only, under LOCK
//! TABLES, or at most one set written). With writes on several sets it hands
//! over to the two-phase commit ([`super::two_phase`]).

use mysql_async::prelude::Queryable;

use super::{primed, Txn};
use crate::error::ProxyError;
use crate::exec::conns::discard;
use crate::xa_sets::xid;

/// The error of a COMMIT / XA PREPARE whose transaction broke before it (`reason`);
/// the caller has rolled it back.
pub(super) fn lost_before(what: &str, reason: &str) -> ProxyError {
    ProxyError::BackendLost {
        set: "?".into(),
        detail: format!("the transaction was lost before {what} ({reason}); it was rolled back"),
    }
}

impl Txn {
    /// Checks, before COMMIT, the transaction against `snap` (current routing):
    /// fenced (a set's primary changed: [`ProxyError::Fenced`]) or writing to a set
    /// whose writes are blocked. Either way the caller rolls it back.
    pub fn check_commit(&mut self, snap: &topo::ClusterSnapshot) -> Result<(), ProxyError> {
        if let Some(moved) = self.fenced_by(snap) {
            let moved = moved.to_string();
            return Err(self.fence(&moved));
        }
        for set in &self.writers {
            if let Err(ProxyError::WritesBlocked { set, reason }) =
                crate::exec::conns::check_writable(snap, set)
            {
                return Err(ProxyError::WritesBlocked {
                    set,
                    reason: format!("{reason}; the transaction was rolled back"),
                });
            }
        }
        Ok(())
    }

    /// Commits: one phase when at most one set was written, else two phases with
    /// the decision recorded in between — by the coordinator set's one-phase
    /// commit (`decisions` = sets: `super::last_agent`) or in etcd (`topo`).
    /// With `next` (a transaction id), a one-phase commit also starts a branch
    /// of transaction `next` on each set it can ([`primed`]): those come back.
    /// With `watch`, a two-phase step on a set whose primary changes under it
    /// is given up ([`super::moved`]).
    pub async fn commit(
        mut self,
        topo: Option<&topo::Topo>,
        decisions: crate::xa_sets::Decisions,
        next: Option<String>,
        watch: Option<&super::moved::Watch>,
    ) -> Result<Vec<(String, primed::Branch)>, ProxyError> {
        self.claim_ahead(None).await;
        if let Some(reason) = self.broken.take() {
            let _ = self.rollback().await;
            return Err(lost_before("COMMIT", &reason));
        }
        if self.plain {
            // Read only: nothing to make atomic (MariaDB refused every write).
            return self.commit_one_phase_all(None).await;
        }
        if self.locked.is_some() {
            // Under LOCK TABLES: no XA (see the module's doc), nothing primed.
            return self.commit_one_phase_all(None).await;
        }
        let written: Vec<String> = self
            .writers
            .iter()
            .filter(|s| self.conns.contains_key(*s))
            .cloned()
            .collect();
        if written.len() <= 1 {
            return self.commit_one_phase_all(next.as_deref()).await;
        }
        self.commit_two_phase(topo, decisions, next, written, watch)
            .await
    }

    /// Commits every branch in one phase, all sets at once. A connection whose
    /// branch committed is lent again as it is — or, with `next`, keeps a
    /// branch of transaction `next` started in the same round trip, when its
    /// pool lets it be held ([`primed`]; not a branch on the session's own
    /// connection, nor one whose session state changed).
    async fn commit_one_phase_all(
        self,
        next: Option<&str>,
    ) -> Result<Vec<(String, primed::Branch)>, ProxyError> {
        let ends = self.ends();
        let (gtrid, plain, locked) = (self.gtrid, self.plain, self.locked);
        let epochs = &self.epochs;
        let done = futures::future::join_all(self.conns.into_iter().map(|(set, mut conn)| {
            let end = Self::end_stmt_of(plain, locked, &gtrid, &set, true);
            let (ends, gtrid) = (&ends, &gtrid);
            let hold = next
                .filter(|_| ends.may_prime(&set))
                .and_then(|n| Some((n, conn.hold()?)));
            async move {
                let Some((next, hold)) = hold else {
                    let r = crate::observe::backend_part(&set, conn.query_drop(end))
                        .await
                        .map_err(|e| ProxyError::from_backend(&set, e));
                    ends.end(&set, conn, r.is_ok());
                    return r.map(|()| None);
                };
                let (x, y) = (xid(gtrid, &set), xid(next, &set));
                let end = format!("XA END {x}; XA COMMIT {x} ONE PHASE");
                let r = primed::end_and_start(&mut conn, &end, 2, &y);
                match crate::observe::backend_part(&set, r).await {
                    Ok(true) => {
                        let epoch = epochs.get(&set).copied().unwrap_or_default();
                        Ok(Some((set, primed::Branch { conn, epoch, hold })))
                    }
                    Ok(false) => {
                        // Committed; the next branch's start failed.
                        discard(conn);
                        Ok(None)
                    }
                    Err(e) => {
                        ends.end(&set, conn, false);
                        Err(ProxyError::from_backend(&set, e))
                    }
                }
            }
        }))
        .await;
        let mut started = Vec::new();
        let mut failure = None;
        for r in done {
            match r {
                Ok(Some(b)) => started.push(b),
                Ok(None) => {}
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        match failure {
            // (The branches started go back to their pools.)
            Some(e) => {
                let next = next.unwrap_or_default();
                for (set, b) in started {
                    primed::Primed::give_back(next, &set, b);
                }
                Err(e)
            }
            None => Ok(started),
        }
    }
}
