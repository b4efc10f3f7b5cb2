//! The binary protocol of prepared statements: rows encoded per column type from
//! the text values MariaDB returned, and COM_STMT_EXECUTE parameters decoded and
//! rendered as SQL literals.
//!
//! The gateway runs a prepared statement by substituting its parameters as
//! literals and routing the resulting text like any query (as Vitess does), so
//! every plan — single set, scatter, merge — serves both protocols; only the row
//! encoding differs.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use mysql_common::value::Value;

use super::charset::Codec;
use super::wire::{get_lenenc_int, put_lenenc_str};

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

/// One bound parameter: as a SQL literal (to splice into text) and as a typed
/// value (to bind to a backend prepared statement).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Number, quoted string, hex or date literal; `NULL`.
    pub literal: String,
    pub value: Value,
    /// The type the client bound it with, and its unsigned flag.
    pub ty: (u8, bool),
}

impl Param {
    fn new(literal: String, value: Value) -> Self {
        Self {
            literal,
            value,
            ty: (6, false),
        }
    }
    fn null() -> Self {
        Self::new("NULL".into(), Value::NULL)
    }
}

/// Why an execute packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPacket(pub &'static str);

const NON_FINITE: &str = "a non-finite floating-point parameter";
const UNDECODABLE: &str =
    "a non-ASCII string parameter in a character set the gateway cannot decode";

/// MariaDB's words for long data past max_allowed_packet (ER_UNKNOWN_ERROR).
pub const LONG_DATA_TOO_LONG: &str = "Parameter of prepared statement which is set through \
     mysql_send_long_data() is longer than 'max_allowed_packet' bytes";

impl BadPacket {
    /// The error the client gets: MariaDB's for a parameter block it cannot
    /// read or too much long data; 1235 for values the gateway cannot splice.
    pub fn error(&self) -> crate::error::ProxyError {
        use crate::error::ProxyError;
        match self.0 {
            LONG_DATA_TOO_LONG => ProxyError::Backend {
                code: 1105,
                state: "HY000".into(),
                message: self.0.into(),
            },
            NON_FINITE | UNDECODABLE => ProxyError::NotSupported(self.0.into()),
            _ => ProxyError::WrongArguments("mysqld_stmt_execute"),
        }
    }
}

