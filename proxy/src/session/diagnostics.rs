//! The diagnostics area: `SHOW WARNINGS` / `SHOW ERRORS` / `GET DIAGNOSTICS`
//! read where the session's last statement ran. A statement that left
//! warnings on several sets (a join or scatter across sets) is read on each:
//! the lists concatenated (at most `max_error_count`, 64, as MariaDB shows),
//! the counts (`@@warning_count`, `SHOW COUNT(*) WARNINGS`) summed. So is a
//! write over several sets (run as one XA transaction): its branches holding
//! diagnostics are kept past its commit (`exec::txn::diag`), as are those of a
//! transaction's last statement past COMMIT and ROLLBACK, as on one server.

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::txn::diag::{cells, Cells};
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::show;

impl Session {
    /// Starts a new, empty diagnostics area.
    pub(super) fn clear_diagnostics(&mut self) {
        for (_, conn) in self.diag.drain(..) {
            crate::exec::release(conn);
        }
        self.diag_rows.clear();
    }

    /// `SHOW WARNINGS` and friends: read where the last statement left them
    /// (the kept connections, or the branches of the open transaction that hold
    /// them, `Txn::diag`); with none, any set answers (an empty diagnostics
    /// area, as after a clean statement).
    pub(super) async fn diagnostics(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        if !self.diag.is_empty() {
            let wire = self.codec.wire(sql).into_owned();
            return read_on(&mut self.diag, &self.diag_rows, sql, &wire, out).await;
        }
        // In a transaction: its branches holding them, taken out for the read.
        let held = self.txn.as_mut().map(|t| {
            let sets: Vec<String> = t.diag.iter().cloned().collect();
            let conns: Vec<(String, crate::backend::Conn)> = sets
                .into_iter()
                .filter_map(|s| Some((s.clone(), t.conns.remove(&s)?)))
                .collect();
            conns
        });
        if let Some(mut conns) = held.filter(|c| !c.is_empty()) {
            out.status = self.status();
            let wire = self.codec.wire(sql).into_owned();
            let r = read_on(&mut conns, &[], sql, &wire, out).await;
            if let Some(t) = self.txn.as_mut() {
                t.conns.extend(conns);
            }
            return r;
        }
        let snap = self.snapshot();
        // No kept connection: the last statement left no diagnostics on one (or
        // only `diag_rows`). A pooled connection may still hold another
        // session's, so clear them first (only a statement that uses a table
        // resets MariaDB's diagnostics area).
        let r = async {
            let set = show::any_set_of(&snap, self.db.as_deref())?;
            let mut conn = self.conns(&snap).pooled(&set).await?;
            conn.query_drop(crate::exec::CLEAR_DIAGNOSTICS)
                .await
                .map_err(|e| ProxyError::from_backend(&set, e))?;
            Ok::<_, ProxyError>((set, conn))
        }
        .await;
        match r {
            Ok((set, conn)) => {
                let wire = self.codec.wire(sql).into_owned();
                let mut conns = [(set, conn)];
                let r = read_on(&mut conns, &self.diag_rows, sql, &wire, out).await;
                let [(_, conn)] = conns;
                crate::exec::release(conn);
                r
            }
            Err(e) => fail(out, &e).await,
        }
    }
}

/// Answers diagnostics read `sql` (`wire`: as sent) from `conns`, the
/// connections holding the last statement's diagnostics, and `extra`, its
/// conditions kept as rows: one connection alone answers as it is; otherwise
/// `SHOW`/`SELECT` reads are answered combined ([`combined`]), anything else
/// (`GET DIAGNOSTICS`) by the first connection.
async fn read_on(
    conns: &mut [(String, crate::backend::Conn)],
    extra: &[Cells],
    sql: &str,
    wire: &[u8],
    out: &mut Responder<'_>,
) -> Answered {
    let first = sql.split_whitespace().next().unwrap_or_default();
    let read = ["SHOW", "SELECT"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w));
    let alone = extra.is_empty();
    if let (false, _, [(set, conn), ..]) | (_, true, [(set, conn)]) = (read, alone, &mut *conns) {
        return match crate::exec::stream_all(conn, set, wire, out).await? {
            Ok(()) => Ok(true),
            Err(e) => fail(out, &e).await,
        };
    }
    let second = sql.split_whitespace().nth(1).unwrap_or_default();
    let list = ["WARNINGS", "ERRORS"]
        .iter()
        .find(|x| second.eq_ignore_ascii_case(x));
    let r = match list {
        Some(what) => listed(conns, extra, what, sql).await,
        None => match count_items(sql) {
            Some(kinds) => counted(conns, extra, &kinds, wire).await,
            None => Err(ProxyError::NotSupported(
                "an expression over @@warning_count / @@error_count after a statement that \
                 left conditions on several sets (read them alone, or SHOW COUNT(*) WARNINGS)"
                    .into(),
            )),
        },
    };
    match r {
        Ok((cols, rows)) => {
            out.columns(&cols).await?;
            for r in &rows {
                out.text_row(r.iter().map(|c| c.as_deref())).await?;
            }
            out.end_rows(0).await?;
            Ok(true)
        }
        Err(e) => fail(out, &e).await,
    }
}

/// Most conditions MariaDB keeps for `SHOW WARNINGS` (`max_error_count`).
const MAX_ERROR_COUNT: usize = 64;

type Answer = (Vec<mysql_common::packets::Column>, Vec<Cells>);

