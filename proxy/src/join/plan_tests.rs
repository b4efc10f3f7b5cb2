//! Unit tests of [`super`]: splitting, pushing down, the cost rule.

use super::*;
use crate::sql::lexer::tokenize;
use sqlparser::ast::{SetExpr, Statement};

fn snap() -> ClusterSnapshot {
    let mut s = ClusterSnapshot::default();
    let sets = vec!["set1".to_string(), "set2".to_string()];
    s.dbs.insert(
        "d".into(),
        topo::DatabaseRecord {
            name: "d".into(),
            home_set: "set1".into(),
            shard_map: topo::ShardMap::even(64, &sets),
        },
    );
    for (t, key) in [("users", "user_id"), ("orders", "order_id")] {
        s.tables.insert(
            ("d".into(), t.into()),
            topo::TableRecord {
                db: "d".into(),
                name: t.into(),
                kind: topo::TableKind::Sharded {
                    key: key.into(),
                    key_type: topo::KeyType::Integer,
                },
            },
        );
    }
    s
}

fn plan(sql: &str) -> Result<TwoSided, ProxyError> {
    let known = vec![
        KnownTable {
            db: "d".into(),
            table: "users".into(),
            columns: vec!["user_id".into(), "name".into()],
        },
        KnownTable {
            db: "d".into(),
            table: "orders".into(),
            columns: vec!["order_id".into(), "user_id".into(), "amount".into()],
        },
    ];
    let st = crate::sql::parse_one(sql).unwrap();
    let Statement::Query(q) = &st else { panic!() };
    let SetExpr::Select(s) = q.body.as_ref() else {
        panic!()
    };
    plan_join(
        &snap(),
        Some("d"),
        &known,
        sql,
        &tokenize(sql).unwrap(),
        q,
        s,
    )
}

#[test]
fn splits_sides_and_pushes_conditions() {
    let p = plan(
        "SELECT u.name, o.amount AS a FROM users u JOIN orders o ON u.user_id = o.user_id \
         WHERE o.amount > 5 AND name LIKE 'x%'",
    )
    .unwrap();
    assert_eq!(p.kind, JoinKind::Inner);
    assert_eq!(
        p.sides[0].sql(None),
        format!(
            "SELECT u.name, u.user_id, {} FROM `users` AS `u` WHERE (name LIKE 'x%')",
            weight_sql("u.user_id")
        )
    );
    assert_eq!(p.sides[1].items, vec!["o.amount AS a".to_string()]);
    assert_eq!(p.sides[1].conds, vec!["o.amount > 5".to_string()]);
    assert_eq!(
        p.out,
        vec![
            OutItem {
                side: 0,
                item: 0,
                constant: false
            },
            OutItem {
                side: 1,
                item: 0,
                constant: false
            }
        ]
    );
    assert_eq!(p.sides[0].keys, vec![(0, 1)]);
    // orders is filtered and users' join key is its shard key: lookup.
    assert_eq!(p.strategy, Strategy::Lookup { outer: 1 });
    // Nothing pinned or filtered: hash.
    let p = plan("SELECT u.name FROM users u JOIN orders o ON u.user_id = o.user_id").unwrap();
    assert_eq!(p.strategy, Strategy::Hash);
}

#[test]
fn cost_rule_picks_lookup_for_a_pinned_outer_side() {
    let p = plan("SELECT * FROM orders o LEFT JOIN users u ON u.user_id = o.user_id WHERE o.order_id IN (1, 2)").unwrap();
    assert_eq!(p.kind, JoinKind::Outer { preserved: 0 });
    assert_eq!(p.strategy, Strategy::Lookup { outer: 0 });
    assert_eq!(p.sides[0].star, Some(0));
    assert_eq!(p.sides[1].star, Some(0));
    // A filtered outer side and the inner key is the inner table's shard key.
    let p = plan(
        "SELECT o.amount FROM orders o JOIN users u ON u.user_id = o.user_id WHERE o.amount > 3",
    )
    .unwrap();
    assert_eq!(p.strategy, Strategy::Lookup { outer: 0 });
    let p = plan("SELECT o.amount FROM orders o JOIN users u ON u.user_id = o.user_id WHERE o.amount > 3 /* setwise:hash */").unwrap();
    assert_eq!(p.strategy, Strategy::Hash);
}

#[test]
fn refuses_what_it_cannot_run() {
    for sql in [
        "SELECT u.name, o.amount + u.user_id FROM users u JOIN orders o ON u.user_id = o.user_id",
        "SELECT * FROM users u JOIN orders o ON u.user_id < o.user_id",
        "SELECT COUNT(*), 1 FROM users u JOIN orders o ON u.user_id = o.user_id",
        "SELECT COUNT(DISTINCT o.amount) FROM users u JOIN orders o ON u.user_id = o.user_id",
        "SELECT u.name, o.amount FROM users u JOIN orders o ON u.user_id = o.user_id GROUP BY u.name",
        "SELECT SUM(o.amount) + 1 FROM users u JOIN orders o ON u.user_id = o.user_id",
        "SELECT DISTINCT u.name, COUNT(*) FROM users u JOIN orders o ON u.user_id = o.user_id",
        "SELECT * FROM users u LEFT JOIN orders o ON u.user_id = o.user_id WHERE o.amount + 1 > 1",
        "SELECT * FROM users u JOIN orders o USING (user_id)",
        "SELECT u.name FROM users u NATURAL JOIN orders o",
    ] {
        assert!(
            matches!(plan(sql), Err(ProxyError::NotSupported(_))),
            "{sql}"
        );
    }
    // Unqualified and in both tables: ambiguous.
    assert!(plan("SELECT user_id FROM users u JOIN orders o ON u.user_id = o.user_id").is_err());
}

