//! Join keys as MariaDB compares them, from the text cells the sets send:
//! numbers by value (`5` = `5.00`), dates and times by value (`10:00:00` =
//! `10:00:00.000`), strings by their collation weight (computed by the set,
//! trailing pad spaces ignored under PAD SPACE), binary strings byte by byte.
//! Two key columns of different kinds (a number and a string, a DATE and a
//! DATETIME, two collations) are refused rather than guessed — except a
//! utf8mb4_bin column (JSON) against a `_ci` one, which MariaDB compares in
//! utf8mb4_bin ([`Keyer::reconcile`]).
//!
//! Also writes key values as SQL literals for a lookup join's `IN (...)`.

use mysql_common::collations::{Collation, CollationId};
use mysql_common::packets::Column;

use super::unsupported;
use crate::error::ProxyError;
use crate::merge::collate::split;
use crate::merge::value::{cmp_for, needs_weight, Cell, Cmp};

/// How one key column's cells become comparable bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Number,
    /// A temporal type (by column type: DATE and DATETIME never meet).
    Temporal(u8),
    Bytes,
    Weight,
    /// A string compared in a `_bin` collation of its character set (one key
    /// column's, winning over the other's, as MariaDB aggregates two implicit
    /// collations): its bytes, trailing pad spaces ignored.
    PadBytes,
}

/// The weight prefix of utf8mb4_bin (PAD SPACE, a space weighs 00 00 20):
/// a JSON column's collation.
const UTF8MB4_BIN: [u8; 4] = [0x83, 0, 0, 0x20];

pub fn kind_of(col: &Column) -> Result<KeyKind, ProxyError> {
    if needs_weight(col) {
        return Ok(KeyKind::Weight);
    }
    Ok(match cmp_for(col) {
        Cmp::Int | Cmp::Decimal => KeyKind::Number,
        Cmp::Temporal | Cmp::Time => KeyKind::Temporal(col.column_type() as u8),
        Cmp::Bytes => KeyKind::Bytes,
        Cmp::Float => return Err(unsupported("a join on a floating-point column across sets")),
        Cmp::Bit => return Err(unsupported("a join on a BIT column across sets")),
        Cmp::Weight => KeyKind::Weight,
    })
}

/// Checks that two key columns compare alike.
pub fn compatible(a: KeyKind, b: KeyKind) -> Result<(), ProxyError> {
    if a == b {
        return Ok(());
    }
    Err(unsupported(
        "a join across sets on columns of different types (a number and a string, a DATE and a DATETIME, ...)",
    ))
}

/// The comparable form of a key cell (`None`: NULL, never equal).
pub fn normal(kind: KeyKind, value: &Cell, weight: &Cell) -> Option<Vec<u8>> {
    let v = value.as_ref()?;
    Some(match kind {
        KeyKind::Number => number(v),
        KeyKind::Temporal(_) => temporal(v),
        KeyKind::Bytes => v.clone(),
        KeyKind::PadBytes => {
            let n = v.len() - v.iter().rev().take_while(|&&b| b == b' ').count();
            v[..n].to_vec()
        }
        KeyKind::Weight => {
            let w = weight.as_ref()?;
            let (pad, bare) = split(w);
            // The collation prefix stays: two collations never compare equal.
            let prefix_len = w.len() - bare.len();
            let mut bare = bare;
            if let Some(p) = pad.filter(|p| !p.is_empty()) {
                while bare.len() >= p.len() && bare.ends_with(p) {
                    bare = &bare[..bare.len() - p.len()];
                }
            }
            let mut out = w[..prefix_len].to_vec();
            out.extend_from_slice(bare);
            out
        }
    })
}

/// Computes one side's join key from its rows.
#[derive(Debug, Clone)]
pub struct Keyer {
    /// Per key: row index of its value and weight, and how it compares.
    keys: Vec<(usize, usize, KeyKind)>,
    /// Per key: the collation prefix of the first weight seen.
    prefixes: Vec<Option<Vec<u8>>>,
    /// Per key: the character set its values arrive in.
    charsets: Vec<&'static str>,
    /// Per key: the expression is a column (its collation's derivation is
    /// implicit; a function's may not be).
    columns: Vec<bool>,
    /// Row indexes of the side's ON conditions on an outer join's preserved
    /// table: a row where one is not TRUE (`1`) has no key.
    gates: Vec<usize>,
    /// Per key: `<=>`, a NULL value a key of its own.
    null_safe: Vec<bool>,
}

