//! The application's `XA` statements, read into a typed command: `XA {START|BEGIN}
//! xid [JOIN|RESUME]`, `XA END xid [SUSPEND [FOR MIGRATE]]`, `XA PREPARE xid`,
//! `XA COMMIT xid [ONE PHASE]`, `XA ROLLBACK xid`, `XA RECOVER`.
//!
//! An xid is `gtrid [, bqual [, formatID]]`: strings (`'...'`, `X'...'`, `0x...`)
//! and an integer, as MariaDB takes them.

use super::lexer::{string_value, Kind, Token};

/// A transaction id as MariaDB compares it: its three parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Xid {
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
    pub format: i64,
}

impl Xid {
    /// A key naming this xid (hex parts), for records and maps.
    pub fn key(&self) -> String {
        format!(
            "{}.{}.{}",
            self.format,
            hex(&self.gtrid),
            if self.bqual.is_empty() {
                "_".to_string()
            } else {
                hex(&self.bqual)
            }
        )
    }

    /// The xid back from [`key`](Self::key).
    pub fn from_key(key: &str) -> Option<Xid> {
        let mut parts = key.splitn(3, '.');
        let format = parts.next()?.parse().ok()?;
        let gtrid = unhex(parts.next()?)?;
        let bqual = match parts.next()? {
            "_" => Vec::new(),
            b => unhex(b)?,
        };
        Some(Xid {
            gtrid,
            bqual,
            format,
        })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One application XA statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XaCommand {
    Start(Xid),
    End(Xid),
    Prepare(Xid),
    Commit { xid: Xid, one_phase: bool },
    Rollback(Xid),
    Recover,
}

/// Reads `XA ...` (`sig`: significant tokens of `sql`). `None`: not an XA
/// statement this reader knows (MariaDB's own error is the answer then).
pub fn parse(sql: &str, sig: &[Token]) -> Option<XaCommand> {
    if !sig.first()?.is_word(sql, "XA") {
        return None;
    }
    let verb = sig.get(1)?;
    let word = |i: usize| {
        sig.get(i)
            .filter(|t| t.kind == Kind::Word)
            .map(|t| t.text(sql).to_ascii_uppercase())
    };
    let end_ok = |i: usize| i >= sig.len() || (i + 1 == sig.len() && sig[i].is_punct(sql, ";"));
    if verb.is_word(sql, "RECOVER") {
        return end_ok(2).then_some(XaCommand::Recover);
    }
    let (xid, mut i) = xid_at(sql, sig, 2)?;
    let cmd = match verb.text(sql).to_ascii_uppercase().as_str() {
        "START" | "BEGIN" => {
            if matches!(word(i).as_deref(), Some("JOIN" | "RESUME")) {
                // Not supported by MariaDB either (1399 / syntax): leave it to MariaDB.
                return None;
            }
            XaCommand::Start(xid)
        }
        "END" => {
            if word(i).as_deref() == Some("SUSPEND") {
                return None;
            }
            XaCommand::End(xid)
        }
        "PREPARE" => XaCommand::Prepare(xid),
        "COMMIT" => {
            let one_phase =
                word(i).as_deref() == Some("ONE") && word(i + 1).as_deref() == Some("PHASE");
            if one_phase {
                i += 2;
            }
            XaCommand::Commit { xid, one_phase }
        }
        "ROLLBACK" => XaCommand::Rollback(xid),
        _ => return None,
    };
    end_ok(i).then_some(cmd)
}

/// An xid starting at `sig[i]`, and the index after it.
fn xid_at(sql: &str, sig: &[Token], i: usize) -> Option<(Xid, usize)> {
    let gtrid = bytes(sql, sig.get(i)?)?;
    let mut xid = Xid {
        gtrid,
        bqual: Vec::new(),
        format: 1,
    };
    let mut i = i + 1;
    if sig.get(i).is_some_and(|t| t.is_punct(sql, ",")) {
        xid.bqual = bytes(sql, sig.get(i + 1)?)?;
        i += 2;
        if sig.get(i).is_some_and(|t| t.is_punct(sql, ",")) {
            let t = sig.get(i + 1)?;
            if t.kind != Kind::Number {
                return None;
            }
            xid.format = t.text(sql).parse().ok()?;
            i += 2;
        }
    }
    if xid.gtrid.is_empty() || xid.gtrid.len() > 64 || xid.bqual.len() > 64 {
        return None;
    }
    Some((xid, i))
}

/// The bytes of a string literal: `'text'`, `X'hex'`, `0xhex`.
fn bytes(sql: &str, t: &Token) -> Option<Vec<u8>> {
    match t.kind {
        Kind::String => Some(string_value(sql, t).into_bytes()),
        Kind::Number => {
            let s = t.text(sql);
            let hex = if let Some(h) = s.strip_prefix("0x") {
                h.to_string()
            } else if s.len() >= 3 && (s.starts_with("X'") || s.starts_with("x'")) {
                s[2..s.len() - 1].to_string()
            } else {
                return None;
            };
            if !hex.len().is_multiple_of(2) {
                return None;
            }
            unhex(&hex)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn p(sql: &str) -> Option<XaCommand> {
        let t = tokenize(sql).unwrap();
        parse(sql, &significant(&t))
    }

    fn x(g: &[u8], b: &[u8], f: i64) -> Xid {
        Xid {
            gtrid: g.to_vec(),
            bqual: b.to_vec(),
            format: f,
        }
    }

    #[test]
    fn statements() {
        assert_eq!(p("XA START 'a'"), Some(XaCommand::Start(x(b"a", b"", 1))));
        assert_eq!(
            p("xa begin 'g1', 'b1', 7"),
            Some(XaCommand::Start(x(b"g1", b"b1", 7)))
        );
        assert_eq!(
            p("XA END X'0102','q'"),
            Some(XaCommand::End(x(&[1, 2], b"q", 1)))
        );
        assert_eq!(
            p("XA COMMIT 'a' ONE PHASE"),
            Some(XaCommand::Commit {
                xid: x(b"a", b"", 1),
                one_phase: true
            })
        );
        assert_eq!(
            p("XA COMMIT 0x6162"),
            Some(XaCommand::Commit {
                xid: x(b"ab", b"", 1),
                one_phase: false
            })
        );
        assert_eq!(
            p("XA ROLLBACK 'it''s'"),
            Some(XaCommand::Rollback(x(b"it's", b"", 1)))
        );
        assert_eq!(p("XA RECOVER"), Some(XaCommand::Recover));
        assert_eq!(p("XA RECOVER CONVERT XID"), None);
        assert_eq!(p("XA START 'a' JOIN"), None);
        assert_eq!(p("XA COMMIT 'a' TWO PHASE"), None);
        assert_eq!(p("XA START"), None);
    }

    #[test]
    fn keys_round_trip() {
        for xid in [x(b"a", b"", 1), x(&[0, 255], b"b-c", -3)] {
            assert_eq!(Xid::from_key(&xid.key()), Some(xid.clone()));
        }
    }
}
