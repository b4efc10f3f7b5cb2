//! Generated writes: UPDATE / DELETE by key and without, INSERT ... ON DUPLICATE KEY
//! UPDATE, INSERT IGNORE, REPLACE, on sharded, broadcast and single tables, in both
//! protocols; statements that must fail alike; and the writes that span sets in ways
//! the gateway may refuse (LIMIT, changing the key, subqueries, partial failures).

use mysql_async::Value;

use super::data::{lit, quote, Order, User, CITIES, STATUSES, USER_COLS};
use super::reads::Gen;
use super::rng::Rng;
use super::Q;

fn b(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

fn opt(v: &Option<String>) -> Value {
    v.as_deref().map_or(Value::NULL, b)
}

/// `YYYY-MM-DD[ hh:mm:ss.fff]` → a `Value::Date`.
fn date_value(s: &str) -> Value {
    let n: Vec<u32> = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    let g = |i: usize| n.get(i).copied().unwrap_or(0);
    Value::Date(
        g(0) as u16,
        g(1) as u8,
        g(2) as u8,
        g(3) as u8,
        g(4) as u8,
        g(5) as u8,
        g(6) * 1000,
    )
}

/// Fresh keys for inserted rows (never in the generated data).
pub struct Fresh(i64);

impl Fresh {
    pub fn new() -> Self {
        Fresh(10_000_000)
    }
    pub fn next(&mut self, rng: &mut Rng) -> i64 {
        self.0 += 1 + rng.range(0, 3);
        self.0
    }
}

impl Default for Fresh {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Gen<'a> {
    fn order_pair(&mut self) -> (i64, i64) {
        let o = self.rng.pick(&self.data.orders);
        (o.order_id, o.user_id)
    }

    fn user_row(&mut self, id: i64) -> User {
        User::random(&mut self.rng, id, id as usize)
    }

    fn new_order(&mut self, fresh: &mut Fresh) -> Order {
        let user = *self.rng.pick(&self.ids);
        let order_id = fresh.next(&mut self.rng);
        Order::random(&mut self.rng, order_id, &[user])
    }
}

/// Text-protocol writes; `n` statements.
pub fn text_writes(g: &mut Gen, fresh: &mut Fresh, n: usize) -> Vec<Q> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let id = g.id();
        let k = g.key_lit(id);
        let x = g.rng.range(-1000, 1000);
        let city = quote(g.rng.pick(&CITIES).0);
        let status = quote(g.rng.pick::<&str>(&STATUSES));
        let sql = match g.rng.below(19) {
            0 => format!("UPDATE users SET score = score + 1 WHERE user_id = {k}"),
            1 => {
                let ids: Vec<String> = g.ids_across(3).iter().map(i64::to_string).collect();
                format!(
                    "UPDATE users SET note = {}, city = {city} WHERE user_id IN ({})",
                    quote(&format!("upd {i} é🙂")),
                    ids.join(", ")
                )
            }
            2 => format!("UPDATE users SET balance = balance / 2 WHERE city = {city}"),
            3 => format!("UPDATE users SET name = name WHERE user_id = {k}"),
            4 => {
                let (o, u) = g.order_pair();
                format!("DELETE FROM orders WHERE user_id = {u} AND order_id = {o}")
            }
            5 => format!("DELETE FROM orders WHERE status = {status} AND amount < {}", x - 40_000),
            6 => {
                let mut rows = Vec::new();
                for id in g.ids_across(2).into_iter().chain([fresh.next(&mut g.rng)]) {
                    rows.push(g.user_row(id).values());
                }
                format!(
                    "INSERT INTO users ({USER_COLS}) VALUES {} ON DUPLICATE KEY UPDATE \
                     score = VALUES(score), note = CONCAT(IFNULL(note, ''), '+')",
                    rows.join(", ")
                )
            }
            7 => {
                let (o, u) = g.order_pair();
                let new = g.new_order(fresh);
                format!(
                    "REPLACE INTO orders (order_id, user_id, amount, status) VALUES \
                     ({o}, {u}, 1.50, 'replaced'), {}",
                    new.values()
                )
            }
            8 => {
                let ids = g.ids_across(2);
                let new = fresh.next(&mut g.rng);
                format!(
                    "INSERT IGNORE INTO users (user_id, name) VALUES ({}, 'dup'), ({new}, 'new'), ({}, 'dup')",
                    ids[0], ids[1]
                )
            }
            9 => format!("UPDATE cities SET country = {} WHERE name = {city}", quote(&format!("C{x}"))),
            10 => format!(
                "INSERT INTO cities (name, country) VALUES ('Gen{}', 'X') ON DUPLICATE KEY UPDATE country = 'Y'",
                g.rng.below(4)
            ),
            11 => format!("DELETE FROM cities WHERE name = 'Gen{}'", g.rng.below(4)),
            12 => format!("UPDATE settings SET v = {} WHERE k = 'key{:02}'", quote(&format!("v{x}")), g.rng.range(1, 16)),
            13 => format!(
                "INSERT INTO settings (k, v) VALUES ('key{:02}', 'a'), ('new{}', NULL) ON DUPLICATE KEY UPDATE v = VALUES(v)",
                g.rng.range(1, 16),
                g.rng.below(5)
            ),
            14 => format!("REPLACE INTO settings (k, v) VALUES ('key{:02}', 'replaced')", g.rng.range(1, 16)),
            15 => {
                let id = fresh.next(&mut g.rng);
                format!("INSERT INTO users VALUES {}", g.user_row(id).values())
            }
            16 => format!("UPDATE orders SET status = {status} WHERE user_id = {k}"),
            17 => {
                let ids: Vec<String> = g.ids_across(4).iter().map(i64::to_string).collect();
                format!(
                    "UPDATE users SET created = created + INTERVAL 1 SECOND, born = NULL WHERE user_id IN ({})",
                    ids.join(", ")
                )
            }
            _ => {
                let rows: Vec<String> = (0..4).map(|_| g.new_order(fresh).values()).collect();
                format!("INSERT INTO orders (order_id, user_id, amount, status) VALUES {}", rows.join(", "))
            }
        };
        out.push(Q::any(sql));
    }
    out.push(Q::any(
        "UPDATE orders SET amount = amount * 2 WHERE amount BETWEEN 0 AND 1000",
    ));
    out.push(Q::any("DELETE FROM users WHERE user_id = 42"));
    out
}

