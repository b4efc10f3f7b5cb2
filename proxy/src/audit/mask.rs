//! What of a statement's text the audit log may show: passwords never
//! (`CREATE USER ... IDENTIFIED BY`, `ALTER USER`, `SET PASSWORD`, `GRANT ...
//! IDENTIFIED BY`, `CHANGE MASTER TO MASTER_PASSWORD`: every string literal of
//! such a statement is replaced by `?`), and optionally no literal at all.

use crate::sql::lexer::{tokenize, Kind, Token};

/// Words that mark a statement as carrying a secret in its literals.
const SECRET_WORDS: &[&str] = &["IDENTIFIED", "PASSWORD", "MASTER_PASSWORD", "OLD_PASSWORD"];

/// Whether `tokens` of `sql` may carry a password.
fn secret(sql: &str, tokens: &[Token]) -> bool {
    tokens
        .iter()
        .any(|t| t.kind == Kind::Word && SECRET_WORDS.iter().any(|w| t.is_word(sql, w)))
}

/// Whether `sql` mentions a word of [`SECRET_WORDS`] anywhere, in any case (a
/// byte scan, no lexing): only such a text can need masking when literals are
/// not masked.
pub fn may_hold_secret(sql: &str) -> bool {
    // Every secret word contains one of these.
    ["IDENTIFIED", "PASSWORD"].iter().any(|w| {
        sql.as_bytes()
            .windows(w.len())
            .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
    })
}

/// The text to log for `sql`: string literals replaced by `?` in a statement
/// that may carry a password, and every number and string literal when
/// `mask_literals`. `None`: not lexable and it mentions a password (nothing of
/// it is logged).
pub fn text(sql: &str, mask_literals: bool) -> Option<String> {
    match tokenize(sql) {
        Ok(t) => Some(text_of(sql, &t, mask_literals)),
        Err(_) => unlexable(sql),
    }
}

/// Text the lexer cannot read: as is, unless it mentions a password.
pub fn unlexable(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    (!SECRET_WORDS
        .iter()
        .any(|w| lower.contains(&w.to_ascii_lowercase())))
    .then(|| sql.to_string())
}

/// [`text`] of a statement already lexed.
pub fn text_of(sql: &str, tokens: &[Token], mask_literals: bool) -> String {
    let strings = mask_literals || secret(sql, tokens);
    if !strings {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for t in tokens {
        let hide = match t.kind {
            Kind::String => true,
            Kind::Number => mask_literals,
            _ => false,
        };
        if hide {
            out.push_str(&sql[at..t.start]);
            out.push('?');
            at = t.end;
        }
    }
    out.push_str(&sql[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn passwords_never_shown() {
        for sql in [
            "CREATE USER 'u'@'%' IDENTIFIED BY 's3cret'",
            "ALTER USER u IDENTIFIED BY \"s3cret\"",
            "SET PASSWORD FOR u = PASSWORD('s3cret')",
            "set password = 's3cret'",
            "GRANT ALL ON *.* TO u IDENTIFIED BY 's3cret'",
            "CREATE USER u IDENTIFIED VIA mysql_native_password USING PASSWORD('s3cret')",
            "CHANGE MASTER TO MASTER_PASSWORD='s3cret'",
        ] {
            let t = text(sql, false).unwrap();
            assert!(!t.contains("s3cret"), "{t}");
        }
        assert_eq!(text("SET PASSWORD = 'unterminated", false), None);
    }

    #[test]
    fn literals_masked_on_request() {
        assert_eq!(
            text("SELECT * FROM t WHERE a = 5 AND b = 'x'", false).unwrap(),
            "SELECT * FROM t WHERE a = 5 AND b = 'x'"
        );
        assert_eq!(
            text("SELECT * FROM t WHERE a = 5 AND b = 'x'", true).unwrap(),
            "SELECT * FROM t WHERE a = ? AND b = ?"
        );
    }
}
