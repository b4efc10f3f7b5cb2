//! A statement's digest fingerprint: its significant tokens with every number,
//! string and `?` replaced by `?`, runs of literals in a list (`IN (1, 2, 3)`,
//! a VALUES row) collapsed to `?,...`, whitespace and comments dropped. The
//! 64-bit key (with the session database) is computed without allocating; the
//! text only when a digest is first seen or an audit record needs it.

use crate::sql::lexer::{Kind, Token};

/// Walks the normalised form of `sql`, one piece at a time, with whether the
/// client's text had whitespace (or a comment) before it.
fn walk<'a>(sql: &'a str, tokens: &[Token], mut emit: impl FnMut(&'a str, bool)) {
    let mut last_lit = false;
    let mut comma = false;
    let mut collapsed = false;
    let mut prev_end = 0;
    for t in tokens.iter().filter(|t| !t.is_trivia()) {
        let spaced = t.start > prev_end && prev_end > 0;
        prev_end = t.end;
        let lit = matches!(t.kind, Kind::Number | Kind::String | Kind::Placeholder);
        if lit {
            if comma && last_lit {
                comma = false;
                collapsed = true;
                continue;
            }
            if comma {
                emit(",", false);
                comma = false;
            }
            emit("?", spaced);
            last_lit = true;
            continue;
        }
        if t.kind == Kind::Punct && t.text(sql) == "," && last_lit {
            if comma {
                emit(",", false);
            }
            comma = true;
            continue;
        }
        if collapsed {
            emit(",...", false);
            collapsed = false;
        }
        if comma {
            emit(",", false);
            comma = false;
        }
        last_lit = false;
        emit(t.text(sql), spaced);
    }
    if collapsed {
        emit(",...", false);
    }
    if comma {
        emit(",", false);
    }
}

/// The digest key of `sql` in database `db` (FNV-1a over the normalised form).
pub fn key(sql: &str, tokens: &[Token], db: Option<&str>) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |b: &[u8]| {
        for &x in b {
            h ^= x as u64;
            h = h.wrapping_mul(PRIME);
        }
    };
    feed(db.unwrap_or("").as_bytes());
    feed(&[1]);
    walk(sql, tokens, |p, _| {
        feed(p.as_bytes());
        feed(&[0]);
    });
    h
}

/// The fingerprint text of `sql`: the pieces, spaced as the client spaced them
/// (one space at most).
pub fn text(sql: &str, tokens: &[Token]) -> String {
    let mut s = String::with_capacity(sql.len().min(1024));
    walk(sql, tokens, |p, spaced| {
        if spaced {
            s.push(' ');
        }
        s.push_str(p);
    });
    s
}

/// The fingerprint text of a statement's text; text the lexer cannot read is
/// not shown (it could hold anything, a password included).
pub fn of_text(sql: &str) -> String {
    match crate::sql::lexer::tokenize(sql) {
        Ok(t) => text(sql, &t),
        Err(_) => "(not lexable)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn fp(sql: &str) -> (u64, String) {
        let t = tokenize(sql).unwrap();
        (key(sql, &t, Some("db")), text(sql, &t))
    }

    #[test]
    fn literals_and_lists() {
        let (k1, t1) = fp("SELECT * FROM t WHERE id = 5 AND name = 'x'");
        let (k2, t2) = fp("select  *  from t where id=7   and name = \"yy\" -- c");
        assert_eq!(t1, "SELECT * FROM t WHERE id = ? AND name = ?");
        assert_eq!(t2, "select * from t where id=? and name = ?");
        assert_ne!(k1, k2, "keywords keep their case");
        let (a, ta) = fp("SELECT c FROM t WHERE id IN (1, 2, 3)");
        let (b, _) = fp("SELECT c FROM t WHERE id IN (4,5)");
        assert_eq!(a, b);
        assert_eq!(ta, "SELECT c FROM t WHERE id IN (?,...)");
        let (_, tv) = fp("INSERT INTO s.t (a, b) VALUES (1, 'p'), (2, 'q')");
        assert_eq!(tv, "INSERT INTO s.t (a, b) VALUES (?,...), (?,...)");
        let (_, one) = fp("SELECT f(1), 2");
        assert_eq!(one, "SELECT f(?), ?");
    }

    #[test]
    fn database_is_part_of_the_key() {
        let sql = "SELECT 1";
        let t = tokenize(sql).unwrap();
        assert_ne!(key(sql, &t, Some("a")), key(sql, &t, Some("b")));
        assert_eq!(key(sql, &t, None), key(sql, &t, Some("")));
    }
}
