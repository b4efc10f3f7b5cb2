//! One probe of the local MariaDB with a short connection: a new connection each time
//! (connect timeout), `SELECT 1` (readable), status variables and `SHOW SLAVE STATUS`,
//! and — when `@@read_only` is OFF — a heartbeat upsert (writable). A probe never
//! fails: what went wrong is in [`ProbeOutcome::error`].
//!
//! A mariadbd the kernel has stopped (SIGSTOP: what a frozen VM or a stalled host
//! looks like) is seen from `/proc` ([`crate::host::stopped_pid`]): before a probe and
//! every [`FROZEN_CHECK`] while one waits, instead of after the connect timeout. It is
//! reported frozen once it has stayed stopped for `frozen_after_ms` (a stop shorter
//! than that — a debugger's breakpoint, a short pause — is not a hang worth a
//! failover).
//!
//! A heartbeat write that hangs (e.g. a strong-sync primary waiting for an ack nobody
//! sends) is left running in the background, and no new write is started until it ends,
//! so a stuck primary does not collect one hung connection per probe.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use crate::db::{describe, slave_status, text_column, ProbeTarget, SlaveStatus};

/// What one probe saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeOutcome {
    pub readable: bool,
    pub writable: bool,
    pub read_only: Option<bool>,
    pub gtid_current_pos: Option<String>,
    pub gtid_binlog_pos: Option<String>,
    pub slave: Option<SlaveStatus>,
    /// `Rpl_semi_sync_master_status` while `rpl_semi_sync_master_enabled` is ON.
    pub semi_sync_master: Option<bool>,
    /// `Rpl_semi_sync_master_clients`.
    pub semi_sync_clients: Option<u64>,
    /// The semi-sync master variables (enabled, timeout, wait point).
    pub semi_sync_vars: Option<crate::sync::SemiSync>,
    /// `@@pid_file` and `@@datadir`, for the host measurements ([`crate::host`]).
    pub pid_file: Option<String>,
    pub datadir: Option<String>,
    pub error: Option<String>,
    /// The kernel has the process stopped (see the module docs).
    pub frozen: bool,
}

/// How often a waiting probe looks whether mariadbd was stopped.
pub const FROZEN_CHECK: Duration = Duration::from_millis(50);

/// Probes one MariaDB instance, remembering a heartbeat write still in flight.
pub struct Prober {
    target: ProbeTarget,
    pending_write: Option<(JoinHandle<Result<(), String>>, Instant)>,
    /// Whether the node's record says it is the primary (as last read from etcd): only
    /// then is the heartbeat written. A writable node that is not the primary — an old
    /// primary restarted with its old settings — must not get a transaction of its own,
    /// or it could no longer simply rejoin.
    may_write: bool,
    /// `@@pid_file` as last read: where to look for the process in `/proc`.
    pid_file: Option<String>,
    /// Since when the process has been seen stopped (None: running when last seen).
    stopped_since: Option<Instant>,
    /// How long it must stay stopped to be reported frozen.
    frozen_after: Duration,
}

/// Written only while `read_only` is still OFF when the statement runs: the agent's
/// account has READ_ONLY ADMIN, and a heartbeat committed after a fence turned
/// `read_only` on would be a transaction the new primary never gets. (`SET GLOBAL
/// read_only = ON` waits for statements already running, so a heartbeat that saw OFF
/// is inside the fenced position.)
const HEARTBEAT_UPSERT: &str = "INSERT INTO setwise_sys.heartbeat (node, ts) \
     SELECT ?, NOW(6) FROM DUAL WHERE @@GLOBAL.read_only = 0 \
     ON DUPLICATE KEY UPDATE ts = VALUES(ts)";
const CREATE_DB: &str = "CREATE DATABASE IF NOT EXISTS setwise_sys";
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS setwise_sys.heartbeat \
     (node VARCHAR(64) PRIMARY KEY, ts DATETIME(6) NOT NULL) ENGINE=InnoDB";
/// ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE.
const MISSING_SCHEMA: [u16; 2] = [1049, 1146];

impl Prober {
    pub fn new(target: ProbeTarget) -> Self {
        Self {
            target,
            pending_write: None,
            may_write: false,
            pid_file: None,
            stopped_since: None,
            frozen_after: Duration::from_millis(300),
        }
    }

    /// Allows (or stops) the heartbeat write; see [`Prober`].
    pub fn set_may_write(&mut self, may: bool) {
        self.may_write = may;
    }

    pub fn target(&self) -> &ProbeTarget {
        &self.target
    }

    /// How long mariadbd must stay stopped to be reported frozen.
    pub fn set_frozen_after(&mut self, d: Duration) {
        self.frozen_after = d;
    }

    /// What a probe says when the kernel has had mariadbd stopped for
    /// `frozen_after` (None: it runs, it stopped only just now, or the agent cannot
    /// see its process).
    pub fn frozen(&mut self) -> Option<ProbeOutcome> {
        let pid_file = self.pid_file.clone()?;
        let (out, since) = frozen_for(&pid_file, self.stopped_since, self.frozen_after);
        self.stopped_since = since;
        out
    }

