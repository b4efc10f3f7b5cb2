//! Phase `hold`: the moment of the flip. The fence goes to `holding` (with the
//! phase, one etcd transaction); every registered gateway holds the writes to the
//! moving slots and acknowledges in `move-acks/<id>/` (no gateway registered: nothing
//! to wait for); each source's binlog is drained to its `@@gtid_binlog_pos`; the
//! slots are verified here only with `verify_in_hold` (else they were, outside the
//! hold, by [`super::verify::at_snapshot`]); then one transaction flips the shard map
//! (CAS on the database record), the fence to `flipped` and the phase to `cleanup`.
//! A hold whose acknowledgements and drain do not complete within `hold_timeout_ms`
//! is released (fence back to `copying`, phase `catchup`) and tried again; after
//! `max_holds` the move is undone and fails.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use topo::{DatabaseRecord, FenceSource, FenceState, MovePhase};

use super::driver::{Driver, MoveError};
use super::sql;

/// Gateways that registered once and have neither a live registration nor shut
/// down cleanly: one may be cut off from etcd and still route with the old map, so
/// no hold may begin (its writes would reach the old owner after the flip).
pub async fn lost_gateways(d: &Driver) -> Result<Vec<String>> {
    let live = d.topo().list_gateways().await?;
    let known = d.topo().list_known_gateways().await?;
    Ok(known
        .into_iter()
        .filter(|k| !live.iter().any(|l| l.id == k.id))
        .map(|k| k.id)
        .collect())
}

/// Begins a hold (from the catch-up).
pub async fn start(d: &mut Driver) -> Result<()> {
    d.rec.holds += 1;
    d.rec.phase = MovePhase::Hold;
    let lag = d.rec.lag_trx().unwrap_or(0);
    d.note(format!(
        "hold {}: writes to the moving slots held (lag {lag} trx)",
        d.rec.holds
    ));
    let fence = d.rec.fence(FenceState::Holding);
    let key = d.topo().keys().fence(&d.rec.id);
    let t0 = Instant::now();
    if !d.commit(|b| b.put(&key, &fence)).await? {
        anyhow::bail!("the fence could not be written");
    }
    d.hold_started = Some((t0, d.rev));
    Ok(())
}

/// Waits for the acknowledgements, drains, verifies and flips (or releases).
pub async fn run(d: &mut Driver) -> Result<()> {
    let Some((t0, rev)) = d.hold_started else {
        return release(d, "the hold was begun by another leader".into()).await;
    };
    if d.tails.len() != d.rec.sources.len() || d.tails.iter().any(Option::is_none) {
        return release(d, "a binlog stream was lost".into()).await;
    }
    let deadline = t0 + Duration::from_millis(d.cfg.hold_timeout_ms);
    if let Some(gw) = wait_acks(d, rev, deadline).await? {
        let ms = d.cfg.hold_timeout_ms;
        return release(
            d,
            format!("gateway {gw} did not acknowledge within {ms} ms"),
        )
        .await;
    }
    let acked_ms = t0.elapsed().as_millis();
    let snap = d.snapshot().await?;
    for i in 0..d.rec.sources.len() {
        let set = d.rec.sources[i].set.clone();
        let mut c = sql::connect(&snap, &d.account, &set).await?;
        let pos: Option<String> = c.query_first("SELECT @@gtid_binlog_pos").await?;
        let pos = pos.unwrap_or_default();
        let left = deadline.saturating_duration_since(Instant::now());
        let r = super::driver::step(d, i, move |t| {
            Box::pin(async move { t.drain_to(&pos, left).await })
        })
        .await;
        if let Err(e) = r {
            return release(d, format!("drain: {e:#}")).await;
        }
    }
    let drained_ms = t0.elapsed().as_millis();
    if d.cfg.verify && (d.verify_in_hold || d.rec.verified.is_none()) {
        match super::verify::in_hold(d).await? {
            Ok(summary) => d.rec.verified = Some(summary),
            Err(diff) => {
                release(d, format!("verification: {diff}")).await?;
                return Err(MoveError::Fatal(format!("verification failed: {diff}")).into());
            }
        }
    }
    flip(
        d,
        t0,
        format!("acks {acked_ms} ms, drained {drained_ms} ms"),
    )
    .await
}

