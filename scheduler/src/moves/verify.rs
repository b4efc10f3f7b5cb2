//! The comparison of the moving slots on the sources and the target: per slot, the
//! row count and a checksum of the rows (`BIT_XOR` of `CRC32` over every column,
//! NULL-safe); broadcast tables copied to a new target compared whole with the
//! first source. A difference names the first table and slot that differ.
//!
//! Two ways to get both sides at the same point (docs/scaleout.md):
//! * [`at_snapshot`] (default, outside the hold, as Vitess' VDiff): each source's
//!   consistent snapshot gives its exact binlog position; the catch-up is drained
//!   exactly to it, then the target's snapshot is taken; the comparison reads the
//!   snapshots while writes and the catch-up go on. Writes are never held for it.
//! * [`in_hold`] (`verify_in_hold = true`): the current rows, while the gateways
//!   hold the writes and the binlogs are drained — the strongest check, but the
//!   hold lasts as long as the scans.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, Result};
use futures::future::try_join_all;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use topo::{MoveTable, SlotSpan};

use super::driver::Driver;
use super::sql::{self, q, qt};

/// Per slot: (rows, checksum).
type Sums = BTreeMap<u64, (u64, u64)>;

/// How long the catch-up may take to reach a snapshot's position.
const DRAIN_TO_SNAPSHOT: Duration = Duration::from_secs(60);

/// `Ok(summary)` when every slot agrees, `Err(first difference)` otherwise.
pub type Verdict = std::result::Result<String, String>;

/// Compares the current rows (writes held, binlogs drained).
pub async fn in_hold(d: &Driver) -> Result<Verdict> {
    let snap = d.snapshot().await?;
    let mut conns = BTreeMap::new();
    for set in d.sets() {
        conns.insert(set.clone(), sql::connect(&snap, &d.account, &set).await?);
    }
    compare(d, &mut conns).await
}

/// Compares consistent snapshots of the sources and the target at the sources'
/// exact binlog positions (the catch-up drained to them first). None: not exact —
/// a position with several GTID domains (a drain could pass it in one domain) or a
/// catch-up that stopped elsewhere —: the hold verifies instead.
pub async fn at_snapshot(d: &mut Driver) -> Result<Option<(Verdict, String)>> {
    let snap = d.snapshot().await?;
    let mut conns: BTreeMap<String, Conn> = BTreeMap::new();
    let mut positions = Vec::new();
    for i in 0..d.rec.sources.len() {
        let set = d.rec.sources[i].set.clone();
        let mut c = sql::connect(&snap, &d.account, &set).await?;
        let pos = super::copy::snapshot_gtid(&mut c, &set).await?;
        if pos.split(',').filter(|p| !p.trim().is_empty()).count() > 1 {
            return Ok(None);
        }
        let p = pos.clone();
        super::driver::step(d, i, move |t| {
            Box::pin(async move { t.drain_to(&p, DRAIN_TO_SNAPSHOT).await })
        })
        .await?;
        // The target must be exactly at the snapshot's position (not past it).
        let at = d.rec.sources[i].gtid_applied.clone().unwrap_or_default();
        if topo::gtid::GtidPos::parse_lossy(&at) != topo::gtid::GtidPos::parse_lossy(&pos) {
            d.note(format!(
                "{set}: the catch-up stopped at {at}, not at the snapshot's {pos}"
            ));
            return Ok(None);
        }
        positions.push(format!("{set} at {pos}"));
        conns.insert(set, c);
    }
    let mut t = sql::connect(&snap, &d.account, &d.rec.to).await?;
    t.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    t.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await?;
    conns.insert(d.rec.to.clone(), t);
    let v = compare(d, &mut conns).await?;
    for c in conns.values_mut() {
        let _ = c.query_drop("COMMIT").await;
    }
    Ok(Some((v, positions.join(", "))))
}

