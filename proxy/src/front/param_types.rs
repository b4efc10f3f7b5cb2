//! A client's parameter types, kept as MariaDB would type them. MariaDB types
//! a `?` by the type the client sent in COM_STMT_EXECUTE (TINY, SHORT, LONG,
//! STRING, DECIMAL, DATE...), but the gateway runs statements on the sets
//! through mysql_async, which sends every integer as LONGLONG, every byte
//! string (decimals included) as VAR_STRING and every date as DATETIME. This
//! module puts the client's types back:
//!
//! * [`cast`]: where the value would otherwise differ (a DECIMAL parameter
//!   computed as a DOUBLE, a DATE one as a DATETIME, a BLOB one as text in
//!   the connection's character set), the `?` is written `CAST(? AS
//!   DECIMAL(p,s))` / `CAST(? AS DATE)` / `CAST(? AS BINARY(n))` in the text the sets run
//!   (and the literal likewise in the spliced text), which MariaDB types as
//!   it types such a parameter;
//! * [`BareParams`]: a select item that is a bare `?` has its column
//!   definition made from the client's type, as MariaDB makes it (type code,
//!   length, NOT NULL, UNSIGNED, BINARY).
//!
//! (Spliced as literals — the statements the gateway plans from its text —
//! DATETIME and TIME parameters are `TIMESTAMP'...'` / `TIME'...'` literals,
//! [`super::binary`].)
//!
//! What stays different: an integer narrower than LONGLONG inside an
//! expression (`? + 1`, `MAX(?)`, `CONCAT(?, c)` of a TINY) keeps LONGLONG's
//! type and length on the sets, as no SQL expression over a LONGLONG
//! parameter is typed as MariaDB types a TINY one; a STRING parameter passed
//! through by an expression (`COALESCE(?, c)`) is VAR_STRING; and a cast
//! parameter under COALESCE / IFNULL is nullable where MariaDB's is not.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use mysql_common::value::Value;

use crate::sql::item_names::ItemNames;

const DECIMAL: u8 = 0;
const TINY: u8 = 1;
const SHORT: u8 = 2;
const LONG: u8 = 3;
const DATE: u8 = 10;
const TIME: u8 = 11;
const DATETIME: u8 = 12;
const NEWDECIMAL: u8 = 246;
const TINY_BLOB: u8 = 249;
const BLOB: u8 = 252;
const STRING: u8 = 254;

/// Largest DECIMAL precision and scale MariaDB accepts in a CAST.
const MAX_PRECISION: usize = 65;
const MAX_SCALE: usize = 38;

/// The type to cast the parameter of client type `code` with `value` to on
/// the sets, when mysql_async's type would give it another meaning; `None`:
/// it is sent as is.
pub fn cast(code: u8, value: &Value) -> Option<String> {
    match (code, value) {
        (DECIMAL | NEWDECIMAL, Value::Bytes(b)) => {
            let (p, s) = decimal_digits(b)?;
            Some(format!("DECIMAL({p},{s})"))
        }
        (DATE, Value::Date(..)) => Some("DATE".into()),
        // Bytes, not text in the connection's character set.
        (TINY_BLOB..=BLOB, Value::Bytes(b)) => Some(format!("BINARY({})", b.len())),
        _ => None,
    }
}

/// The precision and scale MariaDB gives decimal text `b` (`[-+]digits[.digits]`),
/// as CAST bounds allow; `None` for any other form (an exponent).
fn decimal_digits(b: &[u8]) -> Option<(usize, usize)> {
    let t = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    let (int, frac) = match t.iter().position(|&c| c == b'.') {
        Some(i) => (&t[..i], &t[i + 1..]),
        None => (t, &t[..0]),
    };
    if int.is_empty() && frac.is_empty() || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    // MariaDB counts one integer digit for `0.05` (precision 3, as `-0.05` is 5 long).
    let int_digits = int.iter().skip_while(|&&c| c == b'0').count().max(1);
    let p = int_digits + frac.len();
    (p <= MAX_PRECISION && frac.len() <= MAX_SCALE).then_some((p, frac.len()))
}

/// Writes `inner` (a `?` or a literal) cast to `ty`.
pub fn wrap(inner: &str, ty: &str) -> String {
    format!("CAST({inner} AS {ty})")
}

/// One parameter as the client bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientType {
    pub code: u8,
    pub unsigned: bool,
    /// The value is NULL (its column is MariaDB's NULL column, as the sets give it).
    pub null: bool,
}

/// The select items of an execute that are bare `?`, with the client's
/// types, to give their columns MariaDB's definitions.
#[derive(Debug, Clone)]
pub struct BareParams {
    items: ItemNames,
    types: Vec<ClientType>,
}

impl BareParams {
    /// `None` when no parameter has a client type the sets would type
    /// otherwise. `items`: the statement's select items holding a `?`.
    pub fn of(items: &ItemNames, types: Vec<ClientType>) -> Option<BareParams> {
        let retyped = |t: &ClientType| {
            !t.null
                && matches!(
                    t.code,
                    TINY | SHORT
                        | LONG
                        | DECIMAL
                        | NEWDECIMAL
                        | DATE
                        | TIME
                        | DATETIME
                        | STRING
                        | TINY_BLOB..=BLOB
                )
        };
        if !types.iter().any(retyped) {
            return None;
        }
        Some(BareParams {
            items: items.clone(),
            types,
        })
    }

