//! `SET`: autocommit, the next transaction's characteristics, and session
//! variables carried to the backends (expressions evaluated once, `vars.rs`).

use mysql_async::prelude::Queryable;

use super::vars::{self, parse_set, SetRequest};
use super::{charset, fail, Session};
use crate::command::lexed_tables;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::sql::lexer::{significant, tokenize, Token};

impl Session {
    /// Assignments whose value is an expression (`SET @b = @a + 1`, `SET @t =
    /// NOW()`, `SET sql_mode = CONCAT(@@sql_mode, ...)`) run once, on a
    /// connection in the session's current state, and are kept as the literal
    /// values they gave (`vars::needs_evaluation`): replayed later on another
    /// connection, or after a variable they read changed, they would give
    /// another value. Literal assignments are kept as written. An error is
    /// MariaDB's own.
    pub(super) async fn evaluate(
        &mut self,
        assignments: &[(String, String)],
    ) -> Result<Vec<(String, String)>, ProxyError> {
        let todo: Vec<usize> = (0..assignments.len())
            .filter(|&i| vars::needs_evaluation(&assignments[i].0, &assignments[i].1))
            .collect();
        if todo.is_empty() {
            return Ok(assignments.to_vec());
        }
        let snap = self.snapshot();
        let mut assignments = std::borrow::Cow::Borrowed(assignments);
        // A value read from tables (`SET @n = (SELECT COUNT(*) FROM t)`) is
        // computed on the one set holding them, outside any transaction (whose
        // own writes it would not see); over several sets, a user variable's
        // `(SELECT ...)` is read first through the executor (in the transaction,
        // `into_vars`); other values are refused.
        let tables: Vec<_> = assignments
            .iter()
            .map(|(_, t)| t.as_str())
            .flat_map(|t| {
                tokenize(t)
                    .map(|tok| lexed_tables(t, &significant(&tok)))
                    .unwrap_or_default()
            })
            .collect();
        let set = if tables.is_empty() {
            crate::show::any_set_of(&snap, self.db.as_deref())?
        } else {
            let one =
                crate::route::plan::single_set_for_tables(&snap, self.db.as_deref(), &tables)?;
            match one {
                Some(set) if self.txn.is_none() => set,
                // Each value's rows read first (`into_vars`), then any set.
                None => match self.materialized_values(&snap, &assignments).await? {
                    Some(values) => {
                        assignments = std::borrow::Cow::Owned(values);
                        crate::show::any_set_of(&snap, self.db.as_deref())?
                    }
                    None => {
                        return Err(ProxyError::NotSupported(
                            "SET from an expression over tables on several sets other than one (SELECT ...) per variable".into(),
                        ))
                    }
                },
                _ => {
                    return Err(ProxyError::NotSupported(
                        "SET from a query over tables on several sets or inside a transaction (use SELECT ... INTO @v)".into(),
                    ))
                }
            }
        };
        let texts: Vec<&str> = assignments.iter().map(|(_, t)| t.as_str()).collect();
        let mut conn = self.conns(&snap).pooled(&set).await?;
        let r = conn.query_drop(format!("SET {}", texts.join(", "))).await;
        if let Err(e) = r {
            // MariaDB's error stays in the diagnostics area (`SHOW WARNINGS`).
            let kept = crate::exec::txn::diag::Kept::default();
            crate::exec::txn::diag::stash(&mut conn, &kept).await;
            let rows = kept.lock().map(|mut k| std::mem::take(&mut k.rows));
            self.clear_diagnostics();
            self.diag_rows = rows.unwrap_or_default();
            crate::exec::discard(conn);
            return Err(ProxyError::from_backend(&set, e));
        }
        let vars: Vec<crate::exec::uservars::Var> = todo
            .iter()
            .map(|&i| {
                let key = &assignments[i].0;
                match key.strip_prefix('@') {
                    Some(name) => {
                        let v = format!("@`{}`", name.replace('`', "``"));
                        crate::exec::uservars::Var {
                            key: key.clone(),
                            target: v.clone(),
                            read: v,
                        }
                    }
                    None => crate::exec::uservars::Var {
                        key: key.clone(),
                        target: format!("@@session.{key}"),
                        read: format!("@@session.{key}"),
                    },
                }
            })
            .collect();
        let values = crate::exec::uservars::read_values(&mut conn, &set, &vars).await;
        // Its state is no longer its pool's.
        crate::exec::discard(conn);
        let mut out = assignments.to_vec();
        // A value that cannot be read back is replayed as written.
        if let Ok(values) = values {
            for (&i, (_, text)) in todo.iter().zip(values) {
                out[i].1 = text;
            }
        }
        Ok(out)
    }