    /// Runs one probe; takes at most the probe timeout (plus a little to close),
    /// and ends early when the process is seen frozen.
    pub async fn probe(&mut self) -> ProbeOutcome {
        if let Some(f) = self.frozen() {
            return f;
        }
        let (pid_file, since, after) =
            (self.pid_file.clone(), self.stopped_since, self.frozen_after);
        let out = tokio::select! {
            o = self.probe_live() => o,
            Some((f, since)) = until_frozen(pid_file, since, after) => {
                self.stopped_since = Some(since);
                f
            }
        };
        if out.readable {
            self.stopped_since = None;
        }
        if let Some(p) = &out.pid_file {
            self.pid_file = Some(p.clone());
        }
        out
    }

    async fn probe_live(&mut self) -> ProbeOutcome {
        let start = Instant::now();
        let deadline = start + self.target.probe_timeout;
        let mut out = ProbeOutcome::default();

        let connect_by = (start + self.target.connect_timeout).min(deadline);
        let mut conn = match timeout_at(connect_by, Conn::new(self.target.opts())).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                out.error = Some(format!("connect: {}", describe(&e)));
                return out;
            }
            Err(_) => {
                out.error = Some(format!(
                    "connect: timed out after {} ms",
                    self.target.connect_timeout.as_millis()
                ));
                return out;
            }
        };

        match timeout_at(deadline, read_state(&mut conn, &mut out)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                out.error = Some(e);
                close(conn).await;
                return out;
            }
            Err(_) => {
                out.error = Some(format!(
                    "probe timed out after {} ms",
                    self.target.probe_timeout.as_millis()
                ));
                return out;
            }
        }

        if out.read_only != Some(false) || !self.may_write {
            close(conn).await;
            return out;
        }
        // read_only is OFF: prove the node takes writes.
        if let Some((handle, since)) = &self.pending_write {
            if !handle.is_finished() {
                out.error = Some(format!(
                    "heartbeat write still pending after {} ms",
                    since.elapsed().as_millis()
                ));
                close(conn).await;
                return out;
            }
            self.pending_write = None;
        }
        let node = self.target.node.clone();
        let mut handle = tokio::spawn(async move {
            let r = write_heartbeat(&mut conn, &node).await;
            close(conn).await;
            r
        });
        match timeout_at(deadline, &mut handle).await {
            Ok(Ok(Ok(()))) => out.writable = true,
            Ok(Ok(Err(e))) => out.error = Some(e),
            Ok(Err(join)) => out.error = Some(format!("heartbeat write task failed: {join}")),
            Err(_) => {
                out.error = Some(format!(
                    "heartbeat write timed out after {} ms",
                    self.target.probe_timeout.as_millis()
                ));
                self.pending_write = Some((handle, start));
            }
        }
        out
    }
}

/// Resolves with a frozen outcome, and since when the process is stopped, once the
/// process named by `pid_file` has been stopped for `after` (`since`: stopped
/// already since then); never resolves without a pid file (None: pending forever).
async fn until_frozen(
    pid_file: Option<String>,
    mut since: Option<Instant>,
    after: Duration,
) -> Option<(ProbeOutcome, Instant)> {
    let pid_file = pid_file?;
    loop {
        tokio::time::sleep(FROZEN_CHECK).await;
        let (out, now_since) = frozen_for(&pid_file, since, after);
        if let (Some(out), Some(at)) = (out, now_since) {
            return Some((out, at));
        }
        since = now_since;
    }
}

/// The frozen outcome if the process named by `pid_file` is stopped and has been
/// since `since` for at least `after`; and since when it is seen stopped now.
fn frozen_for(
    pid_file: &str,
    since: Option<Instant>,
    after: Duration,
) -> (Option<ProbeOutcome>, Option<Instant>) {
    let Some(pid) = crate::host::stopped_pid(pid_file) else {
        return (None, None);
    };
    let since = since.unwrap_or_else(Instant::now);
    if since.elapsed() < after {
        return (None, Some(since));
    }
    let out = ProbeOutcome {
        error: Some(format!(
            "mariadbd (pid {pid}) has been stopped by the kernel for {} ms (process state T): frozen",
            since.elapsed().as_millis()
        )),
        frozen: true,
        pid_file: Some(pid_file.to_string()),
        ..Default::default()
    };
    (Some(out), Some(since))
}

