//! `setwise shard …` as clap types (docs/scaleout.md); validated by [`super::check`].

use clap::{Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum ShardCmd {
    /// Moves slots FIRST-LAST of every sharded table of a database to a set, online.
    #[command(
        after_help = "Example:\n  setwise shard move --db order_db --slots 0-255 --to set3 --wait"
    )]
    Move {
        /// The database.
        #[arg(long)]
        db: String,
        /// Slot range, inclusive: FIRST-LAST (or one slot).
        #[arg(long, value_name = "FIRST-LAST")]
        slots: String,
        /// The target set.
        #[arg(long, value_name = "SET")]
        to: String,
        /// Follow the move and show its progress; exit 0 when it is done.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up waiting after this many seconds (the move goes on).
        #[arg(long, value_name = "SECS", requires = "wait")]
        timeout: Option<u64>,
    },
    /// Slot moves: in progress, then finished; or cancel one that has not flipped.
    #[command(
        after_help = "Examples:\n  setwise shard moves --db order_db\n  setwise shard moves --cancel m1733500000000"
    )]
    Moves {
        /// Only this database's moves.
        #[arg(long)]
        db: Option<String>,
        /// `--json` (global): one array, in progress first.
        #[arg(skip)]
        json: bool,
        /// Ask the scheduler to undo move ID (before its flip only).
        #[arg(long, value_name = "ID", conflicts_with_all = ["db"])]
        cancel: Option<String>,
    },
    /// Evens a database's slots (or rows) over every healthy set, with moves.
    #[command(
        after_help = "Examples:\n  setwise shard rebalance --db order_db --dry-run\n  setwise shard rebalance --db order_db --by data --wait"
    )]
    Rebalance {
        #[arg(long)]
        db: String,
        /// What to even out: slot counts, or rows (from the agents' table statistics).
        #[arg(long, value_enum, default_value_t = ByArg::Slots)]
        by: ByArg,
        /// Follow each move to its end.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up waiting after this many seconds in all.
        #[arg(long, value_name = "SECS", requires = "wait")]
        timeout: Option<u64>,
        /// Print the moves, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The capacity monitor's view: each set's load against the limits, and the move
    /// it proposes (or "balanced").
    #[command(after_help = "Example:\n  setwise shard plan --json")]
    Plan {
        /// `--json` (global).
        #[arg(skip)]
        json: bool,
    },
}

/// `--by slots|data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    Slots,
    Data,
}
