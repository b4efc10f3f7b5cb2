//! Node tasks given by the scheduler (`tasks/<set>/<node>`, see docs/failover.md):
//! what each does to the local MariaDB (`read_only`: [`crate::fence`], [`promote`], [`repoint`],
//! [`rebuild`]) and how the record moves `pending` → `running` → `done`/`failed`
//! ([`watch`]). Every task is idempotent (a task left `running` by an agent that died
//! is run again) and bounded in time.

pub mod physical;
pub mod promote;
pub mod rebuild;
pub mod repoint;
pub mod watch;

use std::time::Duration;

use tokio::time::Instant;
use topo::Task;

use crate::config::{AgentConfig, ReplicationConfig, ServerConfig};
use crate::db::ProbeTarget;
use crate::db::{self, SqlResult};

/// What tasks need besides the task itself.
#[derive(Clone)]
pub struct TaskContext {
    /// The local MariaDB (and the account, also used on a rebuild's source).
    pub local: ProbeTarget,
    pub replication: ReplicationConfig,
    /// Bound of `read_only`, `promote`, `repoint`.
    pub task_timeout: Duration,
    /// Bound of `rebuild`.
    pub rebuild_timeout: Duration,
    /// How to restart the local mariadbd and the backup programs (physical rebuild).
    pub server: ServerConfig,
    /// The node's set and etcd (a rebuild looks up where its source's agent serves
    /// backups); None in unit tests.
    pub set: String,
    pub topo: Option<topo::Topo>,
}

impl TaskContext {
    pub fn new(cfg: &AgentConfig) -> anyhow::Result<Self> {
        Ok(Self {
            local: ProbeTarget::new(&cfg.node, &cfg.mysql)?,
            replication: cfg.replication.clone(),
            task_timeout: Duration::from_millis(cfg.task_timeout_ms),
            rebuild_timeout: Duration::from_millis(cfg.rebuild_timeout_ms),
            server: cfg.server.clone(),
            set: cfg.set.clone(),
            topo: None,
        })
    }

    /// How long `task` may take.
    pub fn bound(&self, task: &Task) -> Duration {
        match task {
            Task::Rebuild { .. } => self.rebuild_timeout,
            _ => self.task_timeout,
        }
    }

    /// The same account on another server (a rebuild's source).
    pub fn remote(&self, host: &str, port: u16) -> ProbeTarget {
        ProbeTarget {
            host: host.to_string(),
            port,
            ..self.local.clone()
        }
    }
}

/// Runs `task` on the local MariaDB; within the task's bound (a step that would
/// run past it fails with a message naming the step). Ok: the outcome line, if the
/// task has one (a rebuild: how it was done).
pub async fn run(ctx: &TaskContext, task: &Task) -> SqlResult<Option<String>> {
    let bound = ctx.bound(task);
    // Inner waits stop a little before the bound so they report what they waited
    // for; the outer timeout catches a statement that hangs.
    let deadline = Instant::now() + bound.saturating_sub(Duration::from_secs(2)).max(bound / 2);
    let work = async {
        let mut conn = match db::connect(&ctx.local).await {
            Ok(c) => c,
            // A rebuild left between stop and start (the agent died): the agent owns
            // its mariadbd, so it starts it and goes on.
            Err(e)
                if matches!(task, Task::Rebuild { .. }) && !ctx.server.start.trim().is_empty() =>
            {
                tracing::warn!("rebuild: the local MariaDB does not answer ({e}); starting it");
                crate::mysqld::start(&ctx.server.start, &ctx.local, deadline)
                    .await
                    .map_err(|e2| format!("{e}; starting it: {e2}"))?
            }
            Err(e) => return Err(e),
        };
        let r = match task {
            Task::ReadOnly => crate::fence::fence(&mut conn, &ctx.local, false, deadline)
                .await
                .map(|_| None),
            Task::Promote {
                wait_gtid,
                sync,
                semi_timeout_ms,
            } => promote::promote(
                &mut conn,
                wait_gtid.as_deref(),
                *sync,
                *semi_timeout_ms,
                deadline,
            )
            .await
            .map(|_| None),
            Task::Repoint {
                host,
                port,
                from_binlog,
            } => repoint::repoint(&mut conn, ctx, host, *port, *from_binlog, deadline)
                .await
                .map(|_| None),
            Task::Rebuild { host, port } => rebuild::rebuild(&mut conn, ctx, host, *port, deadline)
                .await
                .map(Some),
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), conn.disconnect()).await;
        r
    };
    match tokio::time::timeout(bound, work).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{} did not finish within {} ms",
            task.name(),
            bound.as_millis()
        )),
    }
}

/// `@@gtid_binlog_pos` of the local MariaDB (a task's result), bounded.
pub async fn binlog_pos(ctx: &TaskContext) -> Option<String> {
    let read = async {
        let mut conn = db::connect(&ctx.local).await.ok()?;
        let pos = db::global(&mut conn, "gtid_binlog_pos").await.ok();
        let _ = tokio::time::timeout(Duration::from_millis(500), conn.disconnect()).await;
        pos
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}
