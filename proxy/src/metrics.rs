//! Gateway metrics (the `metrics` facade) and their Prometheus endpoint.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusBuilder;

pub const CONNECTIONS: &str = "setwise_proxy_connections_total";
pub const STATEMENTS: &str = "setwise_proxy_statements_total";
pub const ERRORS: &str = "setwise_proxy_errors_total";
pub const STATEMENT_SECONDS: &str = "setwise_proxy_statement_seconds";
/// Statements that waited for a set to get a (reachable) primary, by outcome.
pub const PRIMARY_WAITS: &str = "setwise_proxy_primary_waits_total";
/// Transactions rolled back because a set's primary changed under them.
pub const FENCED_TXNS: &str = "setwise_proxy_fenced_transactions_total";
/// Writes refused because the set's writes are blocked.
pub const BLOCKED_WRITES: &str = "setwise_proxy_blocked_writes_total";
/// Statements given up while running because routing changed under them.
pub const INTERRUPTED: &str = "setwise_proxy_interrupted_statements_total";

/// Writes that waited for a slot move's hold, by `why` (`held`, or
/// `unregistered`: this gateway's etcd registration was not alive).
pub const HELD_WRITES: &str = "setwise_proxy_held_writes_total";
/// How long held writes waited (released or timed out).
pub const HOLD_WAIT_SECONDS: &str = "setwise_proxy_hold_wait_seconds";
/// Transactions a slot move's hold ended (1213).
pub const MOVE_ABORTED_TXNS: &str = "setwise_proxy_move_aborted_transactions_total";

/// Point reads offered to a pipelined connection, by outcome (`pipelined`, or
/// `pooled` when none had room or it broke before answering).
pub const PIPELINED_READS: &str = "setwise_proxy_point_reads_total";

/// Reads (each set a read statement reached), by `target`: `primary` or `replica`.
pub const READS: &str = "setwise_proxy_reads_total";
/// Reads that asked for a replica but went to the primary, by `reason`
/// (`no_fit_replica`, `own_write`, `replica_unreachable`, `replica_lost`).
pub const REPLICA_FALLBACKS: &str = "setwise_proxy_replica_read_fallbacks_total";
/// Two-phase commit decisions written to etcd together (`crate::xa_log`), per write.
pub const XA_DECISION_BATCH: &str = "setwise_proxy_xa_decision_batch";

/// Starts the Prometheus endpoint on `listen` (nothing when empty).
pub fn install(listen: &str) -> anyhow::Result<()> {
    if listen.is_empty() {
        return Ok(());
    }
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("metrics_listen {listen:?}: {e}"))?;
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .map_err(|e| anyhow::anyhow!("metrics endpoint on {listen}: {e}"))?;
    metrics::describe_counter!(CONNECTIONS, "client connections accepted");
    metrics::describe_counter!(STATEMENTS, "statements run, by first keyword");
    metrics::describe_counter!(ERRORS, "errors sent to clients, by MySQL code");
    metrics::describe_histogram!(STATEMENT_SECONDS, "statement latency at the gateway");
    metrics::describe_counter!(
        PRIMARY_WAITS,
        "statements that waited for a set's primary (failover), by outcome"
    );
    metrics::describe_counter!(
        FENCED_TXNS,
        "transactions rolled back because a set's primary changed under them"
    );
    metrics::describe_counter!(
        BLOCKED_WRITES,
        "writes refused: the set's writes are blocked"
    );
    metrics::describe_counter!(
        INTERRUPTED,
        "statements given up while running because their set's primary changed or its writes were blocked"
    );
    metrics::describe_counter!(
        PIPELINED_READS,
        "point reads offered to a pipelined connection, by outcome (pipelined | pooled)"
    );
    metrics::describe_counter!(
        READS,
        "reads by target (primary | replica), one per set a read statement reached"
    );
    metrics::describe_counter!(
        REPLICA_FALLBACKS,
        "reads that asked for a replica and went to the primary, by reason"
    );
    metrics::describe_counter!(
        HELD_WRITES,
        "writes that waited for a slot move's hold, by why"
    );
    metrics::describe_histogram!(
        HOLD_WAIT_SECONDS,
        "how long writes waited for a slot move's hold"
    );
    metrics::describe_counter!(
        MOVE_ABORTED_TXNS,
        "open transactions ended (1213) by a slot move's hold"
    );
    metrics::describe_histogram!(
        XA_DECISION_BATCH,
        "two-phase commit decisions written to etcd in one write (group commit)"
    );
    Ok(())
}
