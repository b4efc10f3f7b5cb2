//! Collation weights: the SQL each set runs to compute a string's weight
//! ([`weight_sql`]), and comparing two such weights the way MariaDB compares
//! the strings themselves ([`compare_weights`]).
//!
//! `WEIGHT_STRING(x)` keeps trailing spaces ('A ' weighs more bytes than 'a'),
//! while most collations are PAD SPACE: 'a' = 'A ' and 'a\t' < 'a'. So two
//! weights compare byte by byte over their common length, and the rest of the
//! longer one is compared with the weight of a space repeated — exactly as if
//! the shorter string had been padded with spaces. NO PAD collations (and
//! binary strings) compare plain bytes.
//!
//! Which collation `x` is compared in is decided by MariaDB (the column's, or
//! the expression's by collation derivation), not by the result's column
//! definition (that one carries the connection's `character_set_results`). So
//! each weight cell describes itself: MariaDB prefixes it with one byte — bit
//! 7 set when the collation pads with spaces, bits 0..6 the length `L` of a
//! space's weight — then the `L` bytes of a space's weight, then
//! `WEIGHT_STRING(x)`. Both come from `IF(0, x, ' ')`: a space with exactly
//! `x`'s collation (derivation rules make the literal take `x`'s), and never
//! evaluating `x`. The prefix costs 2–4 bytes per row and cell, and each set
//! about 0.2 µs of CPU per row and key (1M rows: 0.23 s → 0.41 s for the
//! weight column alone) — exact for every collation, where a table of
//! collation ids would not be, and with no extra round trip.

use std::cmp::Ordering;

/// SQL computing the self-describing weight of `expr` (see the module doc):
/// NULL when `expr` is NULL.
pub fn weight_sql(expr: &str) -> String {
    let space = format!("IF(0, {expr}, ' ')");
    format!(
        "CONCAT(CHAR(LENGTH(WEIGHT_STRING({space})) + 128 * ({space} = TRIM({space}))), \
         WEIGHT_STRING({space}), WEIGHT_STRING({expr}))"
    )
}

/// A weight cell split into the weight of a space (`None`: NO PAD) and the
/// string's weight. A cell without a well-formed prefix is all weight, NO PAD.
pub fn split(cell: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some((&d, rest)) = cell.split_first() else {
        return (None, cell);
    };
    let len = usize::from(d & 0x7F);
    if rest.len() < len {
        return (None, cell);
    }
    let (space, weight) = rest.split_at(len);
    let pad = (d & 0x80 != 0 && len > 0).then_some(space);
    (pad, weight)
}

/// Whether two weight cells pad alike (same prefix: same space weight, both
/// PAD SPACE or both NO PAD).
pub fn same_padding(a: &[u8], b: &[u8]) -> bool {
    let prefix = |c: &[u8]| {
        let n = c.first().map_or(0, |d| 1 + usize::from(d & 0x7F));
        c.get(..n).map(<[u8]>::to_vec)
    };
    prefix(a) == prefix(b)
}

/// The weight cell of an empty string in the collation of weight cell `like`.
pub fn empty_weight(like: &[u8]) -> Vec<u8> {
    let n = like.first().map_or(0, |d| 1 + usize::from(d & 0x7F));
    like.get(..n).unwrap_or_default().to_vec()
}

/// Compares two weight cells made by [`weight_sql`] (both of one expression,
/// so in one collation: the first's prefix is used).
pub fn compare_weights(a: &[u8], b: &[u8]) -> Ordering {
    let (pad, a) = split(a);
    let (_, b) = split(b);
    compare_padded(a, b, pad)
}

/// Compares two bare weights under PAD SPACE with space weight `pad` (plain
/// bytes when `None`).
pub fn compare_padded(a: &[u8], b: &[u8], pad: Option<&[u8]>) -> Ordering {
    let Some(pad) = pad.filter(|p| !p.is_empty()) else {
        return a.cmp(b);
    };
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => {}
        o => return o,
    }
    let (rest, flip) = if a.len() > n {
        (&a[n..], false)
    } else {
        (&b[n..], true)
    };
    // The longer one's tail against spaces.
    let mut o = Ordering::Equal;
    for (i, byte) in rest.iter().enumerate() {
        let p = pad[i % pad.len()];
        if *byte != p {
            o = byte.cmp(&p);
            break;
        }
    }
    if o == Ordering::Equal && rest.len() % pad.len() != 0 {
        // A partial weight unit: longer wins (never with whole-unit weights).
        o = Ordering::Greater;
    }
    if flip {
        o.reverse()
    } else {
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell as MariaDB computes it: prefix, space weight, weight.
    fn cell(pad: bool, space: &[u8], w: &[u8]) -> Vec<u8> {
        let mut c = vec![space.len() as u8 | if pad { 0x80 } else { 0 }];
        c.extend_from_slice(space);
        c.extend_from_slice(w);
        c
    }

    #[test]
    fn pad_space() {
        let g = |w: &[u8]| cell(true, &[0, 0x20], w);
        // 'a' vs 'A ' (general_ci): equal.
        assert_eq!(
            compare_weights(&g(&[0, 0x41]), &g(&[0, 0x41, 0, 0x20])),
            Ordering::Equal
        );
        // 'a\t' < 'a'.
        assert_eq!(
            compare_weights(&g(&[0, 0x41, 0, 0x09]), &g(&[0, 0x41])),
            Ordering::Less
        );
        assert_eq!(
            compare_weights(&g(&[0, 0x41]), &g(&[0, 0x41, 0, 0x42])),
            Ordering::Less
        );
        // NO PAD: bytes.
        let n = |w: &[u8]| cell(false, &[0, 0, 0x20], w);
        assert_eq!(
            compare_weights(&n(&[0, 0, 0x41]), &n(&[0, 0, 0x41, 0, 0, 0x20])),
            Ordering::Less
        );
    }

    #[test]
    fn the_space_of_the_weights_collation() {
        // general_ci weights of '3' and '33' ('3' first whatever the
        // connection's collation): the tail 00 33 against a space 00 20.
        let g = |w: &[u8]| cell(true, &[0, 0x20], w);
        assert_eq!(
            compare_weights(&g(&[0, 0x33]), &g(&[0, 0x33, 0, 0x33])),
            Ordering::Less
        );
        // unicode_ci (space 02 09): '3' 0E2C, '33' 0E2C 0E2C.
        let u = |w: &[u8]| cell(true, &[0x02, 0x09], w);
        assert_eq!(
            compare_weights(&u(&[0x0E, 0x2C]), &u(&[0x0E, 0x2C, 0x0E, 0x2C])),
            Ordering::Less
        );
    }

    #[test]
    fn splits_prefix() {
        assert_eq!(
            split(&[0x82, 0, 0x20, 0, 0x41]),
            (Some(&[0, 0x20][..]), &[0, 0x41][..])
        );
        assert_eq!(split(&[0x01, 0x20, 0x41]), (None, &[0x41][..]));
        assert_eq!(split(&[]), (None, &[][..]));
        assert_eq!(split(&[0x85, 1]), (None, &[0x85, 1][..]));
    }

    #[test]
    fn sql_takes_the_expressions_collation() {
        let s = weight_sql("`s`");
        assert!(s.contains("WEIGHT_STRING(IF(0, `s`, ' '))"));
        assert!(s.ends_with("WEIGHT_STRING(`s`))"));
    }
}
