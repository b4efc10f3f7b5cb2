use super::*;

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
    Parser::parse_sql(&MySqlDialect {}, &got).unwrap_or_else(|e| panic!("{got}: {e}"));
}

#[test]
fn scans_aggregates_and_groups() {
    check(
        "SELECT COUNT(*) FROM t",
        &format!("SELECT COUNT(*) FROM {}", dt("t", "`t`")),
    );
    check(
        "SELECT v, SUM(x) FROM t WHERE x > 1 GROUP BY v HAVING SUM(x) > 2 ORDER BY v LIMIT 3",
        &format!(
            "SELECT v, SUM(x) FROM {} WHERE x > 1 GROUP BY v HAVING SUM(x) > 2 ORDER BY v LIMIT 3",
            dt("t", "`t`")
        ),
    );
    check(
        "select * from t as a where a.id between 1 and 9 for update",
        &format!(
            "select * from {} where a.id between 1 and 9 for update",
            dt("t", "a")
        ),
    );
    check(
        "SELECT * FROM t a",
        &format!("SELECT * FROM {}", dt("t", "a")),
    );
    // Tables that do not move are left alone.
    assert_eq!(rw("SELECT * FROM other JOIN e.t ON 1"), None);
    assert_eq!(rw("SELECT 1"), None);
    assert_eq!(rw("INSERT INTO t (id) VALUES (1), (2)"), None);
}

