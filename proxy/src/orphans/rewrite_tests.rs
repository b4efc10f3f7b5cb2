use super::*;
use topo::moves::SlotSpan;
use topo::KeyType;

/// `t` (key `id`) and `u` (key `uid`) of `d`, `w` (text key `k`) of `e`;
/// 16 slots, slots 0..4 orphaned.
fn moving() -> Moving<'static> {
    let t = |db: &str, name: &str, key: &str, key_type| MovingTable {
        db: db.into(),
        name: name.into(),
        key: key.into(),
        key_type,
        slots: 16,
        spans: vec![SlotSpan { start: 0, end: 4 }],
    };
    Moving {
        session_db: Some("d"),
        tables: vec![
            t("d", "t", "id", KeyType::Integer),
            t("d", "u", "uid", KeyType::Integer),
            t("e", "w", "k", KeyType::Text),
        ],
    }
}

fn cond(col: &str) -> String {
    format!("NOT IFNULL(((CRC32({col}) % 16) BETWEEN 0 AND 3), 0)")
}

/// `(SELECT * FROM <name> WHERE <cond on key>) AS <alias>` for `t`.
fn dt(name: &str, alias: &str) -> String {
    format!("(SELECT * FROM {name} WHERE {}) AS {alias}", cond("`id`"))
}

fn du(name: &str, alias: &str) -> String {
    format!("(SELECT * FROM {name} WHERE {}) AS {alias}", cond("`uid`"))
}

/// The WHERE condition for `t` (key `id`) named `q`.
fn wt(q: &str) -> String {
    format!("({})", cond(&format!("{q}.`id`")))
}

/// The WHERE condition for `u` (key `uid`) named `q`.
fn wu(q: &str) -> String {
    format!("({})", cond(&format!("{q}.`uid`")))
}

const T: &str = "`d`.`t`";
const U: &str = "`d`.`u`";

fn rw(sql: &str) -> Option<String> {
    rewrite(sql, &moving()).unwrap_or_else(|e| panic!("{sql}: refused: {e:?}"))
}

fn refused_what(sql: &str) -> String {
    match rewrite(sql, &moving()) {
        Err(r) => r.what,
        Ok(t) => panic!("{sql}: not refused: {t:?}"),
    }
}

/// Checks a rewrite and that the result still parses.
fn check(sql: &str, want: &str) {
    let got = rw(sql).unwrap_or_else(|| panic!("{sql}: unchanged"));
    assert_eq!(got, want, "{sql}");
    let parsed = parseable(&got, &tokenize(&got).unwrap());
    Parser::parse_sql(&MySqlDialect {}, &parsed).unwrap_or_else(|e| panic!("{got}: {e}"));
}

#[test]
fn scans_aggregates_and_groups() {
    check(
        "SELECT COUNT(*) FROM t",
        &format!("SELECT COUNT(*) FROM t WHERE {}", wt(T)),
    );
    check(
        "SELECT v, SUM(x) FROM t WHERE x > 1 GROUP BY v HAVING SUM(x) > 2 ORDER BY v LIMIT 3",
        &format!(
            "SELECT v, SUM(x) FROM t WHERE {} AND ( x > 1) GROUP BY v HAVING SUM(x) > 2 ORDER BY v LIMIT 3",
            wt(T)
        ),
    );
    check(
        "SELECT v FROM t GROUP BY v WITH ROLLUP",
        &format!("SELECT v FROM t WHERE {} GROUP BY v WITH ROLLUP", wt(T)),
    );
    check(
        "select * from t as a where a.id between 1 and 9 or a.v is null for update",
        &format!(
            "select * from t as a where {} AND ( a.id between 1 and 9 or a.v is null) for update",
            wt("`a`")
        ),
    );
    check(
        "SELECT * FROM t a LOCK IN SHARE MODE",
        &format!("SELECT * FROM t a WHERE {} LOCK IN SHARE MODE", wt("`a`")),
    );
    check(
        "SELECT id INTO @x FROM t LIMIT 1",
        &format!("SELECT id INTO @x FROM t WHERE {} LIMIT 1", wt(T)),
    );
    // sqlparser does not know a trailing INTO: refused rather than guessed.
    assert!(refused_what("SELECT id FROM t WHERE v = 1 INTO @x").contains("cannot parse"));
    // Tables that do not move are left alone.
    assert_eq!(rw("SELECT * FROM other JOIN e.t ON 1"), None);
    assert_eq!(rw("SELECT 1"), None);
    assert_eq!(rw("INSERT INTO t (id) VALUES (1), (2)"), None);
}

