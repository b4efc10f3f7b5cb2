//! What a set can tell about a DDL step: whether a statement whose outcome was lost
//! took effect (read from `information_schema`, [`applied`]), and how far a running
//! statement is (`information_schema.PROCESSLIST` STATE, STAGE, MAX_STAGE and
//! PROGRESS — MariaDB's ALTER TABLE progress report — written to the step, [`progress`]).

use std::time::Duration;

use anyhow::Result;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use topo::{DdlCheck, StepProgress, StepState};

use super::record::edit;
use crate::leader::LeaderCtx;

async fn table_exists(c: &mut Conn, db: &str, table: &str) -> Result<bool> {
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db, table),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

async fn db_exists(c: &mut Conn, db: &str) -> Result<bool> {
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (db,),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// Whether the statement already took effect on the set behind `c`: `Some(true)`
/// yes, `Some(false)` no, `None` nothing to read (re-run it; [`DdlCheck::Rerun`]).
pub async fn applied(c: &mut Conn, check: &DdlCheck) -> Result<Option<bool>> {
    Ok(match check {
        DdlCheck::TableExists { db, table } => Some(table_exists(c, db, table).await?),
        DdlCheck::TablesAbsent { tables } => {
            let mut gone = true;
            for (db, t) in tables {
                gone &= !table_exists(c, db, t).await?;
            }
            Some(gone)
        }
        DdlCheck::DbExists { db } => Some(db_exists(c, db).await?),
        DdlCheck::DbAbsent { db } => Some(!db_exists(c, db).await?),
        DdlCheck::Renamed { pairs } => {
            let news: Vec<&(String, String)> = pairs.iter().map(|p| &p.1).collect();
            let mut done = true;
            for (old, new) in pairs {
                // A name that is also a new name (a swap) says nothing.
                if !news.contains(&old) {
                    done &= !table_exists(c, &old.0, &old.1).await?;
                }
                done &= table_exists(c, &new.0, &new.1).await?;
            }
            Some(done)
        }
        DdlCheck::Rerun => None,
    })
}

/// STATE, STAGE, MAX_STAGE, PROGRESS of one PROCESSLIST row.
type Row = (Option<String>, u32, u32, f64);

/// Reads the progress of connection `conn_id` on the set every `every` and writes
/// it to step `i` of task `id`; never ends (dropped when the statement ends).
pub async fn progress(
    ctx: &LeaderCtx,
    opts: &Opts,
    id: u64,
    i: usize,
    conn_id: u32,
    every: Duration,
) {
    let mut watcher: Option<Conn> = None;
    let mut last: Option<(String, u32, u32, f64)> = None;
    loop {
        tokio::time::sleep(every).await;
        if watcher.is_none() {
            watcher = Conn::new(opts.clone()).await.ok();
        }
        let Some(c) = watcher.as_mut() else { continue };
        let row: Result<Option<Row>, _> = c
            .exec_first(
                "SELECT STATE, STAGE, MAX_STAGE, CAST(PROGRESS AS DOUBLE) \
                 FROM information_schema.PROCESSLIST WHERE ID = ?",
                (conn_id,),
            )
            .await;
        let Ok(Some((state, stage, max_stage, percent))) = row else {
            if row.is_err() {
                watcher = None;
            }
            continue;
        };
        let now = (state.unwrap_or_default(), stage, max_stage, percent);
        if last.as_ref() == Some(&now) {
            continue;
        }
        last = Some(now.clone());
        let p = StepProgress {
            state: now.0,
            stage: now.1,
            max_stage: now.2,
            percent: now.3,
            at_ms: crate::now_ms(),
        };
        let _ = edit(&ctx.topo, id, |t| {
            if t.steps[i].state == StepState::Running {
                t.steps[i].progress = Some(p.clone());
            }
            Ok(())
        })
        .await;
    }
}