/// Prepared writes (binary protocol); `n` statements.
pub fn binary_writes(g: &mut Gen, fresh: &mut Fresh, n: usize) -> Vec<Q> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = g.id();
        let q = match g.rng.below(9) {
            0 => {
                let note = g
                    .rng
                    .pick(&[Some("bin é🙂".to_string()), None, Some(String::new())])
                    .clone();
                Q::any("UPDATE users SET score = ?, note = ? WHERE user_id = ?").bin(vec![
                    Value::Int(g.rng.range(-50, 50)),
                    opt(&note),
                    Value::Int(id),
                ])
            }
            1 => {
                let (o, u) = g.order_pair();
                Q::any("DELETE FROM orders WHERE user_id = ? AND order_id = ?")
                    .bin(vec![Value::Int(u), Value::Int(o)])
            }
            2 => {
                let o = g.new_order(fresh);
                Q::any("INSERT INTO orders (order_id, user_id, amount, status) VALUES (?, ?, ?, ?)")
                    .bin(vec![
                        Value::Int(o.order_id),
                        Value::Int(o.user_id),
                        opt(&o.amount),
                        opt(&o.status),
                    ])
            }
            3 => {
                let mut params = Vec::new();
                for _ in 0..3 {
                    let o = g.new_order(fresh);
                    params.extend([
                        Value::Int(o.order_id),
                        Value::Int(o.user_id),
                        opt(&o.amount),
                        opt(&o.status),
                    ]);
                }
                Q::any("INSERT INTO orders (order_id, user_id, amount, status) VALUES (?, ?, ?, ?), (?, ?, ?, ?), (?, ?, ?, ?)")
                    .bin(params)
            }
            4 => {
                let (o, u) = g.order_pair();
                Q::any("INSERT INTO orders (order_id, user_id, amount, status) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE amount = amount + ?")
                    .bin(vec![Value::Int(o), Value::Int(u), b("3.00"), b("paid"), b("0.25")])
            }
            5 => {
                let id = if g.rng.chance(50) {
                    id
                } else {
                    fresh.next(&mut g.rng)
                };
                let u = g.user_row(id);
                let date = |v: &Option<String>| v.as_deref().map_or(Value::NULL, date_value);
                Q::any(format!(
                    "REPLACE INTO users ({USER_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ))
                .bin(vec![
                    Value::Int(u.id),
                    opt(&u.name),
                    opt(&u.city),
                    u.score.map_or(Value::NULL, |s| Value::Int(s as i64)),
                    opt(&u.balance),
                    date(&u.born),
                    date(&u.created),
                    opt(&u.note),
                ])
            }
            6 => Q::any("UPDATE users SET balance = ?, born = ? WHERE user_id = ?").bin(vec![
                b("-12.34"),
                Value::Date(1999, 12, 31, 0, 0, 0, 0),
                Value::Int(id),
            ]),
            7 => {
                let (c1, c2) = (g.rng.pick(&CITIES).0, g.rng.pick(&CITIES).0);
                Q::any("UPDATE users SET city = ? WHERE city = ?").bin(vec![b(c1), b(c2)])
            }
            _ => Q::any("UPDATE cities SET country = ? WHERE name = ?")
                .bin(vec![b("Ünïon"), b(g.rng.pick(&CITIES).0)]),
        };
        out.push(q);
    }
    out.push(Q::any("DELETE FROM users WHERE user_id = ?").bin(vec![Value::Int(7)]));
    out
}

