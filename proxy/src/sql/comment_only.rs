//! Statements of a text that are only comments (`/* x */`, `# x`, a skipped
//! `/*!99999 ... */`, an empty `/*! */`), answered as MariaDB answers them: the
//! last statement of a text that is only comments gets an OK (MariaDB's parser
//! saw a comment, so the query was not empty); one followed by `;` and more is a
//! syntax error near that `;`, after the statements before it ran. A text with
//! no statement and no comment is `1065 Query was empty` (the caller's).

use super::lexer::{Kind, Token};

/// One statement of a text, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// A statement to run: its byte range.
    Run(usize, usize),
    /// Only comments, at the end of the text: an OK.
    Comments,
    /// Only comments, then `;` at this byte: a syntax error near it (the last piece).
    Near(usize),
}

/// The pieces of `sql` given its statements `parts` (from
/// [`super::lexer::split_statements`]); empty when there is nothing to answer
/// but 1065.
pub fn pieces(sql: &str, tokens: &[Token], parts: &[(usize, usize)]) -> Vec<Piece> {
    let mut out = Vec::with_capacity(parts.len());
    let mut at = 0;
    let end = (sql.len(), sql.len());
    for (i, &(s, e)) in parts.iter().chain(std::iter::once(&end)).enumerate() {
        let last = i == parts.len();
        // Between statements: `;` separators and pieces of nothing or comments.
        let mut from = at;
        let mut comment = false;
        for t in tokens.iter().filter(|t| t.start >= at && t.end <= s) {
            if t.kind == Kind::Punct && t.text(sql) == ";" {
                if comment {
                    out.push(Piece::Near(t.start));
                    return out;
                }
                from = t.end;
            } else if t.kind == Kind::Comment && t.start >= from {
                comment = true;
            }
        }
        if last {
            if comment {
                out.push(Piece::Comments);
            }
            break;
        }
        out.push(Piece::Run(s, e));
        at = e;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Piece::{self, *};
    use crate::sql::lexer::{split_statements, tokenize};

    fn p(sql: &str) -> Vec<Piece> {
        let t = tokenize(sql).unwrap();
        super::pieces(sql, &t, &split_statements(sql, &t))
    }

    #[test]
    fn as_mariadb_answers() {
        assert_eq!(p("SELECT 1; /* c */"), [Run(0, 8), Comments]);
        assert_eq!(p("SELECT 1; # x"), [Run(0, 8), Comments]);
        assert_eq!(p("SELECT 1;"), [Run(0, 8)]);
        assert_eq!(p("SELECT 1; ;"), [Run(0, 8)]);
        assert_eq!(p("/* a */ ; SELECT 2"), [Near(8)]);
        assert_eq!(p("SELECT 1; /* c */; SELECT 2"), [Run(0, 8), Near(17)]);
        assert_eq!(p("/* a */"), [Comments]);
        assert_eq!(p("-- x"), [Comments]);
        assert_eq!(p(" "), []);
        assert_eq!(p(";"), []);
        assert_eq!(p("/* a */ SELECT 1; SELECT 2"), [Run(0, 16), Run(17, 26)]);
    }
}
