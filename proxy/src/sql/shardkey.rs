//! The TDSQL table option chosen at `CREATE TABLE`: `shardkey=col` (sharded) or
//! `shardkey=noshardkey_allset` (broadcast). The gateway records it and strips it
//! from the text before MariaDB sees the statement.

use super::lexer::{ident_text, string_value, Kind, Token};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardKeyOption {
    Key(String),
    AllSet,
}

/// Finds a top-level `shardkey = value` option; returns the text without it.
pub fn strip(sql: &str, tokens: &[Token]) -> Option<(String, ShardKeyOption)> {
    let sig: Vec<(usize, &Token)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_trivia())
        .collect();
    let mut depth = 0;
    for (n, (_, t)) in sig.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_word(sql, "shardkey") {
            let eq = sig.get(n + 1)?;
            if !eq.1.is_punct(sql, "=") {
                continue;
            }
            let val = sig.get(n + 2)?.1;
            let v = match val.kind {
                Kind::Word | Kind::QuotedIdent => ident_text(sql, val),
                Kind::String => string_value(sql, val),
                _ => return None,
            };
            let opt = if v.eq_ignore_ascii_case("noshardkey_allset") {
                ShardKeyOption::AllSet
            } else {
                ShardKeyOption::Key(v)
            };
            // Also drop a comma that separated it from the previous option.
            // ... or from the next one.
            let mut start = t.start;
            let mut end = val.end;
            if n > 0 && sig[n - 1].1.is_punct(sql, ",") {
                start = sig[n - 1].1.start;
            } else if let Some((_, next)) = sig.get(n + 3).filter(|(_, x)| x.is_punct(sql, ",")) {
                end = next.end;
            }
            let mut out = String::with_capacity(sql.len());
            out.push_str(sql[..start].trim_end());
            out.push_str(&sql[end..]);
            return Some((out, opt));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn s(sql: &str) -> Option<(String, ShardKeyOption)> {
        strip(sql, &tokenize(sql).unwrap())
    }

    #[test]
    fn strips_option() {
        assert_eq!(
            s("CREATE TABLE t (a INT, shardkey INT) ENGINE=InnoDB shardkey=a"),
            Some((
                "CREATE TABLE t (a INT, shardkey INT) ENGINE=InnoDB".into(),
                ShardKeyOption::Key("a".into())
            ))
        );
        assert_eq!(
            s("CREATE TABLE t (a INT) shardkey = `a`, ENGINE=InnoDB"),
            Some((
                "CREATE TABLE t (a INT) ENGINE=InnoDB".into(),
                ShardKeyOption::Key("a".into())
            ))
        );
        assert_eq!(
            s("CREATE TABLE t (a INT) ENGINE=InnoDB, shardkey=noshardkey_allset;"),
            Some((
                "CREATE TABLE t (a INT) ENGINE=InnoDB;".into(),
                ShardKeyOption::AllSet
            ))
        );
        assert_eq!(s("CREATE TABLE t (a INT)"), None);
    }
}
