//! The agent's main loop. Every interval: probe the MariaDB and read the set's view
//! from etcd ([`crate::view`]) side by side, add the host measurements and the gap to
//! the primary, publish the report, and on a writable primary keep the semi-sync
//! settings in line with the set's sync mode ([`crate::sync`]). Beside it run the
//! task watcher ([`crate::task::watch`]), the replica's look at its prepared XA
//! branches ([`crate::prepared::watch`]) and the statistics collector
//! ([`crate::stats`], published here under the report's lease). Logs changes of
//! state and of etcd reachability; on SIGTERM/SIGINT revokes the lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{mpsc, watch};
use topo::{NodeStats, Topo};
use tracing::{info, warn};

use crate::config::AgentConfig;
use crate::db::ProbeTarget;
use crate::host::{CpuSampler, DatadirSize};
use crate::probe::Prober;
use crate::report::{build_report, state_word, Reporter};
use crate::task::watch::{now_ms, TaskWatcher};
use crate::task::TaskContext;
use crate::view::SetView;

/// Runs until `shutdown` turns true.
pub async fn run(cfg: AgentConfig, mut shutdown: watch::Receiver<bool>) -> Result<()> {
    let topo = Topo::connect(&cfg.etcd)
        .await
        .with_context(|| format!("cannot use etcd at {}", cfg.etcd.endpoints.join(",")))?;
    crate::metrics::install(&cfg.metrics_listen, &cfg.node, &cfg.set)?;
    let target = ProbeTarget::new(&cfg.node, &cfg.mysql)?;
    let mut prober = Prober::new(target.clone());
    prober.set_frozen_after(Duration::from_millis(cfg.mysql.frozen_after_ms));
    let mut reporter = Reporter::new(topo.clone(), cfg.lease_ttl);
    info!(
        node = %cfg.node,
        set = %cfg.set,
        mysql = %cfg.mysql.addr,
        etcd = %cfg.etcd.endpoints.join(","),
        cluster = %cfg.etcd.cluster,
        interval_ms = cfg.interval_ms,
        lease_ttl = cfg.lease_ttl,
        stats_interval_ms = cfg.stats_interval_ms,
        "setwise-agent starting"
    );
    let etcd_timeout = Duration::from_millis(cfg.etcd.timeout_ms.max(100));
    let busy = Arc::new(AtomicBool::new(false));
    let mut task_ctx = TaskContext::new(&cfg)?;
    task_ctx.topo = Some(topo.clone());
    let backup_addr = match cfg.server.backup_listen.trim() {
        "" => None,
        listen => {
            let server = crate::backup::BackupServer::bind(
                listen,
                target.clone(),
                &cfg.server.mariadb_backup,
            )
            .await?;
            let addr = server.local_addr();
            tokio::spawn(server.serve(shutdown.clone()));
            Some(addr)
        }
    };
    let tasks = tokio::spawn(
        TaskWatcher::new(
            topo.clone(),
            &cfg.set,
            &cfg.node,
            task_ctx,
            busy.clone(),
            etcd_timeout,
        )
        .run(shutdown.clone()),
    );
    let prepared = tokio::spawn(
        crate::prepared::watch::Watch::new(
            target.clone(),
            topo.clone(),
            &cfg.set,
            &cfg.node,
            busy.clone(),
            etcd_timeout,
        )
        .run(shutdown.clone()),
    );
    let (stats_tx, mut stats_rx) = mpsc::channel::<NodeStats>(1);
    let stats = tokio::spawn(stats_loop(
        target.clone(),
        cfg.set.clone(),
        cfg.stats_interval(),
        stats_tx,
        shutdown.clone(),
    ));

    let mut cpu = CpuSampler::new();
    let mut disk = DatadirSize::new();
    let mut stall = crate::stall::StallWatch::default();
    let mut tick = tokio::time::interval(cfg.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frozen_tick = tokio::time::interval(crate::probe::FROZEN_CHECK);
    frozen_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_state: Option<(&'static str, Option<String>)> = None;
    let mut etcd_failing = false;
    let mut last_sync_error: Option<String> = None;
    let mut release = crate::sync::Release::default();
    let fencing = Arc::new(AtomicBool::new(false));
    loop {
        // Between probes, a stopped process is reported at once.
        let mut early = None;
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            _ = tick.tick() => {}
            _ = frozen_tick.tick() => {
                if last_state.as_ref().is_some_and(|s| s.0 == "frozen") {
                    continue;
                }
                match prober.frozen() {
                    Some(f) => early = Some(f),
                    None => continue,
                }
            }
            Some(s) = stats_rx.recv() => {
                match tokio::time::timeout(etcd_timeout, reporter.publish_stats(&s)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::debug!("cannot publish statistics: {e:#}"),
                    Err(_) => tracing::debug!("publishing statistics timed out"),
                }
                continue;
            }
        }
        let view_read = async {
            match tokio::time::timeout(etcd_timeout, SetView::load(&topo, &cfg.set, &cfg.node))
                .await
            {
                Ok(Ok(v)) => Some(v),
                _ => None,
            }
        };
        let started = std::time::Instant::now();
        let ((outcome, took), view) = match early {
            Some(f) => ((f, std::time::Duration::ZERO), None),
            None => tokio::select! {
                r = async {
                    let timed = async { (prober.probe().await, started.elapsed()) };
                    tokio::join!(timed, view_read)
                } => r,
                _ = shutdown.wait_for(|s| *s) => break,
            },
        };
        if let Some(v) = &view {
            prober.set_may_write(v.i_am_primary());
        }
        let mut report = build_report(&cfg.node, &cfg.set, &outcome, now_ms());
        report.gap_trx = view
            .as_ref()
            .and_then(|v| v.gap_trx(outcome.gtid_current_pos.as_deref()));
        report.sql_stalled_ms = stall.observe(
            outcome.gtid_current_pos.as_deref(),
            report.gtid_io_pos.as_deref(),
            report.slave_sql_running == Some(true),
            std::time::Instant::now(),
        );
        report.cpu_pct = cpu.sample(outcome.pid_file.as_deref());
        report.datadir_bytes = disk.get(outcome.datadir.as_deref()).await;
        report.addr = Some(cfg.mysql.addr.clone());
        report.backup_addr = backup_addr.clone();
        crate::metrics::report(&report, took);

        let state = (state_word(&report), report.error.clone());
        if last_state.as_ref().map(|s| s.0) != Some(state.0) {
            match &state.1 {
                Some(err) => warn!(state = state.0, "MariaDB {}: {err}", cfg.mysql.addr),
                None => info!(state = state.0, "MariaDB {}", cfg.mysql.addr),
            }
        }
        last_state = Some(state);
        match tokio::time::timeout(etcd_timeout, reporter.publish(&report)).await {
            Ok(Ok(())) => {
                if etcd_failing {
                    info!("health reports reach etcd again");
                    etcd_failing = false;
                }
            }
            Ok(Err(e)) => {
                if !etcd_failing {
                    warn!("cannot publish health report: {e:#}");
                    etcd_failing = true;
                }
            }
            Err(_) => {
                if !etcd_failing {
                    warn!("publishing the health report timed out");
                    etcd_failing = true;
                }
            }
        }

        // Sync mode on a writable primary (not while a task may be changing it).
        let Some(view) = view else { continue };
        if let Some(kill_clients) = view.demoted_but_writable(outcome.read_only) {
            if !busy.load(Ordering::SeqCst) {
                fence_now(&target, kill_clients, cfg.task_timeout(), &fencing);
            }
            continue;
        }
        let Some(set) = view.set.as_ref() else {
            continue;
        };
        if !view.i_am_primary() || outcome.read_only != Some(false) || busy.load(Ordering::SeqCst) {
            continue;
        }
        let want = release.want(set, outcome.semi_sync_clients, std::time::Instant::now());
        let r = tokio::time::timeout(
            cfg.mysql.probe_timeout(),
            crate::sync::reconcile(&target, want, outcome.semi_sync_vars.as_ref()),
        )
        .await
        .unwrap_or_else(|_| Err("timed out".into()));
        match r {
            Ok(_) => last_sync_error = None,
            Err(e) => {
                if last_sync_error.as_deref() != Some(e.as_str()) {
                    warn!("cannot apply the set's sync mode: {e}");
                }
                last_sync_error = Some(e);
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), reporter.close()).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), tasks).await;
    stats.abort();
    prepared.abort();
    info!("setwise-agent stopped");
    Ok(())
}

