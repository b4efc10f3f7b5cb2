//! `setwise shard moves`: the moves in progress, then the finished ones (table or
//! JSON); `--cancel ID` (compare-and-swap on the record); and the moves of one
//! database that `setwise shardmap DB` shows under its map.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use topo::{DatabaseRecord, MovePhase, MoveRecord, Topo, TopoError};

use super::check::span;
use crate::cli::render::{format_age, Table};

/// The sets a move takes slots from: its recorded sources, or (not picked up yet)
/// the current owners of its range.
pub fn sources_of(m: &MoveRecord, dbs: &HashMap<String, DatabaseRecord>) -> Vec<String> {
    if !m.sources.is_empty() {
        return m.sources.iter().map(|s| s.set.clone()).collect();
    }
    dbs.get(&m.db)
        .map(|d| {
            topo::owners_of(&d.shard_map, m.start, m.end, &m.to)
                .into_iter()
                .map(|f| f.set)
                .collect()
        })
        .unwrap_or_default()
}

/// Moves of `db` (or all), in progress first, each group oldest first.
pub async fn read(
    topo: &Topo,
    db: Option<&str>,
) -> Result<(Vec<MoveRecord>, HashMap<String, DatabaseRecord>)> {
    let mut moves: Vec<MoveRecord> = topo
        .list_moves()
        .await?
        .into_iter()
        .map(|v| v.value)
        .filter(|m| db.is_none_or(|d| m.db == d))
        .collect();
    moves.sort_by_key(|m| m.phase.is_finished());
    let dbs = topo
        .list_dbs()
        .await?
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect();
    Ok((moves, dbs))
}

pub async fn list(topo: &Topo, db: Option<&str>, json: bool) -> Result<String> {
    let (moves, dbs) = read(topo, db).await?;
    let now = crate::now_ms();
    if json {
        let arr: Vec<Value> = moves.iter().map(|m| to_json(m, &dbs, now)).collect();
        return Ok(serde_json::to_string_pretty(&arr)? + "\n");
    }
    if moves.is_empty() {
        return Ok("(no slot moves)\n".into());
    }
    let (open, done): (Vec<_>, Vec<_>) = moves.iter().partition(|m| !m.phase.is_finished());
    let mut out = String::new();
    if !open.is_empty() {
        out.push_str("IN PROGRESS\n");
        out.push_str(&moves_table(&open, &dbs, now).render());
    }
    if !done.is_empty() {
        if !open.is_empty() {
            out.push('\n');
        }
        out.push_str("FINISHED\n");
        out.push_str(&moves_table(&done, &dbs, now).render());
    }
    Ok(out)
}

/// A move as JSON: its record, plus `from`, totals, `took_ms` and `finished`.
fn to_json(m: &MoveRecord, dbs: &HashMap<String, DatabaseRecord>, now: u64) -> Value {
    let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("from".into(), sources_of(m, dbs).into());
        o.insert("rows_copied".into(), m.rows_copied().into());
        o.insert("events_applied".into(), m.events_applied().into());
        o.insert("lag_trx".into(), m.lag_trx().into());
        o.insert("finished".into(), m.phase.is_finished().into());
        o.insert(
            "took_ms".into(),
            m.finished_ms
                .unwrap_or(now)
                .saturating_sub(m.created_ms)
                .into(),
        );
    }
    v
}

