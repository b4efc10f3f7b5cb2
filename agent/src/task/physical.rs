//! The physical path of `rebuild {host, port}` (docs/rebuild.md): a mariadb-backup
//! of the source, streamed from the source's agent ([`crate::backup`]), replaces the
//! node's datadir.
//!
//! 1. The node is fenced as a stopped read-only replica (it keeps serving nothing).
//! 2. The stream is extracted with `mbstream -x` into `<datadir>.rebuild` (beside the
//!    datadir: same filesystem, so the swap is a rename) and `mariadb-backup --prepare`d.
//! 3. The GTID of the backup is read from `mariadb_backup_binlog_info` (or
//!    `xtrabackup_binlog_info`); the files get the datadir's owner.
//! 4. mariadbd is stopped (`SHUTDOWN`), `<datadir>` becomes `<datadir>.old` and the
//!    prepared copy `<datadir>`, and mariadbd is started with `[server] start`.
//! 5. Fenced again, `gtid_slave_pos` = the backup's GTID, replication from the source
//!    by GTID, then `MASTER_GTID_WAIT` for the source's position read at that moment:
//!    caught up. `<datadir>.old` is removed.
//!
//! Before step 4 a failure leaves the node as it was (fenced); after it, the old
//! datadir is put back when the swap or the start fails.

use std::path::{Path, PathBuf};
use std::time::Instant as StdInstant;

use mysql_async::Conn;
use tokio::process::Command;
use tokio::time::Instant;
use tracing::{info, warn};

use super::TaskContext;
use crate::db::{self, SqlResult};

/// Where the source's agent serves backups, found beforehand.
pub struct Source<'a> {
    pub host: &'a str,
    pub port: u16,
    pub backup_addr: &'a str,
}

/// Rebuilds the node; `conn` is replaced by a connection to the restarted server.
/// Returns the outcome line.
pub async fn rebuild(
    conn: &mut Conn,
    ctx: &TaskContext,
    src: &Source<'_>,
    deadline: Instant,
) -> SqlResult<String> {
    let started = StdInstant::now();
    let datadir = PathBuf::from(
        db::global(conn, "datadir")
            .await?
            .trim_end_matches('/')
            .to_string(),
    );
    super::repoint::become_replica(conn, ctx, true, deadline).await?;
    let fresh = sibling(&datadir, "rebuild");
    let old = sibling(&datadir, "old");
    remove_dir(&fresh).await?;
    tokio::fs::create_dir_all(&fresh)
        .await
        .map_err(|e| format!("create {}: {e}", fresh.display()))?;
    info!(source = src.backup_addr, dest = %fresh.display(), "rebuild: fetching a physical backup");
    let bytes = match crate::backup::fetch(
        src.backup_addr,
        &ctx.local.password,
        &ctx.server.mbstream,
        &fresh,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            let _ = remove_dir(&fresh).await;
            return Err(e);
        }
    };
    let fetched = started.elapsed();
    if let Err(e) = prepare(ctx, &fresh).await {
        let _ = remove_dir(&fresh).await;
        return Err(e);
    }
    let gtid = binlog_gtid(&fresh).await?;
    // Extracted as the agent's user: owned like the datadir it replaces (e.g. mysql under
    // systemd, with the agent running as root).
    if let Err(e) = own_like(&datadir, &fresh).await {
        let _ = remove_dir(&fresh).await;
        return Err(e);
    }
    info!(bytes, gtid = %gtid, "rebuild: backup prepared; stopping mariadbd to swap the datadir");

    let taken = std::mem::replace(conn, db::connect(&ctx.local).await?);
    crate::mysqld::stop(taken, &ctx.local, deadline).await?;
    remove_dir(&old).await?;
    rename(&datadir, &old).await?;
    if let Err(e) = rename(&fresh, &datadir).await {
        let _ = rename(&old, &datadir).await;
        let _ = crate::mysqld::start(&ctx.server.start, &ctx.local, deadline).await;
        return Err(e);
    }
    *conn = match crate::mysqld::start(&ctx.server.start, &ctx.local, deadline).await {
        Ok(c) => c,
        Err(e) => {
            return Err(format!(
                "{e} (the rebuilt datadir is {}, the previous one {})",
                datadir.display(),
                old.display()
            ))
        }
    };
    info!("rebuild: mariadbd started on the rebuilt datadir");
    super::repoint::become_replica(conn, ctx, true, deadline).await?;
    db::exec(conn, "RESET SLAVE ALL").await?;
    db::exec(
        conn,
        &format!("SET GLOBAL gtid_slave_pos = {}", db::quote(&gtid)),
    )
    .await?;
    super::repoint::replicate_from(conn, ctx, src.host, src.port, deadline).await?;
    let caught_up = catch_up(conn, ctx, src, deadline).await?;
    if let Err(e) = remove_dir(&old).await {
        warn!("rebuild: {e}");
    }
    Ok(format!(
        "physical (mariadb-backup from {}:{} via {}): {} streamed in {:.1} s, replicating from \
         GTID {gtid}, caught up to {caught_up} after {:.1} s",
        src.host,
        src.port,
        src.backup_addr,
        human_bytes(bytes),
        fetched.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ))
}

