//! Splitting a multi-row `INSERT ... VALUES (..), (..) [suffix]` by set, as a
//! token-level edit of the client's text: each set gets the same prefix and suffix
//! (`ON DUPLICATE KEY UPDATE ...`) with only its own rows.

use crate::sql::lexer::{Kind, Token};

/// Byte ranges of the row tuples of an INSERT's `VALUES` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsertRows {
    /// Each `( ... )` tuple, parentheses included.
    pub rows: Vec<(usize, usize)>,
}

/// Finds the row tuples; `None` when the statement has no top-level `VALUES` list.
pub fn locate_rows(sql: &str, tokens: &[Token]) -> Option<InsertRows> {
    let sig: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let mut depth = 0i32;
    let mut values_at = None;
    for (i, t) in sig.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && (t.is_word(sql, "VALUES") || t.is_word(sql, "VALUE")) {
            values_at = Some(i);
            break;
        }
    }
    let mut i = values_at? + 1;
    let mut rows = Vec::new();
    loop {
        let open = sig.get(i)?;
        if !open.is_punct(sql, "(") {
            return None;
        }
        let mut d = 0;
        let mut j = i;
        loop {
            let t = sig.get(j)?;
            if t.kind == Kind::Punct {
                match t.text(sql) {
                    "(" => d += 1,
                    ")" => {
                        d -= 1;
                        if d == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            j += 1;
        }
        rows.push((open.start, sig[j].end));
        i = j + 1;
        match sig.get(i) {
            Some(t) if t.is_punct(sql, ",") => i += 1,
            _ => break,
        }
    }
    Some(InsertRows { rows })
}

impl InsertRows {
    /// The statement with only the rows at `keep` (indices into `rows`, in order).
    pub fn with_rows(&self, sql: &str, keep: &[usize]) -> String {
        let first = self.rows[0].0;
        let last = self.rows[self.rows.len() - 1].1;
        let mut out = String::with_capacity(sql.len());
        out.push_str(&sql[..first]);
        for (n, &k) in keep.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            let (s, e) = self.rows[k];
            out.push_str(&sql[s..e]);
        }
        out.push_str(&sql[last..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    #[test]
    fn split_rows() {
        let sql = "INSERT INTO t (a, b) VALUES (1, 'x(,)'), (2, f(3, 4)) ,(3,NULL) ON DUPLICATE KEY UPDATE b = VALUES(b)";
        let toks = tokenize(sql).unwrap();
        let r = locate_rows(sql, &toks).unwrap();
        assert_eq!(r.rows.len(), 3);
        assert_eq!(&sql[r.rows[1].0..r.rows[1].1], "(2, f(3, 4))");
        assert_eq!(
            r.with_rows(sql, &[0, 2]),
            "INSERT INTO t (a, b) VALUES (1, 'x(,)'), (3,NULL) ON DUPLICATE KEY UPDATE b = VALUES(b)"
        );
    }

    #[test]
    fn no_values() {
        let sql = "INSERT INTO t SELECT * FROM u";
        assert!(locate_rows(sql, &tokenize(sql).unwrap()).is_none());
    }
}
