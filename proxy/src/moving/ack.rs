//! The hold watcher: follows the routing snapshots, and for each fence that
//! enters `holding` — once per time it enters it — ends the open transactions
//! that wrote what it holds (their next statement or COMMIT gets 1213), waits
//! for the autocommit writes in flight and the commits under way that touch it,
//! then acknowledges in etcd (`move-acks/<move>/<gateway>`, the revision of the
//! snapshot that showed the hold). From then on the gate keeps every new write
//! to the held slots waiting until the fence leaves `holding`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tracing::{info, warn};

use super::Moves;
use crate::routing::Routing;

pub async fn run(moves: Arc<Moves>, routing: Routing, topo: Arc<OnceCell<topo::Topo>>) {
    let mut changes = routing.subscribe();
    // Fences this gateway is holding for, with the task acknowledging the hold.
    let mut holding: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    loop {
        let snap = changes.borrow_and_update().clone();
        holding.retain(|id, task| {
            let still = snap.moving.get(id).is_some_and(|f| f.holds_writes());
            if !still {
                task.abort();
                let state = snap.moving.get(id).map_or("deleted", |f| match f.state {
                    topo::FenceState::Copying => "copying",
                    topo::FenceState::Holding => "holding",
                    topo::FenceState::Flipped => "flipped",
                });
                info!(move_id = %id, state, revision = snap.revision, "hold released");
            }
            still
        });
        for f in snap.moving.values().filter(|f| f.holds_writes()) {
            if holding.contains_key(&f.id) {
                continue;
            }
            // Under the in-flight lock, after the snapshot was published: a
            // write is either in this scan or sees the holding fence.
            let pending = moves.inflight.settle(f);
            info!(
                move_id = %f.id,
                db = %f.db,
                revision = snap.revision,
                writes_in_flight = pending.autocommit.len(),
                commits_under_way = pending.committing.len(),
                transactions_ended = pending.aborted,
                "holding writes for a slot move"
            );
            if pending.aborted > 0 {
                metrics::counter!(crate::metrics::MOVE_ABORTED_TXNS)
                    .increment(pending.aborted as u64);
            }
            let task = tokio::spawn(acknowledge(
                moves.clone(),
                topo.clone(),
                f.id.clone(),
                snap.revision,
                pending,
            ));
            holding.insert(f.id.clone(), task);
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Waits for `pending` to drain, then writes the acknowledgement (retrying
/// until etcd takes it; aborted by the watcher when the hold ends first).
async fn acknowledge(
    moves: Arc<Moves>,
    topo: Arc<OnceCell<topo::Topo>>,
    move_id: String,
    revision: i64,
    pending: super::inflight::Pending,
) {
    let started = std::time::Instant::now();
    moves.inflight.drained(&pending).await;
    let mut registered = moves.watch_registered();
    loop {
        // An unregistered gateway is not waited for; once registered again it
        // acknowledges (writes to the database wait meanwhile).
        if !*registered.borrow_and_update() {
            let _ = tokio::time::timeout(Duration::from_secs(1), registered.changed()).await;
            continue;
        }
        let Some(t) = topo.get() else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let ack = topo::HoldAck {
            gateway: moves.gateway_id.clone(),
            move_id: move_id.clone(),
            revision,
            at_ms: now_ms(),
        };
        match t.put_hold_ack(&ack).await {
            Ok(()) => {
                info!(
                    %move_id,
                    revision,
                    drained_ms = started.elapsed().as_millis() as u64,
                    "hold acknowledged"
                );
                return;
            }
            Err(e) => {
                warn!(%move_id, "cannot acknowledge the hold: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
