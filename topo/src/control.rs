//! Control-plane records: the tasks the scheduler gives agents, failovers and
//! switchovers (in progress and finished), switchover requests from the command line,
//! and the agents' per-node statistics.
//!
//! | key | record | written by |
//! |---|---|---|
//! | `tasks/<set>/<node>` | [`TaskRecord`]: the node's current task | scheduler (new task), agent (state) |
//! | `ops/<set>` | [`FailoverRecord`] of the failover/switchover in progress | scheduler leader |
//! | `failovers/<set>/<id>` | [`FailoverRecord`], finished (done or failed) | scheduler leader |
//! | `requests/<set>` | [`SwitchoverRequest`] | `setwise switchover` |
//! | `stats/<set>/<node>` | [`NodeStats`], under the agent's lease | agent |
//!
//! None of these is a routing key: gateways do not re-read routing when they change.

use serde::{Deserialize, Serialize};

use crate::model::SyncMode;

/// One task for one node's agent. The scheduler writes it `Pending` with a new `id`;
/// the agent moves it to `Running`, then `Done` or `Failed` (compare-and-swap on the
/// record, so a task replaced meanwhile is not overwritten).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Unique per task, e.g. `1763939482123-promote`.
    pub id: String,
    pub set: String,
    pub node: String,
    pub task: Task,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `@@gtid_binlog_pos` of the node when the task finished (after `read_only`: what
    /// the fenced primary wrote; after `promote`: the new primary's starting point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtid: Option<String>,
    /// Unix ms.
    pub created_ms: u64,
    #[serde(default)]
    pub updated_ms: u64,
    /// Id of the scheduler that gave the task.
    #[serde(default)]
    pub by: String,
    /// Unix ms after which the task must not start any more (an agent that was
    /// frozen or dead when it was given marks it failed instead): a failover's
    /// `promote` or `read_only` long given up must not run late. None: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
    /// How a finished task went, in a line for people (a rebuild: physical with
    /// mariadb-backup or the logical fallback and why, bytes, time, caught up to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

impl TaskRecord {
    pub fn new(set: &str, node: &str, task: Task, by: &str, now_ms: u64) -> Self {
        Self {
            id: format!("{now_ms}-{}", task.name()),
            set: set.to_string(),
            node: node.to_string(),
            task,
            state: TaskState::Pending,
            error: None,
            gtid: None,
            created_ms: now_ms,
            updated_ms: now_ms,
            by: by.to_string(),
            expires_ms: None,
            outcome: None,
        }
    }

    /// Whether the task may no longer start at `now_ms`.
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expires_ms.is_some_and(|e| now_ms > e)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.state, TaskState::Done | TaskState::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// `SET GLOBAL read_only = ON` (fencing a primary). Result `gtid`: its binlog position.
    ReadOnly,
    /// Make the node the primary: stop the IO thread, wait until the SQL thread has
    /// applied `wait_gtid` (or everything received), `STOP SLAVE`, `RESET SLAVE ALL`,
    /// semi-sync master per `sync` (AFTER_SYNC; `strong`: no fallback, `semi`:
    /// fallback after `semi_timeout_ms`, `async`: off), `read_only = OFF`.
    Promote {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_gtid: Option<String>,
        sync: SyncMode,
        semi_timeout_ms: u64,
    },
    /// Replicate from `host:port` by GTID: read_only ON, semi-sync master off and
    /// slave on, `CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`, `START SLAVE`.
    /// `from_binlog`: first set `gtid_slave_pos` to the node's own binlog position
    /// (an old primary rejoining: what it wrote itself counts as applied).
    Repoint {
        host: String,
        port: u16,
        #[serde(default)]
        from_binlog: bool,
    },
    /// Throw the node's data away and copy it from `host:port`, then replicate from it.
    Rebuild { host: String, port: u16 },
}

impl Task {
    pub fn name(&self) -> &'static str {
        match self {
            Task::ReadOnly => "read_only",
            Task::Promote { .. } => "promote",
            Task::Repoint { .. } => "repoint",
            Task::Rebuild { .. } => "rebuild",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Pending,
    Running,
    Done,
    Failed,
}

/// A failover or switchover: `ops/<set>` while it runs (a new scheduler leader resumes
/// it from `phase`), then `failovers/<set>/<id>` for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverRecord {
    /// `<started_ms>-<set>`.
    pub id: String,
    pub set: String,
    pub kind: FailoverKind,
    /// Why it started (the health verdict, or "requested by ...").
    pub reason: String,
    pub old_primary: String,
    /// Chosen at the `Elected` phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_primary: Option<String>,
    /// Last known `@@gtid_binlog_pos` of the old primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_gtid: Option<String>,
    /// The new primary's `@@gtid_binlog_pos` right after promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_gtid: Option<String>,
    pub phase: FailoverPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    /// When gateways lost the primary (fence) and got the new one (publish), Unix ms:
    /// writes were held in between.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fenced_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_ms: Option<u64>,
    /// The switchover request this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Requested target of a switchover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What the elected replica must have applied before it is promoted: in a
    /// failover, all it had received when its IO thread was stopped at election.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_gtid: Option<String>,
    /// Schedulers that worked on it (a new leader appends itself).
    #[serde(default)]
    pub by: Vec<String>,
    /// What was done, one line per step, each prefixed with ms since `started_ms`.
    #[serde(default)]
    pub steps: Vec<String>,
}

impl FailoverRecord {
    pub fn duration_ms(&self) -> Option<u64> {
        self.finished_ms.map(|f| f.saturating_sub(self.started_ms))
    }

    /// How long the set had no primary in routing (writes held or refused).
    pub fn held_ms(&self) -> Option<u64> {
        Some(self.published_ms?.saturating_sub(self.fenced_ms?))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverKind {
    Failover,
    Switchover,
}

/// Phases in order; each is recorded after its step succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailoverPhase {
    /// Recorded; nothing changed yet.
    Started,
    /// Epoch bumped, old primary demoted in routing (gateways hold writes).
    Fenced,
    /// New primary chosen (`new_primary`).
    Elected,
    /// New primary writable (`new_gtid`).
    Promoted,
    /// Routing names the new primary.
    Published,
    /// Other replicas repointed; finished.
    Done,
    /// Gave up (`error`); routing was restored when nothing had changed yet.
    Failed,
}

/// `setwise switchover --set S [--to NODE]`: picked up by the scheduler leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchoverRequest {
    pub id: String,
    pub set: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub at_ms: u64,
}

/// What an agent measures less often than health: per-table figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NodeStats {
    pub node: String,
    pub set: String,
    pub at_ms: u64,
    pub tables: Vec<TableStats>,
}

