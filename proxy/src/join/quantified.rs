//! `x op ALL / ANY / SOME (SELECT y ...)` where the subquery reads rows of
//! other sets: its values are read first (as for `IN`) and written back as a
//! subquery of those values, so that MariaDB itself gives the quantified
//! comparison's three-valued answer — TRUE for ALL over no rows (even for a
//! NULL `x`), FALSE for ANY over no rows, NULL where a NULL in the set leaves
//! it undecided. Numbers and temporal values become a table value constructor
//! of literals; strings keep the subquery column's collation through
//! `super::collated::json_table`, already a subquery.

/// A subquery giving `values` (literals, `None` for NULL): a table value
/// constructor, or a query of no rows.
pub fn values_subquery(values: &[Option<String>]) -> String {
    if values.is_empty() {
        return "(SELECT 1 FROM DUAL WHERE 0)".to_string();
    }
    let rows: Vec<String> = values
        .iter()
        .map(|v| format!("({})", v.as_deref().unwrap_or("NULL")))
        .collect();
    format!(
        "(SELECT * FROM (VALUES {}) AS setwise_values)",
        rows.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::super::subquery::{plan, replacement, Form};
    use super::*;
    use sqlparser::ast::{SetExpr, Statement};

    fn planned(sql: &str) -> super::super::subquery::SubqueryPlan {
        let st = crate::sql::parse_one(sql).unwrap();
        let Statement::Query(q) = &st else { panic!() };
        let SetExpr::Select(s) = q.body.as_ref() else {
            panic!()
        };
        plan(sql, &crate::sql::lexer::tokenize(sql).unwrap(), s).unwrap()
    }

    #[test]
    fn quantified_subqueries_become_value_subqueries() {
        let sql = "SELECT a FROM t WHERE a > ALL (SELECT b FROM u) AND c = SOME (SELECT d FROM v) OR a <> ANY (SELECT 1 FROM w)";
        let p = planned(sql);
        let forms: Vec<&Form> = p.subs.iter().map(|s| &s.form).collect();
        assert_eq!(forms, vec![&Form::Quantified; 3]);
        assert_eq!(p.subs[0].values_sql, "SELECT b FROM u");
        let text = p.substitute(&[
            replacement(&Form::Quantified, &[Some("1".into()), None]),
            replacement(&Form::Quantified, &[]),
            values_subquery(&[Some("'2020-01-01'".into())]),
        ]);
        assert_eq!(
            text,
            "SELECT a FROM t WHERE a > ALL (SELECT * FROM (VALUES (1), (NULL)) AS setwise_values) \
             AND c = SOME (SELECT 1 FROM DUAL WHERE 0) \
             OR a <> ANY (SELECT * FROM (VALUES ('2020-01-01')) AS setwise_values)"
        );
        // The gateway parses what it wrote (to route it).
        assert!(crate::sql::parse_one(&text).is_ok(), "{text}");
    }
}
