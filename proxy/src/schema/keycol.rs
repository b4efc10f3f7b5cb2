//! `ALTER TABLE` clauses on a sharded table's shard-key column: a rename
//! (`RENAME COLUMN k TO n`, `CHANGE k n <type>`) is followed by the table's topo
//! record; dropping the column, or giving it a type whose values route
//! differently (an integer key made a string), is refused — rows would stay on
//! the sets their old key values chose.

use sqlparser::ast::{ColumnOption, Statement};
use topo::{KeyType, TableKind};

use crate::error::ProxyError;
use crate::sql::lexer::{ident_text, Token};
use crate::sql::parse_one;

/// The table's kind after the clauses of `ALTER TABLE` at `sig[from..]`, when
/// they rename its shard key; `kind` is its kind now.
pub fn after_alter(
    sql: &str,
    sig: &[Token],
    from: usize,
    table: &str,
    kind: Option<&TableKind>,
) -> Result<Option<TableKind>, ProxyError> {
    let Some(TableKind::Sharded { key, key_type }) = kind else {
        return Ok(None);
    };
    let mut new_key: Option<String> = None;
    let mut depth = 0i32;
    let mut start = from;
    for i in from..=sig.len() {
        let end = i == sig.len();
        if !end {
            let t = &sig[i];
            if t.is_punct(sql, "(") {
                depth += 1;
            } else if t.is_punct(sql, ")") {
                depth -= 1;
            }
            if !(depth == 0 && t.is_punct(sql, ",")) {
                continue;
            }
        }
        if let Some(n) = clause(sql, &sig[start..i], table, key, *key_type)? {
            new_key = Some(n);
        }
        start = i + 1;
    }
    Ok(new_key.map(|k| TableKind::Sharded {
        key: k,
        key_type: *key_type,
    }))
}