/// Fences the local MariaDB in the background (one fence at a time): its node was
/// demoted but it still takes writes — after a failover, an old primary that was
/// hung or cut off and is back (`kill_clients`: its sessions are ended too). No task
/// is waited for: every moment it stays writable a client could commit where the
/// set's primary is not.
fn fence_now(target: &ProbeTarget, kill_clients: bool, bound: Duration, fencing: &Arc<AtomicBool>) {
    if fencing.swap(true, Ordering::SeqCst) {
        return;
    }
    warn!(
        kill_clients,
        "this node was demoted but is writable: fencing it (read_only = ON)"
    );
    let (target, fencing) = (target.clone(), fencing.clone());
    tokio::spawn(async move {
        let work = async {
            let mut conn = crate::db::connect(&target).await?;
            let deadline = tokio::time::Instant::now() + bound;
            let r = crate::fence::fence(&mut conn, &target, kill_clients, deadline).await;
            let _ = tokio::time::timeout(Duration::from_millis(500), conn.disconnect()).await;
            r
        };
        match tokio::time::timeout(bound + Duration::from_secs(1), work).await {
            Ok(Ok(ended)) => info!(
                sessions_ended = ended,
                "fenced: read_only = ON, semi-sync master OFF"
            ),
            Ok(Err(e)) => warn!("fencing failed (tried again next round): {e}"),
            Err(_) => warn!("fencing did not finish in time (tried again next round)"),
        }
        fencing.store(false, Ordering::SeqCst);
    });
}

/// Collects statistics every `interval` and hands them to the main loop.
async fn stats_loop(
    target: ProbeTarget,
    set: String,
    interval: Duration,
    out: mpsc::Sender<NodeStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        let bound = interval.max(Duration::from_secs(5));
        let r = tokio::time::timeout(bound, crate::stats::collect(&target, &set, now_ms()))
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {} ms", bound.as_millis())));
        match r {
            Ok(s) => {
                if last_error.take().is_some() {
                    info!("statistics readable again");
                }
                // A full channel means the last ones are not published yet: skip.
                let _ = out.try_send(s);
            }
            Err(e) => {
                if last_error.as_deref() != Some(e.as_str()) {
                    warn!("cannot read statistics: {e}");
                }
                last_error = Some(e);
            }
        }
    }
}
