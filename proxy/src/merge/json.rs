//! Ordered `JSON_ARRAYAGG` lists built by the gateway.
//!
//! Each set renders every element itself (its row's list column is
//! `JSON_ARRAYAGG(x LIMIT 1)` of one (group, element) sub-group: `[e]`), so
//! numbers, doubles, decimals, escaped strings, dates, BIT, YEAR and JSON
//! values read exactly as MariaDB writes them; the gateway only joins the
//! element texts with `,` in the merged order (`count` times each unless
//! DISTINCT, NULL as `null`), up to the `LIMIT n` inside, and adds `[` `]`.
//!
//! MariaDB cuts a list whose elements' text passes `group_concat_max_len` in
//! ways the sets' answers do not show (an element cut before it is quoted,
//! `]` added after the cut, one warning 1260 per row rather than per list), so
//! such a group is refused (1235) rather than guessed. A list is certainly
//! whole when its text between the brackets is at most the limit (checked on
//! MariaDB 10.11: then it is never cut nor warned about) and no element can
//! have been cut by its set: each element's JSON text is at most
//! `6 × LENGTH(x) + 2` bytes (`\uXXXX` escapes and quotes), helper `bound`
//! (`MAX(LENGTH(x))`).

use super::concat::{limit, num_cell};
use super::value::Cell;
use super::AggSpec;

/// The merge's part of a `JSON_ARRAYAGG` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonList {
    /// `LIMIT n` inside the call.
    pub limit: Option<u64>,
    /// Helper column counting the group's elements so far (each set sends 0).
    pub seen: usize,
    /// Helper column `MAX(LENGTH(x))`, combined as a Max.
    pub bound: usize,
}

/// The element text of a set's `[e]`, or `None` if it is not that shape.
fn element(cell: &Cell) -> Option<Vec<u8>> {
    let v = cell.as_ref()?;
    (v.len() >= 3 && v[0] == b'[' && v[v.len() - 1] == b']').then(|| v[1..v.len() - 1].to_vec())
}

/// Appends `n` copies of `e` to the group's list in `acc[i]` (text between
/// the brackets; `None` once an element was malformed).
fn add(acc: &mut [Cell], i: usize, e: Option<Vec<u8>>, n: u64, j: &JsonList, lim: usize) {
    let mut seen = num_cell(&acc[j.seen]);
    let Some(e) = e else {
        acc[i] = None;
        return;
    };
    if let Some(list) = acc[i].as_mut() {
        for _ in 0..n {
            if j.limit.is_some_and(|l| seen >= l) || list.len() > lim.saturating_add(8) {
                break;
            }
            if seen > 0 {
                list.push(b',');
            }
            list.extend_from_slice(&e);
            seen += 1;
        }
    }
    acc[j.seen] = Some(seen.to_string().into_bytes());
}

fn copies(row: &[Cell], count: Option<usize>) -> u64 {
    count.map_or(1, |c| num_cell(&row[c]))
}

/// A group's first row: its list column becomes the list of its element(s).
pub fn start(row: &mut [Cell], i: usize, count: Option<usize>, max_len: usize, j: &JsonList) {
    let e = element(&row[i]);
    let n = copies(row, count);
    let lim = limit(row, max_len);
    row[i] = Some(Vec::new());
    row[j.seen] = Some(b"0".to_vec());
    add(row, i, e, n, j, lim);
}

/// Appends `row`'s element(s) to the group in `acc`.
pub fn fold(
    acc: &mut [Cell],
    row: &[Cell],
    i: usize,
    count: Option<usize>,
    max_len: usize,
    j: &JsonList,
) {
    if acc[i].is_none() {
        return;
    }
    let lim = limit(row, max_len);
    add(acc, i, element(&row[i]), copies(row, count), j, lim);
}

/// Finishes every JSON list of a complete group (adds the brackets), or says
/// why the group cannot be answered as MariaDB would.
pub fn settle(row: &mut [Cell], aggs: &[AggSpec]) -> Result<(), String> {
    for (i, agg) in aggs.iter().enumerate() {
        let AggSpec::OrderedConcat {
            max_len,
            json: Some(j),
            ..
        } = agg
        else {
            continue;
        };
        let lim = limit(row, *max_len) as u64;
        let bound = num_cell(&row[j.bound]).saturating_mul(6).saturating_add(2);
        match row[i].as_mut() {
            Some(list) if list.len() as u64 <= lim && bound <= lim => {
                list.insert(0, b'[');
                list.push(b']');
            }
            Some(_) => {
                return Err("JSON_ARRAYAGG() longer than group_concat_max_len across sets".into())
            }
            None => return Err("JSON_ARRAYAGG() of this value across sets".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn joins_elements_up_to_the_limit() {
        // Columns: list, count, max_len, seen, bound.
        let j = JsonList {
            limit: Some(3),
            seen: 3,
            bound: 4,
        };
        let aggs = [
            AggSpec::OrderedConcat {
                args: vec![0],
                count: Some(1),
                sep: b",".to_vec(),
                max_len: 2,
                json: Some(j.clone()),
            },
            AggSpec::Count,
            AggSpec::Any,
            AggSpec::Any,
            AggSpec::Max { weight: None },
        ];
        let mut acc = vec![c("[null]"), c("2"), c("100"), c("0"), None];
        start(&mut acc, 0, Some(1), 2, &j);
        assert_eq!(acc[0], c("null,null"));
        fold(
            &mut acc,
            &[c("[\"a\\\"\"]"), c("5"), c("100"), c("0"), c("2")],
            0,
            Some(1),
            2,
            &j,
        );
        assert_eq!(acc[0], c("null,null,\"a\\\"\""));
        acc[4] = c("2");
        settle(&mut acc, &aggs).unwrap();
        assert_eq!(acc[0], c("[null,null,\"a\\\"\"]"));
        // Longer than the limit: refused.
        let mut acc = vec![c("[12345]"), c("1"), c("4"), c("0"), c("5")];
        start(&mut acc, 0, Some(1), 2, &j);
        assert!(settle(&mut acc, &aggs).is_err());
    }
}
