//! `LOCK TABLES` / `UNLOCK TABLES` through the gateway: which tables the
//! session holds locked and on which sets' connections.
//!
//! `LOCK TABLES` commits the open transaction and releases the session's
//! previous table locks (as MariaDB does), then takes a connection of its own on
//! every set holding a locked table (every set of a sharded or broadcast table,
//! the home set of any other) — the session's pinned connection there
//! (`crate::exec::Pins`) — and sends it `LOCK TABLES` with the clauses of the
//! tables that set holds, one set after another in set-name order, so two
//! sessions locking the same tables cannot deadlock across sets (each waits at
//! most the backend's `lock_wait_timeout`, as on one MariaDB). A set that
//! refuses its part releases what the others took and the error is the
//! client's. While locked, every statement on those sets runs on the pinned
//! connections (never pooled, never pipelined), where MariaDB itself answers
//! 1099 and alias mismatches; a table locked on no set at all is refused here
//! with MariaDB's 1100 before routing, since its set has no locked connection
//! to refuse it. Writes over several sets run on the locked connections in a
//! plain one-phase transaction each (`crate::exec::txn`: MariaDB refuses
//! `XA START` under `LOCK TABLES`).
//!
//! `FLUSH TABLES WITH READ LOCK` is the same on every set of the cluster (the
//! global read lock: the session reads any table, writes get MariaDB's 1223);
//! `START TRANSACTION` does not release it, `UNLOCK TABLES` does.
//!
//! Released by `UNLOCK TABLES` (committing a transaction begun while locked),
//! `START TRANSACTION` / `BEGIN`, the session's end or reset (its pinned
//! connections close), and the loss of a locked connection: the statement
//! that meets it gets the error, and every set's locks are dropped.

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::backend::Conn;
use crate::command::lock::{self, LockTables};
use crate::command::{LockKind, Statement};
use crate::error::ProxyError;
use crate::exec::{discard, epoch_of, Answered};
use crate::front::{Handler, Responder};
use crate::route::analyze::TableRef;
use crate::route::{Merge, Plan, Target};

/// The session's table locks.
pub(super) struct TableLocks {
    /// `(db, table)` of every locked table (any alias).
    tables: Vec<(String, String)>,
    /// Set → routing epoch of the primary its locked connection leads to, in
    /// set-name order (the order they were locked in).
    sets: BTreeMap<String, u64>,
    /// `FLUSH TABLES WITH READ LOCK` on every set (`tables` is empty).
    global: bool,
}

/// Schemas whose tables need no lock (MariaDB lets a locked session read them).
fn unlocked_schema(db: &str) -> bool {
    db.eq_ignore_ascii_case("information_schema") || db.eq_ignore_ascii_case("performance_schema")
}

impl Session {
    /// `LOCK TABLES ...`, `UNLOCK TABLES`, or another `LOCK` (refused).
    pub(super) async fn lock_statement(
        &mut self,
        stmt: &Statement<'_>,
        kind: LockKind,
        out: &mut Responder<'_>,
    ) -> Answered {
        let r = match kind {
            LockKind::Other => Err(ProxyError::NotSupported(format!(
                "{} statements other than LOCK TABLES / UNLOCK TABLES through the gateway",
                stmt.verb
            ))),
            LockKind::Unlock => self.unlock_tables().await,
            LockKind::GlobalRead => self.global_read_lock(stmt.sql).await,
            LockKind::FlushTables => return self.flush_tables(stmt.sql, out).await,
            LockKind::Tables => match lock::parse(stmt.sql, &stmt.sig) {
                Ok(l) => self.lock_tables(&l).await,
                Err(e) => Err(e),
            },
        };
        self.reply(r, out).await
    }

    /// Whether the session holds table locks.
    pub(super) fn is_locked(&self) -> bool {
        self.locks.is_some()
    }

