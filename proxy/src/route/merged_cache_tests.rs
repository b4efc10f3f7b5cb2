//! Tests of `super` (the merged plan cache): keys, templates against the
//! planner, and what is not cached.

use super::*;

/// The planner fuzz target's cluster: two sets; `d.users(user_id, name, v)`
/// sharded by `user_id`, among others.
fn snap() -> ClusterSnapshot {
    crate::fuzz::planner::snapshot().clone()
}

fn planned(snap: &ClusterSnapshot, sql: &str) -> Planned {
    let tokens = tokenize(sql).unwrap();
    let stmt = crate::sql::parse_one(sql).unwrap();
    plan_statement(
        snap,
        Some("d"),
        sql,
        &tokens,
        &stmt,
        None,
        &crate::join::CrossSetPlanner,
    )
    .unwrap()
}

/// Learns from `first`, then looks `second` up.
fn lookup(first: &str, second: &str) -> Lookup {
    let snap = snap();
    let cache = MergedPlans::default();
    let tokens = tokenize(first).unwrap();
    let (k, lits) = key(first, &tokens, Some("d")).unwrap();
    cache.learn(k, &lits, first, &snap, Some("d"), &planned(&snap, first));
    let tokens = tokenize(second).unwrap();
    let (k, lits) = key(second, &tokens, Some("d")).unwrap();
    cache.get(&k, &lits, second, snap.revision)
}

#[test]
fn merged_shapes_are_cached_and_plan_as_the_planner() {
    for (a, b) in [
        (
            "SELECT SUM(v) FROM users WHERE user_id BETWEEN 5 AND 104",
            "SELECT SUM(v) FROM users WHERE user_id BETWEEN 77 AND 176",
        ),
        (
            "SELECT name FROM users WHERE user_id BETWEEN 5 AND 104 ORDER BY name",
            "SELECT name FROM users WHERE user_id BETWEEN 0 AND 1 ORDER BY name",
        ),
        (
            "SELECT DISTINCT name FROM users WHERE user_id BETWEEN 5 AND 104 ORDER BY name",
            "SELECT DISTINCT name FROM users WHERE user_id BETWEEN 9 AND 99 ORDER BY name",
        ),
        (
            "SELECT name, 'x', 2.5 FROM users WHERE name <> 'a' ORDER BY name DESC",
            "SELECT name, 'it''s', 10.75 FROM users WHERE name <> '' ORDER BY name DESC",
        ),
        (
            "SELECT v, COUNT(*), AVG(v) FROM users WHERE user_id > 3 GROUP BY v",
            "SELECT v, COUNT(*), AVG(v) FROM users WHERE user_id > 12345 GROUP BY v",
        ),
    ] {
        let Lookup::Hit(plan) = lookup(a, b) else {
            panic!("not cached: {a}");
        };
        assert_eq!(plan, planned(&snap(), b).plan, "{b}");
    }
}

#[test]
fn literals_the_planner_reads_are_not_cached() {
    for (a, b) in [
        (
            "SELECT name FROM users ORDER BY name LIMIT 5",
            "SELECT name FROM users ORDER BY name LIMIT 7",
        ),
        (
            "SELECT v, SUM(v) FROM users GROUP BY v HAVING SUM(v) > 3",
            "SELECT v, SUM(v) FROM users GROUP BY v HAVING SUM(v) > 4",
        ),
        (
            "SELECT name, v FROM users ORDER BY 1",
            "SELECT name, v FROM users ORDER BY 2",
        ),
        (
            "SELECT v, GROUP_CONCAT(name SEPARATOR ',') FROM users GROUP BY v",
            "SELECT v, GROUP_CONCAT(name SEPARATOR ';') FROM users GROUP BY v",
        ),
        (
            "SELECT SUM(v) + 1 FROM users",
            "SELECT SUM(v) + 2 FROM users",
        ),
        // Not merged: concatenated (the other cache's), or one set.
        (
            "SELECT name FROM users WHERE user_id > 1",
            "SELECT name FROM users WHERE user_id > 2",
        ),
        (
            "SELECT SUM(v) FROM users WHERE user_id = 1",
            "SELECT SUM(v) FROM users WHERE user_id = 2",
        ),
    ] {
        assert!(
            matches!(lookup(a, b), Lookup::Uncacheable),
            "cached, but depends on a literal: {a}"
        );
    }
}

