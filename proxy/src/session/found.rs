//! `FOUND_ROWS()` answered by the session, as one MariaDB connection answers
//! it — not whatever the pooled connection that runs the asking statement did
//! last: the rows the session's last result set had, or with
//! `SQL_CALC_FOUND_ROWS` the rows it would have had without its LIMIT (each
//! set's own `FOUND_ROWS()` summed, `crate::exec::found`). Statements without
//! a result set leave it as it was.

use super::text::rewrite_keeping_names;
use super::Session;
use crate::command::{Command, Statement};
use crate::error::ProxyError;
use crate::exec::CalcFound;
use crate::front::Responder;
use crate::route::{Merge, Plan, Target};

/// The session's `FOUND_ROWS()` and the statement being run's count.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// What `FOUND_ROWS()` answers; `None`: a set's count was lost.
    value: Option<u64>,
    /// How the statement being run counts.
    calc_next: Calc,
    /// Its sets' counts, once its plan ran.
    calc: Option<CalcFound>,
    /// Times `value` was set (a statement run inside another — a held
    /// `EXECUTE` — sets it for both).
    noted: u64,
}

/// How a statement's `FOUND_ROWS()` is known.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Calc {
    /// The rows of its result set, counted by the gateway.
    #[default]
    Rows,
    /// `SQL_CALC_FOUND_ROWS`: each set's count, summed.
    Sets,
    /// `EXECUTE` / `CALL` on one set: what that connection says (the
    /// statement's text does not show what it runs).
    OneSet,
}

/// Result sets and rows a responder had sent when a statement started.
#[derive(Debug, Clone, Copy)]
pub(super) struct FoundMark {
    results: u64,
    rows: u64,
    noted: u64,
}

impl Found {
    pub fn new() -> Self {
        Self {
            value: Some(0),
            ..Default::default()
        }
    }
}

impl Session {
    /// A statement starts: where the responder stands, and whether it counts
    /// its rows without LIMIT.
    pub(super) fn found_start(&mut self, stmt: &Statement<'_>, out: &Responder<'_>) -> FoundMark {
        self.found.calc_next = if stmt
            .sig
            .iter()
            .any(|t| t.is_word(stmt.sql, "SQL_CALC_FOUND_ROWS"))
        {
            Calc::Sets
        } else if matches!(stmt.word(0), "EXECUTE" | "CALL") {
            Calc::OneSet
        } else {
            Calc::Rows
        };
        self.found.calc = None;
        FoundMark {
            results: out.results_sent(),
            rows: out.rows_sent(),
            noted: self.found.noted,
        }
    }

    /// `sql` with each `FOUND_ROWS()` replaced by the session's value, typed as
    /// MariaDB types the call (`COALESCE(n, FOUND_ROWS())`: BIGINT(21) NOT
    /// NULL) and keeping its column name; `None` when it calls none.
    pub(super) fn found_rows_text(
        &self,
        stmt: &Statement<'_>,
    ) -> Result<Option<String>, ProxyError> {
        let (sql, sig) = (stmt.sql, &stmt.sig[..]);
        let calls = super::counts::calls_of(stmt, "FOUND_ROWS");
        if calls.is_empty() {
            return Ok(None);
        }
        let n = self.found.value.ok_or_else(|| {
            ProxyError::Internal(
                "FOUND_ROWS(): a set's count of the previous SQL_CALC_FOUND_ROWS statement was lost"
                    .into(),
            )
        })?;
        let edits = calls
            .into_iter()
            .map(|(s, e)| (s, e, format!("COALESCE({n}, FOUND_ROWS())")))
            .collect();
        Ok(Some(rewrite_keeping_names(sql, sig, edits)))
    }

    /// Before a plan runs: the sets' counts it must read
    /// (`SQL_CALC_FOUND_ROWS`), or its refusal where the counts do not add up
    /// to MariaDB's (groups, distinct rows, a join or union merged by the
    /// gateway).
    pub(super) fn found_plan(&mut self, plan: &Plan) -> Result<Option<CalcFound>, ProxyError> {
        match std::mem::take(&mut self.found.calc_next) {
            Calc::Rows => return Ok(None),
            Calc::OneSet => {
                let one = matches!(
                    (&plan.target, &plan.merge),
                    (Target::Sets(s), Merge::Single) if s.len() == 1
                );
                return Ok(one.then(CalcFound::default));
            }
            Calc::Sets => {}
        }
        let summable = match (&plan.target, &plan.merge) {
            (Target::Sets(_), Merge::Single | Merge::Concat) => true,
            (Target::Sets(_), Merge::Merged(spec)) => {
                spec.group.is_none()
                    && spec.pre_group.is_none()
                    && !spec.one_row
                    && spec.having.is_none()
                    && spec.columns_sql.is_none()
            }
            _ => false,
        };
        if !summable {
            return Err(ProxyError::NotSupported(
                "SQL_CALC_FOUND_ROWS with GROUP BY, DISTINCT, aggregates, a UNION or a join across sets"
                    .into(),
            ));
        }
        Ok(Some(CalcFound::default()))
    }

    /// After a plan ran: its sets' counts.
    pub(super) fn found_ran(&mut self, calc: Option<CalcFound>) {
        if calc.is_some() {
            self.found.calc = calc;
        }
    }

    /// After a statement (`ok`: it succeeded): what `FOUND_ROWS()` answers
    /// next. Only a statement that sent a result set changes it.
    pub(super) fn note_found_rows(
        &mut self,
        stmt: &Statement<'_>,
        mark: FoundMark,
        out: &Responder<'_>,
        ok: bool,
    ) {
        let calc = self.found.calc.take();
        self.found.calc_next = Calc::Rows;
        if !ok
            || out.results_sent() == mark.results
            || stmt.command == Command::DiagnosticsRead
            || self.found.noted != mark.noted
        {
            return;
        }
        self.found.noted += 1;
        self.found.value = match calc {
            Some(c) if c.lost => None,
            Some(c) => Some(c.total),
            None => Some(out.rows_sent() - mark.rows),
        };
    }
}
