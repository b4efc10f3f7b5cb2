//! Recovery of distributed (XA) transactions left in doubt: branches a gateway
//! prepared but never finished because it died between the two commit phases.
//!
//! Every few seconds each set's primary is asked for its prepared branches
//! (`XA RECOVER`); for ours (gtrid `sw-...`) the decision recorded in etcd is
//! applied. A branch with no decision that stays prepared past a grace period is
//! aborted — by creating the decision record first, so a gateway that was only
//! slow cannot record "commit" afterwards (`topo::Topo::decide_xa`). Branches of a
//! transaction the application prepared itself (`XA PREPARE`, gtrid `swc-...`,
//! recorded as `topo::AppXaRecord`) wait for the application's decision.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use crate::session::Shared;

/// How long a branch may stay prepared without a decision before it is aborted.
const GRACE: Duration = Duration::from_secs(20);
const PERIOD: Duration = Duration::from_secs(5);

/// Runs recovery forever (spawned by the server).
pub async fn run(shared: Arc<Shared>) {
    let mut first_seen: HashMap<(String, String), Instant> = HashMap::new();
    loop {
        tokio::time::sleep(PERIOD).await;
        if let Err(e) = round(&shared, &mut first_seen).await {
            warn!("XA recovery: {e}");
        }
    }
}

async fn round(
    shared: &Shared,
    first_seen: &mut HashMap<(String, String), Instant>,
) -> Result<(), String> {
    let Some(topo) = shared.topo.get() else {
        return Ok(());
    };
    // Finished decisions no later commit deleted along with its own.
    crate::xa_log::flush_done(topo).await;
    let changes = shared.routing.subscribe();
    let snap = shared.routing.get();
    let mut still: HashMap<(String, String), Instant> = HashMap::new();
    for set in snap.sets.keys() {
        let conns = crate::exec::Conns {
            backends: &shared.backends,
            routing: &shared.routing,
            changes: &changes,
            snap: &snap,
            db: None,
            found_rows: false,
            init: Default::default(),
            codec: Default::default(),
        };
        let Ok(mut conn) = conns.pooled_now(set).await else {
            continue;
        };
        let rows: Vec<(i64, i64, i64, Vec<u8>)> = match conn.query("XA RECOVER").await {
            Ok(r) => r,
            Err(e) => {
                warn!(%set, "XA RECOVER: {e}");
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
            // `swc-`: the application's own XA transaction (session/app_xa.rs).
            let app = gtrid.starts_with("swc-");
            if !gtrid.starts_with("sw-") && !app {
                continue;
            }
            let key = (gtrid.clone(), bqual.clone());
            let seen = *first_seen.get(&key).unwrap_or(&Instant::now());
            let decision = match topo.get_xa(&gtrid).await.map_err(|e| e.to_string())? {
                Some(d) => Some(d.commit),
                // Prepared by the application: its XA COMMIT / ROLLBACK decides.
                None if app && app_prepared(topo, &gtrid).await? => None,
                None if seen.elapsed() >= GRACE => {
                    let d = topo::XaDecision {
                        gtrid: gtrid.clone(),
                        commit: false,
                        sets: vec![bqual.clone()],
                        at_ms: 0,
                    };
                    Some(topo.decide_xa(&d).await.map_err(|e| e.to_string())?.commit)
                }
                None => None,
            };
            match decision {
                Some(commit) => {
                    let verb = if commit { "COMMIT" } else { "ROLLBACK" };
                    let x = crate::session::txn::xid(&gtrid, &bqual);
                    match conn.query_drop(format!("XA {verb} {x}")).await {
                        Ok(()) => info!(%set, %gtrid, "XA recovery: {verb} of an in-doubt branch"),
                        Err(e) => warn!(%set, %gtrid, "XA recovery {verb}: {e}"),
                    }
                }
                None => {
                    still.insert(key, seen);
                }
            }
        }
    }
    *first_seen = still;
    Ok(())
}

/// Whether `gtrid` is the branch id of a transaction the application prepared
/// (recorded by `XA PREPARE`, see `session/app_xa.rs`).
async fn app_prepared(topo: &topo::Topo, gtrid: &str) -> Result<bool, String> {
    let records = topo.list_app_xas().await.map_err(|e| e.to_string())?;
    Ok(records.iter().any(|r| r.gtrid == gtrid))
}
