//! Backend connections pinned to one client session: once a statement leaves
//! state on its connection that must live on there — a named lock
//! (`GET_LOCK`), an SQL-level prepared statement (`PREPARE`), an open
//! `HANDLER` — that connection is the session's alone until the session ends
//! (as ProxySQL stops multiplexing such a session). Later statements on the same
//! set run on it, transactions start their branch on it and give it back here at
//! their end, and the session's `SET`/`USE` are applied to it. A pinned
//! connection to a primary that was replaced is dropped (its locks died with it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mysql_async::prelude::Queryable;

use crate::backend::Conn;
use crate::error::ProxyError;

/// The session's pinned connections: set → (connection, routing epoch of the
/// primary it leads to). Shared with the session's transaction, which returns
/// the pinned branches when it ends.
#[derive(Clone, Default)]
pub struct Pins(Arc<Mutex<BTreeMap<String, (Conn, u64)>>>);

impl Pins {
    /// The pinned connection of `set`, taken out while a statement uses it, if it
    /// still leads to the primary of `epoch`; a stale one is closed.
    pub fn take(&self, set: &str, epoch: u64) -> Option<(Conn, u64)> {
        let (conn, at) = self.0.lock().expect("pins").remove(set)?;
        if at == epoch {
            return Some((conn, at));
        }
        super::conns::discard(conn);
        None
    }

    /// Keeps `conn` as the session's connection to `set`.
    pub fn put(&self, set: &str, mut conn: Conn, epoch: u64) {
        conn.make_private();
        let old = self
            .0
            .lock()
            .expect("pins")
            .insert(set.to_string(), (conn, epoch));
        if let Some((c, _)) = old {
            super::conns::discard(c);
        }
    }

    /// Whether the session holds a connection to `set` leading to the primary of
    /// `epoch` (not one in use by a running statement).
    pub fn holds(&self, set: &str, epoch: u64) -> bool {
        self.0
            .lock()
            .expect("pins")
            .get(set)
            .is_some_and(|(_, at)| *at == epoch)
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().expect("pins").is_empty()
    }

    /// Runs a session-state statement (`SET ...`, `USE ...`) on every pinned
    /// connection not in use; one that fails is unpinned and closed.
    pub async fn apply(&self, sql: &str) -> Result<(), ProxyError> {
        let all = std::mem::take(&mut *self.0.lock().expect("pins"));
        let mut first_error = None;
        for (set, (mut conn, epoch)) in all {
            match conn.query_drop(sql).await {
                Ok(()) => self.put(&set, conn, epoch),
                Err(e) => {
                    first_error.get_or_insert(ProxyError::from_backend(&set, e));
                    super::conns::discard(conn);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Closes every pinned connection (the session ended or was reset).
    pub fn clear(&self) {
        let all = std::mem::take(&mut *self.0.lock().expect("pins"));
        for (_, (conn, _)) in all {
            super::conns::discard(conn);
        }
    }
}
