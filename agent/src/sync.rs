//! A primary's semi-sync settings from its set's sync mode, applied by `promote` and
//! kept in line every round on a writable primary (see docs/failover.md):
//!
//! | mode | `rpl_semi_sync_master_enabled` | `_wait_point` | `_timeout` (ms) |
//! |---|---|---|---|
//! | `strong` | ON | AFTER_SYNC | [`STRONG_TIMEOUT_MS`]: never falls back to async |
//! | `semi` | ON | AFTER_SYNC | the set's `semi_timeout_ms` |
//! | `async` | OFF | (left) | (left) |
//!
//! Values are read first and only those that differ are set, each change logged.

use mysql_async::Conn;
use topo::SyncMode;
use tracing::info;

use crate::db::{self, SqlResult};

/// `strong` mode's timeout: 2^32 - 1 ms (49.7 days). MariaDB 10.11 accepts any value
/// up to 2^64 - 1 for `rpl_semi_sync_master_timeout`, but the wait's deadline is
/// computed as now + timeout, so the agent keeps to a value whose arithmetic cannot
/// overflow; in practice the primary never falls back to async.
pub const STRONG_TIMEOUT_MS: u64 = 4_294_967_295;

/// What the semi-sync master variables should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SemiSync {
    pub enabled: bool,
    /// Only set when enabled.
    pub timeout_ms: u64,
    pub wait_point: &'static str,
}

impl SemiSync {
    pub fn for_mode(mode: SyncMode, semi_timeout_ms: u64) -> Self {
        match mode {
            SyncMode::Strong => Self {
                enabled: true,
                timeout_ms: STRONG_TIMEOUT_MS,
                wait_point: "AFTER_SYNC",
            },
            SyncMode::Semi => Self {
                enabled: true,
                timeout_ms: semi_timeout_ms.clamp(1, STRONG_TIMEOUT_MS),
                wait_point: "AFTER_SYNC",
            },
            SyncMode::Async => Self {
                enabled: false,
                timeout_ms: 0,
                wait_point: "AFTER_SYNC",
            },
        }
    }

    /// The variables as read from the server.
    pub fn from_vars(enabled: bool, timeout_ms: u64, wait_point: &str) -> Self {
        Self {
            enabled,
            timeout_ms,
            wait_point: if wait_point.eq_ignore_ascii_case("AFTER_COMMIT") {
                "AFTER_COMMIT"
            } else {
                "AFTER_SYNC"
            },
        }
    }

    /// The `SET GLOBAL` statements that turn `current` into `self` (timeout and wait
    /// point first, so enabling never runs a moment with the old ones).
    pub fn statements(&self, current: &SemiSync) -> Vec<String> {
        let mut out = Vec::new();
        if self.enabled {
            if current.timeout_ms != self.timeout_ms {
                out.push(format!(
                    "SET GLOBAL rpl_semi_sync_master_timeout = {}",
                    self.timeout_ms
                ));
            }
            if !current.wait_point.eq_ignore_ascii_case(self.wait_point) {
                out.push(format!(
                    "SET GLOBAL rpl_semi_sync_master_wait_point = {}",
                    self.wait_point
                ));
            }
        }
        if current.enabled != self.enabled {
            out.push(format!(
                "SET GLOBAL rpl_semi_sync_master_enabled = {}",
                if self.enabled { "ON" } else { "OFF" }
            ));
        }
        out
    }
}

/// Reads the current semi-sync master variables.
pub async fn current(conn: &mut Conn) -> SqlResult<SemiSync> {
    let row: Option<(i64, u64, String)> = mysql_async::prelude::Queryable::query_first(
        conn,
        "SELECT @@GLOBAL.rpl_semi_sync_master_enabled, @@GLOBAL.rpl_semi_sync_master_timeout, \
         @@GLOBAL.rpl_semi_sync_master_wait_point",
    )
    .await
    .map_err(|e| format!("read semi-sync variables: {}", crate::probe::describe(&e)))?;
    let (enabled, timeout_ms, wait_point) = row.ok_or("no semi-sync variables")?;
    Ok(SemiSync::from_vars(enabled != 0, timeout_ms, &wait_point))
}

/// Makes the semi-sync master variables match `mode`; returns the statements run.
pub async fn apply(
    conn: &mut Conn,
    mode: SyncMode,
    semi_timeout_ms: u64,
) -> SqlResult<Vec<String>> {
    let want = SemiSync::for_mode(mode, semi_timeout_ms);
    let have = current(conn).await?;
    let stmts = want.statements(&have);
    for s in &stmts {
        db::exec(conn, s).await?;
        info!(sync = ?mode, "semi-sync: {s}");
    }
    Ok(stmts)
}

/// The round's reconciliation on a writable primary: when the variables the probe
/// read (`seen`) differ from `mode`'s, connects and applies them (re-checking
/// `read_only` on that connection first). Returns the statements run.
pub async fn reconcile(
    target: &crate::probe::ProbeTarget,
    mode: SyncMode,
    semi_timeout_ms: u64,
    seen: Option<&SemiSync>,
) -> SqlResult<Vec<String>> {
    let want = SemiSync::for_mode(mode, semi_timeout_ms);
    if seen.is_some_and(|have| want.statements(have).is_empty()) {
        return Ok(Vec::new());
    }
    let mut conn = db::connect(target).await?;
    let r = async {
        if db::global(&mut conn, "read_only").await? != "0" {
            return Ok(Vec::new());
        }
        apply(&mut conn, mode, semi_timeout_ms).await
    }
    .await;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), conn.disconnect()).await;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_per_mode() {
        let strong = SemiSync::for_mode(SyncMode::Strong, 10_000);
        assert!(strong.enabled);
        assert_eq!(strong.timeout_ms, 4_294_967_295);
        assert_eq!(strong.wait_point, "AFTER_SYNC");
        assert_eq!(SemiSync::for_mode(SyncMode::Semi, 2500).timeout_ms, 2500);
        assert!(!SemiSync::for_mode(SyncMode::Async, 1).enabled);
    }

    #[test]
    fn only_differences_are_set() {
        let harness_default = SemiSync {
            enabled: true,
            timeout_ms: 10_000,
            wait_point: "AFTER_SYNC",
        };
        let strong = SemiSync::for_mode(SyncMode::Strong, 10_000);
        assert_eq!(
            strong.statements(&harness_default),
            vec!["SET GLOBAL rpl_semi_sync_master_timeout = 4294967295"]
        );
        assert!(strong.statements(&strong).is_empty());
        let off = SemiSync {
            enabled: false,
            timeout_ms: 10_000,
            wait_point: "AFTER_COMMIT",
        };
        assert_eq!(
            SemiSync::for_mode(SyncMode::Semi, 10_000).statements(&off),
            vec![
                "SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC",
                "SET GLOBAL rpl_semi_sync_master_enabled = ON"
            ]
        );
        assert_eq!(
            SemiSync::for_mode(SyncMode::Async, 0).statements(&harness_default),
            vec!["SET GLOBAL rpl_semi_sync_master_enabled = OFF"]
        );
        assert!(SemiSync::for_mode(SyncMode::Async, 0)
            .statements(&off)
            .is_empty());
    }
}
