//! Fencing the local MariaDB: `SET GLOBAL read_only = ON` made to go through, and
//! optionally every client session ended. Used by the `read_only` task (a
//! switchover's old primary), by `repoint`/`rebuild` as they turn a node into a
//! replica, and by the agent itself when its node was demoted by a failover but
//! the server still takes writes (an old primary that was hung and woke up:
//! [`crate::service`] fences it at once, before any task).
//!
//! MariaDB sets `read_only` only once no commit is in progress. On a primary whose
//! commits wait for a semi-sync acknowledgement that never comes (a `strong` set cut
//! off from its replicas, or an old primary whose replicas moved on) that is never:
//! the statement hangs, and holds new writes behind it. Those commits are written to
//! the binlog already (AFTER_SYNC) and their clients have no answer yet, so the fence
//! ends them: after a moment, every session waiting for an acknowledgement is killed
//! (the clients see a lost connection: the outcome unknown), the commits finish
//! locally, and `read_only` goes through. Such transactions are in the node's binlog
//! but perhaps on no replica: the rejoin check then rebuilds the node. A `SET` still
//! hanging at the deadline is killed, not left behind in the server.
//!
//! Semi-sync master is turned off only after `read_only` holds: turned off earlier,
//! the waiting commits would return OK to their clients.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::time::Instant;
use tracing::warn;

use crate::db::{self, SqlResult};
use crate::db::{describe, ProbeTarget};

/// How long `SET GLOBAL read_only` may wait before hung commits are looked for.
const PATIENCE: Duration = Duration::from_secs(2);

const HUNG_COMMITS: &str = "SELECT ID, COALESCE(INFO, '') FROM information_schema.PROCESSLIST \
     WHERE STATE LIKE 'Waiting for semi-sync ACK%'";

/// Client sessions: not replication or server threads. The agent's own account
/// is spared (its probes and statistics) unless it waits for an acknowledgement.
const CLIENTS: &str = "SELECT ID, USER, COALESCE(INFO, '') FROM information_schema.PROCESSLIST \
     WHERE ID <> CONNECTION_ID() \
     AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon', 'Slave_IO', \
         'Slave_SQL', 'Slave_worker', 'Killed') \
     AND USER NOT IN ('system user', 'event_scheduler', 'unauthenticated user') \
     AND (USER <> ? OR STATE LIKE 'Waiting for semi-sync ACK%')";

/// Makes the node read-only; `kill_clients`: first ends every client session (an
/// old primary that must not let anyone commit). Returns how many sessions ended.
pub async fn fence(
    conn: &mut Conn,
    local: &ProbeTarget,
    kill_clients: bool,
    deadline: Instant,
) -> SqlResult<usize> {
    let mut ended = 0;
    if kill_clients {
        let clients: Vec<(u64, String, String)> = conn
            .exec(CLIENTS, (local.user.as_str(),))
            .await
            .map_err(|e| format!("information_schema.PROCESSLIST: {}", describe(&e)))?;
        for (id, user, info) in clients {
            warn!(
                session = id,
                %user,
                statement = %info.chars().take(200).collect::<String>(),
                "fence: ending a client session"
            );
            if kill(conn, id).await? {
                ended += 1;
            }
        }
    }
    ended += read_only(conn, local, deadline).await?;
    if db::global(conn, "rpl_semi_sync_master_enabled").await? != "0" {
        db::exec(conn, "SET GLOBAL rpl_semi_sync_master_enabled = OFF").await?;
    }
    Ok(ended)
}

/// `KILL CONNECTION id`; false when it had ended already.
async fn kill(conn: &mut Conn, id: u64) -> SqlResult<bool> {
    match conn.query_drop(format!("KILL CONNECTION {id}")).await {
        Ok(()) => Ok(true),
        // Finished meanwhile (ER_NO_SUCH_THREAD).
        Err(mysql_async::Error::Server(e)) if e.code == 1094 => Ok(false),
        Err(e) => Err(format!("KILL CONNECTION {id}: {}", describe(&e))),
    }
}

/// `SET GLOBAL read_only = ON`, ending commits hung on acknowledgements that hold
/// it (see the module docs). Returns how many were ended.
async fn read_only(conn: &mut Conn, local: &ProbeTarget, deadline: Instant) -> SqlResult<usize> {
    if db::global(conn, "read_only").await? == "1" {
        return Ok(0);
    }
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
            r = &mut set => return r.map(|()| killed),
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
            if kill(&mut other, sid).await? {
                killed += 1;
            }
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), other.disconnect()).await;
        next_check = Instant::now() + Duration::from_secs(1);
    }
}
