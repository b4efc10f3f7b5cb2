//! The life of a task record (`tasks/<set>/<node>`): the agent watches the key (etcd
//! watch, plus a read at start and a periodic re-read in case the watch is broken),
//! and runs a task found `pending` — or `running`, left by an agent process that died
//! during it. It moves the record to `running`, then to `done`/`failed` with `gtid`
//! (`@@gtid_binlog_pos` afterwards), `updated_ms` and `error`, each by
//! compare-and-swap on the revision it read: a record replaced by another task
//! meanwhile is never overwritten (the result is dropped, and a task replaced while it
//! runs is abandoned). etcd being down only delays things: nothing here panics or
//! spins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::WatchStream;
use tokio::sync::watch;
use topo::{TaskRecord, TaskState, Topo, TopoError, Versioned};
use tracing::{info, warn};

use super::TaskContext;

/// Re-read of the task record when no watch event came (also the watch's retry pace).
pub const REREAD: Duration = Duration::from_secs(2);
/// How often a running task checks that its record still names it.
const REPLACED_CHECK: Duration = Duration::from_millis(200);
/// How long a finished task's result is retried while etcd does not answer.
const FINISH_RETRY: Duration = Duration::from_secs(600);

/// Watches and runs this node's tasks until `shutdown` turns true.
pub struct TaskWatcher {
    topo: Topo,
    set: String,
    node: String,
    ctx: TaskContext,
    /// True while a task runs (sync-mode reconciliation stays away meanwhile).
    busy: Arc<AtomicBool>,
    etcd_timeout: Duration,
}

impl TaskWatcher {
    pub fn new(
        topo: Topo,
        set: &str,
        node: &str,
        ctx: TaskContext,
        busy: Arc<AtomicBool>,
        etcd_timeout: Duration,
    ) -> Self {
        Self {
            topo,
            set: set.to_string(),
            node: node.to_string(),
            ctx,
            busy,
            etcd_timeout,
        }
    }

    fn key(&self) -> String {
        self.topo.keys().task(&self.set, &self.node)
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut stream: Option<WatchStream> = None;
        let mut etcd_failing = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if stream.is_none() {
                stream = self.open_watch().await;
            }
            match self.read().await {
                Ok(Some(rec)) if runnable(&rec.value) => {
                    if std::mem::take(&mut etcd_failing) {
                        info!("the task record is readable again");
                    }
                    tokio::select! {
                        _ = self.execute(rec) => {}
                        _ = stopped(&mut shutdown) => break,
                    }
                    // Read again at once: the next task may be waiting.
                    continue;
                }
                Ok(_) => {
                    if std::mem::take(&mut etcd_failing) {
                        info!("the task record is readable again");
                    }
                }
                Err(e) => {
                    if !etcd_failing {
                        warn!("cannot read the task record: {e}");
                        etcd_failing = true;
                    }
                }
            }
            tokio::select! {
                _ = stopped(&mut shutdown) => break,
                _ = tokio::time::sleep(REREAD) => {}
                alive = next_event(&mut stream) => {
                    if !alive {
                        stream = None;
                        // Do not reopen a failing watch in a tight loop.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }

    async fn open_watch(&self) -> Option<WatchStream> {
        let open = async {
            let client = self.topo.blocking_client().await?;
            Ok::<_, TopoError>(client.watch_client().watch(self.key(), None).await?)
        };
        match tokio::time::timeout(self.etcd_timeout, open).await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::debug!("cannot watch the task record: {e}");
                None
            }
            Err(_) => None,
        }
    }

    async fn read(&self) -> Result<Option<Versioned<TaskRecord>>, String> {
        match tokio::time::timeout(self.etcd_timeout, self.topo.get_task(&self.set, &self.node))
            .await
        {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("etcd did not answer in time".into()),
        }
    }

    async fn cas(&self, rec: &TaskRecord, rev: i64) -> Result<i64, TopoError> {
        match tokio::time::timeout(self.etcd_timeout, self.topo.cas_task(rec, rev)).await {
            Ok(r) => r,
            Err(_) => Err(TopoError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "etcd did not answer in time",
            ))),
        }
    }

