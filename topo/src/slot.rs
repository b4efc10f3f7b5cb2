//! Shard-key hashing: `slot = CRC32(canonical text of the key) % slots`.
//!
//! CRC32 is chosen so that MariaDB computes the same slot in SQL, which the
//! data-moving code relies on:
//!
//! | key type | canonical text | the same slot in MariaDB |
//! |---|---|---|
//! | integer | decimal digits, no sign for 0, no leading zeros (`'007'`, `7`, `7.0` → `7`) | `CRC32(col) % slots` |
//! | text (case-insensitive, PAD SPACE) | UTF-8, trailing spaces removed, each character lower-cased alone (Unicode simple case mapping) | `CRC32(LOWER(TRIM(TRAILING ' ' FROM CONVERT(col USING utf8mb4)) COLLATE utf8mb4_uca1400_ai_ci)) % slots` |
//! | binary | the bytes as they are | `CRC32(col) % slots` |
//! | weighted text (every text key since collation-aware hashing) | the value's weights in the column's collation, less trailing space weights if PAD SPACE ([`crate::weights`]) | `CRC32(TRIM(TRAILING WEIGHT_STRING(CONCAT(LEFT(col, 0), ' ')) FROM WEIGHT_STRING(col))) % slots` |
//!
//! Weighted keys hash alike exactly the values MariaDB finds equal (`'a' = 'Ä'`
//! in `utf8mb4_general_ci`). The older text hashing below is kept for the tables
//! created with it ([`KeyType::Text`]); it equates only case.
//!
//! Text keys are hashed as UTF-8 whatever the column's character set, and lower-cased
//! with MariaDB's Unicode 14 case table (`uca1400`) rather than the column's own
//! collation (`utf8mb4_general_ci` knows few case pairs beyond Latin): per character,
//! as MariaDB's `LOWER` does (no final sigma `ς`, `İ` → `i`). Checked against MariaDB
//! for whole alphabets by tests/tests/slot_sql.rs.

use crate::model::KeyType;

/// The slot of column `col` (an already-quoted SQL identifier, e.g. `` `t`.`id` ``)
/// as MariaDB computes it: the same as [`slot_of`] for every value of the type (a
/// NULL key gives NULL).
pub fn slot_sql(col: &str, key_type: KeyType, slots: u32) -> String {
    match key_type {
        KeyType::Integer | KeyType::Binary => format!("(CRC32({col}) % {slots})"),
        // The space's weight is taken in the column's own collation.
        KeyType::Weighted { pad: true, .. } => format!(
            "(CRC32(TRIM(TRAILING WEIGHT_STRING(CONCAT(LEFT({col}, 0), ' ')) \
             FROM WEIGHT_STRING({col}))) % {slots})"
        ),
        KeyType::Weighted { pad: false, .. } => format!("(CRC32(WEIGHT_STRING({col})) % {slots})"),
        KeyType::Text => format!(
            "(CRC32(LOWER(TRIM(TRAILING ' ' FROM CONVERT({col} USING utf8mb4)) \
             COLLATE utf8mb4_uca1400_ai_ci)) % {slots})"
        ),
    }
}

/// A condition true for the rows of `col` whose slot is in none of `spans` (and
/// for NULL keys, which are in no slot): what a set keeps visible while it holds
/// rows of slots it does not own.
pub fn outside_spans_sql(
    col: &str,
    key_type: KeyType,
    slots: u32,
    spans: &[crate::moves::SlotSpan],
) -> String {
    match within_sql(col, key_type, slots, spans) {
        Some(w) => format!("NOT IFNULL({w}, 0)"),
        None => "1".to_string(),
    }
}

/// A condition true for the rows of `col` whose slot is in one of `spans`.
pub fn inside_spans_sql(
    col: &str,
    key_type: KeyType,
    slots: u32,
    spans: &[crate::moves::SlotSpan],
) -> String {
    match within_sql(col, key_type, slots, spans) {
        Some(w) => format!("IFNULL({w}, 0)"),
        None => "0".to_string(),
    }
}

/// `(slot BETWEEN a AND b OR ...)` over `spans` (NULL for a NULL key); None for no span.
fn within_sql(
    col: &str,
    key_type: KeyType,
    slots: u32,
    spans: &[crate::moves::SlotSpan],
) -> Option<String> {
    if spans.is_empty() {
        return None;
    }
    let slot = slot_sql(col, key_type, slots);
    let within: Vec<String> = spans
        .iter()
        .map(|s| format!("{slot} BETWEEN {} AND {}", s.start, s.end.saturating_sub(1)))
        .collect();
    Some(format!("({})", within.join(" OR ")))
}

/// The slot of an already-canonical key text.
pub fn slot_of_canonical(canonical: &[u8], slots: u32) -> u32 {
    crc32fast::hash(canonical) % slots
}

