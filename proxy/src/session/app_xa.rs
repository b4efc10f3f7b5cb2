//! The application's own XA transactions (`XA START ... XA END ... XA PREPARE ...
//! XA COMMIT`), as one MariaDB runs them, over any number of sets.
//!
//! `XA START xid` opens the session's transaction as usual (a branch per set it
//! touches, gtrid `swc-...`); `XA END` makes it idle; `XA PREPARE` records the
//! xid with its branches in etcd (`topo::AppXaRecord`, created once: XAER_DUPID)
//! and prepares every branch. A prepared transaction outlives the session: its
//! branches stay prepared on the sets, `XA RECOVER` (from any gateway) lists it
//! from etcd, and `XA COMMIT xid` / `XA ROLLBACK xid` from any session finish it
//! — on the session's own connections when it prepared it, else on fresh ones.
//! A commit over several sets records its decision first (`topo::XaDecision`),
//! so gateway recovery (`crate::xa`) finishes it if the gateway dies midway;
//! recovery never aborts the branches of a recorded prepared transaction.
//! `XA COMMIT xid ONE PHASE` from the idle state is the session's usual commit.
//! States and errors follow MariaDB: XAER_RMFAIL (1399) for a statement not
//! allowed in the ACTIVE / IDLE / PREPARED state, XAER_NOTA (1397), XAER_OUTSIDE
//! (1400), XAER_DUPID (1440).

use mysql_async::prelude::Queryable;
use mysql_common::constants::{ColumnFlags, ColumnType};

use super::{fail, ok, Session};
use crate::error::ProxyError;
use crate::exec::txn::Txn;
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::sql::lexer::Token;
use crate::sql::xa::{parse, XaCommand, Xid};

/// The session's application XA transaction.
pub(super) struct AppXa {
    xid: Xid,
    state: XaState,
}

pub(super) enum XaState {
    /// Statements run in it (the session's `txn`).
    Active,
    /// After `XA END`: only PREPARE, COMMIT ONE PHASE or ROLLBACK.
    Idle,
    /// After `XA PREPARE`: its branches, prepared, on this session's connections.
    Prepared(Box<Txn>),
}

impl XaState {
    fn name(&self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Idle => "IDLE",
            Self::Prepared(_) => "PREPARED",
        }
    }
}

impl Session {
    /// What MariaDB refuses while an XA transaction is open: transaction control
    /// and implicit commits, and in IDLE / PREPARED any write.
    pub(super) fn xa_gate(&self, first: &str, second: &str) -> Option<ProxyError> {
        let x = self.app_xa.as_ref()?;
        let control = match first {
            "BEGIN" | "COMMIT" | "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME" | "LOCK"
            | "UNLOCK" | "FLUSH" => true,
            "START" => second == "TRANSACTION",
            "ROLLBACK" => second != "TO",
            _ => false,
        };
        let write = matches!(
            first,
            "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD" | "CALL" | "SAVEPOINT"
        );
        match x.state {
            XaState::Active if control => Some(ProxyError::XaState("ACTIVE")),
            XaState::Idle | XaState::Prepared(_) if control || write => {
                Some(ProxyError::XaState(x.state.name()))
            }
            _ => None,
        }
    }

    /// The session ends (or is reset): a prepared transaction is left to the
    /// sets and etcd; an active or idle one rolls back with the session's.
    pub(super) fn xa_end_session(&mut self) {
        if let Some(AppXa {
            state: XaState::Prepared(t),
            ..
        }) = self.app_xa.take()
        {
            t.detach();
        }
    }