/// The flip: shard map CAS + fence `flipped` + phase `cleanup`, one transaction.
async fn flip(d: &mut Driver, t0: Instant, timing: String) -> Result<()> {
    let (db, start, end, to) = (d.rec.db.clone(), d.rec.start, d.rec.end, d.rec.to.clone());
    let want: Vec<FenceSource> = d.rec.fence(FenceState::Flipped).sources;
    for _ in 0..3 {
        let cur = d
            .topo()
            .get_db(&db)
            .await?
            .ok_or_else(|| anyhow!("database {db} is gone"))?;
        let map = &cur.value.shard_map;
        if map.version != d.rec.map_version && topo::owners_of(map, start, end, &to) != want {
            let why = format!(
                "the shard map changed during the move (version {} → {})",
                d.rec.map_version, map.version
            );
            release(d, why.clone()).await?;
            return Err(MoveError::Fatal(why).into());
        }
        let new = topo::map_after_move(map, start, end, &to);
        let rec = DatabaseRecord {
            shard_map: new.clone(),
            ..cur.value.clone()
        };
        let held = t0.elapsed().as_millis() as u64;
        let (before_phase, before_hold) = (d.rec.phase, d.rec.longest_hold_ms);
        d.rec.phase = MovePhase::Cleanup;
        d.rec.new_map_version = Some(new.version);
        d.rec.longest_hold_ms = Some(before_hold.unwrap_or(0).max(held));
        let fence = d.rec.fence(FenceState::Flipped);
        let (dkey, fkey) = (d.topo().keys().db(&db), d.topo().keys().fence(&d.rec.id));
        let ok = d
            .commit(|b| {
                b.unchanged(&dkey, cur.mod_revision)
                    .put(&dkey, &rec)?
                    .put(&fkey, &fence)
            })
            .await?;
        if ok {
            d.hold_started = None;
            d.tails.clear();
            d.note(format!(
                "flipped: slots {start}-{} of {db} on {to}, map version {}; writes held {held} ms ({timing})",
                end - 1,
                new.version
            ));
            d.save().await?;
            d.topo().clear_hold_acks(&d.rec.id).await?;
            return Ok(());
        }
        d.rec.phase = before_phase;
        d.rec.new_map_version = None;
        d.rec.longest_hold_ms = before_hold;
    }
    release(d, "the database record kept changing".into()).await
}

/// Waits until every registered gateway — and every known one (registered once, not
/// stopped cleanly: its registration may have lapsed during the hold) — acknowledged
/// this hold (revision at least `rev`, the hold's); the first gateway still silent at
/// `deadline`, if any.
async fn wait_acks(d: &Driver, rev: i64, deadline: Instant) -> Result<Option<String>> {
    loop {
        let mut gws = d.topo().list_gateways().await?;
        for k in d.topo().list_known_gateways().await? {
            if !gws.iter().any(|g| g.id == k.id) {
                gws.push(k);
            }
        }
        let acks = d.topo().list_hold_acks(&d.rec.id).await?;
        let silent = gws.iter().find(|g| {
            !acks
                .iter()
                .any(|a| a.gateway == g.id && a.move_id == d.rec.id && a.revision >= rev)
        });
        let Some(g) = silent else {
            return Ok(None);
        };
        if Instant::now() >= deadline {
            return Ok(Some(g.id.clone()));
        }
        d.pause(Duration::from_millis(10)).await?;
    }
}

/// Releases the hold (fence back to `copying`, phase `catchup`); after `max_holds`
/// holds the move gives up.
pub async fn release(d: &mut Driver, why: String) -> Result<()> {
    if let Some((t0, _)) = d.hold_started.take() {
        let held = t0.elapsed().as_millis() as u64;
        d.rec.longest_hold_ms = Some(d.rec.longest_hold_ms.unwrap_or(0).max(held));
    }
    d.note(format!("hold {} released: {why}", d.rec.holds));
    d.rec.phase = MovePhase::CatchUp;
    let fence = d.rec.fence(FenceState::Copying);
    let key = d.topo().keys().fence(&d.rec.id);
    if !d.commit(|b| b.put(&key, &fence)).await? {
        anyhow::bail!("the fence could not be written");
    }
    d.topo().clear_hold_acks(&d.rec.id).await?;
    if d.rec.holds >= d.cfg.max_holds {
        return Err(MoveError::Fatal(format!(
            "gave up after {} holds; the last: {why}",
            d.rec.holds
        ))
        .into());
    }
    Ok(())
}
