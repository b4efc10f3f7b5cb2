//! Whether a set is whole — one writable primary, every other node replicating from
//! it with both threads running — and, when it is not, what is missing and what is
//! being done about it, in words a DBA can act on. A pure function of the records
//! (node roles, the agents' reports, the nodes' tasks), used by `setwise status` and
//! by the leader, which logs each set's changes ("whole again", "not whole: …").

use topo::{HealthReport, NodeRecord, Role, SetRecord, Task, TaskRecord, TaskState};

/// What keeps one set from full redundancy (empty: whole).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redundancy {
    pub problems: Vec<String>,
    /// Replicas replicating from the primary with both threads running.
    pub replicating: usize,
}

impl Redundancy {
    pub fn is_whole(&self) -> bool {
        self.problems.is_empty()
    }

    /// `whole (2 replicas replicating)` or the problems, `; `-separated.
    pub fn describe(&self) -> String {
        if self.is_whole() {
            format!(
                "whole ({} replica{} replicating)",
                self.replicating,
                if self.replicating == 1 { "" } else { "s" }
            )
        } else {
            self.problems.join("; ")
        }
    }
}

/// Judges `set` from its node records, reports and tasks.
pub fn assess(
    set: &SetRecord,
    nodes: &[NodeRecord],
    health: &[HealthReport],
    tasks: &[TaskRecord],
) -> Redundancy {
    let mut out = Redundancy::default();
    let members: Vec<&NodeRecord> = nodes.iter().filter(|n| n.set == set.name).collect();
    let report = |n: &NodeRecord| health.iter().find(|h| h.set == n.set && h.node == n.id);
    let task = |n: &NodeRecord| tasks.iter().find(|t| t.set == n.set && t.node == n.id);
    let primaries: Vec<&&NodeRecord> = members.iter().filter(|n| n.role == Role::Primary).collect();
    let primary = match primaries.as_slice() {
        [p] => Some(**p),
        [] => {
            out.problems.push("no primary in routing".into());
            None
        }
        many => {
            out.problems.push(format!(
                "{} nodes claim the primary role: {}",
                many.len(),
                many.iter()
                    .map(|n| n.id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            None
        }
    };
    let mut primary_live = false;
    if let Some(p) = primary {
        match report(p) {
            None => out
                .problems
                .push(format!("primary {}: no health report (agent down?)", p.id)),
            Some(h) if !h.readable => out.problems.push(format!(
                "primary {} is down: {}",
                p.id,
                h.error.as_deref().unwrap_or("unreadable")
            )),
            Some(h) if h.read_only == Some(true) => {
                primary_live = true;
                out.problems.push(format!("primary {} is read-only", p.id))
            }
            Some(_) => primary_live = true,
        }
    }
    if let Some(why) = &set.writes_blocked {
        out.problems.push(format!("writes refused: {why}"));
    }
    for n in members.iter().filter(|n| n.role == Role::Replica) {
        let doing = task(n).map(doing).unwrap_or_default();
        let Some(h) = report(n) else {
            out.problems
                .push(format!("{}: no health report (agent down?){doing}", n.id));
            continue;
        };
        if !h.readable {
            out.problems.push(format!(
                "{} is down: {}{doing}",
                n.id,
                h.error.as_deref().unwrap_or("unreadable")
            ));
            continue;
        }
        let from_primary = primary.is_some_and(|p| h.master.as_deref() == Some(p.addr().as_str()));
        let running = h.slave_io_running == Some(true) && h.slave_sql_running == Some(true);
        if n.rejoin.is_some() {
            out.problems.push(format!(
                "{} is an old primary rejoining the set{doing}",
                n.id
            ));
        } else if h.read_only != Some(true) {
            out.problems
                .push(format!("{} is writable but not the primary{doing}", n.id));
        } else if !from_primary {
            out.problems.push(format!(
                "{} replicates from {} instead of the primary{doing}",
                n.id,
                h.master.as_deref().unwrap_or("nobody")
            ));
        } else if !running {
            out.problems.push(format!(
                "{} does not replicate (IO thread {}, SQL thread {}{}){doing}",
                n.id,
                thread_word(h.slave_io_running),
                thread_word(h.slave_sql_running),
                h.last_error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ));
        } else if let Some(why) = behind(h) {
            out.problems.push(format!("{}{why}{doing}", n.id));
        } else {
            out.replicating += 1;
        }
    }
    if !out.is_whole() && primary.is_some() && !primary_live {
        out.problems
            .push("no node to rebuild from until the primary is back or replaced".into());
    }
    out
}

/// How long a replica's SQL thread may apply nothing while transactions wait for it
/// before the replica stops counting (a big transaction being applied takes a while;
/// a lock held by a prepared XA branch is for ever).
pub const STALLED_AFTER_MS: u64 = 10_000;
/// The replication delay past which a replica stops counting: it could not take over
/// without first applying that much.
pub const LAG_LIMIT_S: u64 = 60;

/// Why a replica whose threads run does not count: its applier is stuck, or far behind.
fn behind(h: &HealthReport) -> Option<String> {
    if let Some(ms) = h.sql_stalled_ms.filter(|ms| *ms >= STALLED_AFTER_MS) {
        return Some(format!(
            "'s replication SQL thread has applied nothing for {} s with received transactions waiting (a lock held on the replica?)",
            ms / 1000
        ));
    }
    h.seconds_behind_master
        .filter(|s| *s > LAG_LIMIT_S)
        .map(|s| format!(" lags {s} s behind the primary"))
}

/// `; rebuild running` / `; repoint failed: …` for a node's current task.
fn doing(t: &TaskRecord) -> String {
    let what = match &t.task {
        Task::Rebuild { host, port } => format!("rebuild from {host}:{port}"),
        Task::Repoint { host, port, .. } => format!("repoint to {host}:{port}"),
        other => other.name().to_string(),
    };
    match t.state {
        TaskState::Pending => format!("; {what} given, not started"),
        TaskState::Running => format!("; {what} running"),
        TaskState::Failed => format!(
            "; {what} failed: {} (retried)",
            t.error.as_deref().unwrap_or("no error text")
        ),
        TaskState::Done => String::new(),
    }
}

/// `running`, `stopped` or `absent` for a replication thread.
pub fn thread_word(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "running",
        Some(false) => "stopped",
        None => "absent",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::{Rejoin, SyncMode};

    fn node(id: &str, port: u16, role: Role) -> NodeRecord {
        NodeRecord::new(id, "s", "127.0.0.1", port, role)
    }
    fn rep(id: &str, master: Option<&str>) -> HealthReport {
        HealthReport {
            node: id.into(),
            set: "s".into(),
            readable: true,
            read_only: Some(master.is_some()),
            master: master.map(String::from),
            slave_io_running: master.map(|_| true),
            slave_sql_running: master.map(|_| true),
            ..Default::default()
        }
    }

    #[test]
    fn whole_and_not() {
        let set = SetRecord::new("s", SyncMode::Strong);
        let mut nodes = vec![
            node("s-n0", 3310, Role::Primary),
            node("s-n1", 3311, Role::Replica),
            node("s-n2", 3312, Role::Replica),
        ];
        let p = Some("127.0.0.1:3310");
        let mut health = vec![rep("s-n0", None), rep("s-n1", p), rep("s-n2", p)];
        let r = assess(&set, &nodes, &health, &[]);
        assert!(r.is_whole(), "{r:?}");
        assert_eq!(r.describe(), "whole (2 replicas replicating)");

        nodes[2].rejoin = Some(Rejoin {
            new_primary: "s-n0".into(),
            promoted_gtid: "0-1-5".into(),
            since_ms: 1,
            planned: false,
        });
        health[1].slave_io_running = Some(false);
        health[1].last_error = Some("IO: error connecting".into());
        let mut t = TaskRecord::new(
            "s",
            "s-n2",
            Task::Rebuild {
                host: "127.0.0.1".into(),
                port: 3310,
            },
            "x",
            1,
        );
        t.state = TaskState::Running;
        let r = assess(&set, &nodes, &health, &[t]);
        assert_eq!(r.replicating, 0);
        assert_eq!(
            r.problems,
            vec![
                "s-n1 does not replicate (IO thread stopped, SQL thread running: IO: error connecting)",
                "s-n2 is an old primary rejoining the set; rebuild from 127.0.0.1:3310 running",
            ]
        );

        health[0].readable = false;
        health[0].error = Some("frozen".into());
        let r = assess(&set, &nodes, &health, &[]);
        assert_eq!(r.problems[0], "primary s-n0 is down: frozen");
        assert!(r
            .problems
            .last()
            .unwrap()
            .starts_with("no node to rebuild from"));
        let r = assess(&set, &nodes[1..], &health, &[]);
        assert_eq!(r.problems[0], "no primary in routing");
    }

    /// A replica whose threads run but whose applier is stuck (a lock held by a
    /// prepared XA branch) or far behind does not count.
    #[test]
    fn stuck_or_lagging_replicas_are_not_whole() {
        let set = SetRecord::new("s", SyncMode::Strong);
        let nodes = vec![
            node("s-n0", 3310, Role::Primary),
            node("s-n1", 3311, Role::Replica),
            node("s-n2", 3312, Role::Replica),
        ];
        let p = Some("127.0.0.1:3310");
        let mut health = vec![rep("s-n0", None), rep("s-n1", p), rep("s-n2", p)];
        // A short pause of the applier, a small delay: whole.
        health[1].sql_stalled_ms = Some(STALLED_AFTER_MS - 1);
        health[2].seconds_behind_master = Some(LAG_LIMIT_S);
        assert!(assess(&set, &nodes, &health, &[]).is_whole());
        health[1].sql_stalled_ms = Some(396_000);
        health[2].seconds_behind_master = Some(LAG_LIMIT_S + 1);
        let r = assess(&set, &nodes, &health, &[]);
        assert_eq!(r.replicating, 0);
        assert_eq!(
            r.problems,
            vec![
                "s-n1's replication SQL thread has applied nothing for 396 s with received transactions waiting (a lock held on the replica?)",
                "s-n2 lags 61 s behind the primary",
            ]
        );
    }
}
