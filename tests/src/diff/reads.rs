//! Generated and fixed read statements, of the shapes the gateway supports today
//! (must match) and of those it refuses today (1235 or a match).

use mysql_async::Value;
use topo::ShardMap;

use super::data::{quote, Data, CITIES, STATUSES};
use super::outcome::Order;
use super::rng::Rng;
use super::Q;

const E: Order = Order::Exact;
const A: Order = Order::Any;

/// Read statements that must give identical results today: broadcast and single
/// tables (one set answers), statements without tables, joins with a broadcast table.
pub const MUST_MATCH: &[(&str, Order)] = &[
    ("SELECT * FROM cities ORDER BY name", E),
    ("SELECT * FROM cities", A),
    ("SELECT country, COUNT(*) AS n FROM cities GROUP BY country ORDER BY country", E),
    ("SELECT * FROM cities WHERE country = 'Germany' ORDER BY name", E),
    ("SELECT name FROM cities WHERE name LIKE '%ö%' OR name LIKE '%ü%' OR name LIKE '%🌴'", A),
    ("SELECT DISTINCT country FROM cities", A),
    ("SELECT MIN(name), MAX(name), COUNT(country), COUNT(*) FROM cities", E),
    ("SELECT name, CHAR_LENGTH(name), LENGTH(name), UPPER(name) FROM cities ORDER BY name DESC LIMIT 5", E),
    ("SELECT * FROM settings ORDER BY k", E),
    ("SELECT k, v FROM settings WHERE k LIKE 'key0%' ORDER BY k DESC LIMIT 3", E),
    ("SELECT COUNT(*), MAX(v), MIN(k), GROUP_CONCAT(k ORDER BY k) FROM settings", E),
    ("SELECT * FROM settings WHERE k = 'ünï'", E),
    ("SELECT * FROM settings WHERE v IS NULL", A),
    ("SELECT c.name, s.v FROM cities c JOIN settings s ON s.k = 'key01' ORDER BY c.name", E),
    ("SELECT name FROM cities c WHERE EXISTS (SELECT 1 FROM settings s WHERE s.v = c.country)", A),
    ("SELECT u.user_id, c.country FROM users u JOIN cities c ON u.city = c.name", A),
    ("SELECT u.user_id, u.city, c.country FROM users u LEFT JOIN cities c ON u.city = c.name WHERE u.score > 0", A),
    ("SELECT 1+1, 'x', NOW() IS NOT NULL, CAST(1.5 AS DECIMAL(5,2))", E),
    ("SELECT NULL, NULL IS NULL, 1 = NULL", E),
    ("SELECT 'é' AS e, '日本' AS j, '🙂' AS emoji, CHAR_LENGTH('🙂'), LENGTH('日本')", E),
    ("SELECT 1.5e0, -9223372036854775808, 18446744073709551615, 0.1 + 0.2, 10/3, 7 DIV 2, -7 % 3", E),
    ("SELECT DATE '2020-01-02', TIME '10:11:12.5', TIMESTAMP '2020-01-02 03:04:05.678'", E),
    ("SELECT CAST('2020-02-30' AS DATE), 1/0", E),
    ("SELECT CONCAT('a', NULL), COALESCE(NULL, 'b'), IF(1 > 0, 'y', 'n')", E),
    ("SELECT CHARSET('x'), COLLATION('x'), @@character_set_client, @@collation_connection", E),
    ("SELECT DATABASE()", E),
    ("SELECT HEX('é'), UNHEX('41'), X'E697A5'", E),
    ("SELECT CAST(-1 AS UNSIGNED), CAST(18446744073709551615 AS SIGNED)", E),
    ("SELECT GREATEST(1, 2.5, '3'), LEAST('a', 'B'), 'a' = 'A', 'a' = 'a ', BINARY 'a' = 'A'", E),
    ("SELECT JSON_OBJECT('k', 1, 'v', 'é')", E),
    ("SELECT ROUND(2.5), ROUND(-2.5), TRUNCATE(1.999, 2), FLOOR(-1.5), 1e308 * 10", E),
    ("SELECT @@sql_mode, @@autocommit, @@time_zone, @@div_precision_increment", E),
];

