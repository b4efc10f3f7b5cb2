//! Running `EXPLAIN <statement>` and `EXPLAIN SETWISE <statement>` (see
//! [`crate::explain`]): the statement is planned exactly as it would be run, then
//! either MariaDB's EXPLAIN is asked of the sets of the plan, or the plan's steps
//! are shown.

use mysql_common::constants::{ColumnFlags, ColumnType};

use super::planning::Planning;
use super::{fail, Session};
use crate::command::Statement;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::explain::{per_set, steps, ExplainKind, ExplainRequest, Step};
use crate::front::{Handler, Responder};
use crate::route::Merge;

impl Session {
    pub(super) async fn explain(
        &mut self,
        sql: &str,
        req: ExplainRequest,
        out: &mut Responder<'_>,
    ) -> Answered {
        let inner = req.inner(sql);
        let stmt = match Statement::lex(inner) {
            Ok(s) => s,
            Err(e) => return fail(out, &e).await,
        };
        let snap = self.snapshot();
        let plan = match self.plan_sql(&snap, &stmt).await {
            Ok(Planning::Planned(p)) => p.plan,
            Ok(Planning::Unparsed(msg)) => match self.unparsed_plan(&snap, &stmt, &msg) {
                Ok(p) => p,
                Err(e) => return fail(out, &e).await,
            },
            Err(ProxyError::WriteLimitAcrossSets) if req.kind == ExplainKind::Gateway => {
                // Run by session/limited.rs, not as one plan.
                let rows = [
                    Step {
                        on: "every set of the table".into(),
                        action: "choose rows".into(),
                        detail: "the statement's ordered, limited SELECT of the table's primary (or unique NOT NULL) key, FOR UPDATE".into(),
                    },
                    Step {
                        on: "gateway".into(),
                        action: "merge sort".into(),
                        detail: "the chosen keys in the statement's order, cut at its LIMIT".into(),
                    },
                    Step {
                        on: "sets of the chosen rows".into(),
                        action: "write by key".into(),
                        detail: "the UPDATE/DELETE of exactly those rows, in one distributed transaction (the client's own when open)".into(),
                    },
                ];
                out.status = self.status();
                return show_steps(&rows, out).await;
            }
            Err(ProxyError::WriteLimitAcrossSets) => {
                let e = ProxyError::NotSupported(
                    "EXPLAIN of UPDATE/DELETE ... LIMIT on rows of several sets (EXPLAIN SETWISE shows how the gateway runs it)".into(),
                );
                return fail(out, &e).await;
            }
            Err(e) => return fail(out, &e).await,
        };
        match req.kind {
            ExplainKind::Gateway => {
                let two_phase = crate::command::is_write(stmt.word(0))
                    && self.txn.is_none()
                    && plan.writes_several_sets();
                let mut rows = steps(&plan, inner, two_phase);
                if let Err(e) = self.orphan_texts(&snap, &plan, &mut rows) {
                    return fail(out, &e).await;
                }
                out.status = self.status();
                show_steps(&rows, out).await
            }
            ExplainKind::Sets => {
                out.status = self.status();
                let mut exec = self.exec(&snap);
                exec.write = false;
                let parts = match &plan.merge {
                    // A join the gateway runs: MariaDB's EXPLAIN of each side's
                    // query on the sets it routes to.
                    Merge::Join(j) => {
                        let mut parts = Vec::new();
                        for q in j.side_queries() {
                            match crate::join::fetch::route(&exec, &q) {
                                Ok(sets) => parts.extend(
                                    sets.into_iter()
                                        .map(|s| (s, format!("{} {q}", req.prefix(sql)))),
                                ),
                                Err(e) => return fail(out, &e).await,
                            }
                        }
                        parts
                    }
                    _ => match per_set(&plan, inner, req.prefix(sql)) {
                        Ok(p) => p,
                        Err(e) => return fail(out, &e).await,
                    },
                };
                match parts.as_slice() {
                    [(set, text)] => exec.single(set, text, out).await,
                    _ => exec.concat_parts(&parts, out).await,
                }
            }
        }
    }
}

impl Session {
    /// While slots move: each set's text as the orphan filter leaves it
    /// ([`crate::explain::orphans`]); a join's side queries too.
    fn orphan_texts(
        &mut self,
        snap: &topo::ClusterSnapshot,
        plan: &crate::route::Plan,
        rows: &mut Vec<Step>,
    ) -> Result<(), ProxyError> {
        if snap.moving.is_empty() {
            return Ok(());
        }
        let db = self.db.clone();
        crate::explain::orphans::filter_sends(rows, snap, db.as_deref())?;
        if let Merge::Join(j) = &plan.merge {
            let mut exec = self.exec(snap);
            exec.write = false;
            let mut sends = Vec::new();
            for q in j.side_queries() {
                let sets = crate::join::fetch::route(&exec, &q)?;
                sends.extend(crate::explain::orphans::side_sends(
                    snap,
                    db.as_deref(),
                    &sets,
                    &q,
                )?);
            }
            rows.splice(0..0, sends);
        }
        Ok(())
    }
}

/// The columns of `EXPLAIN SETWISE`: `step`, `on`, `action`, `detail`.
pub(super) fn step_columns() -> Vec<mysql_async::Column> {
    let col = |name: &str, ty: ColumnType, len: u32, cs: u16, flags: ColumnFlags| {
        mysql_async::Column::new(ty)
            .with_name(name.as_bytes())
            .with_org_name(name.as_bytes())
            .with_column_length(len)
            .with_character_set(cs)
            .with_flags(flags)
    };
    let nn = ColumnFlags::NOT_NULL_FLAG;
    let num = nn | ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG | ColumnFlags::BINARY_FLAG;
    vec![
        col("step", ColumnType::MYSQL_TYPE_LONGLONG, 21, 63, num),
        col("on", ColumnType::MYSQL_TYPE_VAR_STRING, 256, 45, nn),
        col("action", ColumnType::MYSQL_TYPE_VAR_STRING, 256, 45, nn),
        col("detail", ColumnType::MYSQL_TYPE_BLOB, 1 << 24, 45, nn),
    ]
}

/// The rows of `EXPLAIN SETWISE`.
async fn show_steps(rows: &[crate::explain::Step], out: &mut Responder<'_>) -> Answered {
    out.columns(&step_columns()).await?;
    for (i, r) in rows.iter().enumerate() {
        let n = (i + 1).to_string();
        out.text_row([
            Some(n.as_bytes()),
            Some(r.on.as_bytes()),
            Some(r.action.as_bytes()),
            Some(r.detail.as_bytes()),
        ])
        .await?;
    }
    out.end_rows(0).await?;
    Ok(true)
}
