//! Phase `copy`: per source, the rows of the moving slots read from one consistent
//! snapshot (`START TRANSACTION WITH CONSISTENT SNAPSHOT`; its binlog position,
//! `BINLOG_GTID_POS`, is where the catch-up starts) in primary-key order, in chunks,
//! written to the target with multi-row `REPLACE`. The cursor is recorded; a copy
//! resumed by another leader (or after an error) opens a new snapshot and goes on
//! from the cursor, keeping the first `gtid_start`: replaying the binlog from there
//! makes every row right whichever snapshot it was read from. Broadcast tables (a
//! target new to the database) are copied whole from the first source.

use anyhow::{anyhow, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};
use std::time::Duration;
use topo::{MovePhase, MoveTable};

use super::driver::Driver;
use super::sql::{self, q, qt};

/// Most placeholders in one statement (MariaDB allows 65535).
const MAX_PARAMS: usize = 60_000;
/// Most bytes of values in one statement (well under `max_allowed_packet`).
const MAX_BYTES: usize = 4 << 20;

/// Copies every source, then moves on to the catch-up.
pub async fn run(d: &mut Driver) -> Result<()> {
    for i in 0..d.rec.sources.len() {
        copy_source(d, i).await?;
    }
    let n = d.rec.rows_copied();
    d.note(format!("copy done: {n} rows"));
    d.rec.phase = MovePhase::CatchUp;
    d.save().await
}

/// The tables source `i` gives: broadcast ones (first source only), then sharded.
fn tables_of(d: &Driver, i: usize) -> Vec<(String, Option<MoveTable>)> {
    let mut v: Vec<(String, Option<MoveTable>)> = Vec::new();
    if i == 0 {
        v.extend(d.rec.broadcast.iter().map(|b| (b.clone(), None)));
    }
    v.extend(
        d.rec
            .tables
            .iter()
            .map(|t| (t.name.clone(), Some(t.clone()))),
    );
    v
}

async fn copy_source(d: &mut Driver, i: usize) -> Result<()> {
    let todo: Vec<_> = tables_of(d, i)
        .into_iter()
        .filter(|(n, _)| !d.rec.sources[i].copied.contains(n))
        .collect();
    if todo.is_empty() && d.rec.sources[i].gtid_start.is_some() {
        return Ok(());
    }
    let snap = d.snapshot().await?;
    let set = d.rec.sources[i].set.clone();
    let slots = snap
        .db(&d.rec.db)
        .map(|r| r.shard_map.slots)
        .ok_or_else(|| anyhow!("database {} is gone", d.rec.db))?;
    let spans = d.rec.sources[i].ranges.clone();
    let mut src = sql::connect(&snap, &d.account, &set).await?;
    let mut tgt = sql::connect(&snap, &d.account, &d.rec.to).await?;
    // The first copy's catch-up starts before every XA transaction then prepared
    // (their rows are in the binlog at XA PREPARE, before the snapshot's position,
    // but not in the snapshot): see `start_before_prepared`.
    let start = match d.rec.sources[i].gtid_start {
        None => Some(start_before_prepared(&mut src, &set).await?),
        Some(_) => None,
    };
    let gtid = snapshot_gtid(&mut src, &set).await?;
    if d.rec.sources[i].gtid_start.is_none() {
        let mut total = 0u64;
        for (name, t) in &todo {
            let cond = t
                .as_ref()
                .map(|t| sql::inside(t, slots, &spans))
                .unwrap_or_else(|| "1".into());
            let n: Option<u64> = src
                .query_first(format!(
                    "SELECT COUNT(*) FROM {} WHERE {cond}",
                    qt(&d.rec.db, name)
                ))
                .await?;
            total += n.unwrap_or(0);
        }
        d.rec.rows_total += total;
        let start = catchup_start(start.as_deref(), &gtid)?;
        d.rec.sources[i].gtid_start = Some(start.clone());
        d.rec.sources[i].gtid_snapshot = Some(gtid.clone());
        d.note(format!(
            "copy of {set} from its snapshot at {gtid:?}: ~{total} rows; catch-up from {start:?}"
        ));
        d.save().await?;
    } else {
        d.note(format!(
            "copy of {set} resumed from a new snapshot at {gtid:?} (catch-up from {:?})",
            d.rec.sources[i].gtid_start.as_deref().unwrap_or("")
        ));
    }
    for (name, t) in todo {
        copy_table(d, i, &mut src, &mut tgt, &name, t.as_ref(), slots).await?;
    }
    src.query_drop("COMMIT").await?;
    Ok(())
}

