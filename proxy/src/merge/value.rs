//! Values as the text protocol carries them, compared and combined the way
//! MariaDB would: by column type (numbers numerically, decimals exactly, strings
//! by their collation weight — `WEIGHT_STRING()` computed by MariaDB itself).

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;

/// One cell: `None` is SQL NULL.
pub type Cell = Option<Vec<u8>>;

/// How two values of a column compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Int,
    /// BIT(n): a field's cells are its n bits as big-endian bytes (all of one
    /// length), an aggregate's (MIN, MAX) their decimal text (no leading
    /// zeros): either way the shorter cell is the smaller, then byte order.
    Bit,
    Decimal,
    Float,
    /// Dates and datetimes: their canonical text sorts chronologically.
    Temporal,
    /// TIME: may be negative and exceed 24 h.
    Time,
    /// Bytes as they are (binary strings).
    Bytes,
    /// A weight column of a string: its cells carry their collation's
    /// padding, see [`super::collate`].
    Weight,
}

/// The comparator for a column, from its definition. Strings with a collation are
/// compared through their weight column, so they never get here as text.
pub fn cmp_for(col: &Column) -> Cmp {
    use ColumnType::*;
    match col.column_type() {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_INT24
        | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR => Cmp::Int,
        MYSQL_TYPE_BIT => Cmp::Bit,
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => Cmp::Decimal,
        MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => Cmp::Float,
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => Cmp::Temporal,
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => Cmp::Time,
        _ => Cmp::Bytes,
    }
}

/// Whether a column is a string, compared by its weight when it has one. Not
/// decided by the column definition's character set: that one is the
/// connection's `character_set_results` (63 on a `SET NAMES binary`
/// connection even for a case-insensitive column), while a weight cell says
/// itself how it compares (a binary string's: byte by byte).
pub fn needs_weight(col: &Column) -> bool {
    use ColumnType::*;
    let stringy = matches!(
        col.column_type(),
        MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_JSON
    );
    stringy
}

fn text(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap_or("").trim()
}

fn decimal(v: &[u8]) -> BigDecimal {
    BigDecimal::from_str(text(v)).unwrap_or_default()
}

fn time_micros(v: &[u8]) -> i128 {
    let t = text(v);
    let neg = t.starts_with('-');
    let body = t.trim_start_matches('-');
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<i128>().unwrap_or(0));
    let (h, m, s) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let digits: String = frac.chars().take(6).collect();
    let us = format!("{digits:0<6}").parse::<i128>().unwrap_or(0);
    let v = ((h * 60 + m) * 60 + s) * 1_000_000 + us;
    if neg {
        -v
    } else {
        v
    }
}

/// Compares two non-NULL values with `cmp`.
pub fn compare(cmp: Cmp, a: &[u8], b: &[u8]) -> Ordering {
    match cmp {
        Cmp::Int => match (text(a).parse::<i128>(), text(b).parse::<i128>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => decimal(a).cmp(&decimal(b)),
        },
        Cmp::Bit => (a.len(), a).cmp(&(b.len(), b)),
        Cmp::Decimal => decimal(a).cmp(&decimal(b)),
        Cmp::Float => {
            let x: f64 = text(a).parse().unwrap_or(0.0);
            let y: f64 = text(b).parse().unwrap_or(0.0);
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        Cmp::Time => time_micros(a).cmp(&time_micros(b)),
        Cmp::Temporal | Cmp::Bytes => a.cmp(b),
        Cmp::Weight => super::collate::compare_weights(a, b),
    }
}

/// Compares cells, NULL first (MariaDB's ascending order).
pub fn compare_cells(cmp: Cmp, a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => compare(cmp, x, y),
    }
}

/// Sum of two SUM() results of a column (`None` = NULL, the sum of nothing).
pub fn add(cmp: Cmp, a: &Cell, b: &Cell, decimals: u8) -> Cell {
    match (a, b) {
        (None, x) | (x, None) => x.clone(),
        (Some(x), Some(y)) => Some(
            match cmp {
                Cmp::Float => format_double_at(
                    text(x).parse::<f64>().unwrap_or(0.0) + text(y).parse::<f64>().unwrap_or(0.0),
                    decimals,
                ),
                Cmp::Int => match (text(x).parse::<i128>(), text(y).parse::<i128>()) {
                    (Ok(p), Ok(q)) => (p + q).to_string(),
                    _ => format_decimal(&(decimal(x) + decimal(y)), decimals),
                },
                _ => format_decimal(&(decimal(x) + decimal(y)), decimals),
            }
            .into_bytes(),
        ),
    }
}

