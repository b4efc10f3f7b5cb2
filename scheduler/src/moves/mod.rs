//! Slot moves (scale-out, docs/scaleout.md): the data-moving side of the scheduler.
//!
//! * [`binlog`]: a source primary's binlog streamed from a GTID position and decoded;
//! * [`apply`]: the catch-up ([`apply::Tail`]) — that binlog filtered to the moving
//!   slots and applied idempotently to the target primary.

pub mod apply;
pub mod binlog;
