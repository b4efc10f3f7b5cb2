//! The collation of a sharded table's text shard key, read from its CREATE TABLE.
//!
//! A text key is hashed by its collation's weights (`topo::weights`), so the
//! gateway must know the collation MariaDB gives the column before the table
//! exists. It follows MariaDB's order — the column's `COLLATE`, the default
//! collation of the column's `CHARACTER SET`, the table's `COLLATE` or
//! `CHARSET`, the database's default — and then writes the collation into the
//! column's definition ([`pinned`]) when the column does not name one, so the
//! table the sets create has exactly the collation the key is hashed by. As the
//! pinned collation is the one MariaDB would have chosen, `SHOW CREATE TABLE`
//! reads the same.

use crate::error::ProxyError;
use crate::sql::lexer::{ident_text, Token};

/// Where the key column's collation comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Named: the column's (or, with no character set of its own, the table's) COLLATE.
    Collation(String),
    /// The default collation of this character set.
    Charset(String),
    /// The database's default collation.
    Database,
}

/// The key column's definition in a CREATE TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    pub source: Source,
    /// Whether the column's own definition names its collation.
    pub explicit: bool,
    /// Byte offset in the statement after the column's type and character set.
    pub at: usize,
}

/// The key column `key` of `CREATE TABLE` text `sql` (`sig`: its significant
/// tokens) and where its collation comes from.
pub fn key_column(sql: &str, sig: &[Token], key: &str) -> Result<KeyColumn, ProxyError> {
    let unreadable = || {
        ProxyError::NotSupported(format!(
            "a sharded CREATE TABLE whose text key column `{key}` the gateway cannot find"
        ))
    };
    let open = sig
        .iter()
        .position(|t| t.is_punct(sql, "("))
        .ok_or_else(unreadable)?;
    // Items of the column list at depth 1, and the tokens after it.
    let mut depth = 0i32;
    let mut start = open + 1;
    let mut found: Option<(usize, usize)> = None;
    let mut close = None;
    for (i, t) in sig.iter().enumerate().skip(open) {
        if t.is_punct(sql, "(") {
            depth += 1;
            continue;
        }
        let ends_item = depth == 1 && (t.is_punct(sql, ",") || t.is_punct(sql, ")"));
        if ends_item {
            let item = &sig[start..i];
            if item.len() >= 2 && ident_text(sql, &item[0]).eq_ignore_ascii_case(key) {
                found = Some((start, i));
            }
            start = i + 1;
        }
        if t.is_punct(sql, ")") {
            depth -= 1;
            if depth == 0 {
                close = Some(i);
                break;
            }
        }
    }
    let (a, b) = found.ok_or_else(unreadable)?;
    let close = close.ok_or_else(unreadable)?;
    let column = attributes(sql, &sig[a + 1..b], false);
    let explicit = column.collation.is_some();
    if column.binary {
        return Err(ProxyError::NotSupported(format!(
            "a text shard key `{key}` declared with the BINARY attribute (write its collation, \
             e.g. COLLATE utf8mb4_bin)"
        )));
    }
    let table = attributes(sql, &sig[close + 1..], true);
    let source = match (column.collation, column.charset) {
        (Some(c), _) => Source::Collation(c),
        (None, Some(cs)) => Source::Charset(cs),
        (None, None) => match (table.collation, table.charset) {
            (Some(c), _) => Source::Collation(c),
            (None, Some(cs)) => Source::Charset(cs),
            (None, None) => Source::Database,
        },
    };
    Ok(KeyColumn {
        source,
        explicit,
        at: after_type(sql, &sig[a + 1..b]).ok_or_else(unreadable)?,
    })
}

/// `sql` with ` COLLATE collation` written after the key column's type (and its
/// character set): MariaDB takes it there, not after a CHECK or a REFERENCES.
pub fn pinned(sql: &str, column: &KeyColumn, collation: &str) -> String {
    format!(
        "{} COLLATE {}{}",
        &sql[..column.at],
        collation,
        &sql[column.at..]
    )
}

/// The byte offset after a column definition's string type, its length and its
/// character set (`def`: the tokens after the column's name).
fn after_type(sql: &str, def: &[Token]) -> Option<usize> {
    const TYPE_WORDS: &[&str] = &[
        "CHAR",
        "CHARACTER",
        "VARCHAR",
        "VARYING",
        "NATIONAL",
        "NCHAR",
        "NVARCHAR",
        "TEXT",
        "TINYTEXT",
        "MEDIUMTEXT",
        "LONGTEXT",
        "LONG",
        "VARCHAR2",
    ];
    let mut i = 0;
    while def
        .get(i)
        .is_some_and(|t| TYPE_WORDS.iter().any(|w| t.is_word(sql, w)))
        && !(def[i].is_word(sql, "CHARACTER")
            && def.get(i + 1).is_some_and(|t| t.is_word(sql, "SET")))
    {
        i += 1;
    }
    if i == 0 {
        return None;
    }
    if def.get(i).is_some_and(|t| t.is_punct(sql, "(")) {
        let close = def[i..].iter().position(|t| t.is_punct(sql, ")"))?;
        i += close + 1;
    }
    // CHARACTER SET x / CHARSET x / CHARSET = x
    let charset_words = if def.get(i).is_some_and(|t| t.is_word(sql, "CHARSET")) {
        1
    } else if def.get(i).is_some_and(|t| t.is_word(sql, "CHARACTER"))
        && def.get(i + 1).is_some_and(|t| t.is_word(sql, "SET"))
    {
        2
    } else {
        0
    };
    if charset_words > 0 {
        i += charset_words;
        if def.get(i).is_some_and(|t| t.is_punct(sql, "=")) {
            i += 1;
        }
        i += 1;
    }
    Some(def.get(i.checked_sub(1)?)?.end)
}

