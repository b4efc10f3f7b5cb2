//! The agent's Prometheus metrics (`metrics_listen`, docs/observability.md): what
//! each probe found — its latency, replication lag, GTID gap to the primary,
//! semi-sync state, the mariadbd process's CPU and the datadir's size — labelled
//! with the node and its set.

use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use topo::HealthReport;

pub const PROBE_SECONDS: &str = "setwise_agent_probe_seconds";
pub const UP: &str = "setwise_agent_mariadb_up";
pub const WRITABLE: &str = "setwise_agent_mariadb_writable";
pub const LAG: &str = "setwise_agent_replication_lag_seconds";
pub const GAP: &str = "setwise_agent_gtid_gap_transactions";
pub const REPLICATING: &str = "setwise_agent_replication_running";
pub const SEMI_SYNC: &str = "setwise_agent_semi_sync_master_on";
pub const SEMI_SYNC_CLIENTS: &str = "setwise_agent_semi_sync_clients";
pub const CPU: &str = "setwise_agent_mariadb_cpu_percent";
pub const DISK: &str = "setwise_agent_datadir_bytes";
pub const PROBES: &str = "setwise_agent_probes_total";

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
];

/// Starts the Prometheus endpoint on `listen` (nothing when empty).
pub fn install(listen: &str, node: &str, set: &str) -> anyhow::Result<()> {
    if listen.is_empty() {
        return Ok(());
    }
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| anyhow::anyhow!("metrics_listen {listen:?}: {e}"))?;
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .add_global_label("node", node)
        .add_global_label("set", set)
        .set_buckets_for_metric(Matcher::Full(PROBE_SECONDS.into()), BUCKETS)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install()
        .map_err(|e| anyhow::anyhow!("metrics endpoint on {listen}: {e}"))?;
    metrics::describe_histogram!(PROBE_SECONDS, "how long one probe of MariaDB took");
    metrics::describe_counter!(PROBES, "probes, by outcome (ok | error)");
    metrics::describe_gauge!(UP, "1 when MariaDB answered the last probe");
    metrics::describe_gauge!(
        WRITABLE,
        "1 when MariaDB took the last probe's heartbeat write"
    );
    metrics::describe_gauge!(LAG, "Seconds_Behind_Master (replicas)");
    metrics::describe_gauge!(
        GAP,
        "transactions this node lacks compared with its set's primary"
    );
    metrics::describe_gauge!(
        REPLICATING,
        "1 when both replication threads run (replicas)"
    );
    metrics::describe_gauge!(
        SEMI_SYNC,
        "1 when the primary waits for semi-sync acknowledgements"
    );
    metrics::describe_gauge!(
        SEMI_SYNC_CLIENTS,
        "replicas acknowledging semi-sync commits"
    );
    metrics::describe_gauge!(CPU, "CPU of the mariadbd process, percent of one core");
    metrics::describe_gauge!(DISK, "bytes used by the datadir");
    Ok(())
}

/// One probe's report, the probe having taken `took`.
pub fn report(r: &HealthReport, took: Duration) {
    metrics::histogram!(PROBE_SECONDS).record(took.as_secs_f64());
    let outcome = if r.error.is_none() { "ok" } else { "error" };
    metrics::counter!(PROBES, "outcome" => outcome).increment(1);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    metrics::gauge!(UP).set(flag(r.readable));
    metrics::gauge!(WRITABLE).set(flag(r.writable));
    // Unknown values (a primary's lag, a dead server's) are left out, not zero.
    let opt = |name: &'static str, v: Option<f64>| match v {
        Some(v) => metrics::gauge!(name).set(v),
        None => metrics::gauge!(name).set(f64::NAN),
    };
    opt(LAG, r.seconds_behind_master.map(|v| v as f64));
    opt(GAP, r.gap_trx.map(|v| v as f64));
    opt(
        REPLICATING,
        r.slave_io_running
            .zip(r.slave_sql_running)
            .map(|(io, sql)| flag(io && sql)),
    );
    opt(SEMI_SYNC, r.semi_sync_master.map(flag));
    opt(SEMI_SYNC_CLIENTS, r.semi_sync_clients.map(|v| v as f64));
    opt(CPU, r.cpu_pct);
    opt(DISK, r.datadir_bytes.map(|v| v as f64));
}
