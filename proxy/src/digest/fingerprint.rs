//! A statement's digest fingerprint: its significant tokens with every number,
//! string and `?` replaced by `?`, runs of literals in a list (`IN (1, 2, 3)`,
//! a VALUES row) collapsed to `?,...`, and a run of such rows to the first and
//! `,...`; whitespace and comments dropped. The
//! 64-bit key (with the session database) is computed without allocating; the
//! text only when a digest is first seen or an audit record needs it.

use crate::sql::lexer::{Kind, Token};

/// Walks the normalised form of `sql`, one piece at a time, with whether the
/// client's text had whitespace (or a comment) before it.
fn walk<'a>(sql: &'a str, tokens: &[Token], emit: impl FnMut(&'a str, bool)) {
    let mut rows = Rows::new(emit);
    pieces(sql, tokens, |p, spaced| rows.push(p, spaced));
    rows.finish();
}

/// A row of literals only, after its first one: `, ( ? )` or `, ( ? ,... )`.
const ROW: [&str; 4] = [",", "(", "?", ")"];
const ROW_LIST: [&str; 5] = [",", "(", "?", ",...", ")"];

/// Collapses rows of literals only that follow one another (a multi-row
/// VALUES) into the first and `,...`; no allocation.
struct Rows<'a, F: FnMut(&'a str, bool)> {
    emit: F,
    /// The last four pieces emitted.
    recent: [&'a str; 4],
    /// The pieces emitted last end a row of literals only.
    after_row: bool,
    /// Rows were dropped after it.
    dropped: bool,
    held: [(&'a str, bool); 5],
    held_n: usize,
}

impl<'a, F: FnMut(&'a str, bool)> Rows<'a, F> {
    fn new(emit: F) -> Self {
        Self {
            emit,
            recent: [""; 4],
            after_row: false,
            dropped: false,
            held: [("", false); 5],
            held_n: 0,
        }
    }

    fn push(&mut self, p: &'a str, spaced: bool) {
        if !self.after_row {
            return self.out(p, spaced);
        }
        self.held[self.held_n] = (p, spaced);
        self.held_n += 1;
        let held = &self.held[..self.held_n];
        let prefix_of =
            |row: &[&str]| held.len() <= row.len() && held.iter().zip(row).all(|(h, r)| h.0 == *r);
        if prefix_of(&ROW) || prefix_of(&ROW_LIST) {
            if held.len() == ROW.len() && prefix_of(&ROW)
                || held.len() == ROW_LIST.len() && prefix_of(&ROW_LIST)
            {
                self.held_n = 0;
                self.dropped = true;
            }
            return;
        }
        self.flush();
    }

    /// The run of rows ended: `,...` if rows were dropped, then what was held.
    fn flush(&mut self) {
        self.after_row = false;
        if std::mem::take(&mut self.dropped) {
            (self.emit)(",...", false);
        }
        let n = std::mem::take(&mut self.held_n);
        for i in 0..n {
            let (p, s) = self.held[i];
            self.out(p, s);
        }
    }

    fn finish(mut self) {
        self.flush();
    }

    fn out(&mut self, p: &'a str, spaced: bool) {
        (self.emit)(p, spaced);
        self.recent = [self.recent[1], self.recent[2], self.recent[3], p];
        let r = &self.recent;
        self.after_row = p == ")" && (r[1..] == ["(", "?", ")"] || *r == ["(", "?", ",...", ")"]);
    }
}

fn pieces<'a>(sql: &'a str, tokens: &[Token], mut emit: impl FnMut(&'a str, bool)) {
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
        let (k2, tv) = fp("INSERT INTO s.t (a, b) VALUES (1, 'p'), (2, 'q')");
        assert_eq!(tv, "INSERT INTO s.t (a, b) VALUES (?,...),...");
        let (k3, _) = fp("INSERT INTO s.t (a, b) VALUES (1, 'p'), (2, 'q'), (3,'r')");
        assert_eq!(k2, k3, "any number of rows");
        let (_, t1) = fp("INSERT INTO s.t (a) VALUES (1), (2) ON DUPLICATE KEY UPDATE a = 3");
        assert_eq!(
            t1,
            "INSERT INTO s.t (a) VALUES (?),... ON DUPLICATE KEY UPDATE a = ?"
        );
        let (_, t2) = fp("SELECT (1), (a), (2, b)");
        assert_eq!(t2, "SELECT (?), (a), (?, b)");
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
