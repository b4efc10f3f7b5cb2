//! What the node's own binlog says last of prepared XA branches (`SHOW BINLOG EVENTS`,
//! newest file first, a page at a time, within a byte budget): `XA PREPARE`,
//! `XA COMMIT`, `XA ROLLBACK` of the xid, or the coordinator's one-phase commit, which
//! MariaDB binlogs as a plain transaction without its xid but whose decision-row insert
//! (`INSERT INTO setwise_sys.xa_decisions ... VALUES ('<gtrid>', 1)`) names the gtrid
//! in its `Annotate_rows` event (row format) or its query event (statement format).

use std::collections::{BTreeMap, BTreeSet};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::{Branch, Logged};
use crate::db::{self, SqlResult};

/// Binlog bytes read at most for one question: the branches of a crashed primary were
/// written just before its crash, near the end of its binlog.
pub const BUDGET_BYTES: u64 = 512 << 20;
/// Events per `SHOW BINLOG EVENTS` page.
const PAGE: u32 = 5000;

/// What the event text `info` says of `b`, if anything.
pub fn event_about(info: &str, b: &Branch) -> Option<Logged> {
    let xid = b.serialized();
    if let Some(at) = info.find(&xid) {
        // The xid ends the statement, or is followed by a GTID or ONE PHASE.
        let verb = info[..at].trim_end();
        return if verb.ends_with("XA PREPARE") {
            Some(Logged::Prepared)
        } else if verb.ends_with("XA COMMIT") {
            Some(Logged::Committed)
        } else if verb.ends_with("XA ROLLBACK") {
            Some(Logged::RolledBack)
        } else {
            None
        };
    }
    let gtrid = b.gtrid_text().replace('\\', "\\\\").replace('\'', "''");
    (info.contains("xa_decisions") && info.contains(&format!("('{gtrid}', 1)")))
        .then_some(Logged::Committed)
}

/// For each of `branches` the last thing the node's binlog says of it (absent: it
/// names the branch nowhere). Err: the binlog cannot tell (no binlog, replicated
/// events not logged, or the budget ran out before every branch was found).
pub async fn last_events(
    conn: &mut Conn,
    branches: &BTreeSet<Branch>,
) -> SqlResult<BTreeMap<Branch, Logged>> {
    let logs = db::scalar(conn, "SELECT @@log_bin AND @@log_slave_updates").await?;
    if logs.as_deref() != Some("1") {
        return Err("the node runs without log_bin and log_slave_updates".into());
    }
    let files: Vec<Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| format!("SHOW BINARY LOGS: {}", db::describe(&e)))?;
    let mut files: Vec<(String, u64)> = files
        .iter()
        .filter_map(|r| {
            let name = db::text_column(r, "Log_name")?;
            let size = db::text_column(r, "File_size").and_then(|s| s.parse().ok());
            Some((name, size.unwrap_or(0)))
        })
        .collect();
    files.reverse();
    let mut found: BTreeMap<Branch, Logged> = BTreeMap::new();
    let mut read = 0u64;
    for (name, size) in files {
        if found.len() == branches.len() {
            break;
        }
        if read + size > BUDGET_BYTES {
            return Err(format!(
                "{} of {} branches not named in the last {read} bytes of the binlog",
                branches.len() - found.len(),
                branches.len()
            ));
        }
        read += size;
        // In this file, the last mention of each branch not found in a newer one.
        let mut here: BTreeMap<Branch, Logged> = BTreeMap::new();
        let mut from = 4u64;
        loop {
            let sql = format!(
                "SHOW BINLOG EVENTS IN {} FROM {from} LIMIT {PAGE}",
                db::quote(&name)
            );
            let rows: Vec<Row> = conn
                .query(&sql)
                .await
                .map_err(|e| format!("{sql}: {}", db::describe(&e)))?;
            let n = rows.len();
            for r in &rows {
                let Some(info) = db::text_column(r, "Info") else {
                    continue;
                };
                for b in branches.iter().filter(|b| !found.contains_key(*b)) {
                    if let Some(l) = event_about(&info, b) {
                        here.insert(b.clone(), l);
                    }
                }
            }
            let next = rows
                .last()
                .and_then(|r| db::text_column(r, "End_log_pos"))
                .and_then(|s| s.parse::<u64>().ok());
            match next {
                Some(next) if n == PAGE as usize && next > from => from = next,
                _ => break,
            }
        }
        found.extend(here);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(g: &str, q: &str) -> Branch {
        Branch {
            format: 1,
            gtrid: g.as_bytes().to_vec(),
            bqual: q.as_bytes().to_vec(),
        }
    }

    /// Event texts as MariaDB 10.11's `SHOW BINLOG EVENTS` shows them.
    #[test]
    fn events_naming_a_branch() {
        let x = b("sw-a-2", "set2");
        assert_eq!(
            event_about("XA START X'73772d612d32',X'73657432',1 GTID 0-7-6", &x),
            None
        );
        assert_eq!(
            event_about("XA PREPARE X'73772d612d32',X'73657432',1", &x),
            Some(Logged::Prepared)
        );
        assert_eq!(
            event_about("XA COMMIT X'73772d612d32',X'73657432',1", &x),
            Some(Logged::Committed)
        );
        assert_eq!(
            event_about("XA ROLLBACK X'73772d612d32',X'73657432',1", &x),
            Some(Logged::RolledBack)
        );
        assert_eq!(
            event_about("XA END X'73772d612d32',X'73657432',1", &x),
            None
        );
        // Another branch of the same transaction.
        assert_eq!(
            event_about("XA PREPARE X'73772d612d32',X'73657431',1", &x),
            None
        );
        // The coordinator's one-phase commit: its decision row's insert.
        let c = b("sw-a-1", "set1");
        assert_eq!(
            event_about(
                "INSERT INTO setwise_sys.xa_decisions (gtrid, commit_) VALUES ('sw-a-1', 1)",
                &c
            ),
            Some(Logged::Committed)
        );
        // An abort row is no commit; another gtrid is not this one.
        assert_eq!(
            event_about(
                "SET STATEMENT innodb_lock_wait_timeout = 2 FOR INSERT INTO setwise_sys.xa_decisions (gtrid, commit_) VALUES ('sw-a-1', 0)",
                &c
            ),
            None
        );
        assert_eq!(
            event_about(
                "INSERT INTO setwise_sys.xa_decisions (gtrid, commit_) VALUES ('sw-a-11', 1)",
                &c
            ),
            None
        );
    }
}
