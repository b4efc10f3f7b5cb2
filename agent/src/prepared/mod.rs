//! Prepared gateway XA branches (gtrid `sw-...`) a replica holds that its set's
//! primary does not: each is decided from the set's current primary, and from the
//! node's own binlog where the primary no longer shows anything.
//!
//! An old primary killed inside a two-set commit comes back (InnoDB's crash recovery)
//! with the branch prepared: the coordinator's one-phase commit (binlogged as a plain
//! transaction without its xid, so replication and `gtid_slave_pos` already count it
//! done), or a branch whose binlog write never happened. Nobody else ends it — the
//! gateways' recovery asks only primaries — and its row locks stall the node's
//! replication. Rules ([`decide`]), for each such branch:
//!
//! 1. the primary holds it prepared too (`XA RECOVER`): left alone, the primary's
//!    `XA COMMIT` / `XA ROLLBACK` reaches the node by replication;
//! 2. the primary holds its commit decision `(gtrid, 1)` (`setwise_sys.xa_decisions`,
//!    written by the coordinator's branch itself): `XA COMMIT` here;
//! 3. else the last event of the node's binlog naming the branch ([`binlog`]): the
//!    coordinator's one-phase commit (its decision row's insert) or `XA COMMIT`:
//!    committed (the primary's decision row was already cleaned up); `XA ROLLBACK`:
//!    rolled back; `XA PREPARE`: left alone (the branch was shipped with the node's
//!    binlog, so the primary had it prepared and its end is, or is still to be,
//!    replicated);
//! 4. else (an abort row, or no trace anywhere): `XA ROLLBACK` here — it never
//!    reached any other node, so it was never acknowledged.
//!
//! Both ends run with `sql_log_bin = 0`: the node's binlog (and GTID position) either
//! already holds the transaction or must not get one the set never had. The node's
//! binlog is within the primary's when this runs (an old primary whose binlog holds
//! more is rebuilt instead, `scheduler/src/policy`), so what its binlog says
//! committed, the primary has committed too.
//!
//! Runs in a rejoin's `repoint` before replication starts ([`crate::task::repoint`])
//! and every few seconds on every replica ([`watch`]).

pub mod binlog;
pub mod watch;

use std::collections::BTreeSet;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::{info, warn};

use crate::db::{self, ProbeTarget, SqlResult};

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

    /// Whether the gateway's own commit made this branch (gtrid `sw-...`; an
    /// application's prepared transaction, `swc-...`, waits for the application).
    pub fn is_gateways(&self) -> bool {
        self.gtrid.starts_with(b"sw-")
    }

    pub fn gtrid_text(&self) -> String {
        String::from_utf8_lossy(&self.gtrid).into_owned()
    }

    pub fn bqual_text(&self) -> String {
        String::from_utf8_lossy(&self.bqual).into_owned()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The last thing the node's binlog says of a branch ([`binlog::last_events`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logged {
    /// `XA PREPARE` (its end not in this binlog).
    Prepared,
    /// `XA COMMIT`, or the coordinator's one-phase commit (the insert of its
    /// decision row `(gtrid, 1)`).
    Committed,
    /// `XA ROLLBACK`.
    RolledBack,
}

/// What the primary shows of a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OnPrimary {
    /// Its `XA RECOVER` lists the branch.
    pub prepared: bool,
    /// Its decision row for the gtrid (`Some(true)`: commit).
    pub decision: Option<bool>,
}

