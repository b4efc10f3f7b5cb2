//! `SELECT ... INTO @a, @b` and `SET @v = (SELECT ...)` over rows of several
//! sets. The SELECT runs as a statement of its own (scattered and merged, exact
//! as any top-level SELECT) and its rows are written, with their own types, as
//! a `JSON_TABLE` ([`crate::derived::run::materialize`]) into a statement one
//! set runs — so the assignment is MariaDB's own: the variable's type and
//! collation, the first row assigned then 1172 when there are more, 1329 and the
//! variables unchanged when there is none, 1242 for a scalar subquery of
//! several rows. What the SELECT itself cannot do across sets stays refused
//! with its own 1235.

use super::{fail, Session};
use crate::command::Statement;
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;
use crate::join::Budget;
use crate::sql::lexer::{significant, tokenize, Kind, Token};

/// Where the select list of [`crate::derived::columns::table`]'s text ends.
const FROM_ROWS: &str = " FROM JSON_TABLE(_utf8mb4 X'";

/// AVG and `/` keep more digits in a variable than their column shows (the
/// materialized value would be the column's): refused.
fn inexact(select: &str) -> Option<ProxyError> {
    let tokens = tokenize(select).ok()?;
    significant(&tokens)
        .iter()
        .any(|t| t.is_word(select, "AVG") || t.is_punct(select, "/"))
        .then(|| {
            ProxyError::NotSupported(
                "assigning AVG() or a division over rows of several sets to user variables (the variable would keep more digits than the column shows)".into(),
            )
        })
}

/// The byte range of a SELECT's top-level `INTO @a [, @b ...]` clause (user
/// variables only: not `INTO OUTFILE`, `DUMPFILE` or a procedure's locals).
pub(super) fn into_vars(sql: &str, sig: &[Token]) -> Option<(usize, usize)> {
    if !sig.first()?.is_word(sql, "SELECT") {
        return None;
    }
    let user_var = |t: &Token| t.kind == Kind::Variable && !t.text(sql).starts_with("@@");
    let mut depth = 0i32;
    for (i, t) in sig.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_word(sql, "INTO") {
            let mut j = i + 1;
            let mut end = None;
            while sig.get(j).is_some_and(user_var) {
                end = Some(sig[j].end);
                if !sig.get(j + 1).is_some_and(|t| t.is_punct(sql, ",")) {
                    break;
                }
                j += 2;
            }
            return end.map(|e| (t.start, e));
        }
    }
    None
}

/// The value of an assignment `target = (SELECT ...)` (also `:=`) when it is
/// exactly one parenthesized SELECT: the byte range of the SELECT inside.
fn subquery_value(text: &str) -> Option<(usize, usize)> {
    let tokens = tokenize(text).ok()?;
    let sig = significant(&tokens);
    let eq = sig
        .iter()
        .position(|t| t.is_punct(text, "=") || t.is_punct(text, ":="))?;
    let (open, select, close) = (sig.get(eq + 1)?, sig.get(eq + 2)?, sig.last()?);
    if !(open.is_punct(text, "(") && select.is_word(text, "SELECT") && close.is_punct(text, ")")) {
        return None;
    }
    // The parenthesis opened after `=` closes at the end.
    let mut depth = 0i32;
    for (k, t) in sig[eq + 1..].iter().enumerate() {
        if t.is_punct(text, "(") {
            depth += 1;
        } else if t.is_punct(text, ")") {
            depth -= 1;
            if depth == 0 && eq + 1 + k != sig.len() - 1 {
                return None;
            }
        }
    }
    Some((select.start, close.start))
}

impl Session {
    /// A set where the tables a SELECT reads are all defined (for the
    /// collations of its text columns).
    fn probe_set(&self, snap: &topo::ClusterSnapshot, select: &str) -> Result<String, ProxyError> {
        let tokens = tokenize(select).unwrap_or_default();
        let tables = crate::command::lexed_tables(select, &significant(&tokens));
        match tables.first() {
            Some(t) => {
                crate::placement::set_holding(snap, self.db.as_deref(), t.db.as_deref(), &t.name)
            }
            None => crate::placement::any_set_of(snap, self.db.as_deref()),
        }
    }

