//! `read_only`: fence the node with `SET GLOBAL read_only = ON`.
//!
//! MariaDB sets `read_only` only once no commit is in progress. On a primary whose
//! commits wait for a semi-sync acknowledgement that never comes (a `strong` set cut
//! off from its replicas) that is never: the statement hangs, and holds new writes
//! behind it. Those commits are written to the binlog already (AFTER_SYNC) and their
//! clients have no answer yet, so the fence ends them: after a moment, every session
//! waiting for an acknowledgement is killed (the clients see a lost connection: the
//! outcome unknown), the commits finish locally, and `read_only` goes through. Such
//! transactions are in the node's binlog but perhaps on no replica: the rejoin check
//! then rebuilds the node. A `SET` still hanging at the deadline is killed, not left
//! behind in the server.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::time::Instant;
use tracing::warn;

use crate::db::{self, SqlResult};
use crate::probe::{describe, ProbeTarget};

/// How long `SET GLOBAL read_only` may wait before hung commits are looked for.
const PATIENCE: Duration = Duration::from_secs(2);

const HUNG_COMMITS: &str = "SELECT ID, COALESCE(INFO, '') FROM information_schema.PROCESSLIST \
     WHERE STATE LIKE 'Waiting for semi-sync ACK%'";

pub async fn read_only(conn: &mut Conn, local: &ProbeTarget, deadline: Instant) -> SqlResult<()> {
    let id: Option<u64> = conn
        .query_first("SELECT CONNECTION_ID()")
        .await
        .map_err(|e| format!("CONNECTION_ID(): {}", describe(&e)))?;
    let set = db::exec(conn, "SET GLOBAL read_only = ON");
    tokio::pin!(set);
    let mut next_check = Instant::now() + PATIENCE;
    let mut killed = 0usize;
    loop {
        tokio::select! {
            r = &mut set => return r,
            _ = tokio::time::sleep_until(next_check.min(deadline)) => {}
        }
        let mut other = db::connect(local).await?;
        if Instant::now() >= deadline {
            if let Some(id) = id {
                let _ = other.query_drop(format!("KILL QUERY {id}")).await;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), other.disconnect()).await;
            return Err(format!(
                "SET GLOBAL read_only = ON did not finish in time{}",
                if killed > 0 {
                    format!(" (after ending {killed} commits hung on semi-sync acknowledgements)")
                } else {
                    " (a long transaction or lock holds it)".to_string()
                }
            ));
        }
        let hung: Vec<(u64, String)> = other
            .query(HUNG_COMMITS)
            .await
            .map_err(|e| format!("information_schema.PROCESSLIST: {}", describe(&e)))?;
        for (sid, info) in hung.into_iter().filter(|(sid, _)| Some(*sid) != id) {
            warn!(
                session = sid,
                statement = %info.chars().take(200).collect::<String>(),
                "read_only: ending a commit hung on a semi-sync acknowledgement"
            );
            match other.query_drop(format!("KILL CONNECTION {sid}")).await {
                Ok(()) => killed += 1,
                // Finished meanwhile (ER_NO_SUCH_THREAD).
                Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
                Err(e) => return Err(format!("KILL CONNECTION {sid}: {}", describe(&e))),
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), other.disconnect()).await;
        next_check = Instant::now() + Duration::from_secs(1);
    }
}