/// One clause: the key's new name if it renames the key.
fn clause(
    sql: &str,
    c: &[Token],
    table: &str,
    key: &str,
    key_type: KeyType,
) -> Result<Option<String>, ProxyError> {
    let w = |i: usize| {
        c.get(i)
            .map(|t| t.text(sql).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let name = |i: usize| c.get(i).map(|t| ident_text(sql, t)).unwrap_or_default();
    let is_key = |n: &str| n.eq_ignore_ascii_case(key);
    // After the verb: [COLUMN] [IF EXISTS]
    let col_at = |mut i: usize| {
        if w(i) == "COLUMN" {
            i += 1;
        }
        if w(i) == "IF" {
            i += 2;
        }
        i
    };
    match w(0).as_str() {
        "RENAME" if w(1) == "COLUMN" && is_key(&name(2)) && w(3) == "TO" => Ok(Some(name(4))),
        "CHANGE" => {
            let i = col_at(1);
            if !is_key(&name(i)) {
                return Ok(None);
            }
            same_routing(sql, &c[(i + 2).min(c.len())..], table, key, key_type)?;
            let new = name(i + 1);
            Ok((!is_key(&new)).then_some(new))
        }
        "MODIFY" => {
            let i = col_at(1);
            if is_key(&name(i)) {
                same_routing(sql, &c[(i + 1).min(c.len())..], table, key, key_type)?;
            }
            Ok(None)
        }
        // Every string column takes the new collation, the key's too: its rows
        // would stay where the old collation's weights placed them.
        "CONVERT" if w(1) == "TO" && matches!(key_type, KeyType::Weighted { .. }) => {
            Err(ProxyError::NotSupported(format!(
                "ALTER TABLE ... CONVERT TO CHARACTER SET on sharded table `{table}`, whose \
                 text shard key `{key}` would change collation (convert the other columns \
                 one by one with MODIFY)"
            )))
        }
        "DROP"
            if !matches!(
                w(1).as_str(),
                "INDEX" | "KEY" | "PRIMARY" | "FOREIGN" | "CONSTRAINT" | "CHECK" | "PARTITION"
            ) && is_key(&name(col_at(1))) =>
        {
            Err(ProxyError::NotSupported(format!(
                "dropping the shard key column `{key}` of sharded table `{table}`"
            )))
        }
        _ => Ok(None),
    }
}

/// Refuses a new type of the key column whose values route differently.
fn same_routing(
    sql: &str,
    def: &[Token],
    table: &str,
    key: &str,
    key_type: KeyType,
) -> Result<(), ProxyError> {
    // `FIRST` / `AFTER col` place the column; a column definition has neither.
    let mut n = def.len();
    if n >= 1 && def[n - 1].is_word(sql, "FIRST") {
        n -= 1;
    } else if n >= 2 && def[n - 2].is_word(sql, "AFTER") {
        n -= 2;
    }
    let refuse = || {
        ProxyError::NotSupported(format!(
            "changing the shard key column `{key}` of sharded table `{table}` to a type whose values route differently"
        ))
    };
    if n == 0 {
        return Err(refuse());
    }
    let text = format!("CREATE TABLE x (c {})", &sql[def[0].start..def[n - 1].end]);
    let Ok(Statement::CreateTable(ct)) = parse_one(&text) else {
        return Err(refuse());
    };
    let Some(col) = ct.columns.first() else {
        return Err(refuse());
    };
    let collation = col.options.iter().find_map(|o| match &o.option {
        ColumnOption::Collation(n) => Some(n.to_string()),
        _ => None,
    });
    match (crate::ddl_apply::key_type_of(&col.data_type), key_type) {
        (Ok(KeyType::Text), KeyType::Weighted { collation: id, .. }) => {
            // A redefined string column takes the table's collation unless it names
            // one: the key's own collation must be named.
            let now = topo::weights::weigher(id).map(|w| w.name.clone());
            match (collation, now) {
                (Some(c), Some(now)) if c.eq_ignore_ascii_case(&now) => Ok(()),
                (_, now) => Err(ProxyError::NotSupported(format!(
                    "redefining the text shard key column `{key}` of sharded table `{table}` \
                     without its collation (write COLLATE {})",
                    now.as_deref().unwrap_or("<its collation>")
                ))),
            }
        }
        (Ok(t), _) if t == key_type => Ok(()),
        _ => Err(refuse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn run(sql: &str) -> Result<Option<TableKind>, ProxyError> {
        let t = tokenize(sql).unwrap();
        let sig = significant(&t);
        let kind = TableKind::Sharded {
            key: "id".into(),
            key_type: KeyType::Integer,
        };
        after_alter(sql, &sig, 3, "t", Some(&kind))
    }

    fn key(k: Option<TableKind>) -> Option<String> {
        match k {
            Some(TableKind::Sharded { key, .. }) => Some(key),
            _ => None,
        }
    }

    #[test]
    fn follows_renames() {
        assert_eq!(
            key(run("ALTER TABLE t RENAME COLUMN id TO uid").unwrap()).as_deref(),
            Some("uid")
        );
        assert_eq!(
            key(
                run("ALTER TABLE t ADD x INT, CHANGE COLUMN id uid BIGINT NOT NULL AFTER x")
                    .unwrap()
            )
            .as_deref(),
            Some("uid")
        );
        assert_eq!(run("ALTER TABLE t MODIFY id INT UNSIGNED").unwrap(), None);
        assert_eq!(
            run("ALTER TABLE t DROP INDEX id, DROP COLUMN v").unwrap(),
            None
        );
    }

    #[test]
    fn refuses_what_would_move_rows() {
        assert!(run("ALTER TABLE t DROP COLUMN id").is_err());
        assert!(run("ALTER TABLE t MODIFY id VARCHAR(20)").is_err());
        assert!(run("ALTER TABLE t CHANGE id uid DATE").is_err());
        // CONVERT TO changes a text key's collation; an integer key's table may.
        assert_eq!(
            run("ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4").unwrap(),
            None
        );
        let text = TableKind::Sharded {
            key: "id".into(),
            key_type: KeyType::Weighted {
                collation: 45,
                pad: true,
            },
        };
        let sql = "ALTER TABLE t ADD x INT, CONVERT TO CHARACTER SET utf8mb4";
        let t = tokenize(sql).unwrap();
        assert!(after_alter(sql, &significant(&t), 3, "t", Some(&text)).is_err());
    }
}
