//! A prepared statement's rows (binary protocol) as the merge's cells, which
//! are the text protocol's: only where both carry the same bytes — strings,
//! DECIMAL, BIT, JSON, NULL — or integers, whose text is their decimal digits;
//! and DOUBLE, whose cell is then the whole value's shortest text, where the
//! text protocol would have rounded it to the column's decimals (`STD(x)`,
//! `x * 1.5` of a DOUBLE(16,3)): MariaDB's binary row carries the whole
//! double, and so must the gateway's (only a client reading binary rows gets
//! here). A result with another type (FLOAT, temporal, YEAR, a ZEROFILL
//! integer) keeps the text protocol (`super::stream::spawn_prepared`).

use mysql_async::prelude::Queryable;
use mysql_async::{Statement, Value};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;

use super::value::Cell;
use crate::backend::Conn;

/// Whether every column of a binary-protocol result converts to exactly the
/// text protocol's cell.
pub fn exact(cols: &[Column]) -> bool {
    use ColumnType::*;
    cols.iter().all(|c| match c.column_type() {
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_LONG | MYSQL_TYPE_INT24
        | MYSQL_TYPE_LONGLONG => !c.flags().contains(ColumnFlags::ZEROFILL_FLAG),
        MYSQL_TYPE_DECIMAL
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_BIT
        | MYSQL_TYPE_NULL
        | MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_ENUM
        | MYSQL_TYPE_SET
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB
        | MYSQL_TYPE_JSON
        | MYSQL_TYPE_GEOMETRY
        | MYSQL_TYPE_DOUBLE => true,
        _ => false,
    })
}

/// Whether a text answer with columns `cols` rounded a DOUBLE (one with fixed
/// decimals: `STD(x)`, `x * 1.5` of a DOUBLE(16,3)) that the binary protocol
/// would carry whole, and whose binary rows convert to cells ([`exact`]).
pub fn rounded_doubles(cols: &[Column]) -> bool {
    cols.iter()
        .any(|c| c.column_type() == ColumnType::MYSQL_TYPE_DOUBLE && c.decimals() < 31)
        && exact(cols)
}

/// One value of a row as its cell: a text row's bytes as they are, a binary
/// row's integer as its digits (other types never get here: [`exact`]).
pub fn cell(v: Option<Value>) -> Cell {
    match v {
        Some(Value::Bytes(b)) => Some(b),
        Some(Value::Int(i)) => Some(i.to_string().into_bytes()),
        Some(Value::UInt(u)) => Some(u.to_string().into_bytes()),
        Some(Value::Double(f)) if f == 0.0 && f.is_sign_negative() => Some(b"-0".to_vec()),
        Some(Value::Double(f)) => Some(super::value::format_double(f).into_bytes()),
        Some(Value::NULL) | None => None,
        // Not a type `exact` lets through; its text would be the driver's.
        Some(other) => Some(other.as_sql(false).into_bytes()),
    }
}

/// `sql` (the bytes to send) prepared on `conn` (mysql_async keeps it per
/// connection), when its result's columns are [`exact`]; `None`: run it as
/// text (it cannot be prepared, or its rows would differ).
pub async fn prepare(conn: &mut Conn, sql: Vec<u8>) -> Option<Statement> {
    let stmt = conn.prep(sql).await.ok()?;
    let cols = stmt.columns();
    (!cols.is_empty() && exact(&cols)).then_some(stmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_become_their_digits() {
        assert_eq!(cell(Some(Value::Int(-42))), Some(b"-42".to_vec()));
        assert_eq!(
            cell(Some(Value::UInt(u64::MAX))),
            Some(u64::MAX.to_string().into_bytes())
        );
        assert_eq!(
            cell(Some(Value::Bytes(b"12.50".to_vec()))),
            Some(b"12.50".to_vec())
        );
        assert_eq!(cell(Some(Value::NULL)), None);
        // A double's whole value, parsed back to the same double.
        let third = 1.0f64 / 3.0;
        let text = cell(Some(Value::Double(third))).unwrap();
        assert_eq!(
            std::str::from_utf8(&text).unwrap().parse::<f64>(),
            Ok(third)
        );
        assert_eq!(cell(Some(Value::Double(-0.0))), Some(b"-0".to_vec()));
        assert_eq!(cell(Some(Value::Double(1e300))), Some(b"1e300".to_vec()));
        assert_eq!(cell(None), None);
    }
}
