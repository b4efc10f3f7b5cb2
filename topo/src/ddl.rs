//! DDL tasks (`ddl/<id>`): a schema change a gateway recorded for the scheduler
//! leader to apply on the primary of every set that holds the object, with each
//! set's outcome and the topo change to make once every set succeeded.
//!
//! Ids come from `ddl-seq`, given out in the same etcd transaction that creates
//! the task, so key order is the order the gateways recorded them. Tasks that
//! share an object (a table, or a whole database) run one at a time in id order
//! ([`blocked_by`]). The state machine and the client's error text live here so
//! the gateway, the scheduler and the `setwise ddl` command line agree on them.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TopoError};
use crate::model::{DatabaseRecord, TableKind, TableRecord};
use crate::store::{Batch, Topo, Versioned};

/// One schema change and its progress on every set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DdlTask {
    pub id: u64,
    /// The statement as the client sent it (for display).
    pub sql: String,
    /// The database the sets run it in (`USE`), the client's current one.
    #[serde(default)]
    pub db: Option<String>,
    /// The client's session state (`SET ...` statements: sql_mode, user variables,
    /// ...), run on each set before the statement; the text itself is sent in utf8mb4.
    #[serde(default)]
    pub session: Vec<String>,
    /// What the task locks: tasks sharing one run in id order.
    pub objects: Vec<DdlObject>,
    /// How a set whose outcome was lost is checked before the statement is re-run.
    #[serde(default)]
    pub check: DdlCheck,
    /// One per set, each with its own text (a RENAME names only that set's tables).
    pub steps: Vec<DdlStep>,
    /// Written to topo (in one transaction) when every step is done.
    #[serde(default)]
    pub change: SchemaChange,
    pub state: DdlState,
    /// The gateway that recorded it.
    #[serde(default)]
    pub gateway: String,
    pub created_ms: u64,
    #[serde(default)]
    pub started_ms: Option<u64>,
    #[serde(default)]
    pub finished_ms: Option<u64>,
    /// Why the task failed or was cancelled, beyond its steps' errors.
    #[serde(default)]
    pub error: Option<String>,
    /// How many times `setwise ddl retry` restarted it.
    #[serde(default)]
    pub retries: u32,
}

/// A table (`table: Some`) or a whole database (`None`, conflicts with all its tables).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DdlObject {
    pub db: String,
    #[serde(default)]
    pub table: Option<String>,
}

impl DdlObject {
    pub fn table(db: &str, table: &str) -> Self {
        Self {
            db: db.into(),
            table: Some(table.into()),
        }
    }
    pub fn database(db: &str) -> Self {
        Self {
            db: db.into(),
            table: None,
        }
    }
    /// Whether two tasks on these objects must not run at once.
    pub fn conflicts(&self, o: &DdlObject) -> bool {
        self.db == o.db && (self.table.is_none() || o.table.is_none() || self.table == o.table)
    }
}

/// A set's view of what the statement does, to tell whether it already happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DdlCheck {
    TableExists {
        db: String,
        table: String,
    },
    TablesAbsent {
        tables: Vec<(String, String)>,
    },
    DbExists {
        db: String,
    },
    DbAbsent {
        db: String,
    },
    /// Every `old` gone, every `new` there.
    Renamed {
        pairs: Vec<((String, String), (String, String))>,
    },
    /// Nothing to read: the statement is re-run and an error saying it already
    /// happened ([`ALREADY_APPLIED`]) counts as done.
    #[default]
    Rerun,
}

/// MariaDB errors that, on a re-run whose first outcome was lost, mean the first
/// run took effect: 1050 table exists, 1051 unknown table, 1007 database exists,
/// 1008 database does not exist, 1060 duplicate column, 1061 duplicate key name,
/// 1091 can't drop (column/key gone), 1176 key doesn't exist.
pub const ALREADY_APPLIED: &[u16] = &[1050, 1051, 1007, 1008, 1060, 1061, 1091, 1176];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DdlState {
    /// Recorded; waits for the leader (and for earlier tasks on its objects).
    Queued,
    /// Being applied (some set may be waiting to come back).
    Running,
    /// Every set applied it and topo records it.
    Done,
    /// A set refused it: see the steps. `setwise ddl retry` or `cancel`.
    Failed,
    /// Given up by `setwise ddl cancel` (sets that applied it keep it).
    Cancelled,
}

