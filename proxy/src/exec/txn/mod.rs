//! A client transaction: the backend connections it has pinned, one per set it
//! touched, each an XA branch (`XA START 'gtrid','set'`).
//!
//! COMMIT: with at most one set written, every branch commits in one phase
//! (`XA END; XA COMMIT ... ONE PHASE`, one round trip, all sets at once). With
//! writes on several sets it is a two-phase commit: the written branches but one
//! prepare (all at once; read-only branches just end), then the last one — the
//! coordinator — commits in one phase with the decision row inserted in it
//! ([`last_agent`], `crate::xa_sets`), then every prepared branch commits
//! (all at once). With `[xa] decisions = "etcd"` (or while the coordinator's
//! set lacks the decision table) every written branch prepares and the decision
//! is recorded in etcd instead (`topo::XaDecision`, created once — a recovery
//! that aborts an abandoned branch races for the same record — and written
//! together with the decisions of concurrent commits, `crate::xa_log`). A
//! gateway that dies between the two phases leaves prepared branches that
//! `crate::xa` resolves from the row or the record.
//!
//! `START TRANSACTION READ ONLY` writes nothing: its branches are plain
//! read-only transactions (`START TRANSACTION`, `COMMIT`), no XA. Nor do the
//! branches of a session holding `LOCK TABLES` (`crate::session::locks`):
//! MariaDB refuses `XA START` there and `START TRANSACTION` would release the
//! locks, so each branch is `SET autocommit=0` ... `COMMIT`, one phase per
//! set. Branches may also have been started ahead of their first statement
//! ([`ahead`]), or by the session's previous COMMIT ([`primed`]).

mod ahead;
pub mod diag;
mod last_agent;
pub mod primed;
mod savepoints;

use std::collections::{BTreeMap, BTreeSet};

use super::conns::discard;
use super::pins::Pins;
use crate::backend::Conn;
use crate::xa_sets::xid;
pub use ahead::Ahead;
use mysql_async::prelude::Queryable;
pub use savepoints::no_savepoint;
use savepoints::quote_ident;
use tracing::warn;

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

