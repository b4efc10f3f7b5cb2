//! `setwise set create NAME --nodes HOST:PORT,...` and `setwise set delete NAME`
//! (docs/rebuild.md).
//!
//! Create: every node's agent must run with `--set NAME` (found by the address it
//! probes). The primary is the node whose binlog holds every other's (the first
//! listed among equals; nodes whose binlogs diverge are refused). The set and its
//! nodes are registered, the primary is promoted (semi-sync per the sync mode) and
//! the others repointed to it by GTID (what each wrote itself counts as applied),
//! then the command waits until every replica replicates with no gap and the primary
//! counts their semi-sync acknowledgements.
//!
//! Delete: only a set that owns no slot of any database and is no database's home;
//! its set, node and task records go, its servers and agents are left running.

use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use topo::gtid::GtidPos;
use topo::{HealthReport, NodeRecord, Role, SetRecord, SyncMode, Task, Topo};

use super::args::SyncArg;
use super::members::{self, progress};

/// `set create`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  setwise set create set4 --nodes 127.0.0.1:3340,127.0.0.1:3341,127.0.0.1:3342"
)]
pub struct CreateArgs {
    pub name: String,
    /// The nodes, HOST:PORT, comma separated (their agents run with --set NAME).
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        value_name = "HOST:PORT,..."
    )]
    pub nodes: Vec<String>,
    /// Replication durability (default strong).
    #[arg(long, value_enum)]
    pub sync: Option<SyncArg>,
    /// `semi` sets: how long a commit waits for a replica before falling back to async.
    #[arg(long, value_name = "MS")]
    pub semi_timeout_ms: Option<u64>,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    pub wait: u64,
}

/// `set delete`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  setwise set delete set4")]
pub struct DeleteArgs {
    pub name: String,
}

/// Index of the node to make primary: the first whose binlog contains every other's.
pub fn pick_primary(binlogs: &[String]) -> Result<usize> {
    let pos: Vec<GtidPos> = binlogs.iter().map(|b| GtidPos::parse_lossy(b)).collect();
    pos.iter()
        .position(|p| pos.iter().all(|o| p.contains(o)))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the nodes' binlogs diverge ({}): no node holds what every other wrote; \
                 create the set from fresh nodes",
                binlogs.join(" | ")
            )
        })
}

