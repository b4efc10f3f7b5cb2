//! Executing a plan: in the open transaction, as an atomic multi-set write (one
//! XA transaction of its own), or plainly; replica reads and GTID tracking
//! around it.

use super::{fail, Session};
use crate::command::is_write;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::route::{Merge, Plan, Target};

impl Session {
    /// Executes a plan: in the open transaction, as an atomic multi-set write, or
    /// plainly.
    pub(super) async fn run_plan(
        &mut self,
        snap: &topo::ClusterSnapshot,
        plan: &Plan,
        sql: &str,
        first: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        let write = is_write(first);
        self.note_plan_sets(plan);
        // Only sessions that asked for replica reads look further (no
        // allocation on every other read).
        let reads = if write || !self.split.wants_replica(self.user_reads(snap)) {
            None
        } else {
            // Boxed: kept out of every statement's future (nested statements
            // would grow the stack).
            Box::pin(self.replica_reads(snap, plan, sql)).await
        };
        let track_gtid = write && self.tracks_gtids(snap);
        // Never pipelined while the session holds table locks (locks.rs).
        let fast = std::mem::take(&mut self.fast_next)
            && self.last_id_probe.is_none()
            && self.autocommit
            && reads.is_none()
            && !self.is_locked()
            && !out.rewrites_columns();
        let stateful = self.effects_next.stateful;
        let capture = std::mem::take(&mut self.effects_next.assigns);
        let pin = std::mem::take(&mut self.effects_next.pins);
        if !capture.is_empty() && plan.set_count() > 1 {
            let e = ProxyError::NotSupported(
                "assigning user variables (@v := ..., INTO @v) in a statement that runs on several sets: each set would assign its own value".into(),
            );
            // `SELECT ... INTO @v`: its rows read first (`into_vars`).
            let stmt = crate::command::Statement::new(
                sql,
                crate::sql::lexer::tokenize(sql).unwrap_or_default(),
            );
            if let Some(span) = super::into_vars::into_vars(sql, &stmt.sig) {
                return Box::pin(self.select_into(&stmt, span, e, out)).await;
            }
            return fail(out, &e).await;
        }
        let last_id = self.last_id_probe.take();
        let one_set =
            matches!((&plan.target, &plan.merge), (Target::Sets(s), Merge::Single) if s.len() == 1);
        if last_id.is_some() && !one_set {
            return fail(
                out,
                &ProxyError::NotSupported(
                    "LAST_INSERT_ID(expr) in a statement that does not run on one set: the value MariaDB sets is the last row's it evaluates".into(),
                ),
            )
            .await;
        }
        if write && self.txn.is_none() && plan.writes_several_sets() {
            return self.atomic_write(snap, plan, sql, out).await;
        }
        let calc_found = match self.found_plan(plan) {
            Ok(c) => c,
            Err(e) => return fail(out, &e).await,
        };
        out.status = self.status();
        let prepared = self.prepared.take();
        // A prepared statement merged across sets: its per-set text with `?`.
        let merged_q = match (&prepared, &plan.target, &plan.merge) {
            (Some((text, values)), Target::Sets(sets), Merge::Merged(spec))
                if self.shared.backends.config().prepared_merges =>
            {
                let db = self.db.as_deref();
                (self.shared.plans.prepared).per_set_text(snap, db, text, sql, values, sets, spec)
            }
            _ => None,
        };
        let mut exec = self.exec(snap);
        exec.write = write;
        exec.fast = fast;
        exec.stateful = stateful;
        exec.capture = capture;
        exec.pin = pin;
        exec.reads = reads;
        exec.track_gtid = track_gtid;
        exec.calc_found = calc_found;
        exec.last_id = last_id;
        let answered = match (prepared, &plan.target, &plan.merge) {
            (Some((text, values)), Target::Sets(sets), Merge::Single) => {
                exec.single_prepared(&sets[0], &text, values, out).await
            }
            (Some((text, values)), Target::Sets(sets), Merge::Concat)
                if exec.at_once(sets) && exec.conns.backends.config().prepared_scatters =>
            {
                exec.concat_prepared(sets, &text, values, out).await
            }
            (Some((_, values)), Target::Sets(sets), Merge::Merged(spec)) if merged_q.is_some() => {
                let q = merged_q.as_deref().unwrap_or_default();
                exec.merged_prepared(sets, spec, q, values, out).await
            }
            (prepared, _, _) => {
                // Planned from the text with the values written in: items
                // holding `?` are named as MariaDB names them.
                if out.names.is_none() {
                    out.names =
                        prepared.and_then(|(text, _)| crate::sql::item_names::ItemNames::of(&text));
                }
                let r = crate::join::run::run_plan(&mut exec, plan, sql, out).await;
                out.names = None;
                r
            }
        };
        let diag = std::mem::take(&mut exec.diagnostics);
        let diag_rows = std::mem::take(&mut exec.diag_rows);
        let captured = std::mem::take(&mut exec.captured);
        let last_id_read = exec.last_id_read.take();
        let gtids = std::mem::take(&mut exec.gtids);
        let calc_found = exec.calc_found.take();
        if !(std::mem::take(&mut self.diag_keep) && diag.is_empty() && diag_rows.is_empty()) {
            // (A statement using no table that raised nothing keeps the area.)
            self.clear_diagnostics();
            self.diag = diag;
            self.diag_rows = diag_rows;
        }
        self.found_ran(calc_found);
        self.last_id_read = last_id_read;
        if write {
            self.note_write(plan, &gtids);
        }
        if !captured.is_empty() {
            self.vars.apply(&captured);
            // The session's other own connections (pinned, or branches of its
            // transaction, on other sets) keep the value they had: give them
            // the new one, as a `SET` would.
            if !self.pins.is_empty() || self.txn.is_some() {
                let texts: Vec<&str> = captured.iter().map(|(_, t)| t.as_str()).collect();
                let set = format!("SET {}", texts.join(", "));
                if let Some(t) = self.txn.as_mut() {
                    let _ = t.on_all_stateful(&set).await;
                }
                let _ = self.pins.apply(&set).await;
            }
        }
        if self.txn.as_ref().is_some_and(|t| t.doomed) {
            // As in MariaDB, a deadlock ends the transaction: roll back every set.
            let _ = self.end_txn("ROLLBACK").await;
        } else if self.txn.as_ref().is_some_and(|t| t.broken.is_some()) {
            // A set's branch was lost: the others free their locks now.
            self.release_ended().await;
        }
        answered
    }

    /// An autocommit write on several sets runs as one (XA) transaction, so it
    /// applies everywhere or nowhere.
    pub(super) async fn atomic_write(
        &mut self,
        snap: &topo::ClusterSnapshot,
        plan: &Plan,
        sql: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.open_txn();
        let (answered, ok) = {
            let stateful = self.effects_next.stateful;
            let mut exec = self.exec(snap);
            exec.held = Some(None);
            exec.stateful = stateful;
            let a = crate::join::run::run_plan(&mut exec, plan, sql, out).await;
            (a, exec.held.flatten())
        };
        match (answered?, ok) {
            (true, Some(ok)) => match self.end_txn("COMMIT").await {
                Ok(()) => {
                    out.status = self.status();
                    out.ok(&ok).await?;
                    Ok(true)
                }
                Err(e) => fail(out, &e).await,
            },
            (true, None) => {
                let _ = self.end_txn("ROLLBACK").await;
                fail(
                    out,
                    &ProxyError::Internal("a multi-set write gave no result".into()),
                )
                .await
            }
            (false, _) => {
                // The error was sent; undo what the other sets did.
                let _ = self.end_txn("ROLLBACK").await;
                Ok(false)
            }
        }
    }
}
