//! One set's step of a DDL task: find the set's primary (waiting while the set
//! fails over or its primary does not answer), check a step whose earlier outcome
//! was lost ([`super::check`]), mark it sent (`unsure`), run the text in the
//! client's database and session state while reading its progress from the
//! set's processlist, and record the outcome.

use std::time::Duration;

use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use topo::{DdlState, DdlTask, StepError, StepState, ALREADY_APPLIED};
use tracing::{info, warn};

use super::record::edit;
use crate::config::MysqlConfig;
use crate::leader::LeaderCtx;

/// How long to wait between attempts while the set is away.
const AWAY_RETRY: Duration = Duration::from_millis(500);
/// Connecting to a primary: longer means it is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often a running statement's progress is read.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Why one attempt did not end the step.
enum Attempt {
    /// The set is away: the step waits and tries again.
    Away(String),
    /// The step ended (done or failed) or the task no longer wants it.
    Ended,
}

/// Runs step `i` of task `id` until it ends, the task is cancelled, or leadership ends.
pub async fn run(ctx: LeaderCtx, account: MysqlConfig, id: u64, i: usize) {
    while !ctx.is_stopping() {
        match attempt(&ctx, &account, id, i).await {
            Ok(Attempt::Ended) => return,
            Ok(Attempt::Away(why)) => {
                let r = edit(&ctx.topo, id, |t| {
                    let s = &mut t.steps[i];
                    if t.state == DdlState::Running
                        && !matches!(s.state, StepState::Done | StepState::Failed)
                        && (s.state != StepState::Waiting || s.waiting.as_ref() != Some(&why))
                    {
                        s.state = StepState::Waiting;
                        s.waiting = Some(why.clone());
                        s.progress = None;
                    }
                    Ok(())
                })
                .await;
                if let Err(e) = r {
                    warn!(task = id, "DDL task: cannot record a waiting set: {e:#}");
                }
            }
            Err(e) => warn!(task = id, "DDL task step: {e:#}"),
        }
        tokio::time::sleep(AWAY_RETRY).await;
    }
}

/// Whether the task still wants step `i` run.
fn wanted(t: &DdlTask, i: usize) -> bool {
    t.state == DdlState::Running && !matches!(t.steps[i].state, StepState::Done | StepState::Failed)
}

