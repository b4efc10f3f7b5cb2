//! Stopping and starting the local mariadbd, which the agent owns during a physical
//! rebuild (docs/rebuild.md): [`stop`] is `SHUTDOWN` and a bounded wait until the
//! process (pid from `@@pid_file`) is gone and the port refuses; [`start`] runs the
//! configured `[server] start` command with `sh -c` in a session of its own (so the
//! server outlives the agent) and waits until the server answers.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

use mysql_async::Conn;
use tokio::time::Instant;
use tracing::info;

use crate::db::ProbeTarget;
use crate::db::{self, SqlResult};

/// The server's pid, from `@@pid_file`.
pub async fn pid(conn: &mut Conn) -> SqlResult<Option<u32>> {
    let file = db::global(conn, "pid_file").await?;
    Ok(tokio::fs::read_to_string(&file)
        .await
        .ok()
        .and_then(|s| s.trim().parse().ok()))
}

/// Whether process `pid` is gone (missing, or a zombie waiting to be reaped).
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// `SHUTDOWN` through `conn`, then waits (until `deadline`) for the process to exit
/// and the port to refuse connections.
pub async fn stop(mut conn: Conn, target: &ProbeTarget, deadline: Instant) -> SqlResult<()> {
    let pid = pid(&mut conn).await?;
    // The server closes the connection as it goes down.
    let _ = db::exec(&mut conn, "SHUTDOWN").await;
    drop(conn);
    info!(?pid, "mariadbd: SHUTDOWN sent");
    loop {
        let exited = pid.is_none_or(gone);
        let refuses = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .is_err();
        if exited && refuses {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "mariadbd (pid {pid:?}) did not stop in time after SHUTDOWN"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `command` (`sh -c`, own session, stdin closed, output to the agent's) and
/// waits until the server accepts connections; returns a connection to it.
pub async fn start(command: &str, target: &ProbeTarget, deadline: Instant) -> SqlResult<Conn> {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(command).stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe; the server must not die with the agent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = tokio::process::Command::from(cmd)
        .spawn()
        .map_err(|e| format!("cannot run the start command: {e}"))?;
    info!(command, "mariadbd: start command run");
    // Reap it whenever it ends (a command that returns, or the server itself).
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = tx.send(child.wait().await);
    });
    loop {
        let last = match db::connect(target).await {
            Ok(c) => return Ok(c),
            Err(e) => e,
        };
        if let Ok(Ok(st)) = rx.try_recv() {
            if !st.success() {
                return Err(format!("the start command exited with {st}"));
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "mariadbd did not answer in time after the start command: {last}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_not_gone() {
        assert!(!gone(std::process::id()));
        assert!(gone(u32::MAX - 1));
    }
}