/// Where the catch-up of a first copy starts: the earlier (per GTID domain) of
/// `@@gtid_binlog_pos` read before the snapshot (`before`, see
/// [`start_before_prepared`]) and the snapshot's own position `snapshot`.
///
/// `@@gtid_binlog_pos` counts a transaction as soon as it is in the binlog, but
/// InnoDB commits it — and a snapshot sees it — only later: on a strong-sync set
/// (`AFTER_SYNC`) once a replica acknowledged it, and under load any commit's
/// group can be between the two. Such a transaction is then inside `before` and
/// after `snapshot`: in neither the copy nor a catch-up starting at `before`
/// (the flake of `scaleout::a_move_under_writes_loses_and_duplicates_nothing`:
/// `snapshot at "0-201-256" … catch-up from "0-201-257"`, then the verification
/// found one row missing on the target). An `XA PREPARE` waiting there is not even
/// listed by `XA RECOVER` yet, so [`start_before_prepared`] does not wait for it.
/// The snapshot holds exactly what its position covers, so starting at or before
/// it loses nothing; replaying the stretch up to it again is idempotent.
pub fn catchup_start(before: Option<&str>, snapshot: &str) -> Result<String> {
    use topo::gtid::GtidPos;
    let s = GtidPos::parse(snapshot).map_err(|e| anyhow!("snapshot position: {e}"))?;
    Ok(match before {
        Some(b) => GtidPos::parse(b)
            .map_err(|e| anyhow!("@@gtid_binlog_pos: {e}"))?
            .meet(&s)
            .to_string(),
        None => s.to_string(),
    })
}

/// Starts a consistent-snapshot transaction on `c` and returns its exact binlog
/// position as a GTID position (`BINLOG_GTID_POS` of `binlog_snapshot_file/position`).
pub async fn snapshot_gtid(c: &mut Conn, set: &str) -> Result<String> {
    c.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await?;
    c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await?;
    let file: Option<(String, String)> = c
        .query_first("SHOW STATUS LIKE 'binlog_snapshot_file'")
        .await?;
    let pos: Option<(String, String)> = c
        .query_first("SHOW STATUS LIKE 'binlog_snapshot_position'")
        .await?;
    let (file, pos) = match (file, pos) {
        (Some((_, f)), Some((_, p))) => (f, p.parse::<u64>()?),
        _ => {
            return Err(anyhow!(
                "{set} shows no binlog snapshot position (binlog off?)"
            ))
        }
    };
    let gtid: Option<Option<String>> = c
        .exec_first("SELECT BINLOG_GTID_POS(?, ?)", (&file, pos))
        .await?;
    gtid.flatten()
        .ok_or_else(|| anyhow!("BINLOG_GTID_POS({file}, {pos}) is NULL on {set}"))
}

/// How long the copy waits for the XA transactions prepared on a source to end.
const PREPARED_XA_WAIT: Duration = Duration::from_secs(30);

