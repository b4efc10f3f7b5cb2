//! Drives a merge: reads the sets' streams, merges in key order, groups, re-sorts,
//! applies OFFSET/LIMIT and writes the visible columns to the client.

use std::io;

use super::aggregate::{finish, fold};
use super::sort::{pick_first, RowOrder};
use super::stream::{Msg, SetStream};
use super::value::Cell;
use super::{MergeSpec, MEMORY_LIMIT};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::Responder;

/// Rows leaving the merge, after grouping: counts OFFSET/LIMIT and writes.
struct Sink<'s, 'o, 'r> {
    spec: &'s MergeSpec,
    out: &'o mut Responder<'r>,
    skipped: u64,
    sent: u64,
}

impl Sink<'_, '_, '_> {
    fn full(&self) -> bool {
        self.spec.limit.is_some_and(|l| self.sent >= l)
    }

    async fn push(&mut self, row: &[Cell]) -> io::Result<()> {
        if self.full() {
            return Ok(());
        }
        if self.skipped < self.spec.offset {
            self.skipped += 1;
            return Ok(());
        }
        self.sent += 1;
        self.out
            .text_row(row[..self.spec.visible].iter().map(|c| c.as_deref()))
            .await
    }
}

/// Runs the merge and answers the client (rows, or an error packet — in place of
/// the next row if rows had started, as MariaDB does).
pub async fn run(spec: &MergeSpec, streams: &mut [SetStream], out: &mut Responder<'_>) -> Answered {
    // Column definitions: every set sends them first.
    let mut cols = None;
    for s in streams.iter_mut() {
        match s.rx.recv().await {
            Some(Msg::Columns(c)) => {
                cols.get_or_insert(c);
            }
            Some(Msg::Failed(e)) => return fail(out, e).await,
            _ => return fail(out, lost(&s.set)).await,
        }
    }
    let cols = cols.expect("at least one set");
    let Some(spec) = spec.resolve(cols.len()) else {
        let e = ProxyError::Internal(
            "merge: the sets answered with an unexpected number of columns".into(),
        );
        return fail(out, e).await;
    };
    let spec = &spec;
    out.columns(&cols[..spec.visible]).await?;

    let order = RowOrder::new(&spec.keys, &cols);
    let final_order = spec.final_order.as_ref().map(|k| RowOrder::new(k, &cols));
    let mut heads: Vec<Option<Vec<Cell>>> = vec![None; streams.len()];
    let mut live: Vec<bool> = vec![true; streams.len()];
    let mut warnings = 0u16;
    let mut sink = Sink {
        spec,
        out,
        skipped: 0,
        sent: 0,
    };
    let mut group: Option<Vec<Cell>> = None;
    let mut held: Vec<Vec<Cell>> = Vec::new();
    let mut held_bytes = 0usize;

    loop {
        // Refill empty heads.
        for (i, s) in streams.iter_mut().enumerate() {
            if heads[i].is_none() && live[i] {
                match s.rx.recv().await {
                    Some(Msg::Row(r)) => heads[i] = Some(r),
                    Some(Msg::Done { warnings: w }) => {
                        warnings = warnings.saturating_add(w);
                        live[i] = false;
                    }
                    Some(Msg::Failed(e)) => return fail(sink.out, e).await,
                    Some(Msg::Columns(_)) | None => return fail(sink.out, lost(&s.set)).await,
                }
            }
        }
        let Some(i) = pick_first(&order, &heads) else {
            break;
        };
        let row = heads[i].take().expect("picked head");
        // Grouping: rows equal on the keys fold into one.
        let done_row = match &spec.group {
            Some(aggs) => match group.as_mut() {
                Some(acc) if order.compare(acc, &row) == std::cmp::Ordering::Equal => {
                    fold(acc, &row, aggs, &cols);
                    None
                }
                _ => {
                    let prev = group.replace(row);
                    prev.and_then(|mut g| {
                        finish(&mut g, aggs, &cols);
                        spec.having
                            .as_ref()
                            .is_none_or(|h| h.passes(&g, &cols))
                            .then_some(g)
                    })
                }
            },
            None => Some(row),
        };
        if let Some(r) = done_row {
            if final_order.is_some() {
                held_bytes += r
                    .iter()
                    .map(|c| c.as_ref().map_or(1, Vec::len) + 24)
                    .sum::<usize>();
                if held_bytes > MEMORY_LIMIT {
                    return fail(sink.out, too_big()).await;
                }
                held.push(r);
            } else {
                sink.push(&r).await?;
                if sink.full() {
                    break;
                }
            }
        }
    }
    if let (Some(aggs), Some(mut g)) = (&spec.group, group.take()) {
        finish(&mut g, aggs, &cols);
        if !spec.having.as_ref().is_none_or(|h| h.passes(&g, &cols)) {
            // The last group fails HAVING.
        } else if final_order.is_some() {
            held.push(g);
        } else {
            sink.push(&g).await?;
        }
    }
    if let Some(fo) = &final_order {
        held.sort_by(|a, b| fo.compare(a, b));
        for r in &held {
            if sink.full() {
                break;
            }
            sink.push(r).await?;
        }
    }
    sink.out.end_rows(warnings).await?;
    Ok(true)
}

fn lost(set: &str) -> ProxyError {
    ProxyError::BackendLost {
        set: set.into(),
        detail: "the set's stream ended early".into(),
    }
}

fn too_big() -> ProxyError {
    ProxyError::Backend {
        code: 1038,
        state: "HY001".into(),
        message: format!(
            "Out of sort memory: the gateway holds at most {} MiB to re-sort a result merged from several sets; add a LIMIT or a WHERE that pins the shard key",
            MEMORY_LIMIT >> 20
        ),
    }
}

async fn fail(out: &mut Responder<'_>, e: ProxyError) -> Answered {
    out.error(&e).await?;
    Ok(false)
}
