//! Read/write split: plain reads outside transactions may go to a set's
//! replicas — for users created `--reads replica`, for statements carrying
//! TDSQL's `/*slave*/` hint, and for sessions that `SET setwise_read_from =
//! 'replica'` — to the fit ones only (replicating, lag within `[reads]
//! max_replica_lag_ms`, fresh agent report), and after a session's own write
//! only to replicas that applied it (read-your-writes by GTID). Anything else,
//! and any doubt, goes to the primary.
//!
//! | module | owns |
//! |---|---|
//! | [`statement`] | the hint, what counts as a plain read, the session variable |
//! | [`state`] | a session's setting and its own writes' GTIDs per set |
//! | [`health`] | the agents' reports as the gateway follows them, shunned replicas |
//! | [`pick`] | which replicas are fit, in which order |
//! | [`take`] | what a statement may read from replicas, the guard over those reads (the connection itself: `crate::exec::replica`) |

pub mod health;
pub mod pick;
pub mod state;
pub mod statement;
pub mod take;

pub use health::ReplicaHealth;
pub use state::SplitState;
pub use statement::ReadFrom;
pub use take::ReplicaReads;

/// Unix time, milliseconds (what agents stamp their reports with).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
