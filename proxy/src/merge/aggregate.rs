//! Re-aggregation: rows of several sets that share a group (equal keys) become one
//! row — counts and sums added, least/greatest kept, averages recomputed from
//! hidden SUM and COUNT at AVG's own scale.

use std::cmp::Ordering;

use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;

use super::value::{add, cmp_for, compare, divide, needs_weight, Cell, Cmp};
use super::{AggSpec, BitOp};

/// Streaming grouping of rows sorted by the group keys: equal neighbours fold
/// into one row; a finished group comes out when the next one starts.
pub struct Grouper<'a> {
    order: super::sort::RowOrder,
    aggs: &'a [AggSpec],
    cols: &'a [Column],
    /// The final stage computes averages (and HAVING applies after it).
    last_stage: bool,
    cur: Option<Vec<Cell>>,
    /// The current group's distinct values, sorted, per `CountDistinct` column.
    seen: Vec<(usize, Vec<Vec<u8>>)>,
}

impl<'a> Grouper<'a> {
    pub fn new(
        keys: &[super::KeySpec],
        aggs: &'a [AggSpec],
        cols: &'a [Column],
        last_stage: bool,
    ) -> Self {
        Self {
            order: super::sort::RowOrder::new(keys, cols),
            aggs,
            cols,
            last_stage,
            cur: None,
            seen: aggs
                .iter()
                .enumerate()
                .filter(|(_, a)| matches!(a, AggSpec::CountDistinct { .. }))
                .map(|(i, _)| (i, Vec::new()))
                .collect(),
        }
    }

    /// Counts `row`'s values of the `CountDistinct` columns into the group in
    /// `acc` (`fresh`: `row` starts the group).
    fn count_distinct(&mut self, acc: &mut [Cell], row: &[Cell], fresh: bool) {
        for (i, seen) in self.seen.iter_mut() {
            let AggSpec::CountDistinct { value, weight } = &self.aggs[*i] else {
                continue;
            };
            if fresh {
                seen.clear();
            }
            let col = &self.cols[*value];
            let (c, cmp) = match weight {
                Some(w) if needs_weight(col) => (*w, Cmp::Weight),
                _ => (*value, cmp_for(col)),
            };
            // NULLs are not counted (the value's, even when it has a weight).
            let new = match (&row[*value], &row[c]) {
                (Some(_), Some(v)) => match seen.binary_search_by(|p| compare(cmp, p, v)) {
                    Ok(_) => false,
                    Err(at) => {
                        seen.insert(at, v.clone());
                        true
                    }
                },
                _ => false,
            };
            let n = if fresh {
                0
            } else {
                super::concat::num_cell(&acc[*i])
            };
            acc[*i] = Some((n + u64::from(new)).to_string().into_bytes());
        }
    }

    /// Adds a row; returns the group it completed, if any.
    pub fn push(&mut self, row: Vec<Cell>) -> Option<Vec<Cell>> {
        let same = self
            .cur
            .as_ref()
            .is_some_and(|acc| self.order.compare(acc, &row) == Ordering::Equal);
        if same {
            let mut acc = self.cur.take().expect("current group");
            fold(&mut acc, &row, self.aggs, self.cols);
            self.count_distinct(&mut acc, &row, false);
            self.cur = Some(acc);
            return None;
        }
        let mut row = row;
        start(&mut row, self.aggs, self.cols);
        let done = self.cur.take().map(|g| self.done(g));
        if !self.seen.is_empty() {
            let copy = row.clone();
            self.count_distinct(&mut row, &copy, true);
        }
        self.cur = Some(row);
        done
    }

    /// The last group, at the end of the input.
    pub fn flush(&mut self) -> Option<Vec<Cell>> {
        self.cur.take().map(|g| self.done(g))
    }

    fn done(&self, mut g: Vec<Cell>) -> Vec<Cell> {
        if self.last_stage {
            finish(&mut g, self.aggs, self.cols);
        }
        g
    }
}

/// The row an aggregate query without GROUP BY returns when no set has a row:
/// counts are 0, everything else NULL.
pub fn empty_group(aggs: &[AggSpec]) -> Vec<Cell> {
    aggs.iter()
        .map(|a| match a {
            AggSpec::Count | AggSpec::CountDistinct { .. } => Some(b"0".to_vec()),
            AggSpec::Bit(op) => Some(bit_identity(*op).to_string().into_bytes()),
            _ => None,
        })
        .collect()
}

