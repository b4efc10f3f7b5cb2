//! Branches of a session's next transaction, started by its COMMIT.
//!
//! A transaction's branches end with `XA END; XA COMMIT ... ONE PHASE`, one
//! round trip per set. When a session in autocommit mode commits with COMMIT,
//! that same round trip also starts a branch of its next transaction on the
//! set (`...; XA START 'next','set'`), and its next BEGIN finds the branch
//! ready ([`super::ahead::Ahead::Ready`]) instead of starting it ahead in a
//! round trip of its own. An XA branch holds nothing before its first
//! statement — no read view (InnoDB takes it at the first read), no row or
//! metadata locks — so starting it early changes no answer.
//!
//! Such a connection is out of its pool while the session is between
//! transactions: at most half of a pool is held so
//! ([`crate::backend::Conn::hold`]). The branches are given back — `XA END;
//! XA ROLLBACK`, the connection to its pool — when the session's next command
//! is anything but a BEGIN that can use them (same session state, no
//! `SET TRANSACTION`, not READ ONLY), or when the session ends. A one-phase
//! commit primes every branch; a two-phase one the branches that prepared
//! (their `XA COMMIT` carries it), not the coordinator's (whose one-phase
//! commit decides the transaction: its round trip carries nothing else).

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;

use crate::backend::{Conn, Hold, PoolKey};
use crate::exec::conns::discard;
use crate::xa_sets::xid;

/// A branch started by a COMMIT: its connection, the routing epoch of the
/// set's primary it leads to, and its place in the pool's count.
pub struct Branch {
    pub conn: Conn,
    pub epoch: u64,
    pub hold: Hold,
}

/// The branches the session's last COMMIT started, by set, all of the
/// transaction `gtrid`, with the pool key the session's state gave each
/// connection then.
pub struct Primed {
    pub gtrid: String,
    pub branches: BTreeMap<String, (Branch, PoolKey)>,
}

impl Primed {
    /// Takes the branches out (the rest, if any, is given back when dropped).
    pub fn take(&mut self) -> BTreeMap<String, (Branch, PoolKey)> {
        std::mem::take(&mut self.branches)
    }

    /// Gives the branch on `set` back: ends it and returns its connection to
    /// its pool (closed if that fails).
    pub fn give_back(gtrid: &str, set: &str, b: Branch) {
        let x = xid(gtrid, set);
        let Branch { mut conn, hold, .. } = b;
        drop(hold);
        if tokio::runtime::Handle::try_current().is_err() {
            // (Closing it ends the branch.)
            return;
        }
        tokio::spawn(async move {
            match conn
                .query_drop(format!("XA END {x}; XA ROLLBACK {x}"))
                .await
            {
                Ok(()) => conn.mark_clean(),
                Err(_) => discard(conn),
            }
        });
    }
}

impl Drop for Primed {
    fn drop(&mut self) {
        for (set, (b, _)) in self.take() {
            Self::give_back(&self.gtrid, &set, b);
        }
    }
}

/// Runs `end` (`statements` statements that end a branch: `XA END; XA COMMIT
/// ... ONE PHASE`, or a prepared branch's `XA COMMIT`) on `conn` and, in the
/// same round trip, starts branch `y` there. `Ok(true)`: both done;
/// `Ok(false)`: `end` succeeded, but the new branch did not start (the
/// caller closes the connection); `Err`: `end` failed, as it would alone
/// (MariaDB stops a multi-statement at its first error: `XA START` did not
/// run).
pub async fn end_and_start(
    conn: &mut Conn,
    end: &str,
    statements: usize,
    y: &str,
) -> Result<bool, mysql_async::Error> {
    let sql = format!("{end}; XA START {y}");
    let mut res = conn.query_iter(sql).await?;
    // Reading past statement j's OK reads statement j + 1's answer.
    for _ in 1..statements {
        res.next().await?;
    }
    if res.next().await.is_err() {
        return Ok(false);
    }
    Ok(res.drop_result().await.is_ok())
}