/// Decodes the parameters of a COM_STMT_EXECUTE body (after stmt id, flags and
/// iteration count). `types` holds the types bound by an earlier execute and is
/// updated when the packet binds new ones. `long_data` are values sent with
/// COM_STMT_SEND_LONG_DATA. `backslash_escapes` follows the session's sql_mode.
pub fn decode_params(
    mut b: &[u8],
    n: usize,
    types: &mut Vec<(u8, bool)>,
    long_data: &mut [Option<Vec<u8>>],
    lit: Literals,
) -> Result<Vec<Param>, BadPacket> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let bitmap_len = n.div_ceil(8);
    let nulls = take(&mut b, bitmap_len)?.to_vec();
    let bound = take(&mut b, 1)?[0];
    if bound == 1 {
        types.clear();
        for _ in 0..n {
            let t = take(&mut b, 2)?;
            types.push((t[0], t[1] & 0x80 != 0));
        }
    }
    if types.len() != n {
        return Err(BadPacket("parameter types were never bound"));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if nulls[i / 8] & (1 << (i % 8)) != 0 {
            out.push(Param::null());
            continue;
        }
        let (ty, unsigned) = types[i];
        let mut p = match long_data.get_mut(i).and_then(Option::take) {
            Some(data) => Param::new(string_literal(&data, lit)?, Value::Bytes(data)),
            None => decode_one(&mut b, ty, unsigned, lit)?,
        };
        p.ty = (ty, unsigned);
        out.push(p);
    }
    Ok(out)
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], BadPacket> {
    if b.len() < n {
        return Err(BadPacket("truncated parameter"));
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

fn decode_one(b: &mut &[u8], ty: u8, unsigned: bool, lit: Literals) -> Result<Param, BadPacket> {
    const TINY: u8 = 1;
    const SHORT: u8 = 2;
    const LONG: u8 = 3;
    const FLOAT: u8 = 4;
    const DOUBLE: u8 = 5;
    const NULL: u8 = 6;
    const TIMESTAMP: u8 = 7;
    const LONGLONG: u8 = 8;
    const INT24: u8 = 9;
    const DATE: u8 = 10;
    const TIME: u8 = 11;
    const DATETIME: u8 = 12;
    const YEAR: u8 = 13;
    let int = |v: i64| Param::new(v.to_string(), Value::Int(v));
    let uint = |v: u64| Param::new(v.to_string(), Value::UInt(v));
    Ok(match ty {
        NULL => Param::null(),
        TINY => {
            let v = take(b, 1)?[0];
            if unsigned {
                uint(v as u64)
            } else {
                int(v as i8 as i64)
            }
        }
        SHORT | YEAR => {
            let v = u16::from_le_bytes(take(b, 2)?.try_into().expect("2"));
            if unsigned {
                uint(v as u64)
            } else {
                int(v as i16 as i64)
            }
        }
        LONG | INT24 => {
            let v = u32::from_le_bytes(take(b, 4)?.try_into().expect("4"));
            if unsigned {
                uint(v as u64)
            } else {
                int(v as i32 as i64)
            }
        }
        LONGLONG => {
            let v = u64::from_le_bytes(take(b, 8)?.try_into().expect("8"));
            if unsigned {
                uint(v)
            } else {
                int(v as i64)
            }
        }
        FLOAT => {
            let f = f32::from_le_bytes(take(b, 4)?.try_into().expect("4"));
            Param::new(float_literal(f as f64)?, Value::Float(f))
        }
        DOUBLE => {
            let f = f64::from_le_bytes(take(b, 8)?.try_into().expect("8"));
            Param::new(float_literal(f)?, Value::Double(f))
        }
        DATE | DATETIME | TIMESTAMP => {
            let len = take(b, 1)?[0] as usize;
            let d = take(b, len)?;
            let g16 = |i: usize| {
                d.get(i..i + 2)
                    .map(|x| u16::from_le_bytes([x[0], x[1]]))
                    .unwrap_or(0)
            };
            let g8 = |i: usize| d.get(i).copied().unwrap_or(0);
            let us = d
                .get(7..11)
                .map(|x| u32::from_le_bytes(x.try_into().expect("4")))
                .unwrap_or(0);
            let mut s = format!("'{:04}-{:02}-{:02}", g16(0), g8(2), g8(3));
            if ty != DATE || len > 4 {
                s.push_str(&format!(" {:02}:{:02}:{:02}", g8(4), g8(5), g8(6)));
                if us != 0 {
                    s.push_str(&format!(".{us:06}"));
                }
            }
            s.push('\'');
            // A valid DATETIME as a DATETIME literal: typed as the parameter is.
            let (y, mo, d) = (g16(0), g8(2), g8(3));
            if ty != DATE && valid_date(y, mo, d) && g8(4) < 24 && g8(5) < 60 && g8(6) < 60 {
                s.insert_str(0, "TIMESTAMP");
            }
            Param::new(s, Value::Date(y, mo, d, g8(4), g8(5), g8(6), us))
        }
        TIME => {
            let len = take(b, 1)?[0] as usize;
            let d = take(b, len)?;
            if len == 0 {
                Param::new("TIME'00:00:00'".into(), Value::Time(false, 0, 0, 0, 0, 0))
            } else {
                let neg = d.first().copied().unwrap_or(0) == 1;
                let days = d
                    .get(1..5)
                    .map(|x| u32::from_le_bytes(x.try_into().expect("4")))
                    .unwrap_or(0);
                let g8 = |i: usize| d.get(i).copied().unwrap_or(0);
                let us = d
                    .get(8..12)
                    .map(|x| u32::from_le_bytes(x.try_into().expect("4")))
                    .unwrap_or(0);
                let mut s = format!(
                    "'{}{:02}:{:02}:{:02}",
                    if neg { "-" } else { "" },
                    days as u64 * 24 + g8(5) as u64,
                    g8(6),
                    g8(7)
                );
                if us != 0 {
                    s.push_str(&format!(".{us:06}"));
                }
                s.push('\'');
                // Within TIME's range, a TIME literal: typed as the parameter is.
                if (days as u64 * 24 + g8(5) as u64) <= 838 && g8(6) < 60 && g8(7) < 60 {
                    s.insert_str(0, "TIME");
                }
                Param::new(s, Value::Time(neg, days, g8(5), g8(6), g8(7), us))
            }
        }
        // Strings, decimals, blobs, JSON...: length-encoded bytes.
        _ => {
            let (len, used) = get_lenenc_int(b).ok_or(BadPacket("bad length"))?;
            take(b, used)?;
            let v = take(b, len as usize)?;
            Param::new(string_literal(v, lit)?, Value::Bytes(v.to_vec()))
        }
    })
}

/// Whether `y-mo-d` is a calendar date (no zero parts), which a DATE or
/// TIMESTAMP literal accepts under every sql_mode.
fn valid_date(y: u16, mo: u8, d: u8) -> bool {
    let leap = y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400));
    let days = match mo {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=9999).contains(&y) && (1..=days).contains(&d)
}

fn float_literal(f: f64) -> Result<String, BadPacket> {
    if !f.is_finite() {
        return Err(BadPacket(NON_FINITE));
    }
    // Shortest round-trip form; an exponent keeps it a DOUBLE literal in MariaDB.
    Ok(format!("{f:e}"))
}

/// How string parameters become literals in the spliced text: the session's
/// sql_mode (backslash escapes) and character set.
#[derive(Debug, Clone, Copy)]
pub struct Literals {
    pub backslash_escapes: bool,
    pub codec: Codec,
}

