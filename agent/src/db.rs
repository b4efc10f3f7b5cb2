//! SQL helpers shared by the agent's probe and longer jobs (tasks, statistics,
//! sync mode): where the local MariaDB is ([`ProbeTarget`]), a bounded connection to it,
//! errors described without the driver's wrapping, typed reads of variables and
//! `SHOW SLAVE STATUS`, and string quoting for statements that take no parameters
//! (`CHANGE MASTER TO`, `SET GLOBAL`).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Row};

use crate::config::MysqlConfig;

/// A failed SQL step, already described for a task's `error` or a log line.
pub type SqlResult<T> = std::result::Result<T, String>;

/// Replication state from `SHOW SLAVE STATUS` (absent when the node replicates from nobody).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlaveStatus {
    pub io_running: bool,
    pub sql_running: bool,
    pub seconds_behind_master: Option<u64>,
    /// `Last_Error`, else `Last_IO_Error` (prefixed `IO: `); None when both are empty.
    pub last_error: Option<String>,
    /// `Gtid_IO_Pos`: what the IO thread has received (None when empty).
    pub gtid_io_pos: Option<String>,
    /// `Master_Host:Master_Port` (None without a master host).
    pub master: Option<String>,
}

/// Where and how to probe.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    pub node: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub connect_timeout: Duration,
    pub probe_timeout: Duration,
    /// `[mysql.tls]` (checked when the config was loaded).
    pub tls: topo::mysql_tls::MysqlTls,
}

impl ProbeTarget {
    pub fn new(node: &str, cfg: &MysqlConfig) -> anyhow::Result<Self> {
        let (host, port) = cfg.host_port()?;
        Ok(Self {
            node: node.to_string(),
            host,
            port,
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            connect_timeout: cfg.connect_timeout(),
            probe_timeout: cfg.probe_timeout(),
            tls: cfg.tls.clone(),
        })
    }

    pub fn opts(&self) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .stmt_cache_size(0)
            .ssl_opts(self.tls.ssl_opts().unwrap_or_default())
    }
}

/// A column of a `SHOW` row as text (None when absent or NULL).
pub fn text_column(row: &Row, name: &str) -> Option<String> {
    let idx = row
        .columns_ref()
        .iter()
        .position(|c| c.name_str() == name)?;
    match row.as_ref(idx)? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Builds [`SlaveStatus`] from `SHOW SLAVE STATUS` columns looked up by name.
pub fn slave_status(col: &dyn Fn(&str) -> Option<String>) -> SlaveStatus {
    let non_empty = |name: &str| {
        col(name)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let last_error = non_empty("Last_Error")
        .or_else(|| non_empty("Last_SQL_Error"))
        .or_else(|| non_empty("Last_IO_Error").map(|e| format!("IO: {e}")));
    SlaveStatus {
        io_running: col("Slave_IO_Running").as_deref() == Some("Yes"),
        sql_running: col("Slave_SQL_Running").as_deref() == Some("Yes"),
        seconds_behind_master: col("Seconds_Behind_Master").and_then(|s| s.trim().parse().ok()),
        last_error,
        gtid_io_pos: non_empty("Gtid_IO_Pos"),
        master: non_empty("Master_Host").map(|h| match non_empty("Master_Port") {
            Some(p) if h.contains(':') => format!("[{h}]:{p}"),
            Some(p) => format!("{h}:{p}"),
            None => h,
        }),
    }
}

/// An error without the driver's wrapping: `ERROR 1045 (28000): Access denied …` for
/// server errors, the innermost cause (`Connection refused (os error 111)`) for I/O.
pub fn describe(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => s.to_string(),
        mysql_async::Error::Io(_) => {
            let mut cur: &(dyn std::error::Error + 'static) = e;
            while let Some(next) = cur.source() {
                cur = next;
            }
            cur.to_string()
        }
        other => other.to_string(),
    }
}

/// Opens a connection to the local MariaDB within the probe's connect timeout.
pub async fn connect(target: &ProbeTarget) -> SqlResult<Conn> {
    match tokio::time::timeout(target.connect_timeout, Conn::new(target.opts())).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!(
            "connect to {}:{}: {}",
            target.host,
            target.port,
            describe(&e)
        )),
        Err(_) => Err(format!(
            "connect to {}:{}: timed out after {} ms",
            target.host,
            target.port,
            target.connect_timeout.as_millis()
        )),
    }
}

/// Runs one statement; the error names it.
pub async fn exec(conn: &mut Conn, sql: &str) -> SqlResult<()> {
    conn.query_drop(sql)
        .await
        .map_err(|e| format!("{}: {}", redact(sql), describe(&e)))
}

/// First column of the first row as text (None for no row or NULL).
pub async fn scalar(conn: &mut Conn, sql: &str) -> SqlResult<Option<String>> {
    let row: Option<Row> = conn
        .query_first(sql)
        .await
        .map_err(|e| format!("{sql}: {}", describe(&e)))?;
    Ok(row.and_then(|r| {
        let name = r.columns_ref().first()?.name_str().into_owned();
        text_column(&r, &name)
    }))
}

/// `@@GLOBAL.<name>` as text.
pub async fn global(conn: &mut Conn, name: &str) -> SqlResult<String> {
    Ok(scalar(conn, &format!("SELECT @@GLOBAL.{name}"))
        .await?
        .unwrap_or_default())
}

/// `SHOW SLAVE STATUS` (None when the node has no master configured).
pub async fn slave(conn: &mut Conn) -> SqlResult<Option<SlaveStatus>> {
    let row: Option<Row> = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .map_err(|e| format!("SHOW SLAVE STATUS: {}", describe(&e)))?;
    Ok(row.map(|r| slave_status(&|name| text_column(&r, name))))
}

