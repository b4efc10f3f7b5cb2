//! Placeholders in LIMIT / OFFSET of prepared statements over rows of several
//! sets: the gateway must skip `offset` rows of the merged order and return
//! `count`, with the values bound at each execute — in the binary protocol
//! (COM_STMT_EXECUTE, [`binary`]: one statement executed with many values,
//! [`Execs`]) and through SQL `PREPARE ... EXECUTE USING` ([`sql_level`]). Values
//! that are not non-negative integers must give MariaDB's own error (code,
//! SQLSTATE and message).

use mysql_async::Value;

use super::outcome::Order;
use super::Q;

/// One statement prepared once, then executed with each parameter list.
pub struct Execs {
    pub sql: &'static str,
    pub order: Order,
    pub params: Vec<Vec<Value>>,
}

fn int(n: i64) -> Value {
    Value::Int(n)
}

fn bytes(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// `(offset, count)` pairs: empty, first rows, a page in the middle, across the
/// end, past the end, huge.
const PAGES: [(i64, i64); 9] = [
    (0, 0),
    (0, 1),
    (0, 7),
    (3, 7),
    (10, 0),
    (150, 25),
    (290, 50),
    (400, 5),
    (0, 1_000_000),
];

fn pages(with: &[Value], offset_first: bool) -> Vec<Vec<Value>> {
    PAGES
        .iter()
        .map(|&(o, c)| {
            let mut p = with.to_vec();
            if offset_first {
                p.extend([int(o), int(c)]);
            } else {
                p.extend([int(c), int(o)]);
            }
            p
        })
        .collect()
}

/// Binary-protocol statements, each executed with several LIMIT/OFFSET values.
pub fn binary() -> Vec<Execs> {
    let mut out = vec![
        Execs {
            sql: "SELECT user_id, city FROM users ORDER BY city, user_id LIMIT ?",
            order: Order::Exact,
            params: [0, 1, 5, 299, 300, 301, 100_000]
                .iter()
                .map(|&c| vec![int(c)])
                .collect(),
        },
        Execs {
            sql: "SELECT user_id, city FROM users ORDER BY city, user_id LIMIT ?, ?",
            order: Order::Exact,
            params: pages(&[], true),
        },
        Execs {
            sql: "SELECT user_id, score FROM users ORDER BY score DESC, user_id LIMIT ? OFFSET ?",
            order: Order::Exact,
            params: pages(&[], false),
        },
        Execs {
            sql: "SELECT user_id, score, city FROM users WHERE score > ? \
                  ORDER BY city, user_id DESC LIMIT ?, ?",
            order: Order::Exact,
            params: [-1000, 0, 500]
                .iter()
                .flat_map(|&s| pages(&[int(s)], true))
                .collect(),
        },
        Execs {
            sql: "SELECT order_id, user_id, status FROM orders WHERE status = ? AND amount > ? \
                  ORDER BY status, user_id, order_id LIMIT ? OFFSET ?",
            order: Order::Exact,
            params: ["paid", "new"]
                .iter()
                .flat_map(|&s| pages(&[bytes(s), bytes("10.00")], false))
                .collect(),
        },
        // One set only (the shard key in WHERE): LIMIT runs there as written.
        Execs {
            sql: "SELECT order_id FROM orders WHERE user_id = ? ORDER BY order_id LIMIT ?, ?",
            order: Order::Exact,
            params: vec![vec![int(1), int(0), int(2)], vec![int(1), int(1), int(100)]],
        },
    ];
    // Values of other types: integers as strings or unsigned, and what MariaDB
    // refuses (negative, not a number, NULL, fractional).
    out.push(Execs {
        sql: "SELECT user_id, city FROM users ORDER BY city, user_id LIMIT ?, ?",
        order: Order::Exact,
        params: vec![
            vec![bytes("2"), bytes("4")],
            vec![Value::UInt(1), Value::UInt(3)],
            vec![Value::UInt(0), Value::UInt(u64::MAX)],
            vec![int(-1), int(3)],
            vec![int(0), int(-1)],
            vec![bytes("-2"), int(3)],
            vec![Value::NULL, int(3)],
            vec![int(0), Value::NULL],
            vec![Value::Double(2.0), int(3)],
            vec![Value::Double(2.5), int(3)],
            vec![Value::Double(3.5), Value::Double(4.0)],
            vec![Value::Double(0.0), Value::Double(1e6)],
            vec![int(1), int(2)],
        ],
    });
    out
}

/// SQL-level `PREPARE ... EXECUTE USING`, as a sequence of text statements on
/// one connection.
pub fn sql_level() -> Vec<Q> {
    let mut out = vec![
        Q::exact(
            "PREPARE lp FROM 'SELECT user_id, city FROM users ORDER BY city, user_id LIMIT ?, ?'",
        ),
        Q::exact(
            "PREPARE lw FROM 'SELECT user_id, score FROM users WHERE score > ? \
             ORDER BY score, user_id LIMIT ? OFFSET ?'",
        ),
        Q::exact("PREPARE l1 FROM 'SELECT user_id FROM users ORDER BY user_id DESC LIMIT ?'"),
    ];
    for (o, c) in PAGES {
        out.push(Q::exact(format!("SET @o = {o}, @c = {c}")));
        out.push(Q::exact("EXECUTE lp USING @o, @c"));
        out.push(Q::exact("EXECUTE lw USING @s, @c, @o"));
        out.push(Q::exact("EXECUTE l1 USING @c"));
        out.push(Q::exact(format!("SET @s = {}", o * 3 - 500)));
    }
    // A negative value: MariaDB's own error. Values MariaDB converts (strings,
    // decimals, doubles, NULL) may be refused, never answered differently.
    for v in [
        "-1",
        "-0",
        "18446744073709551615",
        "'abc'",
        "'7'",
        "NULL",
        "2.5",
        "1e0",
    ] {
        let must = matches!(v, "-1" | "-0" | "18446744073709551615");
        out.push(Q::exact(format!("SET @o = {v}, @c = 4")));
        for sql in ["EXECUTE lp USING @o, @c", "EXECUTE l1 USING @o"] {
            let q = Q::exact(sql).with_message();
            out.push(if must { q } else { q.or_unsupported() });
        }
    }
    out.extend([
        Q::exact("EXECUTE lp USING 1, 2"),
        Q::exact("EXECUTE lp USING -1, 2").with_message(),
        Q::exact("EXECUTE lp USING 1").with_message(),
        Q::exact("EXECUTE lp").with_message(),
        Q::exact("EXECUTE lw USING 100, 3, 2"),
        Q::exact("EXECUTE lw USING 100, 3, @undefined").or_unsupported(),
        Q::exact("PREPARE lp FROM 'SELECT k FROM settings ORDER BY k LIMIT ?'"),
        Q::exact("EXECUTE lp USING 2"),
        Q::exact("PREPARE lp FROM 'SELECT user_id FROM users ORDER BY user_id LIMIT ?, ?'"),
        Q::exact("EXECUTE lp USING 5, 3"),
        Q::exact("PREPARE lp FROM 'SELECT nosuch FROM users LIMIT ?'").with_message(),
        Q::exact("EXECUTE lp USING 1").with_message(),
        Q::exact("DEALLOCATE PREPARE lp").with_message(),
        Q::exact("EXECUTE lp USING 1, 2").with_message(),
        // Other placeholders of a held statement: in WHERE, strings, numbers,
        // NULL; in the select list (may be refused: column definitions).
        Q::exact(
            "PREPARE lt FROM 'SELECT user_id, city, score FROM users \
             WHERE (city = ? OR name LIKE ?) AND score > ? ORDER BY user_id LIMIT ?'",
        ),
        Q::exact("SET @tag = 'é日', @n = -41, @city = 'Paris', @like = 'a%'"),
        Q::exact("EXECUTE lt USING @city, @like, @n, @c"),
        Q::exact("EXECUTE lt USING 'Berlin', NULL, 2.5, 3"),
        Q::exact("EXECUTE lt USING @nosuch, 'b%', -1000, 100"),
        Q::exact("EXECUTE lt USING 'paris', 'A%', '10', 5"),
        // Writes through a held statement: the shard key from a user variable
        // or a literal routes to its set.
        Q::exact(
            "PREPARE wi FROM 'INSERT INTO orders (order_id, user_id, amount, status) \
             VALUES (?, ?, ?, ?)'",
        ),
        Q::exact("SET @u = 17, @st = 'held'"),
        Q::exact("EXECUTE wi USING 900001, @u, 12.5, @st"),
        Q::exact("EXECUTE wi USING 900002, -3, @nosuch, 'held'"),
        Q::exact("EXECUTE wi USING 900003, 123456789, 1 + 1, CONCAT('he', 'ld')"),
        Q::exact("EXECUTE wi USING 900001, @u, 12.5, @st").with_message(),
        Q::exact("SELECT * FROM orders WHERE status = 'held' ORDER BY order_id"),
        Q::exact("SELECT * FROM orders WHERE user_id = 17 ORDER BY order_id"),
        Q::exact("SELECT * FROM orders WHERE user_id = 123456789 ORDER BY order_id"),
        Q::exact("DEALLOCATE PREPARE wi"),
        Q::exact("PREPARE ls FROM 'SELECT user_id, ? AS tag FROM users ORDER BY user_id LIMIT ?'")
            .or_unsupported(),
        Q::exact("EXECUTE ls USING @tag, 3").or_unsupported(),
        Q::exact("DEALLOCATE PREPARE lt"),
        Q::exact("DEALLOCATE PREPARE lw"),
        Q::exact("DEALLOCATE PREPARE l1"),
        Q::exact("EXECUTE l1 USING 1").with_message(),
    ]);
    out
}

/// Binary-protocol statements the gateway may still refuse (1235) but must
/// never answer differently: a LIMIT value MariaDB truncates with a warning;
/// ORDER BY / LIMIT on a UNION ALL (refused with literal numbers too today).
pub fn refusable() -> Vec<Q> {
    let lp = "SELECT user_id, city FROM users ORDER BY city, user_id LIMIT ?, ?";
    let ua = "SELECT user_id FROM users WHERE score > ? UNION ALL SELECT user_id FROM orders \
              ORDER BY 1 DESC LIMIT ?";
    vec![
        Q::exact(lp)
            .bin(vec![bytes("abc"), int(3)])
            .or_unsupported(),
        Q::exact(lp)
            .bin(vec![bytes("1.5"), int(3)])
            .or_unsupported(),
        Q::exact(ua).bin(vec![int(0), int(10)]).or_unsupported(),
        Q::exact(ua)
            .bin(vec![int(0), Value::Double(3.0)])
            .or_unsupported(),
    ]
}

/// UNION (distinct) with LIMIT placeholders (binary protocol).
pub fn unions() -> Vec<Execs> {
    vec![Execs {
        sql: "SELECT user_id, score FROM users UNION SELECT user_id, 0 FROM orders \
                  ORDER BY user_id, score LIMIT ?, ?",
        order: Order::Exact,
        params: pages(&[], true),
    }]
}
