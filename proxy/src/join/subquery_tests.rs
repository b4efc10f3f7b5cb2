use super::*;
use crate::sql::lexer::tokenize;
use sqlparser::ast::Statement;

fn plan_of(sql: &str) -> Option<SubqueryPlan> {
    let st = crate::sql::parse_one(sql).unwrap();
    let Statement::Query(q) = &st else { panic!() };
    let SetExpr::Select(s) = q.body.as_ref() else {
        panic!()
    };
    plan(sql, &tokenize(sql).unwrap(), s)
}

#[test]
fn in_subqueries_are_replaced_by_their_values() {
    let p = plan_of("SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE c = 'x') OR a NOT IN ( SELECT d FROM v )").unwrap();
    assert_eq!(p.subs.len(), 2);
    assert_eq!(p.subs[0].values_sql, "SELECT b FROM u WHERE c = 'x'");
    assert_eq!(p.subs[1].values_sql, "SELECT d FROM v");
    let s = p.substitute(&[
        replacement(&Form::In, &[Some("1".into()), None]),
        replacement(&Form::In, &[]),
    ]);
    assert_eq!(
        s,
        "SELECT a FROM t WHERE a IN (1, NULL) OR a NOT IN (SELECT 1 FROM DUAL WHERE 0)"
    );
}

#[test]
fn subqueries_anywhere_in_the_outer_block() {
    let p = plan_of("SELECT a, b IN (SELECT n FROM u WHERE n IS NOT NULL) FROM t WHERE (a IN (SELECT m FROM v WHERE m IS NULL)) IS NULL").unwrap();
    let q: Vec<&str> = p.subs.iter().map(|s| s.values_sql.as_str()).collect();
    assert_eq!(
        q,
        vec![
            "SELECT n FROM u WHERE n IS NOT NULL",
            "SELECT m FROM v WHERE m IS NULL"
        ]
    );
    // The select list's: the client's column definitions read first.
    assert!(p.columns.as_ref().unwrap().sql.ends_with("IS NULL LIMIT 0"));
    // Nested deeper: the inner subquery's own business.
    let p = plan_of("SELECT a FROM t WHERE a IN (SELECT n FROM u WHERE n IN (SELECT 1 FROM w))")
        .unwrap();
    assert_eq!(p.subs.len(), 1);
}

#[test]
fn correlated_exists_becomes_a_semi_join() {
    let p = plan_of(
        "SELECT u.id FROM users u WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.uid = u.id AND o.amount > 5) AND u.id > 0",
    )
    .unwrap();
    let s = &p.subs[0];
    assert_eq!(
        s.values_sql,
        "SELECT o.uid FROM `orders` AS `o` WHERE (o.amount > 5)"
    );
    assert_eq!(
        s.form,
        Form::Semi {
            negated: true,
            outer: "`u`.`id`".into()
        }
    );
    let text = p.substitute(&[replacement(&s.form, &[Some("3".into()), None])]);
    assert_eq!(
        text,
        "SELECT u.id FROM users u WHERE (`u`.`id` IS NULL OR `u`.`id` NOT IN (3)) AND u.id > 0"
    );
    assert_eq!(replacement(&s.form, &[None]), "TRUE");
}

#[test]
fn uncorrelated_exists_and_what_is_left_alone() {
    let p = plan_of("SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = 2)").unwrap();
    assert_eq!(p.subs[0].form, Form::Exists { negated: false });
    assert_eq!(p.subs[0].values_sql, "SELECT 1 FROM `u` WHERE (u.a = 2)");
    // Two correlations, a correlation that is not an equality: not handled.
    assert!(plan_of(
        "SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a AND u.b = t.b)"
    )
    .is_none());
    assert!(plan_of("SELECT 1 FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a < t.a)").is_none());
    assert!(plan_of("SELECT 1 FROM t WHERE (a, b) IN (SELECT 1, 2 FROM u)").is_none());
}
