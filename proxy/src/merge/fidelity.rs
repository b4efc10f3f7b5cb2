//! Merges whose answer the gateway could not make identical to MariaDB's,
//! found from the sets' column definitions before anything is sent, so they
//! are refused (1235) instead of answered differently:
//!
//! * an ENUM or SET column as a sort, group or DISTINCT key: MariaDB orders
//!   them by their index in the definition, which the result does not carry
//!   (the gateway sees the text and its collation weight only);
//! * a BIT column inside `GROUP_CONCAT(... ORDER BY / DISTINCT)`: the sets send
//!   the field's raw bytes, where MariaDB writes the number;
//! * a FLOAT column in a binary-protocol (prepared statement) merge: the sets'
//!   text carries 6 significant digits, MariaDB's binary row the whole FLOAT;
//!   likewise arithmetic over a FLOAT aggregate (`MAX(f) - MIN(f)`), which
//!   MariaDB computes from the whole values;
//! * arithmetic, a numeric CAST, ROUND, COALESCE... over MIN / MAX of a string,
//!   temporal or JSON column (`MAX(s) + 0`, `IFNULL(MIN(t), 0)`): the gateway
//!   computes in decimals only;
//!
//! and, once a group is complete, a DECIMAL sum that overflowed its result
//! type ([`overflow`]): MariaDB's own answer then depends on the order it
//! added the rows in.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;

use super::calc::Calc;
use super::value::Cell;
use super::{AggSpec, KeySpec, MergeSpec};

/// Why `spec` (resolved) cannot be merged exactly over columns `cols`, if so.
/// `binary`: the client reads rows in the binary protocol.
pub fn refusal(spec: &MergeSpec, cols: &[Column], binary: bool) -> Option<String> {
    let ordinal = |c: &Column| {
        c.flags()
            .intersects(ColumnFlags::ENUM_FLAG | ColumnFlags::SET_FLAG)
    };
    let key_sets: [Option<&[KeySpec]>; 3] = [
        Some(&spec.keys),
        spec.group_keys.as_deref(),
        spec.final_order.as_deref(),
    ];
    let mut values: Vec<usize> = key_sets
        .into_iter()
        .flatten()
        .flatten()
        .map(|k| k.value)
        .collect();
    for aggs in [spec.group.as_deref(), spec.pre_group.as_deref()]
        .into_iter()
        .flatten()
    {
        for a in aggs {
            match a {
                AggSpec::CountDistinct { value, .. } => values.push(*value),
                AggSpec::OrderedConcat { args, .. } => {
                    let bit = args.iter().any(|&i| {
                        cols.get(i)
                            .is_some_and(|c| c.column_type() == ColumnType::MYSQL_TYPE_BIT)
                    });
                    if bit {
                        return Some(
                            "GROUP_CONCAT / JSON_ARRAYAGG(... ORDER BY / DISTINCT ...) of a BIT \
                             column across sets (use col + 0)"
                                .into(),
                        );
                    }
                }
                _ => {}
            }
        }
    }
    if values.iter().any(|&v| cols.get(v).is_some_and(ordinal)) {
        return Some(
            "ORDER BY / GROUP BY / DISTINCT on an ENUM or SET column across sets \
             (MariaDB orders them by their index; use CAST(col AS CHAR) or col + 0)"
                .into(),
        );
    }
    let is_float = |c: &Column| c.column_type() == ColumnType::MYSQL_TYPE_FLOAT;
    let mut used = Vec::new();
    for (_, calc) in &spec.computed {
        calc_columns(calc, &mut used);
    }
    let numeric = |c: &Column| {
        matches!(
            c.column_type(),
            ColumnType::MYSQL_TYPE_TINY
                | ColumnType::MYSQL_TYPE_SHORT
                | ColumnType::MYSQL_TYPE_LONG
                | ColumnType::MYSQL_TYPE_INT24
                | ColumnType::MYSQL_TYPE_LONGLONG
                | ColumnType::MYSQL_TYPE_YEAR
                | ColumnType::MYSQL_TYPE_DECIMAL
                | ColumnType::MYSQL_TYPE_NEWDECIMAL
                | ColumnType::MYSQL_TYPE_FLOAT
                | ColumnType::MYSQL_TYPE_DOUBLE
        )
    };
    let text_only = |c: &Calc| matches!(c, Calc::Text(_));
    let arithmetic: Vec<usize> = spec
        .computed
        .iter()
        .filter(|(_, c)| !text_only(c))
        .flat_map(|(_, c)| {
            let mut v = Vec::new();
            calc_columns(c, &mut v);
            v
        })
        .collect();
    if arithmetic
        .iter()
        .any(|&i| cols.get(i).is_some_and(|c| !numeric(c)))
    {
        return Some(
            "an expression over MIN / MAX of a string, temporal or JSON column across sets \
             (MariaDB converts such values in ways the gateway does not compute)"
                .into(),
        );
    }
    if used.iter().any(|&i| cols.get(i).is_some_and(is_float)) {
        return Some(
            "arithmetic over MIN / MAX of a FLOAT column across sets \
             (the sets' text has 6 digits; use CAST(col AS DOUBLE))"
                .into(),
        );
    }
    let float = cols[..spec.visible.min(cols.len())].iter().any(is_float);
    if binary && float {
        return Some(
            "a FLOAT column in a prepared statement's result merged across sets \
             (the sets' text has 6 digits; use CAST(col AS DOUBLE) or the text protocol)"
                .into(),
        );
    }
    None
}

