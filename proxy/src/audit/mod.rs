//! The SQL audit log (`[audit]`, docs/observability.md): one JSON line per
//! statement (or a sampled share of them) with its time, gateway connection id,
//! user, source address, database, fingerprint and text (passwords masked,
//! literals too on request), sets touched, rows, latency and error code.
//!
//! A statement hands its facts to a bounded queue ([`Audit::record`]: one copy
//! into a shared buffer, [`queue`]); a thread of its own takes the queued
//! records a batch at a time, masks, formats and writes them to a rotating file
//! ([`writer`]). A full queue or a failing file never slows a client: the
//! record is dropped and counted (`setwise_proxy_audit_dropped_total{reason}`).

pub mod mask;
mod queue;
mod writer;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use metrics::Counter;

pub use crate::config::AuditConfig;

/// Who ran a statement (the session's side; metrics label by its user and
/// database too).
pub struct Who<'a> {
    pub conn_id: u32,
    pub user: Option<&'a str>,
    pub peer: Option<SocketAddr>,
    pub db: Option<&'a str>,
}

/// A statement's facts as the session knows them when its answer is written.
pub struct Facts<'a> {
    pub who: &'a Who<'a>,
    pub text: &'a str,
    /// [`crate::set_bits`] mask.
    pub sets: u64,
    pub rows: u64,
    pub latency_us: u64,
    /// MySQL error code sent; 0: none.
    pub error: u16,
    /// The statement's digest key (0: none): the writer keeps the fingerprint
    /// of each key it met, so a statement seen before is not lexed again.
    pub digest_key: u64,
}

pub struct Audit {
    queue: Arc<queue::Queue>,
    sample: f64,
    max_text: usize,
    queue_full: Counter,
}

static AUDIT: OnceLock<Audit> = OnceLock::new();

/// Starts the writer when `[audit] enabled` (once, at start).
pub fn start(cfg: &AuditConfig) -> anyhow::Result<()> {
    if !cfg.enabled || AUDIT.get().is_some() {
        return Ok(());
    }
    if !(0.0..=1.0).contains(&cfg.sample) {
        anyhow::bail!(
            "[audit] sample must be between 0.0 and 1.0, not {}",
            cfg.sample
        );
    }
    let queue = Arc::new(queue::Queue::new(cfg.queue));
    writer::spawn(cfg.clone(), queue.clone())?;
    let _ = AUDIT.set(Audit {
        queue,
        sample: cfg.sample,
        max_text: cfg.max_text.max(64),
        queue_full: metrics::counter!(crate::metrics::AUDIT_DROPPED, "reason" => "queue_full"),
    });
    Ok(())
}

/// The audit log, when on.
pub fn active() -> Option<&'static Audit> {
    AUDIT.get()
}

impl Audit {
    /// Queues a record of the statement (or drops and counts it when the queue
    /// is full); never waits.
    pub fn record(&self, f: Facts<'_>) {
        if self.sample < 1.0 && rand::random::<f64>() >= self.sample {
            return;
        }
        let mut cut = f.text.len().min(self.max_text);
        while !f.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let rec = queue::Fields {
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            conn: f.who.conn_id,
            user: f.who.user.unwrap_or(""),
            source: f.who.peer,
            db: f.who.db,
            text: &f.text[..cut],
            truncated: cut < f.text.len(),
            sets: f.sets,
            rows: f.rows,
            latency_us: f.latency_us,
            error: f.error,
            digest_key: f.digest_key,
        };
        if !self.queue.push(&rec) {
            self.queue_full.increment(1);
        }
    }
}
