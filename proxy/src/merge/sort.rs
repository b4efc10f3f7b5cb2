//! Ordering rows by [`KeySpec`]s, and the k-way merge of several sorted streams.

use std::cmp::Ordering;

use mysql_common::packets::Column;

use super::value::{cmp_for, compare_cells, needs_weight, Cell, Cmp};
use super::KeySpec;

/// A compiled row comparator: per key, the column to compare and how.
#[derive(Debug, Clone)]
pub struct RowOrder {
    /// (value column, column compared, how, DESC).
    keys: Vec<(usize, usize, Cmp, bool)>,
}

impl RowOrder {
    /// Compiles `keys` against the result's column definitions: collated strings
    /// compare by their weight column, everything else by its own type.
    pub fn new(keys: &[KeySpec], cols: &[Column]) -> Self {
        let keys = keys
            .iter()
            .map(|k| {
                let col = &cols[k.value];
                match k.weight {
                    Some(w) if needs_weight(col) => (k.value, w, Cmp::Weight, k.desc),
                    _ => (k.value, k.value, cmp_for(col), k.desc),
                }
            })
            .collect();
        Self { keys }
    }

    pub fn compare(&self, a: &[Cell], b: &[Cell]) -> Ordering {
        for &(value, col, cmp, desc) in &self.keys {
            // NULL by the value (a weight is NULL with it, except where
            // sql_mode=ORACLE makes CONCAT skip NULLs).
            let o = match (&a[value], &b[value]) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                _ => compare_cells(cmp, &a[col], &b[col]),
            };
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Index of the head row that comes first (ties: the lowest stream index, so a
/// merge is stable with respect to set order).
pub fn pick_first(order: &RowOrder, heads: &[Option<Vec<Cell>>]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, h) in heads.iter().enumerate() {
        let Some(row) = h else { continue };
        best = match best {
            None => Some(i),
            Some(b) => {
                let cur = heads[b].as_ref().expect("head");
                if order.compare(row, cur) == Ordering::Less {
                    Some(i)
                } else {
                    Some(b)
                }
            }
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    fn cell(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn orders_and_picks() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONG),
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(45),
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(63),
        ];
        // ORDER BY col0 DESC, col1 (weight in col2)
        let keys = vec![
            KeySpec {
                value: 0,
                weight: None,
                desc: true,
            },
            KeySpec {
                value: 1,
                weight: Some(2),
                desc: false,
            },
        ];
        let o = RowOrder::new(&keys, &cols);
        let a = vec![cell("10"), cell("b"), cell("\x01 B")];
        let b = vec![cell("9"), cell("a"), cell("\x01 A")];
        let c = vec![cell("10"), cell("A"), cell("\x01 A")];
        assert_eq!(o.compare(&a, &b), Ordering::Less); // 10 before 9 (desc)
        assert_eq!(o.compare(&c, &a), Ordering::Less); // weight A < B
        let heads = vec![Some(b.clone()), None, Some(a.clone()), Some(c.clone())];
        assert_eq!(pick_first(&o, &heads), Some(3));
        assert_eq!(pick_first(&o, &[None, None]), None);
        // A NULL value is NULL even when its weight is not (CONCAT under
        // sql_mode=ORACLE): first.
        let null = vec![cell("10"), None, cell("\x01 ")];
        assert_eq!(o.compare(&null, &c), Ordering::Less);
        assert_eq!(o.compare(&c, &null), Ordering::Greater);
    }
}
