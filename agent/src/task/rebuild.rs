//! `rebuild {host, port}`: throw the node's data away, copy the source's, replicate
//! from it (docs/rebuild.md). [`rebuild`] takes the physical path
//! ([`super::physical`]: mariadb-backup streamed from the source's agent) whenever it
//! can, and says why not otherwise ([`physical_blocker`]); the logical copy below is
//! the fallback, named as such in the task's outcome.
//!
//! The logical copy:
//! 1. The node becomes a stopped, read-only replica ([`super::repoint::become_replica`]).
//! 2. Its user databases (all but `mysql`, `information_schema`, `performance_schema`,
//!    `sys`) are dropped and `RESET MASTER` throws its binlog (and any divergent
//!    transaction in it) away.
//! 3. `mariadb-dump --single-transaction --gtid --master-data=1` of the source's user
//!    databases is streamed through the agent into `mariadb` on the node with
//!    `sql_log_bin = 0`; the agent picks the dump's `SET GLOBAL gtid_slave_pos` out of
//!    the stream and sets it again after the load.
//! 4. Replication from the source as in `repoint`.
//!
//! Both programs run under the task's bound (killed when it passes); their stderr ends
//! up in the task's error.

use std::process::Stdio;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;
use tracing::{info, warn};

use super::TaskContext;
use crate::db::{self, SqlResult};
use crate::db::{describe, ProbeTarget};
use crate::programs::{read_tail, server_args};

/// Rebuilds the node from `host:port`; returns the outcome line.
pub async fn rebuild(
    conn: &mut Conn,
    ctx: &TaskContext,
    host: &str,
    port: u16,
    deadline: Instant,
) -> SqlResult<String> {
    let backup_addr = source_backup_addr(ctx, host, port).await;
    match physical_blocker(ctx, backup_addr.as_deref()) {
        None => {
            let src = super::physical::Source {
                host,
                port,
                backup_addr: backup_addr.as_deref().unwrap_or_default(),
            };
            super::physical::rebuild(conn, ctx, &src, deadline)
                .await
                .map_err(|e| format!("physical rebuild: {e}"))
        }
        Some(why) => {
            warn!("rebuild: falling back to the logical copy: {why}");
            let started = std::time::Instant::now();
            logical(conn, ctx, host, port, deadline).await?;
            Ok(format!(
                "logical copy (mariadb-dump) from {host}:{port} in {:.1} s, fallback: {why}",
                started.elapsed().as_secs_f64()
            ))
        }
    }
}

/// Why the physical path cannot be taken, if it cannot.
pub fn physical_blocker(ctx: &TaskContext, backup_addr: Option<&str>) -> Option<String> {
    if ctx.server.start.trim().is_empty() {
        return Some(
            "this agent cannot restart its mariadbd (no [server] start / --mysqld-start)".into(),
        );
    }
    for p in [&ctx.server.mariadb_backup, &ctx.server.mbstream] {
        if !crate::backup::available(p) {
            return Some(format!("{p} is not installed on this node's host"));
        }
    }
    if backup_addr.is_none() {
        return Some(
            "the source's agent serves no backups (no [server] backup_listen / --backup-listen, \
             or it does not report)"
                .into(),
        );
    }
    None
}

