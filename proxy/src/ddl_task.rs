//! DDL through the scheduler (docs/ddl.md): when a scheduler leader is elected, a
//! schema change is recorded as a task in etcd ([`topo::DdlTask`]) instead of run
//! here; the leader applies it on every set's primary and updates topo, and the
//! client is answered when the task ends — OK, MariaDB's error when every set
//! refused it alike, or an error naming the sets that failed and what to do.
//! A client waits at most `[ddl] wait_ms`; then it gets an error with the task id
//! and the task goes on (it finishes when its sets are back).
//!
//! With no leader elected (or `[ddl] scheduler = false`) the caller applies the
//! statement itself, as before tasks existed ([`Dispatched::Direct`]).

use std::time::Duration;

use topo::{DdlCheck, DdlObject, DdlState, DdlStep, DdlTask, SchemaChange};

use crate::error::ProxyError;
use crate::front::{OkInfo, Responder};
use crate::schema_session::SchemaSession;

pub use crate::config::DdlConfig;

/// The scheduler's election (`setwise_scheduler::leader::ELECTION`).
const SCHEDULER_ELECTION: &str = "scheduler";
/// How long asking etcd who leads may take (else: no leader, the direct path).
const LEADER_LOOKUP: Duration = Duration::from_millis(1000);
/// How often a waiting client's task is read.
const POLL: Duration = Duration::from_millis(20);

/// A schema change as a task: what each set runs, what it locks, how a lost
/// outcome is checked, and what topo records when it is done.
pub(crate) struct Spec {
    pub steps: Vec<(String, String)>,
    pub db: Option<String>,
    pub objects: Vec<DdlObject>,
    pub check: DdlCheck,
    pub change: SchemaChange,
}

impl Spec {
    /// The same `sql` on every set of `sets`.
    pub fn same(sets: Vec<String>, sql: &str, db: Option<String>) -> Self {
        Self {
            steps: sets.into_iter().map(|s| (s, sql.to_string())).collect(),
            db,
            objects: Vec::new(),
            check: DdlCheck::Rerun,
            change: SchemaChange::default(),
        }
    }
    pub fn object(mut self, o: DdlObject) -> Self {
        self.objects.push(o);
        self
    }
    pub fn check(mut self, c: DdlCheck) -> Self {
        self.check = c;
        self
    }
    pub fn change(mut self, c: SchemaChange) -> Self {
        self.change = c;
        self
    }
}

/// What [`dispatch`] did.
pub(crate) enum Dispatched {
    /// No scheduler leader: the caller applies the statement itself.
    Direct,
    /// Every set applied it and topo records it (routing re-read): answer this OK.
    Done(OkInfo),
    /// The task failed (or the wait ended): the error was sent.
    Refused,
}

/// [`dispatch`], answering the client: `Some(answered)` when the task path ran,
/// None when the caller applies the statement itself.
pub(crate) async fn run(
    s: &mut SchemaSession<'_>,
    sql: &str,
    spec: Spec,
    out: &mut Responder<'_>,
) -> Result<Option<bool>, ProxyError> {
    Ok(match dispatch(s, sql, spec, out).await? {
        Dispatched::Direct => None,
        Dispatched::Refused => Some(false),
        Dispatched::Done(ok) => {
            out.ok(&ok).await?;
            Some(true)
        }
    })
}

/// Records `spec` as a task and waits for it, when a scheduler leader is elected.
pub(crate) async fn dispatch(
    s: &mut SchemaSession<'_>,
    sql: &str,
    spec: Spec,
    out: &mut Responder<'_>,
) -> Result<Dispatched, ProxyError> {
    let cfg = s.shared.cfg.ddl.clone();
    if !cfg.scheduler || spec.steps.is_empty() {
        return Ok(Dispatched::Direct);
    }
    let Some(t) = s.shared.topo.get().cloned() else {
        return Ok(Dispatched::Direct);
    };
    let leader = tokio::time::timeout(
        LEADER_LOOKUP,
        topo::election::leader(&t, SCHEDULER_ELECTION),
    );
    match leader.await {
        Ok(Ok(Some(_))) => {}
        // No leader, or etcd does not answer (the direct path reports that).
        _ => return Ok(Dispatched::Direct),
    }
    let steps = spec
        .steps
        .iter()
        .map(|(set, text)| DdlStep::new(set, text))
        .collect();
    let mut task = DdlTask::new(sql, spec.db, steps, now_ms());
    task.objects = spec.objects;
    task.check = spec.check;
    task.change = spec.change;
    task.gateway = s.shared.gateway_id.clone();
    task.session = {
        let snap = s.shared.routing.get();
        s.conns(&snap).init.to_vec()
    };
    let id = t
        .submit_ddl(&mut task)
        .await
        .map_err(|e| ProxyError::from_topo("recording the DDL task", e))?;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(cfg.wait_ms);
    let task = loop {
        // etcd not answering for a while is waited out like a running task.
        let why = match t.get_ddl(id).await {
            Ok(Some(cur)) if cur.value.state.is_finished() => break cur.value,
            Ok(Some(cur)) => still_running(&cur.value),
            Ok(None) => {
                return Err(ProxyError::DdlTask(format!(
                    "DDL task {id} disappeared from etcd"
                )))
            }
            Err(e) => format!(
                "DDL task {id}: etcd does not answer ({e}); the scheduler goes on with it \
                 (`setwise ddl show {id}`)"
            ),
        };
        if tokio::time::Instant::now() >= deadline {
            out.error(&ProxyError::DdlTask(why)).await?;
            return Ok(Dispatched::Refused);
        }
        tokio::time::sleep(POLL).await;
    };
    if task.state == DdlState::Done {
        crate::ddl_apply::refresh(s, &t).await?;
        let ok = OkInfo {
            affected_rows: task.steps.first().map(|s| s.affected).unwrap_or(0),
            ..Default::default()
        };
        return Ok(Dispatched::Done(ok));
    }
    let e = match task.client_error() {
        (1105, _, message) => ProxyError::DdlTask(message),
        (code, state, message) => ProxyError::Backend {
            code,
            state,
            message,
        },
    };
    out.error(&e).await?;
    Ok(Dispatched::Refused)
}

/// The error of a client whose wait ended before its task did.
fn still_running(t: &DdlTask) -> String {
    let waiting: Vec<String> = t
        .steps
        .iter()
        .filter_map(|s| Some(format!("{} ({})", s.set, s.waiting.as_ref()?)))
        .collect();
    let why = if waiting.is_empty() {
        format!("it is {}", t.shown_state())
    } else {
        format!("it waits for {}", waiting.join(", "))
    };
    format!(
        "DDL task {} did not finish in time: {why}; it goes on and finishes when its sets \
         are back (`setwise ddl show {}`)",
        t.id, t.id
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
