//! The `setwise-scheduler` daemon: flags, config, and the leader loop with its work
//! ([`control`](crate::control): monitor, failover, policy), stopped by SIGTERM/SIGINT.

use std::path::PathBuf;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tokio::sync::watch;
use topo::Topo;
use tracing::{info, warn};

use crate::config::{self, SchedulerConfig};
use crate::{control, leader, logging};

/// Setwise control plane: one instance leads (etcd election `scheduler`), the others stand by.
#[derive(Debug, Parser)]
#[command(name = "setwise-scheduler", version)]
pub struct SchedulerArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This instance's name in the election (default `<hostname>-<pid>`).
    #[arg(long)]
    pub id: Option<String>,
    /// etcd endpoints, comma separated.
    #[arg(long, value_name = "URL[,URL]")]
    pub etcd: Option<String>,
    /// Cluster name.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Serve the web console on this address (overrides `[console] listen`), e.g.
    /// `127.0.0.1:8090`.
    #[arg(long, value_name = "ADDR")]
    pub console: Option<String>,
    /// Log level (overrides RUST_LOG; default info).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Prometheus metrics address HOST:PORT (`metrics_listen`; empty = off).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
}

/// Config file + flags.
pub fn resolve(args: &SchedulerArgs) -> Result<(SchedulerConfig, String)> {
    let mut cfg: SchedulerConfig = config::load(args.config.as_deref())?;
    config::override_etcd(&mut cfg.etcd, args.etcd.as_deref(), args.cluster.as_deref());
    if let Some(addr) = &args.console {
        cfg.console.listen = Some(addr.clone());
    }
    if let Some(id) = &args.id {
        cfg.id = Some(id.clone());
    }
    if let Some(m) = &args.metrics_listen {
        cfg.metrics_listen = m.clone();
    }
    cfg.mysql.tls.check().context("[mysql.tls]")?;
    let id = cfg.id.clone().unwrap_or_else(config::default_id);
    if id.trim().is_empty() {
        bail!("--id must not be empty");
    }
    if cfg.election_ttl < 1 {
        bail!("election_ttl must be at least 1 second");
    }
    Ok((cfg, id))
}

pub async fn run(args: SchedulerArgs) -> Result<()> {
    logging::init(args.log_level.as_deref(), "info");
    let (cfg, id) = resolve(&args)?;
    crate::metrics::install(&cfg.metrics_listen)?;
    let topo = match Topo::connect(&cfg.etcd).await {
        Ok(t) => t,
        Err(e) => bail!("cannot use etcd at {}: {e}", cfg.etcd.endpoints.join(",")),
    };
    info!(
        id = %id,
        etcd = %cfg.etcd.endpoints.join(","),
        cluster = %cfg.etcd.cluster,
        "setwise-scheduler starting"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        logging::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });

    if let Some(listen) = &cfg.console.listen {
        crate::console::serve(topo.clone(), cfg.etcd.clone(), listen, stop_rx.clone()).await?;
    }

    let ttl = cfg.election_ttl;
    let takeover = (cfg.takeover_ms > 0).then(|| Duration::from_millis(cfg.takeover_ms));
    let result = leader::run(topo, id, ttl, takeover, stop_rx, move |ctx| {
        control::run(ctx, cfg.clone())
    })
    .await;
    match &result {
        Ok(()) => info!("setwise-scheduler stopped"),
        Err(e) => warn!("setwise-scheduler failed: {e:#}"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_config() {
        let a = SchedulerArgs::try_parse_from([
            "setwise-scheduler",
            "--id",
            "s2",
            "--etcd",
            "http://127.0.0.1:23790",
            "--cluster",
            "t",
        ])
        .unwrap();
        let (cfg, id) = resolve(&a).unwrap();
        assert_eq!(id, "s2");
        assert_eq!(cfg.etcd.endpoints, vec!["http://127.0.0.1:23790"]);
        assert_eq!(cfg.etcd.cluster, "t");
        let a = SchedulerArgs::try_parse_from(["setwise-scheduler"]).unwrap();
        let (_, id) = resolve(&a).unwrap();
        assert!(id.ends_with(&format!("-{}", std::process::id())));
    }
}
