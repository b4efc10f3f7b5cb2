//! Phase `catchup`: one binlog stream ([`Tail`]) per source, from the position last
//! applied (or the copy's `gtid_start`), stepped in turn; `gtid_applied`,
//! `events_applied` and the lag (transactions of the source's `@@gtid_binlog_pos`
//! not yet applied) recorded about every second. Once every source is within
//! `catchup_close_trx` transactions, the slots are verified at a snapshot (once,
//! [`super::verify::at_snapshot`]), then a hold begins ([`super::flip::start`]).

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::apply::{lag_trx, Filter, Tail};
use super::driver::{step, Driver, MoveError, Stream, SAVE_EVERY};
use super::sql;

pub async fn run(d: &mut Driver) -> Result<()> {
    open(d).await?;
    let snap = d.snapshot().await?;
    let mut probes: Vec<Conn> = Vec::new();
    for s in &d.rec.sources {
        probes.push(sql::connect(&snap, &d.account, &s.set).await?);
    }
    let n = d.rec.sources.len();
    let per = Duration::from_millis((200 / n as u64).max(20));
    let mut last = Instant::now();
    loop {
        d.check_leading()?;
        let (topo, to) = (d.topo().clone(), d.rec.to.clone());
        for i in 0..n {
            let (topo, to) = (topo.clone(), to.clone());
            step(d, i, move |t| {
                Box::pin(
                    async move { super::blocked::write_on(&topo, &to, "apply", t.step(per)).await },
                )
            })
            .await?;
        }
        if last.elapsed() < SAVE_EVERY {
            continue;
        }
        last = Instant::now();
        let mut close = true;
        for (i, p) in probes.iter_mut().enumerate() {
            let pos: Option<String> = p.query_first("SELECT @@gtid_binlog_pos").await?;
            let pos = pos.unwrap_or_default();
            let sp = &mut d.rec.sources[i];
            let applied = sp
                .gtid_applied
                .clone()
                .or_else(|| sp.gtid_start.clone())
                .unwrap_or_default();
            sp.lag_trx = lag_trx(&applied, &pos);
            close &= sp.lag_trx.is_some_and(|l| l <= d.cfg.catchup_close_trx);
        }
        d.save().await?;
        if d.rec.cancel {
            return Ok(());
        }
        if !close {
            continue;
        }
        if d.cfg.verify && !d.verify_in_hold && d.rec.verified.is_none() {
            match super::verify::at_snapshot(d).await? {
                Some((Ok(summary), at)) => {
                    d.note(format!("verified at {at}: {summary}"));
                    d.rec.verified = Some(format!("{summary} ({at})"));
                    d.save().await?;
                    // The catch-up paused meanwhile: close the gap again first.
                    continue;
                }
                Some((Err(diff), at)) => {
                    let why = format!("verification failed at {at}: {diff}");
                    return Err(MoveError::Fatal(why).into());
                }
                None => {
                    d.note("no exact snapshot position: verified in the hold".to_string());
                    d.verify_in_hold = true;
                }
            }
        }
        let lost = super::flip::lost_gateways(d).await?;
        if lost.is_empty() {
            return super::flip::start(d).await;
        }
        let why = format!(
            "no hold while gateway(s) {} are known but not registered (cut off from \
             etcd, or stopped without deregistering: they might route writes with the \
             old shard map); waiting for them to come back, or `setwise gateway forget ID`",
            lost.join(", ")
        );
        if d.rec.steps.last().map(|s| &s.text) != Some(&why) {
            d.note(why);
        }
    }
}

/// Opens the stream of every source that has none.
pub async fn open(d: &mut Driver) -> Result<()> {
    let n = d.rec.sources.len();
    if d.tails.len() != n {
        d.tails = (0..n).map(|_| None).collect();
    }
    if d.tails.iter().all(Option::is_some) {
        return Ok(());
    }
    let snap = d.snapshot().await?;
    let slots = snap
        .db(&d.rec.db)
        .map(|r| r.shard_map.slots)
        .ok_or_else(|| anyhow!("database {} is gone", d.rec.db))?;
    for i in 0..n {
        if d.tails[i].is_some() {
            continue;
        }
        let sp = d.rec.sources[i].clone();
        let from = sp
            .gtid_applied
            .clone()
            .or(sp.gtid_start.clone())
            .ok_or_else(|| anyhow!("no binlog position recorded for {}", sp.set))?;
        let filter = Filter {
            db: d.rec.db.clone(),
            tables: d.rec.tables.clone(),
            slots,
            spans: sp.ranges.clone(),
            broadcast: if i == 0 {
                d.rec.broadcast.clone()
            } else {
                Vec::new()
            },
        };
        let src = sql::primary_opts(&snap, &d.account, &sp.set)?;
        let tgt = sql::primary_opts(&snap, &d.account, &d.rec.to)?;
        let mut tail = Tail::open(src, tgt, filter, &from, sp.server_id).await?;
        if let Some(s) = &sp.gtid_snapshot {
            tail.expect_copy_snapshot(s)?;
        }
        d.note(format!("binlog of {} followed from {from:?}", sp.set));
        d.tails[i] = Some(Stream {
            tail,
            base: sp.events_applied,
        });
    }
    Ok(())
}
