//! `HAVING` evaluated by the gateway on merged groups: comparisons of aggregate
//! results and group keys with literals, combined with AND / OR / NOT.
//! (Each set cannot apply HAVING itself: it sees only part of every group.)

use std::cmp::Ordering;

use mysql_common::packets::Column;

use super::value::{cmp_for, compare, Cell, Cmp};

/// A value in a HAVING predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A column of the merged row (visible or helper).
    Col(usize),
    /// A numeric literal's text, or NULL.
    Lit(Option<String>),
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
}

/// SQL's three-valued logic: `None` is UNKNOWN.
type Truth = Option<bool>;

impl Filter {
    /// Whether `row` passes (UNKNOWN does not).
    pub fn passes(&self, row: &[Cell], cols: &[Column]) -> bool {
        self.eval(row, cols) == Some(true)
    }

    fn eval(&self, row: &[Cell], cols: &[Column]) -> Truth {
        match self {
            Filter::Cmp(a, op, b) => {
                let (va, ca) = value(a, row, cols);
                let (vb, cb) = value(b, row, cols);
                let (va, vb) = (va?, vb?);
                // Numbers compare as decimals unless both sides are floats.
                let cmp = match (ca, cb) {
                    (Some(Cmp::Float), Some(Cmp::Float)) => Cmp::Float,
                    _ => Cmp::Decimal,
                };
                let o = compare(cmp, &va, &vb);
                Some(match op {
                    CmpOp::Eq => o == Ordering::Equal,
                    CmpOp::NotEq => o != Ordering::Equal,
                    CmpOp::Lt => o == Ordering::Less,
                    CmpOp::LtEq => o != Ordering::Greater,
                    CmpOp::Gt => o == Ordering::Greater,
                    CmpOp::GtEq => o != Ordering::Less,
                })
            }
            Filter::IsNull(a, negated) => {
                let is_null = value(a, row, cols).0.is_none();
                Some(is_null != *negated)
            }
            Filter::And(x, y) => match (x.eval(row, cols), y.eval(row, cols)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Filter::Or(x, y) => match (x.eval(row, cols), y.eval(row, cols)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Filter::Not(x) => x.eval(row, cols).map(|t| !t),
        }
    }
}

fn value(o: &Operand, row: &[Cell], cols: &[Column]) -> (Cell, Option<Cmp>) {
    match o {
        Operand::Col(i) => (row[*i].clone(), Some(cmp_for(&cols[*i]))),
        Operand::Lit(v) => (v.as_ref().map(|s| s.as_bytes().to_vec()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;

    #[test]
    fn three_valued() {
        let cols = vec![
            Column::new(ColumnType::MYSQL_TYPE_LONGLONG),
            Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL),
        ];
        let gt5 = Filter::Cmp(Operand::Col(0), CmpOp::Gt, Operand::Lit(Some("5".into())));
        let row = vec![Some(b"10".to_vec()), None];
        assert!(gt5.passes(&row, &cols));
        let null_lt = Filter::Cmp(Operand::Col(1), CmpOp::Lt, Operand::Lit(Some("1".into())));
        assert!(!null_lt.passes(&row, &cols));
        let either = Filter::Or(Box::new(null_lt.clone()), Box::new(gt5.clone()));
        assert!(either.passes(&row, &cols));
        let not_unknown = Filter::Not(Box::new(null_lt));
        assert!(!not_unknown.passes(&row, &cols));
        assert!(Filter::IsNull(Operand::Col(1), false).passes(&row, &cols));
        let row = vec![Some(b"2".to_vec()), Some(b"0.50".to_vec())];
        assert!(!gt5.passes(&row, &cols));
    }
}
