//! Group commit of two-phase commit decisions to etcd.
//!
//! A transaction that wrote to several sets records its decision
//! (`topo::XaDecision`, key `xa/<gtrid>`) before its second phase. One etcd write
//! is one fsync; instead of one per transaction, the decisions of the
//! transactions committing at the same time go in one etcd transaction: the first
//! committer to find the log idle writes every decision waiting (its own and
//! those queued meanwhile), the others wait for its answer — while one write is in
//! flight the next batch gathers. The records are the same as one by one (created
//! only if absent), so recovery (`crate::xa`) finds every decision as before; if
//! any of a batch was decided already (a recovery aborted it first), the batch
//! writes nothing and each is decided on its own (`topo::Topo::decide_xa`).
//!
//! Finished decisions (every branch committed) are deleted in the same etcd
//! transactions, not in a write of their own; [`flush_done`] deletes those left
//! when no commit follows (called by recovery's periodic round).
//!
//! Test hook: `SETWISE_XA_PAUSE=deciding=MS,prepared=MS,decided=MS` makes the
//! writer of a batch sleep before it takes the decisions waiting (so that
//! concurrent commits gather), each commit sleep after its first phase (before
//! its decision: etcd's, or the coordinator set's, `crate::xa_sets`) and after
//! its decision is recorded (so that a test can kill the gateway between the
//! two phases). Unset in production: no effect.

use std::sync::{Mutex, OnceLock};

use tokio::sync::oneshot;

/// At most this many decisions, and as many deletions, in one etcd transaction
/// (etcd's `--max-txn-ops` defaults to 128).
const BATCH: usize = 50;

type Waiter = oneshot::Sender<Result<topo::XaDecision, String>>;

/// The decisions waiting to be written and the finished ones waiting to be
/// deleted, and the lock held by the committer writing a batch.
#[derive(Default)]
pub struct XaLog {
    pending: Mutex<Vec<(topo::XaDecision, Waiter)>>,
    done: Mutex<Vec<String>>,
    writer: tokio::sync::Mutex<()>,
}

/// The gateway's log (one per process: one gateway, one etcd cluster).
pub fn log() -> &'static XaLog {
    static LOG: OnceLock<XaLog> = OnceLock::new();
    LOG.get_or_init(XaLog::default)
}

impl XaLog {
    /// Records `d` unless a decision for its gtrid exists; returns the decision in
    /// force (ours, or the one recorded first), as `topo::Topo::decide_xa` does,
    /// once it is durable in etcd.
    pub async fn decide(
        &self,
        topo: &topo::Topo,
        d: topo::XaDecision,
    ) -> Result<topo::XaDecision, String> {
        let (tx, mut rx) = oneshot::channel();
        self.pending.lock().expect("xa log").push((d, tx));
        loop {
            tokio::select! {
                biased;
                r = &mut rx => return r.unwrap_or_else(|_| Err("the commit log was dropped".into())),
                guard = self.writer.lock() => {
                    // Ours may have been written by the previous writer: then
                    // this batch holds others' (or nothing) and ours is answered.
                    self.write_batch(topo).await;
                    drop(guard);
                }
            }
        }
    }

    /// A decision whose branches all finished: deleted with the next batch.
    pub fn finished(&self, gtrid: String) {
        self.done.lock().expect("xa log").push(gtrid);
    }

    /// Writes the decisions waiting (at most [`BATCH`]) and answers their
    /// committers.
    async fn write_batch(&self, topo: &topo::Topo) {
        pause("deciding").await;
        let batch: Vec<(topo::XaDecision, Waiter)> = {
            let mut p = self.pending.lock().expect("xa log");
            let n = p.len().min(BATCH);
            p.drain(..n).collect()
        };
        if batch.is_empty() {
            return;
        }
        let done = self.take_done();
        let ds: Vec<topo::XaDecision> = batch.iter().map(|(d, _)| d.clone()).collect();
        metrics::histogram!(crate::metrics::XA_DECISION_BATCH).record(ds.len() as f64);
        match topo.decide_xa_many(&ds, &done).await {
            Ok(true) => {
                for (d, w) in batch {
                    let _ = w.send(Ok(d));
                }
            }
            r => {
                if r.is_err() {
                    // Not deleted: tried again with a later batch.
                    self.done.lock().expect("xa log").extend(done);
                } else if !done.is_empty() {
                    let _ = topo.delete_xas(&done).await;
                }
                // One was decided already, or etcd failed: each on its own (its
                // own answer, its own error).
                for (d, w) in batch {
                    let r = topo.decide_xa(&d).await.map_err(|e| e.to_string());
                    let _ = w.send(r);
                }
            }
        }
    }

    fn take_done(&self) -> Vec<String> {
        let mut d = self.done.lock().expect("xa log");
        let n = d.len().min(BATCH);
        d.drain(..n).collect()
    }
}

/// Deletes the finished decisions no commit took along (recovery's round).
pub async fn flush_done(topo: &topo::Topo) {
    let log = log();
    let _guard = log.writer.lock().await;
    loop {
        let done = log.take_done();
        if done.is_empty() {
            return;
        }
        if topo.delete_xas(&done).await.is_err() {
            log.done.lock().expect("xa log").extend(done);
            return;
        }
    }
}

/// The environment variable of the test hook (module doc).
pub const PAUSE_ENV: &str = "SETWISE_XA_PAUSE";

/// The pause asked for at `point` in `spec` (`point=ms` pairs, comma separated).
fn pause_in(spec: &str, point: &str) -> Option<std::time::Duration> {
    spec.split(',').find_map(|pair| {
        let (name, ms) = pair.split_once('=')?;
        (name.trim() == point)
            .then(|| ms.trim().parse().ok().map(std::time::Duration::from_millis))
            .flatten()
    })
}

/// Sleeps when [`PAUSE_ENV`] asks for a pause at `point` (`deciding`, `decided`).
pub async fn pause(point: &str) {
    static SPEC: OnceLock<Option<String>> = OnceLock::new();
    let Some(spec) = SPEC.get_or_init(|| std::env::var(PAUSE_ENV).ok()) else {
        return;
    };
    if let Some(d) = pause_in(spec, point) {
        tracing::warn!(point, ms = d.as_millis() as u64, "{PAUSE_ENV}: pausing");
        tokio::time::sleep(d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_spec() {
        let s = "deciding=1500, decided = 60";
        assert_eq!(
            pause_in(s, "deciding"),
            Some(std::time::Duration::from_millis(1500))
        );
        assert_eq!(
            pause_in(s, "decided"),
            Some(std::time::Duration::from_millis(60))
        );
        assert_eq!(pause_in(s, "other"), None);
        assert_eq!(pause_in("decided=x", "decided"), None);
    }
}