/// Canonical text of a shard-key value given as it appeared in SQL (the literal's
/// text without quotes). `None` when the value cannot be a key of this type (e.g. `abc`
/// for an integer key): such a value matches no row, and a caller must not route
/// a write with it.
pub fn canonical(value: &[u8], key_type: KeyType) -> Option<Vec<u8>> {
    match key_type {
        KeyType::Integer => {
            canonical_integer(std::str::from_utf8(value).ok()?).map(String::into_bytes)
        }
        KeyType::Text => {
            let s = std::str::from_utf8(value).ok()?;
            Some(lower_chars(s.trim_end_matches(' ')).into_bytes())
        }
        KeyType::Binary => Some(value.to_vec()),
        KeyType::Weighted { collation, .. } => crate::weights::weigher(collation)?
            .key(std::str::from_utf8(value).ok()?)
            .ok(),
    }
}

/// Why a written key value cannot be given a set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteSlotError {
    /// The weights of the key's collation are not loaded in this process yet.
    #[error("the weights of collation id {0} are not loaded")]
    NotLoaded(u16),
    /// A value of an older text key ([`KeyType::Text`]) beyond printable ASCII.
    #[error("a key value beyond printable ASCII in a table whose text key is hashed by case only")]
    CaseHashed,
    /// Not a value of this key type.
    #[error("not a key value of this type")]
    NotAKey,
}

/// The slot of a written key value, where MariaDB stores it: an integer key as
/// MariaDB converts the value (`'12x'` → 12), a weighted text key by the value
/// MariaDB keeps (a character the column cannot hold stored as `?`).
pub fn slot_of_written(value: &str, key_type: KeyType, slots: u32) -> Result<u32, WriteSlotError> {
    let canonical = match key_type {
        KeyType::Integer => lenient_integer(value.as_bytes()).into_bytes(),
        KeyType::Binary => value.as_bytes().to_vec(),
        KeyType::Text if !printable_ascii(value.as_bytes()) => {
            return Err(WriteSlotError::CaseHashed)
        }
        KeyType::Text => canonical(value.as_bytes(), key_type).ok_or(WriteSlotError::NotAKey)?,
        KeyType::Weighted { collation, .. } => crate::weights::weigher(collation)
            .ok_or(WriteSlotError::NotLoaded(collation))?
            .stored_key(value),
    };
    Ok(slot_of_canonical(&canonical, slots))
}

/// Printable ASCII only: the values an older text key ([`KeyType::Text`]) hashes
/// as MariaDB compares them (beyond it, `'a' = 'Ä'` under a `_ci` collation).
fn printable_ascii(value: &[u8]) -> bool {
    value.iter().all(|b| (0x20..0x7f).contains(b))
}

/// Each character lower-cased alone, as MariaDB's `LOWER` under `uca1400` does:
/// Unicode 14's simple case mapping (`str::to_lowercase` would also turn a final
/// `Σ` into `ς` and `İ` into two characters, and Rust knows the case pairs Unicode
/// 16 added, which MariaDB leaves as they are).
fn lower_chars(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            c if newer_than_unicode_14(c) => c,
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

/// Upper-case letters whose case pair came after Unicode 14 (Unicode 16).
fn newer_than_unicode_14(c: char) -> bool {
    matches!(
        c as u32,
        0x1C89 | 0xA7CB | 0xA7CC | 0xA7CE | 0xA7D2 | 0xA7D4 | 0xA7DA | 0xA7DC | 0x10D50..=0x10D65
    )
}

/// The slot of a key value as it appeared in SQL; see [`canonical`].
pub fn slot_of(value: &[u8], key_type: KeyType, slots: u32) -> Option<u32> {
    canonical(value, key_type).map(|c| slot_of_canonical(&c, slots))
}

/// The integer MariaDB makes of `value` when it is stored into an integer column
/// without strict mode: the longest numeric prefix (`'12x'` → 12, `'abc'` → 0,
/// `'1e3'` → 1000), rounded. For routing a *write* whose key MariaDB will convert
/// (or refuse, in strict mode) — reads use [`canonical`], which refuses such values.
pub fn lenient_integer(value: &[u8]) -> String {
    let s = String::from_utf8_lossy(value);
    let t = s.trim_start();
    let mut end = 0;
    let b = t.as_bytes();
    if end < b.len() && (b[end] == b'-' || b[end] == b'+') {
        end += 1;
    }
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut j = end + 1;
        if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            end = j;
        }
    }
    let prefix = &t[..end];
    if let Some(c) = canonical_integer(prefix) {
        return c;
    }
    let f: f64 = prefix.parse().unwrap_or(0.0);
    format!("{}", f.round() as i128)
}

