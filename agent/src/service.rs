//! The agent's main loop: every interval, probe the MariaDB and publish the report;
//! log changes of state and of etcd reachability; on SIGTERM/SIGINT revoke the lease.

use anyhow::{Context, Result};
use tokio::sync::watch;
use topo::Topo;
use tracing::{info, warn};

use crate::config::AgentConfig;
use crate::probe::{ProbeTarget, Prober};
use crate::report::{build_report, state_word, Reporter};

/// Runs until `shutdown` turns true.
pub async fn run(cfg: AgentConfig, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let topo = Topo::connect(&cfg.etcd)
        .await
        .with_context(|| format!("cannot use etcd at {}", cfg.etcd.endpoints.join(",")))?;
    let mut prober = Prober::new(ProbeTarget::new(&cfg.node, &cfg.mysql)?);
    let mut reporter = Reporter::new(topo, cfg.lease_ttl);
    info!(
        node = %cfg.node,
        set = %cfg.set,
        mysql = %cfg.mysql.addr,
        etcd = %cfg.etcd.endpoints.join(","),
        cluster = %cfg.etcd.cluster,
        interval_ms = cfg.interval_ms,
        lease_ttl = cfg.lease_ttl,
        "setwise-agent starting"
    );
    let publish_timeout = std::time::Duration::from_millis(cfg.etcd.timeout_ms.max(100));
    let mut tick = tokio::time::interval(cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_state: Option<(&'static str, Option<String>)> = None;
    let mut etcd_failing = false;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            _ = tick.tick() => {}
        }
        let outcome = tokio::select! {
            o = prober.probe() => o,
            _ = shutdown.wait_for(|s| *s) => break,
        };
        let report = build_report(&cfg.node, &cfg.set, &outcome, now_ms());
        let state = (state_word(&report), report.error.clone());
        if last_state.as_ref().map(|s| s.0) != Some(state.0) {
            match &state.1 {
                Some(err) => warn!(state = state.0, "MariaDB {}: {err}", cfg.mysql.addr),
                None => info!(state = state.0, "MariaDB {}", cfg.mysql.addr),
            }
        }
        last_state = Some(state);
        match tokio::time::timeout(publish_timeout, reporter.publish(&report)).await {
            Ok(Ok(())) => {
                if etcd_failing {
                    info!("health reports reach etcd again");
                    etcd_failing = false;
                }
            }
            Ok(Err(e)) => {
                if !etcd_failing {
                    warn!("cannot publish health report: {e:#}");
                    etcd_failing = true;
                }
            }
            Err(_) => {
                if !etcd_failing {
                    warn!("publishing the health report timed out");
                    etcd_failing = true;
                }
            }
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), reporter.close()).await;
    info!("setwise-agent stopped");
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