async fn attempt(ctx: &LeaderCtx, account: &MysqlConfig, id: u64, i: usize) -> Result<Attempt> {
    let topo = &ctx.topo;
    let t = topo
        .get_ddl(id)
        .await?
        .ok_or_else(|| anyhow!("DDL task {id} is gone"))?
        .value;
    if !wanted(&t, i) {
        return Ok(Attempt::Ended);
    }
    let set = t.steps[i].set.clone();
    if topo.get_op(&set).await?.is_some() {
        return Ok(Attempt::Away(format!(
            "{set} has a failover or switchover in progress"
        )));
    }
    let snap = topo.snapshot().await?;
    let Some(primary) = snap.primary_of(&set).cloned() else {
        return Ok(Attempt::Away(format!("{set} has no primary")));
    };
    let opts = account.opts(&primary.host, primary.port);
    let mut conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts.clone())).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            return Ok(Attempt::Away(format!(
                "the primary {} of {set} does not answer: {e}",
                primary.id
            )))
        }
        Err(_) => {
            return Ok(Attempt::Away(format!(
                "the primary {} of {set} does not answer within {CONNECT_TIMEOUT:?}",
                primary.id
            )))
        }
    };
    if t.steps[i].unsure {
        if let Some(true) = super::check::applied(&mut conn, &t.check).await? {
            record(
                ctx,
                id,
                i,
                Ok(0),
                Some("already applied (checked after a lost outcome)"),
            )
            .await?;
            return Ok(Attempt::Ended);
        }
    }
    let unsure_before = t.steps[i].unsure;
    // A leader on its way out sends nothing more (the next one carries on).
    if ctx.is_stopping() {
        return Ok(Attempt::Ended);
    }
    // Sent from here on: until the outcome is recorded it is unknown.
    let t = edit(topo, id, |t| {
        if !wanted(t, i) {
            return Err(anyhow!("no longer wanted"));
        }
        let s = &mut t.steps[i];
        s.state = StepState::Running;
        s.unsure = true;
        s.waiting = None;
        s.node = Some(primary.id.clone());
        s.attempts += 1;
        s.started_ms = Some(crate::now_ms());
        Ok(())
    })
    .await;
    let Ok(t) = t else {
        return Ok(Attempt::Ended);
    };
    let step = &t.steps[i];
    // The client's database and session state; the text goes in utf8mb4.
    let mut setup: Vec<String> = Vec::new();
    if let Some(db) = &t.db {
        setup.push(format!("USE `{}`", db.replace('`', "``")));
    }
    setup.extend(t.session.iter().cloned());
    setup.push("SET NAMES utf8mb4".into());
    for s in &setup {
        if let Err(e) = conn.query_drop(s).await {
            return outcome(ctx, id, i, &set, unsure_before, Err(e), &t.check).await;
        }
    }
    info!(task = id, set = %set, node = %primary.id, "DDL: {}", step.sql);
    let conn_id = conn.id();
    let sql = step.sql.clone();
    let run = async {
        conn.query_drop(&sql).await?;
        Ok::<u64, mysql_async::Error>(conn.affected_rows())
    };
    let watch = super::check::progress(ctx, &opts, id, i, conn_id, PROGRESS_EVERY);
    let r = tokio::select! {
        r = run => r,
        _ = watch => unreachable!("progress never ends"),
    };
    outcome(ctx, id, i, &set, unsure_before, r, &t.check).await
}

/// Records what the set answered: done, failed with MariaDB's error, or (the
/// connection broke) away with the outcome unknown.
async fn outcome(
    ctx: &LeaderCtx,
    id: u64,
    i: usize,
    set: &str,
    unsure_before: bool,
    r: std::result::Result<u64, mysql_async::Error>,
    check: &topo::DdlCheck,
) -> Result<Attempt> {
    match r {
        Ok(n) => record(ctx, id, i, Ok(n), None).await?,
        Err(mysql_async::Error::Server(e)) => {
            if unsure_before && *check == topo::DdlCheck::Rerun && ALREADY_APPLIED.contains(&e.code)
            {
                let note = format!(
                    "already applied: the re-run says {} ({})",
                    e.message, e.code
                );
                record(ctx, id, i, Ok(0), Some(&note)).await?;
            } else {
                let err = StepError {
                    code: e.code,
                    sqlstate: e.state.clone(),
                    message: e.message.clone(),
                };
                record(ctx, id, i, Err(err), None).await?;
            }
        }
        Err(e) => {
            return Ok(Attempt::Away(format!(
                "lost the connection to {set}'s primary during the statement ({e}); \
                 checked before it runs again"
            )))
        }
    }
    Ok(Attempt::Ended)
}

/// Writes a step's end.
async fn record(
    ctx: &LeaderCtx,
    id: u64,
    i: usize,
    r: std::result::Result<u64, StepError>,
    note: Option<&str>,
) -> Result<()> {
    edit(&ctx.topo, id, |t| {
        let s = &mut t.steps[i];
        if matches!(s.state, StepState::Done | StepState::Failed) {
            return Ok(());
        }
        s.unsure = false;
        s.waiting = None;
        s.progress = None;
        s.finished_ms = Some(crate::now_ms());
        s.note = note.map(str::to_string);
        match &r {
            Ok(n) => {
                s.state = StepState::Done;
                s.affected = *n;
                s.error = None;
            }
            Err(e) => {
                s.state = StepState::Failed;
                s.error = Some(e.clone());
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}