    /// `XA ...` from the application.
    pub(super) async fn xa_statement(
        &mut self,
        sql: &str,
        sig: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        let Some(cmd) = parse(sql, sig) else {
            let e = ProxyError::NotSupported(
                "this XA statement through the gateway (XA START/BEGIN, END, PREPARE, COMMIT [ONE PHASE], ROLLBACK with an xid, XA RECOVER)".into(),
            );
            return fail(out, &e).await;
        };
        let r = match cmd {
            XaCommand::Recover => return self.xa_recover(out).await,
            XaCommand::Start(xid) => self.xa_start(xid).await,
            XaCommand::End(xid) => self.xa_end(&xid),
            XaCommand::Prepare(xid) => self.xa_prepare(&xid).await,
            XaCommand::Commit { xid, one_phase } => self.xa_finish(&xid, true, one_phase).await,
            XaCommand::Rollback(xid) => self.xa_finish(&xid, false, false).await,
        };
        match r {
            Ok(()) => ok(out, self.status()).await,
            Err(e) => fail(out, &e).await,
        }
    }

    async fn xa_start(&mut self, xid: Xid) -> Result<(), ProxyError> {
        if let Some(x) = &self.app_xa {
            return Err(ProxyError::XaState(x.state.name()));
        }
        if self.txn.as_ref().is_some_and(|t| !t.sets().is_empty()) {
            return Err(ProxyError::XaOutside);
        }
        if let Some(topo) = self.shared.topo.get() {
            if let Ok(Some(_)) = topo.get_app_xa(&xid.key()).await {
                return Err(ProxyError::XaDuplicate);
            }
        }
        // A transaction opened by autocommit=0 that ran nothing yet is replaced.
        let _ = self.end_txn("ROLLBACK").await;
        let n = self
            .shared
            .txn_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let gtrid = format!("swc-{}-{n}", self.shared.gateway_id);
        let before = std::mem::take(&mut self.next_txn);
        self.txn = Some(Txn::new(gtrid, before, self.pins.clone()));
        self.app_xa = Some(AppXa {
            xid,
            state: XaState::Active,
        });
        Ok(())
    }

    fn xa_end(&mut self, xid: &Xid) -> Result<(), ProxyError> {
        let Some(x) = self.app_xa.as_mut() else {
            return Err(ProxyError::XaState("NON-EXISTING"));
        };
        match x.state {
            XaState::Active if &x.xid == xid => {
                x.state = XaState::Idle;
                Ok(())
            }
            XaState::Active => Err(ProxyError::XaUnknown),
            ref s => Err(ProxyError::XaState(s.name())),
        }
    }

    async fn xa_prepare(&mut self, xid: &Xid) -> Result<(), ProxyError> {
        match self.app_xa.as_ref().map(|x| (&x.state, &x.xid == xid)) {
            None => return Err(ProxyError::XaState("NON-EXISTING")),
            Some((XaState::Idle, true)) => {}
            Some((XaState::Idle, false)) => return Err(ProxyError::XaUnknown),
            Some((s, _)) => return Err(ProxyError::XaState(s.name())),
        }
        let txn = self.txn.take().expect("an idle XA transaction has its txn");
        // A slot move's hold ended it, or waits for its XA COMMIT from now on.
        if let Some(Err(move_id)) = txn.moving.as_ref().map(|m| m.begin_commit()) {
            self.app_xa = None;
            let _ = txn.rollback().await;
            return Err(ProxyError::MoveAborted(move_id));
        }
        let record = topo::AppXaRecord {
            xid: xid.key(),
            gtrid: txn.gtrid.clone(),
            sets: txn.sets(),
            at_ms: now_ms(),
        };
        let Some(topo) = self.shared.topo.get().cloned() else {
            self.app_xa = None;
            let _ = txn.rollback().await;
            return Err(ProxyError::EtcdUnavailable(
                "XA PREPARE records the transaction there; it was rolled back".into(),
            ));
        };
        match topo.create_app_xa(&record).await {
            Ok(true) => {}
            Ok(false) => {
                self.app_xa = None;
                let _ = txn.rollback().await;
                return Err(ProxyError::XaDuplicate);
            }
            Err(e) => {
                self.app_xa = None;
                let _ = txn.rollback().await;
                return Err(ProxyError::from_topo("XA PREPARE", e));
            }
        }
        match txn.prepare_all().await {
            Ok(t) => {
                if let Some(x) = self.app_xa.as_mut() {
                    x.state = XaState::Prepared(Box::new(t));
                }
                Ok(())
            }
            Err(e) => {
                self.app_xa = None;
                let _ = topo.delete_app_xa(&record.xid).await;
                Err(e)
            }
        }
    }

