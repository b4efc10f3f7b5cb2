//! String values a subquery gave, written back into the statement so that
//! MariaDB compares them as it compares the subquery's own column. A literal
//! is *coercible*: `x IN ('a', ...)` compares in `x`'s collation, whereas
//! `x IN (SELECT y ...)` aggregates the collations of two columns, both
//! *implicit*: of one character set, a binary-sort (`_bin`) one wins — a
//! JSON column's utf8mb4_bin against a `_ci` column compares case-sensitively.
//! So the subquery column's collation is read with `COLLATION()` on a set that
//! ran it, and when it sorts binary its values carry it explicitly
//! (`_cs X'..' COLLATE c`); otherwise they stay coercible and take `x`'s, as
//! before (two different non-binary collations, which MariaDB refuses with
//! 1267, are then compared in `x`'s).

use mysql_common::packets::Column;

use super::fetch::fetch_on;
use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;

/// The subquery column's character set and collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collated {
    charset: String,
    collation: String,
}

impl Collated {
    /// Whether the collation sorts by bytes (`..._bin`): it wins over the
    /// other column's, and the values must carry it. (Binary strings'
    /// literals are `_binary` already.)
    pub fn wins(&self) -> bool {
        self.collation.ends_with("_bin")
    }
}

/// Whether `col` holds non-binary strings (compared by collation).
pub fn is_text(col: &Column) -> bool {
    crate::merge::value::cmp_for(col) == crate::merge::value::Cmp::Weight
        || crate::merge::value::needs_weight(col)
}

/// Reads the collation of `values_sql`'s column on `set` (one that ran it).
pub async fn read(
    exec: &mut Exec<'_>,
    set: &str,
    values_sql: &str,
    budget: &mut Budget,
) -> Result<Collated, ProxyError> {
    let one = format!("(SELECT * FROM ({values_sql}) AS setwise_q LIMIT 1)");
    let sql = format!("SELECT COLLATION({one}), CHARSET({one})");
    let unread = || {
        super::unsupported(
            "a subquery across sets giving strings whose collation could not be read",
        )
    };
    let f = match fetch_on(exec, vec![set.to_string()], &sql, budget).await {
        Ok(f) => f,
        Err(e @ ProxyError::ClientIo(_)) => return Err(e),
        Err(_) => return Err(unread()),
    };
    let cell = |i: usize| {
        f.rows
            .first()
            .and_then(|r| r.get(i).cloned().flatten())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    match (cell(0), cell(1)) {
        (Some(collation), Some(charset))
            if [&collation, &charset].iter().all(|s| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }) =>
        {
            Ok(Collated { charset, collation })
        }
        _ => Err(unread()),
    }
}

/// `value` (bytes in `col`'s result character set) as an expression of the
/// subquery column's character set and collation.
pub fn literal(col: &Column, value: &[u8], c: &Collated) -> String {
    let hex: String = value.iter().map(|b| format!("{b:02X}")).collect();
    let from = super::key::charset_of(col);
    let lit = if hex.is_empty() {
        format!("_{from}''")
    } else {
        format!("_{from} X'{hex}'")
    };
    if from == c.charset {
        return format!("{lit} COLLATE {}", c.collation);
    }
    format!("CONVERT({lit} USING {}) COLLATE {}", c.charset, c.collation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    #[test]
    fn binary_collations_are_carried() {
        let c = Collated {
            charset: "utf8mb4".into(),
            collation: "utf8mb4_bin".into(),
        };
        let s = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(45);
        assert!(c.wins());
        assert_eq!(
            literal(&s, b"ab", &c),
            "_utf8mb4 X'6162' COLLATE utf8mb4_bin"
        );
        assert_eq!(literal(&s, b"", &c), "_utf8mb4'' COLLATE utf8mb4_bin");
        let bin = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(63);
        assert_eq!(
            literal(&bin, b"a", &c),
            "CONVERT(_binary X'61' USING utf8mb4) COLLATE utf8mb4_bin"
        );
        let ci = Collated {
            charset: "utf8mb4".into(),
            collation: "utf8mb4_general_ci".into(),
        };
        assert!(!ci.wins());
    }
}
