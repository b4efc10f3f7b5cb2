//! Ordered `GROUP_CONCAT` lists built by the gateway: one element per incoming
//! row (its argument columns concatenated — a BLOB/TEXT value first cut to the
//! limit, as MariaDB stores it — repeated `count` times; skipped when an
//! argument is NULL), joined by the separator in the order rows arrive, then
//! cut like MariaDB: at `group_concat_max_len` bytes, not inside a UTF-8
//! character, with one warning (1260) per cut list — when MariaDB builds the
//! list: for a row it sends, or for every group when it re-sorts them.
//!
//! Plain lists (no ORDER BY / DISTINCT) come built by each set, already cut at
//! the same limit (and warned about there). With each set's uncut length
//! (helper `len`: `SUM(LENGTH(element) + LENGTH(sep))`) the gateway knows
//! whether a set cut its list: it joins lists until one is cut or the
//! total passes the limit, and cuts the group's list once, as MariaDB cuts
//! the list it appends to row by row ([`join`], [`cut_plain`]); the sets'
//! own warnings for cut lists are not passed on ([`set_cuts`]).

use std::cmp::Ordering;

use mysql_common::packets::Column;

use super::sort::RowOrder;
use super::value::Cell;
use super::{AggSpec, MergeSpec};

/// A group's elements put in MariaDB's `GROUP_CONCAT(... ORDER BY x)` order
/// before they are appended: there a NULL `x` sorts as its type's zero ('' or
/// 0), not first as in the sets' ORDER BY. Holds one group's rows at a time.
pub struct ElementOrder {
    group: RowOrder,
    elements: RowOrder,
    held: Vec<Vec<Cell>>,
}

impl ElementOrder {
    /// For a merge with an ordered GROUP_CONCAT (not JSON_ARRAYAGG, which
    /// orders NULL first) folded in two stages; `None` otherwise.
    pub fn new(spec: &MergeSpec, cols: &[Column]) -> Option<Self> {
        let ordered = spec
            .group
            .as_deref()?
            .iter()
            .any(|a| matches!(a, AggSpec::OrderedConcat { json: None, .. }));
        let group_keys = spec.group_keys.as_deref()?;
        if !ordered || spec.pre_group.is_none() || group_keys.len() > spec.keys.len() {
            return None;
        }
        Some(Self {
            group: RowOrder::new(group_keys, cols),
            elements: RowOrder::nulls_as_zero(&spec.keys[group_keys.len()..], cols),
            held: Vec::new(),
        })
    }

    /// Takes the next rows (in the sets' order); gives back every group
    /// completed by them (all groups at the `end`), its rows re-sorted.
    pub fn pass(&mut self, rows: Vec<Vec<Cell>>, end: bool) -> Vec<Vec<Cell>> {
        let mut out = Vec::new();
        for r in rows {
            let same = self
                .held
                .first()
                .is_none_or(|h| self.group.compare(h, &r) == Ordering::Equal);
            if !same {
                self.release(&mut out);
            }
            self.held.push(r);
        }
        if end {
            self.release(&mut out);
        }
        out
    }

    /// Bytes held (for the memory limit).
    pub fn held_bytes(&self) -> usize {
        self.held
            .iter()
            .flatten()
            .map(|c| c.as_ref().map_or(1, Vec::len) + 24)
            .sum()
    }

    fn release(&mut self, out: &mut Vec<Vec<Cell>>) {
        let elements = &self.elements;
        // Stable: rows equal on the order keys keep the sets' order.
        self.held.sort_by(|a, b| elements.compare(a, b));
        out.append(&mut self.held);
    }
}

fn num(c: &Cell) -> Option<u64> {
    std::str::from_utf8(c.as_ref()?).ok()?.trim().parse().ok()
}

/// A count cell's value (0 when NULL or not a number).
pub fn num_cell(c: &Cell) -> u64 {
    num(c).unwrap_or(0)
}

/// Whether a column is a BLOB / TEXT: MariaDB keeps such values of an ordered
/// or distinct GROUP_CONCAT cut to the list's limit already.
fn is_blob(col: &Column) -> bool {
    use mysql_common::constants::ColumnType::*;
    matches!(
        col.column_type(),
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB
    )
}