/// `sum / count` (AVG's result), computed as MariaDB divides decimals
/// ([`decimal_div`]) and rounded half away from zero to `decimals` places —
/// or, `exact`, left at the quotient's own digits, as MariaDB uses an average
/// inside an expression (`AVG(x) * 1000`); a DOUBLE's printed at its column's
/// `decimals`. AVG's scale is the sum's plus `div_precision_increment`, so the
/// increment is the difference.
pub fn divide(sum: &Cell, count: &Cell, decimals: u8, float: bool, exact: bool) -> Cell {
    let (Some(s), Some(c)) = (sum, count) else {
        return None;
    };
    let c = decimal(c);
    if bigdecimal::Zero::is_zero(&c) {
        return None;
    }
    if float {
        let v = text(s).parse::<f64>().unwrap_or(0.0)
            / text(&c.to_string().into_bytes())
                .parse::<f64>()
                .unwrap_or(1.0);
        return Some(format_double_at(v, decimals).into_bytes());
    }
    let s = decimal(s);
    let incr = i64::from(decimals) - scale(&s);
    let q = decimal_div(&s, &c, incr.max(0))?;
    Some(if exact {
        q.to_plain_string().into_bytes()
    } else {
        format_decimal(&q, decimals).into_bytes()
    })
}

/// The digits after the point a decimal value carries (never negative).
fn scale(v: &BigDecimal) -> i64 {
    v.as_bigint_and_exponent().1.max(0)
}

/// `a / b` as MariaDB divides two decimals (`do_div_mod` in strings/decimal.c):
/// the quotient is computed to D digits after the point and the rest cut off
/// (towards zero), D being the larger of the operands' scales each rounded up
/// to whole 9-digit words, and their scales plus `div_precision_increment`
/// (`incr`) rounded up likewise. The result is rounded to the column's scale
/// only when it is sent, so a quotient shows the cut when D is that scale:
/// under `div_precision_increment = 0`, `2 / 3` is 0 and `AVG` of integers
/// 0.92… is 0. NULL when `b` is zero.
pub fn decimal_div(a: &BigDecimal, b: &BigDecimal, incr: i64) -> Option<BigDecimal> {
    use bigdecimal::num_bigint::BigInt;
    if bigdecimal::Zero::is_zero(b) {
        return None;
    }
    let (s1, s2) = (scale(a), scale(b));
    let words = |d: i64| (d + 8).div_euclid(9) * 9;
    let digits = (words(s1) + words(s2)).max(words(s1 + s2 + incr));
    let (na, _) = a.with_scale(s1).into_bigint_and_exponent();
    let (nb, _) = b.with_scale(s2).into_bigint_and_exponent();
    // a / b = (na / nb) * 10^(s2 - s1); scaled by 10^digits, cut by integer
    // division (which truncates towards zero).
    let shift = u32::try_from(digits + s2 - s1).ok()?;
    let q: BigInt = na * BigInt::from(10).pow(shift) / nb;
    Some(BigDecimal::new(q, digits))
}

/// A decimal with exactly `decimals` digits after the point, as MariaDB prints it.
pub fn format_decimal(v: &BigDecimal, decimals: u8) -> String {
    let r = v.with_scale_round(decimals as i64, bigdecimal::RoundingMode::HalfUp);
    let s = r.to_plain_string();
    if s.starts_with('-') && bigdecimal::Zero::is_zero(&r) {
        s[1..].to_string()
    } else {
        s
    }
}

