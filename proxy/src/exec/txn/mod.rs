//! A client transaction: the backend connections it has pinned, one per set it
//! touched, each an XA branch (`XA START 'gtrid','set'`).
//!
//! COMMIT: with at most one set written, every branch commits in one phase
//! (`XA END; XA COMMIT ... ONE PHASE`, one round trip, all sets at once:
//! [`commit`]). With writes on several sets it is a two-phase commit, the
//! decision recorded in between in the coordinator set or in etcd
//! ([`two_phase`]). A gateway that dies between the two phases leaves
//! prepared branches that `crate::xa` resolves from the row or the record.
//!
//! `START TRANSACTION READ ONLY` writes nothing: its branches are plain
//! read-only transactions (`START TRANSACTION`, `COMMIT`), no XA. Nor do the
//! branches of a session holding `LOCK TABLES` (`crate::session::locks`):
//! MariaDB refuses `XA START` there and `START TRANSACTION` would release the
//! locks, so each branch is `SET autocommit=0` ... `COMMIT`, one phase per
//! set. Branches may also have been started ahead of their first statement
//! ([`ahead`]), or by the session's previous COMMIT ([`primed`]).
//!
//! The pieces: branch bookkeeping (taking and giving back a set's connection,
//! fencing) here; [`ends`] (how a branch ends, ROLLBACK); [`commit`] (checks
//! and one-phase COMMIT); [`two_phase`]; [`last_agent`]; [`moved`] (a commit
//! step on a set whose primary changed is given up); [`app_xa`] (the
//! client's own XA PREPARE); [`savepoints`]; [`ahead`]; [`primed`].

mod ahead;
mod app_xa;
mod commit;
pub mod diag;
mod ends;
mod last_agent;
pub mod moved;
pub mod primed;
mod savepoints;
mod two_phase;

use std::collections::{BTreeMap, BTreeSet};

use super::pins::Pins;
use crate::backend::Conn;
use crate::xa_sets::xid;
pub use ahead::Ahead;
use mysql_async::prelude::Queryable;
pub use savepoints::no_savepoint;
use savepoints::quote_ident;
use tracing::warn;

use super::conns::discard;
use crate::error::ProxyError;

