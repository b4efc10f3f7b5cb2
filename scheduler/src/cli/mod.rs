//! `setwise`, the DBA command line: [`args`] (clap) → [`action`] (validated) →
//! [`commands`] (etcd through topo) → [`render`] (aligned tables).

pub mod action;
pub mod args;
pub mod commands;
pub mod db_add;
pub mod ddl;
pub mod digests;
pub mod gateway;
pub mod json;
pub mod members;
pub mod nodes;
pub mod ops;
pub mod outcome;
pub mod progress;
pub mod render;
pub mod sets;
pub mod shard;
pub mod status;

use anyhow::Result;
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
    if let Some(r) = lifecycle(&cfg, &command).await {
        return r;
    }
    if let args::Command::Ddl(cmd) = command {
        return ddl::execute(&connect(&cfg.etcd).await?, cmd).await;
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

/// `node add` (join), `node replace|remove`, `set create|delete` ([`nodes`],
/// [`sets`]); None for every other command.
async fn lifecycle(cfg: &CliConfig, command: &args::Command) -> Option<Result<String>> {
    use args::{Command, NodeCmd, SetCmd};
    let run = async {
        let topo = connect(&cfg.etcd).await?;
        match command {
            Command::Node(NodeCmd::Add {
                target,
                set,
                id,
                wait,
                ..
            }) => nodes::add(&topo, set, target, id.as_deref(), *wait).await,
            Command::Node(NodeCmd::Replace(a)) => nodes::replace(&topo, a).await,
            Command::Node(NodeCmd::Remove(a)) => nodes::remove(&topo, a).await,
            Command::Set(SetCmd::Create(a)) => sets::create(&topo, a).await,
            Command::Set(SetCmd::Delete(a)) => sets::delete(&topo, a).await,
            _ => unreachable!("matched below"),
        }
    };
    match command {
        Command::Node(NodeCmd::Add {
            addr: None,
            role: None,
            ..
        })
        | Command::Node(NodeCmd::Replace(_) | NodeCmd::Remove(_))
        | Command::Set(SetCmd::Create(_) | SetCmd::Delete(_)) => Some(run.await),
        _ => None,
    }
}

/// Hands the global `--json` to the commands that take it in their own arguments.
fn json_into(command: &mut args::Command, on: bool) {
    use shard::args::ShardCmd;
    match command {
        args::Command::Shard(ShardCmd::Moves { json, .. } | ShardCmd::Plan { json }) => *json = on,
        args::Command::Gateway(gateway::GatewayCmd::List { json }) => *json = on,
        args::Command::Ddl(cmd) => cmd.set_json(on),
        args::Command::Digests(a) => a.json = on,
        _ => {}
    }
}

/// Connects to etcd and checks it answers, so an unreachable etcd is one clear error.
pub async fn connect(etcd: &topo::EtcdConfig) -> Result<Topo> {
    let endpoints = etcd.endpoints.join(",");
    let unreachable = |why: String| {
        anyhow::Error::new(outcome::EtcdUnreachable {
            endpoints: endpoints.clone(),
            why,
        })
    };
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