/// A group's first row: ordered GROUP_CONCAT columns become the row's element.
fn start(row: &mut [Cell], aggs: &[AggSpec], cols: &[Column]) {
    for (i, agg) in aggs.iter().enumerate() {
        if let AggSpec::OrderedConcat {
            count,
            max_len,
            json: Some(j),
            ..
        } = agg
        {
            super::json::start(row, i, *count, *max_len, j);
        } else if let AggSpec::OrderedConcat {
            args,
            count,
            sep,
            max_len,
            json: None,
        } = agg
        {
            let mut list = None;
            super::concat::append(&mut list, row, cols, (args, *count, sep, *max_len));
            row[i] = list;
        }
    }
}

/// Folds `row` into the group's accumulated row `acc` (both full rows, hidden
/// columns included).
pub fn fold(acc: &mut [Cell], row: &[Cell], aggs: &[AggSpec], cols: &[Column]) {
    // First the squared deviations and the plain GROUP_CONCAT lists: they need
    // the counts, sums and lengths not yet added.
    for (i, agg) in aggs.iter().enumerate() {
        match agg {
            AggSpec::M2 { count, sum } => super::moments::fold_m2(acc, row, i, *count, *sum),
            AggSpec::Concat { sep, max_len, len } => {
                super::concat::join(acc, row, i, (sep, *max_len, *len))
            }
            _ => {}
        }
    }
    for (i, agg) in aggs.iter().enumerate() {
        match agg {
            AggSpec::Any
            | AggSpec::M2 { .. }
            | AggSpec::Var { .. }
            | AggSpec::Concat { .. }
            | AggSpec::CountDistinct { .. } => {}
            AggSpec::Bit(op) => acc[i] = bits(*op, &acc[i], &row[i]),
            AggSpec::OrderedConcat {
                count,
                max_len,
                json: Some(j),
                ..
            } => super::json::fold(acc, row, i, *count, *max_len, j),
            AggSpec::OrderedConcat {
                args,
                count,
                sep,
                max_len,
                json: None,
            } => super::concat::append(&mut acc[i], row, cols, (args, *count, sep, *max_len)),
            AggSpec::Count | AggSpec::Sum => {
                acc[i] = add(cmp_for(&cols[i]), &acc[i], &row[i], cols[i].decimals());
            }
            AggSpec::Min { weight } | AggSpec::Max { weight } => {
                let (col, cmp) = match weight {
                    Some(w) if needs_weight(&cols[i]) => (*w, Cmp::Weight),
                    _ => (i, cmp_for(&cols[i])),
                };
                let better = match (&acc[col], &row[col]) {
                    _ if row[i].is_none() => false,
                    _ if acc[i].is_none() => true,
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(a), Some(b)) => {
                        let o = compare(cmp, b, a);
                        if matches!(agg, AggSpec::Min { .. }) {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if better {
                    acc[i] = row[i].clone();
                    if col != i {
                        acc[col] = row[col].clone();
                    }
                }
            }
            // Its SUM and COUNT helpers are combined by their own specs.
            AggSpec::Avg { .. } => {}
        }
    }
}

/// BIT_AND's result over no rows (all bits set); 0 for BIT_OR / BIT_XOR.
fn bit_identity(op: BitOp) -> u64 {
    match op {
        BitOp::And => u64::MAX,
        BitOp::Or | BitOp::Xor => 0,
    }
}

/// Two sets' BIT_AND/OR/XOR results (BIGINT UNSIGNED, never NULL) combined.
fn bits(op: BitOp, a: &Cell, b: &Cell) -> Cell {
    let v = |c: &Cell| -> u64 {
        c.as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(bit_identity(op))
    };
    let (x, y) = (v(a), v(b));
    let r = match op {
        BitOp::And => x & y,
        BitOp::Or => x | y,
        BitOp::Xor => x ^ y,
    };
    Some(r.to_string().into_bytes())
}

/// Finishes a group: averages from their totals, variances from their moments.
/// (GROUP_CONCAT lists are cut when MariaDB would build them: see `run`.)
pub fn finish(acc: &mut [Cell], aggs: &[AggSpec], cols: &[Column]) {
    for (i, agg) in aggs.iter().enumerate() {
        if let AggSpec::Var { kind, count, m2 } = agg {
            acc[i] = super::moments::finish(*kind, &acc[*count], &acc[*m2], cols[i].decimals());
        }
        if let AggSpec::Avg { sum, count, exact } = agg {
            let float = matches!(
                cols[i].column_type(),
                ColumnType::MYSQL_TYPE_DOUBLE | ColumnType::MYSQL_TYPE_FLOAT
            );
            acc[i] = divide(&acc[*sum], &acc[*count], cols[i].decimals(), float, *exact);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn concatenates_lists() {
        // Columns: list, max_len, len (SUM(LENGTH(element) + LENGTH(sep))).
        let cols = vec![Column::new(ColumnType::MYSQL_TYPE_VAR_STRING); 3];
        let aggs = vec![
            AggSpec::Concat {
                sep: b"|".to_vec(),
                max_len: 1,
                len: 2,
            },
            AggSpec::Any,
            AggSpec::Sum,
        ];
        let mut acc = vec![c("a,b"), c("9"), c("4")];
        fold(&mut acc, &[None, c("9"), None], &aggs, &cols);
        fold(&mut acc, &[c("c"), c("9"), c("2")], &aggs, &cols);
        assert_eq!(acc[0], c("a,b|c"));
        assert_eq!(acc[2], c("6"));
        let mut empty = vec![None, c("9"), None];
        fold(&mut empty, &[c("x"), c("9"), c("2")], &aggs, &cols);
        assert_eq!(empty[0], c("x"));
    }

    #[test]
    fn counts_distinct_values_of_two_columns() {
        // Rows (key, a, b) sorted by key, a, b: COUNT(DISTINCT a), COUNT(DISTINCT b).
        let int = Column::new(ColumnType::MYSQL_TYPE_LONGLONG);
        let cols = vec![int.clone(); 5];
        let aggs = vec![
            AggSpec::Any,
            AggSpec::CountDistinct {
                value: 3,
                weight: None,
            },
            AggSpec::CountDistinct {
                value: 4,
                weight: None,
            },
            AggSpec::Any,
            AggSpec::Any,
        ];
        let keys = [crate::merge::KeySpec {
            value: 0,
            weight: None,
            desc: false,
        }];
        let mut g = Grouper::new(&keys, &aggs, &cols, true);
        let r = |k: &str, a: Option<&str>, b: &str| vec![c(k), None, None, a.and_then(c), c(b)];
        assert!(g.push(r("1", Some("1"), "7")).is_none());
        assert!(g.push(r("1", Some("1"), "8")).is_none());
        assert!(g.push(r("1", Some("2"), "7")).is_none());
        assert!(g.push(r("1", None, "9")).is_none());
        let done = g.push(r("2", None, "5")).expect("group 1 done");
        assert_eq!((done[1].clone(), done[2].clone()), (c("2"), c("3")));
        let last = g.flush().expect("group 2");
        assert_eq!((last[1].clone(), last[2].clone()), (c("0"), c("1")));
    }

    #[test]
    fn folds_groups() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONGLONG), // COUNT(*)
            Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2), // SUM(amount)
            Column::new(ColumnType::MYSQL_TYPE_LONG),     // MIN(x)
            Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(4), // AVG(x)
            Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL), // hidden SUM(x)
            Column::new(ColumnType::MYSQL_TYPE_LONGLONG), // hidden COUNT(x)
        ];
        let aggs = vec![
            AggSpec::Count,
            AggSpec::Sum,
            AggSpec::Min { weight: None },
            AggSpec::Avg {
                sum: 4,
                count: 5,
                exact: false,
            },
            AggSpec::Sum,
            AggSpec::Count,
        ];
        let mut acc = vec![c("2"), c("1.50"), c("7"), c("3.5000"), c("7"), c("2")];
        fold(
            &mut acc,
            &[c("3"), None, c("-1"), c("2.0000"), c("6"), c("3")],
            &aggs,
            &cols,
        );
        finish(&mut acc, &aggs, &cols);
        assert_eq!(acc[0], c("5"));
        assert_eq!(acc[1], c("1.50"));
        assert_eq!(acc[2], c("-1"));
        assert_eq!(acc[3], c("2.6000")); // 13 / 5
    }
}
