//! Subqueries and set operations over sharded tables with rows on several sets,
//! on the join tables of [`super::joins`] (`jitems` sharded by `item_id`, `users`
//! by `user_id`, `jsingle` single) and diffdb's `orders` / `cities`:
//! quantified comparisons (`ALL` / `ANY` / `SOME`) with their NULL semantics,
//! scalar subqueries in the select list (uncorrelated, correlated ORM counts),
//! and `UNION [ALL]` of aggregates whose column types MariaDB aggregates.

use mysql_async::Value;

use super::Q;

/// `x op ALL / ANY / SOME (SELECT ...)` over a sharded table: empty sets, NULLs
/// in the set and in `x`, strings under the collation, both protocols.
pub fn quantified() -> Vec<Q> {
    let mut v = vec![
        // jsingle.n: 1, NULL, 3, 14, NULL, 0; jitems.qty: -5..44 and NULLs.
        Q::any("SELECT code, n FROM jsingle WHERE n > ALL (SELECT qty FROM jitems WHERE qty IS NOT NULL AND qty < 3)"),
        // A NULL in the set: `> ALL` is never TRUE.
        Q::any("SELECT code, n FROM jsingle WHERE n > ALL (SELECT qty FROM jitems WHERE qty < 3 OR qty IS NULL)"),
        Q::any("SELECT code, n FROM jsingle WHERE (n > ALL (SELECT qty FROM jitems WHERE qty < 3 OR qty IS NULL)) IS NULL"),
        // An empty set: ALL is TRUE, even for a NULL `x`; ANY is FALSE.
        Q::any("SELECT code, n FROM jsingle WHERE n > ALL (SELECT qty FROM jitems WHERE qty > 1000)"),
        Q::any("SELECT code, n FROM jsingle WHERE NOT (n = ANY (SELECT qty FROM jitems WHERE qty > 1000))"),
        Q::any("SELECT code, n FROM jsingle WHERE n >= ANY (SELECT qty FROM jitems WHERE item_id BETWEEN 30 AND 60)"),
        Q::any("SELECT code, n FROM jsingle WHERE n < ALL (SELECT qty FROM jitems WHERE qty > 2)"),
        Q::any("SELECT code, n FROM jsingle WHERE n <= SOME (SELECT qty FROM jitems WHERE qty < 1)"),
        Q::any("SELECT code, n FROM jsingle WHERE n = ANY (SELECT qty FROM jitems)"),
        Q::any("SELECT code, n FROM jsingle WHERE n = SOME (SELECT qty FROM jitems WHERE qty IS NOT NULL)"),
        Q::any("SELECT code, n FROM jsingle WHERE n <> ALL (SELECT qty FROM jitems WHERE qty < 2)"),
        Q::any("SELECT code, n FROM jsingle WHERE n <> ALL (SELECT qty FROM jitems WHERE qty IS NOT NULL AND qty < 2)"),
        Q::any("SELECT code, n FROM jsingle WHERE n != ANY (SELECT qty FROM jitems WHERE qty = 3)"),
        Q::any("SELECT code, n FROM jsingle WHERE NOT n > ALL (SELECT qty FROM jitems WHERE qty < 3)"),
        // Outer rows on several sets too.
        Q::any("SELECT item_id, qty FROM jitems WHERE qty > ALL (SELECT score FROM users WHERE score BETWEEN -1000 AND 30)"),
        Q::any("SELECT user_id FROM users WHERE score < ANY (SELECT qty FROM jitems WHERE qty < -3)"),
        Q::any("SELECT item_id FROM jitems WHERE user_id = ANY (SELECT user_id FROM users WHERE score > 500)"),
        // The same table inside and out.
        Q::any("SELECT item_id, qty FROM jitems WHERE qty >= ALL (SELECT qty FROM jitems WHERE qty IS NOT NULL)"),
        // Decimals, dates and strings of the subquery's column.
        Q::any("SELECT user_id, balance FROM users WHERE balance > ALL (SELECT amount FROM orders WHERE amount IS NOT NULL)"),
        Q::any("SELECT user_id FROM users WHERE born >= ALL (SELECT born FROM users WHERE born IS NOT NULL)"),
        Q::any("SELECT code FROM jsingle WHERE code >= ALL (SELECT code FROM jitems WHERE code IS NOT NULL AND code < 'c')"),
        Q::any("SELECT code FROM jsingle WHERE code = ANY (SELECT code FROM jitems)"),
        // HAVING and ORDER BY / LIMIT after the substitution.
        // The HAVING of a merged GROUP BY: the gateway's filter does not
        // evaluate a subquery (refused, never answered otherwise).
        Q::any("SELECT user_id, SUM(qty) FROM jitems GROUP BY user_id HAVING SUM(qty) > ALL (SELECT score FROM users WHERE score BETWEEN 0 AND 60)").or_unsupported(),
        Q::exact("SELECT item_id, qty FROM jitems WHERE qty < ANY (SELECT score FROM users WHERE score BETWEEN -3 AND 0) ORDER BY qty, item_id LIMIT 7"),
        // A subquery of two columns: MariaDB's 1241.
        Q::any("SELECT code FROM jsingle WHERE n > ALL (SELECT qty, item_id FROM jitems)"),
    ];
    v.push(
        Q::any("SELECT code, n FROM jsingle WHERE n > ALL (SELECT qty FROM jitems WHERE qty < ?)")
            .bin(vec![Value::Int(2)]),
    );
    v.push(
        Q::any(
            "SELECT code, n FROM jsingle WHERE n = ANY (SELECT qty FROM jitems WHERE item_id < ?)",
        )
        .bin(vec![Value::Int(90)]),
    );
    v
}

