//! Drives a merge: reads the sets' streams, merges in key order, groups, re-sorts,
//! applies OFFSET/LIMIT and writes the visible columns to the client.

use std::io;
use std::sync::Arc;

use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;

use super::aggregate::{empty_group, Grouper};
use super::concat::ElementOrder;
use super::rollup::Rollup;
use super::sort::{pick_first, RowOrder};
use super::stream::{Msg, SetStream};
use super::value::Cell;
use super::{MergeSpec, MEMORY_LIMIT};
use crate::error::ProxyError;
use crate::front::responder::Answered;
use crate::front::Responder;

/// Rows leaving the merge, after grouping: counts OFFSET/LIMIT and writes.
struct Sink<'s, 'o, 'r> {
    spec: &'s MergeSpec,
    cols: &'s [Column],
    /// GROUP_CONCAT lists cut (warnings), counted as MariaDB does.
    cut: u16,
    out: &'o mut Responder<'r>,
    skipped: u64,
    sent: u64,
}

impl Sink<'_, '_, '_> {
    fn full(&self) -> bool {
        self.spec.limit.is_some_and(|l| self.sent >= l)
    }

    async fn push(&mut self, row: &mut [Cell]) -> io::Result<()> {
        if self.full() {
            return Ok(());
        }
        if self.skipped < self.spec.offset {
            self.skipped += 1;
            return Ok(());
        }
        self.sent += 1;
        // A sent row's lists are cut (and warned about) now.
        if let Some(aggs) = &self.spec.group {
            self.cut = self
                .cut
                .saturating_add(super::concat::cut_lists(row, aggs, self.cols));
        }
        self.out
            .text_row(row[..self.spec.visible].iter().map(|c| c.as_deref()))
            .await
    }
}

/// Runs the merge and answers the client (rows, or an error packet — in place of
/// the next row if rows had started, as MariaDB does).
/// `shown`: the column definitions the client sees, when not the sets' own
/// (see [`MergeSpec::columns_sql`]).
pub async fn run(
    spec: &MergeSpec,
    streams: &mut [SetStream],
    shown: Option<Arc<[Column]>>,
    out: &mut Responder<'_>,
) -> Answered {
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
    if let Some(why) = super::fidelity::refusal(spec, &cols, out.is_binary()) {
        return fail(out, ProxyError::NotSupported(why)).await;
    }
    match &shown {
        Some(c) if c.len() == spec.visible => out.columns(c).await?,
        Some(_) => {
            let e = ProxyError::Internal("merge: the column definitions do not match".into());
            return fail(out, e).await;
        }
        None => out.columns(&cols[..spec.visible]).await?,
    }
    let cols = whole_doubles(cols, out.is_binary());

    let order = RowOrder::new(&spec.keys, &cols);
    let final_order = spec.final_order.as_ref().map(|k| RowOrder::new(k, &cols));
    // Groups re-sorted on their own keys (DESC): MariaDB reads them in that
    // order and builds (cuts, filters) only those it reaches before the LIMIT.
    let lazy = spec.final_order.as_ref().is_some_and(|fo| {
        let gk = spec.group_keys.as_deref().unwrap_or(&spec.keys);
        spec.group.is_some()
            && fo.len() <= gk.len()
            && fo.iter().zip(gk).all(|(o, k)| o.value == k.value)
    });
    let mut heads: Vec<Option<Vec<Cell>>> = vec![None; streams.len()];
    let mut live: Vec<bool> = vec![true; streams.len()];
    let mut warnings = 0u16;
    // Plain GROUP_CONCAT lists each set cut (its warnings, not passed on).
    let mut set_cut = vec![0u16; streams.len()];
    let first_aggs = spec.pre_group.as_deref().or(spec.group.as_deref());
    let mut sink = Sink {
        spec,
        cols: &cols,
        cut: 0,
        out,
        skipped: 0,
        sent: 0,
    };
    // Grouping stages: [first stage on `keys`], then the final one.
    let mut pre = spec
        .pre_group
        .as_deref()
        .map(|aggs| Grouper::new(&spec.keys, aggs, &cols, false));
    let group_keys = spec.group_keys.as_deref().unwrap_or(&spec.keys);
    // WITH ROLLUP: the groups stay partial for the rollup totals, which
    // finish every row they send.
    let mut grouper = spec
        .group
        .as_deref()
        .map(|aggs| Grouper::new(group_keys, aggs, &cols, !spec.rollup));
    let mut rollup = match (&spec.group, spec.rollup) {
        (Some(aggs), true) => Some(Rollup::new(group_keys, aggs, &cols)),
        _ => None,
    };
    let mut elements = ElementOrder::new(spec, &cols);
    let mut groups_out = 0u64;
    let mut held: Vec<Vec<Cell>> = Vec::new();
    let mut held_bytes = 0usize;
    let mut ended = false;
    while !ended {
        // Refill empty heads.
        for (i, s) in streams.iter_mut().enumerate() {
            if heads[i].is_none() && live[i] {
                match s.rx.recv().await {
                    Some(Msg::Row(r)) => {
                        if let Some(aggs) = first_aggs {
                            set_cut[i] =
                                set_cut[i].saturating_add(super::concat::set_cuts(&r, aggs));
                        }
                        heads[i] = Some(r)
                    }
                    Some(Msg::Done { warnings: w }) => {
                        warnings = warnings.saturating_add(w.saturating_sub(set_cut[i]));
                        live[i] = false;
                    }
                    Some(Msg::Failed(e)) => return fail(sink.out, e).await,
                    Some(Msg::Columns(_)) | None => return fail(sink.out, lost(&s.set)).await,
                }
            }
        }
        // The next merged row, or the end: then flush the stages.
        let mut staged: Vec<Vec<Cell>> = Vec::with_capacity(2);
        match pick_first(&order, &heads) {
            Some(i) => staged.push(heads[i].take().expect("picked head")),
            None => ended = true,
        }
        if let Some(p) = pre.as_mut() {
            staged = match staged.pop() {
                Some(row) => p.push(row).into_iter().collect(),
                None => p.flush().into_iter().collect(),
            };
        }
        if let Some(e) = elements.as_mut() {
            staged = e.pass(staged, ended);
            if e.held_bytes() > MEMORY_LIMIT {
                return fail(sink.out, too_big()).await;
            }
        }
        let mut done: Vec<Vec<Cell>> = Vec::with_capacity(2);
        match grouper.as_mut() {
            Some(g) => {
                for row in staged {
                    done.extend(g.push(row));
                }
                if ended {
                    done.extend(g.flush());
                }
            }
            None => done = staged,
        }
        if let Some(r) = rollup.as_mut() {
            let mut rows = Vec::with_capacity(done.len() + 1);
            for g in done {
                rows.extend(r.push(g));
            }
            if ended {
                rows.extend(r.flush());
            }
            done = rows;
        }
        for mut r in done {
            for (col, calc) in &spec.computed {
                r[*col] = calc.cell(&r, &cols[*col]);
            }
            if spec.group.is_some() {
                groups_out += 1;
                if !lazy {
                    match settle(&mut sink, &mut r) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => return fail(sink.out, e).await,
                    }
                }
            }
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
                sink.push(&mut r).await?;
                if sink.full() {
                    ended = true;
                }
            }
        }
    }
    if spec.one_row && groups_out == 0 {
        // No set had a row: the aggregate of nothing.
        let mut r = empty_group(spec.group.as_deref().unwrap_or_default());
        for (col, calc) in &spec.computed {
            r[*col] = calc.cell(&r, &cols[*col]);
        }
        match spec.having.as_ref().map(|h| h.passes(&r, &cols)) {
            Some(Ok(false)) => {}
            Some(Err(why)) => return fail(sink.out, ProxyError::NotSupported(why)).await,
            _ => sink.push(&mut r).await?,
        }
    }
    if let Some(fo) = &final_order {
        held.sort_by(|a, b| fo.compare(a, b));
        for r in held.iter_mut() {
            if sink.full() {
                break;
            }
            if lazy {
                match settle(&mut sink, r) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => return fail(sink.out, e).await,
                }
            }
            sink.push(r).await?;
        }
    }
    // MariaDB warns once per GROUP_CONCAT list it cuts.
    let warnings = warnings.saturating_add(sink.cut);
    sink.out.end_rows(warnings).await?;
    Ok(true)
}

