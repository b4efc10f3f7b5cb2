//! `GROUP BY ... WITH ROLLUP` across sets: each set groups without ROLLUP; the
//! merged groups (still partial: averages not divided, variances as moments)
//! come here in key order, and for every prefix of the group keys a running
//! total is folded as [`super::aggregate::fold`] folds sets' groups. When a
//! prefix changes, its total comes out after the groups it covers — the deepest
//! first, the grand total last — with the keys it rolls up as NULL, as MariaDB
//! writes them — except a BIT key, which MariaDB leaves at the value of the
//! last group it rolled up instead of NULL (its quirk, kept).

use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;

use super::aggregate::{finish, fold};
use super::sort::RowOrder;
use super::value::Cell;
use super::{AggSpec, KeySpec};

pub struct Rollup<'a> {
    keys: &'a [KeySpec],
    aggs: &'a [AggSpec],
    cols: &'a [Column],
    /// `levels[k]`: the running total of the groups sharing the first `k` keys
    /// (`levels[0]`: the grand total).
    levels: Vec<Option<Vec<Cell>>>,
    /// `prefixes[k]` compares the first `k` keys.
    prefixes: Vec<RowOrder>,
    /// The last group pushed (the BIT keys of a total come from it).
    last: Option<Vec<Cell>>,
}

impl<'a> Rollup<'a> {
    pub fn new(keys: &'a [KeySpec], aggs: &'a [AggSpec], cols: &'a [Column]) -> Self {
        Self {
            keys,
            aggs,
            cols,
            levels: vec![None; keys.len()],
            prefixes: (0..keys.len())
                .map(|k| RowOrder::new(&keys[..k], cols))
                .collect(),
            last: None,
        }
    }

    /// A merged group (partial); returns the rows to send, finished: the totals
    /// of prefixes this group closes, then the group itself.
    pub fn push(&mut self, group: Vec<Cell>) -> Vec<Vec<Cell>> {
        let mut out = Vec::new();
        for k in (1..self.levels.len()).rev() {
            let closes = self.levels[k].as_ref().is_some_and(|acc| {
                self.prefixes[k].compare(acc, &group) != std::cmp::Ordering::Equal
            });
            if closes {
                out.push(self.total(k));
            }
        }
        for level in self.levels.iter_mut() {
            match level {
                Some(acc) => fold(acc, &group, self.aggs, self.cols),
                None => *level = Some(group.clone()),
            }
        }
        let mut g = group;
        self.last = Some(g.clone());
        finish(&mut g, self.aggs, self.cols);
        out.push(g);
        out
    }

    /// At the end of the input: the open totals, deepest first, the grand
    /// total last (none when there was no group at all).
    pub fn flush(&mut self) -> Vec<Vec<Cell>> {
        let open: Vec<usize> = (0..self.levels.len())
            .rev()
            .filter(|&k| self.levels[k].is_some())
            .collect();
        open.into_iter().map(|k| self.total(k)).collect()
    }

    /// Takes level `k`'s total, finished, keys from `k` on set to NULL.
    fn total(&mut self, k: usize) -> Vec<Cell> {
        let mut r = self.levels[k].take().expect("an open total");
        finish(&mut r, self.aggs, self.cols);
        for key in &self.keys[k..] {
            if self.cols[key.value].column_type() == ColumnType::MYSQL_TYPE_BIT {
                if let Some(last) = &self.last {
                    r[key.value] = last[key.value].clone();
                    continue;
                }
            }
            r[key.value] = None;
            if let Some(w) = key.weight {
                r[w] = None;
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    fn c(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn totals_after_their_groups_deepest_first() {
        let int = Column::new(ColumnType::MYSQL_TYPE_LONGLONG);
        let cols = vec![int.clone(), int.clone(), int];
        let keys = [
            KeySpec {
                value: 0,
                weight: None,
                desc: false,
            },
            KeySpec {
                value: 1,
                weight: None,
                desc: false,
            },
        ];
        let aggs = [AggSpec::Any, AggSpec::Any, AggSpec::Count];
        let mut r = Rollup::new(&keys, &aggs, &cols);
        let mut out = Vec::new();
        for (a, b, n) in [("1", "1", "2"), ("1", "2", "3"), ("2", "1", "4")] {
            out.extend(r.push(vec![c(a), c(b), c(n)]));
        }
        out.extend(r.flush());
        let want = vec![
            vec![c("1"), c("1"), c("2")],
            vec![c("1"), c("2"), c("3")],
            vec![c("1"), None, c("5")],
            vec![c("2"), c("1"), c("4")],
            vec![c("2"), None, c("4")],
            vec![None, None, c("9")],
        ];
        assert_eq!(out, want);
    }
}
