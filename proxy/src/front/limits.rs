//! Placeholders that are row counts: which `?` of a prepared statement sit in a
//! `LIMIT` / `OFFSET` clause (found once, at prepare), and the row count MariaDB
//! makes of a value bound to one in the binary protocol. Each execute splices
//! that count as a plain integer, so the planner sees literal numbers and a
//! merge across sets skips and keeps the right rows for every execute.

use mysql_common::value::Value;

use crate::sql::lexer::{Kind, Token};

/// For each placeholder of `tokens` (in order): whether it is a LIMIT count or
/// offset (`LIMIT ?`, `LIMIT ?, ?`, `LIMIT n, ?`, `LIMIT ? OFFSET ?`).
pub fn limit_placeholders(sql: &str, tokens: &[Token]) -> Vec<bool> {
    let sig: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let is_count = |t: &Token| matches!(t.kind, Kind::Placeholder | Kind::Number);
    let mut out = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        if t.kind != Kind::Placeholder {
            continue;
        }
        let before = |k: usize| i.checked_sub(k).map(|j| sig[j]);
        let after_word = |w: &str| before(1).is_some_and(|p| p.is_word(sql, w));
        let second_of_pair = before(1).is_some_and(|c| c.is_punct(sql, ","))
            && before(2).is_some_and(is_count)
            && before(3).is_some_and(|l| l.is_word(sql, "LIMIT"));
        out.push(after_word("LIMIT") || after_word("OFFSET") || second_of_pair);
    }
    out
}

/// The row count MariaDB takes from a value bound (binary protocol) to a
/// LIMIT placeholder: NULL is 0, a negative integer wraps to an unsigned one,
/// a double is rounded half to even, a string holding an integer is that
/// integer. `None` for anything else (a string that is not an integer gets a
/// truncation warning from MariaDB; a date): the value is spliced as it is and
/// a merge across sets refuses it.
pub fn limit_value(v: &Value) -> Option<u64> {
    match v {
        Value::NULL => Some(0),
        Value::Int(n) => Some(*n as u64),
        Value::UInt(n) => Some(*n),
        Value::Float(f) => rounded(f64::from(*f)),
        Value::Double(f) => rounded(*f),
        Value::Bytes(b) => integer_text(std::str::from_utf8(b).ok()?),
        _ => None,
    }
}

/// `f` rounded half to even (C `rint`), as MariaDB converts a double to an integer.
fn rounded(f: f64) -> Option<u64> {
    let r = f.round_ties_even();
    if r >= -(2f64.powi(63)) && r < 2f64.powi(63) {
        Some(r as i64 as u64)
    } else if (0.0..2f64.powi(64)).contains(&r) {
        Some(r as u64)
    } else {
        None
    }
}

/// `[space] [+|-] digits [space]` within the 64-bit range; negatives wrap.
fn integer_text(s: &str) -> Option<u64> {
    let t = s.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\n');
    let (neg, digits) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    if neg {
        (n <= 1 << 63).then(|| (n as i64).wrapping_neg() as u64)
    } else {
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn marks(sql: &str) -> Vec<bool> {
        limit_placeholders(sql, &tokenize(sql).unwrap())
    }

    #[test]
    fn finds_limit_placeholders() {
        assert_eq!(marks("SELECT a FROM t WHERE b = ? LIMIT ?"), [false, true]);
        assert_eq!(marks("SELECT a FROM t LIMIT ?, ?"), [true, true]);
        assert_eq!(marks("SELECT a FROM t LIMIT 5, ?"), [true]);
        assert_eq!(
            marks("SELECT ? FROM t WHERE x IN (?, ?) LIMIT ? OFFSET ?"),
            [false, false, false, true, true]
        );
        assert_eq!(marks("SELECT a FROM t /* c */ limit\n?"), [true]);
    }

    #[test]
    fn converts_like_mariadb() {
        assert_eq!(limit_value(&Value::NULL), Some(0));
        assert_eq!(limit_value(&Value::Int(7)), Some(7));
        assert_eq!(limit_value(&Value::Int(-1)), Some(u64::MAX));
        assert_eq!(limit_value(&Value::Double(2.5)), Some(2));
        assert_eq!(limit_value(&Value::Double(3.5)), Some(4));
        assert_eq!(limit_value(&Value::Bytes(b" 12 ".to_vec())), Some(12));
        assert_eq!(
            limit_value(&Value::Bytes(b"-2".to_vec())),
            Some(u64::MAX - 1)
        );
        assert_eq!(limit_value(&Value::Bytes(b"abc".to_vec())), None);
        assert_eq!(limit_value(&Value::Bytes(b"1.5".to_vec())), None);
    }
}
