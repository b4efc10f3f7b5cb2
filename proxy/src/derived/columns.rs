//! A materialized block's rows as a `JSON_TABLE` whose columns have the block's
//! own types: what MariaDB's temporary table for the derived table would hold,
//! so the outer statement computes over the same values of the same types.
//!
//! Types come from the block's merged column definitions (type, length,
//! decimals, unsigned) and, for text, the character set and collation read with
//! `COLLATION()` ([`Collated`]). Values travel as JSON strings (or `null`), which
//! MariaDB converts to each column's type exactly: integers, DECIMAL text,
//! temporal text, and DOUBLE text (MariaDB prints the shortest text that reads
//! back as the same double). Refused (1235) where no exact column exists:
//! FLOAT (printed with 6 digits), BIT, ENUM / SET, geometry, untyped NULL
//! columns, zero-filled integers, and binary values that are not UTF-8 text.

use mysql_common::collations::{Collation, CollationId};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;

use crate::error::ProxyError;
use crate::merge::value::Cell;

/// The most bytes of JSON one block's rows may take in the statement (hex
/// doubles it; MariaDB's `max_allowed_packet` bounds the statement).
pub const MAX_JSON: usize = 4 << 20;

/// A text column's character set and collation, as `CHARSET()` and
/// `COLLATION()` name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collated {
    pub charset: String,
    pub collation: String,
}

fn refused(what: String) -> ProxyError {
    ProxyError::NotSupported(format!(
        "a derived table over rows of several sets with {what} (its rows cannot be materialized with their exact type)"
    ))
}

/// Whether `col` holds strings of a character set (its values compare by
/// collation): its collation must be read.
pub fn is_text(col: &Column) -> bool {
    use ColumnType::*;
    matches!(
        col.column_type(),
        MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
    ) && col.character_set() != 63
}

/// The result character set's collation (what the values' bytes are in).
fn result_collation(col: &Column) -> Option<Collation<'static>> {
    let id = CollationId::from(col.character_set());
    (id != CollationId::UNKNOWN_COLLATION_ID).then(|| Collation::resolve(id))
}

fn name(col: &Column) -> String {
    String::from_utf8_lossy(col.name_ref()).into_owned()
}