/// Shapes refused today (ORDER BY / LIMIT / GROUP BY / aggregates / DISTINCT /
/// subqueries / UNION / joins across sets): 1235, or — once merging lands — the
/// same answer.
/// Statements over several sets that the gateway merges: they must match.
pub const MERGED_MUST_MATCH: &[(&str, Order)] = &[
    ("SELECT * FROM users ORDER BY user_id", E),
    ("SELECT user_id, name FROM users ORDER BY score DESC, user_id LIMIT 10", E),
    ("SELECT user_id FROM users ORDER BY user_id LIMIT 5, 10", E),
    ("SELECT * FROM orders ORDER BY amount, order_id, user_id LIMIT 20", E),
    ("SELECT user_id FROM users LIMIT 0", E),
    // MariaDB's zero-limit shortcut changes the column definitions (flags, lengths).
    ("SELECT YEAR(born) AS y, COUNT(*), MAX(score) FROM users GROUP BY y ORDER BY y DESC LIMIT 0", E),
    ("SELECT user_id, SUM(score) FROM users GROUP BY user_id LIMIT 3, 0", E),
    ("SELECT user_id FROM users UNION ALL SELECT user_id FROM orders ORDER BY user_id LIMIT 0", E),
    ("SELECT COUNT(*) FROM users", E),
    ("SELECT COUNT(*), COUNT(note), SUM(score), MIN(balance), MAX(born), AVG(score) FROM users", E),
    ("SELECT SUM(amount), AVG(amount), MIN(status), MAX(order_id), COUNT(DISTINCT status) FROM orders", E),
    ("SELECT status, COUNT(*) AS n, SUM(amount) FROM orders GROUP BY status", A),
    ("SELECT status, COUNT(*) FROM orders GROUP BY status HAVING COUNT(*) > 100", A),
    ("SELECT status, COUNT(DISTINCT user_id) AS u FROM orders GROUP BY status", A),
    ("SELECT status, COUNT(DISTINCT user_id), MAX(amount) FROM orders GROUP BY status HAVING COUNT(*) > 1", A),
    ("SELECT COUNT(*) FROM users WHERE note IS NULL HAVING COUNT(*) > 0", E),
    ("SELECT COUNT(DISTINCT user_id), SUM(amount) FROM orders WHERE amount < 0", E),
    ("SELECT YEAR(born) AS y, MAX(score) FROM users GROUP BY y ORDER BY y", E),
    ("SELECT DISTINCT status FROM orders", A),
    ("SELECT DISTINCT YEAR(born) FROM users", A),
    ("SELECT u.user_id, u.name, o.order_id, o.amount FROM users u JOIN orders o ON u.user_id = o.user_id", A),
    ("SELECT u.user_id, o.order_id FROM users u JOIN orders o ON u.user_id = o.user_id WHERE o.amount > 1000", A),
    ("SELECT * FROM users WHERE user_id IN (SELECT user_id FROM orders WHERE amount > 150000)", A),
    ("SELECT u.user_id, (SELECT COUNT(*) FROM orders o WHERE o.user_id = u.user_id) AS n FROM users u", A),
    ("SELECT user_id FROM users UNION ALL SELECT user_id FROM orders", A),
    ("SELECT user_id FROM users UNION SELECT user_id FROM orders", A),
    ("SELECT status FROM orders UNION SELECT LOWER(city) FROM users ORDER BY 1 DESC LIMIT 4", E),
    // Refused with 1235 until they merged: HAVING on strings, STD / VARIANCE,
    // BIT_*, GROUP_CONCAT with ORDER BY / DISTINCT.
    ("SELECT status, COUNT(*) FROM orders GROUP BY status HAVING status > 'n' AND MAX(status) <> 'PAID  '", A),
    ("SELECT city, MIN(name) FROM users GROUP BY city HAVING MIN(name) >= 'b' ORDER BY city", E),
    ("SELECT STD(score), VAR_SAMP(balance), STDDEV_SAMP(score), VAR_POP(score) FROM users", E),
    ("SELECT status, VARIANCE(amount), BIT_AND(order_id), BIT_OR(user_id), BIT_XOR(order_id) FROM orders GROUP BY status ORDER BY status", E),
    ("SELECT BIT_AND(score), BIT_OR(score), BIT_XOR(score), STD(score) FROM users WHERE user_id < -9000000000000000000", E),
    ("SELECT status, GROUP_CONCAT(DISTINCT user_id ORDER BY user_id DESC SEPARATOR ';') FROM orders GROUP BY status ORDER BY status", E),
    ("SELECT GROUP_CONCAT(name ORDER BY user_id) FROM users WHERE score > 900", E),
    // Expressions over aggregates, computed by the gateway from helper aggregates.
    ("SELECT CAST(SUM(score) AS SIGNED), ROUND(AVG(balance), 2), COALESCE(MAX(score), 0) FROM users", E),
    ("SELECT SUM(amount) / COUNT(*), SUM(amount) * 2 - MIN(amount) FROM orders", E),
    ("SELECT status, ROUND(SUM(amount) / COUNT(amount), 3) AS r FROM orders GROUP BY status ORDER BY r DESC, status", E),
    ("SELECT COALESCE(SUM(score), 0), COUNT(*) + 1 FROM users WHERE user_id < 0", E),
    // Grouped, ordered by an expression that is not a select item (an
    // aggregate, an expression over aggregates or over the group key, a select
    // alias inside it): refused with 1235 until moved into the select list.
    ("SELECT status FROM orders GROUP BY status ORDER BY COUNT(*) DESC, status", E),
    ("SELECT city, MAX(score) FROM users GROUP BY city ORDER BY city IS NULL, city DESC", E),
    ("SELECT YEAR(born) AS y, COUNT(*) FROM users GROUP BY y ORDER BY SUM(score) - MIN(score) DESC, y LIMIT 5", E),
    ("SELECT YEAR(born) AS y FROM users GROUP BY y ORDER BY y % 7, y DESC", E),
    ("SELECT user_id FROM orders GROUP BY user_id HAVING COUNT(*) > 1 ORDER BY MAX(amount) DESC, user_id LIMIT 7", E),
    ("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n + 0", E),
    // DISTINCT ordered by an expression of its items (refused before, too).
    ("SELECT DISTINCT city FROM users ORDER BY city IS NULL, city DESC", E),
    ("SELECT DISTINCT status FROM orders ORDER BY FIELD(status, 'paid', 'new') DESC, status", E),
    ("SELECT DISTINCT YEAR(born) AS y FROM users ORDER BY y % 10, y LIMIT 8", E),
    // MariaDB syntax sqlparser does not parse: planned from an equivalent text.
    ("SELECT user_id, score MOD 7 AS m FROM users WHERE user_id MOD 3 = 0", A),
    ("SELECT user_id FROM users ORDER BY user_id LIMIT 3 LOCK IN SHARE MODE", E),
    // Syntax errors over a sharded table: MariaDB's own 1064 (42000), not 1235.
    ("SELECT user_id FROM users WHERE", E),
    ("SELECT user_id, FROM users ORDER BY user_id", E),
    ("TABLE users", E),
    ("UPDATE users SET score = WHERE user_id = 1", E),
];

