//! Child processes that cannot outlive the test.
//!
//! [`ChildGuard::spawn`] starts a program with stdin closed and stdout + stderr
//! appended to one log file. Dropping the guard kills the process (`SIGKILL`) and
//! reaps it; if the test is panicking, the tail of the log is printed first so a
//! failure shows what the server said.
//!
//! Children also get `PR_SET_PDEATHSIG = SIGKILL`, so the kernel kills them if the
//! test process dies without running destructors (a test timeout, `kill -9`).
//! The kernel ties that signal to the *thread* that forked, not the process, so
//! every child is forked by one spawner thread that lives as long as the process.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

use anyhow::{anyhow, Context};

/// Lines of log printed for each child when a test fails.
pub const TAIL_LINES: usize = 40;

type Job = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Forks `cmd` from the long-lived spawner thread (see the module docs).
fn spawn_from_spawner(cmd: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("setwise-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("start the spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// A running child process, killed and reaped on drop.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    /// Starts `cmd` with its output appended to `log`. `name` labels it in messages.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<Self> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open log {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid, raise) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
        let program = format!("{:?}", cmd.get_program());
        let child = spawn_from_spawner(cmd).with_context(|| format!("spawn {name} ({program})"))?;
        Ok(Self {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
            status: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id (while it has not been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Whether the process is still running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        self.try_status().is_none()
    }

    /// The exit status, if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(st)) = child.try_wait() {
                    self.status = Some(st);
                    self.child = None;
                }
            }
        }
        self.status
    }

    /// Fails (with the log tail) if the process has exited: for readiness loops.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        match self.try_status() {
            None => Ok(()),
            Some(st) => Err(anyhow!(
                "{} exited with {st} before it was ready; log {}:\n{}",
                self.name,
                self.log.display(),
                self.log_tail(TAIL_LINES)
            )),
        }
    }

    /// Sends SIGKILL and reaps the process; does nothing if it already ended.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            if let Ok(st) = child.wait() {
                self.status = Some(st);
            }
        }
    }

    /// Sends a signal (e.g. `libc::SIGTERM`, `libc::SIGSTOP`) without waiting.
    pub fn signal(&self, sig: libc::c_int) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| anyhow!("{} is not running", self.name))?;
        // SAFETY: plain kill(2) on our own child.
        if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "==== {} — last {TAIL_LINES} lines of {} ====\n{}",
                self.name,
                self.log.display(),
                self.log_tail(TAIL_LINES)
            );
        }
        self.kill();
    }
}

/// The last `n` lines of a file (reads at most its last 64 KiB).
pub fn log_tail(path: &Path, n: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_on_drop_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sh.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo hello; echo oops >&2; exec sleep 600"]);
        let mut g = ChildGuard::spawn("sh", cmd, &log).unwrap();
        let pid = g.pid().unwrap();
        let start = std::time::Instant::now();
        while !log_tail(&log, 5).contains("oops") {
            assert!(start.elapsed().as_secs() < 10, "no output");
            std::thread::sleep(crate::POLL);
        }
        assert!(g.is_running());
        assert!(g.log_tail(5).contains("hello"));
        drop(g);
        // SAFETY: signal 0 only checks existence.
        assert_ne!(
            unsafe { libc::kill(pid as libc::pid_t, 0) },
            0,
            "child still alive"
        );
    }
}