/// MariaDB writes an XA transaction's rows to the binlog at `XA PREPARE` and its
/// `XA COMMIT` as a later group of its own. A transaction prepared before the copy's
/// snapshot and committed after it is in neither the snapshot nor a catch-up that
/// starts at the snapshot's position. So the catch-up starts at `@@gtid_binlog_pos`
/// read *before* the snapshot, once every XA transaction prepared at that moment has
/// ended: everything prepared later is in the binlog after that position (replaying
/// the stretch up to the snapshot again is idempotent). That position may also count
/// commits the snapshot does not see yet: [`catchup_start`] takes the earlier of it
/// and the snapshot's.
async fn start_before_prepared(src: &mut Conn, set: &str) -> Result<String> {
    let pos: Option<String> = src.query_first("SELECT @@gtid_binlog_pos").await?;
    let pos = pos.unwrap_or_default();
    let prepared = |rows: Vec<Row>| -> Vec<Vec<u8>> {
        rows.into_iter()
            .filter_map(|r| r.get::<Vec<u8>, _>(3))
            .collect()
    };
    let before = prepared(src.query("XA RECOVER").await?);
    let deadline = std::time::Instant::now() + PREPARED_XA_WAIT;
    loop {
        let now = prepared(src.query("XA RECOVER").await?);
        let left: Vec<&Vec<u8>> = now.iter().filter(|x| before.contains(x)).collect();
        if left.is_empty() {
            return Ok(pos);
        }
        if std::time::Instant::now() >= deadline {
            let names: Vec<String> = left
                .iter()
                .map(|x| String::from_utf8_lossy(x).into_owned())
                .collect();
            return Err(anyhow!(
                "XA transaction(s) {} stay prepared on {set}: the copy cannot start until \
                 they are committed or rolled back (`XA RECOVER` on {set}'s primary)",
                names.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Copies one table's rows of source `i`'s slots (all rows of a broadcast table).
async fn copy_table(
    d: &mut Driver,
    i: usize,
    src: &mut Conn,
    tgt: &mut Conn,
    name: &str,
    t: Option<&MoveTable>,
    slots: u32,
) -> Result<()> {
    let db = d.rec.db.clone();
    let info = sql::table_info(src, &db, name).await?;
    let cols = info
        .cols
        .iter()
        .map(|c| q(c))
        .collect::<Vec<_>>()
        .join(", ");
    let cond = match t {
        Some(t) => sql::inside(t, slots, &d.rec.sources[i].ranges),
        None => "1".to_string(),
    };
    let order = sql::pk_order(&info.pk);
    let chunk = d.cfg.chunk_rows.max(1);
    let mut cursor: Option<Vec<Value>> = match &d.rec.sources[i].copy_cursor {
        Some((n, j)) if n == name => Some(
            j.as_array()
                .ok_or_else(|| anyhow!("bad copy cursor {j}"))?
                .iter()
                .map(sql::from_json)
                .collect::<Result<_>>()?,
        ),
        _ => None,
    };
    loop {
        let (after, params) = match &cursor {
            Some(c) => sql::after(&info.pk, c),
            None => ("1".to_string(), Vec::new()),
        };
        let sel = format!(
            "SELECT {cols} FROM {} WHERE {cond} AND {after} ORDER BY {order} LIMIT {chunk}",
            qt(&db, name)
        );
        let rows: Vec<Row> = sql::bounded("read a chunk", async {
            Ok(src.exec(sel, Params::from(params)).await?)
        })
        .await?;
        if rows.is_empty() {
            break;
        }
        let rows: Vec<Vec<Value>> = rows.into_iter().map(Row::unwrap).collect();
        d.check_leading()?;
        let table = qt(&db, name);
        let to = d.rec.to.clone();
        super::blocked::write_on(
            d.topo(),
            &to,
            "write a chunk",
            replace(tgt, &table, &cols, info.cols.len(), &rows),
        )
        .await?;
        let last = rows.last().expect("not empty");
        let c: Vec<Value> = info.pk_at.iter().map(|&k| last[k].clone()).collect();
        let sp = &mut d.rec.sources[i];
        sp.rows_copied += rows.len() as u64;
        sp.copy_cursor = Some((
            name.to_string(),
            serde_json::Value::Array(c.iter().map(sql::to_json).collect()),
        ));
        cursor = Some(c);
        d.save_progress().await?;
        if d.rec.cancel {
            anyhow::bail!("cancel requested");
        }
        if (rows.len() as u64) < chunk {
            break;
        }
        if d.cfg.throttle_ms > 0 {
            d.pause(Duration::from_millis(d.cfg.throttle_ms)).await?;
        }
    }
    let sp = &mut d.rec.sources[i];
    sp.copied.push(name.to_string());
    sp.copy_cursor = None;
    d.save().await
}

/// Multi-row `REPLACE` of `rows` (parameterized: every value keeps its exact type),
/// split to stay under the placeholder and packet limits.
pub async fn replace(
    tgt: &mut Conn,
    table: &str,
    cols: &str,
    ncols: usize,
    rows: &[Vec<Value>],
) -> Result<()> {
    let per_stmt = (MAX_PARAMS / ncols.max(1)).max(1);
    let one = format!("({})", vec!["?"; ncols].join(","));
    let mut i = 0;
    while i < rows.len() {
        let mut j = i;
        let mut bytes = 0;
        while j < rows.len() && j - i < per_stmt && (j == i || bytes < MAX_BYTES) {
            bytes += rows[j].iter().map(sql::size_of).sum::<usize>();
            j += 1;
        }
        let values = vec![one.as_str(); j - i].join(",");
        let params: Vec<Value> = rows[i..j].iter().flatten().cloned().collect();
        tgt.exec_drop(
            format!("REPLACE INTO {table} ({cols}) VALUES {values}"),
            Params::Positional(params),
        )
        .await?;
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::catchup_start;

    #[test]
    fn the_catchup_starts_at_or_before_the_snapshot() {
        // A commit in the binlog, not yet visible to the snapshot taken after.
        assert_eq!(
            catchup_start(Some("0-201-257"), "0-201-256").unwrap(),
            "0-201-256"
        );
        // XA transactions prepared before the snapshot: the earlier position.
        assert_eq!(
            catchup_start(Some("0-101-181"), "0-101-184").unwrap(),
            "0-101-181"
        );
        assert_eq!(catchup_start(None, "0-1-9").unwrap(), "0-1-9");
        assert_eq!(catchup_start(Some(""), "0-1-9").unwrap(), "");
        assert!(catchup_start(Some("junk"), "0-1-9").is_err());
    }
}
