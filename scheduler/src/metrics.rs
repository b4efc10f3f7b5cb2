//! The scheduler's Prometheus metrics (`metrics_listen`, docs/observability.md):
//! leadership, failovers and switchovers with their durations, slot moves, DDL
//! tasks and each set's health as the leader judges it. Every instance serves
//! them; only the leader's round moves the set gauges and operation counters.

use std::net::SocketAddr;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use topo::{FailoverKind, FailoverRecord};

/// 1 while this instance leads, else 0.
pub const LEADER: &str = "setwise_scheduler_leader";
/// Terms this instance has led.
pub const TERMS: &str = "setwise_scheduler_leader_terms_total";
/// Failovers and switchovers finished, by `kind` and `outcome` (`done`, `failed`).
pub const OPERATIONS: &str = "setwise_scheduler_operations_total";
/// How long finished failovers and switchovers took, by `kind`.
pub const OPERATION_SECONDS: &str = "setwise_scheduler_operation_seconds";
/// How long a set had no primary in routing during a finished operation, by `kind`.
pub const HELD_SECONDS: &str = "setwise_scheduler_operation_held_seconds";
/// Slot moves ended, by `phase` (`done`, `failed`, ... ; `stopped`: leadership or
/// etcd trouble, resumed later).
pub const MOVES: &str = "setwise_scheduler_moves_total";
/// 1 while a slot move runs.
pub const MOVE_RUNNING: &str = "setwise_scheduler_move_running";
/// DDL tasks ended, by `outcome` ([`ddl_task`]).
pub const DDL_TASKS: &str = "setwise_scheduler_ddl_tasks_total";
/// Per set: 1 when its primary looks healthy, else 0.
pub const SET_HEALTHY: &str = "setwise_scheduler_set_healthy";
/// Per set: 1 when it has all its nodes replicating as its sync mode wants.
pub const SET_WHOLE: &str = "setwise_scheduler_set_whole";
/// Per set: consecutive leader rounds its primary has looked unhealthy.
pub const SET_SUSPECT_ROUNDS: &str = "setwise_scheduler_set_suspect_rounds";

const BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

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
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install()
        .map_err(|e| anyhow::anyhow!("metrics endpoint on {listen}: {e}"))?;
    metrics::describe_gauge!(LEADER, "1 while this scheduler leads");
    metrics::describe_counter!(TERMS, "leadership terms this scheduler has held");
    metrics::describe_counter!(
        OPERATIONS,
        "failovers and switchovers finished, by kind and outcome"
    );
    metrics::describe_histogram!(OPERATION_SECONDS, "failover/switchover duration, by kind");
    metrics::describe_histogram!(
        HELD_SECONDS,
        "how long a set had no primary in routing during a failover/switchover"
    );
    metrics::describe_counter!(MOVES, "slot moves ended, by phase");
    metrics::describe_gauge!(MOVE_RUNNING, "1 while a slot move runs");
    metrics::describe_counter!(DDL_TASKS, "DDL tasks ended, by outcome");
    metrics::describe_gauge!(SET_HEALTHY, "1 when the set's primary looks healthy");
    metrics::describe_gauge!(
        SET_WHOLE,
        "1 when the set has all its nodes as its sync mode wants"
    );
    metrics::describe_gauge!(
        SET_SUSPECT_ROUNDS,
        "leader rounds in a row the set's primary looked unhealthy"
    );
    metrics::gauge!(LEADER).set(0.0);
    Ok(())
}

/// Leadership began (`true`) or ended.
pub fn leading(on: bool) {
    metrics::gauge!(LEADER).set(if on { 1.0 } else { 0.0 });
    if on {
        metrics::counter!(TERMS).increment(1);
    }
}

fn kind_word(kind: FailoverKind) -> &'static str {
    match kind {
        FailoverKind::Failover => "failover",
        FailoverKind::Switchover => "switchover",
    }
}

/// A failover or switchover finished (done or failed).
pub fn operation(rec: &FailoverRecord) {
    let kind = kind_word(rec.kind);
    let outcome = if rec.error.is_none() {
        "done"
    } else {
        "failed"
    };
    metrics::counter!(OPERATIONS, "kind" => kind, "outcome" => outcome).increment(1);
    if let Some(ms) = rec.duration_ms() {
        metrics::histogram!(OPERATION_SECONDS, "kind" => kind).record(ms as f64 / 1000.0);
    }
    if let Some(ms) = rec.held_ms() {
        metrics::histogram!(HELD_SECONDS, "kind" => kind).record(ms as f64 / 1000.0);
    }
}

/// A failover could not run (or an operation stopped before its record ended).
pub fn operation_not_run() {
    metrics::counter!(OPERATIONS, "kind" => "failover", "outcome" => "not_run").increment(1);
}

/// A slot move ended in `phase` (`stopped`: it will be resumed).
pub fn move_ended(phase: &'static str) {
    metrics::counter!(MOVES, "phase" => phase).increment(1);
}

/// A slot move started (`true`) or its task ended.
pub fn move_running(on: bool) {
    metrics::gauge!(MOVE_RUNNING).set(if on { 1.0 } else { 0.0 });
}

/// A DDL task ended with `outcome` (`done`, `failed`, ...): the hook for the
/// scheduler's DDL tasks (`scheduler/src/ddl/`).
pub fn ddl_task(outcome: &'static str) {
    metrics::counter!(DDL_TASKS, "outcome" => outcome).increment(1);
}

/// One set's health as the leader's round judged it.
pub fn set_health(set: &str, healthy: bool, suspect_rounds: u32) {
    metrics::gauge!(SET_HEALTHY, "set" => set.to_string()).set(healthy as u8 as f64);
    metrics::gauge!(SET_SUSPECT_ROUNDS, "set" => set.to_string()).set(if healthy {
        0.0
    } else {
        suspect_rounds as f64
    });
}

/// Whether a set is whole (all its nodes, as its sync mode wants).
pub fn set_whole(set: &str, whole: bool) {
    metrics::gauge!(SET_WHOLE, "set" => set.to_string()).set(whole as u8 as f64);
}
