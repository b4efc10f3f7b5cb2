//! `ANALYZE | CHECK | OPTIMIZE | REPAIR [NO_WRITE_TO_BINLOG | LOCAL] TABLE t1
//! [, t2 ...] [options]` and `CHECKSUM TABLE t1 [, t2 ...] [QUICK | EXTENDED]`:
//! the tables named and where the statement's text around the list is
//! (`session::maintenance` runs it per table on every set holding the table).

use crate::sql::lexer::{qualified_name_at, quote_ident, Token};

use super::TableName;

/// A table maintenance statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// The statement up to and including `TABLE` / `TABLES`.
    pub head_end: usize,
    /// Where what follows the table list starts (options), `sql.len()` if none.
    pub tail_at: usize,
    pub tables: Vec<TableName>,
    /// `CHECKSUM TABLE`: one row per table, its checksum combined across sets.
    pub checksum: bool,
}

/// Reads `sql` (significant tokens `sig`, verb `verb`); `None` when it is
/// not such a statement (left to the planner).
pub fn parse(sql: &str, sig: &[Token], verb: &str) -> Option<Maintenance> {
    if !matches!(
        verb,
        "ANALYZE" | "CHECK" | "OPTIMIZE" | "REPAIR" | "CHECKSUM"
    ) {
        return None;
    }
    let checksum = verb == "CHECKSUM";
    let word = |i: usize, w: &str| sig.get(i).is_some_and(|t| t.is_word(sql, w));
    let mut i = 1;
    if !checksum && (word(i, "NO_WRITE_TO_BINLOG") || word(i, "LOCAL")) {
        i += 1;
    }
    if !(word(i, "TABLE") || word(i, "TABLES")) {
        return None;
    }
    let head_end = sig[i].end;
    i += 1;
    let mut tables = Vec::new();
    loop {
        let (db, name, used) = qualified_name_at(sql, sig, i)?;
        tables.push(TableName { db, name });
        i += used;
        if sig.get(i).is_some_and(|t| t.is_punct(sql, ",")) {
            i += 1;
            continue;
        }
        break;
    }
    let tail_at = sig
        .get(i)
        .filter(|t| !t.is_punct(sql, ";"))
        .map_or(sql.len(), |t| t.start);
    Some(Maintenance {
        head_end,
        tail_at,
        tables,
        checksum,
    })
}

impl Maintenance {
    /// The statement for `table` alone (quoted, qualified by `db`).
    pub fn for_table(&self, sql: &str, db: &str, table: &str) -> String {
        let tail = sql[self.tail_at..].trim_end().trim_end_matches(';');
        format!(
            "{} {}.{} {tail}",
            &sql[..self.head_end],
            quote_ident(db),
            quote_ident(table)
        )
        .trim_end()
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn parsed(sql: &str) -> Option<Maintenance> {
        let toks = tokenize(sql).unwrap();
        let sig = significant(&toks);
        let verb = sig[0].text(sql).to_ascii_uppercase();
        parse(sql, &sig, &verb)
    }

    #[test]
    fn tables_and_options() {
        let sql = "CHECK TABLE a, d.`b c` EXTENDED";
        let m = parsed(sql).unwrap();
        assert_eq!(m.tables.len(), 2);
        assert_eq!(m.tables[1].db.as_deref(), Some("d"));
        assert_eq!(m.tables[1].name, "b c");
        assert_eq!(m.for_table(sql, "x", "a"), "CHECK TABLE `x`.`a` EXTENDED");
        let sql = "ANALYZE NO_WRITE_TO_BINLOG TABLES t;";
        let m = parsed(sql).unwrap();
        assert_eq!(
            m.for_table(sql, "x", "t"),
            "ANALYZE NO_WRITE_TO_BINLOG TABLES `x`.`t`"
        );
        assert!(parsed("ANALYZE SELECT 1").is_none());
        let sql = "CHECKSUM TABLE t, u EXTENDED";
        let m = parsed(sql).unwrap();
        assert!(m.checksum && m.tables.len() == 2);
        assert_eq!(
            m.for_table(sql, "x", "u"),
            "CHECKSUM TABLE `x`.`u` EXTENDED"
        );
        assert!(parsed("CHECKSUM LOCAL TABLE t").is_none());
    }
}
