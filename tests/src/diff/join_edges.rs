//! Edges of the gateway's cross-set joins and subqueries (after
//! [`super::joins::setup`]): the names MariaDB gives select items (placeholders
//! of a prepared statement, literals), string keys of different collations
//! (ERROR 1267 exactly where MariaDB refuses, rows compared in the aggregated
//! collation elsewhere), warnings and `SHOW WARNINGS` after a join, and other
//! shapes (`<=>`, ON vs WHERE of an outer join, ORDER BY + LIMIT, aggregates).
//!
//! Tables added here: `jlatin` (latin1, single on diffdb's home set),
//! `joindb2.j2uni` (utf8mb4_unicode_ci) and `joindb2.j2mix`
//! (utf8mb4_general_ci), both single on joindb2's home set. Their values
//! differ by collation: `ü` = `y` in latin1_swedish_ci but = `u` in
//! utf8mb4_general_ci; `ß` = `ss` in utf8mb4_unicode_ci but = `s` in
//! utf8mb4_general_ci.

use mysql_async::Value;

use super::joins::DB2;
use super::{Diff, Q};

/// Creates and loads the tables above on both sides.
pub async fn setup(d: &mut Diff) -> anyhow::Result<()> {
    d.group("setup");
    let ddl = [
        "CREATE TABLE jlatin (code VARCHAR(16) CHARACTER SET latin1 PRIMARY KEY, n INT NULL)"
            .to_string(),
        format!("CREATE TABLE {DB2}.j2uni (code VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY, w INT NULL)"),
        format!("CREATE TABLE {DB2}.j2mix (code VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, note VARCHAR(16) NULL)"),
    ];
    for sql in &ddl {
        d.pair(sql, sql).await?;
    }
    let rows = [
        "INSERT INTO jlatin VALUES ('ü', 1), ('Y', 2), ('ß', 3), ('A1', 4), ('é', 5), ('zz', NULL)"
            .to_string(),
        format!("INSERT INTO {DB2}.j2uni VALUES ('ss', 1), ('ü', 2), ('a1', 3), ('é', 4), ('q', NULL)"),
        format!("INSERT INTO {DB2}.j2mix VALUES ('u', 'u'), ('y', 'y'), ('s', 's'), ('ss', 'ss'), ('a1', 'a'), ('E', 'e')"),
    ];
    for sql in &rows {
        d.pair(sql, sql).await?;
    }
    Ok(())
}

const JOIN: &str = "FROM jitems i JOIN users u ON u.user_id = i.user_id";

/// Select items of a cross-set join and subquery named as MariaDB names
/// them: literals by their text (text protocol), a prepared statement's
/// items holding `?` by their text with the `?` (binary protocol and SQL
/// `EXECUTE`).
pub fn names() -> Vec<Q> {
    let lits = "'x', 1+1, NULL, -5, - 3, 'a\\nb', 'it''s', \"dq\", 0x41, 1e3, .5, TRUE, _utf8mb4'z', N'n', '', 'x' AS al, -0.50";
    vec![
        Q::any(format!("SELECT i.item_id, {lits} {JOIN} WHERE i.item_id < 9")),
        Q::any(format!("SELECT {lits}, u.name {JOIN} WHERE i.item_id < 9")),
        Q::any(format!("SELECT i.item_id, {lits} FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 9")),
        Q::any(format!("SELECT item_id, {lits} FROM jitems WHERE user_id IN (SELECT user_id FROM users WHERE score > 50)")),
        Q::exact(format!("SELECT i.item_id, {lits} {JOIN} ORDER BY u.name, i.item_id LIMIT 5")),
        Q::any(format!("SELECT i.item_id, ? {JOIN} WHERE i.item_id < ?"))
            .bin(vec![Value::Bytes(b"x".to_vec()), Value::Int(20)]),
        Q::any(format!("SELECT i.item_id, ?, ? + 1, CONCAT(?, u.name), ? AS a, u.name {JOIN} WHERE i.item_id < 30"))
            .bin(vec![Value::Int(7), Value::Int(8), Value::Bytes(b"n:".to_vec()), Value::Bytes(b"al".to_vec())]),
        Q::any(format!("SELECT *, ? {JOIN} WHERE i.item_id < 9"))
            .bin(vec![Value::Bytes(b"s".to_vec())]),
        Q::any(format!("SELECT i.item_id, ?, ?, ?, ? - 1, ?, ? {JOIN} WHERE i.item_id < 9"))
            .bin(vec![Value::Double(1.5), Value::UInt(7), Value::NULL, Value::Int(-3), Value::Bytes(b"it's \\ \"q\"".to_vec()), Value::Int(-9)]),
        Q::any("SELECT item_id, ?, qty FROM jitems WHERE user_id IN (SELECT user_id FROM users WHERE score > ?)")
            .bin(vec![Value::Bytes(b"v".to_vec()), Value::Int(50)]),
        Q::exact(format!("SELECT i.item_id, ? {JOIN} ORDER BY u.name, i.item_id LIMIT 5"))
            .bin(vec![Value::Bytes(b"o".to_vec())]),
        Q::any("SET @nv = 12"),
        // SQL PREPARE of such a join: refused (its `?` items' types cannot
        // be MariaDB's), never named otherwise.
        Q::any(format!("PREPARE pn FROM 'SELECT i.item_id, ?, CONCAT(?, u.name) {JOIN} WHERE i.item_id < 12'")).or_unsupported(),
        Q::any(format!("PREPARE pn FROM 'SELECT i.item_id, u.name {JOIN} WHERE i.item_id < ?'")),
        Q::any("EXECUTE pn USING @nv"),
        Q::any("DEALLOCATE PREPARE pn"),
    ]
}

