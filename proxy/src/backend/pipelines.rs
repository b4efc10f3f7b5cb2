//! Which pipelined connection ([`super::mux::Mux`]) a point read uses: per pool
//! key, up to `pipeline_conns` of them, the least busy one with fewer than
//! `pipeline_depth` statements in flight; a new one is opened while all are
//! busy. A key whose connect failed is left alone for [`RETRY`]; connections to
//! an instance that stops being a primary are closed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::mux::Mux;
use super::PoolKey;
use crate::config::BackendConfig;

/// How long the fast path leaves a pool key alone after failing to connect.
const RETRY: Duration = Duration::from_secs(1);

/// The pipelined connections of one pool key.
#[derive(Default)]
struct Slot {
    conns: Vec<Arc<Mux>>,
    /// Connections being opened.
    opening: usize,
    /// After a failed connect: not tried again before this.
    failed_until: Option<Instant>,
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
            if slots.len() >= max_keys && !slots.contains_key(key) {
                return None;
            }
            let slot = slots.entry(key.clone()).or_default();
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
