//! User variables a statement assigned on a backend connection (`SELECT @a :=
//! ...`, `... INTO @a`), read back from that connection so the session carries
//! them to every later statement, as one MariaDB connection would. Each value is
//! turned into a literal of the same type: integers and decimals as written,
//! doubles with an exponent, strings as `_charset X'..' COLLATE c` (the
//! variable's own bytes and collation), NULL. The session applies them
//! (`crate::session::vars::SessionVars::apply`).

use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;

use crate::backend::Conn;
use crate::error::ProxyError;

/// `(key, assignment)` pairs for the session's variables, one per
/// name in `names` (lower-case, without `@`), read on `conn`.
pub async fn read_back(
    conn: &mut Conn,
    set: &str,
    names: &[String],
) -> Result<Vec<(String, String)>, ProxyError> {
    let vars: Vec<Var> = names
        .iter()
        .map(|n| {
            let v = format!("@`{}`", n.replace('`', "``"));
            Var {
                key: format!("@{n}"),
                target: v.clone(),
                read: v,
            }
        })
        .collect();
    read_values(conn, set, &vars).await
}

/// A variable to read back: its session key, what an assignment names
/// (`@a`, `sql_mode`), the expression reading it (`@a`, `@@session.sql_mode`).
pub struct Var {
    pub key: String,
    pub target: String,
    pub read: String,
}

/// `(key, "target = literal")` for each variable, its value read on `conn`.
pub async fn read_values(
    conn: &mut Conn,
    set: &str,
    vars: &[Var],
) -> Result<Vec<(String, String)>, ProxyError> {
    let items: Vec<String> = vars
        .iter()
        .map(|v| {
            let r = &v.read;
            format!("{r}, HEX({r}), CHARSET({r}), COLLATION({r})")
        })
        .collect();
    let sql = format!("SELECT {}", items.join(", "));
    let mut result = conn
        .query_iter(sql)
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    let columns = result.columns().map(|c| c.to_vec()).unwrap_or_default();
    let rows: Vec<mysql_async::Row> = result
        .collect()
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| ProxyError::Internal("reading user variables gave no row".into()))?;
    let text = |i: usize| -> Option<String> {
        match row.as_ref(i) {
            Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Some(mysql_async::Value::NULL) | None => None,
            Some(other) => Some(other.as_sql(true)),
        }
    };
    let mut out = Vec::with_capacity(vars.len());
    for (k, var) in vars.iter().enumerate() {
        let at = 4 * k;
        let column = &columns[at];
        let literal = match text(at) {
            None => "NULL".to_string(),
            Some(v) => literal(
                column.column_type(),
                &v,
                &text(at + 1).unwrap_or_default(),
                &text(at + 2).unwrap_or_default(),
                &text(at + 3).unwrap_or_default(),
            ),
        };
        out.push((var.key.clone(), format!("{} = {literal}", var.target)));
    }
    Ok(out)
}

/// The literal that gives a user variable back its value and type.
fn literal(ty: ColumnType, value: &str, hex: &str, charset: &str, collation: &str) -> String {
    use ColumnType::*;
    match ty {
        MYSQL_TYPE_LONGLONG | MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 | MYSQL_TYPE_SHORT
        | MYSQL_TYPE_TINY => value.to_string(),
        // `5.`: a DECIMAL of scale 0 (`5` would be a BIGINT).
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL if !value.contains('.') => format!("{value}."),
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => value.to_string(),
        MYSQL_TYPE_DOUBLE | MYSQL_TYPE_FLOAT => {
            if value.contains(['e', 'E']) {
                value.to_string()
            } else {
                format!("{value}e0")
            }
        }
        _ if charset == "binary" => format!("_binary X'{hex}'"),
        // Plain text stays readable (the session reads sql_mode's flags off it).
        _ if value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\') =>
        {
            format!("_{charset}'{value}' COLLATE {collation}")
        }
        _ => format!("_{charset} X'{hex}' COLLATE {collation}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_keep_the_type() {
        assert_eq!(
            literal(ColumnType::MYSQL_TYPE_LONGLONG, "-5", "", "", ""),
            "-5"
        );
        assert_eq!(
            literal(ColumnType::MYSQL_TYPE_NEWDECIMAL, "1.50", "", "", ""),
            "1.50"
        );
        assert_eq!(
            literal(ColumnType::MYSQL_TYPE_NEWDECIMAL, "-2147488269", "", "", ""),
            "-2147488269."
        );
        assert_eq!(
            literal(ColumnType::MYSQL_TYPE_DOUBLE, "0.1", "", "", ""),
            "0.1e0"
        );
        assert_eq!(
            literal(ColumnType::MYSQL_TYPE_DOUBLE, "1e20", "", "", ""),
            "1e20"
        );
        assert_eq!(
            literal(
                ColumnType::MYSQL_TYPE_VAR_STRING,
                "ANSI_QUOTES,NO_AUTO_VALUE_ON_ZERO",
                "",
                "utf8mb3",
                "utf8mb3_general_ci"
            ),
            "_utf8mb3'ANSI_QUOTES,NO_AUTO_VALUE_ON_ZERO' COLLATE utf8mb3_general_ci"
        );
        assert_eq!(
            literal(
                ColumnType::MYSQL_TYPE_VAR_STRING,
                "é",
                "C3A9",
                "utf8mb4",
                "utf8mb4_general_ci"
            ),
            "_utf8mb4 X'C3A9' COLLATE utf8mb4_general_ci"
        );
        assert_eq!(
            literal(ColumnType::MYSQL_TYPE_BLOB, "x", "FF", "binary", "binary"),
            "_binary X'FF'"
        );
    }
}
