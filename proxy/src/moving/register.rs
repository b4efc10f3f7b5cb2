//! This gateway's registration: `gateways/<id>` (`topo::GatewayRecord`) under
//! a lease kept alive, registered again whenever the lease is lost and etcd is
//! back. It is also remembered in `gateways-known/<id>` until it stops cleanly
//! (SIGTERM/SIGINT deregister it) — the scheduler holds no move while a known
//! gateway is not registered. The scheduler's hold waits for the acknowledgement of every registered
//! gateway; a gateway cut off from etcd loses its registration and is no longer
//! waited for, so it counts as registered only while its lease is surely alive
//! (the last acknowledged refresh, counted from when it was sent, with a
//! quarter of the TTL to spare) — and while it is not, the gate makes writes to
//! tables of databases with a fence wait (`gate.rs`, docs/scaleout.md), and
//! the open transactions that wrote to such a database are ended at once (a
//! hold may now flip without this gateway: they must not commit after it).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tracing::{info, warn};

use super::Moves;

/// How often the lease's freshness is checked.
const CHECK: Duration = Duration::from_millis(100);

pub async fn run(
    moves: Arc<Moves>,
    routing: crate::routing::Routing,
    topo: Arc<OnceCell<topo::Topo>>,
    listen: String,
    instance: String,
) {
    let ttl = moves.cfg.lease_ttl_s.max(1);
    let spare = Duration::from_millis(ttl as u64 * 1000 / 4);
    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let record = topo::GatewayRecord {
        id: moves.gateway_id.clone(),
        addr: listen,
        started_ms,
        metrics: crate::observe::port::addr().unwrap_or_default(),
        instance,
    };
    tokio::spawn(deregister_on_signal(topo.clone(), record.id.clone()));
    let mut backoff = Duration::from_millis(200);
    loop {
        let Some(t) = topo.get().cloned() else {
            tokio::time::sleep(CHECK * 2).await;
            continue;
        };
        let lease = match topo::lease::Lease::grant(&t, ttl).await {
            Ok(l) => l,
            Err(e) => {
                warn!(gateway = %record.id, "cannot register the gateway: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if let Err(e) = async {
            t.put_gateway(&record, lease.id()).await?;
            t.put_known_gateway(&record).await
        }
        .await
        {
            warn!(gateway = %record.id, "cannot register the gateway: {e}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
            continue;
        }
        backoff = Duration::from_millis(200);
        moves.set_registered(true);
        info!(gateway = %record.id, lease = lease.id(), ttl, "gateway registered");
        while !lease.is_lost() && lease.fresh_for() > spare {
            tokio::time::sleep(CHECK).await;
        }
        moves.set_registered(false);
        let snap = routing.get();
        let ended: usize = snap
            .moving
            .values()
            .map(|f| moves.inflight.settle(f).aborted)
            .sum();
        warn!(
            gateway = %record.id,
            transactions_ended = ended,
            "gateway registration lost (etcd unreachable?): writes to databases with a slot move under way wait until it is back"
        );
    }
}

/// On SIGTERM / SIGINT: forgets this gateway in etcd (a clean shutdown is not a
/// gateway cut off from etcd, which would stop slot moves from holding) and exits.
async fn deregister_on_signal(topo: Arc<OnceCell<topo::Topo>>, id: String) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    if let Some(t) = topo.get() {
        match tokio::time::timeout(Duration::from_secs(2), t.forget_gateway(&id)).await {
            Ok(Ok(_)) => info!(gateway = %id, "gateway deregistered; stopping"),
            _ => warn!(gateway = %id, "could not deregister the gateway; stopping"),
        }
    }
    std::process::exit(0);
}
