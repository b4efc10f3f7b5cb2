//! The fast path for point reads: a statement that may share a connection with
//! other sessions' statements ([`eligible`]) runs on a pipelined connection
//! ([`crate::backend::mux`]) and its answer goes to the client as MariaDB sent
//! it, packet for packet — no decoding into rows, no re-encoding.
//!
//! Diagnostics stay exact: when the answer carried warnings or was an error, the
//! statement (a plain read) runs once more on a pooled connection, which is then
//! kept for `SHOW WARNINGS` as any one-set statement's is. A pipelined connection
//! that breaks before any byte of the answer was sent leaves the statement to the
//! ordinary path.

use mysql_async::Value;
use mysql_common::proto::MySerialize;

use super::{fail, Answered, Exec, Work};
use crate::backend::mux::{Command, End};
use crate::error::ProxyError;
use crate::front::Responder;
use crate::sql::lexer::{Kind, Token};

/// Words that make a SELECT unfit to share a connection: locking reads,
/// results sent elsewhere, connection-scoped side effects, other statements.
const UNFIT_WORDS: &[&str] = &[
    "FOR",
    "LOCK",
    "INTO",
    "UNION",
    "SQL_CALC_FOUND_ROWS",
    "PROCEDURE",
    "INFORMATION_SCHEMA",
    "PERFORMANCE_SCHEMA",
    "MYSQL",
    "SETWISE_SYS",
    "NEXTVAL",
    "LASTVAL",
];

/// Whether `sql` (already routed to one set by a shard-key value) may run on a
/// pipelined connection: a SELECT with no function call, subquery, variable,
/// comment (executable comments hide SQL) or second statement, and none of
/// [`UNFIT_WORDS`]. Parentheses are allowed only for `IN (...)` lists.
pub fn eligible(sql: &str, tokens: &[Token]) -> bool {
    let mut sig = tokens.iter().filter(|t| t.kind != Kind::Space);
    if !sig.next().is_some_and(|t| t.is_word(sql, "SELECT")) {
        return false;
    }
    let mut prev: Option<&Token> = None;
    for t in tokens.iter().filter(|t| t.kind != Kind::Space).skip(1) {
        match t.kind {
            Kind::Comment | Kind::Variable => return false,
            // A second SELECT is a subquery (`IN (SELECT ...)`).
            Kind::Word
                if t.is_word(sql, "SELECT") || UNFIT_WORDS.iter().any(|w| t.is_word(sql, w)) =>
            {
                return false
            }
            Kind::Punct if t.is_punct(sql, ";") => return false,
            Kind::Punct if t.is_punct(sql, "(") && !prev.is_some_and(|p| p.is_word(sql, "IN")) => {
                return false;
            }
            _ => {}
        }
        prev = Some(t);
    }
    true
}

/// The parameter block of a COM_STMT_EXECUTE for `values` (everything after the
/// statement id); `None` when a value needs COM_STMT_SEND_LONG_DATA.
fn params_block(values: &[Value]) -> Option<Vec<u8>> {
    let (req, long) = mysql_common::packets::ComStmtExecuteRequestBuilder::new(0).build(values);
    if long {
        return None;
    }
    let mut buf = Vec::with_capacity(64);
    req.serialize(&mut buf);
    Some(buf.split_off(5))
}

/// How streaming an answer from a pipelined connection ended.
enum Streamed {
    Ended(End),
    /// The connection broke; whether any byte had reached the client.
    Broken {
        wrote: bool,
    },
}

