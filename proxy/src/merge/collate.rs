//! Comparing collation weights (`WEIGHT_STRING()` computed by MariaDB) the way
//! MariaDB compares the strings themselves.
//!
//! `WEIGHT_STRING(x)` keeps trailing spaces ('A ' weighs more bytes than 'a'),
//! while the default collations are PAD SPACE: 'a' = 'A ' and 'a\t' < 'a'. So two
//! weights compare byte by byte over their common length, and the rest of the
//! longer one is compared with the weight of a space repeated — exactly as if the
//! shorter string had been padded with spaces. NO PAD collations (ids ≥ 1024) and
//! collations not known here compare plain bytes.

use std::cmp::Ordering;

/// The weight of one space in collation `id` (the column definition's
/// `character_set` field), when the collation is PAD SPACE and known.
pub fn pad_weight(id: u16) -> Option<&'static [u8]> {
    const EIGHT_BIT: &[u16] = &[
        5, 8, 15, 31, 47, 48, 49, 94, // latin1
        11, 65, // ascii
    ];
    Some(match id {
        46 => &[0x00, 0x00, 0x20],              // utf8mb4_bin
        33 | 45 | 83 | 223 => &[0x00, 0x20],    // utf8mb3/4 general, utf8mb3_bin
        214 | 246 | 577 | 609 => &[0x02, 0x0A], // UCA 5.2.0
        192..=247 | 576..=608 => &[0x02, 0x09], // UCA 4.0.0 (unicode_ci and languages)
        _ if EIGHT_BIT.contains(&id) => &[0x20],
        _ => return None,
    })
}

/// Compares two weights under PAD SPACE with space weight `pad` (plain bytes
/// when `None`).
pub fn compare_weights(a: &[u8], b: &[u8], pad: Option<&[u8]>) -> Ordering {
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

    #[test]
    fn pad_space() {
        let pad = pad_weight(45);
        // 'a' vs 'A ' (general_ci): equal.
        assert_eq!(
            compare_weights(&[0, 0x41], &[0, 0x41, 0, 0x20], pad),
            Ordering::Equal
        );
        // 'a\t' < 'a'.
        assert_eq!(
            compare_weights(&[0, 0x41, 0, 0x09], &[0, 0x41], pad),
            Ordering::Less
        );
        assert_eq!(
            compare_weights(&[0, 0x41], &[0, 0x41, 0, 0x42], pad),
            Ordering::Less
        );
        // NO PAD: bytes.
        assert_eq!(
            compare_weights(&[0, 0x41], &[0, 0x41, 0, 0x20], pad_weight(1069)),
            Ordering::Less
        );
    }
}