pub async fn create(topo: &Topo, a: &CreateArgs) -> Result<String> {
    let wait = Duration::from_secs(a.wait.max(1));
    if !topo::keys::valid_name(&a.name) {
        bail!("invalid set name {:?}", a.name);
    }
    if topo.get_set(&a.name).await?.is_some() {
        bail!("set {} exists (see `setwise set list`)", a.name);
    }
    let all = topo.list_nodes().await?;
    let mut found: Vec<(String, HealthReport)> = Vec::new();
    for addr in &a.nodes {
        members::parse_addr(addr)?;
        if let Some(n) = all.iter().find(|n| &n.addr() == addr) {
            bail!("{addr} is already node {} of set {}", n.id, n.set);
        }
        if found.iter().any(|(x, _)| x == addr) {
            bail!("{addr} is listed twice");
        }
        let r = members::agent_at(topo, &a.name, addr, None).await?;
        if all.iter().any(|n| n.id == r.node) {
            bail!(
                "node id {} (the agent of {addr}) is already registered",
                r.node
            );
        }
        found.push((addr.clone(), r));
    }
    let binlogs: Vec<String> = found
        .iter()
        .map(|(_, r)| r.gtid_binlog_pos.clone().unwrap_or_default())
        .collect();
    let pi = pick_primary(&binlogs)?;
    let sync: SyncMode = a.sync.map(Into::into).unwrap_or_default();
    let mut set = SetRecord::new(&a.name, sync);
    if let Some(t) = a.semi_timeout_ms {
        set.semi_timeout_ms = t;
    }
    let records: Vec<NodeRecord> = found
        .iter()
        .enumerate()
        .map(|(i, (addr, r))| {
            let (h, p) = members::parse_addr(addr).expect("checked");
            let role = if i == pi {
                Role::Primary
            } else {
                Role::Replica
            };
            NodeRecord::new(&r.node, &a.name, &h, p, role)
        })
        .collect();
    let primary = records[pi].clone();
    let mut batch = topo::Batch::new()
        .unchanged(&topo.keys().set(&a.name), 0)
        .put(&topo.keys().set(&a.name), &set)?;
    for n in &records {
        batch = batch.put(&topo.keys().node(&a.name, &n.id), n)?;
    }
    if !topo.commit(batch).await? {
        bail!("set {} was created meanwhile", a.name);
    }
    progress(&format!(
        "set create: {} registered with {} node(s); primary {} ({}, binlog {})",
        a.name,
        records.len(),
        primary.id,
        primary.addr(),
        if binlogs[pi].is_empty() {
            "empty"
        } else {
            &binlogs[pi]
        }
    ));
    let promote = Task::Promote {
        wait_gtid: None,
        sync,
        semi_timeout_ms: set.semi_timeout_ms,
    };
    members::run_task(
        topo,
        &a.name,
        &primary.id,
        promote,
        &format!("set create: promote {}", primary.id),
        wait,
    )
    .await?;
    let replicas: Vec<&NodeRecord> = records.iter().filter(|n| n.id != primary.id).collect();
    for r in &replicas {
        let task = Task::Repoint {
            host: primary.host.clone(),
            port: primary.port,
            from_binlog: true,
        };
        let what = format!("set create: {} replicates from {}", r.id, primary.id);
        members::run_task(topo, &a.name, &r.id, task, &what, wait).await?;
    }
    let acks = if sync == SyncMode::Async {
        0
    } else {
        replicas.len() as u64
    };
    let mut clients = None;
    for r in &replicas {
        clients = members::wait_caught_up(topo, &r.id, &primary, acks, wait).await?;
    }
    Ok(format!(
        "set {}: created (sync {}), primary {}, replicas {}{}\n",
        a.name,
        super::render::sync_name(sync),
        primary.id,
        if replicas.is_empty() {
            "none".to_string()
        } else {
            replicas
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        clients
            .map(|c| format!("; the primary counts {c} semi-sync replica(s)"))
            .unwrap_or_default()
    ))
}

/// Why set `name` may not be deleted, given the databases.
pub fn delete_refused(name: &str, dbs: &[topo::DatabaseRecord]) -> Option<String> {
    let homes: Vec<&str> = dbs
        .iter()
        .filter(|d| d.home_set == name)
        .map(|d| d.name.as_str())
        .collect();
    if !homes.is_empty() {
        return Some(format!(
            "{name} is the home set of database(s) {}: their unsharded tables live there",
            homes.join(", ")
        ));
    }
    let owning: Vec<&str> = dbs
        .iter()
        .filter(|d| d.shard_map.sets().iter().any(|s| s == name))
        .map(|d| d.name.as_str())
        .collect();
    if !owning.is_empty() {
        return Some(format!(
            "{name} owns slots of database(s) {}: move them away first (`setwise shard move`)",
            owning.join(", ")
        ));
    }
    None
}

pub async fn delete(topo: &Topo, a: &DeleteArgs) -> Result<String> {
    if topo.get_set(&a.name).await?.is_none() {
        bail!("unknown set {} (see `setwise set list`)", a.name);
    }
    let dbs = topo.list_dbs().await?;
    if let Some(why) = delete_refused(&a.name, &dbs) {
        bail!("refused: {why}");
    }
    let moving: Vec<String> = topo
        .list_moves()
        .await?
        .into_iter()
        .map(|m| m.value)
        .filter(|m| !m.phase.is_finished() && m.to == a.name)
        .map(|m| m.id)
        .collect();
    if !moving.is_empty() {
        bail!(
            "refused: slot move(s) {} to {} are in progress (`setwise shard cancel`)",
            moving.join(", "),
            a.name
        );
    }
    members::no_op_running(topo, &a.name).await?;
    let nodes = topo.nodes_of(&a.name).await?;
    let mut batch = topo::Batch::new().delete(&topo.keys().set(&a.name));
    for n in &nodes {
        batch = batch
            .delete(&topo.keys().node(&a.name, &n.id))
            .delete(&topo.keys().task(&a.name, &n.id));
    }
    topo.commit(batch).await?;
    Ok(format!(
        "set {}: deleted ({} node(s) unregistered: {}; their agents and MariaDB servers still run)\n",
        a.name,
        nodes.len(),
        nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>().join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_choice() {
        assert_eq!(pick_primary(&["".into(), "".into()]).unwrap(), 0);
        assert_eq!(
            pick_primary(&["0-1-3".into(), "0-1-5".into(), "".into()]).unwrap(),
            1
        );
        assert!(pick_primary(&["1-1-3".into(), "2-2-3".into()]).is_err());
    }

    #[test]
    fn deletion() {
        let db = topo::DatabaseRecord {
            name: "shop".into(),
            home_set: "set1".into(),
            shard_map: topo::ShardMap::even(16, &["set1".into(), "set2".into()]),
        };
        assert!(delete_refused("set1", std::slice::from_ref(&db))
            .unwrap()
            .contains("home set"));
        assert!(delete_refused("set2", std::slice::from_ref(&db))
            .unwrap()
            .contains("owns slots"));
        assert_eq!(delete_refused("set3", &[db]), None);
    }
}
