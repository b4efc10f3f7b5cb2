//! COM_STMT_EXECUTE parameters: decoded from the packet ([`decode_params`]),
//! rendered as SQL literals in the session's character set and escaping
//! ([`Literals`]), and spliced into the statement's text at its `?`
//! ([`substitute`], [`splice`]); a packet the gateway cannot read is a
//! [`BadPacket`] with MariaDB's error.

use mysql_common::value::Value;

use super::charset::Codec;
use super::wire::get_lenenc_int;

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
}