/// Join keys and subquery values of two collations: MariaDB's ERROR 1267
/// where it aggregates none, rows compared in the collation it aggregates
/// elsewhere.
pub fn collations() -> Vec<Q> {
    vec![
        // Same character set, two non-binary collations, both columns: 1267.
        Q::any("SELECT s.code, t.code FROM jsingle s JOIN joindb2.j2uni t ON t.code = s.code").with_message(),
        Q::any("SELECT s.code, t.code FROM jsingle s JOIN joindb2.j2uni t ON s.code = t.code").with_message(),
        Q::any("SELECT s.code, t.w FROM jsingle s LEFT JOIN joindb2.j2uni t ON t.code = s.code").with_message(),
        Q::any("SELECT i.item_id, t.w FROM jitems i JOIN joindb2.j2uni t ON t.code = i.code WHERE i.qty > 40"),
        Q::any("SELECT code FROM jsingle WHERE code IN (SELECT code FROM joindb2.j2uni)").with_message(),
        Q::any("SELECT code FROM jsingle WHERE code NOT IN (SELECT code FROM joindb2.j2uni)"),
        Q::any("SELECT code FROM jsingle WHERE code = (SELECT MIN(code) FROM joindb2.j2uni)"),
        Q::any("SELECT s.code FROM jsingle s WHERE EXISTS (SELECT 1 FROM joindb2.j2uni t WHERE t.code = s.code)"),
        // Even over no rows.
        Q::any("SELECT s.code, t.code FROM jsingle s JOIN joindb2.j2uni t ON t.code = s.code WHERE t.w > 1000"),
        Q::any("SELECT code FROM jsingle WHERE code IN (SELECT code FROM joindb2.j2uni WHERE w > 1000)"),
        // An explicit COLLATE wins.
        Q::any("SELECT s.code, t.code FROM jsingle s JOIN joindb2.j2uni t ON t.code = s.code COLLATE utf8mb4_unicode_ci"),
        Q::any("SELECT s.code, t.code FROM jsingle s JOIN joindb2.j2uni t ON t.code COLLATE utf8mb4_general_ci = s.code"),
        Q::any("SELECT m.code, t.code FROM joindb2.j2mix m JOIN jlatin t ON t.code = m.code COLLATE utf8mb4_bin"),
        Q::any("SELECT code FROM jsingle WHERE code COLLATE utf8mb4_unicode_ci IN (SELECT code FROM joindb2.j2uni)"),
        Q::any("SELECT code FROM jsingle WHERE code IN (SELECT code COLLATE utf8mb4_general_ci FROM joindb2.j2uni)"),
        // latin1 against utf8mb4: converted, compared in the utf8mb4 column's.
        Q::any("SELECT l.code, m.code, m.note FROM jlatin l JOIN joindb2.j2mix m ON m.code = l.code"),
        Q::any("SELECT l.code, m.note FROM jlatin l LEFT JOIN joindb2.j2mix m ON m.code = l.code"),
        Q::any("SELECT l.code, t.w FROM jlatin l JOIN joindb2.j2uni t ON t.code = l.code"),
        Q::any("SELECT code FROM jlatin WHERE code IN (SELECT code FROM joindb2.j2mix)"),
        Q::any("SELECT code FROM joindb2.j2mix WHERE code IN (SELECT code FROM jlatin)"),
        Q::any("SELECT code FROM jlatin WHERE code NOT IN (SELECT code FROM joindb2.j2uni)"),
        // An explicit latin1 collation against an implicit utf8mb4 one: 1267.
        Q::any("SELECT l.code FROM jlatin l JOIN joindb2.j2mix m ON m.code = l.code COLLATE latin1_general_ci").with_message(),
        // Lookup join by batches of either side.
        Q::any("SELECT l.code, m.note FROM jlatin l JOIN joindb2.j2mix m ON m.code = l.code WHERE l.n > 1 /* setwise:lookup */"),
        Q::any("SELECT l.code, m.note FROM joindb2.j2mix m JOIN jlatin l ON l.code = m.code WHERE m.note <> 'zz' /* setwise:lookup */"),
        Q::any("SELECT s.code FROM jsingle s JOIN joindb2.j2uni t ON t.code = s.code WHERE s.n > 0 /* setwise:lookup */"),
    ]
}

