//! Releasing the locks of a transaction that can only roll back, at once.
//!
//! A transaction ended on one set — a deadlock or a lost connection on one
//! branch, a slot move's hold that aborted it, a set's primary that changed
//! under it — still has branches holding locks on the other sets. MariaDB
//! would have released them with the transaction; the gateway rolls those
//! branches back right away instead of at the client's next statement: after
//! the statement that ended it (`run.rs`), and, while the client is idle, when
//! the command loop is woken by a hold's abort or a routing change
//! ([`Session::idle_wake`], `crate::front::conn`). The transaction itself stays
//! until the client ends it: its next statement gets the error it would have
//! got (1213, the fence, the lost connection).

use std::future::Future;
use std::pin::Pin;

use super::Session;

/// What wakes an idle session (see [`Session::idle_wake`]).
pub type Wake = Pin<Box<dyn Future<Output = ()> + Send>>;

impl Session {
    /// While a transaction holds branches: resolves when a hold aborted
    /// transactions or routing changed (then [`release_ended`](Self::release_ended)
    /// looks). `None`: nothing to watch.
    pub(super) fn idle_wake(&self) -> Option<Wake> {
        let t = self.txn.as_ref()?;
        // The application's own XA transaction ends with its own statements.
        if self.app_xa.is_some() || (t.conns.is_empty() && t.ahead.is_empty()) {
            return None;
        }
        let mut changes = self.changes.clone();
        let mut aborts = t.moving.as_ref().map(|m| m.aborts());
        Some(Box::pin(async move {
            let abort = async {
                let ok = match aborts.as_mut() {
                    Some(a) => a.changed().await.is_ok(),
                    None => false,
                };
                if !ok {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                r = changes.changed() => if r.is_err() { std::future::pending::<()>().await },
                () = abort => {}
            }
        }))
    }

    /// Rolls back the branches of the open transaction if it can only roll
    /// back (module doc); it stays open for the client to end.
    pub(super) async fn release_ended(&mut self) {
        let snap = self.snapshot();
        if self.app_xa.is_some() {
            return;
        }
        let Some(t) = self.txn.as_mut() else {
            return;
        };
        let ended = t.doomed
            || t.broken.is_some()
            || t.fenced_by(&snap).is_some()
            || t.moving.as_ref().is_some_and(|m| m.aborted().is_some());
        if ended && !(t.conns.is_empty() && t.ahead.is_empty()) {
            tracing::debug!(gtrid = %t.gtrid, "released the branches of an ended transaction");
            t.release().await;
        }
    }

    /// The statement was answered 1213 as a cross-set deadlock's victim
    /// (`crate::deadlock`): as MariaDB does, its transaction is rolled back on
    /// every set and ends (the application's XA transaction only releases its
    /// branches: it ends with its own `XA ROLLBACK`).
    pub(super) async fn deadlock_ended(&mut self) {
        if self.app_xa.is_some() {
            if let Some(t) = self.txn.as_mut() {
                t.doomed = true;
                t.release().await;
            }
        } else if self.txn.is_some() {
            let _ = self.end_txn("ROLLBACK").await;
        }
    }
}
