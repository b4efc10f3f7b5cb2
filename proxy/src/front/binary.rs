//! The binary protocol of prepared statements: rows encoded per column type from
//! the text values MariaDB returned (COM_STMT_EXECUTE parameters decoded and
//! rendered as SQL literals are [`super::params`]).
//!
//! The gateway runs a prepared statement by substituting its parameters as
//! literals and routing the resulting text like any query (as Vitess does), so
//! every plan — single set, scatter, merge — serves both protocols; only the row
//! encoding differs.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use mysql_common::value::Value;

use super::wire::put_lenenc_str;

/// Appends one binary-protocol row for `values` (text form, as MariaDB sent them).
pub fn encode_row(buf: &mut Vec<u8>, cols: &[Column], values: &[Option<&[u8]>]) {
    buf.push(0x00);
    let bitmap_at = buf.len();
    let bitmap_len = (cols.len() + 7 + 2) / 8;
    buf.resize(bitmap_at + bitmap_len, 0);
    for (i, (col, v)) in cols.iter().zip(values).enumerate() {
        match v {
            None => {
                let bit = i + 2;
                buf[bitmap_at + bit / 8] |= 1 << (bit % 8);
            }
            Some(v) => encode_value(buf, col, v),
        }
    }
}

/// Appends one binary-protocol row for typed `values` (as mysql_async decoded a
/// backend's binary row), each encoded at its column's width.
pub fn encode_values_row(buf: &mut Vec<u8>, cols: &[Column], values: &[Value]) {
    buf.push(0x00);
    let bitmap_at = buf.len();
    let bitmap_len = (cols.len() + 7 + 2) / 8;
    buf.resize(bitmap_at + bitmap_len, 0);
    for (i, (col, v)) in cols.iter().zip(values).enumerate() {
        use ColumnType::*;
        let width = match col.column_type() {
            MYSQL_TYPE_TINY => 1,
            MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => 2,
            MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => 4,
            _ => 8,
        };
        match v {
            Value::NULL => {
                let bit = i + 2;
                buf[bitmap_at + bit / 8] |= 1 << (bit % 8);
            }
            Value::Int(n) => buf.extend_from_slice(&n.to_le_bytes()[..width]),
            Value::UInt(n) => buf.extend_from_slice(&n.to_le_bytes()[..width]),
            Value::Float(f) => buf.extend_from_slice(&f.to_le_bytes()),
            Value::Double(d) => buf.extend_from_slice(&d.to_le_bytes()),
            Value::Bytes(b) => put_lenenc_str(buf, b),
            &Value::Date(y, mo, d, h, mi, s, us) => {
                let len: u8 = if us != 0 {
                    11
                } else if h != 0 || mi != 0 || s != 0 {
                    7
                } else if y != 0 || mo != 0 || d != 0 {
                    4
                } else {
                    0
                };
                buf.push(len);
                if len >= 4 {
                    buf.extend_from_slice(&y.to_le_bytes());
                    buf.extend_from_slice(&[mo, d]);
                }
                if len >= 7 {
                    buf.extend_from_slice(&[h, mi, s]);
                }
                if len == 11 {
                    buf.extend_from_slice(&us.to_le_bytes());
                }
            }
            &Value::Time(neg, days, h, mi, s, us) => {
                if days == 0 && h == 0 && mi == 0 && s == 0 && us == 0 {
                    buf.push(0);
                } else {
                    buf.push(if us != 0 { 12 } else { 8 });
                    buf.push(neg as u8);
                    buf.extend_from_slice(&days.to_le_bytes());
                    buf.extend_from_slice(&[h, mi, s]);
                    if us != 0 {
                        buf.extend_from_slice(&us.to_le_bytes());
                    }
                }
            }
        }
    }
}

fn text(v: &[u8]) -> &str {
    std::str::from_utf8(v).unwrap_or("")
}

