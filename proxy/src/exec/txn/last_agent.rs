//! The coordinator's branch of a last-agent commit (`crate::xa_sets`): after
//! the other written branches prepared, it inserts the decision row and
//! commits in one phase, in one round trip. Its outcome decides the whole
//! transaction.

use mysql_async::prelude::Queryable;

use crate::backend::Conn;
use crate::error::ProxyError;
use crate::exec::conns::discard;
use crate::xa_sets::xid;

/// How the coordinator's branch ended.
pub(super) enum Outcome {
    /// Committed with the decision row: every prepared branch commits.
    Committed(Conn),
    /// Rolled back (with the reason, if the coordinator itself failed): every
    /// prepared branch rolls back. The connection, when it can be lent again.
    RolledBack(Option<Conn>, Option<ProxyError>),
    /// Not known (the connection broke during the commit): the prepared
    /// branches are left to recovery, which decides by the row.
    Unknown(ProxyError),
    /// Given up: the set's primary changed during the commit (never made
    /// by [`decide`]; see `super::moved`).
    Moved,
    /// The decision table is missing on this set: the branch is still open
    /// (the INSERT failed alone), to be prepared and decided in etcd.
    NoTable(Conn),
}

/// Commits the coordinator's branch `set` with the decision row when
/// `commit` (every other written branch prepared), else rolls it back.
///
/// The branch is never prepared: unless its own commit succeeds it cannot
/// commit, and closing its connection rolls it back. Only a connection that
/// breaks during the commit leaves the outcome unknown.
pub(super) async fn decide(gtrid: &str, set: &str, mut conn: Conn, commit: bool) -> Outcome {
    let x = xid(gtrid, set);
    if !commit {
        return rolled_back(conn, &x, None).await;
    }
    let sql = format!(
        "{}; XA END {x}; XA COMMIT {x} ONE PHASE",
        crate::xa_sets::record(gtrid)
    );
    match crate::observe::backend_part(set, conn.query_drop(sql)).await {
        Ok(()) => Outcome::Committed(conn),
        Err(mysql_async::Error::Server(e)) if crate::xa_sets::missing(e.code) => {
            Outcome::NoTable(conn)
        }
        // Nothing committed: the INSERT (1062: recovery decided first), the
        // XA END or the commit failed.
        Err(e @ mysql_async::Error::Server(_)) => {
            let err = ProxyError::from_backend(set, e);
            rolled_back(conn, &x, Some(err)).await
        }
        Err(e) => {
            tracing::warn!(%set, %gtrid, "the coordinator's commit broke: {e}");
            discard(conn);
            Outcome::Unknown(ProxyError::BackendLost {
                set: set.into(),
                detail: "the connection broke during COMMIT: the transaction's outcome \
                         is recorded on that set, and recovery finishes it"
                    .into(),
            })
        }
    }
}

/// Rolls the (unprepared) branch `x` back; a connection that cannot is closed,
/// which rolls it back too.
async fn rolled_back(mut conn: Conn, x: &str, e: Option<ProxyError>) -> Outcome {
    let _ = conn.query_drop(format!("XA END {x}")).await;
    match conn.query_drop(format!("XA ROLLBACK {x}")).await {
        Ok(()) => Outcome::RolledBack(Some(conn), e),
        Err(_) => {
            discard(conn);
            Outcome::RolledBack(None, e)
        }
    }
}
