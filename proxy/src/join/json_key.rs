//! How MariaDB compares a join key whose one side is a `JSON_EXTRACT(...)`
//! call: for `a = b` it unquotes `a`'s value when `a` is `JSON_EXTRACT`
//! (a JSON string `"e"` compares as `e`), else `b`'s when `b` is; the other
//! side is compared as it is, even when it is JSON too
//! (`Arg_comparator::set_cmp_func_string`, `compare_json_str`). The gateway
//! compares the keys' texts as the sets send them, so that side's key is
//! read as `JSON_UNQUOTE(...)` — the same unquoting, done by the set.

use sqlparser::ast::Expr;

/// Whether `e` (through parentheses, which MariaDB does not keep) is a
/// `JSON_EXTRACT(...)` call.
fn is_json_extract(e: &Expr) -> bool {
    match e {
        Expr::Nested(x) => is_json_extract(x),
        Expr::Function(f) => f.name.to_string().eq_ignore_ascii_case("JSON_EXTRACT"),
        _ => false,
    }
}

/// The key texts of `left = right` as the gateway must read them to compare
/// them as MariaDB does: `(left, right)`, one of them wrapped in
/// `JSON_UNQUOTE(...)` when MariaDB unquotes it.
pub fn key_texts(left: &Expr, right: &Expr, l: String, r: String) -> (String, String) {
    let unquote = |t: String| format!("JSON_UNQUOTE({t})");
    if is_json_extract(left) {
        (unquote(l), r)
    } else if is_json_extract(right) {
        (l, unquote(r))
    } else {
        (l, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn pair(sql: &str) -> (String, String) {
        let e = Parser::new(&MySqlDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        let Expr::BinaryOp { left, right, .. } = e else {
            panic!()
        };
        key_texts(&left, &right, left.to_string(), right.to_string())
    }

    #[test]
    fn json_extract_side_unquoted_left_first() {
        assert_eq!(
            pair("a.x = (JSON_EXTRACT(b.v, '$.d'))"),
            (
                "a.x".into(),
                "JSON_UNQUOTE((JSON_EXTRACT(b.v, '$.d')))".into()
            )
        );
        assert_eq!(
            pair("json_extract(a.v, '$.d') = JSON_EXTRACT(b.v, '$.d')"),
            (
                "JSON_UNQUOTE(json_extract(a.v, '$.d'))".into(),
                "JSON_EXTRACT(b.v, '$.d')".into()
            )
        );
        assert_eq!(
            pair("JSON_UNQUOTE(JSON_EXTRACT(a.v, '$.d')) = b.x"),
            (
                "JSON_UNQUOTE(JSON_EXTRACT(a.v, '$.d'))".into(),
                "b.x".into()
            )
        );
    }
}