#[test]
fn describes_itself() {
    let p = plan(
        "SELECT o.amount FROM orders o JOIN users u ON u.user_id = o.user_id WHERE o.amount > 3",
    )
    .unwrap();
    let lines = p.describe();
    assert_eq!(lines[0], "lookup join INNER on u.user_id = o.user_id");
    assert!(lines[1].starts_with("  outer d.orders: SELECT o.amount, o.user_id, "));
    assert!(lines[2].starts_with("  inner d.users by batches of "));
    assert!(
        lines[2].ends_with("WHERE u.user_id IN (...)"),
        "{}",
        lines[2]
    );
    let lines = plan(
        "SELECT u.name FROM users u JOIN orders o ON u.user_id = o.user_id ORDER BY u.name LIMIT 2",
    )
    .unwrap()
    .describe();
    assert_eq!(lines[0], "hash join INNER on u.user_id = o.user_id");
    assert_eq!(lines.len(), 4);
}

#[test]
fn a_null_rejecting_where_makes_an_inner_join() {
    let p = plan(
        "SELECT u.name FROM users u LEFT JOIN orders o ON u.user_id = o.user_id WHERE o.amount > 1",
    )
    .unwrap();
    assert_eq!(p.kind, JoinKind::Inner);
    assert_eq!(p.sides[1].conds, vec!["o.amount > 1".to_string()]);
}

#[test]
fn a_lone_count_star() {
    let p =
        plan("SELECT COUNT(*) AS n FROM users u JOIN orders o ON u.user_id = o.user_id").unwrap();
    assert_eq!(p.count.as_deref(), Some("COUNT(*) AS n"));
    assert!(p.out.is_empty() && p.sides[0].items.is_empty());
}

#[test]
fn using_columns_are_join_keys() {
    let p = plan("SELECT u.name, o.amount FROM users u JOIN orders o USING (user_id)").unwrap();
    assert_eq!(p.keys_text, "`u`.`user_id` = `o`.`user_id`");
    assert_eq!(p.sides[1].key_exprs, vec!["`o`.`user_id`".to_string()]);
}

#[test]
fn null_tests_and_order() {
    let p = plan(
        "SELECT u.name FROM users u LEFT JOIN orders o ON u.user_id = o.user_id \
         WHERE o.order_id IS NULL ORDER BY u.name DESC LIMIT 3, 4",
    )
    .unwrap();
    assert_eq!(p.null_tests.len(), 1);
    assert_eq!(p.order.len(), 1);
    assert!(p.order[0].desc);
    assert_eq!((p.offset, p.limit), (3, Some(4)));
}

#[test]
fn groups_joined_rows() {
    use super::super::group::{Fun, Item};
    let p = plan(
        "SELECT u.name, COUNT(o.order_id), SUM(o.amount) AS s FROM users u JOIN orders o \
         ON o.user_id = u.user_id WHERE o.amount > 1 GROUP BY u.name HAVING s > 10 \
         ORDER BY AVG(o.amount) DESC LIMIT 2, 3",
    )
    .unwrap();
    let g = p.group.as_ref().expect("grouped");
    assert!(p.sides.iter().all(|s| s.items.is_empty()));
    assert_eq!((g.visible, g.items.len(), g.keys.len()), (3, 4, 1));
    assert!(matches!(&g.items[3], Item::Agg { fun: Fun::Avg, arg: Some(a), .. } if a.side == 1));
    assert_eq!((g.offset, g.limit, p.limit), (2, Some(3), None));
    assert_eq!(g.order, vec![(3, true)]);
    assert!(g.having.is_some());
    assert!(
        g.columns_sql.starts_with(
            "SELECT u.name, COUNT(o.order_id), SUM(o.amount) AS s, AVG(o.amount) FROM"
        ),
        "{}",
        g.columns_sql
    );
    assert!(
        g.columns_sql.contains("WHERE (o.amount > 1) AND NULLIF("),
        "{}",
        g.columns_sql
    );
    assert!(p
        .describe()
        .iter()
        .any(|l| l.contains("group by 1 keys, 4 aggregates")
            || l.contains("group by 1 keys, 3 aggregates")));
    // A lone COUNT(*) stays the counted form; DISTINCT groups on every item.
    let c = plan("SELECT COUNT(*) FROM users u JOIN orders o ON u.user_id = o.user_id").unwrap();
    assert!(c.group.is_none() && c.count.is_some());
    let d =
        plan("SELECT DISTINCT u.name FROM users u JOIN orders o ON u.user_id = o.user_id").unwrap();
    assert_eq!(d.group.as_ref().map(|g| g.keys.len()), Some(1));
}
