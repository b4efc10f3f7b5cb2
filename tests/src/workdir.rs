//! A test's temporary directory: data directories, configs and logs live here.
//!
//! Removed on drop, unless `SETWISE_KEEP_TMP=1` is set, in which case its path is
//! printed and it is left behind. When a test fails its path is printed either way.

use std::path::{Path, PathBuf};

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
}

impl WorkDir {
    /// A new directory `$TMPDIR/setwise-<prefix>-XXXX`.
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("setwise-{prefix}-"))
            .tempdir()?;
        let path = dir.path().to_path_buf();
        Ok(Self {
            dir: Some(dir),
            path,
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
                let _ = dir.keep();
            }
        }
    }
}
