//! `promote {wait_gtid, sync, semi_timeout_ms}`: make the node its set's primary.
//!
//! 1. A node with no replication configured is promoted already: only the sync
//!    settings and `read_only = OFF` are made sure of (a no-op when they hold).
//! 2. `STOP SLAVE IO_THREAD` — except while `wait_gtid` is given, not yet received and
//!    the IO thread runs (a switchover: the old primary is fenced and its last
//!    transactions may still be on the way); it is stopped once they are applied.
//! 3. `MASTER_GTID_WAIT` (in short slices, bounded) until `wait_gtid`, or else all
//!    that was received (`Gtid_IO_Pos`), is applied. A SQL thread stopped with an
//!    error fails the task; one stopped without an error is started again.
//! 4. `STOP SLAVE`, `RESET SLAVE ALL`, semi-sync master per the sync mode
//!    ([`crate::sync`]), `read_only = OFF`.

use mysql_async::Conn;
use tokio::time::Instant;
use topo::gtid::GtidPos;
use topo::SyncMode;
use tracing::{info, warn};

use crate::db::text_column;
use crate::db::{self, SqlResult};

pub async fn promote(
    conn: &mut Conn,
    wait_gtid: Option<&str>,
    sync: SyncMode,
    semi_timeout_ms: u64,
    deadline: Instant,
) -> SqlResult<()> {
    let wait_gtid = wait_gtid.map(str::trim).filter(|w| !w.is_empty());
    if let Some(w) = wait_gtid {
        GtidPos::parse(w).map_err(|e| format!("wait_gtid: {e}"))?;
    }
    if let Some(status) = db::slave(conn).await? {
        let io_pos = GtidPos::parse_lossy(status.gtid_io_pos.as_deref().unwrap_or(""));
        let keep_io = status.io_running
            && wait_gtid.is_some_and(|w| !io_pos.contains(&GtidPos::parse_lossy(w)));
        if !keep_io {
            db::stop_io_thread(conn).await?;
        }
        let target = match wait_gtid {
            Some(w) => w.to_string(),
            None => db::slave(conn)
                .await?
                .and_then(|s| s.gtid_io_pos)
                .unwrap_or_default(),
        };
        if !target.is_empty() {
            wait_applied(conn, &target, wait_gtid.is_some(), deadline).await?;
        }
        db::exec(conn, "STOP SLAVE").await?;
        db::exec(conn, "RESET SLAVE ALL").await?;
        info!(applied = %target, "promote: replication stopped and reset");
    }
    crate::sync::apply(conn, sync, semi_timeout_ms).await?;
    if db::global(conn, "read_only").await? != "0" {
        db::exec(conn, "SET GLOBAL read_only = OFF").await?;
        info!("promote: read_only = OFF");
    }
    Ok(())
}

/// Waits until the SQL thread has applied `target`.
///
/// `required`: `target` is the scheduler's `wait_gtid` and must be reached. Otherwise
/// it is what the IO thread received, and a SQL thread that has read all of its relay
/// log while short of it (the last transaction arrived incomplete) ends the wait.
async fn wait_applied(
    conn: &mut Conn,
    target: &str,
    required: bool,
    deadline: Instant,
) -> SqlResult<()> {
    let want = GtidPos::parse(target).map_err(|e| format!("wait position: {e}"))?;
    let mut io_stopped = false;
    loop {
        let row: Option<mysql_async::Row> =
            mysql_async::prelude::Queryable::query_first(conn, "SHOW SLAVE STATUS")
                .await
                .map_err(|e| format!("SHOW SLAVE STATUS: {}", crate::db::describe(&e)))?;
        let col = |name: &str| row.as_ref().and_then(|r| text_column(r, name));
        let sql_running = col("Slave_SQL_Running").as_deref() == Some("Yes");
        let io_running = col("Slave_IO_Running").as_deref() == Some("Yes");
        let sql_error = col("Last_SQL_Error").filter(|e| !e.trim().is_empty());
        let io_pos = GtidPos::parse_lossy(col("Gtid_IO_Pos").as_deref().unwrap_or(""));
        if !sql_running {
            if let Some(e) = sql_error {
                return Err(format!(
                    "the SQL thread stopped with an error before applying {target}: {e}"
                ));
            }
            db::exec(conn, "START SLAVE SQL_THREAD").await?;
        }
        if io_running && !io_stopped && io_pos.contains(&want) {
            // Received all that is waited for: nothing more may arrive.
            db::stop_io_thread(conn).await?;
            io_stopped = true;
        }
        let current = db::global(conn, "gtid_current_pos").await?;
        if GtidPos::parse_lossy(&current).contains(&want) {
            return Ok(());
        }
        if !io_running && required && !io_pos.contains(&want) {
            return Err(format!(
                "cannot reach {target}: received only {} and the IO thread is not running",
                if io_pos.is_empty() {
                    "nothing".to_string()
                } else {
                    io_pos.to_string()
                }
            ));
        }
        let state = col("Slave_SQL_Running_State").unwrap_or_default();
        if !io_running && !required && sql_running && state.contains("read all relay log") {
            // The SQL thread idles with everything received applied.
            let r = db::scalar(
                conn,
                &format!("SELECT MASTER_GTID_WAIT({}, 0.5)", db::quote(target)),
            )
            .await?;
            if r.as_deref() == Some("0") {
                return Ok(());
            }
            warn!(
                received = %target,
                applied = %current,
                "promote: the relay log is applied but short of what was received \
                 (an incomplete last transaction); promoting at the applied position"
            );
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "the SQL thread did not apply {target} in time (applied: {current:?})"
            ));
        }
        let slice = left.as_secs_f64().min(1.0);
        let r = db::scalar(
            conn,
            &format!("SELECT MASTER_GTID_WAIT({}, {slice:.3})", db::quote(target)),
        )
        .await?;
        match r.as_deref() {
            Some("0") => {
                if !io_stopped && io_running {
                    db::stop_io_thread(conn).await?;
                }
                return Ok(());
            }
            Some("-1") => {}
            other => return Err(format!("MASTER_GTID_WAIT({target}) returned {other:?}")),
        }
    }
}