    /// `cols` (a result's column definitions) with each bare `?` item's made
    /// from its client type; `None`: none changes.
    pub fn apply(&self, cols: &[Column]) -> Option<Vec<Column>> {
        let params = self.items.params(cols.len());
        let mut out = None::<Vec<Column>>;
        for (i, k) in params.iter().enumerate() {
            let Some(ty) = k.and_then(|k| self.types.get(k)) else {
                continue;
            };
            if let Some(c) = bare_column(&cols[i], *ty) {
                out.get_or_insert_with(|| cols.to_vec())[i] = c;
            }
        }
        out
    }
}

/// The definition MariaDB gives a select item that is a bare `?` of client
/// type `ty`, from the one the sets gave (`col`); `None`: the same.
fn bare_column(col: &Column, ty: ClientType) -> Option<Column> {
    if ty.null {
        return None;
    }
    let number = ColumnFlags::BINARY_FLAG | ColumnFlags::NOT_NULL_FLAG;
    let (code, len, dec, flags, charset) = match ty.code {
        TINY | SHORT | LONG => {
            let len = match ty.code {
                TINY => 4,
                SHORT => 6,
                _ => 11,
            };
            let mut f = number;
            if ty.unsigned {
                f |= ColumnFlags::UNSIGNED_FLAG;
            }
            (ty.code, len, 0, f, 63)
        }
        // MariaDB's lengths for a temporal parameter: 23 for TIME, 19 for
        // DATETIME (fractions or not); a literal's are those of its text.
        TIME | DATETIME => (
            ty.code,
            if ty.code == TIME { 23 } else { 19 },
            col.decimals(),
            number,
            63,
        ),
        DECIMAL | NEWDECIMAL | DATE => (
            ty.code,
            col.column_length(),
            col.decimals(),
            number,
            col.character_set(),
        ),
        TINY_BLOB..=BLOB => (ty.code, col.column_length(), 39, number, 63),
        STRING => (
            ty.code,
            col.column_length(),
            col.decimals(),
            col.flags() | ColumnFlags::NOT_NULL_FLAG,
            col.character_set(),
        ),
        _ => return None,
    };
    let code = ColumnType::try_from(code).ok()?;
    let same = col.column_type() == code
        && col.column_length() == len
        && col.decimals() == dec
        && col.flags() == flags
        && col.character_set() == charset;
    if same {
        return None;
    }
    Some(
        Column::new(code)
            .with_schema(col.schema_ref())
            .with_table(col.table_ref())
            .with_org_table(col.org_table_ref())
            .with_name(col.name_ref())
            .with_org_name(col.org_name_ref())
            .with_flags(flags)
            .with_column_length(len)
            .with_character_set(charset)
            .with_decimals(dec),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_casts_keep_precision_and_scale() {
        let c = |s: &str| cast(NEWDECIMAL, &Value::Bytes(s.as_bytes().to_vec()));
        assert_eq!(c("1.50").as_deref(), Some("DECIMAL(3,2)"));
        assert_eq!(c("-0012.5").as_deref(), Some("DECIMAL(3,1)"));
        assert_eq!(c("0.05").as_deref(), Some("DECIMAL(3,2)"));
        assert_eq!(c("0").as_deref(), Some("DECIMAL(1,0)"));
        assert_eq!(c("7.").as_deref(), Some("DECIMAL(1,0)"));
        assert_eq!(c(".5").as_deref(), Some("DECIMAL(2,1)"));
        assert_eq!(c("1E+5"), None);
        assert_eq!(c("."), None);
        assert_eq!(c(&"9".repeat(66)), None);
        assert_eq!(
            cast(DATE, &Value::Date(2020, 1, 2, 0, 0, 0, 0)).as_deref(),
            Some("DATE")
        );
        assert_eq!(cast(TINY, &Value::Int(1)), None);
        assert_eq!(
            cast(BLOB, &Value::Bytes(vec![0, 255])).as_deref(),
            Some("BINARY(2)")
        );
    }

    #[test]
    fn bare_items_take_the_client_type() {
        let ty = |code, unsigned| ClientType {
            code,
            unsigned,
            null: false,
        };
        let items = ItemNames::of("SELECT ?, ? + 1, c, ? AS s FROM t WHERE c = ?").unwrap();
        let b = BareParams::of(
            &items,
            vec![
                ty(TINY, true),
                ty(TINY, false),
                ty(STRING, false),
                ty(TINY, false),
            ],
        )
        .unwrap();
        let long = Column::new(ColumnType::MYSQL_TYPE_LONGLONG)
            .with_flags(
                ColumnFlags::BINARY_FLAG | ColumnFlags::NOT_NULL_FLAG | ColumnFlags::UNSIGNED_FLAG,
            )
            .with_column_length(21)
            .with_character_set(63);
        let var = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
            .with_column_length(8)
            .with_character_set(45);
        let cols = b
            .apply(&[long.clone(), long.clone(), long.clone(), var])
            .unwrap();
        assert_eq!(cols[0].column_type(), ColumnType::MYSQL_TYPE_TINY);
        assert_eq!(cols[0].column_length(), 4);
        assert!(cols[0].flags().contains(ColumnFlags::UNSIGNED_FLAG));
        assert_eq!(cols[1], long);
        assert_eq!(cols[2], long);
        assert_eq!(cols[3].column_type(), ColumnType::MYSQL_TYPE_STRING);
        assert!(cols[3].flags().contains(ColumnFlags::NOT_NULL_FLAG));
    }
}