/// The error of a COMMIT / XA PREPARE whose transaction broke before it (`reason`);
/// the caller has rolled it back.
fn lost_before(what: &str, reason: &str) -> ProxyError {
    ProxyError::BackendLost {
        set: "?".into(),
        detail: format!("the transaction was lost before {what} ({reason}); it was rolled back"),
    }
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

    /// What ends the branch on `set`: commits it in one phase, or rolls it back.
    fn end_stmt(&self, set: &str, commit: bool) -> String {
        Self::end_stmt_of(self.plain, self.locked, &self.gtrid, set, commit)
    }

    /// [`Self::end_stmt`] from the transaction's parts (`locked`: under LOCK
    /// TABLES, with whether autocommit was on).
    fn end_stmt_of(
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
    fn ends(&self) -> Ends {
        Ends {
            pins: self.pins.clone(),
            pinned: self.pinned.clone(),
            tainted: self.tainted.clone(),
            epochs: self.epochs.clone(),
            diag: self.diag.clone(),
            kept: self.kept.clone(),
        }
    }

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
                super::conns::check_writable(snap, set)
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
    pub async fn commit(
        mut self,
        topo: Option<&topo::Topo>,
        decisions: crate::xa_sets::Decisions,
        next: Option<String>,
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
        let gtrid = self.gtrid.clone();
        let written: Vec<String> = self
            .writers
            .iter()
            .filter(|s| self.conns.contains_key(*s))
            .cloned()
            .collect();
        if written.len() <= 1 {
            return self.commit_one_phase_all(next.as_deref()).await;
        }
        // The last-agent commit: the coordinator's branch is not prepared; its
        // one-phase commit records the decision. Writing the decision row
        // replaces the diagnostics area there, so the coordinator is a set
        // whose branch holds none of the last statement's if there is one.
        let coordinator = match decisions {
            crate::xa_sets::Decisions::Sets => written
                .iter()
                .rev()
                .find(|s| !self.diag.contains(*s))
                .or(written.last())
                .cloned(),
            crate::xa_sets::Decisions::Etcd => None,
        };
        let stash = coordinator.as_ref().is_some_and(|s| self.diag.remove(s));
        let ends = self.ends();
        let mut conns = std::mem::take(&mut self.conns);
        let mut coordinator = coordinator.and_then(|s| Some((s.clone(), conns.remove(&s)?)));
        if let (true, Some((_, conn))) = (stash, coordinator.as_mut()) {
            // Every written branch holds some: the coordinator's are read now.
            diag::stash(conn, &self.kept).await;
        }
        // Phase 1, all sets at once: every written branch prepares; read-only
        // branches just end (committed in one phase: nothing to make durable).
        let (mut prepared, mut failure) = phase_one(&gtrid, conns, &written, &ends).await;
        crate::xa_log::pause("prepared").await;
        let mut decided = false;
        if let Some((set, conn)) = coordinator {
            use last_agent::Outcome;
            match last_agent::decide(&gtrid, &set, conn, failure.is_none()).await {
                Outcome::Committed(conn) => {
                    ends.end(&set, conn, true);
                    decided = true;
                    crate::xa_log::pause("decided").await;
                }
                Outcome::RolledBack(conn, e) => {
                    if let Some(conn) = conn {
                        ends.end(&set, conn, true);
                    }
                    failure = failure.or(e);
                }
                Outcome::Unknown(e) => {
                    // The decision is the coordinator set's: recovery finishes
                    // the prepared branches by its row.
                    for (_, conn) in prepared {
                        discard(conn);
                    }
                    return Err(e);
                }
                Outcome::NoTable(conn) => {
                    // Its table is not there yet: prepared too, decided in etcd.
                    let (more, f) =
                        phase_one(&gtrid, [(set.clone(), conn)].into(), &written, &ends).await;
                    prepared.extend(more);
                    failure = failure.or(f);
                }
            }
        }
        // The decision in etcd, recorded before any branch commits (with those
        // of the transactions committing at the same time: `crate::xa_log`).
        let in_etcd = !decided && failure.is_none();
        if in_etcd {
            match topo {
                None => {
                    failure = Some(ProxyError::EtcdUnavailable(
                        "a transaction that wrote to several sets records its commit there; it was rolled back".into(),
                    ));
                }
                Some(t) => {
                    let d = topo::XaDecision {
                        gtrid: gtrid.clone(),
                        commit: true,
                        sets: written.clone(),
                        at_ms: now_ms(),
                    };
                    match crate::xa_log::log().decide(t, d).await {
                        Ok(d) if d.commit => {
                            decided = true;
                            crate::xa_log::pause("decided").await;
                        }
                        Ok(_) => {
                            failure = Some(ProxyError::BackendLost {
                                set: "?".into(),
                                detail: "the distributed transaction was aborted by recovery while it committed".into(),
                            });
                        }
                        Err(e) => {
                            failure = Some(ProxyError::EtcdUnavailable(format!(
                                "the commit decision of a transaction across sets could not be recorded ({e}); it was rolled back"
                            )));
                        }
                    }
                }
            }
        }
        // Phase 2, all sets at once. A branch that commits may start the
        // next transaction's there too ([`primed`]).
        let verb = if decided { "COMMIT" } else { "ROLLBACK" };
        let next = next.filter(|_| decided && failure.is_none());
        let epochs = &self.epochs;
        let phase2 = futures::future::join_all(prepared.into_iter().map(|(set, mut conn)| {
            let x = xid(&gtrid, &set);
            let (ends, gtrid) = (&ends, &gtrid);
            let hold = next
                .as_deref()
                .filter(|_| ends.primable(&set))
                .and_then(|n| Some((n, conn.hold()?)));
            async move {
                let end = format!("XA {verb} {x}");
                let y = hold.as_ref().map(|(next, _)| xid(next, &set));
                let run = async {
                    match &y {
                        Some(y) => primed::end_and_start(&mut conn, &end, 1, y).await,
                        None => conn.query_drop(end.as_str()).await.map(|()| false),
                    }
                };
                match crate::observe::backend_part(&set, run).await {
                    Ok(true) => {
                        let (_, hold) = hold.expect("started with a hold");
                        let epoch = epochs.get(&set).copied().unwrap_or_default();
                        (true, Some((set, primed::Branch { conn, epoch, hold })))
                    }
                    Ok(false) if hold.is_some() => {
                        // Committed; the next branch's start failed.
                        discard(conn);
                        (true, None)
                    }
                    Ok(false) => {
                        ends.end(&set, conn, true);
                        (true, None)
                    }
                    Err(e) => {
                        // The decision stands; recovery finishes this branch.
                        warn!(%set, %gtrid, "XA {verb} failed: {e}");
                        ends.end(&set, conn, false);
                        (false, None)
                    }
                }
            }
        }))
        .await;
        let (phase2, started): (Vec<bool>, Vec<_>) = phase2.into_iter().unzip();
        let started: Vec<(String, primed::Branch)> = started.into_iter().flatten().collect();
        if in_etcd && decided && phase2.iter().all(|done| *done) {
            // Deleted with the next decisions written (or by recovery's round).
            crate::xa_log::log().finished(gtrid);
        }
        match failure {
            Some(e) => {
                let next = next.as_deref().unwrap_or_default();
                for (set, b) in started {
                    primed::Primed::give_back(next, &set, b);
                }
                Err(e)
            }
            None => Ok(started),
        }
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
                .filter(|_| ends.primable(&set))
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

    /// The application's `XA PREPARE`: every branch ends and prepares, all sets at
    /// once, and stays on its connection until [`finish_prepared`](Self::finish_prepared)
    /// or [`detach`](Self::detach). If one fails, every branch rolls back and its
    /// error is returned.
    pub async fn prepare_all(mut self) -> Result<Txn, ProxyError> {
        self.claim_ahead(None).await;
        if let Some(reason) = self.broken.take() {
            let _ = self.rollback().await;
            return Err(lost_before("XA PREPARE", &reason));
        }
        let gtrid = self.gtrid.clone();
        let done = futures::future::join_all(self.conns.iter_mut().map(|(set, conn)| {
            let x = xid(&gtrid, set);
            async move {
                let prepare = conn.query_drop(format!("XA END {x}; XA PREPARE {x}"));
                crate::observe::backend_part(set, prepare)
                    .await
                    .map_err(|e| ProxyError::from_backend(set, e))
            }
        }))
        .await;
        match done.into_iter().find_map(Result::err) {
            None => Ok(self),
            Some(e) => {
                // Ended or prepared branches roll back; one still active closes
                // (which rolls it back).
                let _ = self.finish_prepared(false).await;
                Err(e)
            }
        }
    }

    /// Commits or rolls back every prepared branch on its own connection.
    pub async fn finish_prepared(self, commit: bool) -> Result<(), ProxyError> {
        let ends = self.ends();
        let gtrid = self.gtrid;
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        let done = futures::future::join_all(self.conns.into_iter().map(|(set, mut conn)| {
            let x = xid(&gtrid, &set);
            let ends = &ends;
            async move {
                let r =
                    crate::observe::backend_part(&set, conn.query_drop(format!("XA {verb} {x}")))
                        .await
                        .map_err(|e| ProxyError::from_backend(&set, e));
                ends.end(&set, conn, r.is_ok());
                r
            }
        }))
        .await;
        done.into_iter().collect()
    }

    /// Leaves every prepared branch to MariaDB: the connections close and the
    /// branches stay prepared (for `XA COMMIT` / `XA ROLLBACK` from elsewhere).
    pub fn detach(self) {
        for (_, conn) in self.conns {
            discard(conn);
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

/// Phase 1 of a commit over `conns`, all at once: the branches of `written`
/// sets end and prepare, the others end and commit in one phase (they only
/// read). Returns the prepared branches and the first failure (a branch whose
/// prepare failed is closed: MariaDB rolls it back).
async fn phase_one(
    gtrid: &str,
    conns: BTreeMap<String, Conn>,
    written: &[String],
    ends: &Ends,
) -> (Vec<(String, Conn)>, Option<ProxyError>) {
    let done = futures::future::join_all(conns.into_iter().map(|(set, mut conn)| {
        let x = xid(gtrid, &set);
        let write = written.contains(&set);
        async move {
            if !write {
                let commit = conn.query_drop(format!("XA END {x}; XA COMMIT {x} ONE PHASE"));
                let ok = crate::observe::backend_part(&set, commit).await.is_ok();
                ends.end(&set, conn, ok);
                return None;
            }
            let prepare = conn.query_drop(format!("XA END {x}; XA PREPARE {x}"));
            match crate::observe::backend_part(&set, prepare).await {
                Ok(()) => Some(Ok((set, conn))),
                Err(e) => {
                    let e = ProxyError::from_backend(&set, e);
                    ends.end(&set, conn, false);
                    Some(Err(e))
                }
            }
        }
    }))
    .await;
    let mut prepared = Vec::new();
    let mut failure = None;
    for r in done.into_iter().flatten() {
        match r {
            Ok(p) => prepared.push(p),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    (prepared, failure)
}

/// Where the connections of a transaction's branches go when it ends.
pub(super) struct Ends {
    pins: Pins,
    pinned: BTreeSet<String>,
    tainted: BTreeSet<String>,
    epochs: BTreeMap<String, u64>,
    diag: BTreeSet<String>,
    kept: diag::Kept,
}

impl Ends {
    /// Whether the branch on `set` may start the next transaction's as it
    /// commits ([`primed`]): not the session's own connection, nor one whose
    /// session state changed or that holds the last statement's diagnostics.
    fn primable(&self, set: &str) -> bool {
        !self.pinned.contains(set) && !self.tainted.contains(set) && !self.diag.contains(set)
    }

    /// A branch ended cleanly (`ok`: committed or rolled back) or not: the
    /// session's pinned connection goes back to it; a pooled one is lent again
    /// as it is unless its session state changed in the transaction (or it holds
    /// the last statement's diagnostics: kept for the session); a failed one is
    /// closed.
    pub(super) fn end(&self, set: &str, mut conn: Conn, ok: bool) {
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

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