/// Statements the gateway may still refuse with 1235 (but must never answer wrongly).
pub const SAME_OR_UNSUPPORTED: &[(&str, Order)] = &[
    ("SELECT JSON_ARRAYAGG(user_id) FROM users", E),
    (
        "SELECT COUNT(DISTINCT city), COUNT(DISTINCT score) FROM users",
        E,
    ),
    (
        "SELECT u.user_id, s.v FROM users u JOIN settings s ON s.k = 'key01'",
        A,
    ),
];

/// Statement generator: a seeded [`Rng`] over the loaded data and the shard map.
pub struct Gen<'a> {
    pub rng: Rng,
    pub data: &'a Data,
    pub ids: Vec<i64>,
    map: ShardMap,
}

impl<'a> Gen<'a> {
    pub fn new(seed: u64, data: &'a Data, map: ShardMap) -> Self {
        Gen {
            rng: Rng::new(seed),
            ids: data.user_ids(),
            data,
            map,
        }
    }

    pub fn owner(&self, id: i64) -> String {
        let slot = topo::slot::slot_of_int(id as i128, self.map.slots);
        self.map.set_of_slot(slot).unwrap_or("?").to_string()
    }

    /// An existing user id (85 %) or one that is not there.
    pub fn id(&mut self) -> i64 {
        if self.rng.chance(85) {
            *self.rng.pick(&self.ids)
        } else {
            *self
                .rng
                .pick(&[123_456_789, -99, 9_223_372_036_854_775_806, 5_000_003])
        }
    }

    /// `k` ids owned by more than one set.
    pub fn ids_across(&mut self, k: usize) -> Vec<i64> {
        for _ in 0..100 {
            let v = self.rng.sample(&self.ids, k.max(2));
            if v.iter().any(|&i| self.owner(i) != self.owner(v[0])) {
                return v;
            }
        }
        panic!("no ids on different sets");
    }