/// Quantified comparisons and IN in the select list (the column named as written).
pub fn quantified_selected() -> Vec<Q> {
    vec![
        Q::any("SELECT code, n > ALL (SELECT qty FROM jitems WHERE qty IS NOT NULL AND qty < 3) FROM jsingle"),
        Q::any("SELECT code, n = ANY (SELECT qty FROM jitems WHERE qty < 3) AS hit FROM jsingle"),
        Q::any("SELECT code, n IN (SELECT qty FROM jitems) FROM jsingle"),
        Q::any("SELECT code, n NOT IN (SELECT qty FROM jitems WHERE qty > 10) AS out_of FROM jsingle"),
    ]
}

/// Scalar subqueries over a sharded table in the select list and WHERE of a
/// query on another table; EXISTS in the select list.
pub fn scalars() -> Vec<Q> {
    vec![
        // Uncorrelated.
        Q::any("SELECT code, (SELECT MAX(qty) FROM jitems) AS m FROM jsingle"),
        Q::any("SELECT code, (SELECT COUNT(*) FROM jitems) FROM jsingle"),
        Q::any("SELECT (SELECT COUNT(*) FROM users) AS total"),
        // The outer rows on every set (broadcast), the subquery's on several:
        // before, each set answered with its own part.
        Q::any("SELECT name FROM cities WHERE name IN (SELECT city FROM users)"),
        Q::any("SELECT name, (SELECT COUNT(*) FROM users WHERE score > 0) AS n FROM cities"),
        Q::any("SELECT name, (SELECT COUNT(*) FROM users u WHERE u.city = c.name) FROM cities c").or_unsupported(),
        Q::exact("SELECT user_id, (SELECT MAX(amount) FROM orders) AS m FROM users ORDER BY user_id LIMIT 5"),
        Q::any("SELECT (SELECT SUM(amount) FROM orders), (SELECT MIN(name) FROM users)"),
        // Correlated other than on one equality: refused.
        Q::any("SELECT code, (SELECT AVG(qty) FROM jitems WHERE qty > n) FROM jsingle").or_unsupported(),
        Q::any("SELECT code FROM jsingle WHERE n < (SELECT MAX(qty) FROM jitems) - 35"),
        // More than one row: 1242.
        Q::any("SELECT code, (SELECT qty FROM jitems WHERE qty > 40) FROM jsingle"),
        // No row: NULL.
        Q::any("SELECT code, (SELECT qty FROM jitems WHERE qty > 1000) AS none FROM jsingle"),
        // Correlated counts (Rails / Django / SQLAlchemy annotate shapes).
        Q::any("SELECT u.user_id, (SELECT COUNT(*) FROM jitems i WHERE i.user_id = u.user_id) AS items_count FROM users u"),
        Q::any("SELECT s.code, (SELECT COUNT(i.item_id) AS count_1 FROM jitems i WHERE i.qty = s.n) AS n FROM jsingle s"),
        Q::any("SELECT u.user_id, (SELECT SUM(U0.qty) AS t FROM jitems U0 WHERE U0.user_id = (u.user_id) GROUP BY U0.user_id) AS t FROM users u"),
        Q::any("SELECT u.user_id, u.name, (SELECT AVG(i.qty) FROM jitems i WHERE i.user_id = u.user_id AND i.qty > 5) AS a, (SELECT MAX(i.code) FROM jitems i WHERE u.user_id = i.user_id) AS c FROM users u WHERE u.score > 0"),
        Q::exact("SELECT u.user_id, (SELECT COUNT(*) FROM jitems i WHERE i.user_id = u.user_id) AS n FROM users u ORDER BY u.user_id DESC LIMIT 10"),
        // Sorted by the subquery's value: MariaDB's plan decides the column
        // definitions (a temporary table drops key flags): refused.
        Q::exact("SELECT u.user_id, (SELECT COUNT(*) FROM jitems i WHERE i.user_id = u.user_id) AS n FROM users u ORDER BY n DESC, u.user_id LIMIT 10").or_unsupported(),
        Q::any("SELECT u.user_id FROM users u WHERE (SELECT COUNT(*) FROM jitems i WHERE i.user_id = u.user_id) > 6"),
        // String keys: the inner column's collation groups them (refused).
        Q::any("SELECT s.code, (SELECT COUNT(i.item_id) AS count_1 FROM jitems i WHERE i.code = s.code) AS n FROM jsingle s").or_unsupported(),
        Q::any("SELECT s.code, (SELECT SUM(U0.qty) AS t FROM jitems U0 WHERE U0.code = (s.code) GROUP BY U0.code) AS t FROM jsingle s").or_unsupported(),
        // Binary protocol.
        Q::any("SELECT code, (SELECT MAX(qty) FROM jitems WHERE qty < ?) AS m FROM jsingle")
            .bin(vec![Value::Int(30)]),
        Q::any("SELECT u.user_id, (SELECT COUNT(*) FROM jitems i WHERE i.user_id = u.user_id AND i.qty > ?) AS n FROM users u")
            .bin(vec![Value::Int(10)]),
        // EXISTS in the select list.
        Q::any("SELECT s.code, EXISTS (SELECT 1 FROM jitems i WHERE i.code = s.code AND i.qty > 40) AS has FROM jsingle s"),
        Q::any("SELECT code, EXISTS (SELECT 1 FROM jitems WHERE qty > 1000) FROM jsingle"),
    ]
}