fn encode_value(buf: &mut Vec<u8>, col: &Column, v: &[u8]) {
    use ColumnType::*;
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let int = |v: &[u8]| -> i128 {
        let t = text(v).trim();
        t.parse::<i128>()
            .unwrap_or_else(|_| t.parse::<f64>().map(|f| f as i128).unwrap_or(0))
    };
    match col.column_type() {
        MYSQL_TYPE_TINY => buf.push(int(v) as u8),
        MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => buf.extend_from_slice(&(int(v) as u16).to_le_bytes()),
        MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => buf.extend_from_slice(&(int(v) as u32).to_le_bytes()),
        MYSQL_TYPE_LONGLONG => {
            let n = int(v);
            let b = if unsigned {
                (n as u64).to_le_bytes()
            } else {
                (n as i64).to_le_bytes()
            };
            buf.extend_from_slice(&b);
        }
        MYSQL_TYPE_FLOAT => {
            buf.extend_from_slice(&text(v).trim().parse::<f32>().unwrap_or(0.0).to_le_bytes())
        }
        MYSQL_TYPE_DOUBLE => {
            buf.extend_from_slice(&text(v).trim().parse::<f64>().unwrap_or(0.0).to_le_bytes())
        }
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => encode_datetime(buf, text(v)),
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => encode_time(buf, text(v)),
        _ => put_lenenc_str(buf, v),
    }
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` → length byte + fields (0, 4, 7 or 11 bytes).
fn encode_datetime(buf: &mut Vec<u8>, t: &str) {
    let nums: Vec<u32> = t
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    let g = |i: usize| nums.get(i).copied().unwrap_or(0);
    let micros = t.split_once('.').map(|(_, f)| frac_micros(f)).unwrap_or(0);
    let (y, mo, d, h, mi, s) = (g(0), g(1), g(2), g(3), g(4), g(5));
    if micros != 0 {
        buf.push(11);
    } else if h != 0 || mi != 0 || s != 0 {
        buf.push(7);
    } else if y != 0 || mo != 0 || d != 0 {
        buf.push(4);
    } else {
        buf.push(0);
        return;
    }
    let len = buf[buf.len() - 1];
    buf.extend_from_slice(&(y as u16).to_le_bytes());
    buf.extend_from_slice(&[mo as u8, d as u8]);
    if len >= 7 {
        buf.extend_from_slice(&[h as u8, mi as u8, s as u8]);
    }
    if len == 11 {
        buf.extend_from_slice(&micros.to_le_bytes());
    }
}

/// `[-]HHH:MM:SS[.ffffff]` → length byte + sign, days, h, m, s[, µs].
fn encode_time(buf: &mut Vec<u8>, t: &str) {
    let neg = t.starts_with('-');
    let body = t.trim_start_matches('-');
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let parts: Vec<u32> = hms.split(':').map(|p| p.parse().unwrap_or(0)).collect();
    let hours = parts.first().copied().unwrap_or(0);
    let (mi, s) = (
        parts.get(1).copied().unwrap_or(0),
        parts.get(2).copied().unwrap_or(0),
    );
    let micros = frac_micros(frac);
    let (days, h) = (hours / 24, hours % 24);
    if days == 0 && h == 0 && mi == 0 && s == 0 && micros == 0 {
        buf.push(0);
        return;
    }
    buf.push(if micros != 0 { 12 } else { 8 });
    buf.push(neg as u8);
    buf.extend_from_slice(&days.to_le_bytes());
    buf.extend_from_slice(&[h as u8, mi as u8, s as u8]);
    if micros != 0 {
        buf.extend_from_slice(&micros.to_le_bytes());
    }
}

fn frac_micros(f: &str) -> u32 {
    let digits: String = f.chars().take_while(char::is_ascii_digit).take(6).collect();
    format!("{digits:0<6}").parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_rows() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONG),
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING),
            Column::new(ColumnType::MYSQL_TYPE_DATETIME),
            Column::new(ColumnType::MYSQL_TYPE_TIME),
        ];
        let mut buf = Vec::new();
        encode_row(
            &mut buf,
            &cols,
            &[
                Some(b"-2"),
                None,
                Some(b"2024-01-02 03:04:05"),
                Some(b"-25:00:01.5"),
            ],
        );
        assert_eq!(
            buf,
            vec![
                0, 0b1000, // header, NULL bitmap (column 1 → bit 3)
                0xfe, 0xff, 0xff, 0xff, // -2
                7, 0xe8, 0x07, 1, 2, 3, 4, 5, // datetime
                12, 1, 1, 0, 0, 0, 1, 0, 1, 0x20, 0xa1, 0x07, 0, // time
            ]
        );
    }
}
