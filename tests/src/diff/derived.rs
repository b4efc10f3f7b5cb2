//! Derived tables and CTEs over one sharded table: those whose rows stay each
//! set's own run set by set; those computing over rows of several sets
//! (aggregates not grouped by the shard key, DISTINCT, ORDER BY ... LIMIT,
//! ROLLUP, a UNION inside) are materialized by the gateway — answers, column
//! names and types must be one plain MariaDB's, in both protocols, in a
//! transaction, over DECIMAL / DATETIME / utf8mb4_unicode_ci / NULL values.

use mysql_async::Value;

use super::Q;

/// Derived tables, CTEs and subqueries whose rows stay each set's own (grouped
/// by the shard key, or no computation over several rows): run set by set,
/// merged by the outer query.
pub fn per_set() -> Vec<Q> {
    vec![
        Q::exact("SELECT * FROM (SELECT user_id, COUNT(*) AS n, SUM(amount) AS total FROM orders GROUP BY user_id) d ORDER BY n DESC, user_id LIMIT 10"),
        Q::exact("SELECT COUNT(*), SUM(n) FROM (SELECT user_id, COUNT(*) AS n FROM orders GROUP BY user_id HAVING COUNT(*) > 1) d"),
        Q::exact("SELECT d.user_id, d.m, c.country FROM (SELECT o.user_id, MAX(o.amount) AS m, MIN(o.status) AS s FROM orders o GROUP BY o.user_id) d LEFT JOIN cities c ON c.name = d.s ORDER BY d.user_id LIMIT 15"),
        Q::any("SELECT * FROM (SELECT user_id, name FROM users WHERE score > 50) d"),
        Q::exact("SELECT COUNT(*) FROM (SELECT u.user_id, c.country FROM users u JOIN cities c ON c.name = u.city) d"),
        Q::exact("SELECT user_id, (SELECT COUNT(*) FROM cities) AS n FROM users ORDER BY user_id LIMIT 5"),
    ]
}

