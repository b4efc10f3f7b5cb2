//! A move's writes on a set the scheduler has marked as refusing writes
//! (`writes_blocked`: a strong-sync set whose primary has no replica left to
//! acknowledge a commit). Such a write would wait for an acknowledgement nobody
//! sends; [`write_on`] gives it up when the mark appears, with
//! [`MoveError::Blocked`], and the driver waits for the set to
//! take writes again — bounded by `[moves] blocked_wait_ms` before the flip.
//! A write given up this way may still commit later on that primary: every
//! write of a move is idempotent (REPLACE by key, delete by key), and the
//! phase resumes from its recorded cursor or binlog position.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use topo::Topo;

use super::driver::MoveError;
use super::sql;

/// How often a write in flight looks at the set's record.
const POLL: Duration = Duration::from_millis(300);

/// Why `set` refuses writes now (None: it takes them, or its record cannot be
/// read — then the write itself tells).
pub async fn refusing(topo: &Topo, set: &str) -> Option<String> {
    topo.get_set(set).await.ok().flatten()?.writes_blocked
}

/// Runs `f`, a write on `set` (bounded like every statement of a move); gives
/// it up once the set's record says it refuses writes (looked at every
/// [`POLL`] while the write runs).
pub async fn write_on<T>(
    topo: &Topo,
    set: &str,
    what: &str,
    f: impl Future<Output = Result<T>>,
) -> Result<T> {
    let blocked = |why: String| {
        anyhow::Error::new(MoveError::Blocked {
            set: set.to_string(),
            why,
        })
        .context(what.to_string())
    };
    // No read of the record before the write: most writes end well within
    // one POLL, and one that hangs is given up by the watch (one etcd read per
    // chunk or catch-up step was the price otherwise).
    let watch = async {
        loop {
            tokio::time::sleep(POLL).await;
            if let Some(why) = refusing(topo, set).await {
                return why;
            }
        }
    };
    tokio::select! {
        r = sql::bounded(what, f) => r,
        why = watch => Err(blocked(why)),
    }
}
