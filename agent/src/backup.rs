//! Physical backups between agents (docs/rebuild.md): the source node's agent serves
//! `mariadb-backup --backup --stream=xbstream` of its node over TCP ([`serve`]); a
//! rebuilding node's agent fetches it straight into `mbstream -x` ([`fetch`]). The
//! backup must run on the source's host (it reads the source's datadir), hence a
//! service of the source's agent rather than a program the target runs.
//!
//! Protocol, one backup per connection:
//! 1. server: `SETWISE-BACKUP 1 <nonce hex>\n`
//! 2. client: `<hex sha256(nonce ‖ password)>\n` (the agents' shared MariaDB account
//!    password: never sent itself)
//! 3. server: `OK\n` (or `ERR <why>\n` and close), then the stream as frames
//!    (`u32` big-endian length, bytes); a zero length ends it, followed by
//!    `DONE\n` when mariadb-backup said `completed OK!`, else `ERR <stderr tail>\n`.
//!
//! A truncated stream is thus never taken for a whole backup. One backup runs at a
//! time per agent; the stream is not encrypted (keep the port on the private network).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::{watch, Mutex};
use tracing::{info, warn};

use crate::db::ProbeTarget;
use crate::db::SqlResult;

const GREETING: &str = "SETWISE-BACKUP 1";
/// Frame size of the stream.
const FRAME: usize = 1 << 20;
/// How long the handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The source side: a listener serving backups of `target`.
pub struct BackupServer {
    listener: TcpListener,
    target: ProbeTarget,
    program: String,
    busy: Arc<Mutex<()>>,
}

impl BackupServer {
    /// Binds `addr` (port 0: any free port).
    pub async fn bind(addr: &str, target: ProbeTarget, program: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen for backups on {addr}: {e}"))?;
        Ok(Self {
            listener,
            target,
            program: program.to_string(),
            busy: Arc::new(Mutex::new(())),
        })
    }

    /// The address actually bound (published in the health report).
    pub fn local_addr(&self) -> String {
        self.listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    }

    /// Serves until `shutdown` turns true.
    pub async fn serve(self, mut shutdown: watch::Receiver<bool>) {
        info!(addr = %self.local_addr(), "serving physical backups");
        loop {
            let (sock, peer) = tokio::select! {
                _ = crate::task::watch::stopped(&mut shutdown) => return,
                r = self.listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        warn!("accepting a backup connection: {e}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let (target, program, busy) =
                (self.target.clone(), self.program.clone(), self.busy.clone());
            tokio::spawn(async move {
                match serve_one(sock, &target, &program, &busy).await {
                    Ok(bytes) => info!(%peer, bytes, "backup served"),
                    Err(e) => warn!(%peer, "backup not served: {e}"),
                }
            });
        }
    }
}

fn proof(nonce: &str, password: &str) -> String {
    let mut h = Sha256::new();
    h.update(nonce.as_bytes());
    h.update(password.as_bytes());
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}{t:x}", hex(&b))
}

async fn serve_one(
    sock: TcpStream,
    target: &ProbeTarget,
    program: &str,
    busy: &Mutex<()>,
) -> Result<u64, String> {
    let _ = sock.set_nodelay(true);
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::new(rd);
    let n = nonce();
    let answer = async {
        wr.write_all(format!("{GREETING} {n}\n").as_bytes()).await?;
        let mut line = String::new();
        rd.read_line(&mut line).await?;
        Ok::<_, std::io::Error>(line)
    };
    let line = tokio::time::timeout(HANDSHAKE, answer)
        .await
        .map_err(|_| "handshake timed out".to_string())?
        .map_err(|e| format!("handshake: {e}"))?;
    if line.trim() != proof(&n, &target.password) {
        let _ = wr.write_all(b"ERR bad credentials\n").await;
        return Err("bad credentials".into());
    }
    let _guard = busy.lock().await;
    let tmp = std::env::temp_dir().join(format!(
        "setwise-backup-{}-{}",
        target.node,
        std::process::id()
    ));
    let _ = tokio::fs::remove_dir_all(&tmp).await;
    tokio::fs::create_dir_all(&tmp)
        .await
        .map_err(|e| format!("create {}: {e}", tmp.display()))?;
    let r = stream_backup(&mut wr, target, program, &tmp).await;
    let _ = tokio::fs::remove_dir_all(&tmp).await;
    r
}

/// The `mariadb-backup --backup` arguments (the password goes in `MYSQL_PWD`).
pub fn backup_args(target: &ProbeTarget, tmp: &Path) -> Vec<String> {
    let mut a = vec![
        "--backup".into(),
        "--stream=xbstream".into(),
        format!("--target-dir={}", tmp.display()),
    ];
    a.extend(crate::programs::server_args(target));
    a
}

async fn stream_backup<W: tokio::io::AsyncWrite + Unpin>(
    wr: &mut W,
    target: &ProbeTarget,
    program: &str,
    tmp: &Path,
) -> Result<u64, String> {
    let spawned = Command::new(program)
        .args(backup_args(target, tmp))
        .env("MYSQL_PWD", &target.password)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("cannot run {program}: {e}");
            let _ = wr.write_all(format!("ERR {msg}\n").as_bytes()).await;
            return Err(msg);
        }
    };
    wr.write_all(b"OK\n").await.map_err(|e| e.to_string())?;
    let err = tokio::spawn(crate::programs::read_tail(child.stderr.take()));
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut buf = vec![0u8; FRAME];
    let mut bytes = 0u64;
    loop {
        let n = out
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading {program}: {e}"))?;
        wr.write_all(&(n as u32).to_be_bytes())
            .await
            .map_err(|e| format!("sending the stream: {e}"))?;
        if n == 0 {
            break;
        }
        wr.write_all(&buf[..n])
            .await
            .map_err(|e| format!("sending the stream: {e}"))?;
        bytes += n as u64;
    }
    let status = child.wait().await.map_err(|e| e.to_string())?;
    let tail = err.await.unwrap_or_default();
    let ok = status.success() && tail.contains("completed OK!");
    let last = if ok {
        "DONE\n".to_string()
    } else {
        format!(
            "ERR {program} failed ({status}): {}\n",
            tail.trim().replace('\n', " | ")
        )
    };
    wr.write_all(last.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let _ = wr.flush().await;
    if ok {
        Ok(bytes)
    } else {
        Err(last.trim().to_string())
    }
}

