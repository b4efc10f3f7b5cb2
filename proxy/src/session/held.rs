//! SQL-level prepared statements over tables on several sets, held by the
//! gateway: `PREPARE name FROM 'text'` is checked by preparing the text on a
//! set (MariaDB's own errors) and kept here with its `?` positions and which of
//! them are LIMIT counts or offsets (`crate::front::limits`); `EXECUTE name
//! USING ...` splices the values into the text and runs it like any statement
//! (so LIMIT placeholders become the literal row counts a merge applies);
//! `DEALLOCATE PREPARE name` forgets it. Statements over one set are prepared on
//! that set instead (`Session::sql_prepared`); a name held here after being
//! prepared on a set is *stale* there, and answered as unknown once dropped.

use std::collections::{HashMap, HashSet};

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::command::{lexed_tables, SqlOp, SqlPrepared};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, OkInfo, Responder};
use crate::sql::lexer::{significant, string_value, tokenize, Kind, Token};

/// One held statement.
pub struct Held {
    text: String,
    /// Byte offsets of the `?` in `text`.
    placeholders: Vec<usize>,
    /// Per placeholder: a LIMIT count or offset.
    limits: Vec<bool>,
}

/// The session's held statements, by lower-case name.
#[derive(Default)]
pub struct HeldStmts {
    map: HashMap<String, Held>,
    /// Names a held PREPARE took over from a statement prepared on a set (which
    /// still has it): unknown to the client once no longer held.
    stale: HashSet<String>,
}

impl Held {
    /// `text` (lexed as `tokens`) as a held statement; refused (1235) with a `?`
    /// in its select list.
    fn of(text: String, tokens: &[Token]) -> Result<Held, ProxyError> {
        let limits = crate::front::limits::limit_placeholders(&text, tokens);
        let listed = crate::sql::item_names::listed_placeholders(&text, tokens);
        if listed.iter().zip(&limits).any(|(l, lim)| *l && !*lim) {
            return Err(ProxyError::NotSupported(
                "a ? in the select list of an SQL PREPARE over several sets (its column \
                 definition would not be MariaDB's; use the protocol's prepared statements)"
                    .into(),
            ));
        }
        let placeholders = tokens
            .iter()
            .filter(|t| t.kind == Kind::Placeholder)
            .map(|t| t.start)
            .collect();
        Ok(Held {
            text,
            placeholders,
            limits,
        })
    }
}

impl HeldStmts {
    /// Takes over `text`, prepared as `name` (lower case) on a set that still
    /// has it (`reprepare.rs`): held from now on, unknown once deallocated.
    pub(super) fn adopt(&mut self, name: String, text: String) -> Result<(), ProxyError> {
        let tokens = tokenize(&text).map_err(|e| ProxyError::Syntax(e.what.to_string()))?;
        let held = Held::of(text, &tokens)?;
        self.stale.insert(name.clone());
        self.map.insert(name, held);
        Ok(())
    }

    /// Whether `name` (lower case) is a statement the gateway holds.
    pub fn holds(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.stale.clear();
    }
}

impl Session {
    /// Answers `PREPARE` / `EXECUTE` / `DEALLOCATE PREPARE` of a statement over
    /// several sets; `None`: not one (the caller routes it to one set).
    pub(super) async fn held_statement(
        &mut self,
        sql: &str,
        sig: &[Token],
        p: &SqlPrepared,
        out: &mut Responder<'_>,
    ) -> Option<Answered> {
        let name_at = p.name_at;
        let given = p.name.clone();
        let name = given.to_ascii_lowercase();
        let unknown = |to| ProxyError::UnknownStatement {
            name: given.clone(),
            to,
        };
        match p.op {
            SqlOp::Prepare => {
                let t = sig.get(name_at + 2).filter(|t| t.kind == Kind::String)?;
                let text = string_value(sql, t);
                let tokens = tokenize(&text).ok()?;
                let tables = lexed_tables(&text, &significant(&tokens));
                let snap = self.snapshot();
                let one =
                    crate::route::plan::single_set_for_tables(&snap, self.db.as_deref(), &tables);
                if !matches!(one, Ok(None)) {
                    self.held.map.remove(&name);
                    self.held.stale.remove(&name);
                    return None;
                }
                Some(self.hold(name, text, &tokens, out).await)
            }
            _ if !self.held.map.contains_key(&name) => {
                let stale = self.held.stale.contains(&name) && !self.sql_stmts.contains_key(&name);
                let to = if p.op == SqlOp::Execute {
                    "EXECUTE"
                } else {
                    "DEALLOCATE PREPARE"
                };
                if stale {
                    Some(fail(out, &unknown(to)).await)
                } else {
                    None
                }
            }
            SqlOp::Execute => {
                let held = self.held.map.get(&name)?;
                let text = match self.bind_held(held, sql, &sig[name_at + 1..]) {
                    Ok(t) => t,
                    Err(e) => return Some(fail(out, &e).await),
                };
                Some(Box::pin(self.statement_run(&text, out)).await)
            }
            SqlOp::Deallocate => {
                self.held.map.remove(&name);
                out.status = self.status();
                Some(out.ok(&OkInfo::default()).await.map(|_| true))
            }
        }
    }

