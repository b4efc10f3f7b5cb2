//! A two-phase commit's watch on routing ([`Watch`]): a step on a set whose
//! primary changed under it (a failover of a hung primary, a switchover) is
//! given up instead of awaited, and the transaction's decision is then taken
//! on the coordinator set's new primary.
//!
//! Without it, a coordinator's commit caught on a hung primary kept the other
//! sets' prepared branches — and their row locks — until the old server woke
//! (or for ever): their connections stayed open, so recovery could not end
//! them either (`XAER_NOTA`), and every client touching those rows waited for
//! its lock wait timeout.
//!
//! Deciding on the new primary is the rule recovery follows after its grace
//! period (`crate::xa`): the failover promoted the most advanced replica after
//! it applied everything it received, so a decision row the old primary wrote
//! but never shipped was never acknowledged; it goes when the old primary
//! rejoins. The abort row (`crate::xa_sets::fence`) is inserted there first,
//! so whichever decision reached the new primary wins.
//!
//! A coordinator's commit whose connection broke (its primary killed) is
//! decided the same way, on the primary routing names once the set failed
//! over (waiting for one as a statement does); if the old primary still
//! answers, the abort row waits for the broken commit's lock, or finds its
//! row: either way the first decision there stands.
//!
//! A branch started ahead (`super::ahead`) stops waiting for its `XA START`
//! the same way ([`moved`]): the statement that claims it would otherwise
//! wait, unguarded, for a hung server.

use std::sync::Arc;

use crate::exec::conns::epoch_of;
use crate::routing::Changes;
use crate::shared::Shared;

/// Completes once routing (`changes`) gives `set` another epoch than `epoch`
/// (its primary changed); never if routing stops.
pub async fn moved(changes: &Changes, set: &str, epoch: u64) {
    let mut changes = changes.clone();
    loop {
        if epoch_of(&changes.borrow_and_update(), set) != epoch {
            return;
        }
        if changes.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// What a commit running as its own task needs to follow routing.
#[derive(Clone)]
pub struct Watch {
    pub shared: Arc<Shared>,
    pub changes: Changes,
}

impl Watch {
    /// Runs `fut`, a step on `set` (whose branch began at routing `epoch`),
    /// unless the set's primary changes first: then `None` (`fut` is dropped,
    /// and with it the connection it ran on).
    pub async fn unless_moved<T>(
        &self,
        set: &str,
        epoch: u64,
        fut: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            biased;
            r = fut => Some(r),
            () = moved(&self.changes, set, epoch) => {
                metrics::counter!(crate::metrics::INTERRUPTED).increment(1);
                None
            }
        }
    }

    /// The decision of `gtrid` taken on the primary routing now names for
    /// `set` (the coordinator's set; waited for while it refuses connections):
    /// the commit row if it got there, else the abort recorded there first. `None` when that primary cannot be reached
    /// (within the gateway's `failover_wait_ms`) or refuses: recovery decides.
    pub async fn decide_on_new_primary(&self, set: &str, gtrid: &str) -> Option<bool> {
        let snap = self.shared.routing.get();
        let conns = crate::exec::Conns {
            backends: &self.shared.backends,
            routing: &self.shared.routing,
            changes: &self.changes,
            snap: &snap,
            db: None,
            found_rows: false,
            init: Default::default(),
            codec: Default::default(),
        };
        let mut conn = match conns.pooled(set).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%set, %gtrid, "deciding on the new primary: {e}");
                return None;
            }
        };
        match crate::xa_sets::fence(&mut conn, gtrid).await {
            Ok(commit) => {
                conn.mark_clean();
                tracing::warn!(%set, %gtrid, commit, "the coordinator's commit was lost: decided on the set's primary");
                Some(commit)
            }
            Err(e) => {
                tracing::warn!(%set, %gtrid, "deciding on the new primary: {e}");
                crate::exec::discard(conn);
                None
            }
        }
    }
}
