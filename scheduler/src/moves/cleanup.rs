//! Phase `cleanup` (after the flip): the moved rows deleted from each source's
//! primary in primary-key chunks (a chunk of keys selected with the slot condition
//! after the previous chunk's last key, then deleted by key), then the fence deleted and the phase `done` in one etcd
//! transaction. The chunked delete also serves the undo and stale rows on a target.

use std::time::Duration;

use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};
use topo::{MovePhase, MoveTable, SlotSpan};

use super::blocked;
use super::driver::Driver;
use super::sql::{self, q, qt};

/// Deletes the moved rows from the sources, then ends the move.
pub async fn run(d: &mut Driver) -> Result<()> {
    let snap = d.snapshot().await?;
    let slots = snap
        .db(&d.rec.db)
        .map(|r| r.shard_map.slots)
        .ok_or_else(|| anyhow!("database {} is gone", d.rec.db))?;
    for s in d.rec.sources.clone() {
        let mut c = sql::connect(&snap, &d.account, &s.set).await?;
        for t in d.rec.tables.clone() {
            delete_slots(d, &s.set, &mut c, &t, slots, &s.ranges, true).await?;
        }
    }
    d.note(format!(
        "cleanup done: {} rows deleted from the sources",
        d.rec.rows_deleted
    ));
    d.rec.phase = MovePhase::Done;
    d.finish().await
}

/// Deletes `t`'s rows of `spans` on the server of `c` (the primary of `set`),
/// `chunk_rows` keys at a time; returns how many. `count`: add them to the
/// record's `rows_deleted` as they go.
pub async fn delete_slots(
    d: &mut Driver,
    set: &str,
    c: &mut Conn,
    t: &MoveTable,
    slots: u32,
    spans: &[SlotSpan],
    count: bool,
) -> Result<u64> {
    let db = d.rec.db.clone();
    let info = sql::table_info(c, &db, &t.name).await?;
    let pk = sql::pk_order(&info.pk);
    let cond = sql::inside(t, slots, spans);
    let chunk = d.cfg.chunk_rows.max(1);
    let table = qt(&db, &t.name);
    let mut n = 0u64;
    // Keyset pagination: each chunk starts after the last key deleted, so a chunk
    // does not scan again the rows of other slots before it.
    let mut cursor: Option<Vec<Value>> = None;
    loop {
        let (after, params) = match &cursor {
            Some(k) => sql::after(&info.pk, k),
            None => ("1".to_string(), Vec::new()),
        };
        let sel = format!(
            "SELECT {pk} FROM {table} WHERE {cond} AND {after} ORDER BY {pk} LIMIT {chunk}"
        );
        let keys: Vec<Row> = sql::bounded("read a chunk of keys", async {
            Ok(c.exec(sel, Params::from(params)).await?)
        })
        .await?;
        if keys.is_empty() {
            break;
        }
        let got = keys.len() as u64;
        let keys: Vec<Vec<Value>> = keys.into_iter().map(Row::unwrap).collect();
        cursor = keys.last().cloned();
        let (sql, params) = delete_by_keys(&table, &info.pk, &keys);
        d.check_leading()?;
        blocked::write_on(d.topo(), set, "delete a chunk", async {
            Ok(c.exec_drop(sql, params).await?)
        })
        .await?;
        let gone = c.affected_rows();
        n += gone;
        if count {
            d.rec.rows_deleted += gone;
            d.save_progress().await?;
        }
        if got < chunk {
            break;
        }
        if d.cfg.throttle_ms > 0 {
            d.pause(Duration::from_millis(d.cfg.throttle_ms)).await?;
        }
    }
    Ok(n)
}

/// `DELETE ... WHERE pk IN (...)` for `keys` (rows of primary-key values).
fn delete_by_keys(table: &str, pk: &[String], keys: &[Vec<Value>]) -> (String, Params) {
    let one = if pk.len() == 1 {
        "?".to_string()
    } else {
        format!("({})", vec!["?"; pk.len()].join(","))
    };
    let lhs = if pk.len() == 1 {
        q(&pk[0])
    } else {
        format!("({})", sql::pk_order(pk))
    };
    let list = vec![one.as_str(); keys.len()].join(",");
    let params: Vec<Value> = keys.iter().flatten().cloned().collect();
    (
        format!("DELETE FROM {table} WHERE {lhs} IN ({list})"),
        Params::Positional(params),
    )
}
