//! Measurements of the MariaDB host that SQL does not give: CPU used by the
//! `mariadbd` process (from `/proc/<pid>/stat`, pid from `@@pid_file`) and the bytes
//! its datadir takes on disk. Both are None when the files are not readable from
//! here (the agent runs on another host, or lacks permission).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the datadir is walked again (walking a big datadir costs I/O).
pub const DATADIR_REFRESH: Duration = Duration::from_secs(10);

/// CPU percent of one core between two samples of one process.
#[derive(Debug, Default)]
pub struct CpuSampler {
    /// `(pid, utime + stime in clock ticks, when)` of the previous sample.
    last: Option<(u32, u64, Instant)>,
}

impl CpuSampler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Samples the process named by `pid_file`; the percent since the previous
    /// sample of the same process (None on the first sample, after a restart, or
    /// when the pid file or `/proc` entry cannot be read or is not `mariadbd`).
    pub fn sample(&mut self, pid_file: Option<&str>) -> Option<f64> {
        let now = Instant::now();
        let Some(pid) = pid_file.and_then(read_pid).filter(|p| is_mariadbd(*p)) else {
            self.last = None;
            return None;
        };
        let Some(ticks) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| cpu_ticks(&s))
        else {
            self.last = None;
            return None;
        };
        let prev = self.last.replace((pid, ticks, now));
        let (ppid, pticks, pwhen) = prev?;
        if ppid != pid || ticks < pticks {
            return None;
        }
        let wall = now.duration_since(pwhen).as_secs_f64();
        cpu_percent(ticks - pticks, clock_ticks_per_sec(), wall)
    }
}

/// Percent of one core: `ticks` of CPU over `wall` seconds.
pub fn cpu_percent(ticks: u64, ticks_per_sec: u64, wall: f64) -> Option<f64> {
    if wall <= 0.0 || ticks_per_sec == 0 {
        return None;
    }
    let pct = ticks as f64 / ticks_per_sec as f64 / wall * 100.0;
    Some((pct * 10.0).round() / 10.0)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line. The command
/// name (field 2) is in parentheses and may hold spaces, so fields are counted
/// after its closing parenthesis.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ")": field 3 (state) is the first; utime is field 14 → index 11.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The mariadbd process named by `pid_file`, if the kernel has it stopped
/// (`/proc/<pid>/stat` state `T` or `t`: SIGSTOP, a debugger): `Some(pid)`.
/// None when it runs, or when that cannot be read from here.
pub fn stopped_pid(pid_file: &str) -> Option<u32> {
    let pid = read_pid(pid_file).filter(|p| is_mariadbd(*p))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    matches!(state_letter(&stat), Some('T' | 't')).then_some(pid)
}

/// Field 3 (the state letter) of a `/proc/<pid>/stat` line.
pub fn state_letter(stat: &str) -> Option<char> {
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

fn read_pid(pid_file: &str) -> Option<u32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// Whether `pid` runs a MariaDB server (so a stale pid file naming another
/// process, or a pid of another host's namespace, is not measured).
fn is_mariadbd(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| matches!(c.trim(), "mariadbd" | "mysqld"))
        .unwrap_or(false)
}

fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// The datadir's size, walked at most every [`DATADIR_REFRESH`] (in a blocking
/// thread, bounded), remembered in between.
#[derive(Debug, Default)]
pub struct DatadirSize {
    last: Option<(PathBuf, Option<u64>, Instant)>,
}

impl DatadirSize {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes under `datadir` (None when it cannot be read).
    pub async fn get(&mut self, datadir: Option<&str>) -> Option<u64> {
        let dir = PathBuf::from(datadir?);
        if let Some((d, v, at)) = &self.last {
            if *d == dir && at.elapsed() < DATADIR_REFRESH {
                return *v;
            }
        }
        let walk_dir = dir.clone();
        let walked = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::task::spawn_blocking(move || dir_bytes(&walk_dir)),
        )
        .await;
        let v = match walked {
            Ok(Ok(v)) => v,
            _ => None,
        };
        self.last = Some((dir, v, Instant::now()));
        v
    }
}

/// Sum of the sizes of the regular files under `dir` (symbolic links not followed;
/// unreadable entries skipped). None when `dir` itself cannot be read.
pub fn dir_bytes(dir: &Path) -> Option<u64> {
    let mut total = 0u64;
    let mut stack = vec![std::fs::read_dir(dir).ok()?];
    while let Some(mut it) = stack.pop() {
        while let Some(entry) = it.next() {
            let Ok(entry) = entry else { continue };
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                if let Ok(sub) = std::fs::read_dir(entry.path()) {
                    stack.push(it);
                    stack.push(sub);
                    break;
                }
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_ticks() {
        let line = "1234 (mariadbd) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 50 0 0 20 0 \
                    40 0 100 1000000 5000 18446744073709551615";
        assert_eq!(cpu_ticks(line), Some(300));
        // A command name with spaces and parentheses.
        let line = "7 (my (odd) name) R 1 7 7 0 -1 0 0 0 0 0 11 22 0 0";
        assert_eq!(cpu_ticks(line), Some(33));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn stat_line_state() {
        assert_eq!(state_letter("1234 (mariadbd) T 1 1234"), Some('T'));
        assert_eq!(state_letter("7 (my (odd) name) S 1 7"), Some('S'));
        assert_eq!(state_letter("garbage"), None);
    }

    #[test]
    fn percent_of_one_core() {
        assert_eq!(cpu_percent(50, 100, 1.0), Some(50.0));
        assert_eq!(cpu_percent(300, 100, 1.5), Some(200.0));
        assert_eq!(cpu_percent(1, 100, 0.0), None);
    }

    #[test]
    fn own_process_is_not_mariadbd() {
        let dir = std::env::temp_dir().join(format!("setwise-agent-host-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let pid_file = dir.join("p.pid");
        std::fs::write(&pid_file, std::process::id().to_string()).unwrap();
        let mut s = CpuSampler::new();
        assert_eq!(s.sample(pid_file.to_str()), None);
        assert_eq!(s.sample(Some("/nonexistent/p.pid")), None);
        std::fs::write(dir.join("sub/f"), [0u8; 1000]).unwrap();
        let n = dir_bytes(&dir).unwrap();
        assert!(n >= 1000, "{n}");
        assert_eq!(dir_bytes(Path::new("/nonexistent/dir")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
