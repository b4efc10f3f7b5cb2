//! What each statement leaves behind once its outcome is known: metrics with
//! its kind, database, user and outcome, its query digest ([`crate::digest`]),
//! and an audit record ([`crate::audit`]); plus the other gateway metrics that
//! need a handle kept (per-set backend latency, plan-cache hits, XA outcomes) and
//! the metrics port's address ([`port`]; the port is `crate::metrics_port`). The session calls [`Mark::start`] and
//! [`statement_ended`] around each statement: handles are resolved once per
//! session (or per thread), so a statement allocates nothing here unless its
//! fingerprint is new or an audit record is taken.

pub mod port;

/// Set names as bits moved down to `crate::set_bits` (digest and audit use
/// them); kept under this path for the session.
pub use crate::set_bits as sets;

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use metrics::{Counter, Histogram};

pub use crate::audit::Who;
use crate::front::Responder;
use crate::metrics as m;

/// What the session notes about the statement being run.
#[derive(Debug, Default, Clone, Copy)]
pub struct StmtNote {
    /// `select`, `insert`, ... (`statement_kind`); empty until known.
    pub kind: &'static str,
    /// The digest key ([`crate::digest::fingerprint::key`]); 0: none.
    pub digest_key: u64,
    /// The sets its plan ran on ([`sets`] mask).
    pub sets: u64,
}

/// Taken when a statement arrives.
pub struct Mark {
    started: Instant,
    rows: u64,
}

impl Mark {
    pub fn start(out: &mut Responder<'_>) -> Self {
        out.begin_statement();
        Self {
            started: Instant::now(),
            rows: out.rows_sent(),
        }
    }
}

