//! The client's text encoding: statements arrive as bytes in the connection's
//! `character_set_client`, and the gateway plans on `&str`. A [`Codec`] turns
//! the client's bytes into a `String` that is lossless — [`Codec::wire`] gives
//! back exactly the bytes the client sent, which is what goes to the sets — and
//! carries the text's meaning where the gateway needs it (shard-key values,
//! names):
//! - utf8mb4, utf8mb3, ascii, binary: UTF-8 where the bytes are valid UTF-8;
//!   every other byte `b` (`_binary` literals, stray bytes) becomes the
//!   private-use char U+10FF00 + `b` (and so does each byte of a real char in
//!   that range), turned back into `b` on the wire.
//! - latin1: each byte is its character in MariaDB's latin1 (cp1252 with the
//!   five undefined bytes as C1 controls): a bijection of the 256 bytes.
//! - any other character set: ASCII text only (non-ASCII text is refused with
//!   1235 — a multi-byte charset such as gbk or sjis may hide `\` or `'` in a
//!   character's second byte, which the lexer would misread).

use std::borrow::Cow;

use mysql_common::collations::{Collation, CollationId};

use crate::error::ProxyError;

/// How a connection's text is decoded and encoded (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    #[default]
    Utf8,
    Latin1,
    /// A character set the gateway cannot decode: ASCII text only.
    AsciiOnly,
}

/// First of the 128 private-use chars standing for the bytes 0x80..=0xFF.
const ESCAPE_BASE: u32 = 0x10_FF00;

/// MariaDB's latin1 for the bytes 0x80..=0x9F (cp1252; 0x81, 0x8D, 0x8F, 0x90
/// and 0x9D map to the C1 controls of the same value). 0xA0..=0xFF are U+00A0..U+00FF.
const LATIN1_80: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

impl Codec {
    /// The codec of a character set by MariaDB name (`latin1`, `utf8mb4`, ...).
    pub fn for_charset(charset: &str) -> Self {
        match charset.to_ascii_lowercase().as_str() {
            "utf8mb4" | "utf8" | "utf8mb3" | "binary" | "ascii" => Self::Utf8,
            "latin1" => Self::Latin1,
            _ => Self::AsciiOnly,
        }
    }

    /// The codec of a handshake collation id (0 or unknown: the server default).
    pub fn for_collation(id: u8) -> Self {
        let cid = CollationId::from(id as u16);
        if id == 0 || cid == CollationId::UNKNOWN_COLLATION_ID {
            return Self::Utf8;
        }
        Self::for_charset(Collation::from(cid).charset())
    }

    /// The client's bytes as text; refused only for non-ASCII text in a character
    /// set the gateway cannot decode.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> Result<Cow<'a, str>, ProxyError> {
        if bytes.is_ascii() {
            return Ok(Cow::Borrowed(std::str::from_utf8(bytes).expect("ASCII")));
        }
        match self {
            Self::Utf8 => Ok(decode_utf8(bytes)),
            Self::Latin1 => Ok(Cow::Owned(bytes.iter().map(|&b| latin1_char(b)).collect())),
            Self::AsciiOnly => Err(ProxyError::NotSupported(
                "non-ASCII text on a connection whose character set is not utf8mb4, utf8mb3, \
                 latin1, ascii or binary (use SET NAMES utf8mb4)"
                    .into(),
            )),
        }
    }

    /// The bytes to send for `text` (the client's own bytes for decoded text).
    /// A char latin1 cannot hold (only in text the gateway made) is sent as `?`,
    /// as MariaDB converts it.
    pub fn wire<'a>(&self, text: &'a str) -> Cow<'a, [u8]> {
        match self {
            Self::Utf8 if !text.as_bytes().contains(&0xF4) => Cow::Borrowed(text.as_bytes()),
            Self::Utf8 => {
                let mut out = Vec::with_capacity(text.len());
                let mut buf = [0u8; 4];
                for c in text.chars() {
                    match escaped_byte(c) {
                        Some(b) => out.push(b),
                        None => out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes()),
                    }
                }
                Cow::Owned(out)
            }
            Self::Latin1 if text.is_ascii() => Cow::Borrowed(text.as_bytes()),
            Self::Latin1 => Cow::Owned(text.chars().map(latin1_byte).collect()),
            Self::AsciiOnly => Cow::Borrowed(text.as_bytes()),
        }
    }

    /// Whether [`wire`](Self::wire) sends `text` as its UTF-8 bytes.
    pub fn is_identity(&self, text: &str) -> bool {
        matches!(self.wire(text), Cow::Borrowed(_))
    }
}

