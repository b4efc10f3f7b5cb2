//! From a statement's text to its plan: parse (or plan from an equivalent text
//! sqlparser can read), plan, and plan again with the table's columns when the
//! planner needs them (an INSERT without a column list), or with the weights of a
//! text shard key's collation when it needs them. Used by the dispatch
//! and by EXPLAIN, so both see the same plan. A text sqlparser cannot read runs
//! where it can ([`Session::unparsed`]).

use super::text::planning_text;
use super::{fail, Session};
use crate::command::Statement;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;
use crate::route::plan::{plan_statement_with, single_set_for_tables};
use crate::route::{Merge, Plan, Target};
use crate::sql::parse_one;

/// What planning a text gave.
pub(super) enum Planning {
    Planned(crate::route::plan::Planned),
    /// sqlparser cannot read the text (its message).
    Unparsed(String),
}

impl Session {
    pub(super) async fn plan_sql(
        &mut self,
        snap: &topo::ClusterSnapshot,
        stmt: &Statement<'_>,
    ) -> Result<Planning, ProxyError> {
        let (sql, tokens) = (stmt.sql, &stmt.tokens[..]);
        // MariaDB syntax sqlparser lacks is planned from an equivalent text; the
        // client's own text is what runs.
        let stmt = match parse_one(sql) {
            Ok(s) => s,
            Err(msg) => match planning_text(stmt).and_then(|t| parse_one(&t).ok()) {
                Some(s) => s,
                None => return Ok(Planning::Unparsed(msg)),
            },
        };
        // A planner asking for a table's columns (an INSERT's target, the tables
        // of a cross-set join) gets them and plans again.
        let db = self.db.clone();
        let mut cols: Option<std::sync::Arc<Vec<String>>> = None;
        let mut known: Vec<crate::route::plan::KnownTable> = Vec::new();
        // Collations whose weights were loaded for this statement (a few at most).
        let mut weighed: Vec<u16> = Vec::new();
        loop {
            let r = plan_statement_with(
                snap,
                db.as_deref(),
                sql,
                tokens,
                &stmt,
                cols.as_deref().map(Vec::as_slice),
                &known,
                &crate::join::CrossSetPlanner,
            );
            match r {
                Err(ProxyError::NeedColumns { db: tdb, table }) if known.len() < 8 => {
                    let c = self.table_columns(snap, &tdb, &table).await?;
                    known.push(crate::route::plan::KnownTable {
                        db: tdb,
                        table,
                        columns: c.as_ref().clone(),
                    });
                    cols = Some(c);
                }
                Err(ProxyError::NeedWeights { collation, set })
                    if !weighed.contains(&collation) && weighed.len() < 4 =>
                {
                    weighed.push(collation);
                    let conns = self.conns(snap);
                    crate::exec::weights::ensure(&conns, collation, &set).await?;
                }
                r => return r.map(Planning::Planned),
            }
        }
    }

    /// A statement sqlparser cannot read runs whole on the one set holding every
    /// table it names; across sets it is refused.
    pub(super) fn unparsed_plan(
        &self,
        snap: &topo::ClusterSnapshot,
        stmt: &Statement<'_>,
        msg: &str,
    ) -> Result<Plan, ProxyError> {
        match single_set_for_tables(snap, self.db.as_deref(), &stmt.tables())? {
            Some(set) => Ok(Plan {
                target: Target::Sets(vec![set]),
                merge: Merge::Single,
            }),
            None => Err(ProxyError::NotSupported(format!(
                "a statement the gateway cannot parse on data spread over several sets ({msg})"
            ))),
        }
    }

    /// A statement sqlparser cannot parse: forwarded when everything the session
    /// can reach lives on one set, refused otherwise — with MariaDB's own syntax
    /// error when MariaDB cannot parse it either.
    pub(super) async fn unparsed(
        &mut self,
        stmt: &Statement<'_>,
        msg: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        let snap = self.snapshot();
        match self.unparsed_plan(&snap, stmt, msg) {
            Ok(plan) => {
                self.run_plan(&snap, &plan, stmt.sql, stmt.word(0), out)
                    .await
            }
            Err(e) => {
                let e = self.syntax_error(&snap, stmt.sql).await.unwrap_or(e);
                fail(out, &e).await
            }
        }
    }

    /// MariaDB's parse error (1064) for `sql`, prepared — not run — on one set;
    /// `None` when MariaDB parses it (or cannot be asked).
    async fn syntax_error(&self, snap: &topo::ClusterSnapshot, sql: &str) -> Option<ProxyError> {
        use mysql_async::prelude::Queryable;
        const PARSE_ERROR: u16 = 1064;
        let home = self.db.as_deref().and_then(|d| snap.db(d));
        let set = match home {
            Some(rec) => rec.home_set.clone(),
            None => snap.sets.keys().next()?.clone(),
        };
        let mut conn = self.conns(snap).pooled(&set).await.ok()?;
        let error = match conn.prep(&self.codec.wire(sql)[..]).await {
            Err(mysql_async::Error::Server(e)) if e.code == PARSE_ERROR => {
                Some(ProxyError::Backend {
                    code: e.code,
                    state: e.state,
                    message: e.message,
                })
            }
            // Parsed: not kept among the connection's cached statements.
            Ok(stmt) => {
                let _ = conn.close(stmt).await;
                None
            }
            Err(_) => None,
        };
        if error.is_some() {
            // The connection's diagnostics area holds the error: cleared before
            // another session borrows it.
            if conn
                .query_drop(crate::exec::CLEAR_DIAGNOSTICS)
                .await
                .is_err()
            {
                crate::exec::discard(conn);
                return error;
            }
        }
        crate::exec::release(conn);
        error
    }
}
