//! The capacity monitor: turns the agents' reports (CPU and datadir size per node,
//! rows per table) into a load per set ([`load`]), compares it with the thresholds of
//! `[capacity]` ([`CapacityConfig`]) and proposes moving slots of the heaviest
//! database from the most loaded set to the least loaded one with room
//! ([`propose`]). `setwise shard plan` shows the proposal; with `auto = true` the
//! scheduler leader carries it out ([`auto`]), one move at a time.
//! Whether a set may take slots at all is [`fit`].

pub mod auto;
pub mod fit;
pub mod load;
pub mod propose;

use serde::{Deserialize, Serialize};

pub use load::SetLoad;
pub use propose::{propose, Inputs, Proposal, ProposedMove};

/// `[capacity]` of the scheduler's config (and of the `setwise` CLI's, for `shard plan`).
/// A limit of 0 is no limit.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CapacityConfig {
    /// The leader writes the proposal as a move by itself (one at a time).
    pub auto: bool,
    /// A set whose primary's datadir is larger than this is over capacity.
    pub max_datadir_bytes: u64,
    /// A set whose primary's mariadbd uses more CPU than this (percent of one core,
    /// smoothed over the leader's rounds) is over capacity.
    pub max_cpu_pct: f64,
    /// A set whose primary holds more rows (all tables) than this is over capacity.
    pub max_rows: u64,
    /// A target must stay this far (percent) below every limit to take slots.
    pub min_headroom_pct: f64,
    /// Automatic moves start at most this often (seconds).
    pub min_interval_s: u64,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        Self {
            auto: false,
            max_datadir_bytes: 100 << 30,
            max_cpu_pct: 300.0,
            max_rows: 0,
            min_headroom_pct: 30.0,
            min_interval_s: 600,
        }
    }
}