impl Exec<'_> {
    /// Runs a point read on a pipelined connection. `None`: not taken — no
    /// pipelined connection has room, or it broke before answering — and the
    /// caller runs the statement on a pooled connection.
    pub(super) async fn fast(
        &mut self,
        set: &str,
        work: &Work<'_>,
        out: &mut Responder<'_>,
    ) -> Option<Answered> {
        let r = self.pipelined(set, work, out).await;
        let outcome = if r.is_some() { "pipelined" } else { "pooled" };
        metrics::counter!(crate::metrics::PIPELINED_READS, "outcome" => outcome).increment(1);
        r
    }

    async fn pipelined(
        &mut self,
        set: &str,
        work: &Work<'_>,
        out: &mut Responder<'_>,
    ) -> Option<Answered> {
        let snap = self.conns.snap;
        let node = snap.primary_of(set)?;
        let key = self.conns.key(set, node);
        let block;
        let cmd = match work {
            Work::Text(sql) => Command::Query(sql),
            Work::Prepared(sql, values) => {
                block = params_block(values)?;
                Command::Execute {
                    sql,
                    params: &block,
                }
            }
        };
        let mux = self.conns.backends.mux(&key).await?;
        let mut rx = mux.send(cmd).await?;
        let epoch = super::epoch_of(snap, set);
        let stream = async {
            let mut wrote = false;
            while let Some(chunk) = rx.recv().await {
                out.raw(&chunk.bytes).await?;
                wrote = true;
                if let Some(end) = chunk.end {
                    return Ok(Streamed::Ended(end));
                }
            }
            Ok::<_, std::io::Error>(Streamed::Broken { wrote })
        };
        let r = self.conns.guarded(set, epoch, false, stream).await;
        match r {
            Ok(Ok(Streamed::Ended(end))) => {
                if end.warnings > 0 || end.error {
                    self.rerun_for_diagnostics(set, work).await;
                }
                Some(Ok(!end.error))
            }
            Ok(Ok(Streamed::Broken { wrote: false })) => None,
            Ok(Ok(Streamed::Broken { wrote: true })) => Some(Err(std::io::Error::other(
                "the connection to the set broke in the middle of an answer",
            ))),
            Ok(Err(io)) => Some(Err(io)),
            Err(e) => Some(fail(out, &e).await),
        }
    }

    /// Runs a fast-path read again on a pooled connection (its answer dropped)
    /// and keeps that connection for `SHOW WARNINGS` / `SHOW ERRORS`.
    async fn rerun_for_diagnostics(&mut self, set: &str, work: &Work<'_>) {
        use mysql_async::prelude::Queryable;
        let Ok(mut conn) = self.conns.pooled(set).await else {
            return;
        };
        let r = match work {
            Work::Text(sql) => conn.query_drop(&sql[..]).await,
            Work::Prepared(sql, values) => {
                let params = if values.is_empty() {
                    mysql_async::Params::Empty
                } else {
                    mysql_async::Params::Positional(values.clone())
                };
                match conn.prep(&sql[..]).await {
                    Ok(stmt) => conn.exec_drop(&stmt, params).await,
                    Err(e) => Err(e),
                }
            }
        };
        let err = match r {
            Ok(()) => None,
            Err(e) => Some(ProxyError::from_backend(set, e)),
        };
        self.keep_diagnostics(set, &conn, err.as_ref());
        self.give_back(set, conn, err.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn ok(sql: &str) -> bool {
        eligible(sql, &tokenize(sql).unwrap())
    }

    #[test]
    fn point_reads_only() {
        assert!(ok("SELECT c FROM sbtest1 WHERE id=?"));
        assert!(ok("select * from t where k = 5 and v in (1, 2)"));
        assert!(!ok("SELECT c FROM t WHERE id=1 FOR UPDATE"));
        assert!(!ok("SELECT c FROM t WHERE id=1 LOCK IN SHARE MODE"));
        assert!(!ok("SELECT SLEEP(1) FROM t WHERE id=1"));
        assert!(!ok("SELECT c FROM t WHERE id=(SELECT 1)"));
        assert!(!ok("SELECT c FROM t WHERE id=1 AND k IN (SELECT k FROM u)"));
        assert!(!ok("SELECT @a := c FROM t WHERE id=1"));
        assert!(!ok("SELECT c FROM t WHERE id=1 /*!99999 AND SLEEP(1) */"));
        assert!(!ok("SELECT c INTO @x FROM t WHERE id=1"));
        assert!(!ok("SELECT 1; SELECT 2"));
        assert!(!ok("UPDATE t SET c=1 WHERE id=1"));
        assert!(!ok(
            "SELECT c FROM t WHERE id=1 UNION SELECT c FROM t WHERE id=2"
        ));
    }
}
