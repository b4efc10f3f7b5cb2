//! Expressions over aggregate results (`CAST(SUM(x) AS SIGNED)`,
//! `ROUND(AVG(x), 2)`, `SUM(a) / COUNT(*)`, `COALESCE(MAX(x), 0)`), computed by
//! the gateway on merged groups. The aggregates are helper columns; the column's
//! definition (type, scale) is MariaDB's own, from the sets' answers, and the
//! exact decimal result is formatted to it.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;

use super::value::{format_decimal, format_double, Cell};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Calc {
    /// A merged column (a helper aggregate).
    Col(usize),
    /// A numeric literal.
    Num(String),
    Null,
    Neg(Box<Calc>),
    Add(Box<Calc>, Box<Calc>),
    Sub(Box<Calc>, Box<Calc>),
    Mul(Box<Calc>, Box<Calc>),
    /// `/`: NULL on division by zero, as MariaDB (without strict error mode).
    Div(Box<Calc>, Box<Calc>),
    /// `ROUND(x [, d])`, half away from zero.
    Round(Box<Calc>, i64),
    /// `TRUNCATE(x, d)`.
    Truncate(Box<Calc>, i64),
    /// `COALESCE(a, b, ...)` / `IFNULL(a, b)`.
    Coalesce(Vec<Calc>),
    /// `CAST(x AS SIGNED | UNSIGNED | DECIMAL | DOUBLE ...)`: the target type is the
    /// column's; the value is only carried through.
    Cast(Box<Calc>),
    /// `CAST(agg AS CHAR | BINARY ...)` of one merged aggregate: its text as the
    /// merge formatted it (MariaDB's text of the aggregate, scale included).
    Text(usize),
}

/// A computed value: exact decimal, or NULL.
type Num = Option<BigDecimal>;

fn num(cell: &Cell) -> Num {
    let b = cell.as_ref()?;
    BigDecimal::from_str(std::str::from_utf8(b).ok()?.trim()).ok()
}

impl Calc {
    fn eval(&self, row: &[Cell]) -> Num {
        Some(match self {
            Calc::Col(i) => return num(&row[*i]),
            Calc::Num(n) => BigDecimal::from_str(n).ok()?,
            Calc::Null => return None,
            Calc::Neg(x) => -x.eval(row)?,
            Calc::Add(a, b) => a.eval(row)? + b.eval(row)?,
            Calc::Sub(a, b) => a.eval(row)? - b.eval(row)?,
            Calc::Mul(a, b) => a.eval(row)? * b.eval(row)?,
            Calc::Div(a, b) => {
                let d = b.eval(row)?;
                if d.is_zero() {
                    return None;
                }
                // Exact enough for any scale MariaDB shows (at most 38).
                (a.eval(row)? / d).with_scale_round(40, RoundingMode::HalfUp)
            }
            Calc::Round(x, d) => x.eval(row)?.with_scale_round(*d, RoundingMode::HalfUp),
            Calc::Truncate(x, d) => x.eval(row)?.with_scale_round(*d, RoundingMode::Down),
            Calc::Coalesce(xs) => return xs.iter().find_map(|x| x.eval(row)),
            Calc::Cast(x) => x.eval(row)?,
            Calc::Text(i) => return num(&row[*i]),
        })
    }

    /// The value formatted as MariaDB sends a column of this definition.
    pub fn cell(&self, row: &[Cell], col: &Column) -> Cell {
        if let Calc::Text(i) = self {
            return row[*i].clone();
        }
        let v = self.eval(row)?;
        let text = match col.column_type() {
            ColumnType::MYSQL_TYPE_TINY
            | ColumnType::MYSQL_TYPE_SHORT
            | ColumnType::MYSQL_TYPE_LONG
            | ColumnType::MYSQL_TYPE_INT24
            | ColumnType::MYSQL_TYPE_LONGLONG
            | ColumnType::MYSQL_TYPE_YEAR => format_decimal(&v, 0),
            ColumnType::MYSQL_TYPE_FLOAT | ColumnType::MYSQL_TYPE_DOUBLE => {
                format_double(v.to_string().parse::<f64>().unwrap_or(0.0))
            }
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                format_decimal(&v, col.decimals())
            }
            // Strings (e.g. CAST AS CHAR): the plain number.
            _ => v.normalized().to_plain_string(),
        };
        Some(text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cell {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn computes_and_formats() {
        let row = vec![c("10"), c("3"), None, c("2.50")];
        let dec4 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(4);
        let div = Calc::Div(Box::new(Calc::Col(0)), Box::new(Calc::Col(1)));
        assert_eq!(div.cell(&row, &dec4), c("3.3333"));
        let int = Column::new(ColumnType::MYSQL_TYPE_LONGLONG);
        assert_eq!(Calc::Cast(Box::new(Calc::Col(3))).cell(&row, &int), c("3"));
        let text = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING);
        assert_eq!(Calc::Text(3).cell(&row, &text), c("2.50"));
        let coalesce = Calc::Coalesce(vec![Calc::Col(2), Calc::Num("0".into())]);
        assert_eq!(coalesce.cell(&row, &int), c("0"));
        let by_zero = Calc::Div(Box::new(Calc::Col(0)), Box::new(Calc::Num("0".into())));
        assert_eq!(by_zero.cell(&row, &dec4), None);
        let dec2 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2);
        let round = Calc::Round(Box::new(div), 2);
        assert_eq!(round.cell(&row, &dec2), c("3.33"));
        assert_eq!(
            Calc::Add(Box::new(Calc::Col(2)), Box::new(Calc::Col(0))).cell(&row, &int),
            None
        );
    }
}