/// Statement counters and latency histograms of one session, by (kind,
/// outcome), for its current user and database.
#[derive(Default)]
pub struct SessionMetrics {
    db: Option<String>,
    user: Option<String>,
    handles: Vec<(&'static str, bool, Counter, Histogram)>,
}

impl SessionMetrics {
    fn record(&mut self, kind: &'static str, ok: bool, who: &Who<'_>, secs: f64) {
        if self.db.as_deref() != who.db || self.user.as_deref() != who.user {
            self.handles.clear();
            self.db = who.db.map(str::to_string);
            self.user = who.user.map(str::to_string);
        }
        let i = match self.handles.iter().position(|h| h.0 == kind && h.1 == ok) {
            Some(i) => i,
            None => {
                let c = metrics::counter!(m::STATEMENTS,
                    "kind" => kind,
                    "db" => self.db.clone().unwrap_or_default(),
                    "user" => self.user.clone().unwrap_or_default(),
                    "outcome" => if ok { "ok" } else { "error" });
                let h = metrics::histogram!(m::STATEMENT_SECONDS, "kind" => kind);
                self.handles.push((kind, ok, c, h));
                self.handles.len() - 1
            }
        };
        let h = &self.handles[i];
        h.2.increment(1);
        h.3.record(secs);
    }
}

/// Books a statement whose answer was written: metrics, digest, audit.
pub fn statement_ended(
    metrics: &mut SessionMetrics,
    mark: Mark,
    note: &StmtNote,
    who: &Who<'_>,
    text: &str,
    out: &Responder<'_>,
) {
    let elapsed = mark.started.elapsed();
    let error = out.error_code;
    let kind = if note.kind.is_empty() {
        "other"
    } else {
        note.kind
    };
    metrics.record(kind, error == 0, who, elapsed.as_secs_f64());
    let rows = out.rows_sent().saturating_sub(mark.rows);
    let latency_us = elapsed.as_micros() as u64;
    let digests = crate::digest::global();
    if note.digest_key != 0 && digests.enabled() {
        let sample = crate::digest::Sample {
            key: note.digest_key,
            latency_us,
            rows,
            error: error != 0,
            sets: note.sets,
            now: unix_secs(),
        };
        let kept = digests.note(&sample, || {
            let fp = crate::digest::fingerprint::of_text(text);
            (who.db.unwrap_or("").to_string(), fp)
        });
        if !kept {
            static OVERFLOW: OnceLock<Counter> = OnceLock::new();
            OVERFLOW
                .get_or_init(|| metrics::counter!(m::DIGESTS_OVERFLOW))
                .increment(1);
        }
    }
    if let Some(audit) = crate::audit::active() {
        audit.record(crate::audit::Facts {
            who,
            text,
            sets: note.sets,
            rows,
            latency_us,
            error,
            digest_key: note.digest_key,
        });
    }
}

/// Unix time, seconds.
pub fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

thread_local! {
    /// Per-set backend latency and error handles of this thread.
    static BACKEND: RefCell<Vec<(String, Histogram, Counter)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the latency histogram and error counter of `set` (kept per thread).
fn with_backend(set: &str, f: impl FnOnce(&Histogram, &Counter)) {
    BACKEND.with(|b| {
        let mut b = b.borrow_mut();
        let i = match b.iter().position(|e| e.0 == set) {
            Some(i) => i,
            None => {
                let name = set.to_string();
                let h = metrics::histogram!(m::BACKEND_SECONDS, "set" => name.clone());
                let c = metrics::counter!(m::BACKEND_ERRORS, "set" => name.clone());
                b.push((name, h, c));
                b.len() - 1
            }
        };
        f(&b[i].1, &b[i].2);
    });
}

/// A backend operation on `set` ended after `elapsed`; `failed`: it was given up
/// or its set could not be reached.
pub fn backend(set: &str, elapsed: Duration, failed: bool) {
    with_backend(set, |h, c| {
        h.record(elapsed.as_secs_f64());
        if failed {
            c.increment(1);
        }
    });
}

/// `set` could not be reached (a connection failed).
pub fn backend_unreachable(set: &str) {
    backend(set, Duration::ZERO, true);
}

/// Work on several sets at once was given up because of `set` (routing moved
/// under it, or it stopped answering): its error counter moves (the latency of
/// each set's part is booked by the part itself, [`backend_part`]).
pub fn backend_given_up(set: &str) {
    with_backend(set, |_, c| c.increment(1));
}

/// Whether a backend error is the set's failure rather than the statement's:
/// a broken connection or driver error, not an SQL error MariaDB answered.
pub fn is_backend_failure(e: &mysql_async::Error) -> bool {
    !matches!(e, mysql_async::Error::Server(_))
}

/// Runs `fut`, one part of a statement or transaction on `set` (a scatter's
/// stream, an XA phase), and books its latency for the set; a failure
/// ([`is_backend_failure`]) moves the set's error counter.
pub async fn backend_part<T>(
    set: &str,
    fut: impl std::future::Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, mysql_async::Error> {
    let started = Instant::now();
    let r = fut.await;
    let failed = r.as_ref().err().is_some_and(is_backend_failure);
    backend(set, started.elapsed(), failed);
    r
}

/// A plan looked up in the plan cache.
pub fn plan_cache(hit: bool) {
    static H: OnceLock<(Counter, Counter)> = OnceLock::new();
    let (h, miss) = H.get_or_init(|| {
        (
            metrics::counter!(m::PLAN_CACHE, "result" => "hit"),
            metrics::counter!(m::PLAN_CACHE, "result" => "miss"),
        )
    });
    if hit { h } else { miss }.increment(1);
}

/// A transaction's commit ended: over several sets (two phases) or not, and
/// whether it committed.
pub fn xa_outcome(two_phase: bool, committed: bool) {
    let kind = if two_phase { "two_phase" } else { "one_phase" };
    let outcome = if committed { "committed" } else { "failed" };
    metrics::counter!(m::COMMITS, "kind" => kind, "outcome" => outcome).increment(1);
}

/// Backend connections lent to statements right now (every worker).
pub static BORROWED: AtomicI64 = AtomicI64::new(0);

/// A backend connection was lent (`+1`) or given back (`-1`).
pub fn borrowed(delta: i64) {
    BORROWED.fetch_add(delta, Ordering::Relaxed);
}