    /// `XA COMMIT` (`commit`) or `XA ROLLBACK`.
    async fn xa_finish(
        &mut self,
        xid: &Xid,
        commit: bool,
        one_phase: bool,
    ) -> Result<(), ProxyError> {
        match self.app_xa.take() {
            Some(AppXa {
                xid: own,
                state: XaState::Idle,
            }) if &own == xid && (one_phase || !commit) => {
                self.end_txn(if commit { "COMMIT" } else { "ROLLBACK" })
                    .await
            }
            Some(AppXa {
                xid: own,
                state: XaState::Prepared(t),
            }) if &own == xid && !one_phase => {
                let gtrid = t.gtrid.clone();
                let sets = t.sets();
                self.decide(&gtrid, &sets, commit).await?;
                let r = t.finish_prepared(commit).await;
                self.forget_prepared(&xid.key(), &gtrid, r.is_ok()).await;
                r
            }
            Some(AppXa {
                xid: own,
                state: XaState::Prepared(t),
            }) if &own != xid || one_phase => {
                let e = if one_phase && &own == xid {
                    ProxyError::XaInvalid
                } else {
                    ProxyError::XaOutside
                };
                self.app_xa = Some(AppXa {
                    xid: own,
                    state: XaState::Prepared(t),
                });
                Err(e)
            }
            Some(x) => {
                let e = ProxyError::XaState(x.state.name());
                self.app_xa = Some(x);
                Err(e)
            }
            None if self.txn.as_ref().is_some_and(|t| !t.sets().is_empty()) => {
                Err(ProxyError::XaOutside)
            }
            None => self.finish_elsewhere(xid, commit).await,
        }
    }

    /// Finishes a transaction another session (or gateway) prepared.
    async fn finish_elsewhere(&mut self, xid: &Xid, commit: bool) -> Result<(), ProxyError> {
        let Some(topo) = self.shared.topo.get().cloned() else {
            return Err(ProxyError::EtcdUnavailable(
                "prepared XA transactions are recorded there".into(),
            ));
        };
        let record = topo
            .get_app_xa(&xid.key())
            .await
            .map_err(|e| ProxyError::from_topo("XA COMMIT", e))?
            .ok_or(ProxyError::XaUnknown)?;
        self.decide(&record.gtrid, &record.sets, commit).await?;
        let snap = self.snapshot();
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        let mut finished = 0;
        for set in &record.sets {
            let mut conn = self.conns(&snap).pooled(set).await?;
            let x = crate::xa_sets::xid(&record.gtrid, set);
            match conn.query_drop(format!("XA {verb} {x}")).await {
                Ok(()) => finished += 1,
                Err(mysql_async::Error::Server(e)) if e.code == 1397 => {
                    // Still prepared there: held by the live session that
                    // prepared it, which alone may finish it (MariaDB's XAER_NOTA).
                    // Otherwise finished already (a retry, or recovery).
                    if prepared_on(&mut conn, &record.gtrid, set).await {
                        return Err(ProxyError::XaUnknown);
                    }
                }
                Err(e) => return Err(ProxyError::from_backend(set, e)),
            }
        }
        self.forget_prepared(&record.xid, &record.gtrid, true).await;
        if finished == 0 && !record.sets.is_empty() {
            // Nothing was left to finish: a stale record.
            return Err(ProxyError::XaUnknown);
        }
        Ok(())
    }