pub struct Txn {
    /// Global transaction id; each set's branch is `'gtrid','set'`.
    pub gtrid: String,
    /// Statements run before `XA START` on a new branch (`SET TRANSACTION ...`).
    pub before: Vec<String>,
    /// Set → pinned connection (branch open on it).
    pub conns: BTreeMap<String, Conn>,
    /// Sets that received writes.
    pub writers: BTreeSet<String>,
    /// Set when a pinned connection broke: the transaction can only roll back.
    pub broken: Option<String>,
    /// A deadlock rolled a branch back: MariaDB ends the whole transaction then,
    /// and so does the gateway (every branch rolls back).
    pub doomed: bool,
    /// Set → routing epoch of its primary when the branch started. When routing
    /// shows another epoch (the primary changed) the transaction is fenced: it can
    /// only roll back.
    pub epochs: BTreeMap<String, u64>,
    /// Savepoints in the order they were taken (names as the client wrote them;
    /// compared case-insensitively, as MariaDB does). A branch that starts later
    /// takes them all right after its `XA START`, so `ROLLBACK TO` a savepoint
    /// taken before the set joined undoes everything the set did since.
    pub savepoints: Vec<String>,
    /// Sets whose pinned connection's session state changed during the
    /// transaction (`SET`, `USE`, a statement assigning variables): it no longer
    /// matches the pool it came from, so it is closed at the end instead of being
    /// lent again.
    pub tainted: BTreeSet<String>,
    /// Sets whose branch runs on the session's pinned connection
    /// ([`crate::exec::Pins`]): given back to `pins` when the transaction ends.
    pub pinned: BTreeSet<String>,
    pub pins: Pins,
    /// What the transaction wrote, for slot moves' holds (`crate::moving`):
    /// set at its first write.
    pub moving: Option<crate::moving::TxnMark>,
    /// Branches being started ahead of their first statement ([`ahead`]).
    pub ahead: ahead::AheadMap,
    /// `START TRANSACTION READ ONLY`: it writes nothing, so its branches are
    /// plain read-only transactions (`START TRANSACTION`, `COMMIT`), not XA.
    pub plain: bool,
    /// The session holds `LOCK TABLES` on its pinned connections: each branch
    /// is `SET autocommit=0` ... `COMMIT` / `ROLLBACK` (then `SET autocommit=1`
    /// when the value is `Some(true)`: the session's autocommit is on), one
    /// phase per set.
    pub locked: Option<bool>,
    /// Sets whose branch holds the diagnostics area (warnings, an error) of the
    /// session's last statement: `SHOW WARNINGS` reads it there, and when the
    /// transaction ends those connections go to `kept` (COMMIT and ROLLBACK
    /// leave MariaDB's diagnostics area as it was).
    pub diag: BTreeSet<String>,
    /// The diagnostics of `diag` sets whose branch ended, for the session.
    pub kept: diag::Kept,
}
impl Txn {
    pub fn new(gtrid: String, before: Vec<String>, pins: Pins) -> Self {
        Self {
            gtrid,
            before,
            conns: BTreeMap::new(),
            writers: BTreeSet::new(),
            broken: None,
            doomed: false,
            epochs: BTreeMap::new(),
            savepoints: Vec::new(),
            tainted: BTreeSet::new(),
            pinned: BTreeSet::new(),
            pins,
            moving: None,
            ahead: Default::default(),
            plain: false,
            locked: None,
            diag: BTreeSet::new(),
            kept: diag::Kept::default(),
        }
    }

    /// The first set whose epoch in `snap` is not the one its branch started at.
    pub fn fenced_by(&self, snap: &topo::ClusterSnapshot) -> Option<&str> {
        self.epochs
            .iter()
            .find(|(set, e)| super::conns::epoch_of(snap, set) != **e)
            .map(|(set, _)| set.as_str())
    }

    /// Dooms the transaction (the session rolls it back) and gives the error the
    /// client sees: a set's primary changed under it.
    fn fence(&mut self, set: &str) -> ProxyError {
        self.doomed = true;
        metrics::counter!(crate::metrics::FENCED_TXNS).increment(1);
        warn!(%set, gtrid = %self.gtrid, "a set's primary changed during the transaction: rolled back");
        ProxyError::Fenced {
            set: set.to_string(),
        }
    }

    /// Takes the pinned connection of `set` (with its branch's epoch), or opens a
    /// branch on `fresh()` (a connection and the epoch it was chosen at). Fails
    /// with [`ProxyError::Fenced`] when the epoch of any set of the transaction in
    /// `snap` (current routing) moved since its branch started.
    pub async fn take(
        &mut self,
        set: &str,
        write: bool,
        snap: &topo::ClusterSnapshot,
        fresh: impl std::future::Future<Output = Result<(Conn, u64), ProxyError>>,
    ) -> Result<(Conn, u64), ProxyError> {
        let (mut conn, epoch, start) = self.take_deferred(set, write, snap, fresh).await?;
        if !start.is_empty() {
            if let Err(e) = conn.query_drop(start.join("; ")).await {
                self.forget(set);
                return Err(ProxyError::from_backend(set, e));
            }
        }
        Ok((conn, epoch))
    }

