//! What the leader keeps true between failovers (docs/failover.md, "Sync policy" and
//! "Rejoin"): a `strong` set without an acknowledging replica refuses writes, a `semi`
//! set that fell back to async is marked degraded, a returning old primary rejoins (or
//! is rebuilt), a writable replica is made read-only, a replica replicating from the
//! wrong node, or not replicating at all, is repointed, and one that diverged (its SQL
//! thread stopped on an error, or the primary lacks its position) is rebuilt; a
//! primary left read-only is made writable.
//!
//! [`Policy::decide`] is a pure function of the records; [`apply()`] ([`mod@apply`])
//! carries the decisions out, giving a task only when the node has none in flight and
//! its report already reflects the last one.

mod apply;

pub use apply::{apply, escalate, next_step, Step};

use std::collections::HashMap;

use topo::{HealthReport, NodeRecord, Role, SetRecord, SyncMode, Task};

use crate::failover::op::can_rejoin;

/// Rounds in a row a strong primary must show no acknowledging replica before writes
/// are refused (a replica being repointed reconnects within a round).
const BLOCK_AFTER_ROUNDS: u32 = 2;
/// A failed policy task is not retried sooner than this.
const RETRY_FAILED_MS: u64 = 10_000;
/// Rounds in a row a replica must be seen not replicating (IO or SQL thread
/// stopped) before it is repointed (an IO thread reconnecting is not running for
/// a moment).
const NOT_REPLICATING_ROUNDS: u32 = 3;
/// How long an agent has to start a policy task before it expires.
const POLICY_TASK_START_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// One decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    BlockWrites {
        set: String,
        reason: String,
    },
    AllowWrites {
        set: String,
    },
    Degrade {
        set: String,
        reason: String,
    },
    Recover {
        set: String,
    },
    /// Give `task` to `node` (unless it has one in flight); `rejoin`: the node is an old
    /// primary, whose `rejoin` is cleared once the task is done.
    Task {
        set: String,
        node: String,
        task: Task,
        why: String,
        rejoin: bool,
    },
}

/// Remembers what needs several rounds.
#[derive(Debug, Default)]
pub struct Policy {
    zero_clients: HashMap<String, u32>,
    /// Per node: rounds in a row it was seen not replicating.
    not_replicating: HashMap<String, u32>,
    /// Per primary: rounds in a row it was seen read-only.
    read_only_primary: HashMap<String, u32>,
}

