//! Setwise control plane: the `setwise-scheduler` daemon (leader election, health
//! monitor, failover, switchover, sync policy) and the `setwise` DBA command line ([`cli`]).

pub mod balance;
pub mod capacity;
pub mod cli;
pub mod config;
pub mod console;
pub mod control;
pub mod ddl;
pub mod failover;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod monitor;
pub mod moves;
pub mod policy;
pub mod redundancy;
pub mod service;

/// Unix time now, in milliseconds (the clock of `HealthReport::at_ms`).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether `e` comes from etcd not answering (as opposed to a decision or a step
/// that failed): long operations (failover, slot moves) stop and let the next
/// leader round resume them.
pub fn etcd_trouble(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<topo::TopoError>(),
            Some(
                topo::TopoError::Etcd(_)
                    | topo::TopoError::Unreachable { .. }
                    | topo::TopoError::Io(_)
            )
        )
    })
}