/// `SELECT 1`, then variables, semi-sync status and `SHOW SLAVE STATUS`.
async fn read_state(conn: &mut Conn, out: &mut ProbeOutcome) -> Result<(), String> {
    let one: Option<i64> = conn
        .query_first("SELECT 1")
        .await
        .map_err(|e| format!("SELECT 1: {}", describe(&e)))?;
    if one != Some(1) {
        return Err(format!("SELECT 1 returned {one:?}"));
    }
    out.readable = true;
    type Vars = (
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<u64>,
        Option<String>,
    );
    let vars: Option<Vars> = conn
        .query_first(
            "SELECT @@read_only, @@gtid_current_pos, @@gtid_binlog_pos, \
             @@rpl_semi_sync_master_enabled, @@pid_file, @@datadir, \
             @@rpl_semi_sync_master_timeout, @@rpl_semi_sync_master_wait_point",
        )
        .await
        .map_err(|e| format!("read variables: {}", describe(&e)))?;
    let mut semi_enabled = false;
    if let Some((ro, gtid, binlog, semi, pid_file, datadir, timeout, wait_point)) = vars {
        out.semi_sync_vars = Some(crate::sync::SemiSync::from_vars(
            semi.unwrap_or(0) != 0,
            timeout.unwrap_or(0),
            wait_point.as_deref().unwrap_or(""),
        ));
        out.read_only = ro.map(|v| v != 0);
        out.gtid_current_pos = gtid;
        out.gtid_binlog_pos = binlog;
        semi_enabled = semi.unwrap_or(0) != 0;
        out.pid_file = pid_file.filter(|s| !s.is_empty());
        out.datadir = datadir.filter(|s| !s.is_empty());
    }
    let status: Vec<(String, String)> = conn
        .query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")
        .await
        .map_err(|e| format!("semi-sync status: {}", describe(&e)))?;
    let (master_status, clients) = semi_sync_status(&status);
    out.semi_sync_master = master_status.filter(|_| semi_enabled);
    out.semi_sync_clients = clients;
    let row: Option<Row> = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .map_err(|e| format!("SHOW SLAVE STATUS: {}", describe(&e)))?;
    out.slave = row.map(|r| slave_status(&|name| text_column(&r, name)));
    Ok(())
}

/// `Rpl_semi_sync_master_status` (ON = true) and `Rpl_semi_sync_master_clients`
/// from `SHOW GLOBAL STATUS` rows.
pub fn semi_sync_status(rows: &[(String, String)]) -> (Option<bool>, Option<u64>) {
    let get = |name: &str| {
        rows.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    (
        get("Rpl_semi_sync_master_status").map(|v| v.eq_ignore_ascii_case("ON")),
        get("Rpl_semi_sync_master_clients").and_then(|v| v.parse().ok()),
    )
}

/// Upserts this node's heartbeat row, creating `setwise_sys.heartbeat` if missing.
async fn write_heartbeat(conn: &mut Conn, node: &str) -> Result<(), String> {
    let r = upsert_heartbeat(conn, node).await;
    match r {
        Ok(()) if conn.affected_rows() == 0 => Err("read_only turned ON during the probe".into()),
        other => other,
    }
}

async fn upsert_heartbeat(conn: &mut Conn, node: &str) -> Result<(), String> {
    match conn.exec_drop(HEARTBEAT_UPSERT, (node,)).await {
        Ok(()) => Ok(()),
        Err(mysql_async::Error::Server(e)) if MISSING_SCHEMA.contains(&e.code) => {
            tracing::info!("creating setwise_sys.heartbeat");
            for sql in [CREATE_DB, CREATE_TABLE] {
                conn.query_drop(sql)
                    .await
                    .map_err(|e| format!("create heartbeat table: {}", describe(&e)))?;
            }
            conn.exec_drop(HEARTBEAT_UPSERT, (node,))
                .await
                .map_err(|e| format!("heartbeat write: {}", describe(&e)))
        }
        Err(e) => Err(format!("heartbeat write: {}", describe(&e))),
    }
}

/// Closes a connection politely, without waiting long for it.
async fn close(conn: Conn) {
    let _ = tokio::time::timeout(Duration::from_millis(200), conn.disconnect()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semi_sync_status_rows() {
        let rows = vec![
            ("Rpl_semi_sync_master_clients".to_string(), "2".to_string()),
            ("Rpl_semi_sync_master_status".to_string(), "ON".to_string()),
        ];
        assert_eq!(semi_sync_status(&rows), (Some(true), Some(2)));
        let rows = vec![("Rpl_semi_sync_master_status".to_string(), "OFF".to_string())];
        assert_eq!(semi_sync_status(&rows), (Some(false), None));
        assert_eq!(semi_sync_status(&[]), (None, None));
    }

    #[tokio::test]
    async fn unreachable_server_is_reported_not_raised() {
        // Port 1 on loopback: nothing listens there.
        let mut p = Prober::new(ProbeTarget {
            node: "n".into(),
            host: "127.0.0.1".into(),
            port: 1,
            user: "u".into(),
            password: "p".into(),
            connect_timeout: Duration::from_millis(500),
            probe_timeout: Duration::from_millis(1000),
            tls: Default::default(),
        });
        let t = Instant::now();
        let o = p.probe().await;
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(!o.readable && !o.writable);
        assert!(
            o.error.as_deref().unwrap_or("").starts_with("connect:"),
            "{o:?}"
        );
    }
}