/// `STOP SLAVE IO_THREAD` without waiting on a hung primary. An IO thread blocked
/// reading from a primary that stopped answering (a frozen host) takes MariaDB
/// 2 s to stop (it retries the thread's kill every 2 s; a kill that lands just
/// before the thread blocks in its read is not seen). Ending the thread's
/// connection, again every 10 ms until it is gone (at most 2 s), makes the stop
/// immediate.
pub async fn stop_io_thread(conn: &mut Conn) -> SqlResult<()> {
    for _ in 0..200 {
        let ids: Vec<u64> = conn
            .query(IO_THREADS)
            .await
            .map_err(|e| format!("{IO_THREADS}: {}", describe(&e)))?;
        if ids.is_empty() {
            break;
        }
        for id in ids {
            match conn.query_drop(format!("KILL CONNECTION {id}")).await {
                Ok(()) => {}
                // Gone meanwhile (ER_NO_SUCH_THREAD).
                Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
                Err(e) => return Err(format!("KILL CONNECTION {id}: {}", describe(&e))),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    exec(conn, "STOP SLAVE IO_THREAD").await
}

/// `STOP SLAVE`, the IO thread first as in [`stop_io_thread`].
pub async fn stop_slave(conn: &mut Conn) -> SqlResult<()> {
    stop_io_thread(conn).await?;
    exec(conn, "STOP SLAVE").await
}

/// The replication IO threads' session ids.
pub const IO_THREADS: &str =
    "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'";

/// `Last_SQL_Error` of `SHOW SLAVE STATUS` (None when empty).
pub async fn last_sql_error(conn: &mut Conn) -> SqlResult<Option<String>> {
    let row: Option<Row> = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .map_err(|e| format!("SHOW SLAVE STATUS: {}", describe(&e)))?;
    Ok(row
        .and_then(|r| text_column(&r, "Last_SQL_Error"))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty()))
}

/// A single-quoted SQL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A backquoted identifier.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// The statement for logs and errors, without a password literal.
pub fn redact(sql: &str) -> String {
    match sql.find("MASTER_PASSWORD=") {
        Some(i) => {
            let rest = &sql[i + "MASTER_PASSWORD=".len()..];
            let end = rest.find(", ").unwrap_or(rest.len());
            format!("{}MASTER_PASSWORD='***'{}", &sql[..i], &rest[end..])
        }
        None => sql.to_string(),
    }
}

/// Sleeps a moment between two polls of a bounded wait.
pub async fn pause() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Databases that are the server's own, never copied, dropped or counted.
pub const SYSTEM_SCHEMAS: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

pub fn is_system_schema(db: &str) -> bool {
    SYSTEM_SCHEMAS.iter().any(|s| s.eq_ignore_ascii_case(db))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cols(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn slave_status_columns() {
        let m = cols(&[
            ("Slave_IO_Running", "Yes"),
            ("Slave_SQL_Running", "Yes"),
            ("Seconds_Behind_Master", "3"),
            ("Last_Error", ""),
            ("Last_IO_Error", ""),
            ("Gtid_IO_Pos", "0-101-7"),
            ("Master_Host", "127.0.0.1"),
            ("Master_Port", "3310"),
        ]);
        assert_eq!(
            slave_status(&|n| m.get(n).cloned()),
            SlaveStatus {
                io_running: true,
                sql_running: true,
                seconds_behind_master: Some(3),
                last_error: None,
                gtid_io_pos: Some("0-101-7".into()),
                master: Some("127.0.0.1:3310".into()),
            }
        );
        let m = cols(&[
            ("Slave_IO_Running", "Connecting"),
            ("Slave_SQL_Running", "No"),
            ("Last_Error", ""),
            ("Last_IO_Error", "error connecting to master"),
        ]);
        let s = slave_status(&|n| m.get(n).cloned());
        assert!(!s.io_running && !s.sql_running);
        assert_eq!(s.seconds_behind_master, None);
        assert_eq!(
            s.last_error.as_deref(),
            Some("IO: error connecting to master")
        );
        assert_eq!((s.gtid_io_pos, s.master), (None, None));
        let m = cols(&[
            ("Last_Error", "Duplicate entry"),
            ("Last_IO_Error", "x"),
            ("Master_Host", "::1"),
            ("Master_Port", "3311"),
        ]);
        let s = slave_status(&|n| m.get(n).cloned());
        assert_eq!(s.last_error.as_deref(), Some("Duplicate entry"));
        assert_eq!(s.master.as_deref(), Some("[::1]:3311"));
    }
    #[test]
    fn errors_lose_their_wrapping() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = mysql_async::Error::Io(mysql_async::IoError::Io(io));
        assert_eq!(describe(&e), "Connection refused");
        let e = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            state: "28000".into(),
            message: "Access denied".into(),
        });
        assert_eq!(describe(&e), "ERROR 1045 (28000): Access denied");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(quote_ident("we`ird"), "`we``ird`");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact(
                "CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD='s3', MASTER_USE_GTID=slave_pos"
            ),
            "CHANGE MASTER TO MASTER_USER='r', MASTER_PASSWORD='***', MASTER_USE_GTID=slave_pos"
        );
        assert_eq!(redact("STOP SLAVE"), "STOP SLAVE");
    }

    #[test]
    fn system_schemas() {
        assert!(is_system_schema("MySQL"));
        assert!(is_system_schema("performance_schema"));
        assert!(!is_system_schema("setwise_sys"));
        assert!(!is_system_schema("shop"));
    }
}