    /// `k` ids owned by one set.
    pub fn ids_within(&mut self, k: usize) -> Vec<i64> {
        let pick = *self.rng.pick(&self.ids);
        let set = self.owner(pick);
        let mine: Vec<i64> = self
            .ids
            .iter()
            .copied()
            .filter(|&i| self.owner(i) == set)
            .collect();
        self.rng.sample(&mine, k)
    }

    /// The id as a SQL literal: plain, quoted, zero-padded or with a leading space.
    pub fn key_lit(&mut self, id: i64) -> String {
        let sign = if id < 0 { "-" } else { "" };
        match self.rng.below(20) {
            0..=9 => id.to_string(),
            10..=14 => format!("'{id}'"),
            15..=17 => format!("'{sign}00{}'", id.unsigned_abs()),
            _ => format!("' {id}'"),
        }
    }

    fn key_list(&mut self, ids: &[i64]) -> String {
        let v: Vec<String> = ids.iter().map(|&i| self.key_lit(i)).collect();
        v.join(", ")
    }

    fn city(&mut self) -> String {
        quote(self.rng.pick(&CITIES).0)
    }

    fn status(&mut self) -> String {
        quote(self.rng.pick::<&str>(&STATUSES))
    }
}

/// Point selects by shard key (`=`, `IN` within one set and across sets), single-set
/// ORDER BY / aggregates / expressions; `n` statements.
pub fn point_selects(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = g.id();
        let k = g.key_lit(id);
        let x = g.rng.range(-500, 500);
        let q = match g.rng.below(12) {
            0 => Q::exact(format!("SELECT * FROM users WHERE user_id = {k}")),
            1 => Q::exact(format!(
                "SELECT user_id, name, balance FROM users WHERE {k} = user_id"
            )),
            2 => Q::exact(format!(
                "SELECT user_id, score FROM users WHERE user_id = {k} AND score > {x}"
            )),
            3 => Q::exact(format!(
                "SELECT * FROM orders WHERE user_id = {k} ORDER BY order_id"
            )),
            4 => Q::exact(format!(
                "SELECT COUNT(*), SUM(amount), MIN(amount), MAX(status), AVG(amount) \
                 FROM orders WHERE user_id = {k}"
            )),
            5 => Q::exact(format!(
                "SELECT status, COUNT(*) AS n FROM orders WHERE user_id = {k} \
                 GROUP BY status ORDER BY status"
            )),
            6 => Q::exact(format!(
                "SELECT user_id, score * 2 AS s2, balance + 0.005 AS b, CONCAT(name, '!') AS c, \
                 DATE_FORMAT(born, '%Y/%m') AS y, created + INTERVAL 1 DAY AS t, \
                 LENGTH(note) AS l, UPPER(city) AS u, IFNULL(note, 'none') AS n2, \
                 -score AS neg, balance / 3 AS third FROM users WHERE user_id = {k}"
            )),
            7 => {
                let k = 2 + g.rng.below(5) as usize;
                let ids = g.ids_across(k);
                Q::any(format!(
                    "SELECT * FROM users WHERE user_id IN ({})",
                    g.key_list(&ids)
                ))
            }
            8 => {
                let ids = g.ids_across(3);
                Q::any(format!(
                    "SELECT user_id, name FROM users WHERE user_id IN ({}) AND city IS NOT NULL",
                    g.key_list(&ids)
                ))
            }
            9 => {
                let ids = g.ids_across(4);
                Q::any(format!(
                    "SELECT * FROM orders WHERE user_id IN ({}) AND amount > {x}",
                    g.key_list(&ids)
                ))
            }
            10 => {
                let ids = g.ids_within(4);
                Q::exact(format!(
                    "SELECT user_id, name FROM users WHERE user_id IN ({}) ORDER BY user_id LIMIT 3",
                    g.key_list(&ids)
                ))
            }
            _ => {
                let ids = g.ids_within(3);
                Q::exact(format!(
                    "SELECT COUNT(*), MAX(amount) FROM orders WHERE user_id IN ({})",
                    g.key_list(&ids)
                ))
            }
        };
        out.push(q);
    }
    out
}