/// The character set and collation that tokens name, and a BINARY attribute
/// (column definitions only: `VARCHAR(10) BINARY`).
#[derive(Debug, Default)]
struct Attributes {
    charset: Option<String>,
    collation: Option<String>,
    binary: bool,
}

fn attributes(sql: &str, tokens: &[Token], table: bool) -> Attributes {
    let mut a = Attributes::default();
    let mut depth = 0i32;
    let value_at = |mut i: usize| {
        if tokens.get(i).is_some_and(|t| t.is_punct(sql, "=")) {
            i += 1;
        }
        tokens.get(i).map(|t| normal(&ident_text(sql, t)))
    };
    for (i, t) in tokens.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        }
        if depth != 0 {
            continue;
        }
        let next_is = |w: &str| tokens.get(i + 1).is_some_and(|n| n.is_word(sql, w));
        if t.is_word(sql, "COLLATE") {
            a.collation = value_at(i + 1);
        } else if t.is_word(sql, "CHARSET") {
            a.charset = value_at(i + 1);
        } else if t.is_word(sql, "CHARACTER") && next_is("SET") {
            a.charset = value_at(i + 2);
        } else if !table
            && (t.is_word(sql, "NATIONAL") || t.is_word(sql, "NCHAR") || t.is_word(sql, "NVARCHAR"))
        {
            a.charset.get_or_insert_with(|| "utf8mb3".into());
        } else if !table && t.is_word(sql, "BINARY") && i > 0 {
            a.binary = true;
        } else if table
            && (t.is_word(sql, "PARTITION") || t.is_word(sql, "AS") || t.is_word(sql, "SELECT"))
        {
            break;
        }
    }
    a
}

/// `utf8` is MariaDB's alias of `utf8mb3` (and of its collations).
fn normal(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.strip_prefix("utf8") {
        Some(rest) if rest.is_empty() || rest.starts_with('_') => format!("utf8mb3{rest}"),
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn col(sql: &str) -> KeyColumn {
        let t = tokenize(sql).unwrap();
        key_column(sql, &significant(&t), "k").unwrap()
    }

    #[test]
    fn collation_sources_in_mariadb_order() {
        let c = col(
            "CREATE TABLE t (id INT, k VARCHAR(9) COLLATE utf8mb4_bin NOT NULL) CHARSET latin1",
        );
        assert_eq!(c.source, Source::Collation("utf8mb4_bin".into()));
        assert!(c.explicit);
        let c =
            col("CREATE TABLE t (k VARCHAR(9) CHARACTER SET utf8mb4) COLLATE utf8mb4_unicode_ci");
        assert_eq!(c.source, Source::Charset("utf8mb4".into()));
        assert!(!c.explicit);
        let c =
            col("CREATE TABLE t (k CHAR(9), v INT) DEFAULT CHARSET=utf8 COLLATE = utf8_unicode_ci");
        assert_eq!(c.source, Source::Collation("utf8mb3_unicode_ci".into()));
        assert!(!c.explicit);
        let c = col("CREATE TABLE t (`k` TEXT, PRIMARY KEY (k(10))) ENGINE=InnoDB");
        assert_eq!(c.source, Source::Database);
        let c = col("CREATE TABLE t (k NVARCHAR(9))");
        assert_eq!(c.source, Source::Charset("utf8mb3".into()));
    }

    #[test]
    fn pins_the_collation_after_the_type() {
        let sql = "CREATE TABLE t (k VARCHAR(9) NOT NULL DEFAULT 'a,b' , v INT) CHARSET utf8mb4";
        let c = col(sql);
        assert_eq!(
            pinned(sql, &c, "utf8mb4_general_ci"),
            "CREATE TABLE t (k VARCHAR(9) COLLATE utf8mb4_general_ci NOT NULL DEFAULT 'a,b' , v INT) CHARSET utf8mb4"
        );
        let sql =
            "CREATE TABLE t (v INT, k CHARACTER VARYING (9) CHARACTER SET utf8mb4 CHECK (k <> ''))";
        assert_eq!(
            pinned(sql, &col(sql), "utf8mb4_general_ci"),
            "CREATE TABLE t (v INT, k CHARACTER VARYING (9) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci CHECK (k <> ''))"
        );
        let sql = "CREATE TABLE t (k TEXT REFERENCES p(a))";
        assert_eq!(
            pinned(sql, &col(sql), "latin1_swedish_ci"),
            "CREATE TABLE t (k TEXT COLLATE latin1_swedish_ci REFERENCES p(a))"
        );
    }

    #[test]
    fn binary_attribute_is_refused() {
        let sql = "CREATE TABLE t (k VARCHAR(9) BINARY)";
        let t = tokenize(sql).unwrap();
        assert!(key_column(sql, &significant(&t), "k").is_err());
    }
}
