//! Free loopback ports, reserved across the test processes that run in parallel.
//!
//! Asking the kernel for port 0 and closing the socket is racy when many test
//! processes start servers at once. Instead a port is picked at random in
//! [`RANGE`] (below Linux's ephemeral range, so client sockets never take it), and
//! reserved by holding an exclusive `flock` on `$TMPDIR/setwise-ports/<port>.lock`
//! while the [`Port`] lives. The kernel drops the lock when the holder dies, so a
//! crashed test never leaks a reservation. A port is only handed out if it can
//! also be bound on 127.0.0.1 at that moment.

use std::fs::{File, OpenOptions};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Ports the harness hands out (Linux's default ephemeral range starts at 32768).
pub const RANGE: std::ops::Range<u16> = 20000..32000;

/// A reserved loopback port; the reservation ends when it is dropped.
#[derive(Debug)]
pub struct Port {
    port: u16,
    _lock: File,
}

impl Port {
    pub fn get(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.port)
    }
}

fn lock_dir() -> PathBuf {
    std::env::temp_dir().join("setwise-ports")
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Reserves a free loopback port. Panics if the whole range is taken.
pub fn reserve() -> Port {
    let dir = lock_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let span = (RANGE.end - RANGE.start) as u64;
    let first = random_u64() % span;
    for i in 0..span {
        let port = RANGE.start + ((first + i) % span) as u16;
        let path = dir.join(format!("{port}.lock"));
        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
        else {
            continue;
        };
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        return Port { port, _lock: file };
    }
    panic!("no free loopback port in {RANGE:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_distinct_and_bindable() {
        let ports: Vec<Port> = (0..20).map(|_| reserve()).collect();
        let mut seen: Vec<u16> = ports.iter().map(Port::get).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), ports.len());
        for p in &ports {
            assert!(RANGE.contains(&p.get()));
            TcpListener::bind(("127.0.0.1", p.get())).expect("reserved port binds");
        }
    }
}
