//! A small MySQL lexer: tokens with byte spans into the original text.
//!
//! The gateway never regenerates SQL from an AST (sqlparser's printer changes
//! meaning); where it must change a statement it edits the client's text at token
//! boundaries found here: strip `shardkey=...`, split a multi-row `INSERT`, find
//! statement boundaries of a multi-statement query, and (later) fingerprint a
//! statement for the plan cache.
//!
//! What the gateway reads through the tokens (clause words, statement boundaries,
//! identifiers, string values) is [`super::scan`], and what a token is
//! [`super::token`]; both re-exported here.

pub use super::scan::{
    clause_words, ident_text, qualified_name_at, quote_ident, significant, split_statements,
    string_value, top_level_words,
};
pub use super::token::{Kind, Token};

/// Lexing failed: an unterminated string, identifier or comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub at: usize,
    pub what: &'static str,
}

/// Splits `sql` into tokens (trivia included, so spans cover the whole text).
pub fn tokenize(sql: &str) -> Result<Vec<Token>, LexError> {
    tokenize_mode(sql, true)
}

/// Whether `sql`, read as under NO_BACKSLASH_ESCAPES, has a string literal with a
/// backslash in it: its meaning then differs from what the gateway's own reading
/// (with escapes) makes of it, for its token boundaries or its value.
pub fn has_backslash_literal(sql: &str) -> Result<bool, LexError> {
    if !sql.as_bytes().contains(&b'\\') {
        return Ok(false);
    }
    Ok(tokenize_mode(sql, false)?
        .iter()
        .any(|t| t.kind == Kind::String && sql.as_bytes()[t.start..t.end].contains(&b'\\')))
}

/// Under sql_mode ANSI_QUOTES a `"double-quoted"` token is an identifier: `sql` with
/// each one written as the same `backtick` identifier, which means the same in every
/// mode, so the rest of the gateway reads it as MariaDB does. `None`: none in `sql`.
pub fn ansi_quotes_as_backticks(sql: &str) -> Result<Option<String>, LexError> {
    if !sql.as_bytes().contains(&b'"') {
        return Ok(None);
    }
    let tokens = tokenize_mode(sql, false)?;
    let mut out = String::with_capacity(sql.len() + 8);
    let mut at = 0;
    let mut changed = false;
    for t in tokens
        .iter()
        .filter(|t| t.kind == Kind::String && sql.as_bytes()[t.start] == b'"')
    {
        let name = sql[t.start + 1..t.end - 1].replace("\"\"", "\"");
        out.push_str(&sql[at..t.start]);
        out.push('`');
        out.push_str(&name.replace('`', "``"));
        out.push('`');
        at = t.end;
        changed = true;
    }
    if !changed {
        return Ok(None);
    }
    out.push_str(&sql[at..]);
    Ok(Some(out))
}