/// Runs every query of a set on its connection in `conns` (the sets in parallel).
async fn compare(d: &Driver, conns: &mut BTreeMap<String, Conn>) -> Result<Verdict> {
    let db = d.rec.db.clone();
    let to = d.rec.to.clone();
    let slots = d
        .snapshot()
        .await?
        .db(&db)
        .map(|r| r.shard_map.slots)
        .ok_or_else(|| anyhow!("database {db} is gone"))?;
    let all: Vec<SlotSpan> = d
        .rec
        .sources
        .iter()
        .flat_map(|s| s.ranges.clone())
        .collect();
    // Per set, its queries: (table index, SQL); broadcast tables after the sharded.
    let mut jobs: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let tc = conns
        .get_mut(&to)
        .ok_or_else(|| anyhow!("no target connection"))?;
    for (i, t) in d.rec.tables.iter().enumerate() {
        let info = sql::table_info(tc, &db, &t.name).await?;
        let want = query(&db, t, slots, &all, &info.cols);
        jobs.entry(to.clone()).or_default().push((i, want));
        for s in &d.rec.sources {
            let sql = query(&db, t, slots, &s.ranges, &info.cols);
            jobs.entry(s.set.clone()).or_default().push((i, sql));
        }
    }
    let nt = d.rec.tables.len();
    for (k, b) in d.rec.broadcast.iter().enumerate() {
        let info = sql::table_info(tc, &db, b).await?;
        let sql = whole(&db, b, &info.cols);
        jobs.entry(to.clone())
            .or_default()
            .push((nt + k, sql.clone()));
        jobs.entry(d.rec.sources[0].set.clone())
            .or_default()
            .push((nt + k, sql));
    }
    let results: Vec<(String, Vec<(usize, Sums)>)> =
        try_join_all(conns.iter_mut().map(|(set, c)| {
            let mine = jobs.get(set).cloned().unwrap_or_default();
            async move {
                let mut out = Vec::new();
                for (i, sql) in mine {
                    let rows: Vec<(u64, u64, u64)> = c.query(sql).await?;
                    out.push((i, rows.into_iter().map(|(s, n, x)| (s, (n, x))).collect()));
                }
                anyhow::Ok((set.clone(), out))
            }
        }))
        .await?;
    let (mut nslots, mut rows) = (0usize, 0u64);
    for i in 0..nt + d.rec.broadcast.len() {
        let mut target: Sums = BTreeMap::new();
        let mut source: Sums = BTreeMap::new();
        let mut owner: BTreeMap<u64, &str> = BTreeMap::new();
        for (set, per) in &results {
            for (_, r) in per.iter().filter(|(k, _)| *k == i) {
                if *set == to {
                    target = r.clone();
                    continue;
                }
                for (slot, v) in r {
                    source.insert(*slot, *v);
                    owner.insert(*slot, set);
                }
            }
        }
        let name = match d.rec.tables.get(i) {
            Some(t) => t.name.clone(),
            None => d.rec.broadcast[i - nt].clone(),
        };
        for slot in source.keys().chain(target.keys()) {
            let (a, b) = (source.get(slot), target.get(slot));
            if a != b {
                let (n, c) = a.copied().unwrap_or((0, 0));
                let (m, e) = b.copied().unwrap_or((0, 0));
                let what = if i < nt {
                    format!("{db}.{name} slot {slot}")
                } else {
                    format!("broadcast table {db}.{name}")
                };
                return Ok(Err(format!(
                    "{what}: {} has {n} rows (checksum {c}), {to} has {m} rows (checksum {e})",
                    owner.get(slot).copied().unwrap_or("the source"),
                )));
            }
        }
        if i < nt {
            nslots += source.len();
            rows += source.values().map(|v| v.0).sum::<u64>();
        }
    }
    Ok(Ok(format!(
        "{nslots} non-empty slots of {nt} tables, {rows} rows, {} broadcast tables: equal",
        d.rec.broadcast.len()
    )))
}

/// `CRC32` of a row: every column as its bytes in hex, NULL as `N`.
fn row_crc(cols: &[String]) -> String {
    let parts: Vec<String> = cols
        .iter()
        .map(|c| format!("IFNULL(HEX(CAST({} AS BINARY)),'N')", q(c)))
        .collect();
    format!("CRC32(CONCAT_WS('#',{}))", parts.join(","))
}

fn query(db: &str, t: &MoveTable, slots: u32, spans: &[SlotSpan], cols: &[String]) -> String {
    format!(
        "SELECT {} AS s, COUNT(*), BIT_XOR({}) FROM {} WHERE {} GROUP BY s",
        topo::slot::slot_sql(&q(&t.key), t.key_type, slots),
        row_crc(cols),
        qt(db, &t.name),
        sql::inside(t, slots, spans)
    )
}

fn whole(db: &str, table: &str, cols: &[String]) -> String {
    format!(
        "SELECT 0, COUNT(*), BIT_XOR({}) FROM {}",
        row_crc(cols),
        qt(db, table)
    )
}