    /// `select`'s rows as a typed `(SELECT ... FROM JSON_TABLE(...) AS
    /// setwise_m)`, read through the executor.
    async fn rows_as_table(
        &mut self,
        snap: &topo::ClusterSnapshot,
        select: &str,
    ) -> Result<String, ProxyError> {
        let probe = self.probe_set(snap, select)?;
        let mut exec = self.exec(snap);
        exec.write = false;
        let mut budget = Budget::new("the rows assigned to user variables across sets");
        let r = crate::derived::run::materialize(&mut exec, select, &probe, &mut budget).await;
        for (_, c) in exec.diagnostics.drain(..) {
            crate::exec::release(c);
        }
        r.map(|(table, _)| table)
    }

    /// `SELECT ... INTO @vars` the planner refused across sets (`span`: the INTO
    /// clause): its rows read first, then assigned by one set.
    pub(super) async fn select_into(
        &mut self,
        stmt: &Statement<'_>,
        span: (usize, usize),
        refused: ProxyError,
        out: &mut Responder<'_>,
    ) -> Answered {
        let sql = stmt.sql;
        let select = format!("{}{}", &sql[..span.0], &sql[span.1..]);
        if let Some(e) = inexact(&select) {
            return fail(out, &e).await;
        }
        // Where the client wrote INTO: after FROM MariaDB warns (1287).
        let trailing = stmt
            .sig
            .iter()
            .any(|t| t.start < span.0 && t.is_word(sql, "FROM"));
        let snap = self.snapshot();
        match self.rows_as_table(&snap, &select).await {
            Ok(table) => {
                let inner = &table[1..table.len() - 1];
                let into = &sql[span.0..span.1];
                let text = match inner.find(FROM_ROWS) {
                    Some(at) if !trailing => format!("{} {into}{}", &inner[..at], &inner[at..]),
                    _ => format!("{inner} {into}"),
                };
                Box::pin(self.statement_run(&text, out)).await
            }
            // What the SELECT alone could not do: the first refusal says it.
            Err(ProxyError::NotSupported(_)) => fail(out, &refused).await,
            Err(e) => fail(out, &e).await,
        }
    }

    /// `SET` assignments whose values read tables of several sets: each value
    /// that is one parenthesized SELECT becomes its rows as a typed table (a
    /// scalar subquery any set evaluates); `None` when one is not such a value.
    pub(super) async fn materialized_values(
        &mut self,
        snap: &topo::ClusterSnapshot,
        assignments: &[(String, String)],
    ) -> Result<Option<Vec<(String, String)>>, ProxyError> {
        let mut out = assignments.to_vec();
        for (key, text) in out.iter_mut() {
            let tokens = tokenize(text).unwrap_or_default();
            if crate::command::lexed_tables(text, &significant(&tokens)).is_empty() {
                continue;
            }
            if !key.starts_with('@') {
                return Ok(None);
            }
            let Some((s, e)) = subquery_value(text) else {
                return Ok(None);
            };
            if let Some(e) = inexact(&text[s..e]) {
                return Err(e);
            }
            let table = self.rows_as_table(snap, &text[s..e]).await?;
            // `(SELECT ...)` replaced by `(SELECT ... FROM JSON_TABLE(...) AS m)`.
            *text = format!("{}{}{}", &text[..s - 1], table, &text[e + 1..]);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn into(sql: &str) -> Option<&str> {
        let toks = tokenize(sql).unwrap();
        let sig = significant(&toks);
        into_vars(sql, &sig).map(|(s, e)| &sql[s..e])
    }

    #[test]
    fn finds_the_top_level_into_of_user_variables() {
        assert_eq!(into("SELECT a INTO @x FROM t"), Some("INTO @x"));
        assert_eq!(
            into("SELECT a, b FROM t WHERE c = 1 INTO @x, @`y`"),
            Some("INTO @x, @`y`")
        );
        assert_eq!(into("SELECT (SELECT 1 INTO @x) FROM t"), None);
        assert_eq!(into("SELECT a INTO OUTFILE '/tmp/x' FROM t"), None);
        assert_eq!(into("SELECT a INTO @@session.x FROM t"), None);
        assert_eq!(into("INSERT INTO t VALUES (1)"), None);
    }

    #[test]
    fn a_value_that_is_one_subquery() {
        let v = |t: &str| subquery_value(t).map(|(s, e)| t[s..e].to_string());
        assert_eq!(
            v("@m = (SELECT MAX(a) FROM t)").as_deref(),
            Some("SELECT MAX(a) FROM t")
        );
        assert_eq!(
            v("@m := ( SELECT (1) FROM t )").as_deref(),
            Some("SELECT (1) FROM t ")
        );
        assert_eq!(v("@m = (SELECT 1 FROM t) + (SELECT 2 FROM t)"), None);
        assert_eq!(v("@m = 1 + (SELECT 2 FROM t)"), None);
    }
}