    async fn lock_tables(&mut self, l: &LockTables) -> Result<(), ProxyError> {
        if self.locks.as_ref().is_some_and(|l| l.global) {
            return Err(ProxyError::NotSupported(
                "LOCK TABLES while the session holds FLUSH TABLES WITH READ LOCK through the gateway (UNLOCK TABLES first)".into(),
            ));
        }
        // As MariaDB: the open transaction commits and the previous locks go,
        // even when the new ones cannot be taken.
        self.unlock_tables().await?;
        self.end_txn("COMMIT").await?;
        let snap = self.snapshot();
        let mut per_set: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let mut tables = Vec::new();
        for c in &l.clauses {
            let db = match c.db.clone().or_else(|| self.db.clone()) {
                Some(d) => d,
                None => return Err(ProxyError::NoDatabaseSelected),
            };
            let t = TableRef {
                db: Some(db.clone()),
                name: c.name.clone(),
                alias: None,
                pos: 0,
            };
            // A system schema's table, or one of a database the cluster does
            // not know (a set answers MariaDB's 1146): on one set.
            let sets = match crate::route::plan::sets_holding(&snap, None, &t) {
                Ok(Some(s)) => s,
                Ok(None) | Err(ProxyError::UnknownDatabase(_)) => {
                    vec![crate::placement::any_set_of(&snap, None)?]
                }
                Err(e) => return Err(e),
            };
            for s in sets {
                per_set.entry(s).or_default().push(&c.text);
            }
            tables.push((db, c.name.clone()));
        }
        let write = l.clauses.iter().any(|c| c.write);
        let tail = if l.tail.is_empty() { "" } else { " " };
        let per_set: Vec<(String, String)> = per_set
            .into_iter()
            .map(|(set, clauses)| {
                let sql = format!("LOCK TABLES {}{tail}{}", clauses.join(", "), l.tail);
                (set, sql)
            })
            .collect();
        self.lock_sets(&snap, &per_set, write, tables, false).await
    }

    /// `FLUSH TABLES WITH READ LOCK` (`sql`, as written) on every set, in
    /// set-name order. MariaDB commits the open transaction first, and refuses
    /// it while tables are locked (1192); taken again, it changes nothing.
    async fn global_read_lock(&mut self, sql: &str) -> Result<(), ProxyError> {
        match &self.locks {
            Some(l) if l.global => return Ok(()),
            Some(_) => return Err(ProxyError::LockedTables),
            None => {}
        }
        self.end_txn("COMMIT").await?;
        let snap = self.snapshot();
        let per_set: Vec<(String, String)> = snap
            .sets
            .keys()
            .map(|s| (s.clone(), sql.to_string()))
            .collect();
        self.lock_sets(&snap, &per_set, false, Vec::new(), true)
            .await
    }

    /// `FLUSH [LOCAL] TABLES` (no table list): on every set.
    async fn flush_tables(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        // An implicit commit, as in MariaDB.
        if let Err(e) = self.end_txn("COMMIT").await {
            return fail(out, &e).await;
        }
        let snap = self.snapshot();
        let sets: Vec<String> = snap.sets.keys().cloned().collect();
        if sets.is_empty() {
            return fail(out, &ProxyError::NoRouting("no set is registered".into())).await;
        }
        let plan = Plan {
            target: Target::Sets(sets),
            merge: Merge::Replicated,
        };
        out.status = self.status();
        let mut exec = self.exec(&snap);
        exec.write = false;
        crate::join::run::run_plan(&mut exec, &plan, sql, out).await
    }