/// Runs `sql` on `conn`: its column definitions and rows.
async fn query_on(
    set: &str,
    conn: &mut crate::backend::Conn,
    sql: &[u8],
) -> Result<Answer, ProxyError> {
    let err = |e| ProxyError::from_backend(set, e);
    let mut res = conn.query_iter(sql).await.map_err(err)?;
    let cols = res.columns().map(|c| c.to_vec()).unwrap_or_default();
    let got: Vec<mysql_async::Row> = res.collect().await.map_err(err)?;
    res.drop_result().await.map_err(err)?;
    Ok((cols, got.into_iter().map(cells).collect()))
}

/// `SHOW WARNINGS | ERRORS [LIMIT [offset,] n]` over several connections and
/// `extra`: every list read whole, concatenated (at most 64, as MariaDB
/// keeps), then the LIMIT applied to the whole list.
async fn listed(
    conns: &mut [(String, crate::backend::Conn)],
    extra: &[Cells],
    what: &str,
    sql: &str,
) -> Result<Answer, ProxyError> {
    let whole = format!("SHOW {what}");
    let mut cols = Vec::new();
    let mut rows: Vec<Cells> = Vec::new();
    for (set, conn) in conns.iter_mut() {
        let (c, r) = query_on(set, conn, whole.as_bytes()).await?;
        if cols.is_empty() {
            cols = c;
        }
        rows.extend(r);
    }
    let is_error = |r: &&Cells| r.first().is_some_and(|l| l.as_deref() == Some(b"Error"));
    let errors_only = what == "ERRORS";
    rows.extend(
        extra
            .iter()
            .filter(|r| !errors_only || is_error(r))
            .cloned(),
    );
    rows.truncate(MAX_ERROR_COUNT);
    let (offset, count) = limit_of(sql);
    Ok((cols, rows.into_iter().skip(offset).take(count).collect()))
}

/// `LIMIT [offset,] n` / `LIMIT n OFFSET m` of a `SHOW WARNINGS`: (offset, n).
fn limit_of(sql: &str) -> (usize, usize) {
    let words: Vec<String> = sql
        .replace(',', " , ")
        .split_whitespace()
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let Some(at) = words.iter().position(|w| w == "LIMIT") else {
        return (0, usize::MAX);
    };
    let num = |i: usize| words.get(i).and_then(|w| w.parse::<usize>().ok());
    match (
        num(at + 1),
        words.get(at + 2).map(String::as_str),
        num(at + 3),
    ) {
        (Some(o), Some(","), Some(n)) => (o, n),
        (Some(n), Some("OFFSET"), Some(o)) => (o, n),
        (Some(n), _, _) => (0, n),
        _ => (0, usize::MAX),
    }
}

/// Which count a diagnostics read's item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountKind {
    Warnings,
    Errors,
}

/// The counts a read asks for, in order: `SHOW COUNT(*) WARNINGS | ERRORS`, or
/// a `SELECT` of `@@[session.]warning_count` / `error_count` items (aliased or
/// not); `None` when an item is anything else (an expression over them).
fn count_items(sql: &str) -> Option<Vec<CountKind>> {
    let toks = crate::sql::lexer::tokenize(sql).ok()?;
    let sig = crate::sql::lexer::significant(&toks);
    let words: Vec<String> = sig
        .iter()
        .filter(|t| !t.is_punct(sql, ";"))
        .map(|t| t.text(sql).to_ascii_lowercase())
        .collect();
    if words.first().map(String::as_str) == Some("show") {
        return match words.last().map(String::as_str) {
            Some("warnings") => Some(vec![CountKind::Warnings]),
            Some("errors") => Some(vec![CountKind::Errors]),
            _ => None,
        };
    }
    let kind = |parts: &[String]| {
        let var = parts.concat();
        let var = ["@@session.", "@@local.", "@@"]
            .iter()
            .find_map(|p| var.strip_prefix(p))?;
        match var {
            "warning_count" => Some(CountKind::Warnings),
            "error_count" => Some(CountKind::Errors),
            _ => None,
        }
    };
    let mut kinds = Vec::new();
    for item in words[1..].split(|w| w == ",") {
        // The variable, then an optional `[AS] alias`.
        let k = match item.iter().position(|w| w == "as") {
            Some(at) if at + 2 == item.len() => kind(&item[..at]),
            Some(_) => None,
            None => kind(item).or_else(|| kind(&item[..item.len().saturating_sub(1)])),
        };
        kinds.push(k?);
    }
    Some(kinds)
}

/// A count read over several connections and `extra`: each cell the sum of
/// the connections' answers and of `extra`'s conditions of its kind.
async fn counted(
    conns: &mut [(String, crate::backend::Conn)],
    extra: &[Cells],
    kinds: &[CountKind],
    sql: &[u8],
) -> Result<Answer, ProxyError> {
    let errors = extra
        .iter()
        .filter(|r| r.first().is_some_and(|l| l.as_deref() == Some(b"Error")))
        .count() as u64;
    let mut sums = vec![0u64; kinds.len()];
    let mut cols = Vec::new();
    for (set, conn) in conns.iter_mut() {
        let (c, rows) = query_on(set, conn, sql).await?;
        if cols.is_empty() {
            cols = c;
        }
        for (sum, cell) in sums.iter_mut().zip(rows.first().into_iter().flatten()) {
            *sum += count(cell).unwrap_or(0);
        }
    }
    let row: Cells = sums
        .iter()
        .zip(kinds)
        .map(|(n, k)| {
            let add = match k {
                CountKind::Warnings => extra.len() as u64,
                CountKind::Errors => errors,
            };
            Some((n + add).to_string().into_bytes())
        })
        .collect();
    Ok((cols, vec![row]))
}

/// A count cell's value.
fn count(c: &Option<Vec<u8>>) -> Option<u64> {
    c.as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok())
}
