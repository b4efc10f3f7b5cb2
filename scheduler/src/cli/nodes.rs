//! `setwise node add --set S HOST:PORT` (join a new node), `node replace` and
//! `node remove` (docs/rebuild.md).
//!
//! Join: the node's agent must run (it is found by the address it probes). Its agent
//! is given `rebuild` from the set's primary — physical with mariadb-backup where both
//! agents allow it, else the logical fallback, as the task's outcome says — and only
//! when that is done (the node replicates and has caught up) is it registered as a
//! replica, so neither failover nor reads count on it before. Then the command waits
//! until its report shows it replicating with no gap and the primary counts one more
//! semi-sync replica.

use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use topo::{NodeRecord, Role, SyncMode, Task, Topo};

use super::members::{self, progress};

pub const ADD_EXAMPLES: &str = "Examples:
  setwise node add --set set1 127.0.0.1:3313
      join a new node (its agent runs with --set set1): rebuilt from the primary,
      then replicating and caught up
  setwise node add set1-n3 --set set1 --addr 127.0.0.1:3313 --role replica
      register a node as is (no rebuild)";

/// `node replace --set S OLD NEW`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  setwise node replace --set set1 set1-n2 127.0.0.1:3313")]
pub struct ReplaceArgs {
    #[arg(long)]
    pub set: String,
    /// The replica to replace: node id or HOST:PORT.
    pub old: String,
    /// HOST:PORT of the new node (its agent must run).
    pub new: String,
    /// The new node's id (default: the id its agent reports under).
    #[arg(long)]
    pub id: Option<String>,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECS")]
    pub wait: u64,
}

/// `node remove --set S NODE [--force]`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  setwise node remove --set set1 set1-n2")]
pub struct RemoveArgs {
    #[arg(long)]
    pub set: String,
    /// Node id or HOST:PORT.
    pub node: String,
    /// Remove even if the set is left with fewer replicating replicas than its sync
    /// mode needs (a strong set then refuses writes). Never removes the primary.
    #[arg(long)]
    pub force: bool,
}

/// Replicas that must stay replicating for `sync` (strong: one acknowledges every
/// commit; semi and async run without).
pub fn min_replicas(sync: SyncMode) -> usize {
    match sync {
        SyncMode::Strong => 1,
        SyncMode::Semi | SyncMode::Async => 0,
    }
}

/// `node add --set S HOST:PORT [--id ID]`.
pub async fn add(
    topo: &Topo,
    set: &str,
    addr: &str,
    id: Option<&str>,
    wait_secs: u64,
) -> Result<String> {
    let wait = Duration::from_secs(wait_secs.max(1));
    members::parse_addr(addr)?;
    let Some(set_rec) = topo.get_set(set).await? else {
        bail!("unknown set {set} (see `setwise set list`)");
    };
    let all = topo.list_nodes().await?;
    if let Some(n) = all.iter().find(|n| n.addr() == addr) {
        bail!(
            "{addr} is already node {} of set {} (remove it first to add it again)",
            n.id,
            n.set
        );
    }
    let members_of: Vec<NodeRecord> = all.iter().filter(|n| n.set == set).cloned().collect();
    let primary = members::primary_of(set, &members_of)?.clone();
    members::no_op_running(topo, set).await?;
    let agent = members::agent_at(topo, set, addr, id).await?;
    let node = agent.node.clone();
    if !topo::keys::valid_name(&node) {
        bail!("invalid node id {node:?}");
    }
    if let Some(n) = all.iter().find(|n| n.id == node) {
        bail!(
            "node id {node} is already used by {} in set {}",
            n.addr(),
            n.set
        );
    }
    progress(&format!(
        "node add: {node} ({addr}) joins {set}: rebuild from the primary {} ({})",
        primary.id,
        primary.addr()
    ));
    let what = format!("node add: rebuild of {node}");
    let task = Task::Rebuild {
        host: primary.host.clone(),
        port: primary.port,
    };
    // A rebuild still running (an earlier `node add` interrupted) is waited for, never
    // replaced: replacing it would abandon it midway, its mariadbd perhaps stopped.
    let running = topo
        .get_task(set, &node)
        .await?
        .map(|v| v.value)
        .filter(|t| !t.is_finished() && matches!(t.task, Task::Rebuild { .. }));
    let outcome = match running {
        Some(t) => {
            progress(&format!(
                "{what}: already running (task {}); waiting for it",
                t.id
            ));
            match members::wait_task(topo, set, &node, &t.id, &what, wait).await? {
                Some(t) if t.state == topo::TaskState::Done => t.outcome,
                Some(t) => bail!("{what} failed: {}", t.error.unwrap_or_default()),
                None => bail!("{what}: the task was replaced meanwhile; run the command again"),
            }
        }
        None => members::run_task(topo, set, &node, task, &what, wait).await?,
    };
    if let Some(o) = outcome.as_deref().filter(|o| !o.is_empty()) {
        progress(&format!("{what}: {o}"));
    }
    let (host, port) = members::parse_addr(addr)?;
    topo.put_node(&NodeRecord::new(&node, set, &host, port, Role::Replica))
        .await?;
    progress(&format!(
        "node add: {node} registered as a replica of {set}"
    ));
    let replicating = topo
        .list_health()
        .await?
        .iter()
        .filter(|h| h.set == set && h.node != node && members_of.iter().any(|m| m.id == h.node))
        .filter(|h| members::replicates_from(h, &primary))
        .count() as u64;
    let acks = if set_rec.sync == SyncMode::Async {
        0
    } else {
        replicating + 1
    };
    let clients = members::wait_caught_up(topo, &node, &primary, acks, wait).await?;
    Ok(format!(
        "node {node}: joined {set} as a replica of {} ({}), caught up{}\n",
        primary.id,
        outcome
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "rebuilt".into()),
        clients
            .map(|c| format!("; the primary counts {c} semi-sync replica(s)"))
            .unwrap_or_default()
    ))
}