    /// `SET`: autocommit is the session's own; everything else is session state
    /// carried to the backends — validated by opening a backend connection with
    /// it, so a bad variable or value gets MariaDB's own error.
    pub(super) async fn set(
        &mut self,
        sql: &str,
        sig: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        if sig.get(1).is_some_and(|t| t.is_word(sql, "STATEMENT")) {
            return self.set_statement(sql, sig, out).await;
        }
        if let Some(r) = self.set_read_from(sql, sig) {
            return self.reply(r, out).await;
        }
        match charset::portable_set(sql, self.codec, self.backslash_escapes()) {
            Ok(Some(text)) => return Box::pin(self.statement_run(&text, out)).await,
            Ok(None) => {}
            Err(e) => return fail(out, &e).await,
        }
        let req = match parse_set(sql, sig) {
            Ok(r) => r,
            Err(e) => return fail(out, &e).await,
        };
        let r = match req {
            SetRequest::Autocommit(on) => self.set_autocommit(on).await,
            // As in MariaDB, only between transactions.
            SetRequest::NextTransaction(_) if self.txn.is_some() => Err(ProxyError::Backend {
                code: 1568,
                state: "25001".into(),
                message: "Transaction characteristics can't be changed while a transaction is in progress".into(),
            }),
            SetRequest::NextTransaction(text) => {
                self.next_txn.push(text);
                Ok(())
            }
            SetRequest::Vars(assignments) => self.set_vars(&assignments).await,
            SetRequest::Both(on, assignments) => match self.set_vars(&assignments).await {
                Ok(()) => self.set_autocommit(on).await,
                Err(e) => Err(e),
            },
        };
        self.reply(r, out).await
    }

    /// `SET autocommit`: the session's own (an open transaction commits when it
    /// is turned on); backends see it too, so `SELECT @@autocommit` answers as
    /// MariaDB would.
    pub(super) async fn set_autocommit(&mut self, on: bool) -> Result<(), ProxyError> {
        let r = if on && !self.autocommit {
            self.end_txn("COMMIT").await
        } else {
            Ok(())
        };
        self.autocommit = on;
        if on {
            self.vars.remove("autocommit");
        } else {
            self.vars
                .apply(&[("autocommit".into(), "autocommit = 0".into())]);
        }
        // The session's own connections (a named lock, LOCK TABLES) too: one
        // left with autocommit off would keep the session's later writes
        // uncommitted.
        if !self.pins.is_empty() {
            let set = format!("SET autocommit = {}", u8::from(on));
            let applied = self.pins.apply(&set).await;
            return r.and(applied);
        }
        r
    }

    pub(super) async fn set_vars(
        &mut self,
        assignments: &[(String, String)],
    ) -> Result<(), ProxyError> {
        let evaluated = self.evaluate(assignments).await?;
        // wait_timeout and interactive_timeout are the gateway's own (limits.rs).
        let evaluated = self.limits.take_own(&evaluated)?;
        // LAST_INSERT_ID, identity and insert_id are the session's (ids.rs).
        let evaluated = self.take_id_vars(evaluated)?;
        if evaluated.is_empty() {
            return Ok(());
        }
        let assignments = evaluated.as_slice();
        let mut next = self.vars.clone();
        charset::superseded(assignments)
            .iter()
            .for_each(|k| next.remove(k));
        next.apply(assignments);
        let snap = self.snapshot();
        let set = crate::show::any_set_of(&snap, self.db.as_deref())?;
        let mut codec = self.codec;
        {
            let mut conns = self.conns(&snap);
            conns.init = next.init();
            // Opening (or reusing) a connection with the new state validates it.
            let mut conn = conns.pooled(&set).await?;
            if charset::changes_client_charset(assignments) {
                codec = charset::client_codec(&mut conn, &set).await?;
            }
        }
        if let Some(t) = self.txn.as_mut() {
            for (_, text) in assignments {
                t.on_all_stateful(&format!("SET {text}")).await?;
            }
        }
        if !self.pins.is_empty() {
            for (_, text) in assignments {
                self.pins.apply(&format!("SET {text}")).await?;
            }
        }
        self.vars = next;
        self.codec = codec;
        Ok(())
    }
}
