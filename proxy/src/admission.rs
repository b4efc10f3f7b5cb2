//! Connection limits (`[limits]`): how many client connections the gateway
//! takes overall, per source address and per user, and the per-connection
//! limits a session starts with (`wait_timeout`, `interactive_timeout`, the
//! handshake's timeout, `max_allowed_packet`).
//!
//! A connection holds a [`Ticket`] for each count it is in; dropping the ticket
//! (the session ends, however it ends) gives the place back. As MariaDB does
//! for accounts without CONNECTION ADMIN (every gateway account): a connection
//! over `max_connections` is refused with 1040 (08004) once authenticated, and
//! beyond one more than that, 1040 comes in place of the handshake (the bytes
//! MariaDB sends: no SQLSTATE yet). A source address over
//! `max_connections_per_address` is treated the same way (MariaDB has no
//! per-address count; 1040 is what clients already take as "retry later"). A
//! user over `max_user_connections` gets 1203 once authenticated.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ProxyError;

/// `[limits]` of the gateway's config. A count of 0 means no limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Client connections the gateway serves at once (1040 beyond).
    pub max_connections: usize,
    /// Client connections of one user at once (1203 beyond).
    pub max_user_connections: usize,
    /// Client connections from one source IP address at once (1040 beyond).
    pub max_connections_per_address: usize,
    /// Seconds a non-interactive client may stay idle between statements
    /// before the gateway closes its connection (the session's
    /// `wait_timeout`, which the client may change with SET).
    pub wait_timeout: u64,
    /// The same for clients connecting with CLIENT_INTERACTIVE (the mariadb
    /// CLI): their `wait_timeout` starts at this value.
    pub interactive_timeout: u64,
    /// Seconds a client has to complete the handshake and authentication.
    pub connect_timeout: u64,
    /// Largest packet (command) taken from a client; beyond, 1153 and the
    /// connection is closed, as MariaDB does.
    pub max_allowed_packet: usize,
    /// Seconds a write to a client may stay blocked (the client does not read
    /// its result) before the connection is closed and what it holds released.
    pub net_write_timeout: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: 0,
            max_user_connections: 0,
            max_connections_per_address: 0,
            wait_timeout: 28800,
            interactive_timeout: 28800,
            connect_timeout: 10,
            max_allowed_packet: 64 << 20,
            net_write_timeout: 60,
        }
    }
}

/// The largest `wait_timeout` MariaDB takes (one year, in seconds).
pub const MAX_TIMEOUT: u64 = 31_536_000;

impl LimitsConfig {
    /// The handshake's deadline.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout.max(1))
    }

    /// How long a write to a client may stay blocked.
    pub fn net_write_timeout(&self) -> Duration {
        Duration::from_secs(self.net_write_timeout.max(1))
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
    by_user: HashMap<String, usize>,
}

/// The counts of the whole gateway (every worker thread).
pub struct Admission {
    cfg: LimitsConfig,
    counts: Mutex<Counts>,
}

/// A place in the counts, given back on drop.
pub struct Ticket {
    held: Held,
}

enum Held {
    Connection(IpAddr),
    User(String),
}

static ADMISSION: OnceLock<Admission> = OnceLock::new();

/// Sets the limits once at start (later calls are ignored).
pub fn configure(cfg: LimitsConfig) {
    let _ = ADMISSION.set(Admission::new(cfg));
}

/// The gateway's counts (default limits if never configured).
pub fn admission() -> &'static Admission {
    ADMISSION.get_or_init(|| Admission::new(LimitsConfig::default()))
}

impl Admission {
    pub fn new(cfg: LimitsConfig) -> Self {
        Self {
            cfg,
            counts: Mutex::new(Counts::default()),
        }
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.cfg
    }

    /// A new client connection from `ip`, before the handshake: refused when
    /// one more than a limit is in already (MariaDB's extra connection).
    pub fn connection(&'static self, ip: IpAddr) -> Result<Ticket, ProxyError> {
        let mut c = self.counts.lock().expect("admission");
        let over = |limit: usize, n: usize| limit > 0 && n > limit;
        let from_ip = c.by_address.get(&ip).copied().unwrap_or(0);
        if over(self.cfg.max_connections, c.total)
            || over(self.cfg.max_connections_per_address, from_ip)
        {
            return Err(ProxyError::TooManyConnections);
        }
        c.total += 1;
        *c.by_address.entry(ip).or_default() += 1;
        Ok(Ticket {
            held: Held::Connection(ip),
        })
    }

    /// An authenticated connection of `user` from `ip` (counted already by
    /// [`connection`](Self::connection)): refused when over a limit.
    pub fn user(&'static self, user: &str, ip: IpAddr) -> Result<Ticket, ProxyError> {
        let mut c = self.counts.lock().expect("admission");
        let over = |limit: usize, n: usize| limit > 0 && n > limit;
        let from_ip = c.by_address.get(&ip).copied().unwrap_or(0);
        if over(self.cfg.max_connections, c.total)
            || over(self.cfg.max_connections_per_address, from_ip)
        {
            return Err(ProxyError::TooManyConnections);
        }
        let n = c.by_user.get(user).copied().unwrap_or(0);
        if self.cfg.max_user_connections > 0 && n >= self.cfg.max_user_connections {
            return Err(ProxyError::TooManyUserConnections(user.to_string()));
        }
        *c.by_user.entry(user.to_string()).or_default() += 1;
        Ok(Ticket {
            held: Held::User(user.to_string()),
        })
    }

    /// Client connections being served now.
    pub fn connections(&self) -> usize {
        self.counts.lock().expect("admission").total
    }

    fn give_back(&self, held: &Held) {
        let mut c = self.counts.lock().expect("admission");
        fn dec<K: std::hash::Hash + Eq>(m: &mut HashMap<K, usize>, k: &K) {
            if let Some(n) = m.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    m.remove(k);
                }
            }
        }
        match held {
            Held::Connection(ip) => {
                c.total -= 1;
                dec(&mut c.by_address, ip);
            }
            Held::User(u) => dec(&mut c.by_user, u),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        admission().give_back(&self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_gives_back() {
        configure(LimitsConfig {
            max_connections: 3,
            max_user_connections: 1,
            max_connections_per_address: 2,
            ..Default::default()
        });
        let a = admission();
        let ip1: IpAddr = "10.0.0.1".parse().unwrap();
        let ip2: IpAddr = "10.0.0.2".parse().unwrap();
        // Per address: two, a third to be refused after authentication, no fourth.
        let t1 = a.connection(ip1).unwrap();
        let _t2 = a.connection(ip1).unwrap();
        let t3 = a.connection(ip1).unwrap();
        assert_eq!(a.user("x", ip1).err().unwrap().code(), 1040);
        assert_eq!(a.connection(ip1).err().unwrap().code(), 1040);
        drop(t3);
        // Overall: three, a fourth refused after authentication, no fifth.
        let _t4 = a.connection(ip2).unwrap();
        let t5 = a.connection(ip2).unwrap();
        let e = a.user("x", ip2).err().unwrap();
        assert_eq!((e.code(), e.sqlstate()), (1040, "08004"));
        assert_eq!(a.connection(ip2).err().unwrap().code(), 1040);
        drop((t1, t5));
        let u = a.user("app", ip2).unwrap();
        let e = a.user("app", ip2).err().unwrap();
        assert_eq!(
            (e.code(), e.sqlstate(), e.to_string().as_str()),
            (
                1203,
                "42000",
                "User app already has more than 'max_user_connections' active connections"
            )
        );
        drop(u);
        let _u = a.user("app", ip2).unwrap();
    }
}