impl Policy {
    /// Decisions for the sets in `quiet` (no operation in progress).
    pub fn decide(
        &mut self,
        sets: &[SetRecord],
        nodes: &[NodeRecord],
        health: &[HealthReport],
        quiet: &dyn Fn(&str) -> bool,
    ) -> Vec<Decision> {
        let mut out = Vec::new();
        let report = |n: &NodeRecord| {
            health
                .iter()
                .find(|h| h.node == n.id && h.set == n.set && h.readable)
        };
        for set in sets.iter().filter(|s| quiet(&s.name)) {
            let members: Vec<&NodeRecord> = nodes.iter().filter(|n| n.set == set.name).collect();
            let primaries: Vec<&&NodeRecord> =
                members.iter().filter(|n| n.role == Role::Primary).collect();
            let [primary] = primaries.as_slice() else {
                self.zero_clients.remove(&set.name);
                continue;
            };
            let Some(p) = report(primary) else {
                continue;
            };
            self.sync_policy(set, primary, p, &mut out);
            // A primary left read-only (an old primary named again after a failover
            // that could not finish, fenced meanwhile by its agent) takes no writes.
            let rounds = self
                .read_only_primary
                .entry(primary.id.clone())
                .or_default();
            *rounds = if p.read_only == Some(true) {
                *rounds + 1
            } else {
                0
            };
            if *rounds >= NOT_REPLICATING_ROUNDS && primary.rejoin.is_none() {
                out.push(Decision::Task {
                    set: set.name.clone(),
                    node: primary.id.clone(),
                    task: Task::Promote {
                        wait_gtid: None,
                        sync: set.sync,
                        semi_timeout_ms: set.semi_timeout_ms,
                    },
                    why: format!("the primary {} is read-only", primary.id),
                    rejoin: false,
                });
            }
            for n in members.iter().filter(|n| n.role == Role::Replica) {
                let Some(h) = report(n) else { continue };
                let repoint = |from_binlog: bool| Task::Repoint {
                    host: primary.host.clone(),
                    port: primary.port,
                    from_binlog,
                };
                match &n.rejoin {
                    Some(r) if r.promoted_gtid.is_empty() => {} // its failover is not published yet
                    Some(r) => {
                        let binlog = h.gtid_binlog_pos.clone().unwrap_or_default();
                        let (task, why) = if can_rejoin(&binlog, &r.promoted_gtid) {
                            (
                                repoint(true),
                                format!(
                                    "old primary back; its binlog {binlog} is within {}",
                                    r.promoted_gtid
                                ),
                            )
                        } else {
                            (
                                Task::Rebuild {
                                    host: primary.host.clone(),
                                    port: primary.port,
                                },
                                format!(
                                    "old primary back with transactions nobody acknowledged ({binlog} is not within {})",
                                    r.promoted_gtid
                                ),
                            )
                        };
                        out.push(Decision::Task {
                            set: set.name.clone(),
                            node: n.id.clone(),
                            task,
                            why,
                            rejoin: true,
                        });
                    }
                    None if h.read_only == Some(false) => out.push(Decision::Task {
                        set: set.name.clone(),
                        node: n.id.clone(),
                        task: Task::ReadOnly,
                        why: "a replica is writable".into(),
                        rejoin: false,
                    }),
                    None if h.master.as_deref() != Some(primary.addr().as_str()) => {
                        out.push(Decision::Task {
                            set: set.name.clone(),
                            node: n.id.clone(),
                            task: repoint(false),
                            why: format!(
                                "replicates from {} instead of the primary {}",
                                h.master.as_deref().unwrap_or("nobody"),
                                primary.addr()
                            ),
                            rejoin: false,
                        })
                    }
                    None => {
                        let replicating =
                            h.slave_io_running == Some(true) && h.slave_sql_running == Some(true);
                        let rounds = self.not_replicating.entry(n.id.clone()).or_default();
                        *rounds = if replicating { 0 } else { *rounds + 1 };
                        if *rounds < NOT_REPLICATING_ROUNDS {
                            continue;
                        }
                        let (task, why) = match sql_error(h) {
                            Some(e) => (
                                Task::Rebuild {
                                    host: primary.host.clone(),
                                    port: primary.port,
                                },
                                format!("its replication SQL thread stopped: {e}"),
                            ),
                            None => (
                                repoint(false),
                                format!(
                                    "not replicating from the primary (IO thread {}, SQL thread {}{})",
                                    crate::redundancy::thread_word(h.slave_io_running),
                                    crate::redundancy::thread_word(h.slave_sql_running),
                                    h.last_error
                                        .as_deref()
                                        .map(|e| format!(", {e}"))
                                        .unwrap_or_default()
                                ),
                            ),
                        };
                        out.push(Decision::Task {
                            set: set.name.clone(),
                            node: n.id.clone(),
                            task,
                            why,
                            rejoin: false,
                        })
                    }
                }
            }
        }
        out
    }

    fn sync_policy(
        &mut self,
        set: &SetRecord,
        primary: &NodeRecord,
        p: &HealthReport,
        out: &mut Vec<Decision>,
    ) {
        let zero = p.semi_sync_clients == Some(0);
        let rounds = self.zero_clients.entry(set.name.clone()).or_default();
        *rounds = if zero { *rounds + 1 } else { 0 };
        match set.sync {
            SyncMode::Strong => {
                if *rounds >= BLOCK_AFTER_ROUNDS && set.writes_blocked.is_none() {
                    out.push(Decision::BlockWrites {
                        set: set.name.clone(),
                        reason: format!(
                            "strong sync and no replica acknowledges commits on its primary {}",
                            primary.id
                        ),
                    });
                } else if p.semi_sync_clients.is_some_and(|c| c > 0)
                    && p.semi_sync_master == Some(true)
                    && set.writes_blocked.is_some()
                {
                    // A replica is connected and the primary waits for acknowledgements
                    // again (its agent switches semi-sync back on after a release,
                    // agent/src/sync.rs; ON also means the replica has caught up).
                    out.push(Decision::AllowWrites {
                        set: set.name.clone(),
                    });
                }
            }
            SyncMode::Semi | SyncMode::Async => {
                if set.writes_blocked.is_some() {
                    out.push(Decision::AllowWrites {
                        set: set.name.clone(),
                    });
                }
            }
        }
        let fell_back = set.sync == SyncMode::Semi && p.semi_sync_master == Some(false);
        match (&set.degraded, fell_back) {
            (None, true) => out.push(Decision::Degrade {
                set: set.name.clone(),
                reason: format!(
                    "primary {} fell back to asynchronous replication (no acknowledgement within {} ms)",
                    primary.id, set.semi_timeout_ms
                ),
            }),
            (Some(_), false) if set.sync != SyncMode::Semi || p.semi_sync_master == Some(true) => {
                out.push(Decision::Recover {
                    set: set.name.clone(),
                })
            }
            _ => {}
        }
    }
}

