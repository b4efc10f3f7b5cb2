//! The session's side of the client's character set: which codec follows from a
//! `SET` (asked of the backend, which knows what `SET NAMES`, `SET CHARACTER SET`
//! or `SET character_set_client = @saved` leave), and `SET` texts made portable —
//! session state is replayed on new backend connections as `String`s (mysql_async
//! sends them as UTF-8), so a `SET` whose bytes are not its UTF-8 text gets its
//! string literals as hex literals with the client's character set.

use mysql_async::prelude::Queryable;

use crate::backend::Conn;
use crate::error::ProxyError;
use crate::front::charset::Codec;
use crate::sql::lexer::{tokenize, Kind};

/// Whether assignments (keys from `vars::parse_set`) may change character_set_client.
pub(super) fn changes_client_charset(assignments: &[(String, String)]) -> bool {
    assignments
        .iter()
        .any(|(k, _)| k == "names" || k.contains("character_set_client"))
}

/// Variables a `SET NAMES` / `SET CHARACTER SET` among `assignments` overrides:
/// forgotten, so replaying the session state cannot set them again after it.
pub(super) fn superseded(assignments: &[(String, String)]) -> &'static [&'static str] {
    if assignments.iter().any(|(k, _)| k == "names") {
        &[
            "character_set_client",
            "character_set_connection",
            "character_set_results",
            "collation_connection",
        ]
    } else {
        &[]
    }
}

/// The codec of the character_set_client `conn` has.
pub(super) async fn client_codec(conn: &mut Conn, set: &str) -> Result<Codec, ProxyError> {
    let cs: Option<String> = conn
        .query_first("SELECT @@character_set_client")
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    Ok(Codec::for_charset(cs.as_deref().unwrap_or("utf8mb4")))
}

/// `sql` (a `SET`) with each string literal whose bytes are not its UTF-8 text
/// written as `_latin1 X'..'` (after an introducer: `X'..'`); `None` when the
/// text is sent as its UTF-8 anyway. Other non-UTF-8 text (names) is refused.
pub(super) fn portable_set(
    sql: &str,
    codec: Codec,
    backslash_escapes: bool,
) -> Result<Option<String>, ProxyError> {
    if codec.is_identity(sql) {
        return Ok(None);
    }
    let tokens = tokenize(sql)
        .map_err(|e| ProxyError::Syntax(format!("{} near position {}", e.what, e.at)))?;
    let mut out = String::with_capacity(sql.len() * 2);
    let mut last = 0;
    let mut prev_word: Option<&str> = None;
    for t in &tokens {
        let text = t.text(sql);
        if t.kind == Kind::String && !codec.is_identity(text) {
            let bytes = codec.wire(text);
            let value = unquote(&bytes, backslash_escapes);
            let introduced = prev_word.is_some_and(|w| w.starts_with('_'));
            let charset = match codec {
                Codec::Latin1 => "latin1",
                // Bytes that are not UTF-8 on a UTF-8 connection: only with an
                // introducer do they mean something definite.
                _ if introduced => "",
                _ => {
                    return Err(ProxyError::NotSupported(
                        "a SET with a string that is not valid UTF-8 on a UTF-8 connection \
                         (use an introducer such as _binary, or a hex literal)"
                            .into(),
                    ))
                }
            };
            out.push_str(&sql[last..t.start]);
            if introduced {
                // `_binary'..'` may have no space: `_binaryX'..'` would be a name.
                if !sql[..t.start].ends_with(char::is_whitespace) {
                    out.push(' ');
                }
            } else {
                out.push('_');
                out.push_str(charset);
                out.push(' ');
            }
            out.push_str("X'");
            for b in value {
                out.push_str(&format!("{b:02X}"));
            }
            out.push('\'');
            last = t.end;
        } else if !codec.is_identity(text) {
            if t.kind == Kind::Comment && !text.starts_with("/*!") {
                out.push_str(&sql[last..t.start]);
                out.push(' ');
                last = t.end;
            } else {
                return Err(ProxyError::NotSupported(
                    "non-ASCII names in a SET on a connection whose character set is not UTF-8"
                        .into(),
                ));
            }
        }
        if t.kind == Kind::Word {
            prev_word = Some(text);
        } else if !t.is_trivia() {
            prev_word = None;
        }
    }
    out.push_str(&sql[last..]);
    Ok(Some(out))
}

/// The bytes of a quoted string literal (quotes removed, escapes applied).
fn unquote(lit: &[u8], backslash_escapes: bool) -> Vec<u8> {
    let q = lit[0];
    let inner = &lit[1..lit.len() - 1];
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        if c == b'\\' && backslash_escapes && i + 1 < inner.len() {
            out.push(match inner[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'b' => 8,
                b'Z' => 0x1a,
                o => o,
            });
            i += 2;
        } else if c == q && inner.get(i + 1) == Some(&q) {
            out.push(q);
            i += 2;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_set_texts() {
        let latin1 = |b: &[u8]| Codec::Latin1.decode(b).unwrap().into_owned();
        assert_eq!(
            portable_set("SET @a = 'abc'", Codec::Latin1, true).unwrap(),
            None
        );
        let sql = latin1(b"SET @a = 'caf\xe9', @b = _binary 'it''s\\\\\xff'");
        assert_eq!(
            portable_set(&sql, Codec::Latin1, true).unwrap().unwrap(),
            "SET @a = _latin1 X'636166E9', @b = _binary X'697427735CFF'"
        );
        let sql = latin1(b"SET @caf\xe9 = 1");
        assert!(portable_set(&sql, Codec::Latin1, true).is_err());
        let sql = Codec::Utf8.decode(b"SET @b = _binary'\x80'").unwrap();
        assert_eq!(
            portable_set(&sql, Codec::Utf8, true).unwrap().unwrap(),
            "SET @b = _binary X'80'"
        );
        assert_eq!(
            portable_set("SET @a = 'café'", Codec::Utf8, true).unwrap(),
            None
        );
    }
}
