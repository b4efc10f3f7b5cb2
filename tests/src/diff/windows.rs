//! Window functions over rows of several sets whose partitions are not the
//! shard key's (refused with 1235 before): the rows of the statement's one
//! table its WHERE keeps are materialized by the gateway, and MariaDB computes
//! the windows, grouping, DISTINCT, ORDER BY and LIMIT on one set over them —
//! answers, column names and types must be one plain MariaDB's, in both
//! protocols and in a transaction after its own uncommitted writes.

use mysql_async::Value;

use super::Q;

/// Windows over the whole table or partitions spanning sets.
pub fn materialized() -> Vec<Q> {
    vec![
        Q::exact("SELECT user_id, name, ROW_NUMBER() OVER (ORDER BY score DESC, user_id) AS rn FROM users ORDER BY rn"),
        Q::any("SELECT name, RANK() OVER (ORDER BY score DESC) FROM users"),
        Q::any("SELECT user_id, DENSE_RANK() OVER (ORDER BY city) AS dr, NTILE(4) OVER (ORDER BY user_id) AS q FROM users"),
        Q::exact("SELECT order_id, user_id, LAG(order_id) OVER (ORDER BY order_id, user_id) AS prev, LAG(amount, 2) OVER (ORDER BY order_id, user_id) AS p2, LEAD(status, 3) OVER (ORDER BY order_id, user_id) AS n3, LEAD(order_id, 0) OVER (ORDER BY order_id, user_id) AS n0 FROM orders WHERE order_id < 300 ORDER BY order_id, user_id"),
        // MariaDB has no default argument to LAG / LEAD: its own error.
        Q::any("SELECT order_id, LAG(amount, 2, 0) OVER (ORDER BY order_id, user_id) AS p2 FROM orders"),
        Q::any("SELECT order_id, user_id, FIRST_VALUE(amount) OVER (PARTITION BY status ORDER BY order_id, user_id) AS f, LAST_VALUE(amount) OVER (PARTITION BY status ORDER BY order_id, user_id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS l FROM orders"),
        // Aggregates over partitions not by the shard key, default frames.
        Q::any("SELECT order_id, user_id, SUM(amount) OVER (PARTITION BY status ORDER BY order_id, user_id) AS s, AVG(amount) OVER (PARTITION BY status ORDER BY order_id, user_id) AS a, COUNT(*) OVER (PARTITION BY status) AS n, MIN(amount) OVER (PARTITION BY status) AS mi, MAX(amount) OVER (PARTITION BY status ORDER BY order_id, user_id) AS ma FROM orders"),
        // Explicit ROWS and RANGE frames.
        Q::any("SELECT order_id, user_id, SUM(amount) OVER (PARTITION BY status ORDER BY order_id, user_id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING) AS s, COUNT(amount) OVER (ORDER BY order_id, user_id ROWS 3 PRECEDING) AS c FROM orders"),
        Q::any("SELECT user_id, SUM(score) OVER (PARTITION BY city ORDER BY score RANGE BETWEEN 10 PRECEDING AND CURRENT ROW) AS s, COUNT(*) OVER (ORDER BY balance RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS c, AVG(balance) OVER (ORDER BY score RANGE BETWEEN CURRENT ROW AND 5 FOLLOWING) AS a FROM users"),
        Q::any("SELECT user_id, PERCENT_RANK() OVER (PARTITION BY city ORDER BY score) AS pr, CUME_DIST() OVER (ORDER BY score) AS cd FROM users"),
        // A WHERE: each set filters its own rows.
        Q::any("SELECT user_id, score, RANK() OVER (ORDER BY score DESC) AS r FROM users WHERE city IS NOT NULL AND score > 20"),
        Q::exact("SELECT u.user_id, u.city, SUM(u.balance) OVER (PARTITION BY u.city ORDER BY u.user_id) AS run FROM users AS u WHERE u.born IS NOT NULL ORDER BY u.user_id"),
        // Windows over aggregates of a GROUP BY (computed after grouping), HAVING.
        Q::exact("SELECT status, COUNT(*) AS n, SUM(amount) AS s, RANK() OVER (ORDER BY SUM(amount) DESC) AS r, SUM(COUNT(*)) OVER () AS total FROM orders GROUP BY status ORDER BY status"),
        Q::exact("SELECT city, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, city) AS rn FROM users GROUP BY city HAVING COUNT(*) > 1 ORDER BY rn"),
        // ORDER BY / LIMIT outside, DISTINCT, a window only in ORDER BY.
        Q::exact("SELECT user_id, name, RANK() OVER (ORDER BY score DESC) AS r FROM users u ORDER BY r, user_id LIMIT 10 OFFSET 5"),
        Q::exact("SELECT DISTINCT city, COUNT(*) OVER (PARTITION BY city) AS n FROM users ORDER BY city"),
        Q::exact("SELECT user_id, name FROM users ORDER BY ROW_NUMBER() OVER (ORDER BY score DESC, user_id) LIMIT 7"),
        // A named window; one window by the shard key next to one that is not.
        Q::any("SELECT order_id, user_id, ROW_NUMBER() OVER w AS rn, SUM(amount) OVER w AS s FROM orders WINDOW w AS (PARTITION BY status ORDER BY order_id, user_id)"),
        Q::any("SELECT user_id, ROW_NUMBER() OVER (PARTITION BY user_id) AS a, RANK() OVER (ORDER BY score) AS b FROM users"),
        // Every column (TEXT, DATETIME(3), DECIMAL, DATE), no row at all.
        Q::exact("SELECT *, ROW_NUMBER() OVER (ORDER BY user_id) AS rn FROM users WHERE user_id < 100 ORDER BY user_id"),
        Q::exact("SELECT user_id, RANK() OVER (ORDER BY score) FROM users WHERE name = 'no such name'"),
        // In a derived table (refused before): its block runs as a statement of its own.
        Q::any("SELECT * FROM (SELECT user_id, RANK() OVER (ORDER BY score) AS r FROM users) d"),
        Q::exact("SELECT r, COUNT(*) FROM (SELECT user_id, NTILE(3) OVER (ORDER BY user_id) AS r FROM users) d GROUP BY r ORDER BY r"),
        // Binary protocol, `?` in WHERE and LIMIT.
        Q::exact("SELECT order_id, user_id, RANK() OVER (ORDER BY amount DESC) AS r FROM orders WHERE amount > ? ORDER BY r, order_id, user_id LIMIT ?")
            .bin(vec![Value::Int(100), Value::Int(20)]),
        Q::any("SELECT user_id, CUME_DIST() OVER (PARTITION BY city ORDER BY score) AS cd, LAG(name, 1) OVER (ORDER BY user_id) AS p FROM users WHERE score < ? AND name <> ?")
            .bin(vec![Value::Int(60), Value::Bytes(b"first".to_vec())]),
    ]
}