/// The error a replica's SQL thread stopped with (a diverged replica: a
/// duplicate key, a missing row), as opposed to an IO thread problem.
fn sql_error(h: &HealthReport) -> Option<&str> {
    if h.slave_sql_running != Some(false) {
        return None;
    }
    h.last_error.as_deref().filter(|e| !e.starts_with("IO: "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::{Degradation, Rejoin, TaskRecord, TaskState};

    fn node(id: &str, role: Role) -> NodeRecord {
        let port = match id {
            "s-n0" => 3310,
            "s-n1" => 3311,
            _ => 3312,
        };
        NodeRecord::new(id, "s", "127.0.0.1", port, role)
    }
    fn rep(id: &str) -> HealthReport {
        HealthReport {
            node: id.into(),
            set: "s".into(),
            at_ms: 100,
            readable: true,
            read_only: Some(true),
            master: Some("127.0.0.1:3310".into()),
            slave_io_running: Some(true),
            slave_sql_running: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn stopped_replicas_are_repointed_diverged_ones_rebuilt() {
        let sets = vec![SetRecord::new("s", SyncMode::Strong)];
        let nodes = vec![
            node("s-n0", Role::Primary),
            node("s-n1", Role::Replica),
            node("s-n2", Role::Replica),
        ];
        let mut h1 = rep("s-n1");
        h1.slave_io_running = Some(false);
        h1.last_error = Some("IO: error reconnecting to master".into());
        let mut h2 = rep("s-n2");
        h2.slave_sql_running = Some(false);
        h2.last_error = Some("Duplicate entry '7' for key 'PRIMARY'".into());
        let mut h0 = rep("s-n0");
        h0.read_only = Some(false);
        let health = vec![h0, h1, h2];
        let mut pol = Policy::default();
        for _ in 1..NOT_REPLICATING_ROUNDS {
            assert!(pol.decide(&sets, &nodes, &health, &|_| true).is_empty());
        }
        let d = pol.decide(&sets, &nodes, &health, &|_| true);
        assert!(
            matches!(&d[0], Decision::Task { node, task: Task::Repoint { from_binlog: false, port: 3310, .. }, .. } if node == "s-n1"),
            "{d:?}"
        );
        assert!(
            matches!(&d[1], Decision::Task { node, task: Task::Rebuild { port: 3310, .. }, .. } if node == "s-n2"),
            "{d:?}"
        );
        // A repoint that failed for good becomes a rebuild.
        let rp = Task::Repoint {
            host: "127.0.0.1".into(),
            port: 3310,
            from_binlog: false,
        };
        let mut t = TaskRecord::new("s", "s-n1", rp.clone(), "x", 1);
        t.state = TaskState::Failed;
        t.error =
            Some("replication from 127.0.0.1:3310 failed: Got fatal error 1236 from master".into());
        assert!(matches!(
            escalate(Some(&t), &rp),
            Some(Task::Rebuild { port: 3310, .. })
        ));
        t.error = Some("replication from 127.0.0.1:3310 did not start in time".into());
        assert_eq!(escalate(Some(&t), &rp), None);
    }

    #[test]
    fn a_read_only_primary_is_made_writable() {
        let sets = vec![SetRecord::new("s", SyncMode::Strong)];
        let nodes = vec![node("s-n0", Role::Primary), node("s-n1", Role::Replica)];
        let mut p0 = rep("s-n0");
        p0.master = None;
        p0.slave_io_running = None;
        p0.slave_sql_running = None;
        p0.semi_sync_clients = Some(1);
        let health = vec![p0, rep("s-n1")];
        let mut pol = Policy::default();
        for _ in 1..NOT_REPLICATING_ROUNDS {
            assert!(pol.decide(&sets, &nodes, &health, &|_| true).is_empty());
        }
        let d = pol.decide(&sets, &nodes, &health, &|_| true);
        assert!(
            matches!(&d[..], [Decision::Task { node, task: Task::Promote { wait_gtid: None, .. }, .. }] if node == "s-n0"),
            "{d:?}"
        );
    }

    #[test]
    fn strong_set_blocks_after_two_rounds_without_acks() {
        let sets = vec![SetRecord::new("s", SyncMode::Strong)];
        let nodes = vec![node("s-n0", Role::Primary), node("s-n1", Role::Replica)];
        let mut p0 = rep("s-n0");
        p0.read_only = Some(false);
        p0.master = None;
        p0.semi_sync_clients = Some(0);
        let health = vec![p0.clone(), rep("s-n1")];
        let mut pol = Policy::default();
        let all = |_: &str| true;
        assert!(pol.decide(&sets, &nodes, &health, &all).is_empty());
        let d = pol.decide(&sets, &nodes, &health, &all);
        assert!(matches!(&d[..], [Decision::BlockWrites { set, .. }] if set == "s"));
        let mut blocked = sets.clone();
        blocked[0].writes_blocked = Some("x".into());
        p0.semi_sync_clients = Some(1);
        // Connected, but the primary does not wait for it yet (semi-sync master off
        // after a release, or the replica still catching up): writes stay refused.
        for status in [None, Some(false)] {
            p0.semi_sync_master = status;
            let d = pol.decide(&blocked, &nodes, &[p0.clone(), rep("s-n1")], &all);
            assert!(d.is_empty(), "{d:?}");
        }
        p0.semi_sync_master = Some(true);
        let d = pol.decide(&blocked, &nodes, &[p0, rep("s-n1")], &all);
        assert_eq!(d, vec![Decision::AllowWrites { set: "s".into() }]);
        // A set with an operation in progress is left alone.
        assert!(pol.decide(&blocked, &nodes, &health, &|_| false).is_empty());
    }

    #[test]
    fn semi_set_degrades_and_recovers() {
        let sets = vec![SetRecord::new("s", SyncMode::Semi)];
        let nodes = vec![node("s-n0", Role::Primary)];
        let mut p0 = rep("s-n0");
        p0.semi_sync_master = Some(false);
        let mut pol = Policy::default();
        let d = pol.decide(&sets, &nodes, &[p0.clone()], &|_| true);
        assert!(matches!(&d[..], [Decision::Degrade { .. }]));
        let mut degraded = sets.clone();
        degraded[0].degraded = Some(Degradation {
            since_ms: 1,
            reason: "x".into(),
        });
        p0.semi_sync_master = Some(true);
        let d = pol.decide(&degraded, &nodes, &[p0], &|_| true);
        assert_eq!(d, vec![Decision::Recover { set: "s".into() }]);
    }

    #[test]
    fn replicas_rejoin_or_get_fixed() {
        let sets = vec![SetRecord::new("s", SyncMode::Async)];
        let mut old = node("s-n1", Role::Replica);
        old.rejoin = Some(Rejoin {
            new_primary: "s-n0".into(),
            promoted_gtid: "0-101-10".into(),
            since_ms: 50,
            planned: false,
        });
        let nodes = vec![
            node("s-n0", Role::Primary),
            old,
            node("s-n2", Role::Replica),
        ];
        let mut h1 = rep("s-n1");
        h1.gtid_binlog_pos = Some("0-101-10".into());
        h1.read_only = Some(false);
        let mut h2 = rep("s-n2");
        h2.master = Some("127.0.0.1:3311".into());
        let mut pol = Policy::default();
        let d = pol.decide(
            &sets,
            &nodes,
            &[rep("s-n0"), h1.clone(), h2.clone()],
            &|_| true,
        );
        assert!(
            matches!(&d[0], Decision::Task { node, task: Task::Repoint { from_binlog: true, port: 3310, .. }, rejoin: true, .. } if node == "s-n1")
        );
        assert!(
            matches!(&d[1], Decision::Task { node, task: Task::Repoint { from_binlog: false, .. }, rejoin: false, .. } if node == "s-n2")
        );
        h1.gtid_binlog_pos = Some("0-102-11".into());
        h2.master = Some("127.0.0.1:3310".into());
        h2.read_only = Some(false);
        let d = pol.decide(&sets, &nodes, &[rep("s-n0"), h1, h2], &|_| true);
        assert!(matches!(
            &d[0],
            Decision::Task {
                task: Task::Rebuild { .. },
                ..
            }
        ));
        assert!(matches!(
            &d[1],
            Decision::Task {
                task: Task::ReadOnly,
                ..
            }
        ));
    }
}
