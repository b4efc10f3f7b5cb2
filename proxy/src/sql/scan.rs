//! Reading a statement through its tokens ([`super::lexer`]): clause words
//! outside parentheses, the significant tokens, the statement boundaries of a
//! multi-statement text, identifiers (unquoted, quoted, `[db.]name`) and string
//! literals' values.

use super::token::{Kind, Token};

/// The words outside any parentheses among `toks`, upper-cased, with their index in
/// `toks` (clause keywords of a statement: `ORDER`, `LIMIT`, `UNION`, ...).
pub fn top_level_words<'a>(
    sql: &str,
    toks: impl IntoIterator<Item = &'a Token>,
) -> Vec<(usize, String)> {
    let mut depth = 0i32;
    let mut out = Vec::new();
    for (j, t) in toks.into_iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.kind == Kind::Word {
            out.push((j, t.text(sql).to_ascii_uppercase()));
        }
    }
    out
}

/// A statement's significant tokens (no trivia, no `;`) and their words
/// outside any parentheses ([`top_level_words`], indexes into the former).
pub fn clause_words<'t>(sql: &str, tokens: &'t [Token]) -> (Vec<&'t Token>, Vec<(usize, String)>) {
    let sig: Vec<&Token> = tokens
        .iter()
        .filter(|t| !t.is_trivia() && !t.is_punct(sql, ";"))
        .collect();
    let words = top_level_words(sql, sig.iter().copied());
    (sig, words)
}

/// The non-trivia tokens.
pub fn significant(tokens: &[Token]) -> Vec<Token> {
    tokens.iter().copied().filter(|t| !t.is_trivia()).collect()
}

/// Splits a multi-statement text at top-level `;` into statement texts
/// (empty statements dropped). Returns byte ranges into `sql`.
/// The `;` inside the `BEGIN ... END` body of a `CREATE PROCEDURE / FUNCTION /
/// TRIGGER / EVENT` (sent in one piece: DELIMITER is the client's) do not split.
pub fn split_statements(sql: &str, tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let sig = significant(tokens);
    let mut body = CompoundDepth::default();
    for (i, t) in sig.iter().enumerate() {
        if t.is_punct(sql, ";") && body.depth <= 0 {
            push_nonempty(sql, tokens, start, t.start, &mut out);
            start = t.end;
            body = CompoundDepth::default();
            continue;
        }
        body.step(sql, &sig, i);
    }
    push_nonempty(sql, tokens, start, sql.len(), &mut out);
    out
}

/// Nesting of BEGIN ... END (and CASE ... END) in a stored program's body.
#[derive(Default)]
struct CompoundDepth {
    /// Index of the statement's first token, once seen; whether it creates a
    /// stored program.
    program: Option<bool>,
    depth: i32,
    cases: i32,
}

impl CompoundDepth {
    fn step(&mut self, sql: &str, sig: &[Token], i: usize) {
        let program = *self.program.get_or_insert_with(|| {
            sig[i].is_word(sql, "CREATE")
                && sig[i + 1..].iter().take(16).any(|t| {
                    ["PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"]
                        .iter()
                        .any(|w| t.is_word(sql, w))
                })
        });
        if !program || sig[i].kind != Kind::Word {
            return;
        }
        let t = &sig[i];
        let next = |w: &str| sig.get(i + 1).is_some_and(|n| n.is_word(sql, w));
        let prev_end = i > 0 && sig[i - 1].is_word(sql, "END");
        if t.is_word(sql, "BEGIN") {
            self.depth += 1;
        } else if t.is_word(sql, "CASE") && !prev_end {
            self.cases += 1;
        } else if t.is_word(sql, "END") {
            if next("CASE") {
                self.cases -= 1;
            } else if ["IF", "LOOP", "WHILE", "REPEAT", "FOR"]
                .iter()
                .any(|w| next(w))
            {
            } else if self.cases > 0 {
                self.cases -= 1;
            } else {
                self.depth -= 1;
            }
        }
    }
}

fn push_nonempty(sql: &str, tokens: &[Token], s: usize, e: usize, out: &mut Vec<(usize, usize)>) {
    let _ = sql;
    if tokens
        .iter()
        .any(|t| t.start >= s && t.end <= e && !t.is_trivia())
    {
        out.push((s, e));
    }
}

/// The text of an identifier token, unquoted.
pub fn ident_text(sql: &str, t: &Token) -> String {
    let s = t.text(sql);
    match t.kind {
        Kind::QuotedIdent => s[1..s.len() - 1].replace("``", "`"),
        _ => s.to_string(),
    }
}

/// `name` as a backtick-quoted identifier (backticks doubled): the inverse
/// of [`ident_text`].
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A `[db.]name` starting at significant token `sig[i]`: (db, name, tokens used).
pub fn qualified_name_at(
    sql: &str,
    sig: &[Token],
    i: usize,
) -> Option<(Option<String>, String, usize)> {
    let is_name = |t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent);
    let a = sig.get(i).filter(|t| is_name(t))?;
    if sig.get(i + 1).is_some_and(|t| t.is_punct(sql, ".")) {
        let b = sig.get(i + 2).filter(|t| is_name(t))?;
        return Some((Some(ident_text(sql, a)), ident_text(sql, b), 3));
    }
    Some((None, ident_text(sql, a), 1))
}

/// The value of a string literal token, unquoted and unescaped (MySQL rules).
pub fn string_value(sql: &str, t: &Token) -> String {
    let s = t.text(sql);
    let q = s.as_bytes()[0] as char;
    let inner = &s[1..s.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('0') => out.push('\0'),
                Some('b') => out.push('\u{8}'),
                Some('Z') => out.push('\u{1a}'),
                Some(o) => out.push(o),
                None => {}
            }
        } else if c == q && chars.peek() == Some(&q) {
            chars.next();
            out.push(q);
        } else {
            out.push(c);
        }
    }
    out
}