/// The slot of the rows a comparison `key = value` can match. For an integer key
/// MariaDB compares a string or float literal numerically (`'10abc'` → 10), so the
/// value is converted as MariaDB converts it; a converted value with a fraction
/// matches no row, wherever it is sent.
///
/// None also when the slot is not known here: a value beyond printable ASCII of an
/// older text key (it may equal rows hashed elsewhere), or a weighted key whose
/// collation's weights are not loaded. Such a value may match rows on any set.
pub fn slot_of_compared(value: &[u8], key_type: KeyType, slots: u32) -> Option<u32> {
    match key_type {
        KeyType::Integer => Some(slot_of_canonical(lenient_integer(value).as_bytes(), slots)),
        KeyType::Text if !printable_ascii(value) => None,
        _ => slot_of(value, key_type, slots),
    }
}

/// The slot of an integer key.
pub fn slot_of_int(v: i128, slots: u32) -> u32 {
    slot_of_canonical(v.to_string().as_bytes(), slots)
}

/// `'  +007.0 '` → `7`; rounds a fraction half away from zero as MariaDB does when it
/// stores a decimal into an integer column. Accepts an exponent-free decimal only.
fn canonical_integer(s: &str) -> Option<String> {
    let s = s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\n');
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut v: i128 = if int_part.is_empty() {
        0
    } else {
        int_part
            .trim_start_matches('0')
            .parse::<i128>()
            .or_else(|e| {
                if int_part.trim_start_matches('0').is_empty() {
                    Ok(0)
                } else {
                    Err(e)
                }
            })
            .ok()?
    };
    if frac_part.as_bytes().first().is_some_and(|&d| d >= b'5') {
        v += 1;
    }
    if neg {
        v = -v;
    }
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_normalise() {
        for (input, want) in [
            ("7", "7"),
            ("007", "7"),
            (" 7 ", "7"),
            ("+7", "7"),
            ("7.0", "7"),
            ("7.5", "8"),
            ("-7.5", "-8"),
            ("-0", "0"),
            ("000", "0"),
            (".4", "0"),
            ("18446744073709551615", "18446744073709551615"),
        ] {
            assert_eq!(
                canonical(input.as_bytes(), KeyType::Integer).as_deref(),
                Some(want.as_bytes()),
                "{input}"
            );
        }
        for bad in ["", "abc", "7a", "1e3", "-", "."] {
            assert_eq!(canonical(bad.as_bytes(), KeyType::Integer), None, "{bad}");
        }
    }

    #[test]
    fn case_hashed_text_keys_route_printable_ascii_only() {
        let t = KeyType::Text;
        assert_eq!(slot_of_compared(b"Ab ", t, 1024), slot_of(b"ab", t, 1024));
        assert_eq!(slot_of_compared("Ä".as_bytes(), t, 1024), None);
        assert_eq!(slot_of_compared(b"a", t, 1024), None);
        assert_eq!(slot_of_written("Ab", t, 1024).ok(), slot_of(b"ab", t, 1024));
        assert_eq!(
            slot_of_written("Ä", t, 1024),
            Err(WriteSlotError::CaseHashed)
        );
    }

    #[test]
    fn weighted_keys_need_their_weights() {
        let w = KeyType::Weighted {
            collation: 60_001,
            pad: true,
        };
        assert_eq!(slot_of_compared(b"a", w, 1024), None);
        assert_eq!(
            slot_of_written("a", w, 1024),
            Err(WriteSlotError::NotLoaded(60_001))
        );
        assert_eq!(
            slot_of_written("12x", KeyType::Integer, 1024).ok(),
            Some(slot_of_int(12, 1024))
        );
    }

    #[test]
    fn lenient_like_mariadb() {
        for (input, want) in [
            ("12x", "12"),
            ("abc", "0"),
            ("", "0"),
            ("1e3", "1000"),
            (" -7.6z", "-8"),
            ("007", "7"),
        ] {
            assert_eq!(lenient_integer(input.as_bytes()), want, "{input}");
        }
    }

    #[test]
    fn text_normalises_case_and_pad() {
        assert_eq!(
            slot_of(b"Alice  ", KeyType::Text, 1024),
            slot_of(b"alice", KeyType::Text, 1024)
        );
        // Per character, as MariaDB's LOWER: no final sigma, İ is one letter.
        assert_eq!(
            canonical("ΣΑΣ".as_bytes(), KeyType::Text).unwrap(),
            "σασ".as_bytes()
        );
        assert_eq!(canonical("İ".as_bytes(), KeyType::Text).unwrap(), b"i");
        assert_ne!(
            slot_of(b"Alice", KeyType::Binary, 1024),
            slot_of(b"alice", KeyType::Binary, 1024)
        );
    }

    #[test]
    fn matches_mariadb_crc32() {
        // The MariaDB/MySQL manual: SELECT CRC32('MySQL') = 3259397556.
        assert_eq!(crc32fast::hash(b"MySQL"), 3_259_397_556);
        // SELECT CRC32(42) % 1024 = 841265288 % 1024 = 136
        assert_eq!(slot_of_int(42, 1024), 136);
        assert_eq!(
            slot_of(b"'042'".trim_ascii()[1..4].as_ref(), KeyType::Integer, 1024),
            Some(136)
        );
    }
}
