//! Orphaned prepared XA branches on a node about to replicate: a gateway branch
//! (gtrid `sw-...` / `swc-...`) the node holds prepared that the set's current
//! primary does not hold prepared and that the node's own binlog never recorded.
//!
//! An old primary killed after InnoDB made `XA PREPARE` durable but before the
//! binlog write comes back with such a branch: no other node ever had it, the
//! gateways' recovery asks only primaries, and its row locks stall replication.
//! A branch the binlog records is left alone (replication or the gateways end it:
//! the new primary has it, or its end is still to be replicated). Ended with
//! `XA ROLLBACK` under `sql_log_bin = 0` (nothing of it exists anywhere else).
//! Runs in [`super::repoint`] between fencing and `START SLAVE`.

use std::collections::BTreeSet;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::{info, warn};

use super::TaskContext;
use crate::db::{self, SqlResult};

/// One prepared branch as `XA RECOVER` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Branch {
    pub format: i64,
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
}

impl Branch {
    /// The xid as MariaDB writes it in statements and binlog events:
    /// `X'<gtrid>',X'<bqual>',<format>`.
    pub fn serialized(&self) -> String {
        format!(
            "X'{}',X'{}',{}",
            hex(&self.gtrid),
            hex(&self.bqual),
            self.format
        )
    }

    /// Whether the gateway made this branch (its gtrid formats).
    pub fn is_gateway(&self) -> bool {
        self.gtrid.starts_with(b"sw-") || self.gtrid.starts_with(b"swc-")
    }

