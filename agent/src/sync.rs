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
//!
//! **Release** ([`Release`]): a `strong` primary with no replica connected cannot commit
//! anything: every commit (the agent's heartbeat, a client's) waits in `AFTER_SYNC` for an
//! acknowledgement nobody can give. The scheduler then marks the set `writes_blocked`, and
//! the gateways refuse its writes and end the statements waiting on it ("outcome
//! unknown"). Those waiting commits would still hold MariaDB's commit lock forever, and a
//! rebuild of a replica from this primary (`mariadb-backup`'s `BACKUP STAGE BLOCK_COMMIT`,
//! or the logical copy's lock) waits for them: with every replica needing a rebuild, the
//! set could never heal. So once the set's writes have been refused for
//! [`RELEASE_AFTER`] and still no replica is connected, the primary's semi-sync master is
//! switched off — the waiting commits complete, no client having been told they did —
//! and switched on again as soon as a replica connects, before the scheduler lets writes
//! in again (it waits for `Rpl_semi_sync_master_status = ON`).

use std::time::{Duration, Instant};

use mysql_async::Conn;
use topo::{SetRecord, SyncMode};
use tracing::{info, warn};

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

    /// These settings with the semi-sync master off (see [`Release`]).
    pub fn released(self) -> Self {
        Self {
            enabled: false,
            ..self
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
    .map_err(|e| format!("read semi-sync variables: {}", crate::db::describe(&e)))?;
    let (enabled, timeout_ms, wait_point) = row.ok_or("no semi-sync variables")?;
    Ok(SemiSync::from_vars(enabled != 0, timeout_ms, &wait_point))
}

/// Makes the semi-sync master variables match `mode`; returns the statements run.
pub async fn apply(
    conn: &mut Conn,
    mode: SyncMode,
    semi_timeout_ms: u64,
) -> SqlResult<Vec<String>> {
    apply_settings(conn, SemiSync::for_mode(mode, semi_timeout_ms)).await
}

/// Makes the semi-sync master variables match `want`; returns the statements run.
async fn apply_settings(conn: &mut Conn, want: SemiSync) -> SqlResult<Vec<String>> {
    let have = current(conn).await?;
    let stmts = want.statements(&have);
    for s in &stmts {
        db::exec(conn, s).await?;
        info!("semi-sync: {s}");
    }
    Ok(stmts)
}

/// The round's reconciliation on a writable primary: when the variables the probe
/// read (`seen`) differ from `want`, connects and applies them (re-checking
/// `read_only` on that connection first). Returns the statements run.
pub async fn reconcile(
    target: &crate::db::ProbeTarget,
    want: SemiSync,
    seen: Option<&SemiSync>,
) -> SqlResult<Vec<String>> {
    if seen.is_some_and(|have| want.statements(have).is_empty()) {
        return Ok(Vec::new());
    }
    let mut conn = db::connect(target).await?;
    let r = async {
        if db::global(&mut conn, "read_only").await? != "0" {
            return Ok(Vec::new());
        }
        apply_settings(&mut conn, want).await
    }
    .await;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), conn.disconnect()).await;
    r
}

/// How long a `strong` set's writes must have been refused (as this agent saw its set
/// record) before its primary releases the commits waiting for an acknowledgement: the
/// gateways, which watch the record, have ended every statement waiting on the set by
/// then, so no client is told a released commit succeeded.
pub const RELEASE_AFTER: Duration = Duration::from_secs(2);

/// Whether this primary's waiting commits are released (module docs), round by round.
#[derive(Debug, Default)]
pub struct Release {
    /// When this agent first saw the set's writes refused (reset when they are not).
    blocked_since: Option<Instant>,
    released: bool,
}

impl Release {
    /// The semi-sync settings this round wants on the writable primary of `set`, whose
    /// probe saw `clients` semi-sync replicas connected.
    pub fn want(&mut self, set: &SetRecord, clients: Option<u64>, now: Instant) -> SemiSync {
        let normal = SemiSync::for_mode(set.sync, set.semi_timeout_ms);
        self.blocked_since = set
            .writes_blocked
            .as_ref()
            .map(|_| self.blocked_since.unwrap_or(now));
        let release = set.sync == SyncMode::Strong
            && clients == Some(0)
            && self
                .blocked_since
                .is_some_and(|t| now.duration_since(t) >= RELEASE_AFTER);
        if release != self.released {
            if release {
                warn!(
                    "releasing the commits waiting for a replica's acknowledgement: the set's \
                     writes are refused and no replica is connected (semi-sync master off \
                     until one connects)"
                );
            } else {
                info!("a replica is connected again: semi-sync master back on");
            }
            self.released = release;
        }
        if release {
            normal.released()
        } else {
            normal
        }
    }
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

    #[test]
    fn a_strong_primary_releases_waiting_commits_only_while_writes_are_refused_and_no_replica_is_connected(
    ) {
        let t0 = Instant::now();
        let later = |ms: u64| t0 + Duration::from_millis(ms);
        let strong = SemiSync::for_mode(SyncMode::Strong, 1);
        let mut set = SetRecord::new("s", SyncMode::Strong);
        let mut r = Release::default();
        // Writes allowed: never released, whatever the clients.
        assert_eq!(r.want(&set, Some(0), t0), strong);
        set.writes_blocked = Some("no replica".into());
        // Refused, but not yet for RELEASE_AFTER (counted from this agent's first sight).
        assert_eq!(r.want(&set, Some(0), later(10_000)), strong);
        assert_eq!(r.want(&set, Some(0), later(11_000)), strong);
        let released = r.want(&set, Some(0), later(12_000));
        assert!(!released.enabled);
        assert_eq!(released.timeout_ms, strong.timeout_ms);
        assert_eq!(
            released.statements(&strong),
            vec!["SET GLOBAL rpl_semi_sync_master_enabled = OFF"]
        );
        // A replica connects: back on (timeout and wait point kept), before writes are allowed.
        assert_eq!(r.want(&set, Some(1), later(12_500)), strong);
        assert_eq!(
            strong.statements(&released),
            vec!["SET GLOBAL rpl_semi_sync_master_enabled = ON"]
        );
        // Unknown client count: no release.
        assert_eq!(r.want(&set, None, later(13_000)), strong);
        // Writes allowed again: the count restarts.
        set.writes_blocked = None;
        assert_eq!(r.want(&set, Some(0), later(14_000)), strong);
        set.writes_blocked = Some("again".into());
        assert_eq!(r.want(&set, Some(0), later(15_000)), strong);
        // Semi and async sets never release (semi falls back by its own timeout).
        for mode in [SyncMode::Semi, SyncMode::Async] {
            let mut other = SetRecord::new("o", mode);
            other.writes_blocked = Some("x".into());
            let mut r = Release::default();
            r.want(&other, Some(0), t0);
            assert_eq!(
                r.want(&other, Some(0), later(60_000)),
                SemiSync::for_mode(mode, other.semi_timeout_ms)
            );
        }
    }
}
