//! A test's temporary directory: data directories, configs and logs live here.
//!
//! Removed on drop, unless `SETWISE_KEEP_TMP=1` is set, in which case its path is
//! printed and it is left behind. When a test fails its path is printed either way.
//!
//! A test process killed outright (a test timeout) cannot remove its directory, so each
//! directory holds a `.lock` file `flock`ed by its owner while it lives; creating a new
//! directory sweeps away those whose owner is gone (but not those kept on purpose).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const LOCK: &str = ".lock";
const KEPT: &str = ".kept";

fn try_lock(f: &File) -> bool {
    // SAFETY: flock on a descriptor we own; released when the file is closed.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Removes `$TMPDIR/setwise-*` work dirs left by test processes that died.
fn sweep_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        if !name.to_string_lossy().starts_with("setwise-") || path.join(KEPT).exists() {
            continue;
        }
        let Ok(lock) = File::open(path.join(LOCK)) else {
            continue;
        };
        if try_lock(&lock) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// Whether `SETWISE_KEEP_TMP=1` asks to keep temporary directories.
pub fn keep_tmp() -> bool {
    matches!(
        std::env::var("SETWISE_KEEP_TMP").as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

#[derive(Debug)]
pub struct WorkDir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    _lock: File,
}

impl WorkDir {
    /// A new directory `$TMPDIR/setwise-<prefix>-XXXX`.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        sweep_orphans();
        let dir = tempfile::Builder::new()
            .prefix(&format!("setwise-{prefix}-"))
            .tempdir()?;
        let path = dir.path().to_path_buf();
        // Locked before it gets the name sweepers look for, so none sees it unlocked.
        let tmp = path.join(".lock.new");
        let lock = File::create(&tmp)?;
        if !try_lock(&lock) {
            anyhow::bail!("cannot lock {}", tmp.display());
        }
        std::fs::rename(&tmp, path.join(LOCK))?;
        Ok(Self {
            dir: Some(dir),
            path,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/name`, created as a directory.
    pub fn subdir(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.path.join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let keep = keep_tmp();
        if keep || std::thread::panicking() {
            eprintln!(
                "setwise-tests: work dir {} ({})",
                self.path.display(),
                if keep {
                    "kept"
                } else {
                    "removed; SETWISE_KEEP_TMP=1 keeps it"
                }
            );
        }
        if let Some(dir) = self.dir.take() {
            if keep {
                let _ = File::create(self.path.join(KEPT));
                let _ = dir.keep();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orphans_are_swept_live_dirs_are_not() {
        let live = WorkDir::new("unit").unwrap();
        // An orphan: a lock file nobody holds.
        let orphan = tempfile::Builder::new()
            .prefix("setwise-unit-")
            .tempdir()
            .unwrap()
            .keep();
        File::create(orphan.join(LOCK)).unwrap();
        let other = WorkDir::new("unit").unwrap();
        assert!(!orphan.exists(), "orphan swept");
        assert!(live.path().exists() && other.path().exists());
        let (a, b) = (live.path().to_path_buf(), other.path().to_path_buf());
        drop(live);
        drop(other);
        assert!(!a.exists() && !b.exists());
    }
}