impl DdlState {
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
    pub fn word(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One set's part of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DdlStep {
    pub set: String,
    /// The text this set runs.
    pub sql: String,
    pub state: StepState,
    /// The primary it ran on (last attempt).
    #[serde(default)]
    pub node: Option<String>,
    /// Why it waits (set down, failover in progress).
    #[serde(default)]
    pub waiting: Option<String>,
    #[serde(default)]
    pub error: Option<StepError>,
    /// Read from the set's processlist while the statement runs.
    #[serde(default)]
    pub progress: Option<StepProgress>,
    /// Anything worth knowing (e.g. "already applied: checked after a lost outcome").
    #[serde(default)]
    pub note: Option<String>,
    /// Sent to the set with no outcome recorded yet (the leader died, the
    /// connection broke): checked with [`DdlTask::check`] before any re-run.
    #[serde(default)]
    pub unsure: bool,
    #[serde(default)]
    pub affected: u64,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub started_ms: Option<u64>,
    #[serde(default)]
    pub finished_ms: Option<u64>,
}

impl DdlStep {
    pub fn new(set: &str, sql: &str) -> Self {
        Self {
            set: set.into(),
            sql: sql.into(),
            state: StepState::Pending,
            node: None,
            waiting: None,
            error: None,
            progress: None,
            note: None,
            unsure: false,
            affected: 0,
            attempts: 0,
            started_ms: None,
            finished_ms: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    /// Sent to the set; an outcome not recorded here is checked before a re-run.
    Running,
    /// The set is down or failing over: the step runs when it is back.
    Waiting,
    Done,
    Failed,
}

impl StepState {
    pub fn word(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Waiting => "waiting-for-set",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// MariaDB's error on one set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepError {
    pub code: u16,
    pub sqlstate: String,
    pub message: String,
}

/// `information_schema.PROCESSLIST` of the statement on the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepProgress {
    /// PROCESSLIST.STATE, e.g. "copy to tmp table".
    pub state: String,
    pub stage: u32,
    pub max_stage: u32,
    /// PROCESSLIST.PROGRESS: percent of the whole statement.
    pub percent: f64,
    pub at_ms: u64,
}

/// What topo records once every set applied the task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    #[serde(default)]
    pub put_db: Option<DatabaseRecord>,
    #[serde(default)]
    pub delete_db: Option<String>,
    /// `kind: None` deletes the table's record.
    #[serde(default)]
    pub tables: Vec<TableChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChange {
    pub db: String,
    pub name: String,
    pub kind: Option<TableKind>,
}

impl SchemaChange {
    pub fn is_empty(&self) -> bool {
        self.put_db.is_none() && self.delete_db.is_none() && self.tables.is_empty()
    }

    /// The change as writes of one etcd transaction.
    pub fn batch(&self, topo: &Topo, mut b: Batch) -> Result<Batch> {
        let k = topo.keys();
        if let Some(db) = &self.put_db {
            b = b.put(&k.db(&db.name), db)?;
        }
        if let Some(db) = &self.delete_db {
            b = b.delete_prefix(&k.tables_of(db)).delete(&k.db(db));
        }
        for t in &self.tables {
            let key = k.table(&t.db, &t.name);
            b = match &t.kind {
                Some(kind) => b.put(
                    &key,
                    &TableRecord {
                        db: t.db.clone(),
                        name: t.name.clone(),
                        kind: kind.clone(),
                    },
                )?,
                None => b.delete(&key),
            };
        }
        Ok(b)
    }
}

impl DdlTask {
    /// A new task (id given out by [`Topo::submit_ddl`]).
    pub fn new(sql: &str, db: Option<String>, steps: Vec<DdlStep>, created_ms: u64) -> Self {
        Self {
            id: 0,
            sql: sql.into(),
            db,
            session: Vec::new(),
            objects: Vec::new(),
            check: DdlCheck::Rerun,
            steps,
            change: SchemaChange::default(),
            state: DdlState::Queued,
            gateway: String::new(),
            created_ms,
            started_ms: None,
            finished_ms: None,
            error: None,
            retries: 0,
        }
    }

    /// Whether some set applied it (a failed or cancelled task is then half-applied).
    pub fn applied_somewhere(&self) -> bool {
        self.steps.iter().any(|s| s.state == StepState::Done)
    }

    /// A failed task that changed some sets: it blocks later tasks on its objects
    /// until retried or cancelled.
    pub fn half_applied(&self) -> bool {
        self.state == DdlState::Failed && self.applied_somewhere()
    }

    /// The state as `setwise ddl list` shows it: `running` is `waiting-for-set`
    /// while one of its sets is down.
    pub fn shown_state(&self) -> &'static str {
        if self.state == DdlState::Running
            && self.steps.iter().any(|s| s.state == StepState::Waiting)
        {
            return "waiting-for-set";
        }
        self.state.word()
    }

    /// The error the client gets for a failed task: MariaDB's code and SQLSTATE
    /// of the first set's error; when every set refused alike (nothing changed),
    /// MariaDB's message as it is; else a message naming the sets that failed,
    /// why, where it did apply, and what to do.
    pub fn client_error(&self) -> (u16, String, String) {
        let failed: Vec<(&str, &StepError)> = self
            .steps
            .iter()
            .filter(|s| s.state == StepState::Failed)
            .filter_map(|s| Some((s.set.as_str(), s.error.as_ref()?)))
            .collect();
        let Some((_, first)) = failed.first() else {
            let why = self
                .error
                .clone()
                .unwrap_or_else(|| "no reason given".into());
            return (
                1105,
                "HY000".into(),
                format!("DDL task {} {}: {why}", self.id, self.state.word()),
            );
        };
        let alike = failed.len() == self.steps.len()
            && failed
                .iter()
                .all(|(_, e)| e.code == first.code && e.message == first.message);
        if alike {
            return (first.code, first.sqlstate.clone(), first.message.clone());
        }
        let why: Vec<String> = failed
            .iter()
            .map(|(set, e)| format!("{set}: {} ({})", e.message, e.code))
            .collect();
        let applied: Vec<&str> = self
            .steps
            .iter()
            .filter(|s| s.state == StepState::Done)
            .map(|s| s.set.as_str())
            .collect();
        let what = if applied.is_empty() {
            "no set applied it".to_string()
        } else {
            format!("applied on {}", applied.join(", "))
        };
        (
            first.code,
            first.sqlstate.clone(),
            format!(
                "DDL task {} failed on {}; {what}. Fix the cause on the failed sets, then \
                 `setwise ddl retry {}` (or `setwise ddl cancel {} --force` to leave it so)",
                self.id,
                why.join("; "),
                self.id,
                self.id
            ),
        )
    }
}

/// The earliest unfinished task before `t` that shares an object with it, or a
/// half-applied failed one that does (which blocks until retried or cancelled).
pub fn blocked_by<'a>(t: &DdlTask, all: &'a [DdlTask]) -> Option<&'a DdlTask> {
    all.iter().filter(|o| o.id < t.id).find(|o| {
        (!o.state.is_finished() || o.half_applied())
            && o.objects
                .iter()
                .any(|a| t.objects.iter().any(|b| a.conflicts(b)))
    })
}

