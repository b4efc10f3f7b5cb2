//! Recovery of distributed (XA) transactions left in doubt: branches a gateway
//! prepared but never finished because it died between the two commit phases.
//!
//! Every few seconds each set's primary is asked for its prepared branches
//! (`XA RECOVER`). A branch of ours (gtrid `sw-...`) commits when its
//! transaction's decision says so: a row `commit = 1` on a set (the
//! coordinator's one-phase commit, `crate::xa_sets`) or a commit recorded in
//! etcd (`crate::xa_log`). A branch with no decision that stays prepared past a
//! grace period (`[xa] grace_ms`) is aborted — by recording the abort first, in etcd and as a
//! `commit = 0` row on every set, so that a gateway that was only slow cannot
//! commit afterwards (`topo::Topo::decide_xa`, `crate::xa_sets::fence`); with a
//! set out of reach (it may be the coordinator) nothing is decided. The branch
//! of an orphan — a gtrid whose gateway instance no registered gateway has
//! (`topo::GatewayRecord::instance`): its gateway died — waits only
//! [`ORPHAN_GRACE`], with rounds [`ORPHAN_PERIOD`] apart meanwhile: its row
//! locks stalled every client of those rows for the whole grace period after a
//! gateway restart. The first round runs at start. Branches
//! of a transaction the application prepared itself (`XA PREPARE`, gtrid
//! `swc-...`, recorded as `topo::AppXaRecord`) wait for the application's
//! decision. Each round also creates the decision table where it is missing
//! and deletes the rows no prepared branch needs any more.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use crate::backend::Conn;
use crate::shared::Shared;
use crate::xa_sets;

const PERIOD: Duration = Duration::from_secs(5);
/// The grace (`[xa] grace_ms`) of an orphan's branch: longer than any live commit holds a branch
/// prepared, in case its gateway only lost its registration.
const ORPHAN_GRACE: Duration = Duration::from_secs(1);
/// The time between rounds while an orphan's branch waits.
const ORPHAN_PERIOD: Duration = Duration::from_millis(500);
/// How long a decision in etcd outlives the last of its prepared branches: far
/// past any gateway still finishing that transaction.
const KEEP_DECISION: Duration = Duration::from_secs(3600);

/// What recovery remembers between rounds.
#[derive(Default)]
struct State {
    /// (gtrid, bqual) → when first seen prepared.
    first_seen: HashMap<(String, String), Instant>,
    /// Primaries (node ids) where the decision table was created.
    ensured: HashSet<String>,
}

/// Runs recovery forever (spawned by the server).
pub async fn run(shared: Arc<Shared>) {
    let mut state = State::default();
    loop {
        let soon = match round(&shared, &mut state).await {
            Ok(soon) => soon,
            Err(e) => {
                warn!("XA recovery: {e}");
                false
            }
        };
        tokio::time::sleep(if soon { ORPHAN_PERIOD } else { PERIOD }).await;
    }
}

/// The gateway instances that may still finish their transactions: this one
/// and every registered one. `None` (every branch gets the whole grace) when the
/// registrations cannot be read or one has no instance (an older gateway).
async fn live_instances(shared: &Shared, topo: &topo::Topo) -> Option<HashSet<String>> {
    let all = topo.list_gateways().await.ok()?;
    let mut live = HashSet::from([shared.gateway_id.clone()]);
    for g in all {
        if g.instance.is_empty() {
            return None;
        }
        live.insert(g.instance);
    }
    Some(live)
}

/// The gateway instance in a gtrid `sw-<instance>-<n>`.
fn instance_of(gtrid: &str) -> Option<&str> {
    let rest = gtrid.strip_prefix("sw-")?;
    Some(&rest[..rest.rfind('-')?])
}