/// [`tokenize`] with `\` escapes in strings on or off (off: sql_mode
/// NO_BACKSLASH_ESCAPES, where `'C:\'` is a whole string).
pub fn tokenize_mode(sql: &str, backslash_escapes: bool) -> Result<Vec<Token>, LexError> {
    let b = sql.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 3);
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        let kind = match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                    i += 1;
                }
                Kind::Space
            }
            b'#' => {
                i = line_end(b, i);
                Kind::Comment
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = line_end(b, i);
                Kind::Comment
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let Some(off) = find(&b[i + 2..], b"*/") else {
                    return Err(LexError {
                        at: i,
                        what: "unterminated comment",
                    });
                };
                i += 2 + off + 2;
                Kind::Comment
            }
            b'\'' | b'"' => {
                i = quoted_end(b, i, c, backslash_escapes).ok_or(LexError {
                    at: i,
                    what: "unterminated string",
                })?;
                Kind::String
            }
            b'`' => {
                i = quoted_end(b, i, b'`', false).ok_or(LexError {
                    at: i,
                    what: "unterminated quoted identifier",
                })?;
                Kind::QuotedIdent
            }
            b'?' => {
                i += 1;
                Kind::Placeholder
            }
            b'@' => {
                i += 1;
                if b.get(i) == Some(&b'@') {
                    i += 1;
                }
                match b.get(i) {
                    Some(&q @ (b'\'' | b'"' | b'`')) => {
                        i = quoted_end(b, i, q, q != b'`' && backslash_escapes).ok_or(
                            LexError {
                                at: i,
                                what: "unterminated variable name",
                            },
                        )?;
                    }
                    _ => {
                        while i < b.len() && (is_ident(b[i]) || b[i] == b'.') {
                            i += 1;
                        }
                    }
                }
                Kind::Variable
            }
            b'0'..=b'9' => {
                i = number_end(b, i);
                // `1abc` is an identifier in MySQL.
                if i < b.len() && is_ident(b[i]) && !b[start..i].contains(&b'.') {
                    while i < b.len() && is_ident(b[i]) {
                        i += 1;
                    }
                    Kind::Word
                } else {
                    Kind::Number
                }
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !out
                    .last()
                    .is_some_and(|t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent)) =>
            {
                i = number_end(b, i);
                Kind::Number
            }
            b'x' | b'X' | b'b' | b'B' if b.get(i + 1) == Some(&b'\'') => {
                i = quoted_end(b, i + 1, b'\'', false).ok_or(LexError {
                    at: i,
                    what: "unterminated literal",
                })?;
                Kind::Number
            }
            c if is_ident(c) => {
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                Kind::Word
            }
            _ => {
                i += punct_len(&b[i..]);
                Kind::Punct
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Ok(out)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// End (exclusive) of a quoted token starting at `i` with quote `q`; a doubled quote
/// is an escaped quote; `backslash` enables `\` escapes.
fn quoted_end(b: &[u8], mut i: usize, q: u8, backslash: bool) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            c if c == q => {
                if b.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn number_end(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
        let hex = matches!(b[i + 1], b'x' | b'X');
        let mut j = i + 2;
        while j < b.len()
            && (if hex {
                b[j].is_ascii_hexdigit()
            } else {
                b[j] == b'0' || b[j] == b'1'
            })
        {
            j += 1;
        }
        if j > i + 2 {
            return j;
        }
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

fn punct_len(b: &[u8]) -> usize {
    const THREE: [&[u8]; 1] = [b"<=>"];
    const TWO: [&[u8]; 9] = [
        b"<=", b">=", b"<>", b"!=", b":=", b"||", b"&&", b"<<", b">>",
    ];
    if THREE.iter().any(|p| b.starts_with(p)) {
        return 3;
    }
    if TWO.iter().any(|p| b.starts_with(p)) {
        return 2;
    }
    // One whole UTF-8 character, so spans stay on char boundaries.
    match b[0] {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xff => 4,
        _ => 1,
    }
    .min(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        tokenize(sql)
            .unwrap()
            .into_iter()
            .filter(|t| !t.is_trivia())
            .map(|t| (t.kind, t.text(sql)))
            .collect()
    }

    #[test]
    fn basic_tokens() {
        use Kind::*;
        assert_eq!(
            kinds("SELECT a, `b``c` FROM t WHERE x='it''s' AND y = -1.5e3 AND z<=>? -- c"),
            vec![
                (Word, "SELECT"),
                (Word, "a"),
                (Punct, ","),
                (QuotedIdent, "`b``c`"),
                (Word, "FROM"),
                (Word, "t"),
                (Word, "WHERE"),
                (Word, "x"),
                (Punct, "="),
                (String, "'it''s'"),
                (Word, "AND"),
                (Word, "y"),
                (Punct, "="),
                (Punct, "-"),
                (Number, "1.5e3"),
                (Word, "AND"),
                (Word, "z"),
                (Punct, "<=>"),
                (Placeholder, "?"),
            ]
        );
    }

    #[test]
    fn comments_variables_literals() {
        use Kind::*;
        assert_eq!(
            kinds("/*! 40101 x */ SET @a:=0x1F, @@session.sql_mode = X'0a' # end"),
            vec![
                (Word, "SET"),
                (Variable, "@a"),
                (Punct, ":="),
                (Number, "0x1F"),
                (Punct, ","),
                (Variable, "@@session.sql_mode"),
                (Punct, "="),
                (Number, "X'0a'"),
            ]
        );
        assert_eq!(
            kinds("t.col"),
            vec![(Word, "t"), (Punct, "."), (Word, "col")]
        );
        assert_eq!(
            kinds("a--b"),
            vec![(Word, "a"), (Punct, "-"), (Punct, "-"), (Word, "b")]
        );
    }

    #[test]
    fn unterminated() {
        assert!(tokenize("SELECT 'abc").is_err());
        assert!(tokenize("SELECT /* x").is_err());
        assert!(tokenize("SELECT 'a\\'b'").is_ok());
        let q = |s| ansi_quotes_as_backticks(s).unwrap();
        assert_eq!(
            q(r#"SELECT "a""b", 'x"y', `c` FROM "t" -- "z""#).as_deref(),
            Some(r#"SELECT `a"b`, 'x"y', `c` FROM `t` -- "z""#)
        );
        assert_eq!(q(r#"SELECT 'say "hi"'"#), None);
        assert_eq!(q(r#"SELECT "x`y""#).as_deref(), Some("SELECT `x``y`"));
        // NO_BACKSLASH_ESCAPES: the backslash is an ordinary character.
        assert!(tokenize_mode("SELECT 'a\\'b'", false).is_err());
        let t = tokenize_mode("SELECT 'C:\\', 1", false).unwrap();
        assert_eq!(t[2].kind, Kind::String);
        assert_eq!(&"SELECT 'C:\\', 1"[t[2].start..t[2].end], "'C:\\'");
    }

    #[test]
    fn splits_statements() {
        let sql = "SELECT 1; SELECT ';' ;; -- x\n SELECT 2";
        let toks = tokenize(sql).unwrap();
        let parts: Vec<_> = split_statements(sql, &toks)
            .into_iter()
            .map(|(s, e)| sql[s..e].trim())
            .collect();
        assert_eq!(parts, vec!["SELECT 1", "SELECT ';'", "-- x\n SELECT 2"]);
        // A stored program's body is one statement.
        let sql = "CREATE PROCEDURE p() BEGIN DECLARE x INT; IF 1 THEN SET x = CASE WHEN 1 THEN 2 END; \
                   END IF; CASE x WHEN 1 THEN SELECT 1; END CASE; BEGIN SELECT 2; END; END; SELECT 3; \
                   BEGIN; SELECT 4";
        let toks = tokenize(sql).unwrap();
        let parts: Vec<_> = split_statements(sql, &toks)
            .into_iter()
            .map(|(s, e)| sql[s..e].trim())
            .collect();
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert!(parts[0].ends_with("SELECT 2; END; END"));
        assert_eq!(&parts[1..], ["SELECT 3", "BEGIN", "SELECT 4"]);
    }

    #[test]
    fn string_values() {
        let sql = r"'a''b\n\\c'";
        let t = tokenize(sql).unwrap()[0];
        assert_eq!(string_value(sql, &t), "a'b\n\\c");
    }

    #[test]
    fn unicode_is_safe() {
        let sql = "SELECT '日本' , ü , 日";
        let toks = tokenize(sql).unwrap();
        for t in toks {
            let _ = t.text(sql);
        }
    }
}
