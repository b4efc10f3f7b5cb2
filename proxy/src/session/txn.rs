//! A client transaction: the backend connections it has pinned, one per set it
//! touched, each opened with the transaction's `BEGIN`.
//!
//! Until distributed (XA) commit lands, at most one set may be *written* in a
//! transaction: reads may touch any number of sets, and the one set with writes
//! commits in one phase, so the transaction stays atomic. A write to a second set
//! is refused (the transaction stays open; the client may ROLLBACK).

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::ProxyError;

#[derive(Default)]
pub struct Txn {
    /// Statements that open the transaction on a set (`SET TRANSACTION ...`, `BEGIN`).
    pub begin: Vec<String>,
    /// Set → pinned connection (transaction open on it).
    pub conns: BTreeMap<String, Conn>,
    /// Set when a pinned connection broke: the transaction can only roll back.
    pub broken: Option<String>,
    /// The set that has received writes, if any.
    pub writer: Option<String>,
}

impl Txn {
    pub fn new(begin: Vec<String>) -> Self {
        Self {
            begin,
            ..Default::default()
        }
    }

    /// Takes the pinned connection of `set`, or admits `set` by opening the
    /// transaction on `fresh()`.
    pub async fn take(
        &mut self,
        set: &str,
        write: bool,
        fresh: impl std::future::Future<Output = Result<Conn, ProxyError>>,
    ) -> Result<Conn, ProxyError> {
        if let Some(reason) = &self.broken {
            return Err(ProxyError::BackendLost {
                set: set.into(),
                detail: format!("the transaction was lost ({reason}); ROLLBACK and retry it"),
            });
        }
        if write {
            match &self.writer {
                Some(w) if w != set => {
                    return Err(ProxyError::NotSupported(format!(
                        "a transaction that writes to a second set ('{set}' after '{w}'); \
                         distributed transactions are not available yet — keep a transaction's writes on one shard-key value"
                    )))
                }
                _ => self.writer = Some(set.to_string()),
            }
        }
        if let Some(c) = self.conns.remove(set) {
            return Ok(c);
        }
        let mut conn = fresh.await?;
        for q in &self.begin {
            conn.query_drop(q)
                .await
                .map_err(|e| ProxyError::from_backend(set, e))?;
        }
        Ok(conn)
    }

    /// Puts a connection back after a statement; a broken one breaks the transaction.
    pub fn give_back(&mut self, set: &str, conn: Conn, lost: Option<&ProxyError>) {
        match lost {
            Some(e @ ProxyError::BackendLost { .. }) => self.broken = Some(e.to_string()),
            _ => {
                self.conns.insert(set.to_string(), conn);
            }
        }
    }

    /// Ends the transaction on every pinned set with `COMMIT` or `ROLLBACK`.
    pub async fn finish(self, verb: &str) -> Result<(), ProxyError> {
        let mut first_err = None;
        for (set, mut conn) in self.conns {
            if let Err(e) = conn.query_drop(verb).await {
                first_err.get_or_insert(ProxyError::from_backend(&set, e));
                // Never return a connection in an unknown transaction state to the pool.
                let _ = conn.disconnect().await;
            }
        }
        match (first_err, self.broken) {
            (Some(e), _) => Err(e),
            (None, Some(reason)) if verb == "COMMIT" => Err(ProxyError::BackendLost {
                set: "?".into(),
                detail: format!("the transaction was lost before COMMIT ({reason})"),
            }),
            _ => Ok(()),
        }
    }

    /// Runs `sql` (SAVEPOINT, RELEASE/ROLLBACK TO SAVEPOINT) on every pinned set.
    pub async fn on_all(&mut self, sql: &str) -> Result<(), ProxyError> {
        for (set, conn) in self.conns.iter_mut() {
            conn.query_drop(sql)
                .await
                .map_err(|e| ProxyError::from_backend(set, e))?;
        }
        Ok(())
    }
}
