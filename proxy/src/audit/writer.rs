//! The audit log's writer thread: masks and formats each queued record as one
//! JSON line, writes it to the file (flushed whenever the queue is empty), and
//! rotates the file past `rotate_bytes`. Writes are batched: what is buffered
//! reaches the file once the queue has stayed empty for [`FLUSH_AFTER`] (or the
//! buffer fills). A file that cannot be opened or written costs the records
//! meanwhile (counted), and is tried again a second later.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::warn;

use super::{AuditConfig, Record};
use crate::metrics as m;

/// How long the queue stays empty before buffered lines are written out.
const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Test hook: the writer sleeps this long (ms) per record (a slow disk).
const DELAY_ENV: &str = "SETWISE_AUDIT_WRITE_DELAY_MS";

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    conn: u32,
    user: &'a str,
    source: Option<String>,
    db: Option<&'a str>,
    fingerprint: String,
    text: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
    sets: Vec<String>,
    rows: u64,
    latency_us: u64,
    error: u16,
}

pub(super) fn spawn(cfg: AuditConfig, rx: Receiver<Record>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("setwise-audit".into())
        .spawn(move || Writer::new(cfg).run(rx))
        .map_err(|e| anyhow::anyhow!("cannot start the audit writer: {e}"))?;
    Ok(())
}

struct Writer {
    cfg: AuditConfig,
    file: Option<BufWriter<File>>,
    size: u64,
    retry_at: Instant,
    delay: Option<Duration>,
    failing: bool,
}

impl Writer {
    fn new(cfg: AuditConfig) -> Self {
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis);
        Self {
            cfg,
            file: None,
            size: 0,
            retry_at: Instant::now(),
            delay,
            failing: false,
        }
    }

    fn run(mut self, rx: Receiver<Record>) {
        let written = metrics::counter!(m::AUDIT_RECORDS);
        let failed = metrics::counter!(m::AUDIT_DROPPED, "reason" => "write_error");
        let mut pending = false;
        loop {
            let rec = if pending {
                match rx.recv_timeout(FLUSH_AFTER) {
                    Ok(r) => r,
                    Err(RecvTimeoutError::Timeout) => {
                        self.flush();
                        pending = false;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            if let Some(d) = self.delay {
                std::thread::sleep(d);
            }
            match self.write(&rec) {
                Ok(()) => {
                    written.increment(1);
                    pending = true;
                }
                Err(e) => {
                    failed.increment(1);
                    if !self.failing {
                        warn!(path = %self.cfg.path.display(), "audit log: {e}; records are dropped until it works");
                        self.failing = true;
                    }
                }
            }
        }
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(f) = self.file.as_mut() {
            if f.flush().is_err() {
                self.file = None;
            }
        }
    }

    fn write(&mut self, rec: &Record) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&line(rec, self.cfg.mask_literals))?;
        line.push(b'\n');
        if self.file.is_some() && self.size + line.len() as u64 > self.cfg.rotate_bytes {
            self.flush();
            self.file = None;
            rotate(&self.cfg.path, self.cfg.keep);
        }
        if self.file.is_none() {
            if Instant::now() < self.retry_at {
                return Err(std::io::Error::other("the file could not be opened"));
            }
            match OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.cfg.path)
            {
                Ok(f) => {
                    self.size = f.metadata().map_or(0, |m| m.len());
                    self.file = Some(BufWriter::with_capacity(64 * 1024, f));
                    if self.failing {
                        tracing::info!("audit log writable again");
                        self.failing = false;
                    }
                }
                Err(e) => {
                    self.retry_at = Instant::now() + Duration::from_secs(1);
                    return Err(e);
                }
            }
        }
        let f = self.file.as_mut().expect("opened");
        if let Err(e) = f.write_all(&line) {
            self.file = None;
            self.retry_at = Instant::now() + Duration::from_secs(1);
            return Err(e);
        }
        self.size += line.len() as u64;
        Ok(())
    }
}

fn line(rec: &Record, mask_literals: bool) -> Line<'_> {
    // One lexing for the fingerprint and the masked text.
    let (fingerprint, text) = match crate::sql::lexer::tokenize(&rec.text) {
        Ok(t) => (
            crate::digest::fingerprint::text(&rec.text, &t),
            Some(super::mask::text_of(&rec.text, &t, mask_literals)),
        ),
        Err(_) => (
            crate::digest::fingerprint::of_text(&rec.text),
            super::mask::unlexable(&rec.text),
        ),
    };
    Line {
        time: rfc3339_ms(rec.at_ms),
        conn: rec.conn,
        user: &rec.user,
        source: rec.source.map(|s| s.to_string()),
        db: rec.db.as_deref(),
        fingerprint,
        text,
        truncated: rec.truncated,
        sets: crate::observe::sets::names(rec.sets),
        rows: rec.rows,
        latency_us: rec.latency_us,
        error: rec.error,
    }
}

/// `<path>` → `<path>.1` → ... → `<path>.<keep>` (the oldest dropped).
fn rotate(path: &Path, keep: usize) {
    let numbered = |i: usize| -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{i}"));
        PathBuf::from(p)
    };
    if keep == 0 {
        let _ = std::fs::remove_file(path);
        return;
    }
    let _ = std::fs::remove_file(numbered(keep));
    for i in (1..keep).rev() {
        let _ = std::fs::rename(numbered(i), numbered(i + 1));
    }
    let _ = std::fs::rename(path, numbered(1));
}

/// `2026-12-07T01:02:03.456Z` for Unix time `ms`.
fn rfc3339_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (mo <= 2) as i64;
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_796_605_323_456), "2026-12-07T01:02:03.456Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn rotates_and_keeps() {
        let dir = tempfile_dir();
        let path = dir.join("audit.log");
        let cfg = AuditConfig {
            enabled: true,
            path: path.clone(),
            rotate_bytes: 300,
            keep: 2,
            ..Default::default()
        };
        let mut w = Writer::new(cfg);
        for i in 0..20u32 {
            let rec = Record {
                at_ms: 0,
                conn: i,
                user: "u".into(),
                source: None,
                db: None,
                text: format!("SELECT {i}"),
                truncated: false,
                sets: 0,
                rows: 0,
                latency_us: 1,
                error: 0,
            };
            w.write(&rec).unwrap();
        }
        w.flush();
        assert!(path.exists());
        assert!(dir.join("audit.log.1").exists());
        assert!(dir.join("audit.log.2").exists());
        assert!(!dir.join("audit.log.3").exists());
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(last.contains("\"text\":\"SELECT 19\""), "{last}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("setwise-audit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