/// What to do with a branch, and why (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Leave(&'static str),
    Commit(&'static str),
    Rollback(&'static str),
}

/// The rules of this module's doc. `binlog`: `Err(())` when the node's binlog cannot
/// tell (no binlog, or the scan's budget ran out): a branch the primary does not
/// decide is then left alone.
pub fn decide(primary: OnPrimary, binlog: Result<Option<Logged>, ()>) -> Fate {
    if primary.prepared {
        return Fate::Leave("prepared on the primary: its end comes by replication");
    }
    if primary.decision == Some(true) {
        return Fate::Commit("the primary holds its commit decision");
    }
    match binlog {
        Ok(Some(Logged::Committed)) => Fate::Commit("the node's binlog holds its commit"),
        Ok(Some(Logged::RolledBack)) => Fate::Rollback("the node's binlog holds its rollback"),
        Ok(Some(Logged::Prepared)) => Fate::Leave(
            "its XA PREPARE is in the node's binlog, so the primary had it: its end comes by replication",
        ),
        Ok(None) if primary.decision == Some(false) => Fate::Rollback(
            "the primary holds its abort decision and the node's binlog never had it",
        ),
        Ok(None) => Fate::Rollback(
            "no trace of it on the primary nor in the node's binlog: never acknowledged",
        ),
        Err(()) => Fate::Leave("the primary does not decide it and the node's binlog cannot tell"),
    }
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
        .filter(Branch::is_gateways)
        .collect())
}

/// The decision row of `gtrid` on `conn` (None: no row, or no table yet).
async fn decision(conn: &mut Conn, gtrid: &str) -> SqlResult<Option<bool>> {
    let r: Result<Option<i64>, _> = conn
        .exec_first(
            "SELECT commit_ FROM setwise_sys.xa_decisions WHERE gtrid = ?",
            (gtrid,),
        )
        .await;
    match r {
        Ok(v) => Ok(v.map(|c| c != 0)),
        // ER_BAD_DB_ERROR, ER_NO_SUCH_TABLE: no decision table there yet.
        Err(mysql_async::Error::Server(e)) if matches!(e.code, 1049 | 1146) => Ok(None),
        Err(e) => Err(format!(
            "reading the decision of {gtrid}: {}",
            db::describe(&e)
        )),
    }
}

/// What the primary at `primary` shows of each of `branches`.
async fn on_primary(
    primary: &ProbeTarget,
    branches: &BTreeSet<Branch>,
) -> SqlResult<Vec<(Branch, OnPrimary)>> {
    let addr = format!("{}:{}", primary.host, primary.port);
    let mut p = db::connect(primary)
        .await
        .map_err(|e| format!("the primary {addr}: {e}"))?;
    let read = async {
        let listed = prepared(&mut p).await?;
        let mut out = Vec::new();
        for b in branches {
            let seen = OnPrimary {
                prepared: listed.contains(b),
                decision: decision(&mut p, &b.gtrid_text()).await?,
            };
            out.push((b.clone(), seen));
        }
        Ok(out)
    };
    let r: SqlResult<_> = read.await;
    let _ = tokio::time::timeout(Duration::from_millis(500), p.disconnect()).await;
    r.map_err(|e| format!("the primary {addr}: {e}"))
}

/// One branch ended here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub branch: Branch,
    pub committed: bool,
    pub why: &'static str,
}