/// UTF-8 where valid; other bytes (and the bytes of chars in the escape range)
/// as escape chars.
fn decode_utf8(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.chars().any(|c| escaped_byte(c).is_some()) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if escaped_byte(c).is_some() {
                let mut buf = [0u8; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    out.push(escape(b));
                }
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            out.push(escape(b));
        }
    }
    Cow::Owned(out)
}

fn escape(b: u8) -> char {
    char::from_u32(ESCAPE_BASE + b as u32).expect("a valid char")
}

fn escaped_byte(c: char) -> Option<u8> {
    let v = c as u32;
    (ESCAPE_BASE + 0x80..=ESCAPE_BASE + 0xFF)
        .contains(&v)
        .then(|| (v - ESCAPE_BASE) as u8)
}

fn latin1_char(b: u8) -> char {
    match b {
        0x80..=0x9F => LATIN1_80[(b - 0x80) as usize],
        _ => b as char,
    }
}

fn latin1_byte(c: char) -> u8 {
    let v = c as u32;
    if v < 0x80 || (0xA0..=0xFF).contains(&v) {
        return v as u8;
    }
    LATIN1_80
        .iter()
        .position(|&x| x == c)
        .map_or(b'?', |i| 0x80 + i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_a_bijection() {
        let all: Vec<u8> = (0..=255u8).collect();
        let text = Codec::Latin1.decode(&all).unwrap();
        assert_eq!(text.chars().count(), 256);
        assert_eq!(&*Codec::Latin1.wire(&text), &all[..]);
        assert_eq!(
            Codec::Latin1.decode(b"caf\xe9 \x80").unwrap(),
            "caf\u{e9} \u{20ac}"
        );
    }

    #[test]
    fn utf8_keeps_any_bytes() {
        assert!(matches!(
            Codec::Utf8.decode("café".as_bytes()).unwrap(),
            Cow::Borrowed(_)
        ));
        for bytes in [
            &b"SELECT _binary'\x80\xff\xc3'"[..],
            "x\u{10FF80}y\u{10FFFF}é".as_bytes(),
            b"\xf4\x8f\xbe",
            b"caf\xe9",
        ] {
            let text = Codec::Utf8.decode(bytes).unwrap();
            assert_eq!(&*Codec::Utf8.wire(&text), bytes, "{text:?}");
        }
        let t = Codec::Utf8.decode(b"'\x80' 'caf\xc3\xa9'").unwrap();
        assert!(t.ends_with("'café'"));
    }

    #[test]
    fn ascii_only_refuses_other_text() {
        assert_eq!(Codec::AsciiOnly.decode(b"SELECT 1").unwrap(), "SELECT 1");
        assert!(Codec::AsciiOnly.decode(b"SELECT '\x95\x5c'").is_err());
    }

    #[test]
    fn by_name_and_collation() {
        assert_eq!(Codec::for_collation(8), Codec::Latin1);
        assert_eq!(Codec::for_collation(45), Codec::Utf8);
        assert_eq!(Codec::for_collation(63), Codec::Utf8);
        assert_eq!(Codec::for_collation(28), Codec::AsciiOnly);
        assert_eq!(Codec::for_charset("LATIN1"), Codec::Latin1);
        assert_eq!(Codec::for_charset("cp1251"), Codec::AsciiOnly);
    }
}