#[test]
fn qualified_and_quoted_names() {
    check(
        "SELECT * FROM `d`.`t`",
        &format!("SELECT * FROM `d`.`t` WHERE {}", wt(T)),
    );
    check(
        "SELECT * FROM d.t AS `x y`",
        &format!("SELECT * FROM d.t AS `x y` WHERE {}", wt("`x y`")),
    );
    check(
        "SELECT d.t.id FROM d.t",
        &format!("SELECT d.t.id FROM d.t WHERE {}", wt(T)),
    );
    check(
        "SELECT k FROM e.w",
        &format!(
            "SELECT k FROM e.w WHERE ({})",
            "NOT IFNULL(((CRC32(LOWER(TRIM(TRAILING ' ' FROM CONVERT(`e`.`w`.`k` USING utf8mb4)) \
             COLLATE utf8mb4_uca1400_ai_ci)) % 16) BETWEEN 0 AND 3), 0)"
        ),
    );
    // `w` of the session's database does not move.
    assert_eq!(rw("SELECT * FROM w"), None);
    let no_db = Moving {
        session_db: None,
        tables: moving().tables,
    };
    assert_eq!(rewrite("SELECT * FROM t", &no_db), Ok(None));
}

#[test]
fn joins_keep_their_semantics() {
    // Inner joins and the preserved side: the WHERE.
    check(
        "SELECT * FROM t JOIN u ON t.id = u.uid, other o WHERE o.a = t.v",
        &format!(
            "SELECT * FROM t JOIN u ON t.id = u.uid, other o WHERE {} AND {} AND ( o.a = t.v)",
            wt(T),
            wu(U)
        ),
    );
    // The inner side of an outer join: that join's ON (null-extended as before).
    check(
        "SELECT * FROM t LEFT JOIN u ON t.id = u.uid OR u.v = 1 WHERE t.v > 1",
        &format!(
            "SELECT * FROM t LEFT JOIN u ON {} AND ( t.id = u.uid OR u.v = 1) WHERE {} AND ( t.v > 1)",
            wu(U),
            wt(T)
        ),
    );
    check(
        "SELECT * FROM t x RIGHT OUTER JOIN u ON (x.id = u.uid) LEFT JOIN other o ON o.a = x.id",
        &format!(
            "SELECT * FROM t x RIGHT OUTER JOIN u ON {} AND ( (x.id = u.uid)) LEFT JOIN other o ON o.a = x.id WHERE {}",
            wt("`x`"),
            wu(U)
        ),
    );
    check(
        "SELECT * FROM other o LEFT JOIN (t JOIN u ON t.id = u.uid) ON o.a = t.id",
        &format!(
            "SELECT * FROM other o LEFT JOIN (t JOIN u ON t.id = u.uid) ON {} AND {} AND ( o.a = t.id)",
            wt(T),
            wu(U)
        ),
    );
    check(
        "SELECT * FROM t LEFT JOIN u ON u.uid = t.id LEFT JOIN t AS t2 ON t2.id = LEFT(u.v, 1) GROUP BY 1",
        &format!(
            "SELECT * FROM t LEFT JOIN u ON {} AND ( u.uid = t.id) LEFT JOIN t AS t2 ON {} AND ( t2.id = LEFT(u.v, 1)) WHERE {} GROUP BY 1",
            wu(U),
            wt("`t2`"),
            wt(T)
        ),
    );
    // No ON to put it in: a derived table.
    check(
        "SELECT * FROM t x RIGHT OUTER JOIN u USING (id) , other o",
        &format!(
            "SELECT * FROM {} RIGHT OUTER JOIN u USING (id) , other o WHERE {}",
            dt("t", "x"),
            wu(U)
        ),
    );
    check(
        "SELECT * FROM t NATURAL LEFT JOIN u",
        &format!(
            "SELECT * FROM t NATURAL LEFT JOIN {} WHERE {}",
            du("u", "`u`"),
            wt(T)
        ),
    );
    check(
        "SELECT * FROM other LEFT JOIN t ON NOT t.v",
        &format!(
            "SELECT * FROM other LEFT JOIN {} ON NOT t.v",
            dt("t", "`t`")
        ),
    );
    check(
        "SELECT * FROM t STRAIGHT_JOIN u ON t.id = u.uid",
        &format!(
            "SELECT * FROM t STRAIGHT_JOIN u ON t.id = u.uid WHERE {} AND {}",
            wt(T),
            wu(U)
        ),
    );
}