/// Moves as `setwise shard moves` (and the console) show them.
pub fn moves_table(
    moves: &[&MoveRecord],
    dbs: &HashMap<String, DatabaseRecord>,
    now: u64,
) -> Table {
    let mut t = Table::new([
        "ID",
        "DB",
        "SLOTS",
        "FROM→TO",
        "PHASE",
        "ROWS",
        "LAG",
        "HOLD",
        "STARTED",
        "TOOK",
        "ERROR",
    ]);
    for m in moves {
        let mut phase = m.phase.word().to_string();
        if m.cancel && !m.phase.is_finished() {
            phase.push_str(" (cancel asked)");
        }
        let rows = match (m.rows_copied(), m.rows_total) {
            (0, 0) => "-".to_string(),
            (c, 0) => c.to_string(),
            (c, t) => format!("{c}/{t}"),
        };
        let from = sources_of(m, dbs);
        t.row([
            m.id.clone(),
            m.db.clone(),
            span(m.start, m.end),
            format!(
                "{}→{}",
                if from.is_empty() {
                    "-".into()
                } else {
                    from.join(",")
                },
                m.to
            ),
            phase,
            rows,
            m.lag_trx()
                .map(|l| l.to_string())
                .unwrap_or_else(|| "-".into()),
            m.longest_hold_ms
                .map(format_age)
                .unwrap_or_else(|| "-".into()),
            format!("{} ago", format_age(now.saturating_sub(m.created_ms))),
            format_age(m.finished_ms.unwrap_or(now).saturating_sub(m.created_ms)),
            m.error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// The moves of `db` not finished yet, as lines under its shard map (empty if none).
pub async fn in_progress_of(topo: &Topo, db: &str) -> Result<String> {
    let (moves, dbs) = read(topo, Some(db)).await?;
    let open: Vec<&MoveRecord> = moves.iter().filter(|m| !m.phase.is_finished()).collect();
    if open.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::from("moves in progress:\n");
    for m in open {
        out.push_str("  ");
        out.push_str(&super::follow::progress_line(m, None));
        let from = sources_of(m, &dbs);
        if !from.is_empty() {
            out.push_str(&format!(" (from {})", from.join(",")));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Why move `m` cannot be cancelled, or None.
pub fn cancel_refusal(m: &MoveRecord) -> Option<String> {
    let id = &m.id;
    if m.phase.flipped() {
        return Some(format!(
            "move {id} already flipped (phase {}): the slots belong to {} now; move the slots \
             back instead (setwise shard move --db {} --slots {} --to ...)",
            m.phase.word(),
            m.to,
            m.db,
            span(m.start, m.end)
        ));
    }
    if m.phase.is_finished() {
        return Some(format!(
            "move {id} already ended ({}): nothing to cancel",
            m.phase.word()
        ));
    }
    if m.phase == MovePhase::Undo {
        return Some(format!("move {id} is already being undone"));
    }
    None
}

/// Sets `cancel` on move `id` (compare-and-swap, retried on a concurrent update).
pub async fn cancel(topo: &Topo, id: &str) -> Result<String> {
    let key = topo.keys().move_of(id);
    for _ in 0..16 {
        let Some(cur) = topo.get_move(id).await? else {
            bail!("move {id} not found (see `setwise shard moves`)");
        };
        let mut m = cur.value;
        if let Some(why) = cancel_refusal(&m) {
            bail!("{why}");
        }
        if m.cancel {
            return Ok(format!(
                "move {id}: cancel already asked (phase {}); the scheduler undoes it\n",
                m.phase.word()
            ));
        }
        m.cancel = true;
        m.step(
            crate::now_ms(),
            "cancel asked (setwise shard moves --cancel)",
        );
        match topo.cas(&key, &m, cur.mod_revision).await {
            Ok(_) => {
                return Ok(format!(
                    "move {id}: cancel asked (phase {}); the scheduler undoes it before the \
                     flip — follow it with `setwise shard moves`\n",
                    m.phase.word()
                ))
            }
            Err(TopoError::CasConflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(anyhow!("move {id} kept changing; run the command again"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_refusals() {
        let mut m = MoveRecord::request("d", 0, 10, "set3", "cli", 1);
        assert_eq!(cancel_refusal(&m), None);
        m.phase = MovePhase::Copy;
        assert_eq!(cancel_refusal(&m), None);
        for p in [MovePhase::Cleanup, MovePhase::Done] {
            m.phase = p;
            assert!(cancel_refusal(&m).unwrap().contains("already flipped"));
        }
        for p in [MovePhase::Failed, MovePhase::Cancelled] {
            m.phase = p;
            assert!(cancel_refusal(&m).unwrap().contains("already ended"));
        }
        m.phase = MovePhase::Undo;
        assert!(cancel_refusal(&m).unwrap().contains("being undone"));
    }
}