/// The merged columns `calc` reads.
fn calc_columns(calc: &Calc, out: &mut Vec<usize>) {
    match calc {
        Calc::Col(i) => out.push(*i),
        Calc::Num(_) | Calc::Null => {}
        Calc::Neg(x) | Calc::Round(x, _) | Calc::Truncate(x, _) | Calc::Cast(x) => {
            calc_columns(x, out)
        }
        Calc::Text(i) => out.push(*i),
        Calc::Add(a, b) | Calc::Sub(a, b) | Calc::Mul(a, b) | Calc::Div(a, b, _) => {
            calc_columns(a, out);
            calc_columns(b, out);
        }
        Calc::Coalesce(xs) => xs.iter().for_each(|x| calc_columns(x, out)),
    }
}

/// Integer digits a DECIMAL result column holds (from its display length:
/// digits, a point when it has decimals, a sign unless UNSIGNED).
fn integer_digits(col: &Column) -> usize {
    let dec = usize::from(col.decimals());
    let sign = usize::from(!col.flags().contains(ColumnFlags::UNSIGNED_FLAG));
    let point = usize::from(dec > 0);
    (col.column_length() as usize).saturating_sub(dec + point + sign)
}

/// Whether DECIMAL `cell` is at or beyond the largest magnitude of `col`:
/// a sum a set clamped there, or one the sets' sums add up past.
fn at_limit(cell: &[u8], col: &Column) -> bool {
    let text = std::str::from_utf8(cell).unwrap_or("").trim();
    let body = text.trim_start_matches(['-', '+']);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let max = integer_digits(col);
    int.len() > max || (int.len() == max && int.bytes().chain(frac.bytes()).all(|b| b == b'9'))
}

/// Why a complete group's DECIMAL sums (SUM, and AVG's helper) cannot be
/// answered, if one overflowed its result type.
pub fn overflow(row: &[Cell], aggs: &[AggSpec], cols: &[Column]) -> Option<String> {
    let decimal = |c: &Column| c.column_type() == ColumnType::MYSQL_TYPE_NEWDECIMAL;
    let sums = aggs.iter().enumerate().filter_map(|(i, a)| match a {
        AggSpec::Sum => Some(i),
        AggSpec::Avg { sum, .. } => Some(*sum),
        _ => None,
    });
    for i in sums {
        let (Some(col), Some(Some(v))) = (cols.get(i), row.get(i)) else {
            continue;
        };
        if decimal(col) && at_limit(v, col) {
            return Some(format!(
                "a SUM / AVG overflowing DECIMAL({}) across sets",
                integer_digits(col) + usize::from(col.decimals())
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: &[usize], visible: usize) -> MergeSpec {
        MergeSpec {
            visible,
            keys: keys
                .iter()
                .map(|&value| KeySpec {
                    value,
                    weight: None,
                    desc: false,
                })
                .collect(),
            ..MergeSpec::default()
        }
    }

    #[test]
    fn refuses_what_it_cannot_merge_exactly() {
        let text = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING);
        let enum_col =
            Column::new(ColumnType::MYSQL_TYPE_STRING).with_flags(ColumnFlags::ENUM_FLAG);
        let float = Column::new(ColumnType::MYSQL_TYPE_FLOAT);
        let cols = vec![text.clone(), enum_col, float];
        assert!(refusal(&spec(&[0], 1), &cols, true).is_none());
        assert!(refusal(&spec(&[1], 2), &cols, false).is_some());
        // The ENUM shown, not ordered by: fine.
        assert!(refusal(&spec(&[0], 2), &cols, false).is_none());
        // FLOAT: only for binary rows.
        assert!(refusal(&spec(&[0], 3), &cols, false).is_none());
        assert!(refusal(&spec(&[0], 3), &cols, true).is_some());
    }

    #[test]
    fn finds_decimal_sums_at_their_limit() {
        // DECIMAL(65,0): length 66 (sign); DECIMAL(32,2): 34.
        let d65 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_column_length(66);
        let d32 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
            .with_column_length(34)
            .with_decimals(2);
        let nines = "9".repeat(65);
        assert!(at_limit(nines.as_bytes(), &d65));
        assert!(at_limit(format!("-{nines}").as_bytes(), &d65));
        assert!(!at_limit(format!("{}8", &nines[1..]).as_bytes(), &d65));
        assert!(at_limit(format!("1{nines}").as_bytes(), &d65));
        assert!(!at_limit(b"123.45", &d32));
        assert!(at_limit(format!("{}.99", "9".repeat(30)).as_bytes(), &d32));
        assert!(!at_limit(format!("{}.98", "9".repeat(30)).as_bytes(), &d32));
        let aggs = [AggSpec::Any, AggSpec::Sum];
        let row = vec![None, Some(nines.into_bytes())];
        assert!(overflow(&row, &aggs, &[d32, d65]).is_some());
    }
}
