//! The audit log's writer thread: takes the queued records a batch at a time
//! ([`super::queue`]), masks and formats each as one JSON line, writes it to
//! the file and rotates the file past `rotate_bytes`. After a batch it lets the
//! next one gather for [`GATHER`], so a busy gateway wakes it a few hundred
//! times a second, not once per statement; what is buffered reaches the file
//! when the queue is found empty, at least every [`FLUSH_EVERY`] (or when the
//! buffer fills). Per record it allocates nothing once warm: the fingerprint of
//! a digest key met before is kept ([`FINGERPRINTS`] of them), a text that
//! cannot hold a password is not lexed unless literals are masked, and the
//! line is written straight into a reused buffer. A file that cannot be opened
//! or written costs the records meanwhile (counted), and is tried again a
//! second later.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

use super::queue::{Fields, Queue, Records};
use super::AuditConfig;
use crate::metrics as m;

/// How long the next batch gathers after one was written.
const GATHER: Duration = Duration::from_millis(2);
/// The longest buffered lines wait for the file while records keep coming.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long the writer sleeps on an empty queue before looking again.
const IDLE: Duration = Duration::from_secs(1);
/// Fingerprints kept by digest key (all dropped when full).
const FINGERPRINTS: usize = 4096;

/// Test hook: the writer sleeps this long (ms) per record (a slow disk).
const DELAY_ENV: &str = "SETWISE_AUDIT_WRITE_DELAY_MS";

pub(super) fn spawn(cfg: AuditConfig, queue: Arc<Queue>) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name("setwise-audit".into())
        .spawn(move || Writer::new(cfg).run(&queue))
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
    line: Vec<u8>,
    format: Format,
}

impl Writer {
    fn new(cfg: AuditConfig) -> Self {
        let delay = std::env::var(DELAY_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_millis);
        Self {
            format: Format::new(cfg.mask_literals),
            cfg,
            file: None,
            size: 0,
            retry_at: Instant::now(),
            delay,
            failing: false,
            line: Vec::with_capacity(1024),
        }
    }

    fn run(mut self, queue: &Queue) {
        let written = metrics::counter!(m::AUDIT_RECORDS);
        let failed = metrics::counter!(m::AUDIT_DROPPED, "reason" => "write_error");
        let mut batch = Vec::new();
        let mut flushed = Instant::now();
        loop {
            if queue.take(&mut batch, Duration::ZERO) == 0 {
                // Nothing more for now: what is buffered goes to the file.
                self.flush();
                flushed = Instant::now();
                while queue.take(&mut batch, IDLE) == 0 {}
            }
            let (mut ok, mut lost) = (0, 0);
            for rec in Records::new(&batch) {
                if let Some(d) = self.delay {
                    std::thread::sleep(d);
                }
                match self.write(&rec) {
                    Ok(()) => ok += 1,
                    Err(e) => {
                        lost += 1;
                        if !self.failing {
                            warn!(path = %self.cfg.path.display(), "audit log: {e}; records are dropped until it works");
                            self.failing = true;
                        }
                    }
                }
            }
            written.increment(ok);
            failed.increment(lost);
            if flushed.elapsed() >= FLUSH_EVERY {
                self.flush();
                flushed = Instant::now();
            }
            std::thread::sleep(GATHER);
        }
    }

    fn flush(&mut self) {
        if let Some(f) = self.file.as_mut() {
            if f.flush().is_err() {
                self.file = None;
            }
        }
    }

    fn write(&mut self, rec: &Fields<'_>) -> std::io::Result<()> {
        self.line.clear();
        self.format.line(&mut self.line, rec);
        let len = self.line.len() as u64;
        if self.file.is_some() && self.size + len > self.cfg.rotate_bytes {
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
        if let Err(e) = f.write_all(&self.line) {
            self.file = None;
            self.retry_at = Instant::now() + Duration::from_secs(1);
            return Err(e);
        }
        self.size += len;
        Ok(())
    }
}

/// Formats records as JSON lines, with what it met before kept: the time's
/// second, the fingerprint of each digest key, the set names of each mask.
struct Format {
    mask_literals: bool,
    second: u64,
    second_text: String,
    fingerprints: HashMap<u64, Box<str>>,
    sets: HashMap<u64, Box<[u8]>>,
}

impl Format {
    fn new(mask_literals: bool) -> Self {
        Self {
            mask_literals,
            second: u64::MAX,
            second_text: String::new(),
            fingerprints: HashMap::new(),
            sets: HashMap::new(),
        }
    }

