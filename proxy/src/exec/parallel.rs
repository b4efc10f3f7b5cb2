//! A scatter whose rows are concatenated (`Merge::Concat`) with its sets asked at
//! once: the statement goes to every set before any answer is read, then the
//! answers are written set after set, in the plan's order — the same rows, in
//! the same order, with the first set's column definitions, as one set after
//! another, but one round trip of waiting instead of one per set. A later set's
//! rows wait in its socket meanwhile (MariaDB stops sending when the buffers are
//! full): memory stays bounded.
//!
//! In a transaction a branch not started yet carries its start (`XA START ...`)
//! in the same round trip as the statement. Reads that may go to replicas keep
//! the one-after-another path (their fallback to the primary is per set).
//!
//! A client's prepared statement (`COM_STMT_EXECUTE`) runs as a prepared
//! statement on the sets too ([`Exec::concat_prepared`]): MariaDB does not parse
//! it each time, and the rows come typed (binary protocol) as from one server.

use crate::backend::answer::Answer;
use futures::future::join_all;
use mysql_async::prelude::Queryable;
use mysql_async::Value;

use super::wire::write_row;
use super::{fail, Answered, Exec};
use crate::backend::Conn;
use crate::error::ProxyError;
use crate::front::Responder;

/// One set's part: its connection, the routing epoch it was taken at, and the
/// statements that start its branch (empty when it runs already).
struct Part {
    set: String,
    conn: Conn,
    epoch: u64,
    start: Vec<String>,
}

/// How one set's part ended.
#[derive(Default)]
struct Outcome {
    err: Option<ProxyError>,
    /// The branch's start failed: the set is not part of the transaction.
    start_failed: bool,
    /// `err` is the statement's first error (the one the client gets).
    first: bool,
}

impl Exec<'_> {
    /// Whether [`concat_at_once`](Self::concat_at_once) serves a concatenation.
    pub(crate) fn at_once(&self, sets: &[String]) -> bool {
        sets.len() > 1 && self.reads.is_none()
    }

    /// `sql` on every set of `sets` at once, the rows concatenated in `sets`' order.
    pub(super) async fn concat_at_once(
        &mut self,
        sets: &[String],
        sql: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.concat_with(sets, sql, None, out).await
    }

    /// [`concat_at_once`](Self::concat_at_once) of a client's prepared statement:
    /// `sql` (its text with `?`) prepared on every set (mysql_async's statement
    /// cache keeps it per connection) and executed with `values`. Only where
    /// [`at_once`](Self::at_once) holds.
    pub(crate) async fn concat_prepared(
        &mut self,
        sets: &[String],
        sql: &str,
        values: Vec<Value>,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.concat_with(sets, sql, Some(values), out).await
    }

    async fn concat_with(
        &mut self,
        sets: &[String],
        sql: &str,
        values: Option<Vec<Value>>,
        out: &mut Responder<'_>,
    ) -> Answered {
        let mut texts = Vec::with_capacity(sets.len());
        for set in sets {
            match self.for_set(set, sql) {
                Ok(s) => texts.push(self.conns.codec.wire(&s).into_owned()),
                Err(e) => return fail(out, &e).await,
            }
        }
        let mut parts: Vec<Part> = Vec::with_capacity(sets.len());
        for set in sets {
            match self.take_branch(set, true).await {
                Ok((conn, epoch, start)) => parts.push(Part {
                    set: set.clone(),
                    conn,
                    epoch,
                    start,
                }),
                Err(e) => {
                    let none = parts.iter().map(|_| Outcome::default()).collect();
                    self.give_parts(parts, none);
                    return fail(out, &e).await;
                }
            }
        }
        for p in &parts {
            self.also_running_on(&p.conn);
        }
        let on: Vec<(&str, u64)> = sets
            .iter()
            .zip(&parts)
            .map(|(s, p)| (s.as_str(), p.epoch))
            .collect();
        let run = write_all(self.conns.backends, &mut parts, texts, values, out);
        let r = self.conns.guarded_sets(&on, self.write, run).await;
        self.clear_running();
        match r {
            Err(e) => {
                // Given up (a set stopped answering, or its primary changed): no
                // connection of the statement is reused.
                for p in parts {
                    self.give_back(&p.set, p.conn, Some(&e));
                }
                fail(out, &e).await
            }
            Ok(Err(io)) => {
                let none = parts.iter().map(|_| Outcome::default()).collect();
                self.give_parts(parts, none);
                Err(io)
            }
            Ok(Ok((outcomes, warnings))) => {
                if self.calc_found.is_some() && outcomes.iter().all(|o| o.err.is_none()) {
                    for p in parts.iter_mut() {
                        self.add_found(&p.set, &mut p.conn).await;
                    }
                }
                match self.give_parts_read(parts, outcomes) {
                    Some(e) => fail(out, &e).await,
                    None => {
                        out.end_rows(warnings).await?;
                        Ok(true)
                    }
                }
            }
        }
    }

    /// [`give_parts`](Self::give_parts) after every answer was read to its end:
    /// outside a transaction, a part that ended without error is lent again as it
    /// is (its pool's hot stack), as a one-set statement's connection is.
    fn give_parts_read(
        &mut self,
        mut parts: Vec<Part>,
        outcomes: Vec<Outcome>,
    ) -> Option<ProxyError> {
        if self.txn.is_none() {
            for (p, o) in parts.iter_mut().zip(&outcomes) {
                if o.err.is_none() {
                    p.conn.mark_clean();
                }
            }
        }
        self.give_parts(parts, outcomes)
    }

    /// Gives each part's connection back (a branch whose start failed is
    /// forgotten and its connection closed). Returns the first error, to send in
    /// place of the next row.
    fn give_parts(&mut self, parts: Vec<Part>, outcomes: Vec<Outcome>) -> Option<ProxyError> {
        let mut first = None;
        for (p, o) in parts.into_iter().zip(outcomes) {
            if o.start_failed {
                if let Some(t) = self.txn.as_deref_mut() {
                    t.forget(&p.set);
                }
                super::discard(p.conn);
            } else {
                if o.first {
                    // The error the client got: `SHOW WARNINGS` reads it there.
                    self.keep_diagnostics(&p.set, &p.conn, o.err.as_ref());
                }
                self.give_back(&p.set, p.conn, o.err.as_ref());
            }
            if o.first {
                first = o.err;
            }
        }
        first
    }
}