/// Writes that must fail on both sides with the same error, or that the gateway
/// may refuse with 1235 (the reference does not run those then).
pub fn failing_writes(g: &mut Gen) -> Vec<Q> {
    let existing = g.ids[g.ids.len() / 2];
    let mut out: Vec<Q> = [
        format!("INSERT INTO users (user_id, name) VALUES ({existing}, 'dup')"),
        "INSERT INTO users (user_id, name) VALUES ('abc', 'x')".into(),
        "INSERT INTO users (user_id, name) VALUES ('12x', 'x')".into(),
        "INSERT INTO users (user_id, name) VALUES (9223372036854775808, 'x')".into(),
        "INSERT INTO users (user_id, name) VALUES (424243, REPEAT('x', 65))".into(),
        "INSERT INTO users (user_id, score) VALUES (424244, 'abc')".into(),
        "INSERT INTO cities (name, country) VALUES ('Paris', 'dup')".into(),
        "INSERT INTO settings (k, v) VALUES ('key01', 'dup')".into(),
        "UPDATE orders SET amount = 'x' WHERE user_id = 8".into(),
        "INSERT INTO users (user_id, name) VALUES (777777.5, 'half')".into(),
        "SELECT user_id, name FROM users WHERE user_id = 777778".into(),
        "INSERT INTO orders (order_id, user_id, amount) VALUES (900001, '0042', 1), (900002, ' 8', 2)".into(),
        "SELECT * FROM orders WHERE order_id IN (900001, 900002) AND user_id IN (42, 8)".into(),
    ]
    .into_iter()
    .map(Q::any)
    .collect();
    let k = g.ids[3];
    out.extend(
        [
            "INSERT INTO users (user_id, name) VALUES (NULL, 'x')".to_string(),
            "INSERT INTO users (name) VALUES ('nokey')".into(),
            "INSERT INTO users (user_id, name) VALUES (1+1, 'expr')".into(),
            format!("UPDATE users SET user_id = user_id + 1000000 WHERE user_id = {k}"),
            "UPDATE users SET score = 0 WHERE user_id IN (SELECT user_id FROM orders WHERE amount > 150000)".into(),
            "DELETE u FROM users u JOIN orders o ON u.user_id = o.user_id WHERE o.amount < -49000".into(),
            "INSERT INTO users (user_id, name) SELECT user_id + 1000000, name FROM users WHERE user_id = 8".into(),
            "INSERT INTO orders (order_id, user_id) SELECT order_id, user_id + 1 FROM orders".into(),
        ]
        .into_iter()
        .map(|s| Q::any(s).or_unsupported()),
    );
    out
}

