//! The write gate, asked by the session before a write statement is planned:
//! while a fence of the latest routing snapshot is `holding` and the write
//! touches what it holds (its slots, unknown slots of its database, or its
//! broadcast tables when the move copies them), the write waits — then the
//! session plans it against the snapshot it finds after the wait (the new shard
//! map when the move flipped). A write that passes is registered in flight
//! ([`super::inflight`]) in the same step, so a hold starting right after sees
//! it. Writes to other slots, and reads, never wait.
//!
//! While this gateway's registration is not surely alive in etcd (cut off from
//! it: the scheduler's holds no longer wait for it), writes to tables of a
//! database that has a fence wait for it to come back, like a hold.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::debug;

use super::footprint::{self, Columns};
use super::{Moves, TxnMark, WriteGuard};
use crate::error::ProxyError;
use crate::routing::Routing;
use crate::sql::lexer::Token;

/// Statements the gate looks at (by first keyword): those that write rows.
/// `CALL` and SQL `EXECUTE` have unknown footprints.
pub fn gated(first: &str) -> bool {
    matches!(
        first,
        "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "LOAD" | "CALL" | "EXECUTE"
    )
}

/// Why a write may not run yet.
enum Verdict {
    Pass(Option<WriteGuard>),
    Held { move_id: String },
    Unregistered { move_id: String },
}

/// One write to admit: the session's database and the statement, and the
/// open transaction's mark when it runs in one (`None`: autocommit).
pub struct Write<'a> {
    pub db: Option<&'a str>,
    pub sql: &'a str,
    pub tokens: &'a [Token],
    pub columns: Columns<'a>,
    pub txn: Option<&'a mut Option<TxnMark>>,
}

/// Admits `w`, waiting (at most `[moves] hold_wait_ms`) while a hold covers
/// it. `Ok(Some(guard))`: an autocommit write, in flight until the guard
/// drops. `Err(MoveAborted)`: a hold ended the transaction (the caller rolls
/// it back).
pub async fn admit(
    moves: &Moves,
    routing: &Routing,
    mut w: Write<'_>,
) -> Result<Option<WriteGuard>, ProxyError> {
    let wait = moves.hold_wait();
    let started = Instant::now();
    let mut changes = routing.subscribe();
    let mut registered = moves.watch_registered();
    let mut held_by: Option<String> = None;
    let inflight: &Arc<super::inflight::InFlight> = &moves.inflight;
    loop {
        let snap = changes.borrow_and_update().clone();
        registered.borrow_and_update();
        let fp = footprint::of_write(&snap, w.db, w.sql, w.tokens, w.columns);
        let verdict = {
            let mut g = inflight.lock();
            if routing.get().revision != snap.revision {
                continue;
            }
            let unregistered = (!moves.registered())
                .then(|| snap.moving.values().find(|f| fp.touches_db(&f.db)))
                .flatten();
            let held = snap
                .moving
                .values()
                .find(|f| f.holds_writes() && fp.touches(f));
            match (unregistered, held) {
                (Some(f), _) => Verdict::Unregistered {
                    move_id: f.id.clone(),
                },
                (None, Some(f)) => Verdict::Held {
                    move_id: f.id.clone(),
                },
                (None, None) => match w.txn.as_deref_mut() {
                    Some(mark) => {
                        inflight
                            .admit_txn(&mut g, mark, fp)
                            .map_err(ProxyError::MoveAborted)?;
                        Verdict::Pass(None)
                    }
                    None => Verdict::Pass(Some(inflight.admit_autocommit(&mut g, fp))),
                },
            }
        };
        let (move_id, why) = match verdict {
            Verdict::Pass(guard) => {
                if let Some(m) = held_by {
                    let waited = started.elapsed();
                    metrics::histogram!(crate::metrics::HOLD_WAIT_SECONDS)
                        .record(waited.as_secs_f64());
                    debug!(move_id = %m, waited_ms = waited.as_millis() as u64, "held write released");
                }
                return Ok(guard);
            }
            Verdict::Held { move_id } => (move_id, "held"),
            Verdict::Unregistered { move_id } => (move_id, "unregistered"),
        };
        if held_by.is_none() {
            metrics::counter!(crate::metrics::HELD_WRITES, "why" => why).increment(1);
            debug!(%move_id, why, "write held by a slot move");
        }
        held_by = Some(move_id.clone());
        let left = wait.saturating_sub(started.elapsed());
        let woke = tokio::time::timeout(left, async {
            tokio::select! {
                r = changes.changed() => r.is_ok(),
                r = registered.changed() => r.is_ok(),
            }
        })
        .await;
        if !matches!(woke, Ok(true)) {
            metrics::histogram!(crate::metrics::HOLD_WAIT_SECONDS)
                .record(started.elapsed().as_secs_f64());
            return Err(timeout(&move_id, why, wait));
        }
    }
}

fn timeout(move_id: &str, why: &str, wait: Duration) -> ProxyError {
    let ms = wait.as_millis();
    ProxyError::MoveWait(match why {
        "unregistered" => format!(
            "this gateway lost its registration in etcd and slot move {move_id} is under way in the database: its writes there wait for etcd ({ms} ms, [moves] hold_wait_ms)"
        ),
        _ => format!(
            "slot move {move_id} holds writes to these rows; they waited {ms} ms ([moves] hold_wait_ms); `setwise shard moves` shows the move"
        ),
    })
}
