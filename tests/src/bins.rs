//! Where the Setwise binaries under test are.
//!
//! `$SETWISE_BIN_DIR` if set, else `<target dir>/debug`, where the target dir is
//! `$CARGO_TARGET_DIR` (relative paths taken from the workspace root) or
//! `<workspace>/target`. The binaries are not built by the tests: run
//! `cargo build --workspace --bins` first (`tests/run.sh` does).

use std::path::PathBuf;

/// The gateway.
pub const PROXY: &str = "setwise-proxy";
/// The control plane.
pub const SCHEDULER: &str = "setwise-scheduler";
/// The node agent.
pub const AGENT: &str = "setwise-agent";
/// The DBA command line.
pub const CLI: &str = "setwise";

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The directory holding the binaries.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SETWISE_BIN_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(t) => {
            let t = PathBuf::from(t);
            if t.is_absolute() {
                t
            } else {
                workspace_root().join(t)
            }
        }
        None => workspace_root().join("target"),
    };
    target.join("debug")
}

/// The path of binary `name`; panics with instructions if it has not been built.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    if !path.is_file() {
        panic!(
            "Setwise binary {} not found: run cargo build --workspace --bins first \
             (or set SETWISE_BIN_DIR to the directory holding it)",
            path.display()
        );
    }
    path
}