/// A string literal for `v` (bytes in the client's character set): quoted text
/// the codec sends back as exactly these bytes; a hex literal when it holds NUL.
pub fn string_literal(v: &[u8], lit: Literals) -> Result<String, BadPacket> {
    let Ok(s) = lit.codec.decode(v) else {
        return Err(BadPacket(UNDECODABLE));
    };
    if s.contains('\0') {
        let mut out = String::with_capacity(v.len() * 2 + 3);
        out.push_str("X'");
        for b in v {
            out.push_str(&format!("{b:02X}"));
        }
        out.push('\'');
        return Ok(out);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if lit.backslash_escapes => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// Splices `params` into `sql` at the `?` placeholders (positions from the lexer).
pub fn substitute(sql: &str, placeholders: &[usize], params: &[Param]) -> String {
    splice(sql, placeholders, params.iter().map(|p| p.literal.as_str()))
}

/// Writes `texts` in place of the `?` placeholders of `sql` (at `placeholders`).
pub fn splice<'t>(
    sql: &str,
    placeholders: &[usize],
    texts: impl IntoIterator<Item = &'t str>,
) -> String {
    let mut out = String::with_capacity(sql.len() + placeholders.len() * 8);
    let mut last = 0;
    for (at, t) in placeholders.iter().zip(texts) {
        out.push_str(&sql[last..*at]);
        out.push_str(t);
        last = at + 1;
    }
    out.push_str(&sql[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTF8_BS: Literals = Literals {
        backslash_escapes: true,
        codec: Codec::Utf8,
    };

    #[test]
    fn decodes_and_substitutes() {
        // 3 params: LONGLONG 42, VAR_STRING "it's", NULL
        let mut b = vec![0b100, 1, 8, 0, 253, 0, 6, 0];
        b.extend_from_slice(&42i64.to_le_bytes());
        b.push(4);
        b.extend_from_slice(b"it's");
        let mut types = Vec::new();
        let mut long = vec![None, None, None];
        let p = decode_params(&b, 3, &mut types, &mut long, UTF8_BS).unwrap();
        let lits: Vec<&str> = p.iter().map(|p| p.literal.as_str()).collect();
        assert_eq!(lits, vec!["42", "'it''s'", "NULL"]);
        assert_eq!(p[0].value, Value::Int(42));
        assert_eq!(p[1].value, Value::Bytes(b"it's".to_vec()));
        assert_eq!(
            substitute("SELECT ?, ?, '?', ?", &[7, 10, 18], &p),
            "SELECT 42, 'it''s', '?', NULL"
        );
        // Types are remembered for the next execute.
        let mut b2 = vec![0, 0];
        b2.extend_from_slice(&7i64.to_le_bytes());
        b2.push(1);
        b2.push(b'x');
        b2.extend_from_slice(&0i64.to_le_bytes());
        let p2 = decode_params(&b2, 3, &mut types, &mut long, UTF8_BS).unwrap();
        assert_eq!(p2[0].literal, "7");
        // ... and stay the parameters' types (what MariaDB types them by).
        assert_eq!((p2[0].ty, p2[1].ty), ((8, false), (253, false)));
    }

    #[test]
    fn temporal_parameters_splice_as_typed_literals() {
        let one = |ty: u8, body: &[u8]| {
            let mut b = vec![0, 1, ty, 0];
            b.extend_from_slice(body);
            let p = decode_params(&b, 1, &mut Vec::new(), &mut [None], UTF8_BS).unwrap();
            (p[0].literal.clone(), p[0].ty)
        };
        // DATETIME 2020-01-02 03:04:05.120000
        let dt = [11, 0xe4, 0x07, 1, 2, 3, 4, 5, 0xc0, 0xd4, 0x01, 0];
        assert_eq!(
            one(12, &dt),
            ("TIMESTAMP'2020-01-02 03:04:05.120000'".into(), (12, false))
        );
        // A zero or impossible date stays a string (a literal would be refused).
        assert_eq!(one(12, &[0]).0, "'0000-00-00 00:00:00'");
        assert_eq!(one(12, &[4, 0xe4, 0x07, 2, 30]).0, "'2020-02-30 00:00:00'");
        assert_eq!(one(10, &[4, 0xe4, 0x07, 2, 29]).0, "'2020-02-29'");
        // TIME -49:00:01, and one past TIME's range.
        assert_eq!(one(11, &[8, 1, 2, 0, 0, 0, 1, 0, 1]).0, "TIME'-49:00:01'");
        assert_eq!(one(11, &[8, 0, 40, 0, 0, 0, 0, 0, 0]).0, "'960:00:00'");
    }

    #[test]
    fn literals() {
        let lit = |bs| Literals {
            backslash_escapes: bs,
            codec: Codec::Utf8,
        };
        assert_eq!(string_literal(b"a\\b", lit(true)).unwrap(), "'a\\\\b'");
        assert_eq!(string_literal(b"a\\b", lit(false)).unwrap(), "'a\\b'");
        assert_eq!(string_literal(&[0xff, 0], lit(true)).unwrap(), "X'FF00'");
        let latin1 = Literals {
            backslash_escapes: true,
            codec: Codec::Latin1,
        };
        assert_eq!(string_literal(b"caf\xe9", latin1).unwrap(), "'caf\u{e9}'");
        assert_eq!(string_literal(b"\xff", lit(true)).unwrap(), "'\u{10FFFF}'");
        assert_eq!(float_literal(1.5).unwrap(), "1.5e0");
    }

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
