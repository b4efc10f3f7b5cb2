//! Making a pipelined connection ([`super::raw`], [`connect`]): over TCP, and to
//! an instance on this host (`[backend] prefer_socket`) through its Unix socket:
//! the connection made over loopback TCP moves to the server's socket, which
//! costs the gateway and MariaDB less kernel time per packet than TCP. Pooled connections do the same through mysql_async's own
//! `prefer_socket` ([`super::pool`]).
//!
//! The socket is used only when it is known to lead to the same server as the
//! TCP connection: the TCP session takes a uniquely named `GET_LOCK`, and the
//! session opened through the socket must see that lock held by the TCP
//! session's thread id. A socket path that is missing, unreachable, or that
//! belongs to another server (e.g. MariaDB in a container whose published port
//! is on loopback while the host runs its own server at the same path) leaves
//! the connection on TCP.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::raw::{self, RawConn};
use super::PoolKey;

/// Lock names taken so far (with the process id, unique on the host).
static PROBES: AtomicU64 = AtomicU64::new(0);

/// Connects to `key`'s instance as `user` and prepares the session; through
/// the server's Unix socket when `prefer_socket` and it is on this host and
/// reachable ([`via_socket`]), else over TCP.
pub async fn connect(
    key: &PoolKey,
    user: &str,
    password: &str,
    within: Duration,
    prefer_socket: bool,
) -> io::Result<RawConn> {
    tokio::time::timeout(within, connect_inner(key, user, password, prefer_socket))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
}

async fn connect_inner(
    key: &PoolKey,
    user: &str,
    password: &str,
    prefer_socket: bool,
) -> io::Result<RawConn> {
    let mut c = raw::connect_tcp(key).await?;
    raw::authenticate(&mut c, key, user, password).await?;
    if prefer_socket && is_loopback(&key.host) {
        if let Some(s) = via_socket(&mut c, key, user, password).await {
            std::mem::replace(&mut c, s).quit().await;
        }
    }
    for stmt in key.init.iter() {
        raw::query_ok(&mut c, stmt).await?;
    }
    Ok(c)
}

/// Whether `host` names this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A logged-in connection to the same server as `tcp` through its Unix socket,
/// or `None` (stay on TCP): the server reports no socket, it cannot be reached,
/// or it leads elsewhere. `tcp` stays usable either way.
pub async fn via_socket(
    tcp: &mut RawConn,
    key: &PoolKey,
    user: &str,
    password: &str,
) -> Option<RawConn> {
    let lock = format!(
        "setwise_socket_probe_{}_{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::Relaxed)
    );
    let addr = format!("{}:{}", key.host, key.port);
    let row = match raw::query_row(tcp, &format!("SELECT @@socket, GET_LOCK('{lock}', 0)")).await {
        Ok(Some(r)) => r,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(%addr, "socket probe failed: {e}");
            return None;
        }
    };
    let path = match row.first() {
        Some(Some(p)) if !p.is_empty() => PathBuf::from(String::from_utf8_lossy(p).into_owned()),
        _ => return None,
    };
    let locked = row.get(1).and_then(|v| v.as_deref()) == Some(b"1");
    let found = if locked {
        same_server(&path, tcp.thread_id, &lock, key, user, password).await
    } else {
        None
    };
    if locked {
        // Released so the name never lingers (the TCP session may be kept).
        let _ = raw::query_row(tcp, &format!("SELECT RELEASE_LOCK('{lock}')")).await;
    }
    match &found {
        Some(_) => {
            tracing::debug!(%addr, socket = %path.display(), "pipelined connection through the Unix socket")
        }
        None => {
            tracing::debug!(%addr, socket = %path.display(), "Unix socket not usable: staying on TCP")
        }
    }
    found
}

/// Logs in through `path` and checks that `lock` is held there by `thread`.
async fn same_server(
    path: &std::path::Path,
    thread: u32,
    lock: &str,
    key: &PoolKey,
    user: &str,
    password: &str,
) -> Option<RawConn> {
    let mut s = raw::connect_unix(path).await.ok()?;
    raw::authenticate(&mut s, key, user, password).await.ok()?;
    let holder = raw::query_row(&mut s, &format!("SELECT IS_USED_LOCK('{lock}')"))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.into_iter().next().flatten());
    if holder.as_deref() == Some(thread.to_string().as_bytes()) {
        Some(s)
    } else {
        s.quit().await;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["10.0.0.1", "db1", "192.168.1.1", "::2", ""] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