    fn gtrid_text(&self) -> String {
        String::from_utf8_lossy(&self.gtrid).into_owned()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The gateway's prepared branches on `conn` (`XA RECOVER`).
pub async fn prepared(conn: &mut Conn) -> SqlResult<BTreeSet<Branch>> {
    let rows: Vec<(i64, i64, i64, Vec<u8>)> = conn
        .query("XA RECOVER")
        .await
        .map_err(|e| format!("XA RECOVER: {}", db::describe(&e)))?;
    Ok(rows
        .into_iter()
        .filter_map(|(format, glen, _blen, data)| {
            let glen = usize::try_from(glen).ok()?;
            (data.len() >= glen).then(|| Branch {
                format,
                gtrid: data[..glen].to_vec(),
                bqual: data[glen..].to_vec(),
            })
        })
        .filter(Branch::is_gateway)
        .collect())
}

/// Of `candidates`, those some event of the local binlog names (`SHOW BINLOG EVENTS`
/// of every binlog file).
async fn in_binlog(conn: &mut Conn, candidates: &BTreeSet<Branch>) -> SqlResult<BTreeSet<Branch>> {
    let files: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|e| format!("SHOW BINARY LOGS: {}", db::describe(&e)))?;
    let needles: Vec<(String, &Branch)> = candidates.iter().map(|b| (b.serialized(), b)).collect();
    let mut found = BTreeSet::new();
    for f in files {
        let Some(name) = db::text_column(&f, "Log_name") else {
            continue;
        };
        let events: Vec<mysql_async::Row> = conn
            .query(format!("SHOW BINLOG EVENTS IN {}", db::quote(&name)))
            .await
            .map_err(|e| format!("SHOW BINLOG EVENTS IN {name}: {}", db::describe(&e)))?;
        for ev in events {
            let Some(info) = db::text_column(&ev, "Info") else {
                continue;
            };
            for (needle, b) in &needles {
                if info.contains(needle.as_str()) {
                    found.insert((*b).clone());
                }
            }
        }
        if found.len() == needles.len() {
            break;
        }
    }
    Ok(found)
}

/// The orphans: `local` branches neither prepared on the primary nor in the binlog.
pub fn orphans(
    local: &BTreeSet<Branch>,
    on_primary: &BTreeSet<Branch>,
    binlogged: &BTreeSet<Branch>,
) -> BTreeSet<Branch> {
    local
        .iter()
        .filter(|b| !on_primary.contains(b) && !binlogged.contains(b))
        .cloned()
        .collect()
}

/// Rolls back (unlogged) the orphaned gateway branches of the local node, whose set's
/// primary is `host:port`; returns the gtrids it ended. Called with replication
/// stopped and the node fenced, so no branch is being prepared meanwhile. A node
/// without `log_bin` and `log_slave_updates` cannot tell an orphan from a replicated
/// branch: it ends nothing (logged).
pub async fn end_orphans(
    conn: &mut Conn,
    ctx: &TaskContext,
    host: &str,
    port: u16,
) -> SqlResult<Vec<String>> {
    let local = prepared(conn).await?;
    if local.is_empty() {
        return Ok(Vec::new());
    }
    let on_primary = {
        let mut p = db::connect(&ctx.remote(host, port))
            .await
            .map_err(|e| format!("the primary {host}:{port}: {e}"))?;
        let r = prepared(&mut p).await;
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), p.disconnect()).await;
        r.map_err(|e| format!("the primary {host}:{port}: {e}"))?
    };
    let candidates: BTreeSet<Branch> = local.difference(&on_primary).cloned().collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let logs = db::scalar(conn, "SELECT @@log_bin AND @@log_slave_updates").await?;
    if logs.as_deref() != Some("1") {
        warn!(
            branches = candidates.len(),
            "prepared XA branches the primary does not hold, left alone: without log_bin and \
             log_slave_updates the node cannot tell an orphan from a replicated branch"
        );
        return Ok(Vec::new());
    }
    let binlogged = in_binlog(conn, &candidates).await?;
    let ended = orphans(&local, &on_primary, &binlogged);
    if ended.is_empty() {
        return Ok(Vec::new());
    }
    db::exec(conn, "SET SESSION sql_log_bin = 0").await?;
    let mut gtrids = Vec::new();
    let mut result = Ok(());
    for b in &ended {
        match db::exec(conn, &format!("XA ROLLBACK {}", b.serialized())).await {
            Ok(()) => {
                info!(
                    gtrid = %b.gtrid_text(),
                    bqual = %String::from_utf8_lossy(&b.bqual),
                    primary = %format!("{host}:{port}"),
                    "rolled back an orphaned prepared XA branch (in no binlog, not prepared on \
                     the primary)"
                );
                gtrids.push(b.gtrid_text());
            }
            Err(e) => {
                result = Err(format!("XA ROLLBACK of {}: {e}", b.gtrid_text()));
                break;
            }
        }
    }
    db::exec(conn, "SET SESSION sql_log_bin = 1").await?;
    result.map(|_| gtrids)
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

    #[test]
    fn serialized_as_in_the_binlog() {
        assert_eq!(
            b("sw-a-1", "set2").serialized(),
            "X'73772d612d31',X'73657432',1"
        );
    }

    #[test]
    fn gateway_formats_only() {
        assert!(b("sw-a-1", "set2").is_gateway());
        assert!(b("swc-a-1", "").is_gateway());
        assert!(!b("app-1", "").is_gateway());
        assert!(!b("swx", "").is_gateway());
    }

    #[test]
    fn an_orphan_is_neither_on_the_primary_nor_binlogged() {
        let local: BTreeSet<_> = [b("sw-a-1", "s"), b("sw-a-2", "s"), b("sw-a-3", "s")].into();
        let primary: BTreeSet<_> = [b("sw-a-1", "s")].into();
        let logged: BTreeSet<_> = [b("sw-a-2", "s")].into();
        let o = orphans(&local, &primary, &logged);
        assert_eq!(o, [b("sw-a-3", "s")].into());
        // Same gtrid, another branch qualifier: another branch.
        let primary: BTreeSet<_> = [b("sw-a-3", "t")].into();
        assert!(orphans(&local, &primary, &logged).contains(&b("sw-a-3", "s")));
    }
}
