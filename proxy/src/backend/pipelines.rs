//! Which pipelined connection ([`super::mux::Mux`]) a point read uses: per pool
//! key, up to `pipeline_conns` of them, the least busy one with fewer than
//! `pipeline_depth` statements in flight; a new one is opened while all are
//! busy. A key whose connect failed is left alone for [`RETRY`]; connections to
//! an instance that stops being a primary are closed.
//!
//! Each key is a session state, and sessions with states of their own (a user
//! variable with a new value per request) would otherwise each leave a
//! connection open for good, until the instance refuses new ones (1040 "Too
//! many connections"): a key unused for [`IDLE`] is closed, and when `max_keys`
//! are kept the least recently used idle key makes room for a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mux::Mux;
use super::PoolKey;
use crate::config::BackendConfig;

/// How long the fast path leaves a pool key alone after failing to connect.
const RETRY: Duration = Duration::from_secs(1);

/// A key whose connections ran nothing for this long is closed (checked when a
/// new key is added).
const IDLE: Duration = Duration::from_secs(10);

/// The pipelined connections of one pool key.
#[derive(Default)]
struct Slot {
    conns: Vec<Arc<Mux>>,
    /// Connections being opened.
    opening: usize,
    /// After a failed connect: not tried again before this.
    failed_until: Option<Instant>,
    /// When a statement last took one of its connections.
    used: Option<Instant>,
}

impl Slot {
    /// Nothing in flight nor being opened.
    fn idle(&self) -> bool {
        self.opening == 0 && self.conns.iter().all(|m| m.in_flight() == 0)
    }

    fn close(&self) {
        self.conns.iter().for_each(|m| m.close());
    }
}

#[derive(Default)]
pub struct Pipelines {
    slots: Mutex<HashMap<PoolKey, Slot>>,
}

/// A connection being opened for `key`: counted in its slot until dropped (also
/// when the statement that opens it is given up half-way).
struct Opening<'a> {
    p: &'a Pipelines,
    key: &'a PoolKey,
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.p.slots.lock().expect("pipelines").get_mut(self.key) {
            s.opening = s.opening.saturating_sub(1);
        }
    }
}

impl Pipelines {
    /// A pipelined connection to `key` with room for one more statement. `None`:
    /// the fast path is off, full, or cannot connect (the caller uses a pooled
    /// connection). At most `max_keys` keys are kept.
    pub async fn get(
        &self,
        key: &PoolKey,
        cfg: &BackendConfig,
        max_keys: usize,
    ) -> Option<Arc<Mux>> {
        let (max_conns, depth) = (cfg.pipeline_conns, cfg.pipeline_depth.max(1));
        if max_conns == 0 {
            return None;
        }
        let opening = {
            let mut slots = self.slots.lock().expect("pipelines");
            if !slots.contains_key(key) && !make_room(&mut slots, max_keys) {
                return None;
            }
            let slot = slots.entry(key.clone()).or_default();
            slot.used = Some(Instant::now());
            slot.conns.retain(|m| !m.is_dead());
            if slot.failed_until.is_some_and(|t| t > Instant::now()) {
                return None;
            }
            let best = slot.conns.iter().min_by_key(|m| m.in_flight()).cloned();
            let open_more = slot.conns.len() + slot.opening < max_conns
                && best.as_ref().is_none_or(|b| b.in_flight() > 0);
            if !open_more {
                return best.filter(|b| b.in_flight() < depth);
            }
            slot.opening += 1;
            Opening { p: self, key }
        };
        let within = Duration::from_millis(cfg.connect_timeout_ms.max(100));
        let r =
            super::local::connect(key, &cfg.user, &cfg.password, within, cfg.prefer_socket).await;
        drop(opening);
        let mut slots = self.slots.lock().expect("pipelines");
        let slot = slots.entry(key.clone()).or_default();
        match r {
            Ok(c) => {
                let m = Mux::start(c);
                slot.conns.push(m.clone());
                Some(m)
            }
            Err(e) => {
                tracing::debug!(addr = %format!("{}:{}", key.host, key.port), "pipelined connection failed: {e}");
                slot.failed_until = Some(Instant::now() + RETRY);
                None
            }
        }
    }

    /// Closes the keys `which` selects that have nothing in flight.
    pub fn close_idle(&self, which: impl Fn(&PoolKey) -> bool) {
        self.slots.lock().expect("pipelines").retain(|k, slot| {
            let close = which(k) && slot.idle();
            if close {
                slot.close();
            }
            !close
        });
    }

    /// Keeps the keys `keep` accepts; the connections of the others are closed.
    pub fn retain(&self, keep: impl Fn(&PoolKey) -> bool) {
        self.slots.lock().expect("pipelines").retain(|k, slot| {
            let kept = keep(k);
            if !kept {
                slot.conns.iter().for_each(|m| m.close());
            }
            kept
        });
    }
}

/// Before a new key is added: closes the keys idle for [`IDLE`], then, with
/// `max_keys` still kept, the least recently used idle one. False: all are busy.
fn make_room(slots: &mut HashMap<PoolKey, Slot>, max_keys: usize) -> bool {
    let now = Instant::now();
    let stale = |s: &Slot| s.idle() && s.used.is_none_or(|u| now.duration_since(u) >= IDLE);
    slots.retain(|_, s| {
        let keep = !stale(s);
        if !keep {
            s.close();
        }
        keep
    });
    if slots.len() < max_keys {
        return true;
    }
    let lru = slots
        .iter()
        .filter(|(_, s)| s.idle())
        .min_by_key(|(_, s)| s.used)
        .map(|(k, _)| k.clone());
    match lru.and_then(|k| slots.remove(&k)) {
        Some(s) => {
            s.close();
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> PoolKey {
        PoolKey {
            host: "127.0.0.1".into(),
            port: 1,
            db: None,
            found_rows: false,
            init: std::sync::Arc::new(vec![format!("SET @v = {n}")]),
            worker: 0,
            replica: false,
        }
    }

    #[test]
    fn the_least_recently_used_idle_key_makes_room() {
        let mut slots = HashMap::new();
        let t = Instant::now();
        for n in 0..3 {
            let used = Some(t + Duration::from_millis(n as u64));
            slots.insert(
                key(n),
                Slot {
                    used,
                    ..Slot::default()
                },
            );
        }
        assert!(make_room(&mut slots, 3));
        assert_eq!(slots.len(), 2);
        assert!(!slots.contains_key(&key(0)), "the oldest went");
        assert!(
            make_room(&mut slots, 3),
            "below the bound: nothing to close"
        );
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn keys_idle_too_long_are_closed_and_busy_keys_stay() {
        let mut slots = HashMap::new();
        let old = Instant::now().checked_sub(IDLE + Duration::from_secs(1));
        slots.insert(
            key(0),
            Slot {
                used: old,
                ..Slot::default()
            },
        );
        slots.insert(
            key(1),
            Slot {
                used: old,
                opening: 1,
                ..Slot::default()
            },
        );
        assert!(make_room(&mut slots, 10));
        assert!(!slots.contains_key(&key(0)), "idle too long");
        assert!(
            slots.contains_key(&key(1)),
            "a connection being opened keeps it"
        );
        assert!(!make_room(&mut slots, 1), "the only key is busy: no room");
    }
}