/// Decides `candidates` (prepared here; all of the node's when None) from the
/// primary at `primary` and the node's binlog, and ends those [`decide`] says to
/// (unlogged). Returns the branches ended. Each end, and each branch left alone, is
/// logged with its xid and why.
pub async fn settle(
    conn: &mut Conn,
    primary: &ProbeTarget,
    candidates: Option<&BTreeSet<Branch>>,
) -> SqlResult<Vec<Ended>> {
    let local = prepared(conn).await?;
    let local: BTreeSet<Branch> = match candidates {
        Some(c) => local.intersection(c).cloned().collect(),
        None => local,
    };
    if local.is_empty() {
        return Ok(Vec::new());
    }
    let seen = on_primary(primary, &local).await?;
    let undecided: BTreeSet<Branch> = seen
        .iter()
        .filter(|(_, s)| !s.prepared && s.decision != Some(true))
        .map(|(b, _)| b.clone())
        .collect();
    let logged = if undecided.is_empty() {
        Ok(Default::default())
    } else {
        binlog::last_events(conn, &undecided).await.map_err(|e| {
            warn!("the node's binlog cannot tell how its prepared XA branches ended: {e}");
        })
    };
    let primary_addr = format!("{}:{}", primary.host, primary.port);
    let mut ended = Vec::new();
    let mut logged_off = false;
    let mut result = Ok(());
    for (b, s) in seen {
        let in_binlog = logged.as_ref().map(|m| m.get(&b).copied()).map_err(|_| ());
        let (commit, why) = match decide(s, in_binlog) {
            Fate::Leave(why) => {
                info!(
                    xid = %b.serialized(),
                    gtrid = %b.gtrid_text(),
                    bqual = %b.bqual_text(),
                    primary = %primary_addr,
                    "prepared XA branch left alone: {why}"
                );
                continue;
            }
            Fate::Commit(why) => (true, why),
            Fate::Rollback(why) => (false, why),
        };
        if !logged_off {
            db::exec(conn, "SET SESSION sql_log_bin = 0").await?;
            logged_off = true;
        }
        let before = db::global(conn, "gtid_binlog_pos").await?;
        let sql = format!(
            "XA {} {}",
            if commit { "COMMIT" } else { "ROLLBACK" },
            b.serialized()
        );
        if let Err(e) = db::exec(conn, &sql).await {
            result = Err(e);
            break;
        }
        let after = db::global(conn, "gtid_binlog_pos").await?;
        info!(
            xid = %b.serialized(),
            gtrid = %b.gtrid_text(),
            bqual = %b.bqual_text(),
            primary = %primary_addr,
            gtid_binlog_pos = %after,
            unchanged = before == after,
            "prepared XA branch {}: {why}",
            if commit { "committed" } else { "rolled back" }
        );
        ended.push(Ended {
            branch: b,
            committed: commit,
            why,
        });
    }
    if logged_off {
        db::exec(conn, "SET SESSION sql_log_bin = 1").await?;
    }
    result.map(|_| ended)
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
    fn the_gateways_own_commits_only() {
        assert!(b("sw-a-1", "set2").is_gateways());
        assert!(!b("swc-a-1", "").is_gateways());
        assert!(!b("app-1", "").is_gateways());
    }

    #[test]
    fn rules() {
        let p = |prepared, decision| OnPrimary { prepared, decision };
        // Prepared on the primary: replication ends it, whatever else is known.
        for logged in [Ok(None), Ok(Some(Logged::Committed)), Err(())] {
            assert!(matches!(decide(p(true, None), logged), Fate::Leave(_)));
        }
        // The primary's commit decision wins over an empty or unreadable binlog.
        assert!(matches!(
            decide(p(false, Some(true)), Ok(None)),
            Fate::Commit(_)
        ));
        assert!(matches!(
            decide(p(false, Some(true)), Err(())),
            Fate::Commit(_)
        ));
        // Decision row cleaned up: the node's own binlog holds the one-phase commit.
        assert!(matches!(
            decide(p(false, None), Ok(Some(Logged::Committed))),
            Fate::Commit(_)
        ));
        // Shipped prepare: its end is (or will be) replicated, even if the primary
        // ended it already (a participant's abort row is no decision).
        assert!(matches!(
            decide(p(false, Some(false)), Ok(Some(Logged::Prepared))),
            Fate::Leave(_)
        ));
        assert!(matches!(
            decide(p(false, None), Ok(Some(Logged::RolledBack))),
            Fate::Rollback(_)
        ));
        // Never left the node.
        assert!(matches!(
            decide(p(false, None), Ok(None)),
            Fate::Rollback(_)
        ));
        assert!(matches!(
            decide(p(false, Some(false)), Ok(None)),
            Fate::Rollback(_)
        ));
        // Cannot tell: nothing is ended.
        assert!(matches!(decide(p(false, None), Err(())), Fate::Leave(_)));
    }
}