/// Derived tables and CTEs computing over rows of several sets (refused before,
/// or answered with each set's part): materialized, then the outer query.
pub fn materialized() -> Vec<Q> {
    vec![
        // A UNION ALL of a sharded and a broadcast table inside: its branches
        // are read first (join/union_reads.rs), then materialized.
        Q::any("SELECT * FROM (SELECT city FROM users UNION ALL SELECT name FROM cities) d"),
        Q::exact("SELECT * FROM (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) d ORDER BY status"),
        Q::exact("SELECT COUNT(*) FROM (SELECT DISTINCT city FROM users) d"),
        // Django's .distinct().count() and .values().distinct().count().
        Q::exact("SELECT COUNT(*) FROM (SELECT DISTINCT `users`.`city` AS `col1` FROM `users`) subquery"),
        Q::exact("SELECT COUNT(*) FROM (SELECT DISTINCT status, user_id FROM orders WHERE amount > 100) subquery"),
        Q::exact("SELECT COUNT(*) FROM (SELECT user_id FROM users ORDER BY user_id LIMIT 5) d"),
        Q::any("SELECT * FROM (SELECT user_id, name, created FROM users ORDER BY user_id DESC LIMIT 3, 5) d"),
        Q::exact("SELECT * FROM (SELECT MAX(score) AS m, MIN(born) AS b, AVG(balance) AS a FROM users) d"),
        Q::exact("SELECT SUM(n), MAX(n) + 1, COUNT(*) FROM (SELECT city, COUNT(*) AS n FROM users GROUP BY city) d"),
        Q::any("WITH d AS (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) SELECT * FROM d"),
        Q::exact("WITH c AS (SELECT status, MAX(amount) AS m, MIN(amount) AS lo FROM orders GROUP BY status) SELECT status, m - lo AS spread FROM c WHERE m > 10 ORDER BY status"),
        Q::exact("WITH c (s, n) AS (SELECT status, COUNT(*) FROM orders GROUP BY status) SELECT s, n FROM c ORDER BY n DESC, s LIMIT 3"),
        // A UNION and a ROLLUP inside.
        Q::any("SELECT * FROM (SELECT city FROM users WHERE score > 30 UNION ALL SELECT status FROM orders WHERE amount < 50) d"),
        Q::exact("SELECT COUNT(*), COUNT(DISTINCT c) FROM (SELECT city AS c FROM users UNION SELECT name FROM cities) d"),
        Q::any("SELECT * FROM (SELECT status, COUNT(*) AS n, SUM(amount) AS s FROM orders GROUP BY status WITH ROLLUP) d"),
        // Joined with a broadcast table.
        Q::exact("SELECT d.city, d.n, c.country FROM (SELECT city, COUNT(*) AS n FROM users GROUP BY city) d JOIN cities c ON c.name = d.city ORDER BY d.city"),
        Q::exact("SELECT d.city, d.n, c.country FROM (SELECT city, COUNT(*) AS n FROM users GROUP BY city) d LEFT JOIN cities c ON c.name = d.city ORDER BY d.n DESC, d.city"),
        // Next to a derived table that stays each set's own.
        Q::exact("SELECT a.user_id, z.n FROM (SELECT user_id, city FROM users WHERE score > 50) a JOIN (SELECT city, COUNT(*) AS n FROM users GROUP BY city) z ON z.city = a.city ORDER BY a.user_id LIMIT 10"),
        // The outer query computes, ranks, groups.
        Q::exact("SELECT status, AVG(amount), COUNT(*) FROM (SELECT status, amount FROM orders ORDER BY amount DESC, order_id, user_id LIMIT 50) d GROUP BY status ORDER BY status"),
        Q::exact("SELECT status, n, RANK() OVER (ORDER BY n DESC) AS r FROM (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) d ORDER BY r, status"),
        // A window partitioned by the shard key inside (each set's block runs it).
        Q::any("SELECT n FROM (SELECT ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY order_id) AS n FROM orders) d"),
        Q::exact("SELECT MAX(n), COUNT(*) FROM (SELECT ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY order_id) AS n FROM orders) d"),
        // Nested derived tables.
        Q::exact("SELECT COUNT(*) FROM (SELECT n FROM (SELECT status, COUNT(*) AS n FROM orders GROUP BY status) a WHERE n > 1) b"),
        // An empty derived table.
        Q::any("SELECT * FROM (SELECT city, COUNT(*) AS n FROM users WHERE score > 100000 GROUP BY city) d"),
        Q::exact("SELECT COUNT(*), MAX(n) FROM (SELECT city, COUNT(*) AS n FROM users WHERE score > 100000 GROUP BY city) d"),
        // MariaDB's error for a bad derived block.
        Q::any("SELECT * FROM (SELECT nope, COUNT(*) AS n FROM users GROUP BY city) d").with_message(),
        // Binary protocol: placeholders in the derived block, LIMIT ? too.
        Q::exact("SELECT * FROM (SELECT status, COUNT(*) AS n FROM orders WHERE amount > ? GROUP BY status) d ORDER BY status")
            .bin(vec![Value::Int(50)]),
        Q::exact("SELECT * FROM (SELECT user_id, score FROM users WHERE score > ? ORDER BY score DESC, user_id LIMIT ?) d ORDER BY user_id")
            .bin(vec![Value::Int(20), Value::Int(5)]),
        Q::exact("SELECT COUNT(*) FROM (SELECT DISTINCT city FROM users WHERE score < ?) d")
            .bin(vec![Value::Int(40)]),
    ]
}

/// A sharded table of DECIMAL, DATETIME(6), utf8mb4_unicode_ci text and BIGINT
/// UNSIGNED values, NULLs among them: the DDL (gateway, reference) and its rows.
pub fn typed_table() -> (String, String, Vec<String>) {
    let body = "CREATE TABLE dvals (id INT PRIMARY KEY, grp INT, amt DECIMAL(14,4), \
                at DATETIME(6), label VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, \
                big BIGINT UNSIGNED)";
    let labels = ["'a'", "'A'", "'Ä'", "'b'", "'ß'", "'ss'", "NULL", "'日本'"];
    let mut rows = Vec::new();
    for i in -6i64..34 {
        let grp = if i % 7 == 3 {
            "NULL".to_string()
        } else {
            (i.rem_euclid(4)).to_string()
        };
        let amt = if i % 5 == 0 {
            "NULL".to_string()
        } else {
            format!("{}.{:04}", i * 13 - 40, (i * 37).rem_euclid(10_000))
        };
        let at = if i % 6 == 1 {
            "NULL".to_string()
        } else {
            format!(
                "'2024-0{}-1{} 1{}:0{}:00.{:06}'",
                1 + i.rem_euclid(9),
                i.rem_euclid(10),
                i.rem_euclid(10),
                i.rem_euclid(6),
                (i * 12_345).rem_euclid(1_000_000)
            )
        };
        let label = labels[i.rem_euclid(8) as usize];
        let big = if i == 9 {
            "18446744073709551615".to_string()
        } else {
            (i.unsigned_abs() * 1_000_000_007).to_string()
        };
        rows.push(format!("({i}, {grp}, {amt}, {at}, {label}, {big})"));
    }
    let insert = format!(
        "INSERT INTO dvals (id, grp, amt, at, label, big) VALUES {}",
        rows.join(", ")
    );
    (
        format!("{body} shardkey=id"),
        body.to_string(),
        vec![insert],
    )
}

