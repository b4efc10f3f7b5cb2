//! Slot moves (docs/scaleout.md): the scheduler leader's side. Each leader round
//! picks the oldest unfinished move in `moves/` ([`pick`]) and a [`Driver`] runs it
//! phase by phase, resumable from its record: [`create`] (validation, tables on the
//! target, the fence), [`copy`] (consistent snapshot, chunks of the moving slots),
//! [`catchup`] (each source's binlog, decoded by [`binlog`], filtered to the moving
//! slots and applied to the target by [`apply::Tail`]), [`flip`] (hold,
//! gateways' acknowledgements, drain, [`verify`], shard map CAS), [`cleanup`] (the
//! moved rows off the sources) and [`undo`] (a cancel or failure before the flip).

pub mod apply;
pub mod binlog;
pub mod blocked;
pub mod catchup;
pub mod cleanup;
pub mod copy;
pub mod create;
pub mod driver;
pub mod flip;
pub mod sql;
pub mod undo;
pub mod verify;
pub mod views;

use std::collections::HashSet;

use topo::{MoveRecord, Topo, Versioned};

pub use driver::{Driver, MoveError};

/// The oldest unfinished move, unless a set it involves (its target, its sources,
/// or — before the sources are known — every set of its database) has a failover
/// or switchover in progress (`ops`): then None, and the move waits.
pub async fn pick(
    topo: &Topo,
    ops: &HashSet<String>,
) -> topo::Result<Option<Versioned<MoveRecord>>> {
    let mut all: Vec<Versioned<MoveRecord>> = topo.list(&topo.keys().moves()).await?;
    all.retain(|m| !m.value.phase.is_finished());
    let Some(m) = all
        .into_iter()
        .min_by(|a, b| (a.value.created_ms, &a.value.id).cmp(&(b.value.created_ms, &b.value.id)))
    else {
        return Ok(None);
    };
    let mut sets: Vec<String> = vec![m.value.to.clone()];
    sets.extend(m.value.sources.iter().map(|s| s.set.clone()));
    if m.value.sources.is_empty() {
        if let Some(db) = topo.get_db(&m.value.db).await? {
            sets.extend(db.value.sets());
        }
    }
    if sets.iter().any(|s| ops.contains(s)) {
        return Ok(None);
    }
    Ok(Some(m))
}
