//! Branches started ahead of their first statement.
//!
//! A transaction's branch on a set starts with `XA START` (after the session's
//! `SET TRANSACTION ...`). A text statement carries it in its own round trip, but
//! a prepared statement (the binary protocol) cannot: the branch start would cost
//! a round trip of its own before the statement. When a session opens a
//! transaction with BEGIN / START TRANSACTION, the branches on the sets its
//! previous transaction touched are started at once, in the background, while
//! the client is still sending its first statements; the first statement on such
//! a set takes the branch ready ([`Txn::take_deferred`]).
//! A set the transaction then never touches has an empty branch, ended with
//! the others at COMMIT or ROLLBACK (one more statement in a round trip that
//! happens anyway, all sets at once).
//!
//! A branch may also be ready already: started by the session's previous
//! COMMIT in the same round trip ([`super::primed`]).
//!
//! Not done for a session holding connections of its own (temporary tables,
//! named locks: `crate::exec::Pins`), whose branches must run there.

use std::collections::BTreeMap;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use tokio::task::JoinHandle;

use super::Txn;
use crate::backend::{Backends, Conn};
use crate::exec::conns::{discard, epoch_of, Conns};

/// At most this many sets get a branch started ahead.
const MAX_SETS: usize = 8;

/// A branch started ahead: being started in the background (once started,
/// its connection and the routing epoch of the set's primary it leads to;
/// `None` if it could not start: the set's first statement then starts a
/// branch as usual), or started already.
pub enum Ahead {
    Task(JoinHandle<Option<(Conn, u64)>>),
    Ready(Conn, u64),
}

impl Ahead {
    /// The branch's connection and epoch once started.
    async fn started(self) -> Option<(Conn, u64)> {
        match self {
            Ahead::Task(handle) => handle.await.ok().flatten(),
            Ahead::Ready(conn, epoch) => Some((conn, epoch)),
        }
    }
}

/// The branches started ahead, by set.
pub type AheadMap = BTreeMap<String, Ahead>;

impl Txn {
    /// Starts the branches of this transaction, just opened, on the sets
    /// `sets` (those of the session's previous transaction) in the background,
    /// with the session's connections `conns` (`Session::start_ahead`), from
    /// the backends `shared` owns (kept alive by the tasks).
    pub(crate) fn start_ahead<S>(&mut self, conns: &Conns<'_>, shared: &Arc<S>, sets: &[String])
    where
        S: AsRef<Backends> + Send + Sync + 'static,
    {
        if !self.conns.is_empty() {
            return;
        }
        let snap = conns.snap;
        for set in sets.iter().take(MAX_SETS) {
            if self.ahead.contains_key(set) {
                continue;
            }
            let Some(node) = snap.primary_of(set) else {
                continue;
            };
            let key = conns.key(set, node);
            let mut start = self.before.clone();
            start.push(self.start_stmt(set));
            let epoch = epoch_of(snap, set);
            let (shared, name) = (shared.clone(), set.clone());
            let changes = conns.changes.clone();
            let handle = tokio::spawn(async move {
                let backends: &Backends = (*shared).as_ref();
                let started = async {
                    let mut conn = backends.get(&name, &key).await.ok()?;
                    match conn.query_drop(start.join("; ")).await {
                        Ok(()) => Some((conn, epoch)),
                        Err(_) => {
                            discard(conn);
                            None
                        }
                    }
                };
                // A primary that hangs is failed over: the branch is given up
                // then (the statement that claims it must not wait for it).
                tokio::select! {
                    biased;
                    r = started => r,
                    () = super::moved::moved(&changes, &name, epoch) => None,
                }
            });
            self.ahead.insert(set.clone(), Ahead::Task(handle));
        }
    }

    /// The branch started ahead on `set`, if there is one and it started at the
    /// epoch routing shows now (`snap`); one that did not is closed (which
    /// ends its branch).
    pub(super) async fn take_ahead(
        &mut self,
        set: &str,
        snap: &topo::ClusterSnapshot,
    ) -> Option<(Conn, u64)> {
        let ahead = self.ahead.remove(set)?;
        match ahead.started().await {
            Some((conn, epoch)) if epoch == epoch_of(snap, set) => Some((conn, epoch)),
            Some((conn, _)) => {
                discard(conn);
                None
            }
            None => None,
        }
    }

    /// Drops the branch started ahead on `set` (its statement runs on another
    /// connection): closing its connection ends the branch.
    pub(crate) fn drop_ahead(&mut self, set: &str) {
        match self.ahead.remove(set) {
            Some(Ahead::Task(handle)) => {
                tokio::spawn(async move {
                    if let Ok(Some((conn, _))) = handle.await {
                        discard(conn);
                    }
                });
            }
            Some(Ahead::Ready(conn, _)) => discard(conn),
            None => {}
        }
    }

    /// Makes every branch started ahead a branch of the transaction (before it
    /// ends, or before a statement that runs on every branch). With `snap`
    /// (routing now), one whose set's primary changed since is closed instead
    /// (which ends it): it did nothing, and must not fence the transaction.
    pub(crate) async fn claim_ahead(&mut self, snap: Option<&topo::ClusterSnapshot>) {
        let ahead = std::mem::take(&mut self.ahead);
        for (set, ahead) in ahead {
            let Some((conn, epoch)) = ahead.started().await else {
                continue;
            };
            if snap.is_some_and(|s| epoch_of(s, &set) != epoch) {
                discard(conn);
                continue;
            }
            self.epochs.insert(set.clone(), epoch);
            self.conns.insert(set, conn);
        }
    }
}
