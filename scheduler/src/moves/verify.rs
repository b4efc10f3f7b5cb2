//! The check before the flip: per moving slot, the row count and a checksum of the
//! rows (`BIT_XOR` of `CRC32` over every column, NULL-safe) on each source and on the
//! target, read in parallel while writes to the slots are held; broadcast tables
//! copied to a new target are compared whole with the first source. A difference
//! names the first table and slot that differ.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use futures::future::try_join_all;
use mysql_async::prelude::Queryable;
use topo::{MoveTable, SlotSpan};

use super::driver::Driver;
use super::sql::{self, q, qt};

/// Per slot: (rows, checksum).
type Sums = BTreeMap<u64, (u64, u64)>;

/// `Ok(summary)` when every slot agrees, `Err(first difference)` otherwise.
pub async fn compare(d: &Driver) -> Result<std::result::Result<String, String>> {
    let snap = d.snapshot().await?;
    let db = &d.rec.db;
    let slots = snap
        .db(db)
        .map(|r| r.shard_map.slots)
        .ok_or_else(|| anyhow!("database {db} is gone"))?;
    let tgt_opts = sql::primary_opts(&snap, &d.account, &d.rec.to)?;
    let mut tc = sql::connect(&snap, &d.account, &d.rec.to).await?;
    let all: Vec<SlotSpan> = d
        .rec
        .sources
        .iter()
        .flat_map(|s| s.ranges.clone())
        .collect();
    let (mut nslots, mut rows) = (0usize, 0u64);
    // Every query of every table at once: (table, set, SQL); the target's first.
    let mut jobs: Vec<(usize, String, String)> = Vec::new();
    for (i, t) in d.rec.tables.iter().enumerate() {
        let info = sql::table_info(&mut tc, db, &t.name).await?;
        jobs.push((i, d.rec.to.clone(), query(db, t, slots, &all, &info.cols)));
        for s in &d.rec.sources {
            jobs.push((i, s.set.clone(), query(db, t, slots, &s.ranges, &info.cols)));
        }
    }
    let results = try_join_all(jobs.iter().map(|(_, set, sql)| {
        let opts = if *set == d.rec.to {
            Ok(tgt_opts.clone())
        } else {
            sql::primary_opts(&snap, &d.account, set)
        };
        async move { sums(opts?, sql).await }
    }))
    .await?;
    for (i, t) in d.rec.tables.iter().enumerate() {
        let mut target: Sums = BTreeMap::new();
        let mut source: Sums = BTreeMap::new();
        let mut owner: BTreeMap<u64, &str> = BTreeMap::new();
        for ((ti, set, _), r) in jobs.iter().zip(&results) {
            if *ti != i {
                continue;
            }
            if *set == d.rec.to {
                target = r.clone();
                continue;
            }
            for (slot, v) in r {
                source.insert(*slot, *v);
                owner.insert(*slot, set);
            }
        }
        for slot in source.keys().chain(target.keys()) {
            let (a, b) = (source.get(slot), target.get(slot));
            if a != b {
                let (n, c) = a.copied().unwrap_or((0, 0));
                let (m, e) = b.copied().unwrap_or((0, 0));
                return Ok(Err(format!(
                    "{}.{} slot {slot}: {} has {n} rows (checksum {c}), {} has {m} rows (checksum {e})",
                    db,
                    t.name,
                    owner.get(slot).copied().unwrap_or("the source"),
                    d.rec.to
                )));
            }
        }
        nslots += source.len();
        rows += source.values().map(|v| v.0).sum::<u64>();
    }
    for b in &d.rec.broadcast {
        let info = sql::table_info(&mut tc, db, b).await?;
        let sql = whole(db, b, &info.cols);
        let src = sql::primary_opts(&snap, &d.account, &d.rec.sources[0].set)?;
        let (x, y) = tokio::try_join!(sums(src, &sql), sums(tgt_opts.clone(), &sql))?;
        if x != y {
            return Ok(Err(format!(
                "broadcast table {db}.{b}: {} has {:?}, {} has {:?} (rows, checksum)",
                d.rec.sources[0].set,
                x.get(&0),
                d.rec.to,
                y.get(&0)
            )));
        }
    }
    Ok(Ok(format!(
        "{nslots} non-empty slots of {} tables, {rows} rows, {} broadcast tables: equal",
        d.rec.tables.len(),
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

async fn sums(opts: mysql_async::Opts, sql: &str) -> Result<Sums> {
    let mut c = mysql_async::Conn::new(opts).await?;
    c.query_drop("SET time_zone = '+00:00'").await?;
    let rows: Vec<(u64, u64, u64)> = c.query(sql).await?;
    let _ = c.disconnect().await;
    Ok(rows.into_iter().map(|(s, n, x)| (s, (n, x))).collect())
}