/// The many ways to write a shard-key value: every one must reach the set that
/// MariaDB would find the row on.
pub fn key_literals(g: &mut Gen) -> Vec<Q> {
    let mut ids: Vec<i64> = Vec::new();
    for set in ["set1", "set2"] {
        ids.extend(
            g.ids
                .iter()
                .copied()
                .filter(|&i| i > 0 && i < 100 && g.owner(i) == set)
                .take(2),
        );
    }
    ids.extend([42, 10]);
    let forms = [
        "= {}",
        "= '{}'",
        "= '00{}'",
        "= ' {}'",
        "= '{} '",
        "= {}.0",
        "= '{}.0'",
        "= +{}",
        "= '+{}'",
        "= {}.4",
        "= '{}.5'",
        "= '{}abc'",
        "= {}e0",
        "= '{}e0'",
        "IN ('00{}', 0)",
    ];
    let mut out = Vec::new();
    for id in ids {
        for f in forms {
            let cond = f.replace("{}", &id.to_string());
            out.push(Q::any(format!(
                "SELECT user_id, name FROM users WHERE user_id {cond}"
            )));
        }
    }
    for cond in [
        "= 'abc'",
        "= ''",
        "= -0",
        "= '-0'",
        "= '9007199254740992'",
        "= 9007199254740992.0",
        "= '9223372036854775807'",
        "= 9223372036854775808",
        "= -9223372036854775808",
        "= 18446744073709551615",
        "= 0x2A",
        "= TRUE",
        "IN (-1, '-7', -42.0)",
        "= '2147483648'",
    ] {
        out.push(Q::any(format!(
            "SELECT user_id, name FROM users WHERE user_id {cond}"
        )));
    }
    out
}

/// Co-located joins pinned to one key value, and joins with the broadcast table.
pub fn joins(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = Vec::new();
    for _ in 0..n {
        let id = g.id();
        let k = g.key_lit(id);
        out.push(match g.rng.below(4) {
            0 => Q::any(format!(
                "SELECT u.user_id, u.name, o.order_id, o.amount FROM users u \
                 JOIN orders o ON u.user_id = o.user_id WHERE u.user_id = {k} AND o.user_id = {k}"
            )),
            // The shape of the design: the key pinned on one side of the join only.
            1 => Q::any(format!(
                "SELECT u.user_id, u.name, o.order_id, o.amount FROM users u \
                 JOIN orders o ON u.user_id = o.user_id WHERE u.user_id = {k}"
            )),
            2 => Q::any(format!(
                "SELECT o.order_id, o.status, u.city FROM orders o \
                 LEFT JOIN users u ON u.user_id = o.user_id WHERE o.user_id = {k}"
            )),
            _ => Q::exact(format!(
                "SELECT u.name, c.country FROM users u JOIN cities c ON u.city = c.name \
                 WHERE u.user_id = {k}"
            )),
        });
    }
    out
}

/// Scatter selects (every set, rows concatenated): compared as multisets.
pub fn scatter(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::any("SELECT * FROM users"),
        Q::any("SELECT * FROM orders"),
    ];
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let y = x + g.rng.range(0, 50_000);
        let q = match g.rng.below(12) {
            0 => format!("SELECT * FROM users WHERE score > {x}"),
            1 => format!("SELECT user_id, name FROM users WHERE city = {}", g.city()),
            2 => format!(
                "SELECT user_id, born, created FROM users WHERE born < '{}-06-15'",
                g.rng.range(1900, 2100)
            ),
            3 => "SELECT user_id, note FROM users WHERE note IS NULL OR note = ''".to_string(),
            4 => format!(
                "SELECT user_id, name FROM users WHERE name LIKE {}",
                quote(
                    g.rng
                        .pick::<&str>(&["%é%", "%🙂%", "%日本%", "O'%", "%\\\\%", "%\\_%"])
                )
            ),
            5 => format!("SELECT * FROM orders WHERE amount BETWEEN {x} AND {y}"),
            6 => format!(
                "SELECT order_id, user_id FROM orders WHERE status IN ({}, {}) OR status IS NULL",
                g.status(),
                g.status()
            ),
            7 => format!("SELECT user_id FROM users WHERE user_id > {}", g.id()),
            8 => format!(
                "SELECT * FROM users WHERE user_id = {} OR user_id = {}",
                g.id(),
                g.id()
            ),
            9 => {
                let ids = g.ids_across(5);
                let l: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!(
                    "SELECT user_id FROM users WHERE user_id NOT IN ({})",
                    l.join(", ")
                )
            }
            10 => format!(
                "SELECT user_id, balance * 2, -score, balance > {x} FROM users WHERE balance < {y}"
            ),
            _ => {
                format!("SELECT o.order_id, o.amount * 1.1 AS a FROM orders o WHERE o.amount < {x}")
            }
        };
        out.push(Q::any(q));
    }
    out
}