/// One round; `Ok(true)` when an orphan's branch waits (the next round comes
/// soon).
async fn round(shared: &Shared, state: &mut State) -> Result<bool, String> {
    let Some(topo) = shared.topo.get() else {
        return Ok(false);
    };
    let live = live_instances(shared, topo).await;
    let mut soon = false;
    // Finished decisions no later commit deleted along with its own.
    crate::xa_log::flush_done(topo).await;
    let changes = shared.routing.subscribe();
    let snap = shared.routing.get();
    // Every set's primary: its prepared branches of ours.
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    let mut found: Vec<(String, String, String)> = Vec::new();
    let mut complete = true;
    for set in snap.sets.keys() {
        let pick = crate::exec::Conns {
            backends: &shared.backends,
            routing: &shared.routing,
            changes: &changes,
            snap: &snap,
            db: None,
            found_rows: false,
            init: Default::default(),
            codec: Default::default(),
        };
        let Ok(mut conn) = pick.pooled_now(set).await else {
            complete = false;
            continue;
        };
        if let Some(node) = snap.primary_of(set) {
            if !state.ensured.contains(&node.id) {
                match xa_sets::ensure(&mut conn).await {
                    Ok(()) => {
                        state.ensured.insert(node.id.clone());
                    }
                    Err(e) => warn!(%set, "creating {}: {e}", xa_sets::TABLE),
                }
            }
        }
        let rows: Vec<(i64, i64, i64, Vec<u8>)> = match conn.query("XA RECOVER").await {
            Ok(r) => r,
            Err(e) => {
                warn!(%set, "XA RECOVER: {e}");
                complete = false;
                continue;
            }
        };
        for (_format, glen, _blen, data) in rows {
            let glen = glen as usize;
            if data.len() < glen {
                continue;
            }
            let gtrid = String::from_utf8_lossy(&data[..glen]).into_owned();
            let bqual = String::from_utf8_lossy(&data[glen..]).into_owned();
            if gtrid.starts_with("sw-") || gtrid.starts_with("swc-") {
                found.push((set.clone(), gtrid, bqual));
            }
        }
        conns.insert(set.clone(), conn);
    }
    let mut still: HashMap<(String, String), Instant> = HashMap::new();
    let mut decided: HashMap<String, Option<bool>> = HashMap::new();
    for (set, gtrid, bqual) in &found {
        let key = (gtrid.clone(), bqual.clone());
        let seen = *state.first_seen.get(&key).unwrap_or(&Instant::now());
        let orphan = live
            .as_ref()
            .is_some_and(|l| instance_of(gtrid).is_some_and(|i| !l.contains(i)));
        let grace = match orphan {
            true => ORPHAN_GRACE,
            false => Duration::from_millis(shared.cfg.xa.grace_ms),
        };
        let decision = match decided.get(gtrid) {
            Some(d) => *d,
            None => {
                let d = decide(topo, &mut conns, complete, gtrid, bqual, seen, grace).await?;
                decided.insert(gtrid.clone(), d);
                d
            }
        };
        let Some(commit) = decision else {
            soon |= orphan;
            still.insert(key, seen);
            continue;
        };
        let Some(conn) = conns.get_mut(set) else {
            continue;
        };
        let verb = if commit { "COMMIT" } else { "ROLLBACK" };
        let x = crate::xa_sets::xid(gtrid, bqual);
        match conn.query_drop(format!("XA {verb} {x}")).await {
            Ok(()) => info!(%set, %gtrid, "XA recovery: {verb} of an in-doubt branch"),
            Err(e) => warn!(%set, %gtrid, "XA recovery {verb}: {e}"),
        }
    }
    state.first_seen = still;
    // Decision rows no prepared branch needs (every set answered: none is
    // prepared elsewhere unseen).
    if complete {
        let in_doubt: Vec<String> = found.into_iter().map(|(_, g, _)| g).collect();
        for (set, conn) in conns.iter_mut() {
            if let Err(e) = xa_sets::clean(conn, &in_doubt).await {
                warn!(%set, "deleting old rows of {}: {e}", xa_sets::TABLE);
            }
        }
        forget_decisions(topo, &in_doubt, crate::split::now_ms()).await;
    }
    Ok(soon)
}

/// Deletes the decisions in etcd no prepared branch needs any more: older than
/// [`KEEP_DECISION`] and of a gtrid no set holds prepared (`in_doubt`, read in a
/// round every set answered). Recovery's own aborts, and the commits of a
/// gateway that died before deleting them, would otherwise stay for ever.
async fn forget_decisions(topo: &topo::Topo, in_doubt: &[String], now_ms: u64) {
    let all = match topo.list_xas().await {
        Ok(all) => all,
        Err(e) => return warn!("XA recovery: listing the decisions: {e}"),
    };
    let old = stale_decisions(all, in_doubt, now_ms);
    if old.is_empty() {
        return;
    }
    match topo.delete_xas(&old).await {
        Ok(()) => info!(count = old.len(), "XA recovery: deleted old decisions"),
        Err(e) => warn!("XA recovery: deleting old decisions: {e}"),
    }
}

