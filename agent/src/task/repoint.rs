//! `repoint {host, port, from_binlog}`: replicate from `host:port` by GTID.
//!
//! `STOP SLAVE`, fence ([`crate::fence`]: `read_only = ON` made to go through,
//! semi-sync master OFF; an old primary's client sessions ended), semi-sync slave ON
//! (before `START SLAVE`, so the IO thread acknowledges to a semi-sync primary), with
//! `from_binlog` `gtid_slave_pos = @@gtid_binlog_pos` (an old primary: what it wrote
//! itself counts as applied), the node's prepared gateway XA branches that the
//! primary does not hold decided ([`crate::prepared`]), `CHANGE MASTER TO ...
//! MASTER_USE_GTID=slave_pos`, `START SLAVE`, then a bounded wait until both threads
//! run. The pieces are shared with [`super::rebuild`].

use mysql_async::Conn;
use tokio::time::Instant;
use tracing::{info, warn};

use super::TaskContext;
use crate::db::text_column;
use crate::db::{self, SqlResult};

pub async fn repoint(
    conn: &mut Conn,
    ctx: &TaskContext,
    host: &str,
    port: u16,
    from_binlog: bool,
    deadline: Instant,
) -> SqlResult<()> {
    become_replica(conn, ctx, from_binlog, deadline).await?;
    if from_binlog {
        let pos = db::global(conn, "gtid_binlog_pos").await?;
        db::exec(
            conn,
            &format!("SET GLOBAL gtid_slave_pos = {}", db::quote(&pos)),
        )
        .await?;
        info!(gtid_slave_pos = %pos, "repoint: replicating from the node's own binlog position");
    }
    // Before replicating: a prepared gateway branch the primary does not hold (an old
    // primary killed inside a commit) would hold its rows' locks against the
    // replicated writes. Not fatal: the replica's periodic look tries again.
    let primary = ctx.remote(host, port);
    if let Err(e) = crate::prepared::settle(conn, &primary, None).await {
        warn!("repoint: deciding the node's prepared XA branches: {e}");
    }
    replicate_from(conn, ctx, host, port, deadline).await
}

/// Stops replication and makes the node a read-only semi-sync replica, fenced
/// first ([`crate::fence`]; `kill_clients` for an old primary: no client session
/// survives).
pub async fn become_replica(
    conn: &mut Conn,
    ctx: &TaskContext,
    kill_clients: bool,
    deadline: Instant,
) -> SqlResult<()> {
    db::stop_slave(conn).await?;
    crate::fence::fence(conn, &ctx.local, kill_clients, deadline).await?;
    db::exec(conn, "SET GLOBAL rpl_semi_sync_slave_enabled = ON").await
}

/// The `CHANGE MASTER TO` of a replica of `host:port`.
pub fn change_master_sql(ctx: &TaskContext, host: &str, port: u16) -> String {
    format!(
        "CHANGE MASTER TO MASTER_HOST={}, MASTER_PORT={port}, MASTER_USER={}, \
         MASTER_PASSWORD={}, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1{}",
        db::quote(host),
        db::quote(&ctx.replication.user),
        db::quote(&ctx.replication.password),
        ctx.replication.tls.change_master_clause(),
    )
}

/// `CHANGE MASTER TO`, `START SLAVE`, and a wait until the IO thread is connected
/// and the SQL thread runs.
pub async fn replicate_from(
    conn: &mut Conn,
    ctx: &TaskContext,
    host: &str,
    port: u16,
    deadline: Instant,
) -> SqlResult<()> {
    db::exec(conn, &change_master_sql(ctx, host, port)).await?;
    db::exec(conn, "START SLAVE").await?;
    wait_running(conn, host, port, deadline).await?;
    info!(master = %format!("{host}:{port}"), "replicating");
    Ok(())
}

/// Errors of the IO thread that retrying does not cure (the source lacks the GTIDs
/// asked for, or the replica diverged): ER_MASTER_FATAL_ERROR_READING_BINLOG.
const FATAL_IO_ERRNOS: [&str; 1] = ["1236"];

async fn wait_running(conn: &mut Conn, host: &str, port: u16, deadline: Instant) -> SqlResult<()> {
    loop {
        let row: Option<mysql_async::Row> =
            mysql_async::prelude::Queryable::query_first(conn, "SHOW SLAVE STATUS")
                .await
                .map_err(|e| format!("SHOW SLAVE STATUS: {}", crate::db::describe(&e)))?;
        let Some(row) = row else {
            return Err("no replication configured after CHANGE MASTER".into());
        };
        let col = |name: &str| {
            text_column(&row, name)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let io = col("Slave_IO_Running").unwrap_or_default();
        let sql = col("Slave_SQL_Running").unwrap_or_default();
        if io == "Yes" && sql == "Yes" {
            return Ok(());
        }
        if sql != "Yes" {
            if let Some(e) = col("Last_SQL_Error") {
                return Err(format!("replication SQL thread stopped: {e}"));
            }
        }
        let io_error = col("Last_IO_Error");
        if io == "No" {
            if let (Some(n), Some(e)) = (col("Last_IO_Errno"), &io_error) {
                if FATAL_IO_ERRNOS.contains(&n.as_str()) {
                    return Err(format!("replication from {host}:{port} failed: {e}"));
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "replication from {host}:{port} did not start in time (IO thread {io}, \
                 SQL thread {sql}{})",
                io_error
                    .map(|e| format!(", last IO error: {e}"))
                    .unwrap_or_default()
            ));
        }
        db::pause().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn change_master_statement() {
        let ctx = TaskContext {
            local: crate::db::ProbeTarget {
                node: "n".into(),
                host: "127.0.0.1".into(),
                port: 3310,
                user: "setwise".into(),
                password: "setwise".into(),
                connect_timeout: Duration::from_secs(1),
                probe_timeout: Duration::from_secs(2),
                tls: Default::default(),
            },
            replication: crate::config::ReplicationConfig {
                user: "repl".into(),
                password: "it's".into(),
                tls: Default::default(),
            },
            task_timeout: Duration::from_secs(60),
            rebuild_timeout: Duration::from_secs(600),
            server: Default::default(),
            set: "s".into(),
            topo: None,
        };
        let sql = change_master_sql(&ctx, "10.0.0.5", 3311);
        assert_eq!(
            sql,
            "CHANGE MASTER TO MASTER_HOST='10.0.0.5', MASTER_PORT=3311, MASTER_USER='repl', \
             MASTER_PASSWORD='it''s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1"
        );
        assert!(!db::redact(&sql).contains("it''s"));
        assert_eq!(ctx.bound(&topo::Task::ReadOnly), Duration::from_secs(60));
        assert_eq!(
            ctx.bound(&topo::Task::Rebuild {
                host: "h".into(),
                port: 1
            }),
            Duration::from_secs(600)
        );
    }
}