/// A complete group as MariaDB builds it: plain GROUP_CONCAT lists cut (and
/// counted), then HAVING; false when the group is dropped.
fn settle(sink: &mut Sink<'_, '_, '_>, r: &mut [Cell]) -> Result<bool, ProxyError> {
    if let Some(aggs) = &sink.spec.group {
        let n = super::concat::cut_plain(r, aggs, sink.cols);
        sink.cut = sink.cut.saturating_add(n);
        super::json::settle(r, aggs).map_err(ProxyError::NotSupported)?;
        if let Some(why) = super::fidelity::overflow(r, aggs, sink.cols) {
            return Err(ProxyError::NotSupported(why));
        }
    }
    match sink.spec.having.as_ref().map(|h| h.passes(r, sink.cols)) {
        Some(Ok(false)) => Ok(false),
        Some(Err(why)) => Err(ProxyError::NotSupported(why)),
        _ => Ok(true),
    }
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

/// The columns the merge computes with. A client reading binary rows gets
/// whole doubles — MariaDB's binary row carries a DOUBLE's value, where its
/// text rounds it to the column's decimals (`STD(x)`, `AVG(x)` of a
/// DOUBLE(16,3)) — so the doubles the gateway computes (sums, averages,
/// deviations) keep all their digits: DOUBLE columns count as not fixed.
fn whole_doubles(cols: Arc<[Column]>, binary: bool) -> Arc<[Column]> {
    let fixed = |c: &Column| c.column_type() == ColumnType::MYSQL_TYPE_DOUBLE && c.decimals() < 31;
    if !binary || !cols.iter().any(fixed) {
        return cols;
    }
    cols.iter()
        .map(|c| {
            if fixed(c) {
                c.clone().with_decimals(31)
            } else {
                c.clone()
            }
        })
        .collect()
}