    /// Checks `text` by preparing it on a set, then keeps it as `name`.
    async fn hold(
        &mut self,
        name: String,
        text: String,
        tokens: &[Token],
        out: &mut Responder<'_>,
    ) -> Answered {
        let snap = self.snapshot();
        let checked = async {
            let set = self.metadata_set(&snap, &text)?;
            let mut conn = self.conns(&snap).pooled(&set).await?;
            let stmt = match conn.prep(&self.codec.wire(&text)[..]).await {
                Ok(s) => s,
                // A join across sets whose tables no one set holds: checked at EXECUTE.
                Err(mysql_async::Error::Server(e))
                    if matches!(e.code, 1146 | 1049)
                        && crate::join::spans_sets(&snap, self.db.as_deref(), &text) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(ProxyError::from_backend(&set, e)),
            };
            let _ = conn.close(stmt).await;
            Ok::<(), ProxyError>(())
        }
        .await;
        // A PREPARE, even a failed one, drops a statement of the same name.
        self.held.map.remove(&name);
        if self.sql_stmts.remove(&name).is_some() {
            self.held.stale.insert(name.clone());
        }
        let held = match checked.and_then(|()| Held::of(text, tokens)) {
            Ok(h) => h,
            Err(e) => return fail(out, &e).await,
        };
        self.held.map.insert(name, held);
        out.status = self.status();
        out.ok(&OkInfo {
            info: "Statement prepared".into(),
            ..OkInfo::default()
        })
        .await?;
        Ok(true)
    }

    /// The held statement's text with the `USING` values of `rest` (the tokens
    /// after the name) in place of its `?`.
    fn bind_held(&self, held: &Held, sql: &str, rest: &[Token]) -> Result<String, ProxyError> {
        let args: Vec<&str> = match rest.first() {
            None => Vec::new(),
            Some(u) if u.is_word(sql, "USING") => split_args(sql, &rest[1..]),
            Some(_) => return Err(ProxyError::Syntax("EXECUTE name [USING value, ...]".into())),
        };
        if args.len() != held.placeholders.len() {
            return Err(ProxyError::ExecuteArguments);
        }
        let mut out = String::with_capacity(held.text.len() + 16 * args.len());
        let mut last = 0;
        for ((at, arg), limit) in held.placeholders.iter().zip(&args).zip(&held.limits) {
            out.push_str(&held.text[last..*at]);
            if *limit {
                out.push_str(&self.limit_arg(arg)?.to_string());
            } else {
                out.push_str(&self.value_arg(arg));
            }
            last = at + 1;
        }
        out.push_str(&held.text[last..]);
        Ok(out)
    }

    /// A `USING` value as text for a `?`: a user variable as the literal it
    /// holds (NULL when never set), so a shard key given one routes like a
    /// literal; a literal as written; any other expression in parentheses.
    fn value_arg(&self, arg: &str) -> String {
        let toks = tokenize(arg).unwrap_or_default();
        match significant(&toks).as_slice() {
            [v] if v.kind == Kind::Variable && !v.text(arg).starts_with("@@") => {
                let key = v.text(arg).to_ascii_lowercase().replace('`', "");
                match self.vars.user_value(&key) {
                    Some(value) => as_operand(&value),
                    None => "NULL".into(),
                }
            }
            _ => as_operand(arg),
        }
    }

