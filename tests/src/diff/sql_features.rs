//! `SQL_CALC_FOUND_ROWS` / `FOUND_ROWS()`, window functions partitioned by
//! the shard key and casts over aggregates, over rows of several sets (derived
//! tables: [`super::derived`]): statement sequences whose answers
//! must be one plain MariaDB's (a `FOUND_ROWS()` right after the statement it
//! counts, on the same session, in both protocols).

use mysql_async::Value;

use super::Q;

/// `SQL_CALC_FOUND_ROWS` on one set, concatenated, merged by ORDER BY / LIMIT,
/// through UNION ALL, prepared, in a transaction; `FOUND_ROWS()` after
/// statements without it and after statements without a result set.
pub fn found_rows() -> Vec<Q> {
    let found = || Q::any("SELECT FOUND_ROWS()");
    vec![
        // One set (a shard-key point read).
        Q::exact("SELECT SQL_CALC_FOUND_ROWS order_id, amount FROM orders WHERE user_id = 7 ORDER BY order_id LIMIT 1"),
        found(),
        found(),
        // Every set, rows concatenated.
        Q::any("SELECT SQL_CALC_FOUND_ROWS order_id, user_id FROM orders WHERE amount > 100"),
        found(),
        // Merged by ORDER BY, cut by LIMIT / OFFSET.
        Q::exact("SELECT SQL_CALC_FOUND_ROWS order_id, user_id, amount FROM orders ORDER BY amount DESC, order_id, user_id LIMIT 10"),
        Q::any("SELECT FOUND_ROWS() AS total, FOUND_ROWS() + 1"),
        Q::exact("SELECT SQL_CALC_FOUND_ROWS * FROM users WHERE score > 10 ORDER BY user_id LIMIT 5, 7"),
        found(),
        Q::exact("SELECT sql_calc_found_rows user_id FROM users ORDER BY user_id DESC LIMIT 3 OFFSET 295"),
        Q::any("select found_rows()"),
        // LIMIT 0: no rows, all of them counted.
        Q::exact("SELECT SQL_CALC_FOUND_ROWS user_id FROM users ORDER BY user_id LIMIT 0"),
        found(),
        // No row at all.
        Q::exact("SELECT SQL_CALC_FOUND_ROWS user_id FROM users WHERE score > 100000 ORDER BY user_id LIMIT 3"),
        found(),
        // UNION ALL over every set.
        Q::any("SELECT SQL_CALC_FOUND_ROWS user_id FROM users WHERE score > 50 UNION ALL SELECT user_id FROM orders WHERE amount < 10"),
        found(),
        // Without SQL_CALC_FOUND_ROWS: the rows of the last result set.
        Q::exact("SELECT user_id FROM users ORDER BY user_id LIMIT 3"),
        found(),
        Q::any("SELECT order_id FROM orders WHERE amount > 200"),
        found(),
        Q::any("SELECT COUNT(*) FROM orders"),
        found(),
        // Statements without a result set leave it as it was.
        Q::exact("SELECT SQL_CALC_FOUND_ROWS user_id FROM users ORDER BY user_id LIMIT 2"),
        Q::any("SET @found_rows_x = 1"),
        Q::any("DO 1"),
        Q::any("UPDATE settings SET v = v WHERE k = 'none'"),
        found(),
        // FOUND_ROWS() inside an expression and a WHERE.
        Q::exact("SELECT SQL_CALC_FOUND_ROWS order_id FROM orders ORDER BY order_id, user_id LIMIT 1"),
        Q::any("SELECT FOUND_ROWS() * 2 AS twice, user_id FROM users WHERE user_id = 7"),
        Q::exact("SELECT SQL_CALC_FOUND_ROWS order_id FROM orders ORDER BY order_id, user_id LIMIT 1"),
        Q::any("SELECT user_id FROM users WHERE user_id < FOUND_ROWS() AND user_id > 0 ORDER BY user_id"),
        // Binary protocol (COM_STMT_EXECUTE) on both sides of the pair.
        Q::exact("SELECT SQL_CALC_FOUND_ROWS order_id, user_id FROM orders WHERE amount > ? ORDER BY order_id, user_id LIMIT ?")
            .bin(vec![Value::Int(50), Value::Int(4)]),
        found().bin(vec![]),
        found(),
        Q::exact("SELECT SQL_CALC_FOUND_ROWS order_id FROM orders WHERE user_id = ? ORDER BY order_id LIMIT 1")
            .bin(vec![Value::Int(7)]),
        found().bin(vec![]),
        Q::any("SELECT SQL_CALC_FOUND_ROWS order_id, user_id FROM orders WHERE status = ?")
            .bin(vec![Value::from("paid")]),
        found(),
        // SQL-level PREPARE / EXECUTE: over several sets (held by the gateway)
        // and on one set (its own connection counts).
        Q::any("PREPARE pf FROM 'SELECT SQL_CALC_FOUND_ROWS user_id FROM users WHERE score > ? ORDER BY user_id LIMIT 3'"),
        Q::any("SET @found_min = 20"),
        Q::exact("EXECUTE pf USING @found_min"),
        found(),
        Q::any("PREPARE ps FROM 'SELECT SQL_CALC_FOUND_ROWS k FROM settings ORDER BY k LIMIT 2'"),
        Q::exact("EXECUTE ps"),
        found(),
        Q::any("PREPARE pn FROM 'SELECT k FROM settings ORDER BY k LIMIT 4'"),
        Q::exact("EXECUTE pn"),
        found(),
        Q::any("DEALLOCATE PREPARE pf"),
        Q::any("DEALLOCATE PREPARE ps"),
        Q::any("DEALLOCATE PREPARE pn"),
        // In a transaction.
        Q::any("START TRANSACTION"),
        Q::exact("SELECT SQL_CALC_FOUND_ROWS user_id, score FROM users ORDER BY score DESC, user_id LIMIT 4"),
        found(),
        Q::any("SELECT SQL_CALC_FOUND_ROWS order_id FROM orders WHERE user_id = 8"),
        found(),
        Q::any("COMMIT"),
    ]
}