/// [`SAME_OR_UNSUPPORTED`] plus generated shapes that span sets.
pub fn unsupported(g: &mut Gen) -> Vec<Q> {
    let mut out: Vec<Q> = SAME_OR_UNSUPPORTED
        .iter()
        .map(|(s, o)| Q {
            order: *o,
            ..Q::any(*s).or_unsupported()
        })
        .collect();
    for _ in 0..6 {
        let ids = g.ids_across(3);
        let l = g.key_list(&ids);
        out.push(
            Q::exact(format!(
                "SELECT * FROM users WHERE user_id IN ({l}) ORDER BY user_id"
            ))
            .or_unsupported(),
        );
        out.push(
            Q::exact(format!(
                "SELECT MAX(user_id), COUNT(*) FROM users WHERE user_id IN ({l})"
            ))
            .or_unsupported(),
        );
    }
    out
}

fn b(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// Prepared point selects and scatters (binary protocol, parameters).
pub fn binary_selects(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::any("SELECT * FROM users").bin(vec![]),
        Q::any("SELECT * FROM orders").bin(vec![]),
        Q::exact("SELECT * FROM cities ORDER BY name").bin(vec![]),
    ];
    for _ in 0..n {
        let id = g.id();
        let q = match g.rng.below(10) {
            0 => Q::exact("SELECT * FROM users WHERE user_id = ?").bin(vec![Value::Int(id)]),
            1 => {
                let sign = if id < 0 { "-" } else { "" };
                let padded = format!("{sign}00{}", id.unsigned_abs());
                Q::exact("SELECT * FROM users WHERE user_id = ?").bin(vec![b(&padded)])
            }
            2 => {
                let ids = g.ids_across(3);
                Q::any("SELECT user_id, name, born, created, balance FROM users WHERE user_id IN (?, ?, ?)")
                    .bin(ids.into_iter().map(Value::Int).collect())
            }
            3 => Q::exact("SELECT * FROM orders WHERE user_id = ? AND amount > ? ORDER BY order_id")
                .bin(vec![Value::Int(id), b("10.00")]),
            4 => {
                let s = g.rng.pick(&STATUSES).to_string();
                Q::any("SELECT * FROM orders WHERE user_id = ? AND status = ?")
                    .bin(vec![Value::Int(id), b(&s)])
            }
            5 => {
                let c = g.rng.pick(&CITIES).0;
                Q::exact("SELECT * FROM cities WHERE name = ?").bin(vec![b(c)])
            }
            6 => Q::exact("SELECT k, v FROM settings WHERE k > ? ORDER BY k LIMIT ?")
                .bin(vec![b("key05"), Value::Int(3)]),
            7 => {
                let y = g.rng.range(1900, 2099) as u16;
                Q::any("SELECT user_id, born FROM users WHERE born > ?")
                    .bin(vec![Value::Date(y, 3, 4, 0, 0, 0, 0)])
            }
            8 => Q::any("SELECT user_id, score FROM users WHERE score BETWEEN ? AND ?")
                .bin(vec![Value::Int(-100), Value::Int(g.rng.range(-100, 900))]),
            _ => Q::exact(
                "SELECT user_id, name, city, note FROM users WHERE user_id = ? AND (note IS NULL OR note <> ?)",
            )
            .bin(vec![Value::Int(id), b("short")]),
        };
        out.push(q);
    }
    out
}

/// Prepared statements whose result columns depend on the parameter types.
pub fn binary_exprs() -> Vec<Q> {
    vec![
        Q::exact("SELECT ? AS a").bin(vec![Value::Int(5)]),
        Q::exact("SELECT ? + 1 AS b").bin(vec![Value::Int(41)]),
        Q::exact("SELECT CONCAT(?, 'x') AS c").bin(vec![b("é日本🙂")]),
        Q::exact("SELECT ? AS d").bin(vec![Value::Double(1.5)]),
        Q::exact("SELECT ? AS n").bin(vec![Value::NULL]),
        Q::exact("SELECT ? AS dt").bin(vec![Value::Date(2020, 1, 2, 3, 4, 5, 678_000)]),
        Q::exact("SELECT ? AS s").bin(vec![b("it's \\ a \"test\"")]),
        Q::exact("SELECT 1 + 1 AS two, CAST(1.5 AS DECIMAL(5,2)) AS d").bin(vec![]),
    ]
}
