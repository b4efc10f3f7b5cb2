//! Positions in a statement's text: sqlparser's line/column locations turned
//! into byte offsets of the client's text, and the significant tokens (the
//! gateway's own lexer) around them, so edits land at exact places.

use sqlparser::tokenizer::{Location, Span};

pub use crate::sql::lexer::quote_ident as quote;
use crate::sql::lexer::{significant, Token};

/// A statement's text with what is needed to find places in it.
pub struct Text<'a> {
    pub sql: &'a str,
    /// Byte offset of the start of each line (line 1 first).
    lines: Vec<usize>,
    /// Tokens that are not whitespace or comments, in order.
    pub sig: Vec<Token>,
}

impl<'a> Text<'a> {
    pub fn new(sql: &'a str, tokens: &[Token]) -> Self {
        let mut lines = vec![0];
        lines.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            sql,
            lines,
            sig: significant(tokens),
        }
    }

    /// The byte offset of a location (lines and columns counted from 1, columns
    /// in characters, as sqlparser's tokenizer counts them).
    pub fn offset(&self, loc: Location) -> Option<usize> {
        if loc.line == 0 || loc.column == 0 {
            return None;
        }
        let start = *self.lines.get(loc.line as usize - 1)?;
        let line = &self.sql[start..];
        let col = loc.column as usize - 1;
        match line.char_indices().nth(col) {
            Some((i, _)) => Some(start + i),
            // Just past the end of the text.
            None if line.chars().count() == col => Some(self.sql.len()),
            None => None,
        }
    }

    /// A span as a byte range (its end is the position after its last character).
    pub fn range(&self, span: Span) -> Option<(usize, usize)> {
        let (s, e) = (self.offset(span.start)?, self.offset(span.end)?);
        (s < e).then_some((s, e))
    }

    /// Index in `sig` of the first token starting at or after `pos`.
    pub fn sig_at(&self, pos: usize) -> usize {
        self.sig.partition_point(|t| t.start < pos)
    }

    /// Index of the `)` matching the `(` at `sig[open]`.
    pub fn close_of(&self, open: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (i, t) in self.sig.iter().enumerate().skip(open) {
            if t.is_punct(self.sql, "(") {
                depth += 1;
            } else if t.is_punct(self.sql, ")") {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
        }
        None
    }

    /// From `sig[from]` on, at the nesting depth of `sig[from]`: the index of the
    /// first word among `words` (or `;`), or of the token closing the enclosing
    /// parenthesis; `sig.len()` at the end of the text. Clause words only: `ON`
    /// counts before `DUPLICATE`, `FOR` before `UPDATE`, no word after `FOR` (an
    /// index hint's `FOR ORDER BY`, `FOR SYSTEM_TIME`) or before `(` (`LEFT(`);
    /// `","` in `words` matches a comma.
    pub fn find_top(&self, from: usize, words: &[&str]) -> usize {
        let sql = self.sql;
        let next_is = |i: usize, w: &str| self.sig.get(i + 1).is_some_and(|n| n.is_word(sql, w));
        let clause = |i: usize, t: &Token| {
            if t.is_punct(sql, ",") {
                return words.contains(&",");
            }
            let Some(w) = words.iter().find(|w| t.is_word(sql, w)) else {
                return false;
            };
            // `LEFT(...)`, `RIGHT(...)`: functions.
            if (w.eq_ignore_ascii_case("LEFT") || w.eq_ignore_ascii_case("RIGHT"))
                && self.sig.get(i + 1).is_some_and(|n| n.is_punct(sql, "("))
            {
                return false;
            }
            if i > 0 && self.sig[i - 1].is_word(sql, "FOR") {
                return false;
            }
            match w.to_ascii_uppercase().as_str() {
                "ON" => next_is(i, "DUPLICATE"),
                "FOR" => next_is(i, "UPDATE"),
                _ => true,
            }
        };
        let mut depth = 0usize;
        for (i, t) in self.sig.iter().enumerate().skip(from) {
            if t.is_punct(sql, "(") {
                depth += 1;
            } else if t.is_punct(sql, ")") {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
            } else if depth == 0 && (t.is_punct(sql, ";") || clause(i, t)) {
                return i;
            }
        }
        self.sig.len()
    }

    /// The end of the significant token before `sig[i]` (the place to append to
    /// what precedes it, before any comment).
    pub fn end_before(&self, i: usize) -> Option<usize> {
        i.checked_sub(1).map(|p| self.sig[p].end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    #[test]
    fn offsets_count_characters() {
        let sql = "SELECT 'é'\n, `ü` FROM t";
        let t = Text::new(sql, &tokenize(sql).unwrap());
        let at = |line, column| t.offset(Location { line, column });
        assert_eq!(at(1, 1), Some(0));
        assert_eq!(at(1, 10), Some(sql.find("'\n").unwrap()));
        assert_eq!(at(2, 3), Some(sql.find('`').unwrap()));
        assert_eq!(at(2, 13), Some(sql.len()));
        assert_eq!(at(3, 1), None);
        assert_eq!(at(0, 0), None);
    }

    #[test]
    fn top_level_words() {
        let sql = "DELETE FROM t WHERE a IN (SELECT b FROM u ORDER BY b LIMIT 1) ORDER BY c";
        let t = Text::new(sql, &tokenize(sql).unwrap());
        let w = t.find_top(0, &["WHERE"]);
        assert_eq!(t.sig[w].start, sql.find("WHERE").unwrap());
        let o = t.find_top(w + 1, &["ORDER", "LIMIT"]);
        assert_eq!(t.sig[o].start, sql.rfind("ORDER").unwrap());
        assert_eq!(t.end_before(o), Some(sql.rfind(')').unwrap() + 1));
    }
}
