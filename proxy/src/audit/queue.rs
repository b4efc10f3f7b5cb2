//! The audit records waiting for the writer thread: one buffer of encoded
//! records shared by every session and taken whole by the writer.
//!
//! A statement's record costs its session a lock held for one copy of its
//! fields into the buffer — no allocation once the buffer has grown, no system
//! call (the writer is woken only when it sleeps on an empty queue), no
//! formatting. The writer swaps the buffer for its own empty one (so both keep
//! their capacity) and decodes the records in place. The queue holds at most
//! `cap` records; past that a record is refused and the caller counts it.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A statement's record as the session hands it over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fields<'a> {
    pub at_ms: u64,
    pub conn: u32,
    pub user: &'a str,
    pub source: Option<SocketAddr>,
    pub db: Option<&'a str>,
    /// The text, already cut to `max_text`.
    pub text: &'a str,
    pub truncated: bool,
    /// [`crate::set_bits`] mask.
    pub sets: u64,
    pub rows: u64,
    pub latency_us: u64,
    pub error: u16,
    /// The statement's digest key (0: none), which names its fingerprint.
    pub digest_key: u64,
}

pub struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    cap: usize,
}

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    records: usize,
    /// The writer waits for a record: the next one wakes it.
    sleeping: bool,
}

/// A buffer that grew past this during a burst is given back afterwards.
const KEEP_CAPACITY: usize = 4 << 20;

impl Queue {
    pub fn new(cap: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            cap: cap.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a record; false when the queue is full (nothing queued).
    pub fn push(&self, f: &Fields<'_>) -> bool {
        let mut s = self.lock();
        if s.records >= self.cap {
            return false;
        }
        encode(&mut s.bytes, f);
        s.records += 1;
        if s.sleeping {
            s.sleeping = false;
            self.wake.notify_one();
        }
        true
    }

    /// Swaps the queued records into `into` (emptied first) and returns how
    /// many there are; with none queued, waits up to `wait` for one.
    pub fn take(&self, into: &mut Vec<u8>, wait: Duration) -> usize {
        into.clear();
        if into.capacity() > KEEP_CAPACITY {
            into.shrink_to(KEEP_CAPACITY / 4);
        }
        let mut s = self.lock();
        if s.records == 0 && !wait.is_zero() {
            s.sleeping = true;
            s = self
                .wake
                .wait_timeout_while(s, wait, |s| s.records == 0)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            s.sleeping = false;
        }
        std::mem::swap(into, &mut s.bytes);
        std::mem::take(&mut s.records)
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn encode(b: &mut Vec<u8>, f: &Fields<'_>) {
    for v in [f.at_ms, f.sets, f.rows, f.latency_us, f.digest_key] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&f.conn.to_le_bytes());
    b.extend_from_slice(&f.error.to_le_bytes());
    b.push(u8::from(f.truncated) | (u8::from(f.db.is_some()) << 1));
    match f.source {
        None => b.push(0),
        Some(a) => {
            match a.ip() {
                IpAddr::V4(ip) => {
                    b.push(4);
                    b.extend_from_slice(&ip.octets());
                }
                IpAddr::V6(ip) => {
                    b.push(6);
                    b.extend_from_slice(&ip.octets());
                }
            }
            b.extend_from_slice(&a.port().to_le_bytes());
        }
    }
    put_str(b, f.user);
    put_str(b, f.db.unwrap_or(""));
    put_str(b, f.text);
}

/// The records of a taken buffer, in the order they were queued.
pub struct Records<'a> {
    buf: &'a [u8],
}

impl<'a> Records<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.buf.split_at(n.min(self.buf.len()));
        self.buf = rest;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let b = self.bytes(N);
        a[..b.len()].copy_from_slice(b);
        a
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    fn str(&mut self) -> &'a str {
        let n = u32::from_le_bytes(self.array()) as usize;
        // Written from a `&str`: always UTF-8.
        std::str::from_utf8(self.bytes(n)).unwrap_or("")
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Fields<'a>;

    fn next(&mut self) -> Option<Fields<'a>> {
        if self.buf.is_empty() {
            return None;
        }
        let [at_ms, sets, rows, latency_us, digest_key] = [(); 5].map(|_| self.u64());
        let conn = u32::from_le_bytes(self.array());
        let error = u16::from_le_bytes(self.array());
        let [flags] = self.array();
        let ip = match self.array::<1>() {
            [4] => Some(IpAddr::from(self.array::<4>())),
            [6] => Some(IpAddr::from(self.array::<16>())),
            _ => None,
        };
        let source = ip.map(|ip| SocketAddr::new(ip, u16::from_le_bytes(self.array())));
        let user = self.str();
        let db = self.str();
        let text = self.str();
        Some(Fields {
            at_ms,
            conn,
            user,
            source,
            db: (flags & 2 != 0).then_some(db),
            text,
            truncated: flags & 1 != 0,
            sets,
            rows,
            latency_us,
            error,
            digest_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_the_queue_is_bounded() {
        let q = Queue::new(2);
        let a = Fields {
            at_ms: 1_796_605_323_456,
            conn: 7,
            user: "app",
            source: Some("127.0.0.1:50412".parse().unwrap()),
            db: Some("shop"),
            text: "SELECT 'é' FROM t",
            truncated: false,
            sets: 3,
            rows: 1,
            latency_us: 412,
            error: 0,
            digest_key: 99,
        };
        let b = Fields {
            source: Some("[::1]:9".parse().unwrap()),
            db: None,
            truncated: true,
            error: 1064,
            text: "",
            ..a
        };
        let c = Fields { source: None, ..b };
        assert!(q.push(&a));
        assert!(q.push(&b));
        assert!(!q.push(&c), "the third record is past the bound");
        let mut buf = Vec::new();
        assert_eq!(q.take(&mut buf, Duration::ZERO), 2);
        let got: Vec<Fields<'_>> = Records::new(&buf).collect();
        assert_eq!(got, vec![a, b]);
        assert!(q.push(&c));
        let mut again = Vec::new();
        assert_eq!(q.take(&mut again, Duration::ZERO), 1);
        assert_eq!(Records::new(&again).collect::<Vec<_>>(), vec![c]);
        assert_eq!(q.take(&mut again, Duration::from_millis(1)), 0);
    }
}
