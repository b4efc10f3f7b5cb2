//! Generated reads that need merging across sets: ORDER BY (with a unique
//! tie-breaker, so the order is defined), LIMIT / OFFSET, aggregates, GROUP BY,
//! HAVING, DISTINCT, WITH ROLLUP. Each must give an identical answer.

use mysql_async::Value;

use super::data::quote;
use super::reads::Gen;
use super::Q;

fn dir(g: &mut Gen) -> &'static str {
    if g.rng.chance(50) {
        "ASC"
    } else {
        "DESC"
    }
}

/// `n` statements merging rows of every set.
pub fn merges(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = Vec::with_capacity(n + 8);
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let lim = g.rng.range(0, 25);
        let off = g.rng.range(0, 40);
        let d = dir(g);
        let shape = g.rng.below(32);
        let q = match shape {
            0 => Q::exact(format!(
                "SELECT user_id, name, score FROM users WHERE score > {x} ORDER BY score {d}, user_id LIMIT {lim}"
            )),
            1 => Q::exact(format!(
                "SELECT user_id, city FROM users ORDER BY city {d}, user_id DESC LIMIT {off}, {lim}"
            )),
            2 => Q::exact(format!("SELECT name FROM users ORDER BY name {d}, user_id")),
            3 => Q::exact(format!(
                "SELECT * FROM orders WHERE amount > {x} ORDER BY amount {d}, order_id, user_id LIMIT {lim}"
            )),
            4 => Q::any(
                "SELECT status, COUNT(*), SUM(amount), AVG(amount), MIN(amount), MAX(amount) \
                 FROM orders GROUP BY status",
            ),
            5 => Q::exact(format!(
                "SELECT LOWER(city) AS c, COUNT(*) AS n, AVG(score), SUM(balance) FROM users \
                 WHERE score > {x} GROUP BY LOWER(city) ORDER BY c {d}"
            )),
            6 => Q::exact(format!(
                "SELECT COUNT(*), COUNT(DISTINCT city), SUM(balance), AVG(balance), MIN(created), \
                 MAX(born), COUNT(note) FROM users WHERE score > {x}"
            )),
            7 => Q::any(format!("SELECT DISTINCT status FROM orders WHERE amount > {x}")),
            8 => Q::exact(format!(
                "SELECT status, COUNT(*) AS n FROM orders GROUP BY status HAVING n > {} \
                 ORDER BY n DESC, status",
                g.rng.range(0, 200)
            )),
            9 => Q::exact(format!(
                "SELECT YEAR(born) AS y, COUNT(*), MAX(score) FROM users GROUP BY y ORDER BY y {d} LIMIT {lim}"
            )),
            10 => {
                let ids = g.ids_across(5);
                let l: Vec<String> = ids.iter().map(|&i| g.key_lit(i)).collect();
                Q::exact(format!(
                    "SELECT user_id, score FROM users WHERE user_id IN ({}) ORDER BY user_id {d}",
                    l.join(", ")
                ))
            }
            11 => {
                let ids = g.ids_across(4);
                let l: Vec<String> = ids.iter().map(i64::to_string).collect();
                Q::exact(format!(
                    "SELECT MAX(score), MIN(score), COUNT(*), SUM(score) FROM users WHERE user_id IN ({})",
                    l.join(", ")
                ))
            }
            12 => Q::exact("SELECT SUM(score), AVG(score), COUNT(score), COUNT(*) FROM users"),
            13 => Q::exact(format!(
                "SELECT user_id, note FROM users ORDER BY note {d}, user_id LIMIT {lim}"
            )),
            14 => Q::exact(format!(
                "SELECT name, user_id FROM users ORDER BY name {d}, user_id LIMIT {lim}"
            )),
            15 => Q::exact(format!(
                "SELECT created, user_id FROM users ORDER BY created {d}, user_id LIMIT {lim} OFFSET {off}"
            )),
            16 => Q::exact(format!(
                "SELECT GROUP_CONCAT(name ORDER BY user_id) FROM users WHERE score > {}",
                900 + x.abs() % 100
            )),
            17 => Q::exact(
                "SELECT COUNT(*), SUM(u.score) FROM users u JOIN cities c ON u.city = c.name",
            ),
            18 => Q::any(
                "SELECT c.country, COUNT(*) FROM users u JOIN cities c ON u.city = c.name GROUP BY c.country",
            ),
            19 => Q::exact(format!(
                "SELECT user_id, score * 2 AS s FROM users ORDER BY s {d}, user_id LIMIT {lim}"
            )),
            20 => Q::exact(format!(
                "SELECT user_id, balance FROM users ORDER BY 2 {d}, 1 LIMIT {lim}"
            )),
            21 => Q::exact(format!(
                "SELECT user_id FROM users ORDER BY score {d}, user_id LIMIT {lim}"
            )),
            22 => Q::exact(
                "SELECT COUNT(*) + 1 AS c1, SUM(amount * 2) AS s2, MAX(amount) - MIN(amount) AS r FROM orders",
            ),
            23 => Q::exact(format!(
                "SELECT status, AVG(amount) FROM orders GROUP BY status ORDER BY AVG(amount) {d}, status LIMIT 3"
            )),
            24 => Q::exact("SELECT SUM(balance), MIN(born), MAX(created), MIN(created) FROM users"),
            25 => Q::exact(format!(
                "SELECT user_id FROM users ORDER BY user_id LIMIT 5 OFFSET {}",
                285 + off
            )),
            26 => Q::any("SELECT DISTINCT LOWER(city) FROM users"),
            27 => Q::exact("SELECT COUNT(*) FROM users WHERE note IS NULL HAVING COUNT(*) > 0"),
            28 => Q::exact("SELECT status, COUNT(*) FROM orders GROUP BY status WITH ROLLUP"),
            29 => Q::exact(format!(
                "SELECT city, user_id FROM users ORDER BY city IS NULL, city {d}, user_id LIMIT {lim}"
            )),
            30 => Q::exact(format!(
                "SELECT DISTINCT status FROM orders ORDER BY status {d} LIMIT 3"
            )),
            _ => Q::exact(format!(
                "SELECT user_id, balance FROM users WHERE city = {} ORDER BY balance {d}, user_id LIMIT {lim}",
                quote(g.rng.pick(&super::data::CITIES).0)
            )),
        };
        out.push(q);
    }
    // The same shapes with parameters (binary protocol).
    for _ in 0..8 {
        let x = g.rng.range(-1000, 1000);
        let lim = g.rng.range(1, 20);
        out.push(
            Q::exact(
                "SELECT user_id, score FROM users WHERE score > ? ORDER BY score, user_id LIMIT ?",
            )
            .bin(vec![Value::Int(x), Value::Int(lim)]),
        );
        out.push(
            Q::exact("SELECT status, COUNT(*) AS n, SUM(amount) FROM orders WHERE amount > ? GROUP BY status ORDER BY status")
                .bin(vec![Value::Bytes(format!("{x}.50").into_bytes())]),
        );
    }
    out
}
