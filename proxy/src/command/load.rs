//! `LOAD DATA [LOW_PRIORITY | CONCURRENT] [LOCAL] INFILE 'file' [REPLACE |
//! IGNORE] INTO TABLE t ...`: the parts the gateway needs to run it
//! (`session::load_data`), the rest of the statement kept as written.

use crate::sql::lexer::{qualified_name_at, string_value, Kind, Token};

use super::TableName;

/// What to do with a row whose key is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Neither word: an error without LOCAL, skipped with it (as MariaDB).
    Default,
    Replace,
    Ignore,
}

/// A `LOAD DATA` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadData {
    pub local: bool,
    /// The file name as the client wrote it (sent back to it for the file).
    pub file: String,
    pub on_duplicate: OnDuplicate,
    pub table: TableName,
    /// Where what follows the table name starts in the text (`PARTITION`,
    /// `CHARACTER SET`, `FIELDS`, `LINES`, `IGNORE n LINES`, columns, `SET`).
    pub rest_at: usize,
}

/// Reads `sql` (significant tokens `sig`, starting `LOAD DATA`); `None` when
/// it is not a LOAD DATA the gateway can read (left to the planner).
pub fn parse(sql: &str, sig: &[Token]) -> Option<LoadData> {
    let word = |i: usize, w: &str| sig.get(i).is_some_and(|t| t.is_word(sql, w));
    if !(word(0, "LOAD") && word(1, "DATA")) {
        return None;
    }
    let mut i = 2;
    if word(i, "LOW_PRIORITY") || word(i, "CONCURRENT") {
        i += 1;
    }
    let local = word(i, "LOCAL");
    if local {
        i += 1;
    }
    if !word(i, "INFILE") {
        return None;
    }
    let file = sig.get(i + 1).filter(|t| t.kind == Kind::String)?;
    let file = string_value(sql, file);
    i += 2;
    let on_duplicate = if word(i, "REPLACE") {
        OnDuplicate::Replace
    } else if word(i, "IGNORE") {
        OnDuplicate::Ignore
    } else {
        OnDuplicate::Default
    };
    if on_duplicate != OnDuplicate::Default {
        i += 1;
    }
    if !(word(i, "INTO") && word(i + 1, "TABLE")) {
        return None;
    }
    let (db, name, used) = qualified_name_at(sql, sig, i + 2)?;
    let rest_at = sig.get(i + 2 + used).map_or(sql.len(), |t: &Token| t.start);
    Some(LoadData {
        local,
        file,
        on_duplicate,
        table: TableName { db, name },
        rest_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn load(sql: &str) -> Option<LoadData> {
        let toks = tokenize(sql).unwrap();
        parse(sql, &significant(&toks))
    }

    #[test]
    fn reads_the_parts() {
        let sql = "LOAD DATA LOCAL INFILE '/tmp/a b.csv' REPLACE INTO TABLE d.`t 1` \
                   FIELDS TERMINATED BY ',' (id, @x) SET v = @x";
        let l = load(sql).unwrap();
        assert!(l.local);
        assert_eq!(l.file, "/tmp/a b.csv");
        assert_eq!(l.on_duplicate, OnDuplicate::Replace);
        assert_eq!(l.table.db.as_deref(), Some("d"));
        assert_eq!(l.table.name, "t 1");
        assert!(sql[l.rest_at..].starts_with("FIELDS TERMINATED"));
        let l = load("load data low_priority infile 'x' into table t").unwrap();
        assert!(!l.local);
        assert_eq!(l.on_duplicate, OnDuplicate::Default);
        assert_eq!(l.table.db, None);
        assert_eq!(
            l.rest_at,
            "load data low_priority infile 'x' into table t".len()
        );
        assert!(load("LOAD XML LOCAL INFILE 'x' INTO TABLE t").is_none());
        assert!(load("LOAD DATA LOCAL INFILE x INTO TABLE t").is_none());
    }
}
