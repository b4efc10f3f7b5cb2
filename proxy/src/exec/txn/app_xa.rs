//! The application's own XA across sets (`XA PREPARE` from the client, then
//! `XA COMMIT` / `XA ROLLBACK`, or the branches left prepared): every branch
//! ends and prepares on its connection, then finishes there or is detached.
//! The session side is `crate::session::app_xa`.

use mysql_async::prelude::Queryable;

use super::commit::lost_before;
use super::Txn;
use crate::error::ProxyError;
use crate::exec::conns::discard;
use crate::xa_sets::xid;

impl Txn {
    /// The application's `XA PREPARE`: every branch ends and prepares, all sets at
    /// once, and stays on its connection until [`finish_prepared`](Self::finish_prepared)
    /// or [`detach`](Self::detach). If one fails, every branch rolls back and its
    /// error is returned.
    pub async fn prepare_all(mut self) -> Result<Txn, ProxyError> {
        self.claim_ahead(None).await;
        if let Some(reason) = self.broken.take() {
            let _ = self.rollback().await;
            return Err(lost_before("XA PREPARE", &reason));
        }
        let gtrid = self.gtrid.clone();
        let done = futures::future::join_all(self.conns.iter_mut().map(|(set, conn)| {
            let x = xid(&gtrid, set);
            async move {
                let prepare = conn.query_drop(format!("XA END {x}; XA PREPARE {x}"));
                crate::observe::backend_part(set, prepare)
                    .await
                    .map_err(|e| ProxyError::from_backend(set, e))
            }
        }))
        .await;
        match done.into_iter().find_map(Result::err) {
            None => Ok(self),
            Some(e) => {
                // Ended or prepared branches roll back; one still active closes
                // (which rolls it back).
                let _ = self.finish_prepared(false).await;
                Err(e)
            }
        }
    }

    /// Commits or rolls back every prepared branch on its own connection.
    pub async fn finish_prepared(self, commit: bool) -> Result<(), ProxyError> {
        let ends = self.ends();
        let gtrid = self.gtrid;
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        let done = futures::future::join_all(self.conns.into_iter().map(|(set, mut conn)| {
            let x = xid(&gtrid, &set);
            let ends = &ends;
            async move {
                let r =
                    crate::observe::backend_part(&set, conn.query_drop(format!("XA {verb} {x}")))
                        .await
                        .map_err(|e| ProxyError::from_backend(&set, e));
                ends.end(&set, conn, r.is_ok());
                r
            }
        }))
        .await;
        done.into_iter().collect()
    }

    /// Leaves every prepared branch to MariaDB: the connections close and the
    /// branches stay prepared (for `XA COMMIT` / `XA ROLLBACK` from elsewhere).
    pub fn detach(self) {
        for (_, conn) in self.conns {
            discard(conn);
        }
    }
}