    /// Runs one task found runnable at `rec`.
    async fn execute(&self, rec: Versioned<TaskRecord>) {
        if rec.value.expired(now_ms()) {
            // Given (or left running) while this agent could not run it (dead,
            // stopped, or its node frozen): whoever gave it has moved on.
            let mut expired = rec.value.clone();
            expired.state = TaskState::Failed;
            expired.error = Some(format!(
                "expired before it could start (given at {} ms, to start by {} ms)",
                expired.created_ms,
                expired.expires_ms.unwrap_or(0)
            ));
            warn!(task = %expired.id, "task expired before it could start; not run");
            self.finish(expired, rec.mod_revision).await;
            return;
        }
        let mut running = rec.value.clone();
        let resumed = running.state == TaskState::Running;
        running.state = TaskState::Running;
        running.error = None;
        running.updated_ms = now_ms();
        let rev = match self.cas(&running, rec.mod_revision).await {
            Ok(rev) => rev,
            Err(TopoError::CasConflict { .. }) => return, // changed meanwhile: read again
            Err(e) => {
                warn!(task = %running.id, "cannot mark the task running: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
        };
        info!(task = %running.id, kind = running.task.name(), resumed, detail = ?running.task, "task started");
        let started = std::time::Instant::now();
        self.busy.store(true, Ordering::SeqCst);
        let outcome = tokio::select! {
            r = super::run(&self.ctx, &running.task) => Some(r),
            _ = self.replaced(&running.id) => None,
        };
        self.busy.store(false, Ordering::SeqCst);
        let Some(result) = outcome else {
            warn!(task = %running.id, "task replaced or removed while running; abandoned");
            return;
        };
        let gtid = super::binlog_pos(&self.ctx).await;
        let mut done = running;
        done.gtid = gtid;
        match result {
            Ok(outcome) => {
                done.state = TaskState::Done;
                done.error = None;
                if let Some(o) = &outcome {
                    info!(task = %done.id, "{o}");
                }
                done.outcome = outcome;
                info!(task = %done.id, ms = started.elapsed().as_millis() as u64, gtid = ?done.gtid, "task done");
            }
            Err(e) => {
                done.state = TaskState::Failed;
                warn!(task = %done.id, ms = started.elapsed().as_millis() as u64, "task failed: {e}");
                done.error = Some(e);
            }
        }
        self.finish(done, rev).await;
    }

    /// Resolves when the record no longer names task `id` (checked every 200 ms;
    /// an unreadable record counts as unchanged).
    async fn replaced(&self, id: &str) {
        loop {
            tokio::time::sleep(REPLACED_CHECK).await;
            match self.read().await {
                Ok(None) => return,
                Ok(Some(r)) if r.value.id != id => return,
                _ => {}
            }
        }
    }

    /// Writes the result, by CAS on the record's revision; follows changes of the
    /// same task's record, drops the result when the record names another task.
    async fn finish(&self, mut done: TaskRecord, mut rev: i64) {
        let started = std::time::Instant::now();
        let mut logged = false;
        loop {
            done.updated_ms = now_ms();
            match self.cas(&done, rev).await {
                Ok(_) => return,
                Err(TopoError::CasConflict { .. }) => match self.read().await {
                    Ok(Some(cur)) if cur.value.id == done.id => rev = cur.mod_revision,
                    Ok(_) => {
                        info!(task = %done.id, "task record replaced meanwhile; result dropped");
                        return;
                    }
                    Err(_) => {}
                },
                Err(e) => {
                    if !logged {
                        warn!(task = %done.id, "cannot record the task's result yet: {e}");
                        logged = true;
                    }
                }
            }
            if started.elapsed() > FINISH_RETRY {
                warn!(task = %done.id, "giving up recording the task's result");
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Resolves once `shutdown` is true (or its sender is gone).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Whether the agent should (re)run the task of `rec`.
pub fn runnable(rec: &TaskRecord) -> bool {
    matches!(rec.state, TaskState::Pending | TaskState::Running)
}

/// Waits for the next watch message; false when the watch ended or failed (pending
/// forever without a watch, so the caller's other branches decide).
async fn next_event(stream: &mut Option<WatchStream>) -> bool {
    match stream {
        Some(s) => match s.message().await {
            Ok(Some(resp)) => !resp.canceled(),
            Ok(None) | Err(_) => false,
        },
        None => std::future::pending().await,
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::Task;

    #[test]
    fn what_is_run() {
        let mut r = TaskRecord::new("s", "n", Task::ReadOnly, "sched", 1);
        assert!(runnable(&r));
        r.state = TaskState::Running;
        assert!(runnable(&r));
        r.state = TaskState::Done;
        assert!(!runnable(&r));
        r.state = TaskState::Failed;
        assert!(!runnable(&r));
    }
}
