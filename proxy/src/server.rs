//! The listener: accepts clients and hands each to a worker thread ([`crate::workers`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::backend::Backends;
use crate::config::ProxyConfig;
use crate::routing::Routing;
use crate::shared::Shared;
use crate::workers::Workers;

/// Starts routing, binds the listener and serves clients forever.
pub async fn run(cfg: ProxyConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let metrics = crate::metrics::install(&cfg.metrics_listen)?;
    if let Some((_, l)) = &metrics {
        crate::observe::port::bound(l.local_addr()?);
    }
    crate::digest::configure(&cfg.digests);
    crate::audit::start(&cfg.audit)?;
    crate::join::configure(cfg.join.clone());
    crate::admission::configure(cfg.limits.clone());
    let (routing, topo) = Routing::start(cfg.etcd.clone(), cfg.routing_cache.clone()).await;
    let ids = Arc::new(crate::ids::Ids::new(cfg.ids.segment, routing.id_resets()));
    let gateway = match cfg.gateway_id.as_str() {
        "" => crate::moving::default_gateway_id(&cfg.listen),
        id => id.to_string(),
    };
    let moves = Arc::new(crate::moving::Moves::new(cfg.moves.clone(), gateway));
    // This process's id in its gtrids, registered with the gateway (`crate::xa`
    // tells the branches of dead gateways by it).
    let instance = format!("{:08x}", rand::random::<u32>());
    crate::moving::start(
        moves.clone(),
        routing.clone(),
        topo.clone(),
        cfg.listen.clone(),
        instance.clone(),
    );
    let tls = crate::front::tls::Acceptor::from_config(&cfg.tls)?;
    cfg.backend.tls.ssl_opts()?;
    let shared = Arc::new(Shared {
        tls,
        moves,
        ids,
        backends: Backends::new(cfg.backend.clone()),
        cfg,
        routing,
        topo,
        columns: Default::default(),
        plans: Default::default(),
        gateway_id: instance,
        txn_seq: Default::default(),
        registry: Default::default(),
        started: std::time::Instant::now(),
    });
    if let Some((handle, listener)) = metrics {
        crate::metrics_port::start(handle, listener, shared.clone())?;
    }
    tokio::spawn(crate::xa::run(shared.clone()));
    crate::deadlock::start(shared.clone());
    tokio::spawn(follow_primaries(shared.clone()));
    tokio::spawn(load_key_weights(shared.clone()));
    info!(listen = %shared.cfg.listen, "setwise-proxy ready");
    serve(listener, shared).await
}

/// Keeps the backend pools to the sets' current primaries only.
async fn follow_primaries(shared: Arc<Shared>) {
    let mut changes = shared.routing.subscribe();
    loop {
        let snap = changes.borrow_and_update().clone();
        if shared.routing.is_loaded() {
            shared.backends.retain_primaries(&snap);
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Loads the collation weights of every text shard key routing names
/// (`topo::weights`), so that reads by such a key go to one set from the start
/// (until then they go to every set; a write loads them itself).
async fn load_key_weights(shared: Arc<Shared>) {
    let mut changes = shared.routing.subscribe();
    loop {
        let snap = changes.borrow_and_update().clone();
        let wanted: std::collections::BTreeMap<u16, String> = snap
            .tables
            .values()
            .filter_map(|t| match &t.kind {
                topo::TableKind::Sharded {
                    key_type: topo::KeyType::Weighted { collation, .. },
                    ..
                } => Some((*collation, snap.db(&t.db)?.home_set.clone())),
                _ => None,
            })
            .filter(|(id, _)| topo::weights::weigher(*id).is_none())
            .collect();
        for (id, set) in wanted {
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
            if let Err(e) = crate::exec::weights::ensure(&conns, id, &set).await {
                tracing::warn!(collation = id, %set, error = %e, "loading text key weights");
            }
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

pub async fn serve(listener: TcpListener, shared: Arc<Shared>) -> anyhow::Result<()> {
    let n = shared.cfg.worker_count();
    let workers = Workers::start(n, shared.clone())
        .map_err(|e| anyhow::anyhow!("cannot start {n} worker threads: {e}"))?;
    info!(workers = n, "serving clients");
    let next_id = AtomicU32::new(1);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(crate::metrics::CONNECTIONS).increment(1);
        if let Err(e) = workers.assign(stream, peer, id) {
            warn!(%peer, "cannot hand a client to a worker: {e}");
        }
    }
}
