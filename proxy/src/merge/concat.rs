//! Ordered `GROUP_CONCAT` lists built by the gateway: one element per incoming
//! row (its argument columns concatenated — a BLOB/TEXT value first cut to the
//! limit, as MariaDB stores it — repeated `count` times; skipped when an
//! argument is NULL), joined by the separator in the order rows arrive, then
//! cut like MariaDB: at `group_concat_max_len` bytes, not inside a UTF-8
//! character, with one warning (1260) per cut list — when MariaDB builds the
//! list: for a row it sends, or for every group when it re-sorts them.

use mysql_common::packets::Column;

use super::value::Cell;

fn num(c: &Cell) -> Option<u64> {
    std::str::from_utf8(c.as_ref()?).ok()?.trim().parse().ok()
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
fn limit(row: &[Cell], max_len: usize) -> usize {
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
        if let super::AggSpec::OrderedConcat { max_len, .. } = agg {
            let mut list = row[i].take();
            if cut(&mut list, row, *max_len, is_utf8(cols[i].character_set())) {
                n += 1;
            }
            row[i] = list;
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
}