/// The SQL type of a `JSON_TABLE` column holding `col`'s values (`text`: its
/// character set and collation, for text columns).
pub fn declared(col: &Column, text: Option<&Collated>) -> Result<String, ProxyError> {
    use ColumnType::*;
    let flags = col.flags();
    let unsigned = if flags.contains(ColumnFlags::UNSIGNED_FLAG) {
        " UNSIGNED"
    } else {
        ""
    };
    let what = |t: &str| refused(format!("a {t} column (`{}`)", name(col)));
    if flags.intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG) {
        return Err(what("ENUM or SET"));
    }
    let int = |t: &str| -> Result<String, ProxyError> {
        if flags.contains(ColumnFlags::ZEROFILL_FLAG) {
            return Err(what("ZEROFILL"));
        }
        Ok(format!("{t}{unsigned}"))
    };
    let dec = col.decimals();
    let fraction = |t: &str| {
        if dec == 0 {
            t.to_string()
        } else {
            format!("{t}({})", dec.min(6))
        }
    };
    let len = col.column_length() as usize;
    Ok(match col.column_type() {
        MYSQL_TYPE_TINY => int("TINYINT")?,
        MYSQL_TYPE_SHORT => int("SMALLINT")?,
        MYSQL_TYPE_INT24 => int("MEDIUMINT")?,
        MYSQL_TYPE_LONG => int("INT")?,
        MYSQL_TYPE_LONGLONG => int("BIGINT")?,
        MYSQL_TYPE_YEAR => "YEAR".to_string(),
        MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => {
            // Length counts the sign and the point.
            let d = usize::from(dec.min(38));
            let m = len
                .saturating_sub(usize::from(d > 0))
                .saturating_sub(usize::from(unsigned.is_empty()));
            let m = m.clamp(d.max(1), 65);
            format!("DECIMAL({m},{d}){unsigned}")
        }
        MYSQL_TYPE_DOUBLE if dec < 31 => {
            format!(
                "DOUBLE({},{dec}){unsigned}",
                len.clamp(usize::from(dec).max(1), 255)
            )
        }
        MYSQL_TYPE_DOUBLE => format!("DOUBLE{unsigned}"),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "DATE".to_string(),
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_DATETIME2 => fraction("DATETIME"),
        MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_TIMESTAMP2 => fraction("TIMESTAMP"),
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => fraction("TIME"),
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_STRING => {
            let fixed = col.column_type() == MYSQL_TYPE_STRING;
            match text {
                None if col.character_set() == 63 => {
                    let t = if fixed { "BINARY" } else { "VARBINARY" };
                    format!("{t}({len})")
                }
                None => return Err(what("string of an unread collation")),
                Some(c) => {
                    let per = result_collation(col).map_or(4, |c| usize::from(c.max_len().max(1)));
                    let chars = len / per;
                    let t = if fixed { "CHAR" } else { "VARCHAR" };
                    if chars > if fixed { 255 } else { 16_383 } {
                        return Err(what("long string"));
                    }
                    format!(
                        "{t}({chars}) CHARACTER SET {} COLLATE {}",
                        c.charset, c.collation
                    )
                }
            }
        }
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            let size = match len {
                0..=255 => "TINY",
                256..=65_535 => "",
                65_536..=16_777_215 => "MEDIUM",
                _ => "LONG",
            };
            match text {
                None if col.character_set() == 63 => format!("{size}BLOB"),
                None => return Err(what("text of an unread collation")),
                Some(c) => format!(
                    "{size}TEXT CHARACTER SET {} COLLATE {}",
                    c.charset, c.collation
                ),
            }
        }
        MYSQL_TYPE_FLOAT => return Err(what("FLOAT")),
        MYSQL_TYPE_BIT => return Err(what("BIT")),
        MYSQL_TYPE_NULL => return Err(what("NULL-typed")),
        MYSQL_TYPE_GEOMETRY => return Err(what("geometry")),
        other => return Err(what(&format!("{other:?}"))),
    })
}

/// A value's bytes (in the column's result character set) as JSON text.
fn json_text(col: &Column, v: &[u8]) -> Result<String, ProxyError> {
    let latin1 = result_collation(col).is_some_and(|c| c.charset() == "latin1");
    // Else numbers, temporals, binary strings and UTF-8 text.
    let s = if latin1 {
        Some(v.iter().map(|&b| char::from(b)).collect())
    } else {
        String::from_utf8(v.to_vec()).ok()
    };
    s.ok_or_else(|| refused(format!("values of `{}` that are not UTF-8 text", name(col))))
}

/// The rows as a JSON array of arrays of strings and nulls.
pub fn json(cols: &[Column], rows: &[Vec<Cell>]) -> Result<String, ProxyError> {
    let mut out = String::from("[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, (c, v)) in cols.iter().zip(r).enumerate() {
            if j > 0 {
                out.push(',');
            }
            match v {
                None => out.push_str("null"),
                Some(b) => {
                    let t = json_text(c, b)?;
                    out.push_str(
                        &serde_json::to_string(&t).map_err(|e| {
                            ProxyError::Internal(format!("derived rows as JSON: {e}"))
                        })?,
                    );
                }
            }
        }
        out.push(']');
        if out.len() > MAX_JSON {
            return Err(ProxyError::NotSupported(format!(
                "a derived table over rows of several sets larger than {} MiB once materialized",
                MAX_JSON >> 20
            )));
        }
    }
    out.push(']');
    Ok(out)
}

/// What the generated `JSON_TABLE` columns are called (`setwise_c1`, ...), and
/// what marks them for [`parsed_text`].
const COLUMN: &str = "setwise_c";
const MARK: &str = "'$[*]' COLUMNS (setwise_c1 ";
const END: &str = ")) AS setwise_m)";

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The block's replacement: `(SELECT setwise_c1 AS name, ... FROM JSON_TABLE(...)
/// AS setwise_m)`, its columns named as the block's.
pub fn table(cols: &[Column], decls: &[String], rows: &[Vec<Cell>]) -> Result<String, ProxyError> {
    let json = json(cols, rows)?;
    let hex: String = json.bytes().map(|b| format!("{b:02X}")).collect();
    let items: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{COLUMN}{} AS {}", i + 1, quoted(&name(c))))
        .collect();
    let defs: Vec<String> = decls
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{COLUMN}{} {d} PATH '$[{i}]'", i + 1))
        .collect();
    Ok(format!(
        "(SELECT {} FROM JSON_TABLE(_utf8mb4 X'{hex}', {}{}{END}",
        items.join(", "),
        &MARK[..MARK.len() - "setwise_c1 ".len()],
        defs.join(", ")
    ))
}