    /// The row count of a `USING` value given to a LIMIT placeholder: an
    /// integer, or a user variable holding one; a negative one is MariaDB's
    /// "Incorrect arguments to EXECUTE". Other values are refused.
    fn limit_arg(&self, arg: &str) -> Result<u64, ProxyError> {
        let refused = || {
            ProxyError::NotSupported(format!(
                "EXECUTE ... USING {arg} for a LIMIT of a statement over several sets \
                 (give an integer)"
            ))
        };
        let toks = tokenize(arg).map_err(|_| refused())?;
        let sig = significant(&toks);
        match sig.as_slice() {
            [v] if v.kind == Kind::Variable && !v.text(arg).starts_with("@@") => {
                let key = v.text(arg).to_ascii_lowercase().replace('`', "");
                let value = self.vars.user_value(&key).ok_or_else(refused)?;
                integer(&value).ok_or_else(refused)?
            }
            _ => integer(arg).ok_or_else(refused)?,
        }
    }
}

/// `text` as it is when a single literal (a number, a string, NULL, a negative
/// number), else in parentheses.
fn as_operand(text: &str) -> String {
    let toks = tokenize(text).unwrap_or_default();
    let single = match significant(&toks).as_slice() {
        [v] => matches!(v.kind, Kind::Number | Kind::String) || v.is_word(text, "NULL"),
        [m, v] => m.is_punct(text, "-") && v.kind == Kind::Number,
        _ => false,
    };
    if single {
        text.trim().to_string()
    } else {
        format!("({text})")
    }
}

/// `Ok(n)` for a plain non-negative integer literal, `Err` (1210) for a
/// negative one, `None` for anything else.
fn integer(text: &str) -> Option<Result<u64, ProxyError>> {
    let toks = tokenize(text).ok()?;
    let sig = significant(&toks);
    let digits = |t: &Token| {
        let s = t.text(text);
        (t.kind == Kind::Number && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
    };
    match sig.as_slice() {
        [n] => Some(digits(n)?.parse().ok().map(Ok)?),
        [m, n] if m.is_punct(text, "-") => {
            let n: u64 = digits(n)?.parse().ok()?;
            Some(if n == 0 {
                Ok(0)
            } else {
                Err(ProxyError::ExecuteArguments)
            })
        }
        _ => None,
    }
}

/// The texts of the comma-separated values in `toks`.
fn split_args<'a>(sql: &'a str, toks: &[Token]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    let mut end = 0;
    for t in toks {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_punct(sql, ",") {
            if let Some(s) = start.take() {
                out.push(&sql[s..end]);
            }
            continue;
        }
        start.get_or_insert(t.start);
        end = t.end;
    }
    if let Some(s) = start {
        out.push(&sql[s..end]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<&str> {
        split_args(s, &significant(&tokenize(s).unwrap()))
    }

    #[test]
    fn splits_using_values() {
        assert_eq!(
            args("@a, 2, CONCAT('x', @b)"),
            ["@a", "2", "CONCAT('x', @b)"]
        );
        assert_eq!(args(""), Vec::<&str>::new());
    }

    #[test]
    fn select_list_placeholders() {
        let sql =
            "SELECT CONCAT(?, a) FROM t WHERE b IN (SELECT ? FROM u) UNION SELECT ? FROM v LIMIT ?";
        let marks = crate::sql::item_names::listed_placeholders(sql, &tokenize(sql).unwrap());
        assert_eq!(marks, [true, false, true, false]);
    }

    #[test]
    fn limit_integers() {
        assert_eq!(integer("7").unwrap().unwrap(), 7);
        assert_eq!(integer(" -0 ").unwrap().unwrap(), 0);
        assert!(matches!(
            integer("-3"),
            Some(Err(ProxyError::ExecuteArguments))
        ));
        assert!(integer("2.5").is_none());
        assert!(integer("'7'").is_none());
        assert!(integer("NULL").is_none());
    }
}