/// `INSERT ... SELECT` into sharded tables (the gateway reads the SELECT, then
/// writes its rows as VALUES): from the same table, another one, a broadcast
/// table, merged reads (ORDER BY ... LIMIT, GROUP BY), none, IGNORE and ON
/// DUPLICATE KEY UPDATE, every column type of the tables, both protocols.
pub fn insert_selects(g: &mut Gen) -> Vec<Q> {
    let k = g.ids[5];
    let all = USER_COLS;
    vec![
        Q::any(format!(
            "INSERT INTO users ({all}) SELECT user_id + 3000000, name, city, score, balance, born, created, note FROM users WHERE user_id = {k}"
        )),
        Q::any(
            "INSERT INTO users SELECT user_id + 3100000, name, city, score, balance, born, created, note FROM users WHERE user_id BETWEEN -50 AND 50",
        ),
        Q::any(
            "INSERT INTO orders (order_id, user_id, amount, status) SELECT order_id + 4000000, user_id, amount, status FROM orders WHERE amount > 40000",
        ),
        Q::any(
            "INSERT INTO orders (order_id, user_id, amount, status) (SELECT order_id + 4100000, user_id, amount / 2, 'copied' FROM orders ORDER BY amount DESC, order_id, user_id LIMIT 7)",
        ),
        Q::any(
            "INSERT INTO users (user_id, name, score, balance) SELECT user_id + 4200000, 'totals', COUNT(*), SUM(amount) FROM orders GROUP BY user_id HAVING COUNT(*) > 1",
        ),
        Q::any(
            "INSERT INTO users (user_id, name, city) SELECT 5000000 + LENGTH(name) * 1000 + LENGTH(country), name, country FROM cities",
        ),
        Q::any("INSERT INTO users (user_id, name) SELECT user_id, name FROM users WHERE 1 = 0"),
        Q::any(format!(
            "INSERT IGNORE INTO users (user_id, name) SELECT user_id, 'ignored' FROM users WHERE user_id IN ({k}, -1, 7)"
        )),
        Q::any(
            "INSERT INTO users (user_id, name, score) SELECT user_id + 3100000, 'dup', COUNT(*) FROM orders WHERE user_id BETWEEN -50 AND 50 GROUP BY user_id \
             ON DUPLICATE KEY UPDATE score = IFNULL(score, 0) + 1, note = VALUES(name)",
        ),
        Q::any(
            "SELECT COUNT(*), SUM(score), SUM(balance), MIN(born), MAX(created) FROM users WHERE user_id >= 3000000",
        ),
        Q::any("INSERT INTO users (user_id, name) SELECT user_id + 6000000, name FROM users WHERE user_id > ? AND user_id < ? ORDER BY user_id LIMIT ?")
            .bin(vec![Value::Int(0), Value::Int(1000), Value::Int(4)]),
        Q::any("SELECT user_id, name FROM users WHERE user_id >= 6000000 ORDER BY user_id"),
        // Fails alike: a duplicate key (nothing written), a column count mismatch.
        Q::any(format!("INSERT INTO users (user_id, name) SELECT user_id, name FROM users WHERE user_id = {k}")),
        Q::any(format!("INSERT INTO users (user_id, name) SELECT user_id FROM users WHERE user_id = {k}")),
    ]
}

