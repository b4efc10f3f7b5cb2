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
    /// NULL orders as its type's zero ('', 0, 00:00:00, the zero date), as
    /// MariaDB's GROUP_CONCAT(... ORDER BY) does; else NULL first.
    zero_nulls: bool,
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
        Self {
            keys,
            zero_nulls: false,
        }
    }

    /// Like [`RowOrder::new`], a NULL ordered as its type's zero value.
    pub fn nulls_as_zero(keys: &[KeySpec], cols: &[Column]) -> Self {
        Self {
            zero_nulls: true,
            ..Self::new(keys, cols)
        }
    }

    pub fn compare(&self, a: &[Cell], b: &[Cell]) -> Ordering {
        for &(value, col, cmp, desc) in &self.keys {
            // NULL by the value (a weight is NULL with it, except where
            // sql_mode=ORACLE makes CONCAT skip NULLs).
            let o = match (&a[value], &b[value]) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) if self.zero_nulls => zero_vs(cmp, &b[col]),
                (Some(_), None) if self.zero_nulls => zero_vs(cmp, &a[col]).reverse(),
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

/// How the zero value of `v`'s type compares with non-NULL cell `v`.
fn zero_vs(cmp: Cmp, v: &Cell) -> Ordering {
    let Some(v) = v else {
        return Ordering::Greater;
    };
    let zero: Vec<u8> = match cmp {
        // An empty string: its weight is the prefix alone.
        Cmp::Weight => super::collate::empty_weight(v),
        Cmp::Bytes => Vec::new(),
        // The same shape, every digit 0 (a zero date equals it).
        Cmp::Temporal | Cmp::Time => v
            .iter()
            .filter(|&&c| c != b'-' || cmp == Cmp::Temporal)
            .map(|&c| if c.is_ascii_digit() { b'0' } else { c })
            .collect(),
        Cmp::Int | Cmp::Decimal | Cmp::Float => b"0".to_vec(),
        // The zero of the cell's own form: as many zero bytes, or "0".
        Cmp::Bit if v.iter().all(u8::is_ascii_digit) => b"0".to_vec(),
        Cmp::Bit => vec![0; v.len()],
    };
    super::value::compare(cmp, v, &zero).reverse()
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

    #[test]
    fn nulls_as_zero() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONG),
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING),
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(63),
            Column::new(ColumnType::MYSQL_TYPE_TIME),
        ];
        let key = |value, weight| KeySpec {
            value,
            weight,
            desc: false,
        };
        let int = RowOrder::nulls_as_zero(&[key(0, None)], &cols);
        let row = |c: Cell| vec![c, None, None, None];
        assert_eq!(int.compare(&row(None), &row(cell("-1"))), Ordering::Greater);
        assert_eq!(int.compare(&row(None), &row(cell("0"))), Ordering::Equal);
        assert_eq!(int.compare(&row(cell("1")), &row(None)), Ordering::Greater);
        // A string: as '' (general_ci: after '\t', equal to ' ').
        let s = RowOrder::nulls_as_zero(&[key(1, Some(2))], &cols);
        let srow = |v: Cell, w: &[u8]| vec![None, v, Some(w.to_vec()), None];
        let null = srow(None, &[]);
        let tab = srow(cell("\t"), &[0x82, 0, 0x20, 0, 0x09]);
        let space = srow(cell(" "), &[0x82, 0, 0x20, 0, 0x20]);
        assert_eq!(s.compare(&null, &tab), Ordering::Greater);
        assert_eq!(s.compare(&null, &space), Ordering::Equal);
        let t = RowOrder::nulls_as_zero(&[key(3, None)], &cols);
        let trow = |c: Cell| vec![None, None, None, c];
        assert_eq!(
            t.compare(&trow(None), &trow(cell("-01:00:00"))),
            Ordering::Greater
        );
        assert_eq!(
            t.compare(&trow(None), &trow(cell("00:00:00"))),
            Ordering::Equal
        );
    }
}