#[test]
fn subqueries_unions_ctes_inserts() {
    check(
        "SELECT * FROM other WHERE a IN (SELECT id FROM t) AND EXISTS (SELECT 1 FROM u WHERE u.uid = other.a)",
        &format!(
            "SELECT * FROM other WHERE a IN (SELECT id FROM t WHERE {}) AND EXISTS (SELECT 1 FROM u WHERE {} AND ( u.uid = other.a))",
            wt(T),
            wu(U)
        ),
    );
    check(
        "SELECT x FROM (SELECT id AS x FROM t) AS s",
        &format!("SELECT x FROM (SELECT id AS x FROM t WHERE {}) AS s", wt(T)),
    );
    check(
        "SELECT id FROM t UNION ALL SELECT uid FROM u WHERE uid > 2 UNION SELECT 1 ORDER BY 1",
        &format!(
            "SELECT id FROM t WHERE {} UNION ALL SELECT uid FROM u WHERE {} AND ( uid > 2) UNION SELECT 1 ORDER BY 1",
            wt(T),
            wu(U)
        ),
    );
    check(
        "(SELECT id FROM t LIMIT 2) UNION (SELECT uid FROM u)",
        &format!(
            "(SELECT id FROM t WHERE {} LIMIT 2) UNION (SELECT uid FROM u WHERE {})",
            wt(T),
            wu(U)
        ),
    );
    check(
        "WITH c AS (SELECT id FROM t) SELECT * FROM c JOIN u ON c.id = u.uid",
        &format!(
            "WITH c AS (SELECT id FROM t WHERE {}) SELECT * FROM c JOIN u ON c.id = u.uid WHERE {}",
            wt(T),
            wu(U)
        ),
    );
    check(
        "INSERT INTO other (a) SELECT id FROM t WHERE id > 3",
        &format!(
            "INSERT INTO other (a) SELECT id FROM t WHERE {} AND ( id > 3)",
            wt(T)
        ),
    );
    check(
        "INSERT INTO other (a) SELECT t.id FROM t JOIN u ON t.id = u.uid ON DUPLICATE KEY UPDATE a = 1",
        &format!(
            "INSERT INTO other (a) SELECT t.id FROM t JOIN u ON t.id = u.uid WHERE {} AND {} ON DUPLICATE KEY UPDATE a = 1",
            wt(T),
            wu(U)
        ),
    );
    check(
        "SELECT (SELECT MAX(uid) FROM u) AS m",
        &format!("SELECT (SELECT MAX(uid) FROM u WHERE {}) AS m", wu(U)),
    );
    check(
        "EXPLAIN SELECT * FROM t",
        &format!("EXPLAIN SELECT * FROM t WHERE {}", wt(T)),
    );
}