/// Refused with 1235 (the counts of groups or distinct rows do not add up
/// across sets); each is followed by a statement that sets both sides' count.
pub fn found_rows_refused() -> Vec<Q> {
    vec![
        Q::any("SELECT SQL_CALC_FOUND_ROWS city, COUNT(*) FROM users GROUP BY city ORDER BY city LIMIT 3").or_unsupported(),
        Q::any("SELECT SQL_CALC_FOUND_ROWS DISTINCT status FROM orders ORDER BY status LIMIT 2").or_unsupported(),
        Q::any("SELECT SQL_CALC_FOUND_ROWS COUNT(*) FROM orders").or_unsupported(),
    ]
}

/// Window functions partitioned by the shard key, over every set; the outer
/// ORDER BY / LIMIT merged by the gateway.
pub fn windows() -> Vec<Q> {
    vec![
        Q::exact("SELECT order_id, user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY order_id) AS rn FROM orders ORDER BY user_id, order_id"),
        Q::any("SELECT order_id, user_id, amount, RANK() OVER (PARTITION BY user_id ORDER BY amount DESC) FROM orders"),
        Q::any("SELECT o.order_id, SUM(o.amount) OVER (PARTITION BY o.user_id) AS total, COUNT(*) OVER (PARTITION BY o.user_id, o.status) AS n FROM orders o WHERE o.amount > 10"),
        Q::exact("SELECT order_id, user_id, LAG(amount) OVER (PARTITION BY user_id ORDER BY order_id) AS prev FROM orders ORDER BY order_id, user_id LIMIT 20"),
        Q::exact("SELECT order_id, user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY amount, order_id) AS rn FROM orders ORDER BY rn DESC, order_id, user_id LIMIT 15"),
        Q::any("SELECT order_id, user_id, SUM(amount) OVER (PARTITION BY user_id ORDER BY order_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM orders"),
        Q::any("SELECT u.user_id, o.order_id, DENSE_RANK() OVER (PARTITION BY u.user_id ORDER BY o.amount) AS dr FROM users u JOIN orders o ON o.user_id = u.user_id"),
        Q::any("SELECT user_id, FIRST_VALUE(name) OVER (PARTITION BY user_id) AS f, NTILE(2) OVER (PARTITION BY user_id ORDER BY user_id) FROM users"),
        Q::any("SELECT u.user_id, COUNT(o.order_id) OVER (PARTITION BY u.user_id) FROM users u LEFT JOIN orders o ON o.user_id = u.user_id"),
        Q::exact("SELECT order_id, user_id, AVG(amount) OVER (PARTITION BY user_id) AS a FROM orders WHERE user_id IN (7, 8, 42, 0, -1) ORDER BY order_id, user_id"),
        // Binary protocol.
        Q::exact("SELECT order_id, user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY order_id) AS rn FROM orders WHERE amount > ? ORDER BY order_id, user_id LIMIT ?")
            .bin(vec![Value::Int(20), Value::Int(25)]),
        Q::any("SELECT user_id, PERCENT_RANK() OVER (PARTITION BY user_id ORDER BY order_id) FROM orders WHERE amount < ?")
            .bin(vec![Value::Int(300)]),
    ]
}

