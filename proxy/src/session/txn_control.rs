//! Transaction control of a session: opening its transaction (an XA branch per
//! set it touches, `txn.rs`), `WITH CONSISTENT SNAPSHOT`, savepoints, and
//! COMMIT / ROLLBACK under the routing guard.

use mysql_async::prelude::Queryable;

use super::Session;
use crate::command::SavepointOp;
use crate::error::ProxyError;
use crate::exec::txn::{self, Txn};

impl Session {
    /// Opens a transaction if none is open (explicit BEGIN or autocommit off).
    pub(super) fn open_txn(&mut self) {
        if self.txn.is_none() {
            let before = std::mem::take(&mut self.next_txn);
            let gtrid = self.new_gtrid();
            let mut t = Txn::new(gtrid, before, self.pins.clone());
            // Under LOCK TABLES: no XA on the locked connections (txn.rs).
            t.locked = self.locks.is_some().then_some(self.autocommit);
            self.txn = Some(t);
        }
    }

    /// A global transaction id not used before.
    fn new_gtrid(&self) -> String {
        let n = self
            .shared
            .txn_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("sw-{}-{n}", self.shared.gateway_id)
    }

    /// Books a statement for the priming of branches: anything but a BEGIN
    /// gives the primed branches back (and the next COMMIT primes none, until
    /// a BEGIN follows a COMMIT again).
    pub(super) fn note_priming(&mut self, command: &crate::command::Command) {
        use crate::command::Command;
        let begin = matches!(command, Command::Begin(_));
        if !begin {
            self.primed_unused();
        } else if self.after_commit {
            self.prime_next = true;
        }
        self.after_commit = matches!(command, Command::End { commit: true });
    }

    /// Gives the primed branches back unused (a command other than BEGIN).
    pub(super) fn primed_unused(&mut self) {
        if self.primed.take().is_some() {
            self.prime_next = false;
        }
        self.after_commit = false;
    }

    /// BEGIN (the transaction just opened): the branches the last COMMIT
    /// started (`primed`) become its branches, when they fit it — the
    /// session's state is the one they were started with, no `SET
    /// TRANSACTION` is waiting, it is not READ ONLY, no connection of the
    /// session's own is held. Otherwise they are given back.
    pub(super) fn take_primed(&mut self) {
        let Some(mut primed) = self.primed.take() else {
            return;
        };
        let fits = self.pins.is_empty()
            && self
                .txn
                .as_ref()
                .is_some_and(|t| !t.plain && t.before.is_empty() && t.conns.is_empty());
        if !fits {
            return;
        }
        let snap = self.snapshot();
        let conns = self.conns(&snap);
        let mut ready = Vec::new();
        for (set, (branch, key)) in primed.take() {
            match snap.primary_of(&set) {
                Some(node) if conns.key(&set, node) == key => ready.push((set, branch)),
                _ => txn::primed::Primed::give_back(&primed.gtrid, &set, branch),
            }
        }
        if ready.is_empty() {
            return;
        }
        let Some(t) = self.txn.as_mut() else {
            return;
        };
        t.gtrid = primed.gtrid.clone();
        for (set, b) in ready {
            t.ahead.insert(set, txn::Ahead::Ready(b.conn, b.epoch));
        }
    }

    /// Starts the branches of the transaction just opened on the sets `sets`
    /// (those of the session's previous transaction) in the background
    /// (`ahead.rs`); not for a session holding connections of its own.
    pub(super) fn start_ahead(&mut self, sets: &[String]) {
        if sets.is_empty() || !self.pins.is_empty() {
            return;
        }
        let snap = self.snapshot();
        let (db, found_rows, init) = (self.db.clone(), self.found_rows, self.vars.init());
        let shared = self.shared.clone();
        let Some(t) = self.txn.as_mut() else {
            return;
        };
        let conns = crate::exec::Conns {
            backends: &shared.backends,
            routing: &shared.routing,
            changes: &self.changes,
            snap: &snap,
            db: db.as_deref(),
            found_rows,
            init,
            codec: self.codec,
        };
        t.start_ahead(&conns, &shared, sets);
    }

    /// `START TRANSACTION WITH CONSISTENT SNAPSHOT`: XA START takes no such
    /// option, so a branch is opened on every set at once and reads one row of an
    /// InnoDB table there, which fixes its read view now (each set's snapshot is
    /// taken at this point; they are not one global snapshot across sets).
    pub(super) async fn snapshot_branches(&mut self) -> Result<(), ProxyError> {
        const SNAPSHOT_READ: &str = "SELECT 1 FROM mysql.innodb_table_stats LIMIT 1";
        let snap = self.snapshot();
        let sets: Vec<String> = snap.sets.keys().cloned().collect();
        let mut exec = self.exec(&snap);
        exec.write = false;
        for set in &sets {
            let mut conn = exec.take(set).await?;
            let r = conn
                .query_drop(SNAPSHOT_READ)
                .await
                .map_err(|e| ProxyError::from_backend(set, e));
            exec.give_back(set, conn, r.as_ref().err());
            r?;
        }
        Ok(())
    }

