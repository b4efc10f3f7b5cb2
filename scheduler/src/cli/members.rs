//! What `node add|replace|remove` and `set create` share: finding a node's agent by
//! its MariaDB address (its health report's `addr`), giving a node a task and waiting
//! for it with its progress on stderr (`super::progress`), and waiting until a node replicates
//! from its primary and the primary counts its semi-sync acknowledgements.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tokio::time::Instant;
use topo::{HealthReport, NodeRecord, Task, TaskRecord, TaskState, Topo};

use super::outcome::StillRunning;
use super::progress::{Progress, Reading};

/// Who gives the command line's tasks (`by` of the task record).
pub const BY: &str = "setwise-cli";
/// Poll pace of the waits.
const POLL: Duration = Duration::from_millis(500);

pub use crate::now_ms;

/// One progress line (stderr: stdout keeps the command's result).
pub fn progress(line: &str) {
    eprintln!("{line}");
}

/// `HOST:PORT` → host and port.
pub fn parse_addr(addr: &str) -> Result<(String, u16)> {
    let bad = || anyhow!("invalid address {addr:?}: expected HOST:PORT");
    let (h, p) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = p.parse().map_err(|_| bad())?;
    if h.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((h.to_string(), port))
}

/// The live health report of the agent in `set` probing `addr` (or named `id`).
pub async fn agent_at(
    topo: &Topo,
    set: &str,
    addr: &str,
    id: Option<&str>,
) -> Result<HealthReport> {
    let reports = topo.list_health().await?;
    let found: Vec<HealthReport> = reports
        .into_iter()
        .filter(|r| r.set == set)
        .filter(|r| match id {
            Some(id) => r.node == id,
            None => r.addr.as_deref() == Some(addr),
        })
        .collect();
    match found.len() {
        0 => bail!(
            "no agent reports for {addr} in set {set}: start `setwise-agent --set {set} --node ID \
             --mysql-addr {addr}` (with --mysqld-start and --backup-listen for a physical \
             rebuild, docs/rebuild.md) first"
        ),
        1 => {
            let r = found.into_iter().next().expect("one");
            if !r.readable {
                bail!(
                    "the agent of {} cannot reach its MariaDB at {addr}: {}",
                    r.node,
                    r.error.as_deref().unwrap_or("not readable")
                );
            }
            Ok(r)
        }
        _ => bail!("more than one agent in set {set} reports for {addr}: name the node with --id"),
    }
}

/// Gives `node` of `set` a task (replacing whatever record it had); returns its id.
pub async fn give(topo: &Topo, set: &str, node: &str, task: Task) -> Result<String> {
    let rec = TaskRecord::new(set, node, task, BY, now_ms());
    topo.put_task(&rec).await?;
    Ok(rec.id)
}