/// Windows over rows of several sets whose partitions span sets and whose
/// FROM joins tables: refused with 1235, never answered per set (over one
/// table they are materialized: `super::windows`).
pub fn windows_refused() -> Vec<&'static str> {
    vec![
        "SELECT u.user_id, COUNT(*) OVER (PARTITION BY o.user_id) FROM users u LEFT JOIN orders o ON o.user_id = u.user_id",
    ]
}

/// `CAST(aggregate AS CHAR)` over rows of several sets: the aggregate's own text,
/// scale and all (before: `SUM(amount)` gave `4999` for `4999.00`, `MAX(name)` NULL).
pub fn casts_over_aggregates() -> Vec<Q> {
    vec![
        Q::exact("SELECT CAST(SUM(amount) AS CHAR), CAST(AVG(amount) AS CHAR), CAST(COUNT(*) AS CHAR) FROM orders"),
        Q::exact("SELECT CAST(MAX(name) AS CHAR), CAST(MIN(created) AS CHAR), CAST(MAX(born) AS BINARY) FROM users"),
        Q::exact("SELECT status, CAST(SUM(amount) AS CHAR) AS s FROM orders GROUP BY status ORDER BY status"),
        Q::exact("SELECT CAST(SUM(amount) AS SIGNED), CAST(SUM(amount) AS DECIMAL(20,1)) FROM orders"),
    ]
}

/// Expressions over MIN / MAX of string, temporal or JSON columns across sets, which
/// the gateway computed as decimals (NULL, or a wrong value): refused with 1235.
pub fn calcs_over_text_refused() -> Vec<&'static str> {
    vec![
        "SELECT MAX(name) + 0 FROM users",
        "SELECT IFNULL(MIN(created), 0) FROM users",
        "SELECT -MAX(born) FROM users",
        "SELECT CAST(MAX(created) AS DATE) FROM users",
        "SELECT ROUND(MAX(city)) FROM users",
        "SELECT CAST(MAX(name) AS CHAR(2)) FROM users",
    ]
}

/// `GROUP BY ... ORDER BY NULL` (MySQL's way to skip the sort after grouping) and
/// `DISTINCT ... ORDER BY NULL` across sets: groups in no particular order, as
/// MariaDB gives them (before: refused with 1235).
pub fn order_by_null() -> Vec<Q> {
    vec![
        Q::any("SELECT status, COUNT(*), SUM(amount) FROM orders GROUP BY status ORDER BY NULL"),
        Q::any("SELECT city, COUNT(DISTINCT score) AS n FROM users GROUP BY city HAVING n > 1 ORDER BY NULL"),
        Q::any("SELECT DISTINCT status FROM orders ORDER BY NULL"),
        Q::any("SELECT user_id % 7 AS m, GROUP_CONCAT(order_id ORDER BY order_id) FROM orders GROUP BY m ORDER BY null"),
        Q::exact("SELECT COUNT(*) FROM orders ORDER BY NULL"),
    ]
}
