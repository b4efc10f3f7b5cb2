//! The gateway's copy of the cluster's routing: loaded from etcd, kept current by a
//! watch, and saved to a local file after every change so the gateway keeps
//! serving — and can start — while etcd is unreachable. The same watch keeps
//! the agents' health reports of every node ([`Routing::health`]): which
//! replicas may answer reads (`crate::split`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use topo::{ClusterSnapshot, EtcdConfig, Topo};
use tracing::{info, warn};

/// A subscription to routing changes: `changed()` wakes on every new snapshot
/// (failover: a set losing or gaining its primary, an epoch bump, `writes_blocked`).
pub type Changes = watch::Receiver<Arc<ClusterSnapshot>>;

/// Shared, swappable routing snapshot, with change notification.
#[derive(Clone)]
pub struct Routing {
    current: Arc<watch::Sender<Arc<ClusterSnapshot>>>,
    /// Whether any snapshot (from etcd or the file) has been loaded.
    loaded: Arc<std::sync::atomic::AtomicBool>,
    /// The agents' last health reports (not part of the snapshot: they change
    /// every probe and are not kept in the routing file).
    health: Arc<crate::split::ReplicaHealth>,
    /// The routing file and the revision last written to it (`None` until
    /// [`Routing::start`] names the file).
    file: Arc<std::sync::Mutex<Option<(PathBuf, i64)>>>,
    /// AUTO_INCREMENT counters started again (their keys deleted), as the
    /// watch sees them: the ids held before are void (`crate::ids`).
    id_resets: Arc<crate::ids::Resets>,
}

impl Routing {
    pub fn empty() -> Self {
        Self {
            current: Arc::new(watch::Sender::new(Arc::new(ClusterSnapshot::default()))),
            loaded: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            health: Default::default(),
            file: Default::default(),
            id_resets: Default::default(),
        }
    }

    /// The nodes' health as their agents last reported it.
    /// The AUTO_INCREMENT resets the watch saw, shared with `crate::ids`.
    pub fn id_resets(&self) -> Arc<crate::ids::Resets> {
        self.id_resets.clone()
    }

    pub fn health(&self) -> &Arc<crate::split::ReplicaHealth> {
        &self.health
    }

    /// A routing fixed to `snap` (tests).
    pub fn fixed(snap: ClusterSnapshot) -> Self {
        let r = Self::empty();
        r.replace(snap);
        r
    }

    /// The current snapshot (cheap: an `Arc` clone).
    pub fn get(&self) -> Arc<ClusterSnapshot> {
        self.current.borrow().clone()
    }