/// Sends every part's statement, then writes the answers in order (none after
/// the first error). Returns each part's outcome and the warnings of all sets.
async fn write_all(
    backends: &crate::backend::Backends,
    parts: &mut [Part],
    texts: Vec<Vec<u8>>,
    values: Option<Vec<Value>>,
    out: &mut Responder<'_>,
) -> std::io::Result<(Vec<Outcome>, u16)> {
    let mut outcomes: Vec<Outcome> = parts.iter().map(|_| Outcome::default()).collect();
    let sent = join_all(
        parts
            .iter_mut()
            .zip(texts)
            .map(|(p, sql)| send(backends, p, sql, values.clone())),
    )
    .await;
    let mut failed = false;
    let mut warnings = 0u16;
    let mut started = false;
    for ((res, set), o) in sent.into_iter().zip(outcomes.iter_mut()) {
        let mut res = match res {
            Ok(r) => r,
            Err((e, in_start)) => {
                o.start_failed = in_start;
                o.err = Some(e);
                o.first = !failed;
                failed = true;
                continue;
            }
        };
        if failed {
            // An earlier set failed: this one's answer is read and dropped.
            if let Err(e) = res.drop_result().await {
                o.err = Some(ProxyError::from_backend(set, e));
            }
            continue;
        }
        if !started {
            let cols = res.columns().unwrap_or_default();
            out.columns(&cols).await?;
            started = true;
        }
        loop {
            match res.next().await {
                Ok(Some(row)) => match res {
                    Answer::Text(_) => write_row(out, &row).await?,
                    Answer::Binary(_) => out.values_row(&row.unwrap()).await?,
                },
                Ok(None) => break,
                Err(e) => {
                    o.err = Some(ProxyError::from_backend(set, e));
                    o.first = true;
                    failed = true;
                    break;
                }
            }
        }
        warnings = warnings.saturating_add(res.warnings());
    }
    Ok((outcomes, warnings))
}

/// A part's failure: the error, and whether it came from the branch's start.
type Failed = (ProxyError, bool);

/// Sends one part's statement and reads up to its result's column definitions:
/// a text one after its branch's start in one round trip; a prepared one
/// (`values`) after the start in a round trip of its own. A failure says
/// whether it came from the branch's start. Comes back with the part's set.
async fn send<'p>(
    backends: &crate::backend::Backends,
    p: &'p mut Part,
    sql: Vec<u8>,
    values: Option<Vec<Value>>,
) -> (Result<Answer<'p>, Failed>, &'p str) {
    let Part {
        set, conn, start, ..
    } = p;
    let set = set.as_str();
    let n = start.len();
    let Some(values) = values else {
        return (send_text(conn, set, start, sql).await, set);
    };
    if n > 0 {
        if let Err(e) = conn.query_drop(start.join("; ")).await {
            return (Err((ProxyError::from_backend(set, e), true)), set);
        }
    }
    let stmt = match backends.prep(conn, &sql).await {
        Ok(s) => s,
        Err(e) => return (Err((ProxyError::from_backend(set, e), false)), set),
    };
    let params = if values.is_empty() {
        mysql_async::Params::Empty
    } else {
        mysql_async::Params::Positional(values)
    };
    match conn.exec_iter(stmt, params).await {
        Ok(r) => (Ok(Answer::Binary(r)), set),
        Err(e) => (Err((ProxyError::from_backend(set, e), false)), set),
    }
}

/// The text part of [`send`]: the branch's start and the statement in one query.
async fn send_text<'c>(
    conn: &'c mut Conn,
    set: &str,
    start: &[String],
    sql: Vec<u8>,
) -> Result<Answer<'c>, Failed> {
    let n = start.len();
    let text = if n == 0 {
        sql
    } else {
        [format!("{}; ", start.join("; ")).as_bytes(), &sql].concat()
    };
    let mut res = match conn.query_iter(text).await {
        Ok(r) => r,
        Err(e) => return Err((ProxyError::from_backend(set, e), n > 0)),
    };
    // The OKs of the start: reading past OK number j reads statement j + 1's header.
    for j in 0..n {
        if let Err(e) = res.next().await {
            return Err((ProxyError::from_backend(set, e), j + 1 < n));
        }
    }
    Ok(Answer::Text(res))
}
