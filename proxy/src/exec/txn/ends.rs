//! How a transaction's branches end one by one: the statement that ends a
//! branch in one phase (XA, plain `START TRANSACTION`, or `SET autocommit=0`
//! under LOCK TABLES), ROLLBACK of every branch, and where each branch's
//! connection goes afterwards ([`Ends`]: back to the session's pins, lent
//! again, or closed).

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::Queryable;

use super::Txn;
use crate::backend::Conn;
use crate::error::ProxyError;
use crate::exec::conns::discard;
use crate::exec::pins::Pins;
use crate::xa_sets::xid;

impl Txn {
    /// What ends the branch on `set`: commits it in one phase, or rolls it back.
    pub(super) fn end_stmt(&self, set: &str, commit: bool) -> String {
        Self::end_stmt_of(self.plain, self.locked, &self.gtrid, set, commit)
    }

    /// [`Self::end_stmt`] from the transaction's parts (`locked`: under LOCK
    /// TABLES, with whether autocommit was on).
    pub(super) fn end_stmt_of(
        plain: bool,
        locked: Option<bool>,
        gtrid: &str,
        set: &str,
        commit: bool,
    ) -> String {
        let x = xid(gtrid, set);
        if let Some(on) = locked {
            let verb = if commit { "COMMIT" } else { "ROLLBACK" };
            return match on {
                true => format!("{verb}; SET autocommit=1"),
                false => verb.into(),
            };
        }
        match (plain, commit) {
            (true, true) => "COMMIT".into(),
            (true, false) => "ROLLBACK".into(),
            (false, true) => format!("XA END {x}; XA COMMIT {x} ONE PHASE"),
            (false, false) => format!("XA END {x}; XA ROLLBACK {x}"),
        }
    }

    /// Rolls every branch back (best effort: a branch that cannot be rolled back
    /// has its connection closed, which rolls it back in MariaDB).
    pub async fn rollback(mut self) -> Result<(), ProxyError> {
        self.release().await;
        Ok(())
    }

    /// Rolls every branch back now (as [`rollback`](Self::rollback)) but keeps
    /// the transaction: an ended one (doomed, broken, fenced, aborted by a
    /// hold) frees its locks at once and answers the client at its next
    /// statement (`super::release`).
    pub async fn release(&mut self) {
        self.claim_ahead(None).await;
        let ends = self.ends();
        let conns = std::mem::take(&mut self.conns);
        let this = &*self;
        futures::future::join_all(conns.into_iter().map(|(set, mut conn)| {
            let end = this.end_stmt(&set, false);
            let ends = &ends;
            async move {
                let ok = crate::observe::backend_part(&set, conn.query_drop(end))
                    .await
                    .is_ok();
                ends.end(&set, conn, ok);
            }
        }))
        .await;
    }

    /// Where each branch's connection goes when the transaction ends.
    pub(super) fn ends(&self) -> Ends {
        Ends {
            pins: self.pins.clone(),
            pinned: self.pinned.clone(),
            tainted: self.tainted.clone(),
            epochs: self.epochs.clone(),
            diag: self.diag.clone(),
            kept: self.kept.clone(),
        }
    }
}

/// Where the connections of a transaction's branches go when it ends.
pub(in crate::exec) struct Ends {
    pins: Pins,
    pinned: BTreeSet<String>,
    tainted: BTreeSet<String>,
    epochs: BTreeMap<String, u64>,
    diag: BTreeSet<String>,
    kept: super::diag::Kept,
}

impl Ends {
    /// Whether the connection of `set` may keep a branch of the session's next
    /// transaction ([`super::primed`]): not the session's pinned connection,
    /// nor one whose session state changed in the transaction or that holds
    /// the last statement's diagnostics.
    pub(super) fn may_prime(&self, set: &str) -> bool {
        !self.pinned.contains(set) && !self.tainted.contains(set) && !self.diag.contains(set)
    }

    /// A branch ended cleanly (`ok`: committed or rolled back) or not: the
    /// session's pinned connection goes back to it; a pooled one is lent again
    /// as it is unless its session state changed in the transaction (or it holds
    /// the last statement's diagnostics: kept for the session); a failed one is
    /// closed.
    pub(in crate::exec) fn end(&self, set: &str, mut conn: Conn, ok: bool) {
        if ok && self.pinned.contains(set) {
            let epoch = self.epochs.get(set).copied().unwrap_or_default();
            self.pins.put(set, conn, epoch);
        } else if ok && !self.tainted.contains(set) {
            if self.diag.contains(set) {
                if let Ok(mut kept) = self.kept.lock() {
                    kept.conns.push((set.to_string(), conn));
                    return;
                }
            }
            conn.mark_clean();
        } else {
            discard(conn);
        }
    }
}