/// The target side: fetches a backup from the agent at `addr` into `mbstream -x -C
/// dest`; returns the bytes received.
pub async fn fetch(addr: &str, password: &str, mbstream: &str, dest: &Path) -> SqlResult<u64> {
    let sock = tokio::time::timeout(HANDSHAKE, TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connect to the backup service at {addr}: timed out"))?
        .map_err(|e| format!("connect to the backup service at {addr}: {e}"))?;
    let _ = sock.set_nodelay(true);
    let (rd, mut wr) = sock.into_split();
    let mut rd = BufReader::with_capacity(FRAME, rd);
    let hello = async {
        let mut line = String::new();
        rd.read_line(&mut line).await?;
        let nonce = line
            .trim()
            .strip_prefix(GREETING)
            .map(|s| s.trim().to_string())
            .ok_or_else(|| std::io::Error::other(format!("not a backup service: {line:?}")))?;
        wr.write_all(format!("{}\n", proof(&nonce, password)).as_bytes())
            .await?;
        let mut ok = String::new();
        rd.read_line(&mut ok).await?;
        Ok::<_, std::io::Error>(ok)
    };
    let ok = tokio::time::timeout(HANDSHAKE, hello)
        .await
        .map_err(|_| format!("backup service at {addr}: handshake timed out"))?
        .map_err(|e| format!("backup service at {addr}: {e}"))?;
    if ok.trim() != "OK" {
        return Err(format!("backup service at {addr}: {}", ok.trim()));
    }
    let mut child = Command::new(mbstream)
        .arg("-x")
        .arg("-C")
        .arg(dest)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {mbstream}: {e}"))?;
    let err = tokio::spawn(crate::programs::read_tail(child.stderr.take()));
    let mut into = child.stdin.take().ok_or("no mbstream stdin")?;
    let (bytes, status_line) = match copy_frames(&mut rd, &mut into).await {
        Ok(x) => x,
        Err(e) => {
            let _ = child.start_kill();
            return Err(format!("receiving the backup from {addr}: {e}"));
        }
    };
    let _ = into.shutdown().await;
    drop(into);
    let st = child.wait().await.map_err(|e| format!("{mbstream}: {e}"))?;
    let tail = err.await.unwrap_or_default();
    if status_line.trim() != "DONE" {
        return Err(format!(
            "the source's backup failed: {}",
            status_line.trim()
        ));
    }
    if !st.success() {
        return Err(format!("{mbstream} -x failed ({st}): {}", tail.trim()));
    }
    Ok(bytes)
}

async fn copy_frames<R: AsyncRead + Unpin>(
    rd: &mut BufReader<R>,
    into: &mut tokio::process::ChildStdin,
) -> std::io::Result<(u64, String)> {
    let mut buf = vec![0u8; FRAME];
    let mut bytes = 0u64;
    loop {
        let mut len = [0u8; 4];
        rd.read_exact(&mut len).await?;
        let n = u32::from_be_bytes(len) as usize;
        if n == 0 {
            break;
        }
        if n > buf.len() {
            buf.resize(n, 0);
        }
        rd.read_exact(&mut buf[..n]).await?;
        into.write_all(&buf[..n]).await?;
        bytes += n as u64;
    }
    let mut last = String::new();
    rd.read_line(&mut last).await?;
    Ok((bytes, last))
}

/// Whether `program` can be run (found in PATH or as a path).
pub fn available(program: &str) -> bool {
    let p = Path::new(program);
    if p.components().count() > 1 {
        return p.is_file();
    }
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d: PathBuf| d.join(program).is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_depends_on_both() {
        let a = proof("n1", "pw");
        assert_eq!(a.len(), 64);
        assert_ne!(a, proof("n2", "pw"));
        assert_ne!(a, proof("n1", "pw2"));
        assert!(!a.contains("pw"));
    }

    #[test]
    fn programs_found() {
        assert!(available("sh"));
        assert!(!available("no-such-program-setwise"));
        assert!(available("/bin/sh"));
    }
}
