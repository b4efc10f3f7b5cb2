//! `HAVING` evaluated by the gateway on merged groups: comparisons of aggregate
//! results and group keys with literals or each other, combined with AND / OR /
//! NOT. (Each set cannot apply HAVING itself: it sees only part of every group.)
//!
//! Numbers compare numerically; strings by collation weight (PAD SPACE), a
//! literal's weight computed by MariaDB in the column's collation; dates and
//! datetimes chronologically. A comparison MariaDB would make through a
//! conversion the gateway does not reproduce (a string column against a number,
//! two collations) is refused when it is met, never guessed.

use std::cmp::Ordering;

use mysql_common::packets::Column;

use super::value::{cmp_for, compare, needs_weight, Cell, Cmp};

/// A value in a HAVING predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A column of the merged row (visible or helper), and the helper column
    /// holding its collation weight when it may be compared as a string.
    Col { value: usize, weight: Option<usize> },
    /// A numeric literal's text, or NULL.
    Lit(Option<String>),
    /// A string literal, and the helper column holding its weight in the
    /// collation of the column it is compared with.
    Str { text: String, weight: Option<usize> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// A predicate over a merged row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Cmp(Operand, CmpOp, Operand),
    IsNull(Operand, bool),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// True when helper column `n` is 1 (each set's `COLLATION(..) =
    /// COLLATION(..)` of two compared strings); refuses the statement
    /// otherwise: strings of two collations are compared by a conversion the
    /// gateway does not reproduce.
    SameCollation(usize),
}

/// SQL's three-valued logic: `None` is UNKNOWN.
type Truth = Option<bool>;

/// A comparison the gateway cannot evaluate exactly as MariaDB: why.
pub type Refused = String;

impl Filter {
    /// Whether `row` passes (UNKNOWN does not).
    pub fn passes(&self, row: &[Cell], cols: &[Column]) -> Result<bool, Refused> {
        Ok(self.eval(row, cols)? == Some(true))
    }

    fn eval(&self, row: &[Cell], cols: &[Column]) -> Result<Truth, Refused> {
        Ok(match self {
            Filter::Cmp(a, op, b) => compare_operands(a, b, row, cols)?.map(|o| match op {
                CmpOp::Eq => o == Ordering::Equal,
                CmpOp::NotEq => o != Ordering::Equal,
                CmpOp::Lt => o == Ordering::Less,
                CmpOp::LtEq => o != Ordering::Greater,
                CmpOp::Gt => o == Ordering::Greater,
                CmpOp::GtEq => o != Ordering::Less,
            }),
            Filter::IsNull(a, negated) => {
                let is_null = match a {
                    Operand::Col { value, .. } => row[*value].is_none(),
                    Operand::Lit(v) => v.is_none(),
                    Operand::Str { .. } => false,
                };
                Some(is_null != *negated)
            }
            Filter::And(x, y) => match (x.eval(row, cols)?, y.eval(row, cols)?) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Filter::Or(x, y) => match (x.eval(row, cols)?, y.eval(row, cols)?) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Filter::Not(x) => x.eval(row, cols)?.map(|t| !t),
            Filter::SameCollation(n) => match row[*n].as_deref() {
                Some(b"1") => Some(true),
                _ => return Err(refuse("strings of two collations")),
            },
        })
    }
}

/// What a value is compared as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number(Cmp),
    /// A collated string (compared by weight).
    Text,
    Temporal,
    /// Binary strings, TIME, and anything else: refused against other kinds.
    Other(Cmp),
}

fn kind(col: &Column) -> Kind {
    match cmp_for(col) {
        c @ (Cmp::Int | Cmp::Decimal | Cmp::Float) => Kind::Number(c),
        // Raw bytes or decimal text: refused against anything else.
        Cmp::Bit => Kind::Other(Cmp::Bit),
        Cmp::Temporal => Kind::Temporal,
        _ if needs_weight(col) => Kind::Text,
        c => Kind::Other(c),
    }
}

fn refuse(what: &str) -> Refused {
    format!("a HAVING comparison of {what} across sets")
}

/// A literal that MariaDB reads as a number without a warning.
fn clean_number(s: &str) -> bool {
    let t = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = mant.replacen('.', "", 1);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && exp.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
        })
}

