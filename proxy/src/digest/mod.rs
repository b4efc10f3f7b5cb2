//! Query digests, ProxySQL-style: per statement fingerprint (and database), how
//! often it ran, its total/min/max latency, rows sent, errors, first and last
//! seen, and the sets it touched. One table per gateway process ([`global`]),
//! updated by every statement ([`Digests::note`]: a hash lookup under a lock, no
//! allocation once the fingerprint is known), read by `SHOW SETWISE DIGESTS` and
//! the metrics port's `/digests` (docs/observability.md), emptied by
//! `SHOW SETWISE DIGESTS RESET` or `/digests?reset`.

pub mod fingerprint;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

pub use crate::config::DigestsConfig;

/// One fingerprint's statistics.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Digest {
    /// The 64-bit key, hex (fingerprint and database).
    pub digest: String,
    pub schema: String,
    pub fingerprint: String,
    pub count: u64,
    pub sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
    pub rows_sent: u64,
    pub errors: u64,
    /// Unix time, seconds.
    pub first_seen: u64,
    pub last_seen: u64,
    /// Sets the statements ran on, sorted.
    pub sets: Vec<String>,
}

struct Entry {
    d: Digest,
    /// Sets touched, as [`crate::set_bits`] ids.
    sets: u64,
}

/// What one statement adds to its digest.
pub struct Sample {
    pub key: u64,
    pub latency_us: u64,
    pub rows: u64,
    pub error: bool,
    /// [`crate::set_bits`] bit mask.
    pub sets: u64,
    /// Unix time, seconds.
    pub now: u64,
}

pub struct Digests {
    on: AtomicBool,
    max: std::sync::atomic::AtomicUsize,
    map: Mutex<HashMap<u64, Entry>>,
}

static GLOBAL: OnceLock<Digests> = OnceLock::new();

/// The gateway's digest table.
pub fn global() -> &'static Digests {
    GLOBAL.get_or_init(|| Digests::new(&DigestsConfig::default()))
}

/// Applies `[digests]` (at start).
pub fn configure(cfg: &DigestsConfig) {
    let g = global();
    g.on.store(cfg.enabled, Ordering::Relaxed);
    g.max.store(cfg.max_entries, Ordering::Relaxed);
}

impl Digests {
    pub fn new(cfg: &DigestsConfig) -> Self {
        Self {
            on: AtomicBool::new(cfg.enabled),
            max: cfg.max_entries.into(),
            map: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Adds a statement to its digest. `describe` gives the schema and the
    /// fingerprint text, called only for a fingerprint not seen yet. False: the
    /// table is full and the fingerprint is new (not kept).
    pub fn note(&self, s: &Sample, describe: impl FnOnce() -> (String, String)) -> bool {
        let mut map = self.map.lock().expect("digests");
        if let Some(e) = map.get_mut(&s.key) {
            let d = &mut e.d;
            d.count += 1;
            d.sum_us += s.latency_us;
            d.min_us = d.min_us.min(s.latency_us);
            d.max_us = d.max_us.max(s.latency_us);
            d.rows_sent += s.rows;
            d.errors += s.error as u64;
            d.last_seen = s.now;
            e.sets |= s.sets;
            return true;
        }
        if map.len() >= self.max.load(Ordering::Relaxed) {
            return false;
        }
        let (schema, fingerprint) = describe();
        map.insert(
            s.key,
            Entry {
                d: Digest {
                    digest: format!("{:016x}", s.key),
                    schema,
                    fingerprint,
                    count: 1,
                    sum_us: s.latency_us,
                    min_us: s.latency_us,
                    max_us: s.latency_us,
                    rows_sent: s.rows,
                    errors: s.error as u64,
                    first_seen: s.now,
                    last_seen: s.now,
                    sets: Vec::new(),
                },
                sets: s.sets,
            },
        );
        true
    }

    /// Every digest, the largest total latency first; at most `top` (0: all).
    pub fn snapshot(&self, top: usize) -> Vec<Digest> {
        let mut v: Vec<Digest> = {
            let map = self.map.lock().expect("digests");
            map.values()
                .map(|e| {
                    let mut d = e.d.clone();
                    d.sets = crate::set_bits::names(e.sets);
                    d
                })
                .collect()
        };
        v.sort_by(|a, b| b.sum_us.cmp(&a.sum_us).then(a.digest.cmp(&b.digest)));
        if top > 0 {
            v.truncate(top);
        }
        v
    }

    /// Digests kept now.
    pub fn len(&self) -> usize {
        self.map.lock().expect("digests").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the table; returns how many digests it held.
    pub fn reset(&self) -> usize {
        let mut map = self.map.lock().expect("digests");
        let n = map.len();
        map.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: u64, us: u64, error: bool) -> Sample {
        Sample {
            key,
            latency_us: us,
            rows: 2,
            error,
            sets: 0,
            now: 100,
        }
    }

    #[test]
    fn accumulates_and_resets() {
        let d = Digests::new(&DigestsConfig {
            enabled: true,
            max_entries: 2,
        });
        let desc = || ("db".to_string(), "SELECT ?".to_string());
        assert!(d.note(&sample(1, 10, false), desc));
        assert!(d.note(&sample(1, 30, true), || unreachable!()));
        assert!(d.note(&sample(2, 5, false), desc));
        assert!(!d.note(&sample(3, 5, false), desc), "table full");
        let s = d.snapshot(0);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].count, 2);
        assert_eq!((s[0].sum_us, s[0].min_us, s[0].max_us), (40, 10, 30));
        assert_eq!((s[0].rows_sent, s[0].errors), (4, 1));
        assert_eq!(d.snapshot(1).len(), 1);
        assert_eq!(d.reset(), 2);
        assert!(d.snapshot(0).is_empty());
    }
}
