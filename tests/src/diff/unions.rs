//! Generated `UNION` (distinct) statements whose branches read rows of several
//! sets: the gateway de-duplicates across sets under MariaDB's comparison
//! (case-insensitive, PAD SPACE: 'a' = 'A '), with ORDER BY / LIMIT on the union,
//! NULLs, unicode, decimals, mixed column types and broadcast branches.
//!
//! [`mixed_unions`]: a `UNION` followed by `UNION ALL` parts (the distinct
//! rows of the first part, then every row of the rest).
//!
//! Where MariaDB keeps any one of several equal strings ('Paris' / 'paris'), the
//! rows are compared folded ([`Q::folded`]); otherwise exactly.

use super::reads::Gen;
use super::Q;

fn dir(g: &mut Gen) -> &'static str {
    if g.rng.chance(50) {
        "ASC"
    } else {
        "DESC"
    }
}

/// `n` UNION statements, plus fixed edge cases.
pub fn unions(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::any("SELECT user_id FROM users UNION SELECT user_id FROM orders"),
        Q::any("SELECT user_id FROM users WHERE 1 = 0 UNION SELECT user_id FROM orders WHERE 1 = 0"),
        Q::folded("SELECT city FROM users UNION SELECT name FROM cities"),
        Q::folded("SELECT name FROM users UNION SELECT CONCAT(UPPER(name), '  ') FROM users"),
        Q::any("SELECT status FROM orders UNION DISTINCT SELECT status FROM orders"),
        Q::any("SELECT 1 AS one UNION SELECT score FROM users WHERE score < 0"),
        Q::exact("SELECT amount AS a FROM orders UNION SELECT balance FROM users ORDER BY a DESC LIMIT 15"),
        Q::any("SELECT user_id FROM users UNION ALL SELECT user_id FROM orders UNION SELECT user_id FROM users"),
        Q::exact("(SELECT user_id FROM users) UNION (SELECT user_id FROM orders) ORDER BY 1 LIMIT 5"),
        Q::exact(
            "SELECT user_id, score FROM users WHERE score > ? UNION SELECT user_id, 0 FROM orders \
             ORDER BY user_id DESC, score LIMIT 12",
        )
        .bin(vec![mysql_async::Value::Int(500)]),
    ];
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let y = x + g.rng.range(0, 800);
        let lim = g.rng.range(0, 30);
        let off = g.rng.range(0, 40);
        let d = dir(g);
        let q = match g.rng.below(12) {
            0 => Q::any(format!(
                "SELECT user_id FROM users WHERE score > {x} UNION SELECT user_id FROM orders WHERE amount < {y}"
            )),
            1 => Q::exact(format!(
                "SELECT user_id FROM users WHERE score > {x} UNION SELECT user_id FROM orders \
                 ORDER BY 1 {d} LIMIT {off}, {lim}"
            )),
            2 => Q::exact(format!(
                "SELECT name, score FROM users WHERE score < {x} UNION SELECT name, score FROM users \
                 WHERE score > {y} ORDER BY score {d}, name LIMIT {lim}"
            )),
            3 => Q::any(format!(
                "SELECT status FROM orders WHERE amount > {x} UNION SELECT LOWER(city) FROM users WHERE score < {y}"
            )),
            4 => Q::any(format!(
                "SELECT YEAR(born) AS y FROM users WHERE score > {x} UNION SELECT amount FROM orders WHERE amount < {y}"
            )),
            5 => Q::folded(format!(
                "SELECT note FROM users WHERE score > {x} UNION SELECT status FROM orders"
            )),
            6 => Q::folded(format!(
                "SELECT name FROM users WHERE score > {x} UNION SELECT CONCAT(name, ' ') FROM users WHERE score < {y}"
            )),
            7 => Q::exact(format!(
                "SELECT balance AS v FROM users WHERE score > {x} UNION SELECT amount FROM orders \
                 ORDER BY v {d} LIMIT {lim}"
            )),
            8 => Q::folded(format!(
                "SELECT name, country FROM cities UNION SELECT city, name FROM users WHERE score > {x}"
            )),
            9 => Q::exact(format!(
                "SELECT created FROM users WHERE score > {x} UNION SELECT born FROM users \
                 ORDER BY created {d} LIMIT {lim} OFFSET {off}"
            )),
            10 => Q::any(format!(
                "SELECT DISTINCT status, user_id > 0 FROM orders WHERE amount > {x} \
                 UNION SELECT status, 1 FROM orders"
            )),
            _ => Q::exact(format!(
                "SELECT UPPER(status) AS s, COUNT(*) = 0 AS z FROM orders WHERE order_id < 0 GROUP BY status \
                 UNION SELECT 'x', 0 ORDER BY s LIMIT {lim}"
            ))
            .or_unsupported(),
        };
        out.push(q);
    }
    out
}