/// `YYYY-MM-DD[ hh:mm:ss[.ffffff]]` as one number (microseconds resolution).
fn temporal(s: &str) -> Option<i128> {
    let (date, time) = match s.trim().split_once(' ') {
        Some((d, t)) => (d, Some(t)),
        None => (s.trim(), None),
    };
    let mut d = date.split('-');
    let num = |p: Option<&str>, max: usize| -> Option<i128> {
        let p = p?;
        (!p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let (y, mo, da) = (num(d.next(), 4)?, num(d.next(), 2)?, num(d.next(), 2)?);
    if d.next().is_some() {
        return None;
    }
    let (mut h, mut mi, mut se, mut us) = (0, 0, 0, 0);
    if let Some(t) = time {
        let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
        let mut p = hms.split(':');
        h = num(p.next(), 2)?;
        mi = num(p.next(), 2)?;
        se = num(p.next(), 2)?;
        if p.next().is_some() || frac.len() > 6 {
            return None;
        }
        if !frac.is_empty() {
            us = num(Some(&format!("{frac:0<6}")), 6)?;
        }
    }
    Some(((((y * 100 + mo) * 100 + da) * 100 + h) * 100 + mi) * 100_000_000 + se * 1_000_000 + us)
}

/// Orders two operands (`None`: one is NULL).
fn compare_operands(
    a: &Operand,
    b: &Operand,
    row: &[Cell],
    cols: &[Column],
) -> Result<Option<Ordering>, Refused> {
    use Operand::*;
    match (a, b) {
        (Str { .. }, Col { .. }) | (Lit(_), Col { .. }) => {
            return compare_operands(b, a, row, cols).map(|o| o.map(Ordering::reverse))
        }
        (Lit(None), _) | (_, Lit(None)) => return Ok(None),
        _ => {}
    }
    let Col { value, weight } = a else {
        return Err(refuse("two literals"));
    };
    let Some(va) = &row[*value] else {
        return Ok(None);
    };
    let ka = kind(&cols[*value]);
    Ok(Some(match b {
        Lit(Some(n)) => match ka {
            // Numbers compare as decimals unless the column is a float.
            Kind::Number(Cmp::Float) => compare(Cmp::Float, va, n.as_bytes()),
            Kind::Number(_) => compare(Cmp::Decimal, va, n.as_bytes()),
            _ => return Err(refuse("a non-numeric column with a number")),
        },
        Str { text, weight: lw } => match ka {
            Kind::Text => match (
                weight.and_then(|w| row[w].as_ref()),
                lw.and_then(|w| row[w].as_ref()),
            ) {
                (Some(x), Some(y)) => compare(Cmp::Weight, x, y),
                _ => return Err(refuse("this string")),
            },
            Kind::Number(_) if clean_number(text) => compare(Cmp::Float, va, text.as_bytes()),
            Kind::Temporal => {
                let x = std::str::from_utf8(va).ok().and_then(temporal);
                match (x, temporal(text)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => return Err(refuse("a date with this string")),
                }
            }
            _ => return Err(refuse("this column with a string")),
        },
        Col {
            value: vb,
            weight: wb,
        } => {
            let Some(bv) = &row[*vb] else {
                return Ok(None);
            };
            match (ka, kind(&cols[*vb])) {
                (Kind::Number(x), Kind::Number(y)) => {
                    let c = if x == Cmp::Float || y == Cmp::Float {
                        Cmp::Float
                    } else {
                        Cmp::Decimal
                    };
                    compare(c, va, bv)
                }
                (Kind::Text, Kind::Text) => match (
                    weight.and_then(|w| row[w].as_ref()),
                    wb.and_then(|w| row[w].as_ref()),
                ) {
                    // Weights of one padding only (the collations may still
                    // differ where spaces weigh the same: see the README).
                    (Some(x), Some(y)) if super::collate::same_padding(x, y) => {
                        compare(Cmp::Weight, x, y)
                    }
                    _ => return Err(refuse("these strings")),
                },
                (Kind::Temporal, Kind::Temporal) => {
                    let p = |v: &[u8]| std::str::from_utf8(v).ok().and_then(temporal);
                    match (p(va), p(bv)) {
                        (Some(x), Some(y)) => x.cmp(&y),
                        _ => return Err(refuse("these dates")),
                    }
                }
                (Kind::Other(x), Kind::Other(y)) if x == y => compare(x, va, bv),
                _ => return Err(refuse("values of different types")),
            }
        }
        Lit(None) => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    fn col(i: usize) -> Operand {
        Operand::Col {
            value: i,
            weight: None,
        }
    }

    #[test]
    fn three_valued() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONGLONG),
            Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL),
        ];
        let gt5 = Filter::Cmp(col(0), CmpOp::Gt, Operand::Lit(Some("5".into())));
        let row = vec![Some(b"10".to_vec()), None];
        assert!(gt5.passes(&row, &cols).unwrap());
        let null_lt = Filter::Cmp(col(1), CmpOp::Lt, Operand::Lit(Some("1".into())));
        assert!(!null_lt.passes(&row, &cols).unwrap());
        let either = Filter::Or(Box::new(null_lt.clone()), Box::new(gt5.clone()));
        assert!(either.passes(&row, &cols).unwrap());
        let not_unknown = Filter::Not(Box::new(null_lt));
        assert!(!not_unknown.passes(&row, &cols).unwrap());
        assert!(Filter::IsNull(col(1), false).passes(&row, &cols).unwrap());
        let row = vec![Some(b"2".to_vec()), Some(b"0.50".to_vec())];
        assert!(!gt5.passes(&row, &cols).unwrap());
    }

    #[test]
    fn strings_by_weight_dates_by_time() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(45),
            Column::new(ColumnType::MYSQL_TYPE_VARCHAR).with_character_set(63),
            Column::new(ColumnType::MYSQL_TYPE_VARCHAR).with_character_set(63),
            Column::new(ColumnType::MYSQL_TYPE_DATETIME),
        ];
        // 'a' (weight 0041) = 'A ' (weight 0041 0020): PAD SPACE.
        let row = vec![
            Some(b"a".to_vec()),
            Some(vec![0x82, 0, 0x20, 0, 0x41]),
            Some(vec![0x82, 0, 0x20, 0, 0x41, 0, 0x20]),
            Some(b"2020-01-02 00:00:00.000".to_vec()),
        ];
        let eq = Filter::Cmp(
            Operand::Col {
                value: 0,
                weight: Some(1),
            },
            CmpOp::Eq,
            Operand::Str {
                text: "A ".into(),
                weight: Some(2),
            },
        );
        assert!(eq.passes(&row, &cols).unwrap());
        let day = Filter::Cmp(
            Operand::Str {
                text: "2020-01-02".into(),
                weight: None,
            },
            CmpOp::Eq,
            col(3),
        );
        assert!(day.passes(&row, &cols).unwrap());
        let num = Filter::Cmp(col(0), CmpOp::Gt, Operand::Lit(Some("1".into())));
        assert!(num.passes(&row, &cols).is_err());
        assert!(clean_number("-1.5e3") && !clean_number("1x") && !clean_number("."));
    }
}
