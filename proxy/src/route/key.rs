//! Shard-key values pinned by a `WHERE` clause: in its top-level `AND`
//! conjunction, `key = literal`, `literal = key`, or `key IN (literal, ...)`.
//! Anything else (OR, functions, ranges, placeholders) leaves the key unpinned and
//! the statement goes to every set that may hold rows.

use sqlparser::ast::{BinaryOperator, CastKind, DataType, Expr, UnaryOperator, Value};

/// How a reference to a column may be qualified to mean our table's key.
pub struct KeyColumn<'a> {
    pub key: &'a str,
    /// Names the table answers to (its name and its alias).
    pub qualifiers: Vec<&'a str>,
    /// Whether an unqualified column name refers to this table (single-table
    /// statements, or the key name is unique among the tables).
    pub unqualified: bool,
    /// A string key: only string literals pin it. MariaDB compares a string
    /// column with a number numerically (`'012' = 12`, `'12abc' = 12`), so such
    /// rows may live on any set.
    pub text: bool,
}

impl KeyColumn<'_> {
    fn is_key(&self, e: &Expr) -> bool {
        match e {
            Expr::Identifier(id) => self.unqualified && id.value.eq_ignore_ascii_case(self.key),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let col = &parts[parts.len() - 1];
                let qual = &parts[parts.len() - 2];
                col.value.eq_ignore_ascii_case(self.key)
                    && self.qualifiers.iter().any(|q| *q == qual.value)
            }
            Expr::Nested(inner) => self.is_key(inner),
            _ => false,
        }
    }

    /// The value `e` pins this key to, if it does ([`KeyColumn::text`]).
    fn literal(&self, e: &Expr) -> Option<String> {
        if self.text && !is_string_literal(e) {
            return None;
        }
        literal_text(e)
    }
}

/// A quoted string literal (possibly parenthesised).
pub fn is_string_literal(e: &Expr) -> bool {
    match e {
        Expr::Value(v) => matches!(
            v.value,
            Value::SingleQuotedString(_) | Value::DoubleQuotedString(_)
        ),
        Expr::Nested(inner) => is_string_literal(inner),
        Expr::Prefixed { .. } => introduced_text(e).is_some(),
        _ => false,
    }
}

/// The text of a string with a character set introducer (`_utf8mb4'ab'`,
/// `_utf8mb4 X'6162'`, as `INSERT ... SELECT` writes the strings it copies):
/// hex bytes in a UTF-8 set (or `_binary`) as UTF-8, in another set only when
/// ASCII; `None` for anything else.
fn introduced_text(e: &Expr) -> Option<String> {
    let Expr::Prefixed { prefix, value } = e else {
        return None;
    };
    let cs = prefix.value.strip_prefix('_')?.to_ascii_lowercase();
    let Expr::Value(v) = value.as_ref() else {
        return None;
    };
    let bytes = match &v.value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone().into_bytes(),
        Value::HexStringLiteral(h) => {
            if h.len() % 2 != 0 {
                return None;
            }
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?
        }
        _ => return None,
    };
    let utf8 = matches!(cs.as_str(), "utf8mb4" | "utf8mb3" | "utf8" | "binary");
    if !utf8 && !bytes.is_ascii() {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// The decimal text of an unquoted numeric literal: hexadecimal (`0x2A`,
/// `X'2A'`) and binary (`0b101`, `B'101'`) literals are numbers in a numeric
/// comparison (a quoted `'0x2A'` is not: it is a string, converted to 0).
pub fn number_text(n: &str) -> String {
    let (digits, radix) = if let Some(h) = n.strip_prefix("0x").or_else(|| n.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = n.strip_prefix("0b").or_else(|| n.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(h) = n.strip_prefix("X'").or_else(|| n.strip_prefix("x'")) {
        (h.trim_end_matches('\''), 16)
    } else if let Some(b) = n.strip_prefix("B'").or_else(|| n.strip_prefix("b'")) {
        (b.trim_end_matches('\''), 2)
    } else {
        return n.to_string();
    };
    match u128::from_str_radix(digits, radix) {
        Ok(v) => v.to_string(),
        Err(_) => n.to_string(),
    }
}

/// The literal text of a constant usable as a shard-key value.
pub fn literal_text(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(number_text(n)),
            Value::HexStringLiteral(h) => Some(number_text(&format!("0x{h}"))),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Some(format!("-{n}")),
                _ => None,
            },
            _ => None,
        },
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => literal_text(expr),
        Expr::Nested(inner) => literal_text(inner),
        Expr::Prefixed { .. } => introduced_text(e),
        // A DECIMAL / DATE parameter as the gateway splices it
        // (`front::param_types`): compared with the key as the string is.
        Expr::Cast {
            kind: CastKind::Cast,
            expr,
            data_type: DataType::Decimal(_) | DataType::Date,
            format: None,
        } if is_string_literal(expr) => literal_text(expr),
        _ => None,
    }
}

