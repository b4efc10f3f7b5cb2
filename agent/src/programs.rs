//! Running MariaDB's command-line programs (`mariadb-dump`, `mariadb`,
//! `mariadb-backup`) for rebuilds and backups: the arguments naming the server
//! and account, and the tail of a program's stderr for the error message.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::db::ProbeTarget;

/// How much of a program's stderr is kept for the error message.
const STDERR_KEEP: usize = 4000;

/// Arguments naming a server and account for the MariaDB command-line programs
/// (the password goes in `MYSQL_PWD`, not on the command line).
pub fn server_args(t: &ProbeTarget) -> Vec<String> {
    let mut a = vec![
        format!("--host={}", t.host),
        format!("--port={}", t.port),
        format!("--user={}", t.user),
        "--protocol=TCP".into(),
    ];
    a.extend(t.tls.cli_args());
    a
}

/// Reads a pipe to its end; keeps the last [`STDERR_KEEP`] bytes.
pub async fn read_tail<R: AsyncRead + Unpin>(r: Option<R>) -> String {
    let Some(mut r) = r else {
        return String::new();
    };
    let mut keep: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                keep.extend_from_slice(&buf[..n]);
                if keep.len() > 2 * STDERR_KEEP {
                    keep.drain(..keep.len() - STDERR_KEEP);
                }
            }
        }
    }
    if keep.len() > STDERR_KEEP {
        keep.drain(..keep.len() - STDERR_KEEP);
    }
    String::from_utf8_lossy(&keep).into_owned()
}