#[test]
fn placeholders_comments_and_lines_stay() {
    check(
        "SELECT * FROM t WHERE id > ? -- t\nORDER BY id LIMIT ?",
        &format!(
            "SELECT * FROM t WHERE {} AND ( id > ?) -- t\nORDER BY id LIMIT ?",
            wt(T)
        ),
    );
    check(
        "/* lead */ SELECT 'é',\n  x FROM\n  t /* after */ WHERE v = 'ü' # end",
        &format!(
            "/* lead */ SELECT 'é',\n  x FROM\n  t /* after */ WHERE {} AND ( v = 'ü') # end",
            wt(T)
        ),
    );
    check(
        "SELECT * FROM t -- no where\n",
        &format!("SELECT * FROM t WHERE {} -- no where\n", wt(T)),
    );
}

#[test]
fn partitions_and_index_hints() {
    check(
        "SELECT * FROM t PARTITION (p0, p1) AS a FORCE INDEX (ix) WHERE a.v = 1",
        &format!(
            "SELECT * FROM t PARTITION (p0, p1) AS a FORCE INDEX (ix) WHERE {} AND ( a.v = 1)",
            wt("`a`")
        ),
    );
    check(
        "SELECT * FROM t USE INDEX FOR ORDER BY (ix) IGNORE KEY FOR GROUP BY (iy) ORDER BY v",
        &format!(
            "SELECT * FROM t USE INDEX FOR ORDER BY (ix) IGNORE KEY FOR GROUP BY (iy) WHERE {} ORDER BY v",
            wt(T)
        ),
    );
    // A derived table takes them inside.
    check(
        "SELECT * FROM other LEFT JOIN t PARTITION (p0) AS a FORCE INDEX (ix) USING (id)",
        &format!(
            "SELECT * FROM other LEFT JOIN (SELECT * FROM t PARTITION (p0) FORCE INDEX (ix) WHERE {}) AS a USING (id)",
            cond("`id`")
        ),
    );
}

#[test]
fn updates_and_deletes_filter_their_where() {
    check(
        "UPDATE t SET v = v + 1 WHERE v = 3 OR v = 4",
        &format!(
            "UPDATE t SET v = v + 1 WHERE {} AND ( v = 3 OR v = 4)",
            wt(T)
        ),
    );
    check(
        "UPDATE t SET v = ? ORDER BY id LIMIT ?",
        &format!("UPDATE t SET v = ? WHERE {} ORDER BY id LIMIT ?", wt(T)),
    );
    check(
        "DELETE FROM d.t",
        &format!("DELETE FROM d.t WHERE {}", wt(T)),
    );
    check(
        "DELETE FROM t WHERE v IN (SELECT uid FROM u) LIMIT 2;",
        &format!(
            "DELETE FROM t WHERE {} AND ( v IN (SELECT uid FROM u WHERE {})) LIMIT 2;",
            wt(T),
            wu(U)
        ),
    );
    check(
        "DELETE FROM t WHERE v = 1 RETURNING id",
        &format!("DELETE FROM t WHERE {} AND ( v = 1) RETURNING id", wt(T)),
    );
    // Multi-table: every written or joined moving table, by its alias.
    check(
        "UPDATE t a JOIN u b ON a.id = b.uid SET a.v = b.v WHERE b.v > 0",
        &format!(
            "UPDATE t a JOIN u b ON a.id = b.uid SET a.v = b.v WHERE {} AND {} AND ( b.v > 0)",
            wt("`a`"),
            wu("`b`")
        ),
    );
    check(
        "DELETE a FROM t a, other o WHERE a.v = o.v",
        &format!(
            "DELETE a FROM t a, other o WHERE {} AND ( a.v = o.v)",
            wt("`a`")
        ),
    );
    check(
        "UPDATE other o LEFT JOIN (SELECT uid, v FROM u) s ON s.uid = o.a SET o.v = s.v",
        &format!(
            "UPDATE other o LEFT JOIN (SELECT uid, v FROM u WHERE {}) s ON s.uid = o.a SET o.v = s.v",
            wu(U)
        ),
    );
    assert_eq!(rw("UPDATE other SET v = 1"), None);
    assert!(
        refused_what("UPDATE other o LEFT JOIN t ON t.id = o.a SET o.v = t.v")
            .contains("outer join")
    );
    assert!(
        refused_what("DELETE o FROM t RIGHT JOIN other o ON t.id = o.a").contains("outer join")
    );
}