/// A DOUBLE as MariaDB prints it: shortest round-trip digits, exponent form for
/// very large or small magnitudes.
pub fn format_double(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let e = v.abs().log10().floor() as i32;
    if (-5..15).contains(&e) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// A double as MariaDB prints a DOUBLE column with `decimals` (31 or more:
/// not fixed, [`format_double`]). Fixed: the exact value's digits up to 2^53,
/// beyond it the shortest round-trip digits padded with zeros (MariaDB's
/// `my_fcvt`: `SUM(d)` of DOUBLE(20,4) near 1e64 prints 5590169943749474 and
/// then zeros, not the binary value's every digit).
pub fn format_double_at(v: f64, decimals: u8) -> String {
    if decimals >= 31 {
        return format_double(v);
    }
    let places = usize::from(decimals);
    if !v.is_finite() || v.abs() < 9_007_199_254_740_992.0 {
        return format!("{v:.places$}");
    }
    // Shortest digits d1d2...dn × 10^(e-n+1): an integer, padded with zeros.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: usize = exp.parse().unwrap_or(0);
    let zeros = (exp + 1).saturating_sub(digits.len());
    let sign = if v < 0.0 { "-" } else { "" };
    let frac = if places > 0 {
        format!(".{}", "0".repeat(places))
    } else {
        String::new()
    };
    format!("{sign}{digits}{}{frac}", "0".repeat(zeros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_by_type() {
        assert_eq!(compare(Cmp::Int, b"9", b"10"), Ordering::Less);
        assert_eq!(compare(Cmp::Decimal, b"-1.50", b"-1.5"), Ordering::Equal);
        assert_eq!(compare(Cmp::Decimal, b"2.01", b"10.1"), Ordering::Less);
        assert_eq!(
            compare(Cmp::Time, b"-01:00:00", b"00:30:00"),
            Ordering::Less
        );
        assert_eq!(
            compare(Cmp::Time, b"100:00:00", b"23:59:59"),
            Ordering::Greater
        );
        assert_eq!(
            compare(
                Cmp::Temporal,
                b"2024-01-02 00:00:00",
                b"2024-01-10 00:00:00"
            ),
            Ordering::Less
        );
        // BIT(10) fields (big-endian bytes) and MIN/MAX of them (decimal text).
        assert_eq!(
            compare(Cmp::Bit, b"\x01\x00", b"\x00\xff"),
            Ordering::Greater
        );
        assert_eq!(compare(Cmp::Bit, b"1023", b"256"), Ordering::Greater);
        assert_eq!(compare(Cmp::Bit, b"3", b"20"), Ordering::Less);
        assert_eq!(
            compare_cells(Cmp::Int, &None, &Some(b"1".to_vec())),
            Ordering::Less
        );
    }

    #[test]
    fn sums_and_averages() {
        let s = add(
            Cmp::Decimal,
            &Some(b"1.25".to_vec()),
            &Some(b"2.50".to_vec()),
            2,
        );
        assert_eq!(s.as_deref(), Some(&b"3.75"[..]));
        assert_eq!(
            add(Cmp::Decimal, &None, &Some(b"1".to_vec()), 0).as_deref(),
            Some(&b"1"[..])
        );
        let avg = divide(&Some(b"10".to_vec()), &Some(b"3".to_vec()), 4, false, false);
        assert_eq!(avg.as_deref(), Some(&b"3.3333"[..]));
        let avg = divide(&Some(b"-5".to_vec()), &Some(b"2".to_vec()), 4, false, false);
        assert_eq!(avg.as_deref(), Some(&b"-2.5000"[..]));
        assert_eq!(divide(&None, &Some(b"0".to_vec()), 4, false, false), None);
        // MariaDB's cut quotient: digits in whole 9-digit words, rounded to
        // the scale when the words hold more digits than it.
        let cell = |v: &[u8]| Some(v.to_vec());
        let avg = |s: &[u8], c: &[u8], d: u8, exact: bool| {
            String::from_utf8(divide(&cell(s), &cell(c), d, false, exact).unwrap()).unwrap()
        };
        assert_eq!(avg(b"12", b"13", 4, false), "0.9231");
        assert_eq!(avg(b"12", b"13", 4, true), "0.923076923");
        assert_eq!(avg(b"12", b"13", 0, false), "0");
        assert_eq!(avg(b"-25", b"13", 0, false), "-1");
        assert_eq!(avg(b"12", b"13", 9, false), "0.923076923");
        assert_eq!(avg(b"2", b"3", 9, false), "0.666666666");
        assert_eq!(avg(b"2.0000", b"3", 9, false), "0.666666666");
        assert_eq!(avg(b"2.0", b"3", 10, false), "0.6666666667");
        assert_eq!(avg(b"7.5", b"2", 1, false), "3.8");
        assert_eq!(avg(b"0.000000003", b"3", 18, false), "0.000000001000000000");
        let div = |a: &str, b: &str, incr: i64| {
            let d = |t: &str| BigDecimal::from_str(t).unwrap();
            decimal_div(&d(a), &d(b), incr).map(|q| q.to_plain_string())
        };
        assert_eq!(div("7", "2.0", 0).as_deref(), Some("3.500000000"));
        assert_eq!(
            div("1.999999999", "1000", 0).as_deref(),
            Some("0.001999999")
        );
        assert_eq!(div("-7", "2", 0).as_deref(), Some("-3"));
        assert_eq!(div("1", "0.00", 4), None);
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(1.5e100), "1.5e100");
        assert_eq!(format_double_at(3.5, 2), "3.50");
        assert_eq!(format_double_at(-0.125, 4), "-0.1250");
        assert_eq!(
            format_double_at(5.590169943749474e64, 4),
            format!("5590169943749474{}.0000", "0".repeat(49))
        );
        assert_eq!(format_double_at(1.5e20, 0), "150000000000000000000");
    }
}