/// Warning counts, and `SHOW WARNINGS`, after a join or subquery across sets
/// whose warnings come from conditions on the rows the join keeps: the same
/// as MariaDB's.
pub fn warnings() -> Vec<Q> {
    vec![
        // A string column against a number in one side's condition.
        Q::any(format!("SELECT i.item_id, u.name {JOIN} WHERE i.code = 0 AND i.item_id < 40")),
        Q::any("SHOW WARNINGS"),
        Q::any("SELECT @@warning_count"),
        Q::any(format!("SELECT i.item_id, u.name {JOIN} WHERE i.code = 0 AND i.item_id < 40")),
        Q::any("SHOW COUNT(*) WARNINGS"),
        Q::any("SELECT i.item_id, s.label FROM jitems i LEFT JOIN jsingle s ON s.code = i.code WHERE i.code < 1 AND i.item_id BETWEEN 100 AND 140"),
        Q::any("SHOW WARNINGS"),
        Q::any("SHOW ERRORS"),
        Q::any("SELECT item_id FROM jitems WHERE code = 1 AND user_id IN (SELECT user_id FROM users WHERE score > 50) AND item_id < 50"),
        Q::any("SHOW WARNINGS"),
        Q::any("SELECT @@session.warning_count, @@error_count"),
        // Then a clean statement clears them.
        Q::any(format!("SELECT COUNT(*) {JOIN}")),
        Q::any("SHOW WARNINGS"),
        Q::any("SELECT @@warning_count"),
    ]
}

/// Joins whose side queries warn on rows the join then drops (a condition
/// or item of one table evaluated on every row its query reads, MariaDB's
/// only on joined rows): the rows and columns are MariaDB's, the gateway's
/// warnings at least as many (documented in README, "Warnings").
pub fn warnings_beyond() -> Vec<&'static str> {
    vec![
        "SELECT i.item_id FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE u.name = 0 AND i.item_id < 30",
        "SELECT i.item_id, CAST(i.code AS SIGNED) FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 30",
    ]
}