/// `sql` with each generated column's `CHARACTER SET cs COLLATE c` blanked
/// (same length, so spans stay those of `sql`), which sqlparser does not read;
/// `None` when there is none.
pub fn parsed_text(sql: &str) -> Option<String> {
    if !sql.contains(MARK) {
        return None;
    }
    let mut out = sql.as_bytes().to_vec();
    let mut from = 0;
    while let Some(at) = sql[from..].find(MARK).map(|i| from + i) {
        let end = sql[at..].find(END).map_or(sql.len(), |e| at + e);
        let mut i = at;
        while let Some(a) = sql[i..end].find(" CHARACTER SET ").map(|x| i + x) {
            let Some(b) = sql[a..end].find(" PATH '$[").map(|x| a + x) else {
                break;
            };
            out[a..b].fill(b' ');
            i = b;
        }
        from = end;
    }
    String::from_utf8(out).ok()
}

/// Whether the rewritten statement's columns (`got`) hold values of the types
/// MariaDB gives the client's statement (`want`): same count, type, unsigned,
/// binary or text, and decimals of numbers and temporals.
pub fn agree(want: &[Column], got: &[Column]) -> Result<(), ProxyError> {
    let differ = |what: String| {
        refused(format!(
            "a column whose type the gateway cannot reproduce ({what})"
        ))
    };
    if want.len() != got.len() {
        return Err(differ("column count".into()));
    }
    for (w, g) in want.iter().zip(got) {
        let same_type = w.column_type() == g.column_type()
            || [w.column_type(), g.column_type()].iter().all(|t| {
                matches!(
                    t,
                    ColumnType::MYSQL_TYPE_VARCHAR | ColumnType::MYSQL_TYPE_VAR_STRING
                )
            });
        let unsigned = |c: &Column| c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
        let binary = |c: &Column| c.character_set() == 63;
        let decimals = is_text(w) || w.decimals() == g.decimals();
        if !same_type || unsigned(w) != unsigned(g) || binary(w) != binary(g) || !decimals {
            return Err(differ(format!(
                "`{}`: {:?}/{} against {:?}/{}",
                name(w),
                w.column_type(),
                w.decimals(),
                g.column_type(),
                g.decimals()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(t: ColumnType, len: u32, dec: u8, cs: u16) -> Column {
        Column::new(t)
            .with_name(b"c")
            .with_column_length(len)
            .with_decimals(dec)
            .with_character_set(cs)
    }

    #[test]
    fn types_are_declared_exactly() {
        use ColumnType::*;
        let utf = Collated {
            charset: "utf8mb4".into(),
            collation: "utf8mb4_unicode_ci".into(),
        };
        assert_eq!(
            declared(&col(MYSQL_TYPE_LONGLONG, 21, 0, 63), None).unwrap(),
            "BIGINT"
        );
        let u = col(MYSQL_TYPE_LONG, 10, 0, 63).with_flags(ColumnFlags::UNSIGNED_FLAG);
        assert_eq!(declared(&u, None).unwrap(), "INT UNSIGNED");
        assert_eq!(
            declared(&col(MYSQL_TYPE_NEWDECIMAL, 12, 2, 63), None).unwrap(),
            "DECIMAL(10,2)"
        );
        assert_eq!(
            declared(&col(MYSQL_TYPE_NEWDECIMAL, 22, 0, 63), None).unwrap(),
            "DECIMAL(21,0)"
        );
        assert_eq!(
            declared(&col(MYSQL_TYPE_DATETIME, 23, 3, 63), None).unwrap(),
            "DATETIME(3)"
        );
        assert_eq!(
            declared(&col(MYSQL_TYPE_DOUBLE, 22, 31, 63), None).unwrap(),
            "DOUBLE"
        );
        assert_eq!(
            declared(&col(MYSQL_TYPE_VAR_STRING, 80, 0, 45), Some(&utf)).unwrap(),
            "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        );
        assert_eq!(
            declared(&col(MYSQL_TYPE_VAR_STRING, 10, 0, 63), None).unwrap(),
            "VARBINARY(10)"
        );
        assert_eq!(
            declared(&col(MYSQL_TYPE_BLOB, 65_535, 0, 63), None).unwrap(),
            "BLOB"
        );
        for bad in [
            col(MYSQL_TYPE_FLOAT, 12, 31, 63),
            col(MYSQL_TYPE_BIT, 1, 0, 63),
            col(MYSQL_TYPE_STRING, 4, 0, 45).with_flags(ColumnFlags::ENUM_FLAG),
        ] {
            assert!(declared(&bad, Some(&utf)).is_err());
        }
    }

    #[test]
    fn rows_become_a_parsable_json_table() {
        use ColumnType::*;
        let cols = vec![
            col(MYSQL_TYPE_LONG, 11, 0, 63).with_name(b"g"),
            col(MYSQL_TYPE_VAR_STRING, 80, 0, 45).with_name(b"COUNT(`x`)"),
        ];
        let utf = Collated {
            charset: "utf8mb4".into(),
            collation: "utf8mb4_unicode_ci".into(),
        };
        let decls = vec![
            declared(&cols[0], None).unwrap(),
            declared(&cols[1], Some(&utf)).unwrap(),
        ];
        let rows = vec![
            vec![Some(b"1".to_vec()), Some("a\"'é".as_bytes().to_vec())],
            vec![None, None],
        ];
        assert_eq!(
            json(&cols, &rows).unwrap(),
            r#"[["1","a\"'é"],[null,null]]"#
        );
        let t = table(&cols, &decls, &rows).unwrap();
        assert!(t.starts_with("(SELECT setwise_c1 AS `g`, setwise_c2 AS `COUNT(``x``)` FROM JSON_TABLE(_utf8mb4 X'"), "{t}");
        assert!(t.ends_with(", '$[*]' COLUMNS (setwise_c1 INT PATH '$[0]', setwise_c2 VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PATH '$[1]')) AS setwise_m)"), "{t}");
        let sql = format!("SELECT COUNT(*) FROM {t} AS x JOIN {t} AS y");
        let parsed = parsed_text(&sql).unwrap();
        assert_eq!(parsed.len(), sql.len());
        assert!(!parsed.contains("CHARACTER SET"));
        assert!(crate::sql::parse_one(&parsed).is_ok(), "{parsed}");
        assert_eq!(json(&cols, &[]).unwrap(), "[]");
        // Beyond the bound: refused with 1235, not sent.
        let big = vec![vec![None, Some(vec![b'x'; MAX_JSON])]];
        let e = json(&cols, &big).unwrap_err();
        assert_eq!(e.code(), 1235, "{e}");
        // Binary values that are not UTF-8 text.
        let bin = vec![col(MYSQL_TYPE_VAR_STRING, 4, 0, 63)];
        assert!(json(&bin, &[vec![Some(vec![0xff, 0x00])]]).is_err());
    }

    #[test]
    fn types_must_agree() {
        use ColumnType::*;
        let a = col(MYSQL_TYPE_NEWDECIMAL, 12, 2, 63);
        assert!(agree(std::slice::from_ref(&a), std::slice::from_ref(&a)).is_ok());
        let b = col(MYSQL_TYPE_NEWDECIMAL, 12, 3, 63);
        assert!(agree(std::slice::from_ref(&a), &[b]).is_err());
        let s = col(MYSQL_TYPE_VAR_STRING, 80, 0, 45);
        let s2 = col(MYSQL_TYPE_VARCHAR, 40, 39, 45);
        assert!(agree(std::slice::from_ref(&s), &[s2]).is_ok());
        assert!(agree(&[s], &[a]).is_err());
    }
}