/// `n` statements `a UNION b UNION ALL c ...` over sharded tables (the
/// distinct part may also read a broadcast table; an `UNION ALL` part reading
/// one is refused), with ORDER BY / LIMIT on the union, mixed column types,
/// NULLs, unicode.
pub fn mixed_unions(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::any("SELECT user_id FROM users UNION SELECT user_id FROM orders UNION ALL SELECT user_id FROM orders"),
        Q::any("SELECT status FROM orders UNION ALL SELECT status FROM orders UNION SELECT status FROM orders \
                UNION ALL SELECT status FROM orders WHERE amount > 500"),
        Q::folded("SELECT name FROM cities UNION SELECT city FROM users UNION ALL SELECT city FROM users"),
        Q::folded("SELECT city FROM users UNION SELECT name FROM users UNION ALL SELECT name FROM cities")
            .or_unsupported(),
        Q::any("SELECT user_id FROM users UNION SELECT user_id FROM orders UNION ALL SELECT 1").or_unsupported(),
        Q::folded("SELECT amount AS v FROM orders UNION SELECT score FROM users UNION ALL SELECT name FROM users"),
        // De-duplicated under the whole union's types: 5.00 and 5 are two strings.
        Q::folded(
            "SELECT CAST(score AS DECIMAL(12,2)) FROM users UNION SELECT score FROM users \
             UNION ALL SELECT name FROM users WHERE score > 900",
        ),
        Q::any("SELECT user_id FROM users WHERE 1 = 0 UNION SELECT user_id FROM orders WHERE 1 = 0 \
                UNION ALL SELECT user_id FROM orders WHERE 1 = 0"),
        Q::exact(
            "SELECT user_id, score FROM users WHERE score > ? UNION SELECT user_id, 0 FROM orders \
             UNION ALL SELECT user_id, 1 FROM orders ORDER BY user_id DESC, score LIMIT 12",
        )
        .bin(vec![mysql_async::Value::Int(500)]),
    ];
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let y = x + g.rng.range(0, 800);
        let lim = g.rng.range(0, 30);
        let off = g.rng.range(0, 40);
        let d = dir(g);
        let q = match g.rng.below(7) {
            0 => Q::any(format!(
                "SELECT user_id FROM users WHERE score > {x} UNION SELECT user_id FROM orders \
                 WHERE amount < {y} UNION ALL SELECT user_id FROM orders WHERE amount > {y}"
            )),
            1 => Q::exact(format!(
                "SELECT user_id, score FROM users WHERE score < {x} UNION SELECT user_id, score FROM users \
                 WHERE score > {y} UNION ALL SELECT user_id, 0 FROM orders WHERE amount > {x} \
                 ORDER BY user_id {d}, score LIMIT {off}, {lim}"
            )),
            2 => Q::folded(format!(
                "SELECT status FROM orders WHERE amount > {x} UNION SELECT LOWER(city) FROM users \
                 UNION ALL SELECT city FROM users WHERE score < {y} ORDER BY 1 {d} LIMIT {lim}"
            )),
            3 => Q::exact(format!(
                "SELECT balance AS v FROM users WHERE score > {x} UNION SELECT amount FROM orders \
                 UNION ALL SELECT score FROM users WHERE score < {y} ORDER BY v {d} LIMIT {lim}"
            )),
            4 => Q::folded(format!(
                "SELECT name, country FROM cities UNION SELECT city, name FROM users WHERE score > {x} \
                 UNION ALL SELECT city, note FROM users WHERE score < {y}"
            )),
            5 => Q::exact(format!(
                "(SELECT created FROM users WHERE score > {x}) UNION (SELECT born FROM users) \
                 UNION ALL (SELECT created FROM users WHERE score < {y}) \
                 ORDER BY created {d} LIMIT {lim} OFFSET {off}"
            )),
            _ => Q::any(format!(
                "SELECT user_id FROM orders WHERE amount > {x} UNION ALL SELECT user_id FROM users \
                 UNION SELECT user_id FROM orders WHERE amount < {y} UNION ALL SELECT user_id FROM users \
                 WHERE score > {x} UNION ALL SELECT user_id FROM orders WHERE amount > {y}"
            )),
        };
        out.push(q);
    }
    out
}

