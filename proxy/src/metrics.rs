//! Gateway metrics (the `metrics` facade) and their Prometheus endpoint.

use std::net::SocketAddr;

use metrics_exporter_prometheus::PrometheusBuilder;

pub const CONNECTIONS: &str = "setwise_proxy_connections_total";
pub const STATEMENTS: &str = "setwise_proxy_statements_total";
pub const ERRORS: &str = "setwise_proxy_errors_total";
pub const STATEMENT_SECONDS: &str = "setwise_proxy_statement_seconds";

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
    Ok(())
}
