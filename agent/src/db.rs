//! SQL helpers shared by the agent's longer jobs (tasks, statistics, sync mode):
//! a bounded connection to the local MariaDB, typed reads of variables and
//! `SHOW SLAVE STATUS`, and string quoting for statements that take no parameters
//! (`CHANGE MASTER TO`, `SET GLOBAL`).

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use crate::probe::{describe, slave_status, text_column, ProbeTarget, SlaveStatus};

/// A failed SQL step, already described for a task's `error` or a log line.
pub type SqlResult<T> = std::result::Result<T, String>;

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
