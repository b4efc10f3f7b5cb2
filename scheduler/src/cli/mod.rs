//! `setwise`, the DBA command line: [`args`] (clap) → [`action`] (validated) →
//! [`commands`] (etcd through topo) → [`render`] (aligned tables).

pub mod action;
pub mod args;
pub mod commands;
pub mod digests;
pub mod gateway;
pub mod json;
pub mod ops;
pub mod render;
pub mod shard;

use anyhow::{anyhow, Result};
use topo::Topo;

use crate::config::{self, CliConfig};
use args::Cli;

/// Runs a parsed command line and returns what to print on stdout.
pub async fn run(cli: Cli) -> Result<String> {
    let mut cfg: CliConfig = config::load(cli.config.as_deref())?;
    config::override_etcd(&mut cfg.etcd, cli.etcd.as_deref(), cli.cluster.as_deref());
    let mut command = cli.command;
    json_into(&mut command, cli.json);
    if let args::Command::Gateway(cmd) = command {
        return gateway::execute(&connect(&cfg.etcd).await?, cmd).await;
    }
    if let args::Command::Digests(a) = command {
        return digests::execute(&connect(&cfg.etcd).await?, a).await;
    }
    let action = action::Action::from_command(command)?;
    let topo = connect(&cfg.etcd).await?;
    if let action::Action::Shard(a) = action {
        return shard::execute(&topo, &cfg, a).await;
    }
    commands::execute(&topo, &cfg.etcd.cluster, action, cli.json).await
}

/// Hands the global `--json` to the commands that take it in their own arguments.
fn json_into(command: &mut args::Command, on: bool) {
    use shard::args::ShardCmd;
    match command {
        args::Command::Shard(ShardCmd::Moves { json, .. } | ShardCmd::Plan { json }) => *json = on,
        args::Command::Gateway(gateway::GatewayCmd::List { json }) => *json = on,
        args::Command::Digests(a) => a.json = on,
        _ => {}
    }
}

/// Connects to etcd and checks it answers, so an unreachable etcd is one clear error.
pub async fn connect(etcd: &topo::EtcdConfig) -> Result<Topo> {
    let endpoints = etcd.endpoints.join(",");
    let unreachable = |why: String| anyhow!("cannot reach etcd at {endpoints}: {why}");
    let topo = match Topo::connect(etcd).await {
        Ok(t) => t,
        Err(topo::TopoError::Unreachable { source, .. }) => {
            return Err(unreachable(root_cause(&source)))
        }
        Err(e) => return Err(e.into()),
    };
    let timeout = std::time::Duration::from_millis(etcd.timeout_ms.max(100));
    match tokio::time::timeout(timeout, topo.client().status()).await {
        Ok(Ok(_)) => Ok(topo),
        Ok(Err(e)) => Err(unreachable(root_cause(&e))),
        Err(_) => Err(unreachable(format!(
            "no answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

/// The innermost cause of an error (e.g. `Connection refused (os error 111)`), which
/// says more to a DBA than the gRPC wrapping around it.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    // Some wrappers print their sources inline; keep the head.
    match text.split_once(", source:") {
        Some((head, _)) => head.to_string(),
        None => text,
    }
}