/// The registered node of `set` named by id or `HOST:PORT`.
fn find<'a>(set: &str, which: &str, nodes: &'a [NodeRecord]) -> Result<&'a NodeRecord> {
    nodes
        .iter()
        .find(|n| n.set == set && (n.id == which || n.addr() == which))
        .ok_or_else(|| {
            anyhow::anyhow!("unknown node {which} in set {set} (see `setwise node list`)")
        })
}

/// Why `node` may not be removed from its set, if it may not.
pub fn removal_refused(
    node: &NodeRecord,
    sync: SyncMode,
    replicating_others: usize,
    force: bool,
) -> Option<String> {
    if node.role == Role::Primary {
        return Some(format!(
            "{} is the primary of {}: never removed; `setwise switchover --set {}` first",
            node.id, node.set, node.set
        ));
    }
    let need = min_replicas(sync);
    if replicating_others < need && !force {
        return Some(format!(
            "removing {} would leave {} with {replicating_others} replicating replica(s) and its \
             sync mode ({}) needs {need}: writes would stop. Add a node first, or --force",
            node.id,
            node.set,
            super::render::sync_name(sync)
        ));
    }
    None
}

/// `node remove --set S NODE [--force]`.
pub async fn remove(topo: &Topo, a: &RemoveArgs) -> Result<String> {
    let Some(set_rec) = topo.get_set(&a.set).await? else {
        bail!("unknown set {} (see `setwise set list`)", a.set);
    };
    let all = topo.list_nodes().await?;
    let node = find(&a.set, &a.node, &all)?.clone();
    let members_of: Vec<NodeRecord> = all.iter().filter(|n| n.set == a.set).cloned().collect();
    let health = topo.list_health().await?;
    let others = match members::primary_of(&a.set, &members_of) {
        Ok(p) => members_of
            .iter()
            .filter(|n| n.role == Role::Replica && n.id != node.id && n.rejoin.is_none())
            .filter(|n| {
                health
                    .iter()
                    .any(|h| h.set == a.set && h.node == n.id && members::replicates_from(h, p))
            })
            .count(),
        Err(_) => 0,
    };
    if let Some(why) = removal_refused(&node, set_rec.sync, others, a.force) {
        bail!("refused: {why}");
    }
    members::no_op_running(topo, &a.set).await?;
    let batch = topo::Batch::new()
        .delete(&topo.keys().node(&a.set, &node.id))
        .delete(&topo.keys().task(&a.set, &node.id));
    topo.commit(batch).await?;
    Ok(format!(
        "node {}: removed from {} ({} replicating replica(s) left). Its agent and MariaDB at {} \
         still run: stop them now (it replicates until then).\n",
        node.id,
        a.set,
        others,
        node.addr()
    ))
}

/// `node replace --set S OLD NEW`: join NEW, then remove OLD.
pub async fn replace(topo: &Topo, a: &ReplaceArgs) -> Result<String> {
    let all = topo.list_nodes().await?;
    let old = find(&a.set, &a.old, &all)?.clone();
    if old.role == Role::Primary {
        bail!(
            "refused: {} is the primary of {}: `setwise switchover --set {}` first, then replace it",
            old.id,
            a.set,
            a.set
        );
    }
    let mut out = add(topo, &a.set, &a.new, a.id.as_deref(), a.wait).await?;
    let rm = RemoveArgs {
        set: a.set.clone(),
        node: old.id.clone(),
        force: false,
    };
    out.push_str(&remove(topo, &rm).await?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_be_removed() {
        let p = NodeRecord::new("s-n0", "s", "h", 1, Role::Primary);
        let r = NodeRecord::new("s-n1", "s", "h", 2, Role::Replica);
        assert!(removal_refused(&p, SyncMode::Async, 5, true)
            .unwrap()
            .contains("primary"));
        assert!(removal_refused(&r, SyncMode::Strong, 0, false)
            .unwrap()
            .contains("needs 1"));
        assert_eq!(removal_refused(&r, SyncMode::Strong, 0, true), None);
        assert_eq!(removal_refused(&r, SyncMode::Strong, 1, false), None);
        assert_eq!(removal_refused(&r, SyncMode::Semi, 0, false), None);
    }
}