/// Other shapes: NULL-safe equality, ON vs WHERE of an outer join, ORDER BY
/// + LIMIT, aggregates.
pub fn shapes() -> Vec<Q> {
    vec![
        // NULL-safe keys: NULL matches NULL (hashed, also when a lookup is asked).
        Q::any("SELECT i.item_id, s.code FROM jitems i JOIN jsingle s ON s.code <=> i.code"),
        Q::any("SELECT i.item_id, s.n FROM jitems i JOIN jsingle s ON s.n <=> i.qty"),
        Q::any("SELECT i.item_id, j.uid FROM jitems i JOIN joindb2.j2users j ON j.code <=> i.code WHERE i.item_id < 40"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.qty <=> s.n AND i.item_id < 100"),
        Q::any("SELECT i.item_id, s.code FROM jitems i JOIN jsingle s ON s.n <=> i.qty AND s.code = i.code /* setwise:lookup */"),
        Q::any("SELECT COUNT(*) FROM jitems i JOIN jsingle s ON s.n <=> i.qty"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND i.qty > 40"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code WHERE i.qty > 40"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND s.n > 1"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code WHERE s.n > 1"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND i.qty IS NULL"),
        // ON conditions on the preserved table: its failing rows null-extended.
        Q::any("SELECT s.code, s.n, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND s.n > 1 AND i.qty > 10"),
        Q::any("SELECT i.item_id, s.code FROM jitems i RIGHT JOIN jsingle s ON s.code = i.code AND s.label <> 'none' AND s.n IS NOT NULL"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND s.n > 1 WHERE s.label <> 'empty' /* setwise:lookup */"),
        Q::any("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND s.n > 1 /* setwise:hash */"),
        Q::folded("SELECT s.code, COUNT(i.item_id), SUM(i.qty) FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND s.n < 10 GROUP BY s.code"),
        Q::exact("SELECT s.code, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND s.n <> 3 ORDER BY s.code, i.item_id LIMIT 40"),
        Q::any("SELECT u.user_id, j.tag FROM users u LEFT JOIN joindb2.j2users j ON j.uid = u.user_id AND u.score > 50"),
        Q::any("SELECT s.code, t.note FROM jsingle s LEFT JOIN joindb2.j2single t ON t.code = s.code AND t.note IS NOT NULL"),
        Q::exact("SELECT i.item_id, u.name, i.qty FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > 0 ORDER BY i.qty DESC, i.item_id LIMIT 7"),
        Q::exact("SELECT i.item_id, u.name FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id ORDER BY u.name DESC, i.item_id DESC LIMIT 10 OFFSET 3"),
        Q::exact("SELECT i.item_id FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY i.item_id LIMIT 0"),
        Q::any("SELECT COUNT(DISTINCT u.city), COUNT(DISTINCT i.code) FROM jitems i JOIN users u ON u.user_id = i.user_id").or_unsupported(),
        Q::folded("SELECT i.code, MIN(u.user_id), MAX(i.item_id) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY i.code"),
        Q::any("SELECT COUNT(*), SUM(i.qty) FROM jsingle s JOIN jitems i ON i.code = s.code WHERE s.n IS NULL"),
        // Two keys; a key expression; ORDER BY NULLs of the null-extended side.
        Q::any("SELECT i.item_id, s.label FROM jitems i JOIN jsingle s ON s.code = i.code AND s.n = i.qty"),
        Q::any("SELECT i.item_id, s.code FROM jitems i JOIN jsingle s ON s.n = i.qty + 1 WHERE i.item_id < 200"),
        Q::exact("SELECT i.item_id, u.name FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 60 ORDER BY u.name, i.item_id"),
        Q::exact("SELECT i.item_id, u.name FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 60 ORDER BY u.name DESC, i.item_id DESC"),
        Q::exact("SELECT i.item_id FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY i.item_id LIMIT 5 OFFSET 100000"),
        Q::exact("SELECT DISTINCT u.city FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY u.city").or_unsupported(),
        Q::folded("SELECT u.city AS c, COUNT(*) AS n FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id GROUP BY c HAVING n > 3"),
        Q::any("SELECT i.*, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 30"),
        Q::any("SELECT MIN(i.code), MAX(i.code), COUNT(DISTINCT i.code) FROM jitems i JOIN jsingle s ON s.code = i.code").or_unsupported(),
        Q::any("SELECT s.code, i.item_id FROM jsingle s JOIN jitems i ON i.code = s.code WHERE s.code IN ('a1', 'B2') AND i.qty BETWEEN 0 AND 20"),
    ]
}
