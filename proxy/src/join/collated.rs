//! String values a subquery gave, written back into the statement so that
//! MariaDB compares them as it compares the subquery's own column. A literal
//! is *coercible*: `x IN ('a', ...)` compares in `x`'s collation, whereas
//! `x IN (SELECT y ...)` aggregates the collations of two *implicit* columns:
//! of one character set, a binary-sort (`_bin`) one wins; two other
//! collations of one set are refused (ERROR 1267); of two character sets the
//! Unicode one wins (latin1 against utf8mb4 compares in the utf8mb4 one's).
//! So the subquery column's collation is read with `COLLATION()` on a set that
//! ran it, and its values are written as the column of a `JSON_TABLE` of that
//! character set and collation ([`json_table`]): a field, implicit like the
//! subquery's column, so MariaDB itself aggregates the two collations —
//! answering 1267 exactly when it would, even over no values. Values that
//! are no text (`character_set_results = binary`) keep the older literals
//! ([`literal`]): coercible, or carrying a winning `_bin` collation.

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
    /// MariaDB's `COERCIBILITY()`: 0 explicit (`COLLATE`), 2 implicit (a
    /// column), 4 coercible (a literal)...
    coercibility: u8,
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
    let sql = format!("SELECT COLLATION({one}), CHARSET({one}), COERCIBILITY({one})");
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
    let coercibility = cell(2).and_then(|c| c.parse().ok());
    match (cell(0), cell(1), coercibility) {
        (Some(collation), Some(charset), Some(coercibility))
            if [&collation, &charset].iter().all(|s| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            }) =>
        {
            Ok(Collated {
                charset,
                collation,
                coercibility,
            })
        }
        _ => Err(unread()),
    }
}

/// The subquery `(SELECT v FROM JSON_TABLE(...))` giving `values` (bytes in
/// `col`'s result character set; `None`: NULL) as a column of the subquery
/// column's character set and collation; `None` when the values cannot be
/// written as JSON text (binary results).
pub fn json_table(col: &Column, values: &[Option<&[u8]>], c: &Collated) -> Option<String> {
    // A column's (implicit) or an explicit `COLLATE`; a literal stays one.
    let item = match c.coercibility {
        0 => format!("setwise_v COLLATE {}", c.collation),
        2 => "setwise_v".to_string(),
        _ => return None,
    };
    let from = super::key::charset_of(col);
    let mut texts: Vec<Option<String>> = Vec::with_capacity(values.len());
    let mut chars = 1;
    for v in values {
        let t = match v {
            None => None,
            Some(b) => Some(match from {
                "utf8mb4" | "utf8mb3" | "ascii" => String::from_utf8(b.to_vec()).ok()?,
                "latin1" => b.iter().map(|&x| char::from(x)).collect(),
                _ => return None,
            }),
        };
        chars = chars.max(t.as_ref().map_or(0, |t| t.chars().count()));
        texts.push(t);
    }
    let json = serde_json::to_string(&texts).ok()?;
    let hex: String = json.bytes().map(|b| format!("{b:02X}")).collect();
    let ty = match chars {
        n if n <= 8000 => format!("VARCHAR({n})"),
        _ => "LONGTEXT".to_string(),
    };
    Some(format!(
        "(SELECT {item} FROM JSON_TABLE(_utf8mb4 X'{hex}', '$[*]' COLUMNS (setwise_v {ty}\
         {TYPED}{} COLLATE {} PATH '$')) AS setwise_values)",
        c.charset, c.collation
    ))
}

/// What [`json_table`] writes before `PATH`, which sqlparser does not read.
const TYPED: &str = " CHARACTER SET ";

/// `sql` as the gateway parses it: each [`json_table`] column's `CHARACTER
/// SET cs COLLATE c` blanked (same length, so spans stay those of `sql`),
/// which sqlparser does not read; `None` when there is none.
pub fn parsed_text(sql: &str) -> Option<String> {
    const MARK: &str = "COLUMNS (setwise_v ";
    // Materialized derived tables' columns too.
    let derived = crate::derived::columns::parsed_text(sql);
    let sql = derived.as_deref().unwrap_or(sql);
    if !sql.contains(MARK) {
        return derived;
    }
    let mut out = sql.as_bytes().to_vec();
    let mut from = 0;
    while let Some(at) = sql[from..].find(MARK).map(|i| from + i) {
        let rest = &sql[at..];
        let (Some(a), Some(b)) = (rest.find(TYPED), rest.find(" PATH '$'")) else {
            break;
        };
        if a < b {
            out[at + a..at + b].fill(b' ');
        }
        from = at + b;
    }
    String::from_utf8(out).ok()
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
            coercibility: 2,
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
            coercibility: 2,
        };
        assert!(!ci.wins());
        assert_eq!(
            json_table(&s, &[Some(b"a\"b"), None], &ci).as_deref(),
            Some(
                "(SELECT setwise_v FROM JSON_TABLE(_utf8mb4 X'5B22615C2262222C6E756C6C5D', '$[*]' \
                 COLUMNS (setwise_v VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci \
                 PATH '$')) AS setwise_values)"
            )
        );
        let literal = Collated {
            coercibility: 4,
            ..ci.clone()
        };
        assert_eq!(json_table(&s, &[Some(b"a")], &literal), None);
        assert_eq!(json_table(&bin, &[Some(b"a")], &c), None);
        let jt = json_table(&s, &[Some(b"a")], &ci).unwrap();
        let sql = format!("SELECT a FROM t WHERE a IN {jt} AND b IN {jt}");
        let parsed = parsed_text(&sql).unwrap();
        assert_eq!(parsed.len(), sql.len());
        assert!(!parsed.contains("CHARACTER SET") && parsed.contains("PATH '$'"));
        assert!(crate::sql::parse_one(&parsed).is_ok(), "{parsed}");
    }
}

#[cfg(test)]
mod located {
    #[test]
    fn a_json_table_subquery_is_located() {
        let sql = "SELECT i.a FROM t i JOIN u ON u.id = i.id WHERE i.code IN (SELECT setwise_v FROM JSON_TABLE(_utf8mb4 X'5B5D', '$[*]' COLUMNS (setwise_v VARCHAR(3) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PATH '$')) AS setwise_values)";
        let tokens = crate::sql::lexer::tokenize(sql).unwrap();
        let parsed = super::parsed_text(sql).unwrap();
        let stmt = crate::sql::parse_one(&parsed).unwrap();
        let sqlparser::ast::Statement::Query(q) = stmt else {
            panic!()
        };
        let sqlparser::ast::SetExpr::Select(s) = q.body.as_ref() else {
            panic!()
        };
        let src = super::super::source::Source::new(sql, &tokens);
        let w = s.selection.as_ref().unwrap();
        assert_eq!(src.expr(w), Some(&sql[sql.find("i.code").unwrap()..]));
    }
}