/// The longest prefix of `v` of at most `lim` bytes not ending inside a UTF-8
/// character (when `utf8`).
fn prefix(v: &[u8], lim: usize, utf8: bool) -> &[u8] {
    if v.len() <= lim {
        return v;
    }
    let mut end = lim;
    while utf8 && end > 0 && (v[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    &v[..end]
}

/// The row's element and how many times it occurs (`None`: no element).
fn element(
    row: &[Cell],
    args: &[usize],
    count: Option<usize>,
    cols: &[Column],
    lim: usize,
) -> Option<(Vec<u8>, u64)> {
    let mut e = Vec::new();
    for &a in args {
        let v = row[a].as_ref()?;
        if is_blob(&cols[a]) {
            e.extend_from_slice(prefix(v, lim, is_utf8(cols[a].character_set())));
        } else {
            e.extend_from_slice(v);
        }
    }
    let n = match count {
        Some(c) => num(&row[c]).unwrap_or(0),
        None => 1,
    };
    (n > 0).then_some((e, n))
}

/// The list's length limit from the helper column (MariaDB's default if absent).
pub(super) fn limit(row: &[Cell], max_len: usize) -> usize {
    num(&row[max_len]).map_or(1 << 20, |v| v.min(usize::MAX as u64) as usize)
}

/// Appends `row`'s element(s) to the list in `acc` (`None` = no element yet).
/// Stops growing a little past the limit (enough to know it was exceeded).
pub fn append(
    acc: &mut Cell,
    row: &[Cell],
    cols: &[Column],
    spec: (&[usize], Option<usize>, &[u8], usize),
) {
    let (args, count, sep, max_len) = spec;
    let lim = limit(row, max_len);
    let Some((e, n)) = element(row, args, count, cols, lim) else {
        return;
    };
    let cap = lim.saturating_add(8);
    for _ in 0..n {
        match acc {
            Some(list) if list.len() > cap => return,
            Some(list) => {
                list.extend_from_slice(sep);
                list.extend_from_slice(&e);
            }
            None => *acc = Some(e.clone()),
        }
    }
}

/// Cuts a finished list at the limit; true when it was cut (a warning).
pub fn cut(list: &mut Cell, row: &[Cell], max_len: usize, utf8: bool) -> bool {
    let lim = limit(row, max_len);
    let Some(l) = list.as_mut() else {
        return false;
    };
    if l.len() <= lim {
        return false;
    }
    // Not inside a multi-byte character.
    let end = prefix(l, lim, utf8).len();
    l.truncate(end);
    true
}

/// Cuts every ordered GROUP_CONCAT list of a finished row; returns how many
/// were cut (MariaDB's warnings 1260).
pub fn cut_lists(row: &mut [Cell], aggs: &[super::AggSpec], cols: &[Column]) -> u16 {
    let mut n = 0;
    for (i, agg) in aggs.iter().enumerate() {
        if let super::AggSpec::OrderedConcat {
            max_len,
            json: None,
            ..
        } = agg
        {
            let mut list = row[i].take();
            if cut(&mut list, row, *max_len, is_utf8(cols[i].character_set())) {
                n += 1;
            }
            row[i] = list;
        }
    }
    n
}

/// A plain list's uncut length (bytes) from its `len` helper, if known.
fn full_len(row: &[Cell], len: usize, sep: &[u8]) -> Option<u64> {
    num(&row[len]).map(|l| l.saturating_sub(sep.len() as u64))
}

/// Joins `row`'s plain list (column `i`) to the group's in `acc` — before the
/// `len` helpers are added. Once the group's list is longer than the limit
/// nothing more is appended (MariaDB stops at the first cut), and it is kept
/// only a little past the limit.
pub fn join(acc: &mut [Cell], row: &[Cell], i: usize, spec: (&[u8], usize, usize)) {
    let (sep, max_len, len) = spec;
    let Some(b) = row[i].as_ref() else {
        return;
    };
    let lim = limit(row, max_len);
    let before = full_len(acc, len, sep);
    match acc[i].as_mut() {
        None => acc[i] = Some(b.clone()),
        Some(a) => {
            if before.is_some_and(|l| l > lim as u64) {
                return;
            }
            a.extend_from_slice(sep);
            a.extend_from_slice(b);
            a.truncate(lim.saturating_add(8));
        }
    }
}

/// Cuts every plain list of a completed group at the limit (not inside a
/// UTF-8 character); returns how many lists were over it (warnings 1260).
pub fn cut_plain(row: &mut [Cell], aggs: &[super::AggSpec], cols: &[Column]) -> u16 {
    let mut n = 0u16;
    for (i, agg) in aggs.iter().enumerate() {
        if let super::AggSpec::Concat { sep, max_len, len } = agg {
            let lim = limit(row, *max_len);
            let over = full_len(row, *len, sep).is_some_and(|l| l > lim as u64);
            let utf8 = is_utf8(cols[i].character_set());
            if let Some(l) = row[i].as_mut() {
                let end = prefix(l, lim, utf8).len();
                l.truncate(end);
                if over {
                    n = n.saturating_add(1);
                }
            }
        }
    }
    n
}

/// How many plain lists of one set's row that set cut (and warned about).
pub fn set_cuts(row: &[Cell], aggs: &[super::AggSpec]) -> u16 {
    let mut n = 0u16;
    for agg in aggs {
        if let super::AggSpec::Concat { sep, max_len, len } = agg {
            let lim = limit(row, *max_len) as u64;
            if full_len(row, *len, sep).is_some_and(|l| l > lim) {
                n = n.saturating_add(1);
            }
        }
    }
    n
}

/// Whether collation `id` (a column's `character_set`) is of a UTF-8 charset.
pub fn is_utf8(id: u16) -> bool {
    matches!(
        id,
        33 | 45 | 46 | 76 | 83 | 192..=247 | 576..=671 | 1057 | 1069 | 1070 | 1107 | 1216..=1279
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn builds_and_cuts() {
        // Columns: arg, count, max_len.
        let cols = vec![Column::new(mysql_common::constants::ColumnType::MYSQL_TYPE_VAR_STRING); 3];
        let spec = (&[0][..], Some(1), &b"|"[..], 2);
        let mut acc = None;
        append(&mut acc, &[c("a"), c("2"), c("7")], &cols, spec);
        append(&mut acc, &[None, c("1"), c("7")], &cols, spec);
        append(&mut acc, &[c("éé"), c("1"), c("7")], &cols, spec);
        assert_eq!(acc, c("a|a|éé"));
        let row = [None, None, c("7")];
        assert!(cut(&mut acc, &row, 2, true));
        // 7 bytes would split the second 'é': cut before it.
        assert_eq!(acc, c("a|a|é"));
        let mut short = c("ab");
        assert!(!cut(&mut short, &row, 2, true));
    }

    #[test]
    fn joins_plain_lists() {
        use crate::merge::AggSpec;
        // Columns: list, max_len, len. Limit 5: the first set cut "ééé" (6
        // bytes) to "éé"; nothing is appended after a cut list.
        let cols = vec![Column::new(mysql_common::constants::ColumnType::MYSQL_TYPE_VAR_STRING); 3];
        let aggs = [
            AggSpec::Concat {
                sep: b",".to_vec(),
                max_len: 1,
                len: 2,
            },
            AggSpec::Any,
            AggSpec::Sum,
        ];
        let mut acc = vec![c("éé"), c("5"), c("7")];
        let row = [c("x"), c("5"), c("2")];
        assert_eq!(set_cuts(&acc, &aggs), 1);
        assert_eq!(set_cuts(&row, &aggs), 0);
        join(&mut acc, &row, 0, (b",", 1, 2));
        assert_eq!(acc[0], c("éé"));
        acc[2] = c("9");
        assert_eq!(cut_plain(&mut acc, &aggs, &cols), 1);
        assert_eq!(acc[0], c("éé"));
        // Short lists are joined, then cut on a character boundary.
        let mut acc = vec![c("ab"), c("5"), c("3")];
        join(&mut acc, &[c("éz"), c("5"), c("4")], 0, (b",", 1, 2));
        assert_eq!(acc[0], c("ab,éz"));
        acc[2] = c("7");
        assert_eq!(cut_plain(&mut acc, &aggs, &cols), 1);
        assert_eq!(acc[0], c("ab,é"));
    }
}
