//! Expressions over aggregate results (`CAST(SUM(x) AS SIGNED)`,
//! `ROUND(AVG(x), 2)`, `SUM(a) / COUNT(*)`, `COALESCE(MAX(x), 0)`), computed by
//! the gateway on merged groups. The aggregates are helper columns; the column's
//! definition (type, scale) is MariaDB's own, from the sets' answers, and the
//! exact decimal result is formatted to it.

use std::str::FromStr;

use bigdecimal::{BigDecimal, RoundingMode, Zero};
use mysql_common::constants::ColumnType;
use mysql_common::packets::Column;

use super::value::{decimal_div, format_decimal, format_double, Cell};

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
    /// The column holds the session's `div_precision_increment` (a helper
    /// `@@div_precision_increment`): decimal quotients are cut where
    /// MariaDB's are ([`decimal_div`]).
    Div(Box<Calc>, Box<Calc>, usize),
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
    /// The value; `decimal`: the expression is MariaDB's decimal arithmetic
    /// (not DOUBLE, whose quotients are not cut).
    fn eval(&self, row: &[Cell], decimal: bool) -> Num {
        let eval = |x: &Calc| x.eval(row, decimal);
        Some(match self {
            Calc::Col(i) => return num(&row[*i]),
            Calc::Num(n) => BigDecimal::from_str(n).ok()?,
            Calc::Null => return None,
            Calc::Neg(x) => -eval(x)?,
            Calc::Add(a, b) => eval(a)? + eval(b)?,
            Calc::Sub(a, b) => eval(a)? - eval(b)?,
            Calc::Mul(a, b) => eval(a)? * eval(b)?,
            Calc::Div(a, b, incr) => {
                let d = eval(b)?;
                if d.is_zero() {
                    return None;
                }
                let n = eval(a)?;
                match num(&row[*incr]).and_then(|i| i.to_string().parse::<i64>().ok()) {
                    Some(incr) if decimal => decimal_div(&n, &d, incr)?,
                    // Exact enough for any scale MariaDB shows (at most 38).
                    _ => (n / d).with_scale_round(40, RoundingMode::HalfUp),
                }
            }
            Calc::Round(x, d) => eval(x)?.with_scale_round(*d, RoundingMode::HalfUp),
            Calc::Truncate(x, d) => eval(x)?.with_scale_round(*d, RoundingMode::Down),
            Calc::Coalesce(xs) => return xs.iter().find_map(eval),
            Calc::Cast(x) => eval(x)?,
            Calc::Text(i) => return num(&row[*i]),
        })
    }

    /// The value formatted as MariaDB sends a column of this definition.
    pub fn cell(&self, row: &[Cell], col: &Column) -> Cell {
        if let Calc::Text(i) = self {
            return row[*i].clone();
        }
        let float = matches!(
            col.column_type(),
            ColumnType::MYSQL_TYPE_FLOAT | ColumnType::MYSQL_TYPE_DOUBLE
        );
        let v = self.eval(row, !float)?;
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
        let row = vec![c("10"), c("3"), None, c("2.50"), c("4"), c("0")];
        let dec4 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(4);
        let div = Calc::Div(Box::new(Calc::Col(0)), Box::new(Calc::Col(1)), 4);
        assert_eq!(div.cell(&row, &dec4), c("3.3333"));
        let int = Column::new(ColumnType::MYSQL_TYPE_LONGLONG);
        assert_eq!(Calc::Cast(Box::new(Calc::Col(3))).cell(&row, &int), c("3"));
        let text = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING);
        assert_eq!(Calc::Text(3).cell(&row, &text), c("2.50"));
        let coalesce = Calc::Coalesce(vec![Calc::Col(2), Calc::Num("0".into())]);
        assert_eq!(coalesce.cell(&row, &int), c("0"));
        let by_zero = Calc::Div(Box::new(Calc::Col(0)), Box::new(Calc::Num("0".into())), 4);
        assert_eq!(by_zero.cell(&row, &dec4), None);
        let dec2 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(2);
        let round = Calc::Round(Box::new(div.clone()), 2);
        assert_eq!(round.cell(&row, &dec2), c("3.33"));
        // The quotient keeps MariaDB's digits (9 here) for what follows:
        // (10 / 3) * 1000 is 3333.3333, not 3333.0000.
        let times = Calc::Mul(Box::new(div), Box::new(Calc::Num("1000".into())));
        assert_eq!(times.cell(&row, &dec4), c("3333.3333"));
        // Under div_precision_increment = 0 the quotient of integers is cut.
        let cut = Calc::Div(Box::new(Calc::Col(0)), Box::new(Calc::Col(1)), 5);
        let dec0 = Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL).with_decimals(0);
        assert_eq!(cut.cell(&row, &dec0), c("3"));
        let halves = Calc::Div(
            Box::new(Calc::Num("7".into())),
            Box::new(Calc::Num("2".into())),
            5,
        );
        assert_eq!(halves.cell(&row, &dec0), c("3"));
        assert_eq!(
            Calc::Add(Box::new(Calc::Col(2)), Box::new(Calc::Col(0))).cell(&row, &int),
            None
        );
    }
}