    /// Sends each set its locking statement (`per_set`, in set-name order) on
    /// the session's own connection there; the session then holds `tables`
    /// (`global`: the read lock of every set). A set that refuses releases what
    /// the others took.
    async fn lock_sets(
        &mut self,
        snap: &topo::ClusterSnapshot,
        per_set: &[(String, String)],
        write: bool,
        tables: Vec<(String, String)>,
        global: bool,
    ) -> Result<(), ProxyError> {
        let mut locked = BTreeMap::new();
        let mut failed = None;
        {
            let mut exec = self.exec(snap);
            exec.write = write;
            exec.pin = true;
            for (set, sql) in per_set {
                let sql = sql.as_str();
                let mut conn = match exec.take(set).await {
                    Ok(c) => c,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                };
                // The session's own from now on: if this future is dropped (the
                // client went away while the lock waited) the connection closes,
                // and its locks with it, instead of going back to a pool.
                conn.make_private();
                exec.also_running_on(&conn);
                let r = crate::observe::backend_part(set, conn.query_drop(sql))
                    .await
                    .map_err(|e| ProxyError::from_backend(set, e));
                exec.give_back(set, conn, r.as_ref().err());
                if let Err(e) = r {
                    failed = Some(e);
                    break;
                }
                locked.insert(set.clone(), epoch_of(snap, set));
            }
            exec.clear_running();
        }
        self.locks = Some(TableLocks {
            tables,
            sets: locked,
            global,
        });
        match failed {
            Some(e) => {
                let _ = self.unlock_tables().await;
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// `UNLOCK TABLES` (also what `START TRANSACTION` and `LOCK TABLES` do
    /// first): commits a transaction begun while locked, then every locked set
    /// releases its locks; its connection stays the session's.
    pub(super) async fn unlock_tables(&mut self) -> Result<(), ProxyError> {
        if self.locks.is_none() {
            return Ok(());
        }
        let committed = self.end_txn("COMMIT").await;
        let Some(locks) = self.locks.take() else {
            return committed;
        };
        for (set, epoch) in &locks.sets {
            let Some((mut conn, at)) = self.pins.take(set, *epoch) else {
                continue;
            };
            match conn.query_drop("UNLOCK TABLES").await {
                Ok(()) => self.pins.put(set, conn, at),
                // Its locks go with the connection.
                Err(_) => discard(conn),
            }
        }
        committed
    }

    /// What `START TRANSACTION` / `BEGIN` releases: table locks, not the
    /// global read lock (as MariaDB).
    pub(super) async fn unlock_for_begin(&mut self) -> Result<(), ProxyError> {
        match &self.locks {
            Some(l) if l.global => Ok(()),
            _ => self.unlock_tables().await,
        }
    }

    /// Before a statement while locked: a locked connection that was lost (or
    /// leads to a primary that was replaced) drops every set's locks, and the
    /// statement is refused.
    pub(super) async fn locks_held(&mut self) -> Result<(), ProxyError> {
        let Some(set) = self.lost_lock() else {
            return Ok(());
        };
        let _ = self.unlock_tables().await;
        Err(ProxyError::BackendLost {
            set,
            detail: "the connection holding this session's LOCK TABLES was lost; every table lock was released".into(),
        })
    }

    /// After a statement while locked: a locked connection it lost (the
    /// statement got the error) drops every set's locks.
    pub(super) async fn locks_after(&mut self) {
        if self.lost_lock().is_some() {
            let _ = self.unlock_tables().await;
        }
    }

    /// A locked set whose connection the session no longer holds at the
    /// current routing epoch.
    fn lost_lock(&mut self) -> Option<String> {
        let locks = self.locks.as_ref()?;
        let sets: Vec<(String, u64)> = locks.sets.iter().map(|(s, e)| (s.clone(), *e)).collect();
        // Read without marking it seen: the statement takes its own snapshot.
        let snap = self.changes.borrow().clone();
        // A transaction begun while locked holds the connections of the sets it
        // used (given back at its end); one it lost broke it.
        let txn = self.txn.as_ref();
        let broken = txn.is_some_and(|t| t.broken.is_some());
        let in_txn = |set: &str| !broken && txn.is_some_and(|t| t.conns.contains_key(set));
        sets.into_iter()
            .find(|(set, e)| {
                *e != epoch_of(&snap, set) || !(self.pins.holds(set, *e) || in_txn(set))
            })
            .map(|(s, _)| s)
    }

    /// While locked, MariaDB's 1100 for the statement's first table that no
    /// `LOCK TABLES` clause names (under any alias): its set holds no locked
    /// connection to refuse it. Temporary tables and the information and
    /// performance schemas need no lock.
    pub(super) fn locks_gate(&self, stmt: &Statement<'_>) -> Result<(), ProxyError> {
        let Some(locks) = self.locks.as_ref().filter(|l| !l.global) else {
            // Under the global read lock every table may be read.
            return Ok(());
        };
        let mut refs: Vec<TableRef> = match crate::sql::parse_one(stmt.sql) {
            Ok(parsed) => {
                let mut t = crate::route::analyze::analyze(&parsed).tables;
                t.sort_by_key(|r| r.pos);
                t
            }
            Err(_) => Vec::new(),
        };
        refs.extend(stmt.tables());
        for r in &refs {
            let Some(db) = r.db.as_deref().or(self.db.as_deref()) else {
                continue;
            };
            if unlocked_schema(db)
                || (r.db.is_none() && r.name.eq_ignore_ascii_case("dual"))
                || self.temp_tables.contains(&(db.to_string(), r.name.clone()))
            {
                continue;
            }
            if !locks.tables.iter().any(|(d, n)| d == db && *n == r.name) {
                return Err(ProxyError::TableNotLocked(
                    r.alias.clone().unwrap_or_else(|| r.name.clone()),
                ));
            }
        }
        Ok(())
    }

    /// While locked, an `INSERT ... SELECT` the gateway runs itself (reading
    /// the SELECT first, `insert_select.rs`): what MariaDB checks before it
    /// runs — the locks held, 1100 for a table locked nowhere, and 1100 for the
    /// target named again in the SELECT without an alias of its own (MariaDB
    /// needs a second lock, under another name, for a table read while it is
    /// written).
    pub(super) async fn locks_insert_select(&mut self, sql: &str) -> Result<(), ProxyError> {
        let stmt = Statement::lex(sql)?;
        self.locks_held().await?;
        self.locks_gate(&stmt)?;
        if self.locks.as_ref().is_some_and(|l| l.global) {
            return Ok(());
        }
        let Some(target) = stmt.tables().into_iter().next() else {
            return Ok(());
        };
        let Ok(parsed) = crate::sql::parse_one(sql) else {
            return Ok(());
        };
        let db = self.db.as_deref();
        let tdb = target.db.as_deref().or(db);
        let again = crate::route::analyze::analyze(&parsed)
            .tables
            .into_iter()
            .any(|r| {
                r.db.as_deref().or(db) == tdb
                    && r.name == target.name
                    && r.alias.as_ref().is_none_or(|a| *a == r.name)
            });
        match again {
            true => Err(ProxyError::TableNotLocked(target.name)),
            false => Ok(()),
        }
    }

    /// A schema change while locked. MariaDB runs it on the locking connection;
    /// the gateway runs `ALTER TABLE t DISABLE KEYS` / `ENABLE KEYS` (what a
    /// `mariadb-dump` restore sends around its rows) there, on every set
    /// holding the table, and refuses the others (they would wait for this
    /// session's own locks from another connection).
    pub(super) async fn ddl_while_locked(
        &mut self,
        stmt: &Statement<'_>,
        out: &mut Responder<'_>,
    ) -> Answered {
        if let Err(e) = self.locks_gate(stmt) {
            return fail(out, &e).await;
        }
        if self.locks.as_ref().is_some_and(|l| l.global) {
            return fail(out, &ProxyError::ReadLockHeld).await;
        }
        let sig = &stmt.sig;
        let n = sig.iter().filter(|t| !t.is_punct(stmt.sql, ";")).count();
        let keys = stmt.verb == "ALTER"
            && stmt.word(1) == "TABLE"
            && n >= 5
            && sig[n - 1].is_word(stmt.sql, "KEYS")
            && (sig[n - 2].is_word(stmt.sql, "DISABLE") || sig[n - 2].is_word(stmt.sql, "ENABLE"))
            && (n == 5 || (n == 7 && sig[3].is_punct(stmt.sql, ".")));
        let table = stmt.tables().into_iter().next();
        let (true, Some(table)) = (keys, table) else {
            let e = ProxyError::NotSupported(
                "schema changes while the session holds LOCK TABLES through the gateway (UNLOCK TABLES first)".into(),
            );
            return fail(out, &e).await;
        };
        let snap = self.snapshot();
        let sets = match crate::route::plan::sets_holding(&snap, self.db.as_deref(), &table) {
            Ok(Some(s)) => s,
            Ok(None) => vec![],
            Err(e) => return fail(out, &e).await,
        };
        let Some(first) = sets.first().cloned() else {
            let e = ProxyError::TableNotLocked(table.name);
            return fail(out, &e).await;
        };
        let plan = Plan {
            merge: if sets.len() == 1 {
                Merge::Single
            } else {
                Merge::Replicated
            },
            target: Target::Sets(if sets.len() == 1 { vec![first] } else { sets }),
        };
        out.status = self.status();
        let mut exec = self.exec(&snap);
        exec.write = true;
        crate::join::run::run_plan(&mut exec, &plan, stmt.sql, out).await
    }
}

impl Session {
    /// A connection for a query the gateway sends on the session's behalf on
    /// `set` (a prepared statement's metadata, a table's next id): while
    /// locked, the session's own connection there (a pooled one would wait for
    /// the session's own locks); else a pooled one. Give it back with
    /// [`side_done`](Self::side_done).
    pub(super) async fn side_conn(
        &self,
        snap: &topo::ClusterSnapshot,
        set: &str,
    ) -> Result<(Conn, Option<u64>), ProxyError> {
        if self.locks.is_some() {
            if let Some((c, at)) = self.pins.take(set, epoch_of(snap, set)) {
                return Ok((c, Some(at)));
            }
        }
        Ok((self.conns(snap).pooled(set).await?, None))
    }

    /// Gives back a connection from [`side_conn`](Self::side_conn).
    pub(super) fn side_done(&self, set: &str, conn: Conn, pinned: Option<u64>) {
        match pinned {
            Some(at) => self.pins.put(set, conn, at),
            None => drop(conn),
        }
    }
}