/// Derived tables over [`typed_table`]: the materialized columns keep their
/// type, scale, fraction, collation and sign.
pub fn typed() -> Vec<Q> {
    vec![
        Q::exact("SELECT * FROM (SELECT grp, COUNT(*) AS n, SUM(amt) AS s, MAX(at) AS m, MIN(big) AS lo, MAX(big) AS hi FROM dvals GROUP BY grp) d ORDER BY grp"),
        Q::exact("SELECT grp, s * 2, s / 3, m + INTERVAL 1 SECOND, hi - lo FROM (SELECT grp, SUM(amt) AS s, MAX(at) AS m, MIN(big) AS lo, MAX(big) AS hi FROM dvals GROUP BY grp) d ORDER BY grp"),
        // utf8mb4_unicode_ci: 'a' = 'A' = 'Ä', 'ß' = 'ss'.
        Q::exact("SELECT COUNT(*) FROM (SELECT DISTINCT label FROM dvals) d"),
        Q::folded("SELECT * FROM (SELECT DISTINCT label FROM dvals) d"),
        Q::folded("SELECT label, n FROM (SELECT label, COUNT(*) AS n FROM dvals GROUP BY label) d WHERE label = 'a' OR label = 'ss'"),
        Q::exact("SELECT COUNT(*) FROM (SELECT label FROM dvals ORDER BY id LIMIT 12) d WHERE label = 'ä'"),
        Q::exact("SELECT id, label, amt, at FROM (SELECT id, label, amt, at FROM dvals ORDER BY amt DESC, id LIMIT 8) d ORDER BY id"),
        Q::exact("SELECT MAX(CONCAT(label, '!')), MIN(at), AVG(amt) FROM (SELECT label, at, amt FROM dvals ORDER BY id DESC LIMIT 20) d"),
        // Nothing in the derived table.
        Q::any("SELECT * FROM (SELECT grp, SUM(amt) AS s, MAX(at) AS m, MAX(label) AS l FROM dvals WHERE id < -100 GROUP BY grp) d"),
        Q::exact("SELECT grp, s, m FROM (SELECT grp, SUM(amt) AS s, MAX(at) AS m FROM dvals WHERE amt > ? GROUP BY grp) d ORDER BY grp")
            .bin(vec![Value::from("1.5")]),
        Q::exact("SELECT * FROM (SELECT id, label, at FROM dvals WHERE label = ? ORDER BY at, id LIMIT ?) d ORDER BY id")
            .bin(vec![Value::from("a"), Value::Int(4)]),
    ]
}

/// In a transaction, the derived block sees the transaction's own uncommitted
/// write (and not after the rollback).
pub fn in_transaction() -> Vec<Q> {
    let by_status = "SELECT * FROM (SELECT status, COUNT(*) AS n, SUM(amount) AS s FROM orders GROUP BY status) d ORDER BY status";
    vec![
        Q::any("START TRANSACTION"),
        Q::any("INSERT INTO orders (order_id, user_id, amount, status) VALUES (900001, 7, 12.34, 'derivedtest'), (900002, 8, 0.66, 'derivedtest')"),
        Q::exact(by_status),
        Q::exact("WITH c AS (SELECT status, COUNT(*) AS n, SUM(amount) AS s FROM orders GROUP BY status) SELECT n, s FROM c WHERE status = 'derivedtest'"),
        Q::exact("SELECT COUNT(*) FROM (SELECT DISTINCT status FROM orders WHERE amount < ?) d")
            .bin(vec![Value::Int(20)]),
        Q::any("ROLLBACK"),
        Q::exact(by_status),
    ]
}

/// Still refused with 1235: scalar and `IN` subqueries reading the sharded table
/// under rows that are not its own; derived blocks the gateway cannot run as a
/// statement of their own either (a UNION ALL of a sharded and a
/// broadcast table); a recursive CTE, a CTE reading another.
pub fn refused() -> Vec<&'static str> {
    vec![
        "SELECT name, (SELECT COUNT(*) FROM users u WHERE u.city = c.name) FROM cities c",
        "WITH RECURSIVE d AS (SELECT city, COUNT(*) AS n FROM users GROUP BY city) SELECT * FROM d",
        "WITH a AS (SELECT city, COUNT(*) AS n FROM users GROUP BY city), b AS (SELECT * FROM a) SELECT * FROM b",
    ]
}