    /// `{"time":...,"error":N}` and a newline, appended to `out`.
    fn line(&mut self, out: &mut Vec<u8>, rec: &Fields<'_>) {
        let sql = rec.text;
        // Only a statement that may carry a password (or every one, with
        // literals masked) is lexed for its text.
        let lex = self.mask_literals || super::mask::may_hold_secret(sql);
        let tokens = if lex {
            Some(crate::sql::lexer::tokenize(sql))
        } else {
            None
        };
        let text: Option<std::borrow::Cow<'_, str>> = match &tokens {
            None => Some(sql.into()),
            Some(Ok(t)) => Some(super::mask::text_of(sql, t, self.mask_literals).into()),
            Some(Err(_)) => super::mask::unlexable(sql).map(Into::into),
        };
        let cached = rec.digest_key != 0 && !rec.truncated;
        let fresh;
        let fingerprint: &str = match self.fingerprints.get(&rec.digest_key).filter(|_| cached) {
            Some(f) => f,
            None => {
                fresh = match &tokens {
                    Some(Ok(t)) => crate::digest::fingerprint::text(sql, t),
                    _ => crate::digest::fingerprint::of_text(sql),
                };
                if cached {
                    if self.fingerprints.len() >= FINGERPRINTS {
                        self.fingerprints.clear();
                    }
                    self.fingerprints
                        .insert(rec.digest_key, fresh.clone().into_boxed_str());
                }
                &fresh
            }
        };
        out.extend_from_slice(b"{\"time\":\"");
        let secs = rec.at_ms / 1000;
        if secs != self.second {
            self.second = secs;
            self.second_text = rfc3339_ms(secs * 1000);
            self.second_text.truncate(self.second_text.len() - 4);
        }
        out.extend_from_slice(self.second_text.as_bytes());
        let _ = write!(
            out,
            "{:03}Z\",\"conn\":{},\"user\":",
            rec.at_ms % 1000,
            rec.conn
        );
        json_str(out, rec.user);
        out.extend_from_slice(b",\"source\":");
        match rec.source {
            Some(a) => {
                let _ = write!(out, "\"{a}\"");
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"db\":");
        json_opt(out, rec.db);
        out.extend_from_slice(b",\"fingerprint\":");
        json_str(out, fingerprint);
        out.extend_from_slice(b",\"text\":");
        json_opt(out, text.as_deref());
        if rec.truncated {
            out.extend_from_slice(b",\"truncated\":true");
        }
        out.extend_from_slice(b",\"sets\":");
        let names = self.sets.entry(rec.sets).or_insert_with(|| {
            serde_json::to_vec(&crate::set_bits::names(rec.sets))
                .unwrap_or_else(|_| b"[]".to_vec())
                .into_boxed_slice()
        });
        out.extend_from_slice(names);
        let _ = writeln!(
            out,
            ",\"rows\":{},\"latency_us\":{},\"error\":{}}}",
            rec.rows, rec.latency_us, rec.error
        );
    }
}

/// `s` as a JSON string (serde_json's escaping).
fn json_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}

fn json_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
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
            let text = format!("SELECT {i}");
            let rec = Fields {
                at_ms: 0,
                conn: i,
                user: "u",
                source: None,
                db: None,
                text: &text,
                truncated: false,
                sets: 0,
                rows: 0,
                latency_us: 1,
                error: 0,
                digest_key: 0,
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

    #[test]
    fn lines_as_json() {
        let mut f = Format::new(false);
        let rec = Fields {
            at_ms: 1_796_605_323_456,
            conn: 12,
            user: "app",
            source: Some("127.0.0.1:50412".parse().unwrap()),
            db: Some("shop"),
            text: "SELECT v FROM t WHERE id = 3",
            truncated: false,
            sets: 0,
            rows: 1,
            latency_us: 412,
            error: 0,
            digest_key: 5,
        };
        let mut out = Vec::new();
        f.line(&mut out, &rec);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"time\":\"2026-12-07T01:02:03.456Z\",\"conn\":12,\"user\":\"app\",\
             \"source\":\"127.0.0.1:50412\",\"db\":\"shop\",\
             \"fingerprint\":\"SELECT v FROM t WHERE id = ?\",\
             \"text\":\"SELECT v FROM t WHERE id = 3\",\"sets\":[],\"rows\":1,\
             \"latency_us\":412,\"error\":0}\n"
        );
        // The same key again: the fingerprint kept; a password masked; odd
        // characters escaped; no database, no source.
        let secret = "SET PASSWORD FOR \"a\"@'%' = PASSWORD('s3cr\\et\n')";
        let mut out = Vec::new();
        f.line(
            &mut out,
            &Fields {
                source: None,
                db: None,
                text: secret,
                truncated: true,
                at_ms: 1_796_605_324_001,
                digest_key: 6,
                ..rec
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["time"], "2026-12-07T01:02:04.001Z");
        // (`"a"` is a string literal; `@'%'` lexes as part of a user name.)
        assert_eq!(v["text"], "SET PASSWORD FOR ?@'%' = PASSWORD(?)");
        assert_eq!(v["truncated"], true);
        assert!(v["db"].is_null() && v["source"].is_null());
        assert!(!String::from_utf8_lossy(&out).contains("s3cr"));
        let mut out = Vec::new();
        f.line(
            &mut out,
            &Fields {
                text: "SELECT v FROM t WHERE id = 4",
                ..rec
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["fingerprint"], "SELECT v FROM t WHERE id = ?");
        assert_eq!(
            f.fingerprints.len(),
            1,
            "a truncated text's fingerprint is not kept"
        );
    }

    #[test]
    fn secrets_are_found_without_lexing() {
        use super::super::mask::may_hold_secret;
        assert!(may_hold_secret("create user a identified by 'x'"));
        assert!(may_hold_secret("CHANGE MASTER TO MASTER_PASSWORD='x'"));
        assert!(!may_hold_secret("SELECT v FROM t WHERE id = 3"));
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("setwise-audit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