/// One table on one node (`information_schema.TABLES` and `TABLE_STATISTICS`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct TableStats {
    pub db: String,
    pub table: String,
    /// InnoDB's estimate.
    pub rows: u64,
    /// Data + index bytes.
    pub bytes: u64,
    /// Rows read since the server started (needs `userstat`, which the agent enables).
    pub rows_read: u64,
    /// Rows inserted, updated or deleted since the server started.
    pub rows_changed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_json() {
        let t = TaskRecord::new(
            "set1",
            "set1-n1",
            Task::Promote {
                wait_gtid: Some("0-101-5".into()),
                sync: SyncMode::Strong,
                semi_timeout_ms: 10_000,
            },
            "sched-a",
            7,
        );
        let j = serde_json::to_value(&t).unwrap();
        assert_eq!(j["task"]["kind"], "promote");
        assert_eq!(j["state"], "pending");
        assert_eq!(j["id"], "7-promote");
        let back: TaskRecord = serde_json::from_value(j).unwrap();
        assert_eq!(back, t);
        let r: Task = serde_json::from_str(r#"{"kind":"read_only"}"#).unwrap();
        assert_eq!(r, Task::ReadOnly);
    }

    #[test]
    fn phases_are_ordered() {
        assert!(FailoverPhase::Started < FailoverPhase::Fenced);
        assert!(FailoverPhase::Promoted < FailoverPhase::Published);
        assert!(FailoverPhase::Published < FailoverPhase::Done);
    }
}