/// The gtrids of `all` that [`forget_decisions`] deletes.
fn stale_decisions(all: Vec<topo::XaDecision>, in_doubt: &[String], now_ms: u64) -> Vec<String> {
    let keep = KEEP_DECISION.as_millis() as u64;
    all.into_iter()
        .filter(|d| now_ms.saturating_sub(d.at_ms) > keep && !in_doubt.contains(&d.gtrid))
        .map(|d| d.gtrid)
        .collect()
}

/// The decision for the prepared branch (`gtrid`, `bqual`) first seen at
/// `seen`: `Some(commit)`, or `None` to wait (module doc). `complete`: `conns`
/// holds every set's primary. `grace`: how long a branch without decision waits
/// before it is aborted.
async fn decide(
    topo: &topo::Topo,
    conns: &mut BTreeMap<String, Conn>,
    complete: bool,
    gtrid: &str,
    bqual: &str,
    seen: Instant,
    grace: Duration,
) -> Result<Option<bool>, String> {
    if gtrid.starts_with("swc-") {
        // Prepared by the application: its XA COMMIT / ROLLBACK decides.
        return Ok(match topo.get_xa(gtrid).await.map_err(|e| e.to_string())? {
            Some(d) => Some(d.commit),
            None if app_prepared(topo, gtrid).await? => None,
            None if seen.elapsed() >= grace => {
                let d = abort(gtrid, bqual);
                Some(topo.decide_xa(&d).await.map_err(|e| e.to_string())?.commit)
            }
            None => None,
        });
    }
    // A commit recorded by the coordinator set, or in etcd.
    for conn in conns.values_mut() {
        if let Ok(Some(true)) = xa_sets::lookup(conn, gtrid).await {
            return Ok(Some(true));
        }
    }
    if let Some(d) = topo.get_xa(gtrid).await.map_err(|e| e.to_string())? {
        if d.commit {
            return Ok(Some(true));
        }
    }
    if seen.elapsed() < grace || !complete {
        return Ok(None);
    }
    // Abandoned: the abort is recorded in etcd, then on every set, before any
    // branch rolls back; a commit that got there first wins.
    if topo
        .decide_xa(&abort(gtrid, bqual))
        .await
        .map_err(|e| e.to_string())?
        .commit
    {
        return Ok(Some(true));
    }
    for (set, conn) in conns.iter_mut() {
        match xa_sets::fence(conn, gtrid).await {
            Ok(true) => return Ok(Some(true)),
            Ok(false) => {}
            Err(e) => {
                warn!(%set, %gtrid, "XA recovery: recording the abort: {e}");
                return Ok(None);
            }
        }
    }
    Ok(Some(false))
}

fn abort(gtrid: &str, bqual: &str) -> topo::XaDecision {
    topo::XaDecision {
        gtrid: gtrid.to_string(),
        commit: false,
        sets: vec![bqual.to_string()],
        at_ms: crate::split::now_ms(),
    }
}

/// Whether `gtrid` is the branch id of a transaction the application prepared
/// (recorded by `XA PREPARE`, see `session/app_xa.rs`).
async fn app_prepared(topo: &topo::Topo, gtrid: &str) -> Result<bool, String> {
    let records = topo.list_app_xas().await.map_err(|e| e.to_string())?;
    Ok(records.iter().any(|r| r.gtrid == gtrid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_of_a_gtrid() {
        assert_eq!(instance_of("sw-580bf907-22777"), Some("580bf907"));
        assert_eq!(instance_of("swc-580bf907-1"), None);
        assert_eq!(instance_of("sw-x"), None);
    }

    #[test]
    fn only_old_decisions_without_prepared_branches_go() {
        let d = |g: &str, at_ms: u64| topo::XaDecision {
            gtrid: g.into(),
            commit: false,
            sets: vec![],
            at_ms,
        };
        let hour = KEEP_DECISION.as_millis() as u64;
        let now = 10 * hour;
        let all = vec![
            d("sw-old", now - hour - 1),
            d("sw-young", now - hour + 1000),
            d("sw-old-in-doubt", 0),
            d("sw-legacy", 0),
        ];
        assert_eq!(
            stale_decisions(all, &["sw-old-in-doubt".into()], now),
            ["sw-old", "sw-legacy"]
        );
    }
}