    /// `SAVEPOINT s`, `ROLLBACK [WORK] TO [SAVEPOINT] s`, `RELEASE SAVEPOINT s`.
    /// A savepoint opens the transaction when autocommit is off (it is then the
    /// transaction's first statement); outside any transaction it is accepted and
    /// forgotten, as MariaDB does, so rolling back to it is 1305 there.
    pub(super) async fn savepoint(
        &mut self,
        op: SavepointOp,
        name: Option<&str>,
    ) -> Result<(), ProxyError> {
        let Some(name) = name else {
            return Err(ProxyError::Syntax("a savepoint needs a name".into()));
        };
        if op == SavepointOp::Set {
            if !self.autocommit {
                self.open_txn();
            }
            return match self.txn.as_mut() {
                Some(t) => t.savepoint(name).await,
                None => Ok(()),
            };
        }
        match self.txn.as_mut() {
            Some(t) => t.to_savepoint(name, op == SavepointOp::Release).await,
            None => Err(txn::no_savepoint(name)),
        }
    }

    /// Ends the open transaction (if any) with COMMIT or ROLLBACK.
    pub async fn end_txn(&mut self, verb: &str) -> Result<(), ProxyError> {
        self.end_txn_priming(verb, false).await
    }

    /// [`end_txn`](Self::end_txn); with `prime` (the client's COMMIT in
    /// autocommit mode), a one-phase commit also starts the branches of the
    /// session's next transaction (`txn::primed`), kept for its BEGIN.
    pub(super) async fn end_txn_priming(
        &mut self,
        verb: &str,
        prime: bool,
    ) -> Result<(), ProxyError> {
        let Some(t) = self.txn.take() else {
            return Ok(());
        };
        // The branches holding the last statement's diagnostics come back to
        // the session as they end (`Txn::diag`): SHOW WARNINGS after COMMIT or
        // ROLLBACK reads them, as on one server.
        let kept = t.kept.clone();
        let r = self.end_taken(t, verb, prime).await;
        if let Ok(mut k) = kept.lock() {
            self.diag.append(&mut k.conns);
            self.diag_rows.append(&mut k.rows);
        }
        r
    }

    /// [`end_txn_priming`](Self::end_txn_priming) of the transaction taken
    /// from the session.
    async fn end_taken(
        &mut self,
        mut t: txn::Txn,
        verb: &str,
        prime: bool,
    ) -> Result<(), ProxyError> {
        // The sets this transaction used: its successor starts its branches
        // there ahead (`super::ahead`).
        self.ahead_sets = t.epochs.keys().cloned().collect();
        if verb != "COMMIT" {
            return t.rollback().await;
        }
        self.note_commit(&t.writers);
        // A slot move's hold ended it, or waits for this commit from now on.
        if let Some(Err(move_id)) = t.moving.as_ref().map(|m| m.begin_commit()) {
            let _ = t.rollback().await;
            return Err(ProxyError::MoveAborted(move_id));
        }
        if t.moving.is_none() && !t.writers.is_empty() {
            // (An autocommit write over several sets: its commit may outlive
            // the statement when routing moves under it.)
            t.moving = Some(self.shared.moves.inflight.committing());
        }
        // Fenced (a set's primary changed since its branch began) or writing to a
        // set whose writes are blocked: it cannot commit.
        let snap = self.snapshot();
        t.claim_ahead(Some(&*snap)).await;
        if let Err(e) = t.check_commit(&snap) {
            let _ = t.rollback().await;
            return Err(e);
        }
        // The commit runs as a task the session waits for under a guard: when
        // routing moves under it (a commit hung waiting for a replica's
        // acknowledgement, a failover) the client gets an error at once and the
        // commit finishes, or not, on its own.
        let epochs: Vec<(String, u64)> = t.epochs.iter().map(|(s, e)| (s.clone(), *e)).collect();
        let on: Vec<(&str, u64)> = epochs.iter().map(|(s, e)| (s.as_str(), *e)).collect();
        let topo = self.shared.topo.get().cloned();
        let decisions = self.shared.cfg.xa.decisions;
        let two_phase = !t.plain && t.locked.is_none() && t.writers.len() > 1;
        let prime = prime
            && self.autocommit
            && self.pins.is_empty()
            && self.locks.is_none()
            && self.shared.backends.config().prime_branches;
        let next = prime.then(|| self.new_gtrid());
        let next_gtrid = next.clone();
        // The pool key of each set's connections as the session's state is now.
        let keys: Vec<(String, crate::backend::PoolKey)> = match &next {
            Some(_) => {
                let conns = self.conns(&snap);
                t.conns
                    .keys()
                    .chain(t.ahead.keys())
                    .filter_map(|s| Some((s.clone(), conns.key(s, snap.primary_of(s)?))))
                    .collect()
            }
            None => Vec::new(),
        };
        let watch = txn::moved::Watch {
            shared: self.shared.clone(),
            changes: self.changes.clone(),
        };
        let commit = tokio::spawn(async move {
            let r = t.commit(topo.as_ref(), decisions, next, Some(&watch)).await;
            crate::observe::xa_outcome(two_phase, r.is_ok());
            r
        });
        let guarded = crate::exec::guard(
            &self.shared.backends,
            &self.changes,
            &snap,
            &on,
            true,
            commit,
        )
        .await
        .inspect_err(crate::exec::given_up);
        let started = match guarded {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => return Err(ProxyError::Internal(format!("COMMIT: {e}"))),
            Err(e) => return Err(e),
        };
        if let (Some(gtrid), false) = (next_gtrid, started.is_empty()) {
            let mut keys: std::collections::BTreeMap<_, _> = keys.into_iter().collect();
            let mut branches = std::collections::BTreeMap::new();
            for (set, b) in started {
                match keys.remove(&set) {
                    Some(key) => {
                        branches.insert(set, (b, key));
                    }
                    None => txn::primed::Primed::give_back(&gtrid, &set, b),
                }
            }
            self.primed = Some(txn::primed::Primed { gtrid, branches });
        }
        Ok(())
    }
}
