//! Running a [`GroupPlan`]: MariaDB's column definitions of the grouped
//! items, then each joined row folded like one set's row (COUNT(*) 1,
//! COUNT(x) 1 or 0, SUM / MIN / MAX the value, AVG a sum and a count), sorted
//! on the group keys, folded by the merge's [`Grouper`], filtered by HAVING,
//! sorted, cut by OFFSET / LIMIT.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;

use super::group::{Fun, GroupPlan, Item, SideCol};
use super::output::Layout;
use super::{unsupported, Budget};
use crate::error::ProxyError;
use crate::merge::aggregate::{empty_group, Grouper};
use crate::merge::sort::RowOrder;
use crate::merge::value::Cell;
use crate::merge::{AggSpec, KeySpec};

/// How a folded row's column is read from a joined row.
#[derive(Debug, Clone, Copy)]
enum Fill {
    Cell(usize),
    One,
    NotNull(usize),
    Null,
}

/// Joined rows grouped as they arrive, answered at the end.
pub struct Grouping {
    fill: Vec<Fill>,
    aggs: Vec<AggSpec>,
    cols: Vec<Column>,
    keys: Vec<KeySpec>,
    rows: Vec<Vec<Cell>>,
}

fn weight_col() -> Column {
    Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
        .with_character_set(63)
        .with_flags(ColumnFlags::BINARY_FLAG)
}

impl Grouping {
    /// `shown`: MariaDB's definitions of the items (visible and extra).
    pub fn new(gp: &GroupPlan, l: &Layout, shown: &[Column]) -> Result<Grouping, ProxyError> {
        if shown.len() != gp.items.len() {
            return Err(ProxyError::Internal(
                "join: the grouped column definitions do not match".into(),
            ));
        }
        let at = |c: &SideCol| (l.hidden(c.side, c.value), l.hidden(c.side, c.weight));
        let mut fill = Vec::new();
        let mut aggs = Vec::new();
        let mut cols: Vec<Column> = shown.to_vec();
        let mut helpers: Vec<(Fill, AggSpec, Column)> = Vec::new();
        let helper_at = gp.helper_at();
        for (i, it) in gp.items.iter().enumerate() {
            let h = helper_at[i];
            match it {
                Item::Key { col, .. } => {
                    let (v, w) = at(col);
                    fill.push(Fill::Cell(v));
                    aggs.push(AggSpec::Any);
                    helpers.push((Fill::Cell(w), AggSpec::Any, weight_col()));
                }
                Item::Agg { fun, arg, .. } => {
                    let a = arg.as_ref().map(at);
                    let v = a.map_or(0, |a| a.0);
                    if matches!(fun, Fun::Sum | Fun::Avg) {
                        let c = &l.all[v];
                        let float = matches!(
                            c.column_type(),
                            ColumnType::MYSQL_TYPE_FLOAT | ColumnType::MYSQL_TYPE_DOUBLE
                        );
                        if float || crate::merge::value::needs_weight(c) {
                            // MariaDB adds as doubles in its own row order: the
                            // last digits would depend on the order of additions.
                            return Err(unsupported(
                                "SUM or AVG of a floating-point or string expression over a join across sets",
                            ));
                        }
                    }
                    match fun {
                        Fun::CountStar => {
                            fill.push(Fill::One);
                            aggs.push(AggSpec::Count);
                        }
                        Fun::Count => {
                            fill.push(Fill::NotNull(v));
                            aggs.push(AggSpec::Count);
                        }
                        Fun::Sum => {
                            fill.push(Fill::Cell(v));
                            aggs.push(AggSpec::Sum);
                        }
                        Fun::Min | Fun::Max => {
                            fill.push(Fill::Cell(v));
                            aggs.push(if *fun == Fun::Min {
                                AggSpec::Min { weight: Some(h) }
                            } else {
                                AggSpec::Max { weight: Some(h) }
                            });
                            let w = a.map_or(0, |a| a.1);
                            helpers.push((Fill::Cell(w), AggSpec::Any, weight_col()));
                        }
                        Fun::Avg => {
                            fill.push(Fill::Null);
                            aggs.push(AggSpec::Avg {
                                sum: h,
                                count: h + 1,
                                exact: false,
                            });
                            helpers.push((Fill::Cell(v), AggSpec::Sum, l.all[v].clone()));
                            helpers.push((
                                Fill::NotNull(v),
                                AggSpec::Count,
                                Column::new(ColumnType::MYSQL_TYPE_LONGLONG),
                            ));
                        }
                    }
                }
            }
        }
        for (f, a, c) in helpers {
            fill.push(f);
            aggs.push(a);
            cols.push(c);
        }
        let mut keys = Vec::new();
        for k in &gp.keys {
            let (v, w) = at(k);
            keys.push(KeySpec {
                value: fill.len(),
                weight: Some(fill.len() + 1),
                desc: false,
            });
            fill.push(Fill::Cell(v));
            aggs.push(AggSpec::Any);
            cols.push(l.all[v].clone());
            fill.push(Fill::Cell(w));
            aggs.push(AggSpec::Any);
            cols.push(weight_col());
        }
        Ok(Grouping {
            fill,
            aggs,
            cols,
            keys,
            rows: Vec::new(),
        })
    }

