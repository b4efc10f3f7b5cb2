//! `SQL_CALC_FOUND_ROWS` over the sets a statement runs on: each set counts
//! its own rows (without the LIMIT it was sent), read back with
//! `SELECT FOUND_ROWS()` on the connection its part ran on, and summed. Right
//! wherever the sets' rows are disjoint and not grouped: one set, a
//! concatenation, a sorted merge (`route::scatter` refuses the rest).

use mysql_async::prelude::Queryable;

use super::Exec;
use crate::backend::Conn;
use crate::merge::stream::SetStream;

/// The statement's total so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CalcFound {
    pub total: u64,
    /// A set's count could not be read: the total is unknown.
    pub lost: bool,
}

impl Exec<'_> {
    /// Adds `set`'s `FOUND_ROWS()` (its part ran on `conn` and succeeded), when
    /// the statement asked for it.
    pub(super) async fn add_found(&mut self, _set: &str, conn: &mut Conn) {
        let Some(c) = self.calc_found.as_mut() else {
            return;
        };
        match conn.query_first::<u64, _>("SELECT FOUND_ROWS()").await {
            Ok(Some(n)) => c.total = c.total.saturating_add(n),
            _ => c.lost = true,
        }
    }

    /// Waits for a merge's per-set tasks, reads each set's count, and returns
    /// their connections.
    pub(super) async fn recover_found(&mut self, streams: Vec<SetStream>) {
        for s in streams {
            drop(s.rx);
            match s.task.await {
                Ok(mut conn) => {
                    self.add_found(&s.set, &mut conn).await;
                    self.give_back(&s.set, conn, None);
                }
                Err(_) => {
                    if let Some(c) = self.calc_found.as_mut() {
                        c.lost = true;
                    }
                }
            }
        }
    }
}