/// `UNION [ALL]` of aggregates over sharded tables: each branch merged across
/// sets, then the union, its column types MariaDB's aggregation of the branches'.
pub fn unions_of_aggregates() -> Vec<Q> {
    vec![
        Q::any("SELECT COUNT(*) FROM jitems UNION ALL SELECT COUNT(*) FROM users"),
        Q::any("SELECT COUNT(*) FROM orders UNION ALL SELECT COUNT(*) FROM users"),
        Q::any("SELECT COUNT(*) FROM orders UNION SELECT COUNT(*) FROM orders"),
        Q::any("SELECT 'items' AS t, COUNT(*) AS n FROM jitems UNION ALL SELECT 'users', COUNT(*) FROM users"),
        // INT + DECIMAL → DECIMAL; a NULL DECIMAL branch first.
        Q::any("SELECT SUM(qty) FROM jitems UNION ALL SELECT SUM(amount) FROM orders"),
        Q::any("SELECT MAX(qty) FROM jitems UNION ALL SELECT MAX(balance) FROM users"),
        Q::any("SELECT MAX(balance) FROM users WHERE score > 5000 UNION ALL SELECT COUNT(*) FROM users"),
        Q::any("SELECT AVG(qty) FROM jitems UNION ALL SELECT MIN(score) FROM users UNION ALL SELECT MAX(amount) FROM orders"),
        Q::any("SELECT MIN(score) FROM users UNION ALL SELECT MAX(born) FROM users UNION ALL SELECT MAX(created) FROM users"),
        // AVG printed as a string shows its internal scale (19.500000000):
        // refused, never answered with the branch's 19.5000.
        Q::any("SELECT AVG(qty) FROM jitems UNION ALL SELECT MAX(born) FROM users").or_unsupported(),
        // Grouped branches; ORDER BY / LIMIT on the union.
        Q::folded("SELECT city, COUNT(*) FROM users GROUP BY city UNION ALL SELECT status, COUNT(*) FROM orders GROUP BY status"),
        Q::exact("SELECT code, COUNT(*) AS n FROM jitems GROUP BY code UNION ALL SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY n DESC, 1 LIMIT 6"),
        Q::any("SELECT COUNT(*) AS n FROM jitems UNION SELECT COUNT(*) FROM jitems WHERE qty IS NOT NULL UNION ALL SELECT 1500"),
        Q::any("SELECT user_id FROM users WHERE score > 900 UNION ALL SELECT COUNT(*) FROM orders"),
        // Branches with their own ORDER BY ... LIMIT, merged across sets first.
        Q::any("(SELECT user_id, score FROM users ORDER BY score DESC, user_id LIMIT 3) UNION ALL (SELECT user_id, COUNT(*) FROM orders GROUP BY user_id ORDER BY 2 DESC, 1 LIMIT 2)"),
        // Distinct and ordered unions of strings: compared in the union's collation.
        Q::folded("SELECT city FROM users GROUP BY city UNION SELECT name FROM cities"),
        Q::exact("SELECT status, COUNT(*) FROM orders GROUP BY status UNION SELECT 'PAID', 0 UNION SELECT code, COUNT(*) FROM jitems GROUP BY code ORDER BY 1, 2 LIMIT 9"),
        Q::any("SELECT COUNT(*) FROM jitems WHERE qty > ? UNION ALL SELECT COUNT(*) FROM users")
            .bin(vec![Value::Int(20)]),
        // Errors as MariaDB gives them.
        Q::any("SELECT COUNT(*), 1 FROM jitems UNION ALL SELECT COUNT(*) FROM users"),
    ]
}