/// Values the key is pinned to, or `None` when the predicate does not pin it.
pub fn pinned_values(selection: Option<&Expr>, col: &KeyColumn<'_>) -> Option<Vec<String>> {
    let mut conjuncts = Vec::new();
    flatten_and(selection?, &mut conjuncts);
    for c in conjuncts {
        match c {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                if col.is_key(left) {
                    if let Some(v) = col.literal(right) {
                        return Some(vec![v]);
                    }
                }
                if col.is_key(right) {
                    if let Some(v) = col.literal(left) {
                        return Some(vec![v]);
                    }
                }
            }
            Expr::InList {
                expr,
                list,
                negated: false,
            } if col.is_key(expr) => {
                let vals: Option<Vec<String>> = list.iter().map(|e| col.literal(e)).collect();
                if let Some(v) = vals {
                    return Some(v);
                }
            }
            _ => {}
        }
    }
    None
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        Expr::Nested(inner) => flatten_and(inner, out),
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::{SetExpr, Statement};
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn where_of(sql: &str) -> Expr {
        let stmt = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0);
        let Statement::Query(q) = stmt else { panic!() };
        let SetExpr::Select(s) = *q.body else {
            panic!()
        };
        s.selection.unwrap()
    }

    fn pins(sql: &str) -> Option<Vec<String>> {
        let col = KeyColumn {
            key: "user_id",
            qualifiers: vec!["users", "u"],
            unqualified: true,
            text: false,
        };
        pinned_values(Some(&where_of(sql)), &col)
    }

    #[test]
    fn numbers_do_not_pin_a_string_key() {
        let col = KeyColumn {
            key: "k",
            qualifiers: vec!["t"],
            unqualified: true,
            text: true,
        };
        let pins = |sql: &str| pinned_values(Some(&where_of(sql)), &col);
        assert_eq!(pins("SELECT * FROM t WHERE k = 12"), None);
        assert_eq!(pins("SELECT * FROM t WHERE k = 0x61"), None);
        assert_eq!(pins("SELECT * FROM t WHERE k IN ('a', 1)"), None);
        assert_eq!(
            pins("SELECT * FROM t WHERE k = ('a')"),
            Some(vec!["a".into()])
        );
        assert_eq!(
            pins("SELECT * FROM t WHERE k IN ('a', \"b\")"),
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn equality_and_in() {
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = 42"),
            Some(vec!["42".into()])
        );
        assert_eq!(
            pins("SELECT * FROM users WHERE '42' = USER_ID"),
            Some(vec!["42".into()])
        );
        assert_eq!(
            pins("SELECT * FROM users u WHERE a > 1 AND (u.user_id = -7)"),
            Some(vec!["-7".into()])
        );
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id IN (1, '2', 3) AND x = 1"),
            Some(vec!["1".into(), "2".into(), "3".into()])
        );
        // A DECIMAL parameter as spliced: the string inside.
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = CAST('700' AS DECIMAL(3,0))"),
            Some(vec!["700".into()])
        );
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = CAST('7a' AS SIGNED)"),
            None
        );
    }

    #[test]
    fn introduced_strings_are_strings() {
        let col = KeyColumn {
            key: "k",
            qualifiers: vec!["t"],
            unqualified: true,
            text: true,
        };
        let pins = |sql: &str| pinned_values(Some(&where_of(sql)), &col);
        // As INSERT ... SELECT copies a string: hex in its character set.
        assert_eq!(
            pins("SELECT * FROM t WHERE k = _utf8mb4 X'63C3A9'"),
            Some(vec!["cé".into()])
        );
        assert_eq!(
            pins("SELECT * FROM t WHERE k = _latin1'ab'"),
            Some(vec!["ab".into()])
        );
        // Not ASCII in a set other than UTF-8 / binary, or not UTF-8: not followed.
        assert_eq!(pins("SELECT * FROM t WHERE k = _latin1 X'E9'"), None);
        assert_eq!(pins("SELECT * FROM t WHERE k = _utf8mb4 X'FF'"), None);
        let e = where_of("SELECT * FROM t WHERE _binary X'6162' = k");
        let Expr::BinaryOp { left, .. } = e else {
            panic!()
        };
        assert!(is_string_literal(&left));
        assert_eq!(literal_text(&left).as_deref(), Some("ab"));
    }

    #[test]
    fn hex_literals_are_numbers() {
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = 0x2A"),
            Some(vec!["42".into()])
        );
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = X'2A'"),
            Some(vec!["42".into()])
        );
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = '0x2A'"),
            Some(vec!["0x2A".into()])
        );
    }

    #[test]
    fn not_pinned() {
        assert_eq!(
            pins("SELECT * FROM users WHERE user_id = 1 OR user_id = 2"),
            None
        );
        assert_eq!(pins("SELECT * FROM users WHERE user_id > 1"), None);
        assert_eq!(pins("SELECT * FROM users WHERE user_id NOT IN (1)"), None);
        assert_eq!(pins("SELECT * FROM users WHERE user_id = other_col"), None);
        assert_eq!(pins("SELECT * FROM users WHERE x.user_id = 1"), None);
        assert_eq!(pins("SELECT * FROM users WHERE user_id = ?"), None);
    }
}