    /// Records the outcome of a prepared transaction over several sets before any
    /// branch finishes, so recovery completes it if this gateway dies midway.
    async fn decide(&self, gtrid: &str, sets: &[String], commit: bool) -> Result<(), ProxyError> {
        if sets.len() <= 1 {
            return Ok(());
        }
        let Some(topo) = self.shared.topo.get() else {
            return Err(ProxyError::EtcdUnavailable(
                "the outcome of a transaction over several sets is recorded there".into(),
            ));
        };
        let d = topo::XaDecision {
            gtrid: gtrid.to_string(),
            commit,
            sets: sets.to_vec(),
            at_ms: now_ms(),
        };
        match topo.decide_xa(&d).await {
            Ok(d) if d.commit == commit => Ok(()),
            Ok(_) => Err(ProxyError::Backend {
                code: 1402,
                state: "XA100".into(),
                message: "XA_RBROLLBACK: Transaction branch was rolled back".into(),
            }),
            Err(e) => Err(ProxyError::from_topo("recording the XA outcome", e)),
        }
    }

    /// A prepared transaction is finished: its records go (kept when a branch
    /// could not finish, so it can be retried).
    async fn forget_prepared(&self, key: &str, gtrid: &str, done: bool) {
        if !done {
            return;
        }
        if let Some(topo) = self.shared.topo.get() {
            let _ = topo.delete_app_xa(key).await;
            let _ = topo.delete_xa(gtrid).await;
        }
    }

    /// `XA RECOVER`: the prepared transactions recorded in etcd, as MariaDB lists
    /// its own.
    async fn xa_recover(&mut self, out: &mut Responder<'_>) -> Answered {
        let Some(topo) = self.shared.topo.get().cloned() else {
            let e =
                ProxyError::EtcdUnavailable("prepared XA transactions are recorded there".into());
            return fail(out, &e).await;
        };
        let records = match topo.list_app_xas().await {
            Ok(r) => r,
            Err(e) => return fail(out, &ProxyError::from_topo("XA RECOVER", e)).await,
        };
        let col = |name: &str, ty: ColumnType, len: u32| {
            mysql_async::Column::new(ty)
                .with_name(name.as_bytes())
                .with_org_name(name.as_bytes())
                .with_column_length(len)
                .with_character_set(63)
                .with_flags(ColumnFlags::NOT_NULL_FLAG | ColumnFlags::BINARY_FLAG)
        };
        let cols = [
            col("formatID", ColumnType::MYSQL_TYPE_LONGLONG, 11),
            col("gtrid_length", ColumnType::MYSQL_TYPE_LONGLONG, 11),
            col("bqual_length", ColumnType::MYSQL_TYPE_LONGLONG, 11),
            col("data", ColumnType::MYSQL_TYPE_VAR_STRING, 128),
        ];
        out.status = self.status();
        out.columns(&cols).await?;
        for xid in records.iter().filter_map(|r| Xid::from_key(&r.xid)) {
            let format = xid.format.to_string();
            let glen = xid.gtrid.len().to_string();
            let blen = xid.bqual.len().to_string();
            let data: Vec<u8> = [xid.gtrid.as_slice(), xid.bqual.as_slice()].concat();
            out.text_row([
                Some(format.as_bytes()),
                Some(glen.as_bytes()),
                Some(blen.as_bytes()),
                Some(data.as_slice()),
            ])
            .await?;
        }
        out.end_rows(0).await?;
        Ok(true)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether the branch `'gtrid','set'` is prepared on `conn`'s server.
async fn prepared_on(conn: &mut crate::backend::Conn, gtrid: &str, set: &str) -> bool {
    let rows: Vec<(i64, i64, i64, Vec<u8>)> = match conn.query("XA RECOVER").await {
        Ok(r) => r,
        Err(_) => return true,
    };
    let want: Vec<u8> = [gtrid.as_bytes(), set.as_bytes()].concat();
    rows.iter()
        .any(|(_, glen, _, data)| *glen as usize == gtrid.len() && data == &want)
}
