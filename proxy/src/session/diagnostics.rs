//! The diagnostics area: `SHOW WARNINGS` / `SHOW ERRORS` / `GET DIAGNOSTICS`
//! read where the session's last statement ran.

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::route::{Merge, Plan, Target};
use crate::show;

impl Session {
    /// `SHOW WARNINGS` and friends: read where the last statement ran (the kept
    /// connection, or the open transaction's last set); with neither, any set
    /// answers (an empty diagnostics area, as after a clean statement).
    pub(super) async fn diagnostics(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        if let Some((set, conn)) = self.diag.as_mut() {
            return match crate::exec::stream_all(conn, set, &self.codec.wire(sql), out).await? {
                Ok(()) => Ok(true),
                Err(e) => fail(out, &e).await,
            };
        }
        let snap = self.snapshot();
        if let Some(set) = self
            .txn
            .as_ref()
            .and_then(|t| t.conns.keys().next().cloned())
        {
            let plan = Plan {
                target: Target::Sets(vec![set]),
                merge: Merge::Single,
            };
            out.status = self.status();
            let mut exec = self.exec(&snap);
            exec.write = false;
            return exec.run(&plan, sql, out).await;
        }
        // No kept diagnostics: the last statement left none. A pooled connection
        // may still hold another session's, so clear them first (only a statement
        // that uses a table resets MariaDB's diagnostics area).
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
            Ok((set, mut conn)) => {
                match crate::exec::stream_all(&mut conn, &set, &self.codec.wire(sql), out).await? {
                    Ok(()) => Ok(true),
                    Err(e) => fail(out, &e).await,
                }
            }
            Err(e) => fail(out, &e).await,
        }
    }
}