    /// One joined row.
    pub fn push(&mut self, row: &[Cell], budget: &mut Budget) -> Result<(), ProxyError> {
        let one = || Some(b"1".to_vec());
        let r: Vec<Cell> = self
            .fill
            .iter()
            .map(|f| match f {
                Fill::Cell(i) => row[*i].clone(),
                Fill::One => one(),
                Fill::NotNull(i) => Some(if row[*i].is_some() { b"1" } else { b"0" }.to_vec()),
                Fill::Null => None,
            })
            .collect();
        budget.hold(&r)?;
        self.rows.push(r);
        Ok(())
    }

    /// The result rows (every column; the visible ones first).
    pub fn finish(mut self, gp: &GroupPlan) -> Result<Vec<Vec<Cell>>, ProxyError> {
        let by_keys = RowOrder::new(&self.keys, &self.cols);
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|a, b| by_keys.compare(a, b));
        let mut grouper = Grouper::new(&self.keys, &self.aggs, &self.cols, true);
        let mut groups = Vec::new();
        for r in rows {
            groups.extend(grouper.push(r));
        }
        groups.extend(grouper.flush());
        if groups.is_empty() && gp.one_row {
            let mut g = empty_group(&self.aggs);
            crate::merge::aggregate::finish(&mut g, &self.aggs, &self.cols);
            groups.push(g);
        }
        if let Some(h) = &gp.having {
            let mut kept = Vec::with_capacity(groups.len());
            for g in groups {
                if h.passes(&g, &self.cols).map_err(|why| {
                    unsupported(format!("{why} in a HAVING over a join across sets"))
                })? {
                    kept.push(g);
                }
            }
            groups = kept;
        }
        if !gp.order.is_empty() {
            let keys: Vec<KeySpec> = gp
                .order
                .iter()
                .map(|&(i, desc)| KeySpec {
                    value: i,
                    weight: gp.weight_of(i),
                    desc,
                })
                .collect();
            let o = RowOrder::new(&keys, &self.cols);
            groups.sort_by(|a, b| o.compare(a, b));
        }
        Ok(groups
            .into_iter()
            .skip(usize::try_from(gp.offset).unwrap_or(usize::MAX))
            .take(
                gp.limit
                    .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
            )
            .collect())
    }
}

/// MariaDB's definitions of the grouped items (visible and extra): the
/// client's statement with `LIMIT 0` on a set holding both tables.
pub async fn columns(
    exec: &mut crate::exec::Exec<'_>,
    gp: &GroupPlan,
    budget: &mut Budget,
) -> Result<Vec<Column>, ProxyError> {
    let st =
        super::fetch::start(exec, std::slice::from_ref(&gp.columns_set), &gp.columns_sql).await?;
    let (cols, _, _) = super::fetch::finish(exec, st, budget).await?;
    if cols.len() != gp.items.len() {
        return Err(ProxyError::Internal(
            "join: the grouped column definitions do not match".into(),
        ));
    }
    Ok(cols.to_vec())
}
