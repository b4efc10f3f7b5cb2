//! Runs one query the gateway made (a join side, a batch, a subquery's
//! values): routed like any statement, on every set it needs at once, rows
//! collected under the statement's [`Budget`].

use std::sync::Arc;

use mysql_common::packets::Column;

use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::merge::stream::{self, Msg, SetStream};
use crate::merge::value::Cell;
use crate::route::{Merge, Target};

/// A query's answer: column definitions and rows.
pub struct Fetched {
    pub cols: Arc<[Column]>,
    pub rows: Vec<Vec<Cell>>,
    pub warnings: u16,
    /// The sets it ran on.
    pub sets: Vec<String>,
}

/// The sets a gateway-made query routes to (it must need no merging).
pub fn route(exec: &Exec<'_>, sql: &str) -> Result<Vec<String>, ProxyError> {
    route_or_merge(exec, sql)?
        .ok_or_else(|| super::unsupported("a subquery or join side that needs merging across sets"))
}

/// The sets a gateway-made query routes to, or `None` when its answer needs a
/// merge across sets (then [`super::capture`] runs it).
pub fn route_or_merge(exec: &Exec<'_>, sql: &str) -> Result<Option<Vec<String>>, ProxyError> {
    let tokens = crate::sql::lexer::tokenize(sql).map_err(|e| {
        ProxyError::Internal(format!("join: a generated query does not lex: {}", e.what))
    })?;
    // A subquery's values as a JSON_TABLE: its column types unread (`collated`).
    let parsed = super::collated::parsed_text(sql);
    let stmt = crate::sql::parse_one(parsed.as_deref().unwrap_or(sql)).map_err(|e| {
        ProxyError::Internal(format!("join: a generated query does not parse: {e}"))
    })?;
    let planned = crate::route::plan_statement(
        exec.conns.snap,
        exec.conns.db,
        sql,
        &tokens,
        &stmt,
        None,
        &super::CrossSetPlanner,
    )?;
    match (planned.plan.target, planned.plan.merge) {
        (Target::Sets(sets), Merge::Single | Merge::Concat) => Ok(Some(sets)),
        _ => Ok(None),
    }
}

/// Runs `sql` where it routes and collects its rows (rows counted in `budget`).
pub async fn fetch(
    exec: &mut Exec<'_>,
    sql: &str,
    budget: &mut Budget,
) -> Result<Fetched, ProxyError> {
    fetch_as(exec, sql, sql, budget).await
}

/// [`fetch`] routed by `routed` but sending `sql` to each set (e.g. with a
/// `LIMIT 1` each set applies to itself).
pub async fn fetch_as(
    exec: &mut Exec<'_>,
    routed: &str,
    sql: &str,
    budget: &mut Budget,
) -> Result<Fetched, ProxyError> {
    let sets = route(exec, routed)?;
    fetch_on(exec, sets, sql, budget).await
}

/// Runs `sql` on `sets` (routed already) and collects its rows.
pub async fn fetch_on(
    exec: &mut Exec<'_>,
    sets: Vec<String>,
    sql: &str,
    budget: &mut Budget,
) -> Result<Fetched, ProxyError> {
    let started = start(exec, &sets, sql).await?;
    let (cols, rows, warnings) = finish(exec, started, budget).await?;
    Ok(Fetched {
        cols,
        rows,
        warnings,
        sets,
    })
}

/// A query in flight on its sets.
pub struct Started {
    streams: Vec<SetStream>,
    /// Each set and the routing epoch its connection was taken at.
    on: Vec<(String, u64)>,
}

/// Starts `sql` on each of `sets` (streams in flight).
pub async fn start(exec: &mut Exec<'_>, sets: &[String], sql: &str) -> Result<Started, ProxyError> {
    // Each set's text, filtered of the rows of slots it holds without owning.
    let wires: Vec<Vec<u8>> = sets
        .iter()
        .map(|set| {
            let text = exec.for_set(set, sql)?;
            Ok(exec.conns.codec.wire(&text).into_owned())
        })
        .collect::<Result<_, ProxyError>>()?;
    let mut st = Started {
        streams: Vec::with_capacity(sets.len()),
        on: Vec::with_capacity(sets.len()),
    };
    for (set, wire) in sets.iter().zip(wires) {
        match exec.take_at(set).await {
            Ok((c, epoch)) => {
                exec.also_running_on(&c);
                st.streams.push(stream::spawn(set, c, wire));
                st.on.push((set.clone(), epoch));
            }
            Err(e) => {
                recover(exec, st).await;
                return Err(e);
            }
        }
    }
    Ok(st)
}

/// Reads a started query to its end, watched like any statement on those
/// sets (a set whose primary hangs or changes fails it), and gives the
/// connections back.
pub async fn finish(
    exec: &mut Exec<'_>,
    mut st: Started,
    budget: &mut Budget,
) -> Result<(Arc<[Column]>, Vec<Vec<Cell>>, u16), ProxyError> {
    let r = {
        let on: Vec<(&str, u64)> = st.on.iter().map(|(s, e)| (s.as_str(), *e)).collect();
        let write = exec.write;
        exec.conns
            .guarded_sets(&on, write, drain(&mut st.streams, budget))
            .await
    };
    match r {
        Ok(r) => {
            recover(exec, st).await;
            r
        }
        Err(e) => {
            // The tasks stay behind on the stuck set; their connections are not reused.
            for s in st.streams {
                s.task.abort();
            }
            if let Some(t) = exec.txn.as_deref_mut() {
                t.broken = Some(e.to_string());
            }
            Err(e)
        }
    }
}

/// Reads every stream to its end.
async fn drain(
    streams: &mut [SetStream],
    budget: &mut Budget,
) -> Result<(Arc<[Column]>, Vec<Vec<Cell>>, u16), ProxyError> {
    let mut cols: Option<Arc<[Column]>> = None;
    let mut rows = Vec::new();
    let mut warnings = 0u16;
    for s in streams.iter_mut() {
        loop {
            match s.rx.recv().await {
                Some(Msg::Columns(c)) => {
                    cols.get_or_insert(c);
                }
                Some(Msg::Row(r)) => {
                    budget.hold(&r)?;
                    rows.push(r);
                }
                Some(Msg::Done { warnings: w }) => {
                    warnings = warnings.saturating_add(w);
                    break;
                }
                Some(Msg::Failed(e)) => return Err(e),
                None => {
                    return Err(ProxyError::BackendLost {
                        set: s.set.clone(),
                        detail: "the set's stream ended early".into(),
                    })
                }
            }
        }
    }
    let cols = cols.ok_or_else(|| ProxyError::Internal("join: no set answered".into()))?;
    Ok((cols, rows, warnings))
}

/// Waits for the stream tasks and gives their connections back.
pub async fn recover(exec: &mut Exec<'_>, st: Started) {
    for s in st.streams {
        drop(s.rx);
        if let Ok(conn) = s.task.await {
            exec.give_back(&s.set, conn, None);
        }
    }
}