/// In a transaction: the materialized rows include its own uncommitted writes.
pub fn in_transaction() -> Vec<Q> {
    let ranked = "SELECT order_id, user_id, RANK() OVER (ORDER BY amount DESC) AS r, COUNT(*) OVER (PARTITION BY status) AS n FROM orders WHERE status = 'wintest' OR amount > 900 ORDER BY r, order_id, user_id LIMIT 8";
    vec![
        Q::any("START TRANSACTION"),
        Q::any("INSERT INTO orders (order_id, user_id, amount, status) VALUES (900101, 7, 99999.99, 'wintest'), (900102, 8, 0.01, 'wintest'), (900103, 42, 99998.00, 'wintest')"),
        Q::exact(ranked),
        Q::exact("SELECT order_id, SUM(amount) OVER (PARTITION BY status ORDER BY order_id) AS s FROM orders WHERE status = ? ORDER BY order_id")
            .bin(vec![Value::Bytes(b"wintest".to_vec())]),
        Q::any("ROLLBACK"),
        Q::exact(ranked),
    ]
}

/// Still refused with 1235: a window over several sets whose FROM joins
/// tables, reads a CTE, or locks rows; a column written `db.table.column`.
pub fn refused() -> Vec<&'static str> {
    vec![
        "SELECT u.user_id, COUNT(*) OVER (PARTITION BY o.user_id) FROM users u LEFT JOIN orders o ON o.user_id = u.user_id",
        "SELECT u.user_id, RANK() OVER (ORDER BY c.country, u.user_id) FROM users u JOIN cities c ON c.name = u.city",
        "WITH x AS (SELECT 1 AS one) SELECT user_id, RANK() OVER (ORDER BY score) FROM users, x",
        "SELECT user_id, RANK() OVER (ORDER BY score) FROM users FOR UPDATE",
        "SELECT diffdb.users.user_id, RANK() OVER (ORDER BY score) FROM diffdb.users",
    ]
}