    /// [`take`](Self::take), except that a new branch is not started here: the
    /// statements that start it (`SET TRANSACTION ...`, `XA START ...`) are
    /// returned, to be sent in one round trip with the branch's first statement.
    /// If they fail, the caller calls [`forget`](Self::forget).
    pub async fn take_deferred(
        &mut self,
        set: &str,
        write: bool,
        snap: &topo::ClusterSnapshot,
        fresh: impl std::future::Future<Output = Result<(Conn, u64), ProxyError>>,
    ) -> Result<(Conn, u64, Vec<String>), ProxyError> {
        if let Some(reason) = &self.broken {
            return Err(ProxyError::BackendLost {
                set: set.into(),
                detail: format!("the transaction was lost ({reason}); ROLLBACK and retry it"),
            });
        }
        if let Some(moved) = self.fenced_by(snap) {
            let moved = moved.to_string();
            return Err(self.fence(&moved));
        }
        if let Some(c) = self.conns.remove(set) {
            if write {
                self.writers.insert(set.to_string());
            }
            let epoch = self.epochs.get(set).copied().unwrap_or_default();
            return Ok((c, epoch, Vec::new()));
        }
        // Started ahead (XA START already ran): only the savepoints to take.
        if let Some((conn, epoch)) = self.take_ahead(set, snap).await {
            if write {
                self.writers.insert(set.to_string());
            }
            self.epochs.insert(set.to_string(), epoch);
            let start = self
                .savepoints
                .iter()
                .map(|s| format!("SAVEPOINT {}", quote_ident(s)))
                .collect();
            return Ok((conn, epoch, start));
        }
        let (conn, epoch) = fresh.await?;
        if write {
            self.writers.insert(set.to_string());
        }
        let mut start = self.before.clone();
        start.push(self.start_stmt(set));
        start.extend(
            self.savepoints
                .iter()
                .map(|s| format!("SAVEPOINT {}", quote_ident(s))),
        );
        self.epochs.insert(set.to_string(), epoch);
        Ok((conn, epoch, start))
    }

    /// What starts the branch on `set` (after `before`).
    pub fn start_stmt(&self, set: &str) -> String {
        if self.locked.is_some() {
            "SET autocommit=0".into()
        } else if self.plain {
            "START TRANSACTION".into()
        } else {
            format!("XA START {}", xid(&self.gtrid, set))
        }
    }

    /// A branch whose start failed: the set is not part of the transaction.
    pub fn forget(&mut self, set: &str) {
        self.epochs.remove(set);
        self.writers.remove(set);
    }

    /// Puts a connection back after a statement; a broken one breaks the transaction.
    pub fn give_back(&mut self, set: &str, conn: Conn, lost: Option<&ProxyError>) {
        match lost {
            Some(e @ (ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. })) => {
                self.broken = Some(e.to_string());
                // Its branch rolls back when the connection closes; a connection
                // whose statement was given up must not go back to a pool.
                discard(conn);
            }
            other => {
                // 1213 deadlock, 1614 XA_RBDEADLOCK, 1402 XA_RBROLLBACK: the branch
                // can only roll back.
                if let Some(ProxyError::Backend {
                    code: 1213 | 1614 | 1402,
                    ..
                }) = other
                {
                    self.doomed = true;
                }
                self.conns.insert(set.to_string(), conn);
            }
        }
    }

    /// The sets holding a branch.
    pub fn sets(&self) -> Vec<String> {
        self.conns.keys().cloned().collect()
    }

    /// Runs `sql` (SAVEPOINT, RELEASE/ROLLBACK TO SAVEPOINT, SET, USE) on every
    /// branch, all sets at once; the first error is returned.
    pub async fn on_all(&mut self, sql: &str) -> Result<(), ProxyError> {
        self.claim_ahead(None).await;
        let done = futures::future::join_all(self.conns.iter_mut().map(|(set, conn)| async move {
            crate::observe::backend_part(set, conn.query_drop(sql))
                .await
                .map_err(|e| ProxyError::from_backend(set, e))
        }))
        .await;
        done.into_iter().collect()
    }

    /// Runs a statement that changes the branches' session state (`SET`, `USE`)
    /// on every branch; their connections are closed when the transaction ends.
    pub async fn on_all_stateful(&mut self, sql: &str) -> Result<(), ProxyError> {
        self.tainted.extend(self.conns.keys().cloned());
        self.on_all(sql).await
    }
}