/// `<datadir>.<what>`.
fn sibling(datadir: &Path, what: &str) -> PathBuf {
    let mut s = datadir.as_os_str().to_owned();
    s.push(format!(".{what}"));
    PathBuf::from(s)
}

async fn remove_dir(p: &Path) -> SqlResult<()> {
    match tokio::fs::remove_dir_all(p).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("remove {}: {e}", p.display())),
    }
}

async fn rename(from: &Path, to: &Path) -> SqlResult<()> {
    tokio::fs::rename(from, to)
        .await
        .map_err(|e| format!("rename {} to {}: {e}", from.display(), to.display()))
}

/// Gives every file under `dir` the owner and group of `like` (nothing to do when
/// they are already the agent's).
async fn own_like(like: &Path, dir: &Path) -> SqlResult<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = tokio::fs::metadata(like)
        .await
        .map_err(|e| format!("stat {}: {e}", like.display()))?;
    let (uid, gid) = (meta.uid(), meta.gid());
    // SAFETY: geteuid/getegid have no preconditions.
    if (uid, gid) == unsafe { (libc::geteuid(), libc::getegid()) } {
        return Ok(());
    }
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || chown_tree(&dir, uid, gid))
        .await
        .map_err(|e| e.to_string())?
}

fn chown_tree(p: &Path, uid: u32, gid: u32) -> SqlResult<()> {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", p.display()))?;
    if p.is_dir() && !p.is_symlink() {
        let entries = std::fs::read_dir(p).map_err(|e| format!("read {}: {e}", p.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("read {}: {e}", p.display()))?;
            chown_tree(&entry.path(), uid, gid)?;
        }
    }
    Ok(())
}

async fn prepare(ctx: &TaskContext, dir: &Path) -> SqlResult<()> {
    let out = Command::new(&ctx.server.mariadb_backup)
        .arg("--prepare")
        .arg(format!("--target-dir={}", dir.display()))
        .arg(format!(
            "--use-memory={}M",
            ctx.server.prepare_memory_mb.max(16)
        ))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", ctx.server.mariadb_backup))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || !err.contains("completed OK!") {
        let tail: String = err.lines().rev().take(8).collect::<Vec<_>>().join(" | ");
        return Err(format!(
            "mariadb-backup --prepare failed ({}): {tail}",
            out.status
        ));
    }
    Ok(())
}

/// The GTID of a backup: the third field of its binlog-info file (empty when the
/// source had written no binlog).
pub async fn binlog_gtid(dir: &Path) -> SqlResult<String> {
    for name in ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"] {
        if let Ok(text) = tokio::fs::read_to_string(dir.join(name)).await {
            return Ok(gtid_of_binlog_info(&text));
        }
    }
    Ok(String::new())
}

/// `mysql-bin.000001\t824\t0-1-3` → `0-1-3`.
pub fn gtid_of_binlog_info(text: &str) -> String {
    text.lines()
        .next()
        .and_then(|l| l.split('\t').nth(2))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Waits until the node has applied what the source had written when asked; returns
/// that position.
async fn catch_up(
    conn: &mut Conn,
    ctx: &TaskContext,
    src: &Source<'_>,
    deadline: Instant,
) -> SqlResult<String> {
    let pos = {
        let mut s = db::connect(&ctx.remote(src.host, src.port)).await?;
        let p = db::global(&mut s, "gtid_binlog_pos").await;
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), s.disconnect()).await;
        p?
    };
    let secs = deadline
        .saturating_duration_since(Instant::now())
        .as_secs()
        .max(1);
    let r = db::scalar(
        conn,
        &format!("SELECT MASTER_GTID_WAIT({}, {secs})", db::quote(&pos)),
    )
    .await?;
    if r.as_deref() != Some("0") {
        return Err(format!(
            "replication did not catch up with the source's {pos} in time"
        ));
    }
    Ok(pos)
}

pub fn human_bytes(b: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if b as f64 >= 1024.0 * MIB {
        format!("{:.2} GiB", b as f64 / (1024.0 * MIB))
    } else {
        format!("{:.1} MiB", b as f64 / MIB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binlog_info() {
        assert_eq!(
            gtid_of_binlog_info("mysql-bin.000001\t824\t0-1-3\n"),
            "0-1-3"
        );
        assert_eq!(
            gtid_of_binlog_info("mysql-bin.000002\t10\t0-1-3,1-2-9"),
            "0-1-3,1-2-9"
        );
        assert_eq!(gtid_of_binlog_info("mysql-bin.000001\t824\n"), "");
        assert_eq!(
            sibling(Path::new("/d/n0/data"), "old"),
            PathBuf::from("/d/n0/data.old")
        );
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
