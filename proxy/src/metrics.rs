//! Gateway metrics (the `metrics` facade) and their Prometheus recorder; the
//! metrics port that serves them is `crate::metrics_port`.

use std::net::SocketAddr;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const CONNECTIONS: &str = "setwise_proxy_connections_total";
pub const STATEMENTS: &str = "setwise_proxy_statements_total";
pub const ERRORS: &str = "setwise_proxy_errors_total";
pub const STATEMENT_SECONDS: &str = "setwise_proxy_statement_seconds";
/// Statements that waited for a set to get a (reachable) primary, by outcome.
pub const PRIMARY_WAITS: &str = "setwise_proxy_primary_waits_total";
/// Transactions rolled back because a set's primary changed under them.
pub const FENCED_TXNS: &str = "setwise_proxy_fenced_transactions_total";
/// Deadlocks through several sets ended by rolling back a victim (`crate::deadlock`).
pub const DEADLOCKS: &str = "setwise_proxy_deadlocks_total";
/// Rounds in which the deadlock detector read lock waits from the sets.
pub const DEADLOCK_PROBES: &str = "setwise_proxy_deadlock_probes_total";
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

/// Backend work on a set (a statement's part there), by `set`.
pub const BACKEND_SECONDS: &str = "setwise_proxy_backend_seconds";
/// Backend work on a set given up, or a set not reached, by `set`.
pub const BACKEND_ERRORS: &str = "setwise_proxy_backend_errors_total";
/// Plan-cache lookups, by `result` (`hit`, `miss`).
pub const PLAN_CACHE: &str = "setwise_proxy_plan_cache_total";
/// Transaction commits, by `kind` (`one_phase`, `two_phase`) and `outcome`.
pub const COMMITS: &str = "setwise_proxy_commits_total";
/// Audit records written.
pub const AUDIT_RECORDS: &str = "setwise_proxy_audit_records_total";
/// Audit records dropped, by `reason` (`queue_full`, `write_error`).
pub const AUDIT_DROPPED: &str = "setwise_proxy_audit_dropped_total";
/// Statements of a new fingerprint not kept: the digest table was full.
pub const DIGESTS_OVERFLOW: &str = "setwise_proxy_digests_overflow_total";
/// Gauges set when scraped (`crate::metrics_port`).
pub const CLIENT_CONNECTIONS: &str = "setwise_proxy_client_connections";
pub const ROUTING_REVISION: &str = "setwise_proxy_routing_revision";
pub const BACKEND_POOLS: &str = "setwise_proxy_backend_pools";
pub const BACKEND_BORROWED: &str = "setwise_proxy_backend_connections_borrowed";
pub const PLAN_CACHE_ENTRIES: &str = "setwise_proxy_plan_cache_entries";
pub const DIGEST_ENTRIES: &str = "setwise_proxy_digest_entries";

/// Latency buckets of the `_seconds` histograms (100 µs to 10 s).
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Installs the Prometheus recorder and binds the metrics port on `listen`
/// (nothing when empty); the caller records its address and serves it
/// (`crate::metrics_port`).
pub fn install(listen: &str) -> anyhow::Result<Option<(PrometheusHandle, std::net::TcpListener)>> {
    if listen.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("metrics_listen {listen:?}: {e}"))?;
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("metrics endpoint on {listen}: {e}"))?;
    listener.set_nonblocking(true)?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("metrics recorder: {e}"))?;
    describe();
    Ok(Some((handle, listener)))
}

fn describe() {
    metrics::describe_counter!(CONNECTIONS, "client connections accepted");
    metrics::describe_counter!(
        STATEMENTS,
        "statements run, by kind, database, user and outcome (ok | error)"
    );
    metrics::describe_counter!(ERRORS, "errors sent to clients, by MySQL code");
    metrics::describe_histogram!(
        STATEMENT_SECONDS,
        "statement latency at the gateway, by kind"
    );
    metrics::describe_counter!(
        PRIMARY_WAITS,
        "statements that waited for a set's primary (failover), by outcome"
    );
    metrics::describe_counter!(
        FENCED_TXNS,
        "transactions rolled back because a set's primary changed under them"
    );
    metrics::describe_counter!(
        DEADLOCKS,
        "deadlocks through several sets ended by rolling back one transaction (1213)"
    );
    metrics::describe_counter!(
        DEADLOCK_PROBES,
        "rounds in which the deadlock detector read lock waits from the sets (statements ran longer than [deadlock] interval_ms)"
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
    metrics::describe_histogram!(BACKEND_SECONDS, "backend work on a set, by set");
    metrics::describe_counter!(
        BACKEND_ERRORS,
        "backend work on a set given up, or the set not reached, by set"
    );
    metrics::describe_counter!(PLAN_CACHE, "plan-cache lookups, by result (hit | miss)");
    metrics::describe_counter!(
        COMMITS,
        "transaction commits, by kind (one_phase | two_phase) and outcome (committed | failed)"
    );
    metrics::describe_counter!(AUDIT_RECORDS, "audit records written");
    metrics::describe_counter!(
        AUDIT_DROPPED,
        "audit records dropped, by reason (queue_full | write_error)"
    );
    metrics::describe_counter!(
        DIGESTS_OVERFLOW,
        "statements of a new fingerprint not kept (digest table full)"
    );
    metrics::describe_gauge!(CLIENT_CONNECTIONS, "client connections open");
    metrics::describe_gauge!(ROUTING_REVISION, "etcd revision of the routing in use");
    metrics::describe_gauge!(BACKEND_POOLS, "backend connection pools kept");
    metrics::describe_gauge!(
        BACKEND_BORROWED,
        "backend connections lent to statements and transactions"
    );
    metrics::describe_gauge!(PLAN_CACHE_ENTRIES, "plans cached");
    metrics::describe_gauge!(DIGEST_ENTRIES, "query digests kept");
}