    /// A subscription that has seen the current snapshot: it reports the changes
    /// after this call. `borrow_and_update()` on it reads a snapshot and marks it
    /// seen in one step.
    pub fn subscribe(&self) -> Changes {
        self.current.subscribe()
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn replace(&self, snap: ClusterSnapshot) {
        self.current.send_replace(Arc::new(snap));
        self.loaded
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Puts a snapshot read from etcd in effect (unless a newer one already is)
    /// and writes it to the routing file when it is newer than what the file
    /// holds: the watch and this gateway's own DDL both come through here, so a
    /// restart without etcd never serves routing older than what was served.
    pub fn install(&self, snap: ClusterSnapshot) {
        self.install_from(snap, false)
    }

    /// [`install`](Self::install); with `fresh` (a new connection's first read:
    /// etcd is the truth, even at a lower revision — a rebuilt etcd) the
    /// snapshot replaces whatever is in memory and in the file.
    fn install_from(&self, snap: ClusterSnapshot, fresh: bool) {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.get();
        let newer = snap.revision >= current.revision || !self.is_loaded();
        if fresh || (newer && *current != snap) {
            self.replace(snap.clone());
        }
        if let Some((path, saved)) = file.as_mut() {
            if fresh || snap.revision > *saved {
                match snap.save(path) {
                    Ok(()) => *saved = snap.revision,
                    Err(e) => warn!(file = %path.display(), "cannot write routing file: {e}"),
                }
            }
        }
    }

    /// Loads routing (etcd first, else the cache file) and keeps following etcd in
    /// the background. Returns the topo client once etcd answered (for DDL writes).
    pub async fn start(
        etcd: EtcdConfig,
        cache: PathBuf,
    ) -> (Self, Arc<tokio::sync::OnceCell<Topo>>) {
        let routing = Self::empty();
        *routing.file.lock().unwrap_or_else(|p| p.into_inner()) = Some((cache.clone(), i64::MIN));
        let topo_cell = Arc::new(tokio::sync::OnceCell::new());
        match Topo::connect(&etcd).await {
            Ok(t) => {
                // The client serves DDL from the first statement on (the watch
                // task connects again on its own, later).
                let _ = topo_cell.set(t.clone());
                match t.snapshot().await {
                    Ok(s) => {
                        info!(revision = s.revision, "routing loaded from etcd");
                        routing.install(s);
                    }
                    Err(e) => warn!("cannot read routing from etcd: {e}"),
                }
            }
            Err(e) => warn!("{e}"),
        }
        if !routing.is_loaded() {
            match ClusterSnapshot::load(&cache) {
                Ok(s) => {
                    warn!(file = %cache.display(), revision = s.revision, "etcd unreachable: serving from the last good routing file");
                    if let Some((_, saved)) = routing
                        .file
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_mut()
                    {
                        *saved = s.revision;
                    }
                    routing.replace(s);
                }
                Err(e) => {
                    warn!(file = %cache.display(), "no routing file either ({e}); waiting for etcd")
                }
            }
        }
        tokio::spawn(follow(routing.clone(), etcd, topo_cell.clone()));
        (routing, topo_cell)
    }
}

/// Records an AUTO_INCREMENT counter started again by another gateway's DDL
/// in [`Routing::id_resets`]: its key deleted (TRUNCATE, DROP, RENAME) or its
/// reset marker written (`AUTO_INCREMENT = n`).
fn ids_event(routing: &Routing, topo: &Topo, ev: &topo::store::WatchEvent) {
    let Some(kv) = ev.kv() else { return };
    let Ok(key) = kv.key_str() else { return };
    let reset = match topo.keys().kind_of(key) {
        Some("ids") => topo::store::is_delete(ev),
        Some("ids-reset") => !topo::store::is_delete(ev),
        _ => false,
    };
    if !reset {
        return;
    }
    if let Some((db, table)) = topo.keys().ids_table_of(key) {
        routing
            .id_resets
            .record(&db, Some(&table), kv.mod_revision());
    }
}

/// Keeps [`Routing::health`] current from a watch event on a `health/` key.
fn health_event(routing: &Routing, topo: &Topo, ev: &topo::store::WatchEvent) {
    let Some(kv) = ev.kv() else { return };
    let Ok(key) = kv.key_str() else { return };
    if topo.keys().kind_of(key) != Some("health") {
        return;
    }
    if topo::store::is_delete(ev) {
        if let Some(node) = crate::split::health::node_of_key(key) {
            routing.health.remove(node);
        }
    } else if let Ok(r) = serde_json::from_slice::<topo::HealthReport>(kv.value()) {
        routing.health.update(r);
    }
}

/// Follows etcd forever: snapshot, then watch from the next revision; on any
/// routing change re-read the snapshot. Reconnects with a bounded back-off.
async fn follow(routing: Routing, etcd: EtcdConfig, topo_cell: Arc<tokio::sync::OnceCell<Topo>>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match follow_once(&routing, &etcd, &topo_cell).await {
            Ok(()) => backoff = Duration::from_millis(200),
            Err(e) => {
                warn!("routing watch: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn follow_once(
    routing: &Routing,
    etcd: &EtcdConfig,
    topo_cell: &tokio::sync::OnceCell<Topo>,
) -> topo::Result<()> {
    let topo = Topo::connect(etcd).await?;
    let _ = topo_cell.set(topo.clone());
    let mut snap = topo.snapshot().await?;
    if snap.revision < routing.get().revision {
        // Older than what is in effect: a DDL of this gateway installed a newer
        // one meanwhile (a read now is at least as new), or etcd itself went
        // back (restored from a backup: it is the truth).
        snap = topo.snapshot().await?;
        if snap.revision < routing.get().revision {
            warn!(
                revision = snap.revision,
                "etcd's revision went back; following it"
            );
        }
    }
    let mut rev = snap.revision;
    match topo.list_health().await {
        Ok(h) => routing.health.load(h),
        Err(e) => warn!("cannot read health reports: {e}"),
    }
    routing.install_from(snap, true);
    let mut stream = topo.watch_cluster(rev + 1).await?;
    while let Some(resp) = stream.message().await? {
        if resp.canceled() {
            return Ok(());
        }
        let changed = resp.events().iter().any(|ev| {
            ev.kv()
                .and_then(|kv| kv.key_str().ok())
                .is_some_and(|k| topo.is_routing_key(k))
        });
        for ev in resp.events() {
            health_event(routing, &topo, ev);
            ids_event(routing, &topo, ev);
        }
        if changed {
            let snap = topo.snapshot().await?;
            if snap.revision > rev {
                rev = snap.revision;
                info!(revision = rev, "routing changed");
                routing.install(snap);
            }
        }
    }
    Ok(())
}