#[test]
fn what_cannot_be_filtered_is_refused() {
    assert!(refused_what("CREATE TABLE x AS SELECT * FROM t").starts_with("CREATE reading `t`"));
    assert!(refused_what("SELECT /*! id FROM t */").contains("executable comment"));
    assert_eq!(rw("SELECT 1 /*!50000 + 1 */ FROM other"), None);
    assert!(refused_what("SELECT d.t.id FROM other LEFT JOIN d.t USING (id)").contains("database"));
    assert!(refused_what("SELECT d.t.* FROM other NATURAL LEFT JOIN d.t").contains("database"));
    assert!(refused_what("WITH t AS (SELECT 1 AS id) SELECT * FROM t").contains("WITH"));
    assert!(refused_what("HANDLER t READ FIRST").contains("cannot parse"));
    assert_eq!(rw("HANDLER other READ FIRST"), None);
    // Statements reading no rows of a moving table pass.
    assert_eq!(rw("SHOW CREATE TABLE t"), None);
    assert_eq!(rw("SET @a = 1"), None);
}

#[test]
fn names_that_are_not_moving_tables() {
    // Strings, columns and aliases named like a moving table read nothing of it.
    assert_eq!(rw("SELECT 't' FROM other WHERE name = 'u'"), None);
    assert_eq!(rw("SELECT t FROM other AS t"), None);
    assert_eq!(rw("SELECT t.id FROM other t JOIN e.t ON 1"), None);
    check(
        "SELECT t.id FROM u AS t",
        &format!("SELECT t.id FROM u AS t WHERE {}", wu("`t`")),
    );
}

#[test]
fn mariadb_syntax_sqlparser_lacks() {
    check(
        "SELECT a MOD 7 FROM t GROUP BY a DESC",
        &format!("SELECT a MOD 7 FROM t WHERE {} GROUP BY a DESC", wt(T)),
    );
    check(
        "SELECT a FROM t WHERE a SOUNDS LIKE 'x' LOCK IN SHARE MODE",
        &format!(
            "SELECT a FROM t WHERE {} AND ( a SOUNDS LIKE 'x') LOCK IN SHARE MODE",
            wt(T)
        ),
    );
    assert_eq!(rw("SELECT MOD(a, 7) FROM other"), None);
}

#[test]
fn parenthesised_clauses() {
    check(
        "SELECT t.id, t.v FROM t WHERE (t.g = 1) AND t.v IN (1, 2)",
        &format!(
            "SELECT t.id, t.v FROM t WHERE {} AND ( (t.g = 1) AND t.v IN (1, 2))",
            wt(T)
        ),
    );
    check(
        "SELECT id FROM t WHERE (v = 1) UNION (SELECT uid FROM u WHERE (v = 2)) ORDER BY 1",
        &format!(
            "SELECT id FROM t WHERE {} AND ( (v = 1)) UNION (SELECT uid FROM u WHERE {} AND ( (v = 2))) ORDER BY 1",
            wt(T),
            wu(U)
        ),
    );
    check(
        "SELECT * FROM other o LEFT JOIN u ON (u.uid = o.a) WHERE (o.v = 1)",
        &format!(
            "SELECT * FROM other o LEFT JOIN u ON {} AND ( (u.uid = o.a)) WHERE (o.v = 1)",
            wu(U)
        ),
    );
    check(
        "SELECT id FROM t UNION (SELECT 1)",
        &format!("SELECT id FROM t WHERE {} UNION (SELECT 1)", wt(T)),
    );
}