/// Writes spanning sets that MariaDB does atomically or with a global LIMIT: the
/// gateway must do the same or refuse (1235). Run last: a wrong answer here leaves
/// the tables different.
pub fn spanning_writes(g: &mut Gen, fresh: &mut Fresh) -> Vec<Q> {
    let a = g
        .ids
        .iter()
        .copied()
        .find(|&i| i > 0 && g.owner(i) == "set1")
        .expect("set1 id");
    let b = g
        .ids
        .iter()
        .copied()
        .find(|&i| i > 0 && g.owner(i) == "set2")
        .expect("set2 id");
    let mut new1 = fresh.next(&mut g.rng);
    while g.owner(new1) != "set1" {
        new1 = fresh.next(&mut g.rng);
    }
    let rows = |x: i64, y: i64| format!("({x}, 'atomic'), ({y}, 'atomic')");
    vec![
        Q::any(format!(
            "UPDATE users SET score = 2147483647 WHERE user_id = {a}"
        )),
        Q::any(format!("UPDATE users SET score = 5 WHERE user_id = {b}")),
        // One set fails (out of range), the other would succeed: all or nothing.
        Q::any(format!(
            "UPDATE users SET score = score + 1 WHERE user_id IN ({a}, {b})"
        ))
        .or_unsupported(),
        Q::any(format!(
            "SELECT user_id, score FROM users WHERE user_id IN ({a}, {b})"
        )),
        // A new row on one set, a duplicate key on the other: all or nothing.
        Q::any(format!(
            "INSERT INTO users (user_id, name) VALUES {}",
            rows(new1, b)
        ))
        .or_unsupported(),
        Q::any(format!(
            "SELECT user_id, name FROM users WHERE user_id IN ({new1}, {b})"
        )),
        Q::any("DELETE FROM orders WHERE status = 'new' ORDER BY order_id, user_id LIMIT 3")
            .or_unsupported(),
        Q::any("DELETE FROM orders WHERE amount < 0 LIMIT 5").or_unsupported(),
        Q::any("UPDATE users SET note = 'limited' WHERE note IS NULL ORDER BY user_id LIMIT 4")
            .or_unsupported(),
        Q::any(format!(
            "UPDATE users SET note = {} WHERE user_id > 0 LIMIT 2",
            lit(&Some("x".into()))
        ))
        .or_unsupported(),
    ]
}

/// Multi-table UPDATE and DELETE in MariaDB's comma and USING forms (and the
/// JOIN form) over co-located sharded tables and a broadcast table: what the
/// rows of each set join with lives on that set.
pub fn multi_table_writes() -> Vec<Q> {
    [
        "UPDATE users u, orders o SET o.status = 'multi' WHERE u.user_id = o.user_id AND u.score > 900",
        "UPDATE orders o, users u SET u.note = 'comma', o.amount = o.amount + 1 WHERE o.user_id = u.user_id AND o.amount < -45000",
        "UPDATE users, cities SET users.note = cities.country WHERE users.city = cities.name AND users.score < 50",
        "UPDATE users u JOIN orders o ON u.user_id = o.user_id SET u.note = 'joined' WHERE o.status = 'multi'",
        "DELETE FROM o USING orders o, users u WHERE o.user_id = u.user_id AND u.score BETWEEN 100 AND 140",
        "DELETE FROM orders USING users, orders WHERE orders.user_id = users.user_id AND users.score BETWEEN 141 AND 160",
        "DELETE o FROM orders o, users u WHERE o.user_id = u.user_id AND u.score BETWEEN 161 AND 180",
        "DELETE u, o FROM users u, orders o WHERE u.user_id = o.user_id AND u.score BETWEEN 181 AND 190",
    ]
    .into_iter()
    .map(Q::any)
    .chain([
        Q::any("SELECT COUNT(*), SUM(amount) FROM orders WHERE status = 'multi'"),
        Q::any("SELECT note, COUNT(*) FROM users GROUP BY note ORDER BY note"),
    ])
    .collect()
}