#[test]
fn templates_plan_other_literals_as_the_planner() {
    let snap = snap();
    let mut kept = 0;
    for sql in [
        "SELECT SUM(v), COUNT(*), AVG(v), STD(v) FROM users WHERE user_id > 10",
        "SELECT v, COUNT(DISTINCT name) FROM users WHERE name > 'm' GROUP BY v",
        "SELECT v, GROUP_CONCAT(name ORDER BY name) FROM users WHERE v < 9 GROUP BY v",
        "SELECT v, SUM(v) FROM users WHERE user_id BETWEEN 3 AND 8 GROUP BY v ORDER BY v DESC",
        "SELECT v, SUM(v) FROM users WHERE user_id BETWEEN 3 AND 8 GROUP BY v WITH ROLLUP",
        "SELECT name FROM users WHERE user_id < 5 UNION SELECT name FROM users WHERE v > 2.5",
        "SELECT name, v * 2 AS w FROM users WHERE name LIKE 'a%' ORDER BY w DESC, name",
        "SELECT MIN(name), MAX(v) FROM users WHERE user_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9)",
        "SELECT name FROM users WHERE user_id BETWEEN 5 AND 104 ORDER BY name",
    ] {
        let tokens = tokenize(sql).unwrap();
        if check(&snap, Some("d"), sql, &tokens, &planned(&snap, sql)) {
            kept += 1;
        }
    }
    // Most are kept (the UNION and the ROLLUP are planned every time).
    assert!(kept >= 6, "{kept} kept");
}

#[test]
fn another_revision_is_unknown() {
    let snap = snap();
    let cache = MergedPlans::default();
    let sql = "SELECT SUM(v) FROM users WHERE user_id BETWEEN 5 AND 104";
    let tokens = tokenize(sql).unwrap();
    let (k, lits) = key(sql, &tokens, Some("d")).unwrap();
    cache.learn(
        k.clone(),
        &lits,
        sql,
        &snap,
        Some("d"),
        &planned(&snap, sql),
    );
    assert!(matches!(
        cache.get(&k, &lits, sql, snap.revision),
        Lookup::Hit(_)
    ));
    assert!(matches!(
        cache.get(&k, &lits, sql, snap.revision + 1),
        Lookup::Unknown
    ));
}

#[test]
fn keys_keep_the_text_and_class_the_literals() {
    let k = |s: &str| key(s, &tokenize(s).unwrap(), Some("db")).map(|(k, l)| (k, l.len()));
    let (a, n) = k("SELECT SUM(k) FROM t WHERE id BETWEEN 5 AND 104").unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        Some(a.clone()),
        k("SELECT SUM(k) FROM t WHERE id BETWEEN 7 AND 2000").map(|x| x.0)
    );
    // Spaces name columns: another key.
    assert_ne!(
        Some(a.clone()),
        k("SELECT SUM( k) FROM t WHERE id BETWEEN 7 AND 2000").map(|x| x.0)
    );
    // A string where a number was: another key.
    assert_ne!(
        Some(a),
        k("SELECT SUM(k) FROM t WHERE id BETWEEN '7' AND 2000").map(|x| x.0)
    );
    assert!(k("SELECT a FROM t WHERE x = 0x1F ORDER BY a").is_none());
    assert!(k("SELECT a FROM t WHERE x = 1e3 ORDER BY a").is_none());
    assert!(k("SELECT /*! a */ a FROM t ORDER BY a").is_none());
    assert!(k("INSERT INTO t VALUES (1)").is_none());
    assert!(k("SELECT a FROM t WHERE x = 1.25 ORDER BY a").is_some());
}

#[test]
fn pieces_find_every_marker_and_render_back() {
    let markers = vec!["91827360000".to_string(), "'swlit0001x'".to_string()];
    let text =
        "SELECT a, 91827360000 AS `x` FROM t WHERE s = 'swlit0001x' OR n = 91827360000 ORDER BY 2";
    let p = pieces(text, &markers).unwrap();
    assert_eq!(
        render(&p, &["91827360000", "'swlit0001x'"]).as_deref(),
        Some(text)
    );
    assert_eq!(
        render(&p, &["7", "'it''s'"]).as_deref(),
        Some("SELECT a, 7 AS `x` FROM t WHERE s = 'it''s' OR n = 7 ORDER BY 2")
    );
    assert_eq!(render(&p, &["7"]), None);
}
