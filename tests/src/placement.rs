//! Where rows live: SQL conditions that find rows on a set that does not own
//! their slot, and slot moves simulated by hand (a span of slots, its rows
//! copied as the mover's copy and catch-up leave them, the gateway's flip).

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Params, Row};
use topo::moves::SlotSpan;
use topo::ShardMap;

use crate::Cluster;

/// A condition true for rows of `set` whose `CRC32(col) % slots` falls outside
/// every slot range the set owns (i.e. misplaced rows).
pub fn misplaced_condition(map: &ShardMap, set: &str, col: &str) -> String {
    let owned: Vec<String> = map
        .ranges
        .iter()
        .filter(|r| r.set == set)
        .map(|r| {
            format!(
                "CRC32({col}) % {} BETWEEN {} AND {}",
                map.slots,
                r.start,
                r.end - 1
            )
        })
        .collect();
    if owned.is_empty() {
        return "TRUE".into();
    }
    format!("NOT ({})", owned.join(" OR "))
}

/// The slots a test moves: the first half of the map's first range, with the
/// set owning it (`source`) and another set (`target`).
pub fn half_of_first_range(map: &ShardMap) -> (String, String, SlotSpan) {
    let first = &map.ranges[0];
    let target = map
        .ranges
        .iter()
        .find(|r| r.set != first.set)
        .expect("a second set")
        .set
        .clone();
    let span = SlotSpan {
        start: first.start,
        end: first.start + (first.end - first.start) / 2,
    };
    (first.set.clone(), target, span)
}

/// `CRC32(key) % slots` within `span`.
fn in_span(key: &str, span: SlotSpan, slots: u32) -> String {
    format!(
        "CRC32({key}) % {slots} BETWEEN {} AND {}",
        span.start,
        span.end - 1
    )
}

/// The rows of `span` of each `(table, columns)` of `db` (sharded on `key`)
/// made the same on `to`'s primary as on `from`'s, as the mover's copy and
/// catch-up leave them: `to`'s rows of the span replaced, values typed (the
/// binary protocol). Some rows of each table must move.
pub async fn copy_span(
    c: &Cluster,
    db: &str,
    key: &str,
    tables: &[(&str, &str)],
    (from, to): (&str, &str),
    span: SlotSpan,
    slots: u32,
) {
    let mut src = c.primary(from).conn().await.unwrap();
    let mut dst = c.primary(to).conn().await.unwrap();
    let cond = in_span(key, span, slots);
    for (table, cols) in tables {
        dst.query_drop(format!("DELETE FROM {db}.{table} WHERE {cond}"))
            .await
            .unwrap();
        let rows: Vec<Row> = src
            .exec(format!("SELECT {cols} FROM {db}.{table} WHERE {cond}"), ())
            .await
            .unwrap();
        assert!(!rows.is_empty(), "rows of {table} move");
        let marks = vec!["?"; cols.split(',').count()].join(", ");
        dst.exec_batch(
            format!("INSERT INTO {db}.{table} ({cols}) VALUES ({marks})"),
            rows.into_iter().map(|r| Params::Positional(r.unwrap())),
        )
        .await
        .unwrap();
    }
}

/// The rows of `span` of `tables` deleted on `set`'s primary, as a finished
/// move leaves its source.
pub async fn delete_span(
    c: &Cluster,
    db: &str,
    key: &str,
    tables: &[&str],
    set: &str,
    span: SlotSpan,
    slots: u32,
) {
    let mut conn = c.primary(set).conn().await.unwrap();
    let cond = in_span(key, span, slots);
    for table in tables {
        conn.query_drop(format!("DELETE FROM {db}.{table} WHERE {cond}"))
            .await
            .unwrap();
    }
}

/// Waits (15 s at most) until the gateway routes `SELECT * FROM table WHERE
/// key = value` to `set` (`EXPLAIN SETWISE` names it): it has seen a flip.
pub async fn wait_routed(c: &Cluster, table: &str, key: &str, value: u64, set: &str) {
    crate::wait_until(
        "the gateway to see the flip",
        Duration::from_secs(15),
        || async move {
            let mut k = c.proxy_conn().await?;
            let rows: Vec<Row> = k
                .query(format!(
                    "EXPLAIN SETWISE SELECT * FROM {table} WHERE {key} = {value}"
                ))
                .await?;
            k.disconnect().await?;
            Ok(rows
                .iter()
                .any(|r| r.get::<String, _>(1).as_deref() == Some(set)))
        },
    )
    .await
    .unwrap();
}