impl Topo {
    /// Records `task` under the next id (`ddl-seq` moves in the same transaction,
    /// so ids follow the order tasks were recorded). Returns the id.
    pub async fn submit_ddl(&self, task: &mut DdlTask) -> Result<u64> {
        let seq_key = self.keys().ddl_seq();
        for _ in 0..64 {
            let cur = self.get::<u64>(&seq_key).await?;
            let (last, rev) = cur.map(|v| (v.value, v.mod_revision)).unwrap_or((0, 0));
            task.id = last + 1;
            let b = Batch::new()
                .unchanged(&seq_key, rev)
                .put(&seq_key, &task.id)?
                .put(&self.keys().ddl_task(task.id), task)?;
            if self.commit(b).await? {
                return Ok(task.id);
            }
        }
        Err(TopoError::CasConflict { key: seq_key })
    }

    /// Watches every task (the scheduler leader wakes on a new one).
    pub async fn watch_ddl(&self) -> Result<etcd_client::WatchStream> {
        let opts = etcd_client::WatchOptions::new().with_prefix();
        Ok(self
            .client()
            .watch_client()
            .watch(self.keys().ddl_tasks(), Some(opts))
            .await?)
    }

    pub async fn get_ddl(&self, id: u64) -> Result<Option<Versioned<DdlTask>>> {
        self.get(&self.keys().ddl_task(id)).await
    }