/// `n` statements `a UNION ALL b ... ORDER BY ... [LIMIT]` over sharded tables (every
/// row kept, merged in order), plus fixed edge cases. The ORDER BY names every
/// column, so the order is the same as one MariaDB's; an ORDER BY on some columns
/// only, without LIMIT, is compared as a multiset.
pub fn sorted_all_unions(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::exact(
            "SELECT user_id FROM users WHERE user_id = 3 UNION ALL \
             SELECT user_id FROM users WHERE user_id = 4 ORDER BY user_id",
        ),
        Q::exact("SELECT user_id FROM users UNION ALL SELECT user_id FROM orders ORDER BY user_id DESC LIMIT 7"),
        Q::exact("SELECT user_id FROM users UNION ALL SELECT user_id FROM orders ORDER BY 1 LIMIT 1000000"),
        Q::exact("SELECT user_id FROM users UNION ALL SELECT user_id FROM orders LIMIT 0"),
        Q::exact(
            "SELECT user_id, amount FROM orders UNION ALL SELECT user_id, balance FROM users \
             ORDER BY user_id, amount LIMIT 3, 10",
        ),
        Q::exact(
            "(SELECT user_id FROM users) UNION ALL (SELECT user_id FROM orders) ORDER BY 1 DESC LIMIT 5",
        ),
        Q::any("SELECT status, user_id FROM orders UNION ALL SELECT city, user_id FROM users ORDER BY 1"),
        Q::exact(
            "SELECT user_id, score FROM users WHERE score > ? UNION ALL SELECT user_id, 0 FROM orders \
             ORDER BY user_id DESC, score LIMIT 12",
        )
        .bin(vec![mysql_async::Value::Int(500)]),
    ];
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let lim = g.rng.range(0, 30);
        let off = g.rng.range(0, 40);
        let (d1, d2) = (dir(g), dir(g));
        let q = match g.rng.below(4) {
            0 => Q::exact(format!(
                "SELECT user_id FROM users WHERE score > {x} UNION ALL SELECT user_id FROM orders \
                 ORDER BY 1 {d1} LIMIT {off}, {lim}"
            )),
            1 => Q::exact(format!(
                "SELECT user_id, amount AS v FROM orders WHERE amount < {x} UNION ALL \
                 SELECT user_id, score FROM users ORDER BY v {d1}, user_id {d2} LIMIT {lim}"
            )),
            2 => Q::exact(format!(
                "SELECT created AS t, user_id FROM users WHERE score > {x} UNION ALL \
                 SELECT born, user_id FROM users ORDER BY t {d1}, user_id {d2} LIMIT {lim} OFFSET {off}"
            )),
            _ => Q::any(format!(
                "SELECT status, user_id FROM orders WHERE amount > {x} UNION ALL \
                 SELECT status, user_id FROM orders ORDER BY status {d1}"
            )),
        };
        out.push(q);
    }
    out
}