impl Keyer {
    pub fn new(side: &super::plan::Side, cols: &[Column]) -> Result<Keyer, ProxyError> {
        let visible = cols
            .len()
            .checked_sub(side.hidden.len())
            .ok_or_else(|| ProxyError::Internal("join: a side has too few columns".into()))?;
        let keys = side
            .keys
            .iter()
            .map(|&(v, w)| Ok((visible + v, visible + w, kind_of(&cols[visible + v])?)))
            .collect::<Result<Vec<_>, ProxyError>>()?;
        let charsets = side
            .keys
            .iter()
            .map(|&(v, _)| charset_of(&cols[visible + v]))
            .collect();
        let columns = side
            .key_exprs
            .iter()
            .map(|e| {
                e.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '`' | '$'))
            })
            .collect();
        Ok(Keyer {
            prefixes: vec![None; keys.len()],
            keys,
            charsets,
            columns,
            gates: side.gates.iter().map(|g| visible + g).collect(),
            null_safe: side.null_safe.clone(),
        })
    }

    /// The row's key (`None` when a key value is NULL: it matches nothing).
    pub fn key(&mut self, row: &[Cell]) -> Option<Vec<u8>> {
        if self.gates.iter().any(|&g| row[g].as_deref() != Some(b"1")) {
            return None;
        }
        let mut out = Vec::new();
        for (i, &(v, w, kind)) in self.keys.iter().enumerate() {
            if row[v].is_none() && self.null_safe.get(i) == Some(&true) {
                out.extend_from_slice(&u32::MAX.to_le_bytes());
                continue;
            }
            let n = normal(kind, &row[v], &row[w])?;
            if kind == KeyKind::Weight && self.prefixes[i].is_none() {
                if let Some(wc) = &row[w] {
                    let (_, bare) = split(wc);
                    self.prefixes[i] = Some(wc[..wc.len() - bare.len()].to_vec());
                }
            }
            out.extend_from_slice(&(n.len() as u32).to_le_bytes());
            out.extend_from_slice(&n);
        }
        Some(out)
    }

    /// Where the two sides' string keys are columns of two collations, one
    /// utf8mb4_bin (a JSON column), over values of one character set, both
    /// compare as MariaDB then does, in utf8mb4_bin: by bytes, trailing
    /// spaces ignored. Returns whether a key changed (its keys must be
    /// computed again); [`check`](Self::check) refuses what remains.
    pub fn reconcile(&mut self, other: &mut Keyer) -> bool {
        let mut changed = false;
        for i in 0..self.keys.len().min(other.keys.len()) {
            let (Some(a), Some(b)) = (&self.prefixes[i], &other.prefixes[i]) else {
                continue;
            };
            let bin = |p: &[u8]| p == UTF8MB4_BIN;
            // The other: a PAD SPACE collation weighing a space in 2 bytes
            // (utf8mb4_general_ci, unicode_ci...), never another binary one.
            let ci = |p: &[u8]| p.len() == 3 && p[0] == 0x82;
            let wins = (bin(a) && ci(b) || ci(a) && bin(b))
                && self.keys[i].2 == KeyKind::Weight
                && other.keys[i].2 == KeyKind::Weight
                && self.charsets[i] == other.charsets[i]
                && self.charsets[i] == "utf8mb4"
                && self.columns.get(i) == Some(&true)
                && other.columns.get(i) == Some(&true);
            if wins {
                self.keys[i].2 = KeyKind::PadBytes;
                other.keys[i].2 = KeyKind::PadBytes;
                changed = true;
            }
        }
        changed
    }

    /// Fails when the two sides' keys do not compare alike (types, collations).
    pub fn check(&self, other: &Keyer) -> Result<(), ProxyError> {
        for (a, b) in self.keys.iter().zip(&other.keys) {
            compatible(a.2, b.2)?;
        }
        for ((a, b), k) in self.prefixes.iter().zip(&other.prefixes).zip(&self.keys) {
            if let (Some(a), Some(b)) = (a, b) {
                if a != b && k.2 != KeyKind::PadBytes {
                    return Err(unsupported(
                        "a join across sets on string columns of different collations",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A number's canonical text: no leading zeros, no trailing fraction zeros, `-0` is `0`.
fn number(v: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(v);
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let mut out = String::new();
    if neg && !(int.is_empty() && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out.into_bytes()
}

/// A BIT value as a number: a field's cell is its bits as big-endian bytes,
/// an expression's (MIN, MAX) their decimal text.
fn bit_literal(col: &Column, v: &[u8]) -> String {
    let field = !col.org_name_ref().is_empty();
    if !field && !v.is_empty() && v.iter().all(u8::is_ascii_digit) {
        return String::from_utf8_lossy(v).into_owned();
    }
    let n = v.iter().fold(0u128, |n, &b| (n << 8) | u128::from(b));
    n.to_string()
}

/// A date/time's text without trailing fraction zeros.
fn temporal(v: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(v);
    match s.split_once('.') {
        Some((a, f)) => {
            let f = f.trim_end_matches('0');
            if f.is_empty() {
                a.as_bytes().to_vec()
            } else {
                format!("{a}.{f}").into_bytes()
            }
        }
        None => v.to_vec(),
    }
}

/// A key value as an SQL literal compared like the value itself: numbers as
/// they are, strings as hex with the character set of the result they came
/// in (an introducer: coercible, so the compared column's collation decides).
pub fn literal(col: &Column, v: &[u8]) -> String {
    if cmp_for(col) == Cmp::Bit {
        return bit_literal(col, v);
    }
    let numeric = matches!(cmp_for(col), Cmp::Int | Cmp::Decimal)
        && !v.is_empty()
        && v.iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'));
    if numeric {
        return String::from_utf8_lossy(v).into_owned();
    }
    let hex: String = v.iter().map(|b| format!("{b:02X}")).collect();
    let cs = charset_of(col);
    let plain = v
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b" -:.".contains(b));
    if matches!(cmp_for(col), Cmp::Temporal | Cmp::Time) && plain {
        return format!("'{}'", String::from_utf8_lossy(v));
    }
    if hex.is_empty() {
        return format!("_{cs}''");
    }
    format!("_{cs} X'{hex}'")
}

/// The character set values of `col` arrive in (`binary` when
/// `character_set_results` is NULL or binary).
pub fn charset_of(col: &Column) -> &'static str {
    let id = CollationId::from(col.character_set());
    if id == CollationId::UNKNOWN_COLLATION_ID {
        return "utf8mb4";
    }
    match Collation::from(id).charset() {
        "utf8mb3" => "utf8mb3",
        "utf8mb4" => "utf8mb4",
        "latin1" => "latin1",
        "binary" => "binary",
        "ascii" => "ascii",
        _ => "utf8mb4",
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
    fn numbers_compare_by_value() {
        let n = |s: &str| normal(KeyKind::Number, &c(s), &None).unwrap();
        assert_eq!(n("5"), n("5.00"));
        assert_eq!(n("-0.0"), n("0"));
        assert_eq!(n("007.50"), n("7.5"));
        assert_ne!(n("5"), n("50"));
        assert_eq!(normal(KeyKind::Number, &None, &None), None);
    }

    #[test]
    fn weights_ignore_trailing_pad_spaces() {
        // general_ci: prefix 0x82, space 00 20.
        let w = |b: &[u8]| {
            let mut v = vec![0x82, 0, 0x20];
            v.extend_from_slice(b);
            Some(v)
        };
        let k = |b: &[u8]| normal(KeyKind::Weight, &c("x"), &w(b)).unwrap();
        assert_eq!(k(&[0, 0x41]), k(&[0, 0x41, 0, 0x20, 0, 0x20]));
        assert_ne!(k(&[0, 0x41]), k(&[0, 0x41, 0, 0x09]));
    }

    #[test]
    fn binary_collation_keys_compare_bytes_without_pad() {
        let k = |s: &str| normal(KeyKind::PadBytes, &c(s), &None).unwrap();
        assert_eq!(k("\"abc\""), k("\"abc\"  "));
        assert_ne!(k("\"abc\""), k("\"ABC\""));
        assert_ne!(k("abc"), k("\"abc\""));
    }

    #[test]
    fn temporal_fractions() {
        let t = |s: &str| normal(KeyKind::Temporal(12), &c(s), &None).unwrap();
        assert_eq!(t("2024-01-01 10:00:00.000"), t("2024-01-01 10:00:00"));
        assert_ne!(t("2024-01-01 10:00:00.100"), t("2024-01-01 10:00:00"));
    }

    #[test]
    fn literals() {
        let int = Column::new(ColumnType::MYSQL_TYPE_LONGLONG).with_character_set(63);
        assert_eq!(literal(&int, b"-42"), "-42");
        let s = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(45);
        assert_eq!(literal(&s, b"a'b"), "_utf8mb4 X'612762'");
        assert_eq!(literal(&s, b""), "_utf8mb4''");
        let d = Column::new(ColumnType::MYSQL_TYPE_DATE).with_character_set(63);
        assert_eq!(literal(&d, b"2024-01-02"), "'2024-01-02'");
        let bit = Column::new(ColumnType::MYSQL_TYPE_BIT).with_org_name(b"bt");
        assert_eq!(literal(&bit, b"\x03\xff"), "1023");
        assert_eq!(literal(&bit, b"12"), "12594");
        let max = Column::new(ColumnType::MYSQL_TYPE_BIT);
        assert_eq!(literal(&max, b"1023"), "1023");
    }
}
