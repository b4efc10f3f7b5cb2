//! The gateway's side of a slot move (docs/scaleout.md): while a move's fence
//! (`moving/<id>`) is `holding`, no write to its slots may run through this
//! gateway, and the scheduler must be told so.
//!
//! - [`register`]: this gateway's record `gateways/<id>` under a lease (the
//!   scheduler's hold waits for the acknowledgement of every registered gateway;
//!   a gateway that lost its lease refuses writes to databases with a fence).
//! - [`footprint`]: what a write statement touches — per database, the slots of
//!   its sharded tables (or "unknown") and whether it writes a broadcast table.
//! - [`inflight`]: writes in flight (autocommit statements) and open
//!   transactions with what they wrote, and their commit state.
//! - [`gate`]: the session's check before a write is planned: wait while a
//!   holding fence covers it, then let it be planned against the new snapshot.
//! - [`ack`]: on a fence entering `holding`: end the transactions that wrote its
//!   slots, wait for the writes in flight, then write `move-acks/<move>/<id>`.
//! - [`ddl`]: schema changes of a database with a move under way wait or fail.

pub mod ack;
pub mod ddl;
pub mod footprint;
pub mod gate;
pub mod inflight;
pub mod register;

use std::sync::Arc;
use std::time::Duration;

pub use crate::config::MovesConfig;
pub use footprint::Footprint;
pub use inflight::{TxnMark, WriteGuard};

/// What the sessions of every core share about moves.
pub struct Moves {
    pub cfg: MovesConfig,
    /// This gateway's id in `gateways/` and `move-acks/`.
    pub gateway_id: String,
    pub inflight: Arc<inflight::InFlight>,
    /// Whether this gateway's registration is surely alive in etcd.
    registered: tokio::sync::watch::Sender<bool>,
}

impl Moves {
    pub fn new(cfg: MovesConfig, gateway_id: String) -> Self {
        Self {
            cfg,
            gateway_id,
            inflight: Default::default(),
            registered: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Whether `gateways/<id>` is surely alive in etcd (the scheduler's holds
    /// wait for this gateway's acknowledgement).
    pub fn registered(&self) -> bool {
        *self.registered.borrow()
    }

    pub fn watch_registered(&self) -> tokio::sync::watch::Receiver<bool> {
        self.registered.subscribe()
    }

    pub(crate) fn set_registered(&self, on: bool) {
        self.registered
            .send_if_modified(|r| std::mem::replace(r, on) != on);
    }

    pub fn hold_wait(&self) -> Duration {
        Duration::from_millis(self.cfg.hold_wait_ms)
    }
}

/// The default gateway id: `<hostname>-<port of listen>`.
pub fn default_gateway_id(listen: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "gateway".into());
    let port = listen.rsplit(':').next().unwrap_or("0");
    format!("{host}-{port}")
}

/// Starts registration and the hold watcher (on the control runtime).
/// `instance`: the id of this process in its gtrids (`topo::GatewayRecord`).
pub fn start(
    moves: Arc<Moves>,
    routing: crate::routing::Routing,
    topo: Arc<tokio::sync::OnceCell<topo::Topo>>,
    listen: String,
    instance: String,
) {
    tokio::spawn(register::run(
        moves.clone(),
        routing.clone(),
        topo.clone(),
        listen,
        instance,
    ));
    tokio::spawn(ack::run(moves, routing, topo));
}