/// Where the agent of the node at `host:port` serves backups: its health report
/// (found by the node record's address, or the report's own `addr`).
async fn source_backup_addr(ctx: &TaskContext, host: &str, port: u16) -> Option<String> {
    let topo = ctx.topo.as_ref()?;
    let read = async {
        let nodes = topo.nodes_of(&ctx.set).await.ok()?;
        let id = nodes
            .iter()
            .find(|n| n.host == host && n.port == port)
            .map(|n| n.id.clone());
        let addr = format!("{host}:{port}");
        let reports = topo.list_health().await.ok()?;
        reports
            .into_iter()
            .filter(|r| r.set == ctx.set)
            .find(|r| Some(&r.node) == id.as_ref() || r.addr.as_deref() == Some(addr.as_str()))
            .and_then(|r| r.backup_addr)
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .ok()
        .flatten()
}

/// The logical copy (module docs).
async fn logical(
    conn: &mut Conn,
    ctx: &TaskContext,
    host: &str,
    port: u16,
    deadline: Instant,
) -> SqlResult<()> {
    let source = ctx.remote(host, port);
    let dbs = {
        let mut src = db::connect(&source).await?;
        let r = user_databases(&mut src).await;
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), src.disconnect()).await;
        r?
    };
    super::repoint::become_replica(conn, ctx, true, deadline).await?;
    db::exec(conn, "SET SESSION sql_log_bin = 0").await?;
    let local_dbs = user_databases(conn).await?;
    for d in &local_dbs {
        db::exec(conn, &format!("DROP DATABASE {}", db::quote_ident(d))).await?;
    }
    db::exec(conn, "RESET MASTER").await?;
    info!(dropped = ?local_dbs, source = %format!("{host}:{port}"), databases = ?dbs,
          "rebuild: local data dropped, copying");
    let gtid = if dbs.is_empty() {
        // Nothing to copy: start from the source's current position.
        let mut src = db::connect(&source).await?;
        let pos = db::global(&mut src, "gtid_binlog_pos").await;
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), src.disconnect()).await;
        pos?
    } else {
        copy(&source, &ctx.local, &dbs).await?
    };
    db::exec(
        conn,
        &format!("SET GLOBAL gtid_slave_pos = {}", db::quote(&gtid)),
    )
    .await?;
    info!(gtid_slave_pos = %gtid, "rebuild: copy loaded");
    super::repoint::replicate_from(conn, ctx, host, port, deadline).await
}

/// Every database but the server's own.
async fn user_databases(conn: &mut Conn) -> SqlResult<Vec<String>> {
    let all: Vec<String> = conn
        .query("SHOW DATABASES")
        .await
        .map_err(|e| format!("SHOW DATABASES: {}", describe(&e)))?;
    Ok(all
        .into_iter()
        .filter(|d| !db::is_system_schema(d))
        .collect())
}

/// The `mariadb-dump` arguments for `dbs` of `source`.
pub fn dump_args(source: &ProbeTarget, dbs: &[String]) -> Vec<String> {
    let mut a = server_args(source);
    a.extend(
        [
            "--single-transaction",
            "--gtid",
            "--master-data=1",
            "--routines",
            "--events",
            "--triggers",
            "--hex-blob",
            "--skip-dump-date",
            "--databases",
        ]
        .map(String::from),
    );
    a.extend(dbs.iter().cloned());
    a
}

/// The `mariadb` arguments that load a dump into `local` without binlogging it.
pub fn load_args(local: &ProbeTarget) -> Vec<String> {
    let mut a = server_args(local);
    a.push(format!(
        "--connect-timeout={}",
        local.connect_timeout.as_secs().max(1)
    ));
    a.extend(
        [
            "--init-command=SET SESSION sql_log_bin = 0",
            "--binary-mode",
            "--batch",
        ]
        .map(String::from),
    );
    a
}

/// The GTID of a dump line `SET GLOBAL gtid_slave_pos='0-1-5';` (also commented).
pub fn gtid_of_line(line: &str) -> Option<String> {
    let l = line.trim_start_matches("-- ").trim();
    let rest = l.strip_prefix("SET GLOBAL gtid_slave_pos")?.trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    let v = rest.strip_prefix('\'')?;
    let end = v.find('\'')?;
    Some(v[..end].to_string())
}