#[test]
fn qualified_and_quoted_names() {
    check(
        "SELECT * FROM `d`.`t`",
        &format!("SELECT * FROM {}", dt("`d`.`t`", "`t`")),
    );
    check(
        "SELECT * FROM d.t AS `x y`",
        &format!("SELECT * FROM {}", dt("d.t", "`x y`")),
    );
    check(
        "SELECT k FROM e.w",
        &format!(
            "SELECT k FROM (SELECT * FROM e.w WHERE {}) AS `w`",
            "NOT IFNULL(((CRC32(LOWER(TRIM(TRAILING ' ' FROM `k`))) % 16) BETWEEN 0 AND 3), 0)"
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
    check(
        "SELECT * FROM t LEFT JOIN u ON t.id = u.uid",
        &format!(
            "SELECT * FROM {} LEFT JOIN {} ON t.id = u.uid",
            dt("t", "`t`"),
            du("u", "`u`")
        ),
    );
    check(
        "SELECT * FROM t x RIGHT OUTER JOIN u USING (id) , other o",
        &format!(
            "SELECT * FROM {} RIGHT OUTER JOIN {} USING (id) , other o",
            dt("t", "x"),
            du("u", "`u`")
        ),
    );
    check(
        "SELECT * FROM other o LEFT JOIN (t JOIN u ON t.id = u.uid) ON o.a = t.id",
        &format!(
            "SELECT * FROM other o LEFT JOIN ({} JOIN {} ON t.id = u.uid) ON o.a = t.id",
            dt("t", "`t`"),
            du("u", "`u`")
        ),
    );
    check(
        "SELECT * FROM t NATURAL JOIN u",
        &format!(
            "SELECT * FROM {} NATURAL JOIN {}",
            dt("t", "`t`"),
            du("u", "`u`")
        ),
    );
}

#[test]
fn subqueries_unions_ctes_inserts() {
    check(
        "SELECT * FROM other WHERE a IN (SELECT id FROM t) AND EXISTS (SELECT 1 FROM u WHERE u.uid = other.a)",
        &format!(
            "SELECT * FROM other WHERE a IN (SELECT id FROM {}) AND EXISTS (SELECT 1 FROM {} WHERE u.uid = other.a)",
            dt("t", "`t`"),
            du("u", "`u`")
        ),
    );
    check(
        "SELECT x FROM (SELECT id AS x FROM t) AS s",
        &format!(
            "SELECT x FROM (SELECT id AS x FROM {}) AS s",
            dt("t", "`t`")
        ),
    );
    check(
        "SELECT id FROM t UNION ALL SELECT uid FROM u ORDER BY 1",
        &format!(
            "SELECT id FROM {} UNION ALL SELECT uid FROM {} ORDER BY 1",
            dt("t", "`t`"),
            du("u", "`u`")
        ),
    );
    check(
        "WITH c AS (SELECT id FROM t) SELECT * FROM c JOIN u ON c.id = u.uid",
        &format!(
            "WITH c AS (SELECT id FROM {}) SELECT * FROM c JOIN {} ON c.id = u.uid",
            dt("t", "`t`"),
            du("u", "`u`")
        ),
    );
    check(
        "INSERT INTO other (a) SELECT id FROM t WHERE id > 3",
        &format!(
            "INSERT INTO other (a) SELECT id FROM {} WHERE id > 3",
            dt("t", "`t`")
        ),
    );
    check(
        "SELECT (SELECT MAX(uid) FROM u) AS m",
        &format!("SELECT (SELECT MAX(uid) FROM {}) AS m", du("u", "`u`")),
    );
    check(
        "EXPLAIN SELECT * FROM t",
        &format!("EXPLAIN SELECT * FROM {}", dt("t", "`t`")),
    );
}

#[test]
fn placeholders_comments_and_lines_stay() {
    check(
        "SELECT * FROM t WHERE id > ? -- t\nORDER BY id LIMIT ?",
        &format!(
            "SELECT * FROM {} WHERE id > ? -- t\nORDER BY id LIMIT ?",
            dt("t", "`t`")
        ),
    );
    check(
        "/* lead */ SELECT 'é',\n  x FROM\n  t /* after */ WHERE v = 'ü'",
        &format!(
            "/* lead */ SELECT 'é',\n  x FROM\n  {} /* after */ WHERE v = 'ü'",
            dt("t", "`t`")
        ),
    );
}

#[test]
fn partitions_and_index_hints_move_inside() {
    check(
        "SELECT * FROM t PARTITION (p0, p1) AS a FORCE INDEX (ix) WHERE a.v = 1",
        &format!(
            "SELECT * FROM (SELECT * FROM t PARTITION (p0, p1) FORCE INDEX (ix) WHERE {}) AS a WHERE a.v = 1",
            cond("`id`")
        ),
    );
    check(
        "SELECT * FROM t USE INDEX FOR ORDER BY (ix) IGNORE KEY (iy) ORDER BY v",
        &format!(
            "SELECT * FROM (SELECT * FROM t USE INDEX FOR ORDER BY (ix) IGNORE KEY (iy) WHERE {}) AS `t` ORDER BY v",
            cond("`id`")
        ),
    );
}

#[test]
fn updates_and_deletes_filter_their_where() {
    let c = |q: &str| format!("({})", cond(&format!("{q}.`id`")));
    check(
        "UPDATE t SET v = v + 1 WHERE v = 3 OR v = 4",
        &format!(
            "UPDATE t SET v = v + 1 WHERE {} AND ( v = 3 OR v = 4)",
            c("`t`")
        ),
    );
    check(
        "UPDATE t SET v = ? ORDER BY id LIMIT ?",
        &format!("UPDATE t SET v = ? WHERE {} ORDER BY id LIMIT ?", c("`t`")),
    );
    check(
        "DELETE FROM d.t",
        &format!("DELETE FROM d.t WHERE {}", c("`d`.`t`")),
    );
    check(
        "DELETE FROM t WHERE v IN (SELECT uid FROM u) LIMIT 2;",
        &format!(
            "DELETE FROM t WHERE {} AND ( v IN (SELECT uid FROM {})) LIMIT 2;",
            c("`t`"),
            du("u", "`u`")
        ),
    );
    check(
        "DELETE FROM t WHERE v = 1 RETURNING id",
        &format!("DELETE FROM t WHERE {} AND ( v = 1) RETURNING id", c("`t`")),
    );
    // Multi-table: every written or joined moving table, by its alias.
    check(
        "UPDATE t a JOIN u b ON a.id = b.uid SET a.v = b.v WHERE b.v > 0",
        &format!(
            "UPDATE t a JOIN u b ON a.id = b.uid SET a.v = b.v WHERE {} AND ({}) AND ( b.v > 0)",
            c("`a`"),
            cond("`b`.`uid`")
        ),
    );
    check(
        "DELETE a FROM t a, other o WHERE a.v = o.v",
        &format!(
            "DELETE a FROM t a, other o WHERE {} AND ( a.v = o.v)",
            c("`a`")
        ),
    );
    check(
        "UPDATE other o LEFT JOIN (SELECT uid, v FROM u) s ON s.uid = o.a SET o.v = s.v",
        &format!(
            "UPDATE other o LEFT JOIN (SELECT uid, v FROM {}) s ON s.uid = o.a SET o.v = s.v",
            du("u", "`u`")
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
    assert!(refused_what("SELECT d.t.id FROM d.t").contains("database"));
    assert!(refused_what("SELECT d.t.* FROM d.t").contains("database"));
    assert!(refused_what("WITH t AS (SELECT 1 AS id) SELECT * FROM t").contains("WITH"));
    assert!(refused_what("HANDLER t READ FIRST").contains("cannot parse"));
    assert_eq!(rw("HANDLER other READ FIRST"), None);
    // Statements reading no rows of a moving table pass.
    assert_eq!(rw("SHOW CREATE TABLE t"), None);
    assert_eq!(rw("SET @a = 1"), None);
}
