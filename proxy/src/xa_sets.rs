//! Commit decisions kept on the sets themselves (the last-agent commit).
//!
//! A transaction that wrote to several sets prepares every written branch but
//! one, the coordinator's; that one commits in one phase with a row
//! `(gtrid, commit = 1)` inserted into `setwise_sys.xa_decisions` in the same
//! local transaction (`session::last_agent`). That commit *is* the decision:
//! durable and replicated with the data, no etcd write, one prepare less.
//!
//! Recovery (`crate::xa`) reads the rows: a branch left prepared commits when a
//! set has its gtrid's row with `commit = 1`. To abort one, recovery inserts
//! `(gtrid, commit = 0)` on every set first: a coordinator commit still under
//! way then waits for that insert's lock or fails on its key, so a slow
//! gateway cannot commit after recovery decided to roll back (the same
//! first-writer-wins rule as the etcd decisions, `topo::Topo::decide_xa`).
//! Rows are deleted in bulk by recovery's rounds once no branch of their
//! transaction is prepared anywhere.
//!
//! The table is created by recovery's first round on each primary (it
//! replicates); until it exists, commits record their decision in etcd.

use mysql_async::prelude::Queryable;

use crate::backend::Conn;
pub use crate::config::{Decisions, XaConfig};

/// An XA id literal for `gtrid` and `set`.
pub fn xid(gtrid: &str, set: &str) -> String {
    format!(
        "'{}','{}'",
        gtrid.replace('\'', "''"),
        set.replace('\'', "''")
    )
}

pub const TABLE: &str = "setwise_sys.xa_decisions";

const CREATE: &str = "CREATE DATABASE IF NOT EXISTS setwise_sys; \
     CREATE TABLE IF NOT EXISTS setwise_sys.xa_decisions \
     (gtrid VARBINARY(64) PRIMARY KEY, commit_ TINYINT NOT NULL, \
      at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, KEY (at)) ENGINE=InnoDB";

/// How old a row must be before recovery deletes it (its transaction's
/// branches are then all finished or listed by `XA RECOVER`).
const KEEP_SECS: u32 = 30;

/// ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: the table is not there (yet).
pub fn missing(code: u16) -> bool {
    matches!(code, 1049 | 1146)
}

fn quoted(gtrid: &str) -> String {
    format!("'{}'", gtrid.replace('\\', "\\\\").replace('\'', "''"))
}

/// The statement the coordinator's branch runs just before its commit.
pub fn record(gtrid: &str) -> String {
    format!(
        "INSERT INTO {TABLE} (gtrid, commit_) VALUES ({}, 1)",
        quoted(gtrid)
    )
}

/// Creates the table where it is missing.
pub async fn ensure(conn: &mut Conn) -> Result<(), mysql_async::Error> {
    conn.query_drop(CREATE).await
}

/// The decision recorded on this set for `gtrid`, if any.
pub async fn lookup(conn: &mut Conn, gtrid: &str) -> Result<Option<bool>, mysql_async::Error> {
    let r: Result<Option<i64>, _> = conn
        .query_first(format!(
            "SELECT commit_ FROM {TABLE} WHERE gtrid = {}",
            quoted(gtrid)
        ))
        .await;
    match r {
        Ok(v) => Ok(v.map(|c| c != 0)),
        Err(mysql_async::Error::Server(e)) if missing(e.code) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records "roll back" for `gtrid` on this set unless a decision is there (or
/// arrives while the insert waits for a coordinator's lock); returns the
/// decision in force. An error (a lock still held, the set unreachable) decides
/// nothing.
pub async fn fence(conn: &mut Conn, gtrid: &str) -> Result<bool, mysql_async::Error> {
    let insert = format!(
        "SET STATEMENT innodb_lock_wait_timeout = 2 FOR \
         INSERT INTO {TABLE} (gtrid, commit_) VALUES ({}, 0)",
        quoted(gtrid)
    );
    let r = match conn.query_drop(&insert).await {
        Err(mysql_async::Error::Server(e)) if missing(e.code) => {
            ensure(conn).await?;
            conn.query_drop(&insert).await
        }
        r => r,
    };
    match r {
        Ok(()) => Ok(false),
        // ER_DUP_ENTRY: decided before us.
        Err(mysql_async::Error::Server(e)) if e.code == 1062 => {
            Ok(lookup(conn, gtrid).await?.unwrap_or(false))
        }
        Err(e) => Err(e),
    }
}

/// Deletes the rows older than [`KEEP_SECS`] except those of `in_doubt`
/// (transactions with a branch still prepared somewhere).
pub async fn clean(conn: &mut Conn, in_doubt: &[String]) -> Result<(), mysql_async::Error> {
    let mut sql = format!("DELETE FROM {TABLE} WHERE at < NOW() - INTERVAL {KEEP_SECS} SECOND");
    if !in_doubt.is_empty() {
        let list: Vec<String> = in_doubt.iter().map(|g| quoted(g)).collect();
        sql.push_str(&format!(" AND gtrid NOT IN ({})", list.join(",")));
    }
    match conn.query_drop(sql).await {
        Err(mysql_async::Error::Server(e)) if missing(e.code) => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_gtrids() {
        assert_eq!(
            record("sw-1"),
            "INSERT INTO setwise_sys.xa_decisions (gtrid, commit_) VALUES ('sw-1', 1)"
        );
        assert_eq!(quoted("a'b\\"), "'a''b\\\\'");
    }

    #[test]
    fn config_names() {
        let c: XaConfig = toml::from_str("decisions = \"etcd\"").unwrap();
        assert_eq!(c.decisions, Decisions::Etcd);
        assert_eq!(XaConfig::default().decisions, Decisions::Sets);
        assert_eq!(c.grace_ms, 20_000);
    }
}