/// Streams the dump into the local server; returns the dump's GTID position.
async fn copy(source: &ProbeTarget, local: &ProbeTarget, dbs: &[String]) -> SqlResult<String> {
    let mut dump = Command::new("mariadb-dump")
        .args(dump_args(source, dbs))
        .env("MYSQL_PWD", &source.password)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run mariadb-dump: {e}"))?;
    let mut load = Command::new("mariadb")
        .args(load_args(local))
        .env("MYSQL_PWD", &local.password)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run mariadb: {e}"))?;
    let dump_err = tokio::spawn(read_tail(dump.stderr.take()));
    let load_err = tokio::spawn(read_tail(load.stderr.take()));
    let mut out = BufReader::with_capacity(1 << 20, dump.stdout.take().ok_or("no dump stdout")?);
    let mut into = load.stdin.take().ok_or("no mariadb stdin")?;

    let mut gtid = None;
    let mut line = Vec::with_capacity(1 << 16);
    let mut bytes = 0u64;
    let mut pipe_error = None;
    loop {
        line.clear();
        match out.read_until(b'\n', &mut line).await {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(e) => {
                pipe_error = Some(format!("reading mariadb-dump output: {e}"));
                break;
            }
        }
        if line.starts_with(b"SET GLOBAL gtid_slave_pos")
            || line.starts_with(b"-- SET GLOBAL gtid_slave_pos")
        {
            gtid = gtid_of_line(&String::from_utf8_lossy(&line));
        }
        if let Err(e) = into.write_all(&line).await {
            pipe_error = Some(format!("writing to mariadb: {e}"));
            break;
        }
    }
    let _ = into.shutdown().await;
    drop(into);
    if pipe_error.is_some() {
        // Nobody reads the dump any more: it would block on a full pipe.
        let _ = dump.start_kill();
    }
    let dump_status = dump
        .wait()
        .await
        .map_err(|e| format!("mariadb-dump: {e}"))?;
    let load_status = load.wait().await.map_err(|e| format!("mariadb: {e}"))?;
    let dump_err = dump_err.await.unwrap_or_default();
    let load_err = load_err.await.unwrap_or_default();
    let mut errors = Vec::new();
    if !dump_status.success() && pipe_error.is_none() {
        errors.push(format!(
            "mariadb-dump failed ({dump_status}): {}",
            dump_err.trim()
        ));
    }
    if !load_status.success() {
        errors.push(format!(
            "loading the dump failed ({load_status}): {}",
            load_err.trim()
        ));
    }
    if errors.is_empty() {
        errors.extend(pipe_error);
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    info!(bytes, "rebuild: dump streamed");
    gtid.ok_or_else(|| "the dump holds no SET GLOBAL gtid_slave_pos line".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn target() -> ProbeTarget {
        ProbeTarget {
            node: "n".into(),
            host: "10.0.0.5".into(),
            port: 3311,
            user: "setwise".into(),
            password: "secret".into(),
            connect_timeout: Duration::from_secs(1),
            probe_timeout: Duration::from_secs(2),
            tls: Default::default(),
        }
    }

    #[test]
    fn gtid_lines() {
        assert_eq!(
            gtid_of_line("SET GLOBAL gtid_slave_pos='0-101-5';\n").as_deref(),
            Some("0-101-5")
        );
        assert_eq!(
            gtid_of_line("-- SET GLOBAL gtid_slave_pos='0-1-2,1-2-3';").as_deref(),
            Some("0-1-2,1-2-3")
        );
        assert_eq!(
            gtid_of_line("SET GLOBAL gtid_slave_pos='';").as_deref(),
            Some("")
        );
        assert_eq!(gtid_of_line("INSERT INTO t VALUES (1)"), None);
    }

    #[test]
    fn program_arguments() {
        let a = dump_args(&target(), &["shop".into(), "setwise_sys".into()]);
        assert!(a.contains(&"--host=10.0.0.5".to_string()));
        assert!(a.contains(&"--master-data=1".to_string()));
        assert_eq!(&a[a.len() - 3..], ["--databases", "shop", "setwise_sys"]);
        assert!(!a.iter().any(|x| x.contains("secret")));
        let l = load_args(&target());
        assert!(l.contains(&"--init-command=SET SESSION sql_log_bin = 0".to_string()));
        assert!(!l.iter().any(|x| x.contains("secret")));
    }
}