    /// Every task, oldest first.
    pub async fn list_ddl(&self) -> Result<Vec<Versioned<DdlTask>>> {
        self.list(&self.keys().ddl_tasks()).await
    }

    /// Writes `task` only if it is still at `rev`; returns the new revision.
    pub async fn cas_ddl(&self, task: &DdlTask, rev: i64) -> Result<i64> {
        self.cas(&self.keys().ddl_task(task.id), task, rev).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: u64, objects: Vec<DdlObject>, state: DdlState) -> DdlTask {
        let mut t = DdlTask::new("x", None, vec![DdlStep::new("set1", "x")], 0);
        t.id = id;
        t.objects = objects;
        t.state = state;
        t
    }

    #[test]
    fn queue_order_per_object() {
        let t1 = task(1, vec![DdlObject::table("d", "a")], DdlState::Running);
        let t2 = task(2, vec![DdlObject::table("d", "b")], DdlState::Queued);
        let t3 = task(3, vec![DdlObject::table("d", "a")], DdlState::Queued);
        let t4 = task(4, vec![DdlObject::database("d")], DdlState::Queued);
        let all = vec![t1.clone(), t2.clone(), t3.clone(), t4.clone()];
        assert!(blocked_by(&t1, &all).is_none());
        assert!(blocked_by(&t2, &all).is_none());
        assert_eq!(blocked_by(&t3, &all).map(|t| t.id), Some(1));
        assert_eq!(blocked_by(&t4, &all).map(|t| t.id), Some(1));
        // A failed task blocks only when it changed some set.
        let mut f = task(1, vec![DdlObject::table("d", "a")], DdlState::Failed);
        assert!(blocked_by(&t3, std::slice::from_ref(&f)).is_none());
        f.steps[0].state = StepState::Done;
        assert!(blocked_by(&t3, std::slice::from_ref(&f)).is_some());
    }

    #[test]
    fn client_errors() {
        let mut t = task(7, vec![], DdlState::Failed);
        t.steps.push(DdlStep::new("set2", "x"));
        let e = StepError {
            code: 1060,
            sqlstate: "42S21".into(),
            message: "Duplicate column name 'c'".into(),
        };
        for s in &mut t.steps {
            s.state = StepState::Failed;
            s.error = Some(e.clone());
        }
        assert_eq!(
            t.client_error(),
            (1060, "42S21".into(), "Duplicate column name 'c'".into())
        );
        t.steps[0].state = StepState::Done;
        t.steps[0].error = None;
        let (code, state, msg) = t.client_error();
        assert_eq!((code, state.as_str()), (1060, "42S21"));
        assert!(
            msg.contains("set2: Duplicate column name 'c' (1060)"),
            "{msg}"
        );
        assert!(msg.contains("applied on set1"), "{msg}");
        assert!(msg.contains("setwise ddl retry 7"), "{msg}");
    }
}