/// Waits until task `id` of `node` finished; prints `what` with the elapsed time
/// every few seconds. Ok(None): the record was replaced by another task (the
/// scheduler's) before it finished.
pub async fn wait_task(
    topo: &Topo,
    set: &str,
    node: &str,
    id: &str,
    what: &str,
    wait: Duration,
) -> Result<Option<TaskRecord>> {
    let started = Instant::now();
    let mut shown = Progress::stderr();
    loop {
        let cur = topo.get_task(set, node).await?.map(|v| v.value);
        let state = match cur {
            Some(t) if t.id == id => {
                if t.is_finished() {
                    shown.finish();
                    return Ok(Some(t));
                }
                t.state
            }
            _ => {
                shown.finish();
                return Ok(None);
            }
        };
        let size = topo
            .list_health()
            .await
            .ok()
            .and_then(|h| h.into_iter().find(|r| r.set == set && r.node == node))
            .and_then(|r| r.datadir_bytes)
            .map(|b| format!(", datadir {:.1} MiB", b as f64 / 1048576.0))
            .unwrap_or_default();
        shown.show(
            &Reading {
                phase: state_word(state).into(),
                line: format!(
                    "{what}: {} ({:.0} s{size})",
                    state_word(state),
                    started.elapsed().as_secs_f64()
                ),
                amount: None,
            },
            Instant::now(),
        );
        if started.elapsed() > wait {
            shown.finish();
            return Err(StillRunning(format!(
                "{what}: not finished after {} s (task {id} goes on; see `setwise status`)",
                wait.as_secs()
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

fn state_word(s: TaskState) -> &'static str {
    match s {
        TaskState::Pending => "waiting for the agent",
        TaskState::Running => "running",
        TaskState::Done => "done",
        TaskState::Failed => "failed",
    }
}

/// Runs a task to its end: Ok(outcome) when done; a failed task is an error naming
/// `what`. A task replaced by the scheduler's counts as handed over (Ok(None)).
pub async fn run_task(
    topo: &Topo,
    set: &str,
    node: &str,
    task: Task,
    what: &str,
    wait: Duration,
) -> Result<Option<String>> {
    let id = give(topo, set, node, task).await?;
    match wait_task(topo, set, node, &id, what, wait).await? {
        None => {
            progress(&format!(
                "{what}: the scheduler gave {node} another task meanwhile; waiting for the result"
            ));
            Ok(None)
        }
        Some(t) if t.state == TaskState::Done => Ok(t.outcome.or(Some(String::new()))),
        Some(t) => bail!(
            "{what} failed: {}",
            t.error.as_deref().unwrap_or("no error recorded")
        ),
    }
}

/// Whether `h` replicates (both threads) from `primary`.
pub fn replicates_from(h: &HealthReport, primary: &NodeRecord) -> bool {
    h.slave_io_running == Some(true)
        && h.slave_sql_running == Some(true)
        && h.master.as_deref() == Some(primary.addr().as_str())
}

/// Waits until `node` replicates from `primary` with no gap, and the primary counts
/// at least `acks` semi-sync replicas (0: not checked); returns the primary's count.
pub async fn wait_caught_up(
    topo: &Topo,
    node: &str,
    primary: &NodeRecord,
    acks: u64,
    wait: Duration,
) -> Result<Option<u64>> {
    let started = Instant::now();
    let mut shown = Progress::stderr();
    loop {
        let h = topo.list_health().await?;
        let mine = h.iter().find(|r| r.set == primary.set && r.node == node);
        let prim = h
            .iter()
            .find(|r| r.set == primary.set && r.node == primary.id);
        let clients = prim.and_then(|p| p.semi_sync_clients);
        let ok = mine.is_some_and(|m| replicates_from(m, primary) && m.gap_trx.unwrap_or(0) == 0)
            && (acks == 0 || clients.unwrap_or(0) >= acks);
        if ok {
            shown.finish();
            return Ok(clients);
        }
        shown.show(
            &Reading {
                phase: "catching up".into(),
                line: format!(
                    "{node}: catching up with {} (gap {} transactions, {} semi-sync replica(s) on the primary)",
                    primary.id,
                    mine.and_then(|m| m.gap_trx)
                        .map(|g| g.to_string())
                        .unwrap_or_else(|| "unknown".into()),
                    clients.map(|c| c.to_string()).unwrap_or_else(|| "?".into())
                ),
                amount: None,
            },
            Instant::now(),
        );
        if started.elapsed() > wait {
            shown.finish();
            return Err(StillRunning(format!(
                "{node} did not catch up with {} within {} s (see `setwise status`)",
                primary.id,
                wait.as_secs()
            ))
            .into());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The set's primary record (exactly one), for commands that need it.
pub fn primary_of<'a>(set: &str, nodes: &'a [NodeRecord]) -> Result<&'a NodeRecord> {
    let p: Vec<&NodeRecord> = nodes
        .iter()
        .filter(|n| n.set == set && n.role == topo::Role::Primary)
        .collect();
    match p.as_slice() {
        [one] => Ok(one),
        [] => bail!("set {set} has no primary registered"),
        _ => bail!("set {set} has {} primaries registered", p.len()),
    }
}

/// Refuses while a failover or switchover of `set` runs.
pub async fn no_op_running(topo: &Topo, set: &str) -> Result<()> {
    if let Some(op) = topo.get_op(set).await? {
        bail!(
            "a {:?} of {set} is in progress (phase {:?}); try again when `setwise failovers --set \
             {set}` shows it finished",
            op.value.kind,
            op.value.phase
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("127.0.0.1:3313").unwrap(),
            ("127.0.0.1".into(), 3313)
        );
        assert!(parse_addr("h").is_err());
        assert!(parse_addr("h:0").is_err());
        assert!(parse_addr(":1").is_err());
    }
}
