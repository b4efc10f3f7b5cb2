//! Generated grouped reads the gateway merges with more than sums: HAVING on
//! strings (compared in the column's collation), statistical aggregates
//! (STD/VARIANCE family, compared as doubles), BIT_AND/OR/XOR, and
//! GROUP_CONCAT with ORDER BY / DISTINCT / SEPARATOR (truncated at the session's
//! group_concat_max_len). Several shapes each: with GROUP BY, ORDER BY, LIMIT,
//! NULLs, unicode, decimals and empty groups.

use super::data::{quote, CITIES, STATUSES};
use super::reads::Gen;
use super::Q;

fn dir(g: &mut Gen) -> &'static str {
    if g.rng.chance(50) {
        "ASC"
    } else {
        "DESC"
    }
}

/// A GROUP_CONCAT separator clause (none, ASCII, empty, multi-byte).
fn separator(g: &mut Gen) -> &'static str {
    const SEPARATORS: [&str; 4] = ["", " SEPARATOR ';'", " SEPARATOR ''", " SEPARATOR ' 🙂 '"];
    let sep: &&'static str = g.rng.pick(&SEPARATORS);
    sep
}

const CMPS: [&str; 6] = ["=", "<>", "<", "<=", ">", ">="];

fn cmp(g: &mut Gen) -> &'static str {
    CMPS[g.rng.below(CMPS.len() as u64) as usize]
}

/// A string literal to compare with: a city or status, re-cased or padded.
fn word(g: &mut Gen) -> String {
    let base = if g.rng.chance(50) {
        g.rng.pick(&CITIES).0.to_string()
    } else {
        g.rng.pick(&STATUSES).to_string()
    };
    let s = match g.rng.below(4) {
        0 => base.to_uppercase(),
        1 => format!("{base}  "),
        2 => base.to_lowercase(),
        _ => base,
    };
    quote(&s)
}

/// `n` statements with HAVING on string expressions.
pub fn having_strings(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::any("SELECT city, COUNT(*) FROM users GROUP BY city HAVING city = 'PARIS '"),
        Q::any("SELECT status, MAX(amount) FROM orders GROUP BY status HAVING status <> '日本'"),
        Q::any("SELECT city FROM users GROUP BY city HAVING MIN(name) > 'm' OR city IS NULL"),
        Q::any("SELECT LOWER(city) AS c, MAX(born) AS b FROM users GROUP BY c HAVING b >= '2000-01-01'"),
        Q::exact("SELECT MAX(name) FROM users WHERE user_id < 0 HAVING MAX(name) = 'x'"),
    ];
    for _ in 0..n {
        let w = word(g);
        let c = cmp(g);
        let d = dir(g);
        let x = g.rng.range(-1000, 1000);
        let lim = g.rng.range(1, 20);
        let q = match g.rng.below(8) {
            0 => Q::exact(format!(
                "SELECT city, COUNT(*) AS n FROM users GROUP BY city HAVING city {c} {w} ORDER BY city {d}, n"
            )),
            1 => Q::exact(format!(
                "SELECT status, SUM(amount) FROM orders WHERE amount > {x} GROUP BY status \
                 HAVING status {c} {w} AND COUNT(*) > 1 ORDER BY status {d}"
            )),
            2 => Q::any(format!(
                "SELECT city, MIN(name) AS lo, MAX(name) AS hi FROM users GROUP BY city \
                 HAVING lo {c} {w} OR hi {c} {w}"
            )),
            3 => Q::exact(format!(
                "SELECT status, MAX(status) AS m FROM orders GROUP BY status HAVING MAX(status) {c} {w} \
                 ORDER BY 1 {d} LIMIT {lim}"
            )),
            4 => Q::any(format!(
                "SELECT YEAR(born) AS y, MIN(city) FROM users WHERE score > {x} GROUP BY y \
                 HAVING MIN(city) {c} {w}"
            )),
            5 => Q::any(format!(
                "SELECT city, COUNT(*) FROM users GROUP BY city HAVING NOT (MAX(note) {c} {w}) OR MAX(note) IS NULL"
            )),
            6 => Q::any(format!(
                "SELECT city, MAX(created) AS t FROM users GROUP BY city HAVING t {c} '{}-06-01 12:00:00'",
                g.rng.range(1970, 2037)
            )),
            _ => Q::any(format!(
                "SELECT status, MIN(status), MAX(status) FROM orders GROUP BY status \
                 HAVING MIN(status) = MAX(status) AND status {c} {w}"
            )),
        };
        out.push(q);
    }
    out
}

/// A STD / VARIANCE family member.
fn stat(g: &mut Gen) -> &'static str {
    const F: [&str; 7] = [
        "STD",
        "STDDEV",
        "STDDEV_POP",
        "STDDEV_SAMP",
        "VARIANCE",
        "VAR_POP",
        "VAR_SAMP",
    ];
    F[g.rng.below(F.len() as u64) as usize]
}

fn bit(g: &mut Gen) -> &'static str {
    const F: [&str; 3] = ["BIT_AND", "BIT_OR", "BIT_XOR"];
    F[g.rng.below(F.len() as u64) as usize]
}

/// `n` statements with STD/VARIANCE (doubles, compared with a tolerance) and
/// BIT_AND/OR/XOR, over integers, decimals, NULLs and empty groups.
pub fn statistics(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::exact(
            "SELECT STD(score), STDDEV(score), STDDEV_POP(balance), STDDEV_SAMP(amount), \
             VARIANCE(score), VAR_POP(balance), VAR_SAMP(score) FROM users u JOIN orders o ON u.user_id = o.user_id \
             WHERE u.user_id < 0",
        ),
        Q::exact("SELECT STD(score), VAR_SAMP(score), BIT_AND(score), BIT_OR(score), BIT_XOR(score) FROM users"),
        Q::exact("SELECT VAR_POP(amount), BIT_AND(order_id), BIT_XOR(user_id) FROM orders WHERE amount IS NULL"),
        Q::exact("SELECT STD(score), BIT_AND(score), BIT_OR(score), COUNT(*) FROM users WHERE 1 = 0"),
        Q::any("SELECT status, VAR_SAMP(amount), STD(amount), BIT_OR(order_id) FROM orders GROUP BY status"),
        Q::exact("SELECT STD(RAND()) FROM users").or_unsupported(),
        // Binary protocol (prepared): the same merges, typed rows.
        Q::exact("SELECT STD(score), VAR_SAMP(balance), BIT_OR(score) FROM users WHERE score > ?")
            .bin(vec![mysql_async::Value::Int(-300)]),
        Q::exact(
            "SELECT status, STDDEV_SAMP(amount), BIT_XOR(order_id) FROM orders \
             WHERE amount > ? GROUP BY status ORDER BY status",
        )
        .bin(vec![mysql_async::Value::Bytes(b"10.5".to_vec())]),
    ];
    for _ in 0..n {
        let (f, f2, b) = (stat(g), stat(g), bit(g));
        let x = g.rng.range(-1000, 1000);
        let d = dir(g);
        let lim = g.rng.range(1, 20);
        let q = match g.rng.below(10) {
            0 => Q::exact(format!("SELECT {f}(score), {f2}(balance), {b}(score) FROM users WHERE score > {x}")),
            1 => Q::any(format!(
                "SELECT city, {f}(score), COUNT(*), {b}(user_id) FROM users GROUP BY city"
            )),
            2 => Q::exact(format!(
                "SELECT status, {f}(amount) AS s, {b}(order_id) FROM orders WHERE amount > {x} \
                 GROUP BY status ORDER BY status {d}"
            )),
            3 => Q::exact(format!(
                "SELECT YEAR(born) AS y, {f}(balance), {f2}(score * 2), AVG(score) FROM users \
                 GROUP BY y ORDER BY y {d} LIMIT {lim}"
            )),
            4 => Q::exact(format!(
                "SELECT {f}(amount), {f2}(amount), SUM(amount), COUNT(amount) FROM orders WHERE user_id > {x}"
            )),
            5 => Q::any(format!(
                "SELECT status, {b}(user_id), {b}(order_id) FROM orders WHERE order_id > {x} GROUP BY status"
            )),
            6 => Q::exact(format!(
                "SELECT {f}(score) FROM users WHERE user_id IN ({}, {}, {})",
                g.id(),
                g.id(),
                g.id()
            )),
            7 => Q::any(format!(
                "SELECT city, {f}(score) AS v FROM users GROUP BY city HAVING COUNT(*) > {}",
                g.rng.range(0, 30)
            )),
            9 => Q::exact(format!(
                "SELECT YEAR(born) AS y, COUNT(DISTINCT city, score % 5) FROM users \
                 WHERE user_id > {x} GROUP BY y ORDER BY y {d}"
            )),
            8 => Q::exact(format!(
                "SELECT status, COUNT(DISTINCT user_id), {f}(amount), {b}(order_id) FROM orders \
                 GROUP BY status ORDER BY status {d}"
            )),
            _ => Q::exact(format!(
                "SELECT {f}(CAST(score AS DOUBLE) / 7), {b}(CAST(score AS UNSIGNED)) FROM users WHERE score < {x}"
            )),
        };
        out.push(q);
    }
    out
}

/// `n` statements with GROUP_CONCAT(... ORDER BY / DISTINCT / SEPARATOR ...),
/// under several `group_concat_max_len` values (lists cut with warning 1260,
/// never inside a UTF-8 character).
pub fn group_concats(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::exact("SELECT GROUP_CONCAT(name ORDER BY user_id) FROM users WHERE 1 = 0"),
        Q::exact("SELECT GROUP_CONCAT(DISTINCT status ORDER BY status DESC SEPARATOR ' | ') FROM orders"),
        Q::exact(
            "SELECT LOWER(city) AS c, GROUP_CONCAT(note ORDER BY user_id SEPARATOR '') FROM users \
             GROUP BY c ORDER BY c",
        ),
        Q::any(
            "SELECT status, COUNT(*), GROUP_CONCAT(amount ORDER BY amount DESC, order_id), SUM(amount) \
             FROM orders GROUP BY status",
        ),
        Q::exact("SELECT GROUP_CONCAT(DISTINCT name ORDER BY name) FROM users WHERE score < 0 AND name LIKE 'a%'"),
        Q::exact("SELECT GROUP_CONCAT(name, '-', score ORDER BY score, user_id) FROM users WHERE score > 900"),
        Q::exact("SELECT GROUP_CONCAT(DISTINCT name ORDER BY user_id) FROM users").or_unsupported(),
        Q::exact(
            "SELECT status, GROUP_CONCAT(order_id ORDER BY order_id DESC, user_id SEPARATOR '/') \
             FROM orders WHERE amount > ? GROUP BY status ORDER BY status",
        )
        .bin(vec![mysql_async::Value::Int(1000)]),
    ];
    let lens = [4u64, 17, 64, 300, 1024, 1_048_576];
    for k in 0..n {
        if k % 8 == 0 {
            let len = lens[g.rng.below(lens.len() as u64) as usize];
            out.push(Q::exact(format!(
                "SET SESSION group_concat_max_len = {len}"
            )));
        }
        let x = g.rng.range(-1000, 1000);
        let d = dir(g);
        let sep = separator(g);
        let lim = g.rng.range(1, 20);
        let q = match g.rng.below(10) {
            9 => Q::exact(format!(
                "SELECT LOWER(city) AS c, GROUP_CONCAT(name ORDER BY user_id{sep}) AS g, COUNT(*) AS n \
                 FROM users WHERE score > {x} GROUP BY c ORDER BY n {d}, c LIMIT {lim}"
            ))
            .or_unsupported(),
            0 => Q::exact(format!(
                "SELECT status, GROUP_CONCAT(user_id ORDER BY user_id {d}, order_id{sep}) FROM orders \
                 WHERE amount > {x} GROUP BY status ORDER BY status"
            )),
            1 => Q::exact(format!(
                "SELECT LOWER(city) AS c, GROUP_CONCAT(name ORDER BY name {d}, user_id{sep}) AS g, COUNT(*) \
                 FROM users WHERE score > {x} GROUP BY c ORDER BY c {d} LIMIT {lim}"
            )),
            2 => Q::exact(format!(
                "SELECT GROUP_CONCAT(DISTINCT status ORDER BY status {d}{sep}) FROM orders WHERE amount < {x}"
            )),
            3 => Q::any(format!(
                "SELECT YEAR(born) AS y, GROUP_CONCAT(DISTINCT score ORDER BY score{sep}), MAX(score) \
                 FROM users WHERE score > {x} GROUP BY y"
            )),
            4 => Q::exact(format!(
                "SELECT GROUP_CONCAT(balance ORDER BY balance {d}, user_id{sep}) FROM users WHERE score BETWEEN {x} AND {}",
                x + 200
            )),
            5 => Q::any(format!(
                "SELECT status, GROUP_CONCAT(DISTINCT user_id{sep}), COUNT(*) FROM orders \
                 WHERE order_id > {x} GROUP BY status"
            )),
            6 => Q::exact(format!(
                "SELECT GROUP_CONCAT(note ORDER BY user_id{sep}) FROM users WHERE score > {x}"
            )),
            7 => Q::any(format!(
                "SELECT status, GROUP_CONCAT(CONCAT(order_id, ':', amount) ORDER BY order_id {d}, user_id{sep}), \
                 AVG(amount), STD(amount) FROM orders WHERE user_id > {x} GROUP BY status HAVING COUNT(*) > 2"
            )),
            _ => Q::exact(format!(
                "SELECT GROUP_CONCAT(created ORDER BY created {d}, user_id{sep}), MIN(created) FROM users \
                 WHERE score < {x}"
            )),
        };
        out.push(q);
    }
    out.push(Q::exact("SET SESSION group_concat_max_len = DEFAULT"));
    out
}

/// `n` statements with plain GROUP_CONCAT (no ORDER BY / DISTINCT) whose
/// elements are equal within a group (so MariaDB's unspecified order does not
/// show), long enough to be cut at several `group_concat_max_len` values:
/// the merged list is cut once, with one warning 1260 per cut list.
pub fn plain_group_concats(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::exact("SET SESSION group_concat_max_len = 1024"),
        Q::exact("SELECT GROUP_CONCAT(REPEAT('ab', 20)), COUNT(*) FROM users"),
        Q::exact(
            "SELECT GROUP_CONCAT('é' SEPARATOR ''), GROUP_CONCAT(REPEAT('x', 300)) FROM orders",
        ),
        Q::exact("SELECT GROUP_CONCAT(REPEAT('ab', 3)) FROM users WHERE 1 = 0"),
        Q::exact("SELECT GROUP_CONCAT(REPEAT('ab', 20)) FROM users WHERE score > ?")
            .bin(vec![mysql_async::Value::Int(-500)]),
    ];
    let lens = [4u64, 5, 17, 64, 300, 1024, 5000, 1_048_576];
    for k in 0..n {
        if k % 6 == 0 {
            let len = lens[g.rng.below(lens.len() as u64) as usize];
            out.push(Q::exact(format!(
                "SET SESSION group_concat_max_len = {len}"
            )));
        }
        let x = g.rng.range(-1000, 1000);
        let d = dir(g);
        let sep = separator(g);
        let lim = g.rng.range(1, 20);
        let r = g.rng.range(1, 40);
        let q = match g.rng.below(8) {
            0 => Q::exact(format!(
                "SELECT GROUP_CONCAT(REPEAT('ab', {r}){sep}), COUNT(*) FROM users WHERE score > {x}"
            )),
            1 => Q::any(format!(
                "SELECT YEAR(born) AS y, GROUP_CONCAT(YEAR(born){sep}) AS g, COUNT(*) FROM users \
                 WHERE score > {x} GROUP BY y"
            )),
            2 => Q::exact(format!(
                "SELECT YEAR(born) AS y, GROUP_CONCAT(REPEAT('é', {r}){sep}), SUM(score) FROM users \
                 GROUP BY y ORDER BY y {d} LIMIT {lim}"
            )),
            3 => Q::any(format!(
                "SELECT status, GROUP_CONCAT(UPPER(TRIM(status)){sep}), COUNT(*) AS n FROM orders \
                 WHERE amount > {x} GROUP BY status HAVING n > {}",
                g.rng.range(0, 200)
            )),
            4 => Q::exact(format!(
                "SELECT YEAR(born) AS y, GROUP_CONCAT(YEAR(born), '-', 'x🙂'{sep}) AS g, COUNT(*) AS n \
                 FROM users GROUP BY y ORDER BY n DESC, y LIMIT {lim}"
            ))
            .or_unsupported(),
            5 => Q::exact(format!(
                "SELECT COUNT(DISTINCT city), GROUP_CONCAT('z'{sep}) FROM users WHERE score > {x}"
            )),
            6 => Q::exact(format!(
                "SELECT GROUP_CONCAT(REPEAT('x', {r}) SEPARATOR ''), GROUP_CONCAT(REPEAT('é', 2){sep}), \
                 MAX(amount) FROM orders WHERE order_id > {x}"
            )),
            _ => Q::any(format!(
                "SELECT city IS NULL AS c, GROUP_CONCAT(city IS NULL{sep}), AVG(score) FROM users \
                 WHERE score < {x} GROUP BY c"
            )),
        };
        out.push(q);
    }
    out.push(Q::exact("SET SESSION group_concat_max_len = DEFAULT"));
    out
}

/// `n` statements with COUNT(DISTINCT) of several different expressions
/// (strings under their collation, numbers, NULLs), with other aggregates,
/// GROUP BY, HAVING, ORDER BY and LIMIT.
pub fn distinct_counts(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::exact("SELECT COUNT(DISTINCT city), COUNT(DISTINCT score) FROM users"),
        Q::exact("SELECT COUNT(DISTINCT city), COUNT(DISTINCT note), COUNT(*) FROM users WHERE 1 = 0"),
        Q::exact(
            "SELECT status, COUNT(DISTINCT user_id), COUNT(DISTINCT amount) FROM orders \
             WHERE amount > ? GROUP BY status ORDER BY status",
        )
        .bin(vec![mysql_async::Value::Int(100)]),
        Q::exact("SELECT status, COUNT(DISTINCT amount) AS a FROM orders GROUP BY status ORDER BY a DESC, status").or_unsupported(),
        Q::exact("SELECT status, COUNT(DISTINCT amount) AS a, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n, status").or_unsupported(),
        // COUNT(DISTINCT a, b): pairs with no NULL.
        Q::exact("SELECT COUNT(DISTINCT city, score), COUNT(DISTINCT city), COUNT(*) FROM users"),
        Q::exact(
            "SELECT status, COUNT(DISTINCT user_id, amount), COUNT(DISTINCT amount) FROM orders \
             GROUP BY status ORDER BY status",
        ),
        Q::exact("SELECT COUNT(DISTINCT city, score), COUNT(DISTINCT city, born) FROM users").or_unsupported(),
        Q::exact("SELECT COUNT(DISTINCT status, user_id) FROM orders WHERE amount > ?")
            .bin(vec![mysql_async::Value::Int(0)]),
        // SUM / AVG / MIN / MAX over DISTINCT (one distinct argument).
        Q::exact("SELECT SUM(DISTINCT score), AVG(DISTINCT score), COUNT(DISTINCT score), MIN(DISTINCT score) FROM users"),
        Q::exact("SELECT SUM(DISTINCT amount), AVG(DISTINCT amount) FROM orders WHERE 1 = 0"),
        Q::exact(
            "SELECT status, SUM(DISTINCT amount), AVG(DISTINCT amount), MAX(DISTINCT amount), COUNT(*)              FROM orders GROUP BY status ORDER BY status",
        ),
        Q::exact(
            "SELECT status, SUM(DISTINCT user_id) AS s FROM orders WHERE amount > ?              GROUP BY status ORDER BY status",
        )
        .bin(vec![mysql_async::Value::Int(10)]),
        Q::exact("SELECT SUM(DISTINCT score), COUNT(DISTINCT city) FROM users").or_unsupported(),
        Q::exact("SELECT YEAR(born) AS y, AVG(DISTINCT balance), SUM(DISTINCT balance) FROM users GROUP BY y ORDER BY y"),
    ];
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let d = dir(g);
        let lim = g.rng.range(1, 20);
        let q = match g.rng.below(10) {
            0 => Q::exact(format!(
                "SELECT status, COUNT(DISTINCT user_id), COUNT(DISTINCT amount), COUNT(*) FROM orders \
                 WHERE order_id > {x} GROUP BY status ORDER BY status {d}"
            )),
            7 => Q::exact(format!(
                "SELECT status, SUM(DISTINCT amount), AVG(DISTINCT amount), COUNT(DISTINCT amount) \
                 FROM orders WHERE order_id > {x} GROUP BY status ORDER BY status {d} LIMIT {lim}"
            )),
            9 => Q::exact(format!(
                "SELECT YEAR(born) AS y, COUNT(DISTINCT city, score % 5) FROM users \
                 WHERE user_id > {x} GROUP BY y ORDER BY y {d}"
            )),
            8 => Q::exact(format!(
                "SELECT SUM(DISTINCT score % 7), AVG(DISTINCT score % 7), MIN(DISTINCT name) FROM users \
                 WHERE score > {x}"
            )),
            1 => Q::exact(format!(
                "SELECT COUNT(DISTINCT name), COUNT(DISTINCT city), COUNT(DISTINCT UPPER(city)), \
                 SUM(score), AVG(balance) FROM users WHERE score > {x}"
            )),
            2 => Q::exact(format!(
                "SELECT YEAR(born) AS y, COUNT(DISTINCT city) AS a, COUNT(DISTINCT note) AS b FROM users \
                 GROUP BY y HAVING a > {} ORDER BY y {d} LIMIT {lim}",
                g.rng.range(0, 3)
            )),
            3 => Q::folded(format!(
                "SELECT city, COUNT(DISTINCT status), COUNT(DISTINCT o.user_id), MAX(amount) FROM users u \
                 JOIN orders o ON u.user_id = o.user_id WHERE amount > {x} GROUP BY city"
            )),
            4 => Q::exact(format!(
                "SELECT COUNT(DISTINCT score), COUNT(DISTINCT balance), MAX(score), \
                 MIN(name) FROM users WHERE user_id > {x}"
            )),
            5 => Q::any(format!(
                "SELECT LOWER(city) AS c, COUNT(DISTINCT born), COUNT(DISTINCT created), STD(score) \
                 FROM users WHERE score < {x} GROUP BY c"
            )),
            _ => Q::exact(format!(
                "SELECT status, COUNT(DISTINCT amount) AS a, COUNT(DISTINCT user_id) AS u FROM orders \
                 GROUP BY status ORDER BY a DESC, status LIMIT {lim}"
            ))
            .or_unsupported(),
        };
        out.push(q);
    }
    out
}

/// `n` statements with JSON_ARRAYAGG(... ORDER BY ... [LIMIT n]) and
/// JSON_ARRAYAGG(DISTINCT ...): integers, decimals, doubles, strings with
/// escapes and unicode, dates, datetimes, NULLs, JSON values; under several
/// `group_concat_max_len` values (a list that would be cut is refused, 1235).
pub fn json_arrayaggs(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::exact("SELECT JSON_ARRAYAGG(name ORDER BY user_id) FROM users WHERE 1 = 0"),
        Q::exact("SELECT JSON_ARRAYAGG(DISTINCT status ORDER BY status DESC) FROM orders"),
        Q::exact("SELECT JSON_ARRAYAGG(DISTINCT status) FROM orders"),
        Q::exact(
            "SELECT JSON_ARRAYAGG(CONCAT(name, '\"\\\\\\t', CHAR(1), '日本') ORDER BY user_id LIMIT 5) \
             FROM users WHERE score > 500",
        ),
        Q::exact(
            "SELECT JSON_ARRAYAGG(JSON_OBJECT('id', user_id, 'n', note) ORDER BY user_id DESC LIMIT 4) \
             FROM users",
        ),
        Q::exact("SELECT JSON_ARRAYAGG(score ORDER BY score) FROM users"),
        Q::exact("SELECT JSON_ARRAYAGG(score) FROM users").or_unsupported(),
        Q::exact("SELECT JSON_ARRAYAGG(born ORDER BY born, user_id LIMIT 9) FROM users"),
        Q::exact("SELECT JSON_OBJECTAGG(name, score) FROM users").or_unsupported(),
        Q::exact(
            "SELECT status, JSON_ARRAYAGG(amount ORDER BY amount DESC, order_id LIMIT 3) AS a \
             FROM orders WHERE amount > ? GROUP BY status ORDER BY status",
        )
        .bin(vec![mysql_async::Value::Int(100)]),
    ];
    let lens = [4u64, 64, 1024, 1_048_576, 1_048_576];
    let mut len = 1_048_576;
    for k in 0..n {
        if k % 8 == 0 {
            len = lens[g.rng.below(lens.len() as u64) as usize];
            out.push(Q::exact(format!(
                "SET SESSION group_concat_max_len = {len}"
            )));
        }
        let x = g.rng.range(-1000, 1000);
        let d = dir(g);
        let lim = g.rng.range(1, 20);
        let inner = if g.rng.chance(50) {
            format!(" LIMIT {}", g.rng.range(1, 6))
        } else {
            String::new()
        };
        let q = match g.rng.below(10) {
            0 => Q::exact(format!(
                "SELECT status, JSON_ARRAYAGG(user_id ORDER BY user_id {d}, order_id{inner}) FROM orders \
                 WHERE amount > {x} GROUP BY status ORDER BY status"
            )),
            1 => Q::exact(format!(
                "SELECT LOWER(city) AS c, JSON_ARRAYAGG(name ORDER BY name {d}, user_id{inner}) AS j, COUNT(*) \
                 FROM users WHERE score > {x} GROUP BY c ORDER BY c {d} LIMIT {lim}"
            )),
            2 => Q::exact(format!(
                "SELECT JSON_ARRAYAGG(DISTINCT status ORDER BY status {d}{inner}) FROM orders WHERE amount < {x}"
            )),
            3 => Q::any(format!(
                "SELECT YEAR(born) AS y, JSON_ARRAYAGG(DISTINCT score ORDER BY score), MAX(score) \
                 FROM users WHERE score > {x} GROUP BY y"
            )),
            4 => Q::exact(format!(
                "SELECT JSON_ARRAYAGG(balance ORDER BY balance {d}, user_id{inner}), \
                 SUM(balance) FROM users WHERE score BETWEEN {x} AND {}",
                x + 200
            )),
            5 => Q::exact(format!(
                "SELECT JSON_ARRAYAGG(note ORDER BY user_id{inner}) FROM users WHERE score > {x}"
            )),
            6 => Q::exact(format!(
                "SELECT YEAR(born) AS y, JSON_ARRAYAGG(created ORDER BY created {d}, user_id{inner}), \
                 MIN(born) FROM users WHERE score < {x} GROUP BY y ORDER BY y {d}"
            )),
            7 => Q::any(format!(
                "SELECT status, JSON_ARRAYAGG(CAST(amount AS DOUBLE) / 7 ORDER BY order_id {d}, user_id{inner}), \
                 AVG(amount) FROM orders WHERE user_id > {x} GROUP BY status HAVING COUNT(*) > 2"
            )),
            _ => Q::exact(format!(
                "SELECT JSON_ARRAYAGG(city ORDER BY city {d}, user_id{inner}) FROM users \
                 WHERE score < {x} AND city IS NULL OR user_id < {}",
                g.rng.range(-50, 50)
            )),
        };
        // Below the default limit a list may be cut: then refused.
        out.push(if len < 1_048_576 {
            q.or_unsupported()
        } else {
            q
        });
    }
    out.push(Q::exact("SET SESSION group_concat_max_len = DEFAULT"));
    out
}

/// `n` statements with `GROUP BY ... WITH ROLLUP` across sets: one to three
/// keys (columns and expressions, NULL groups), COUNT/SUM/MIN/MAX/AVG, the
/// STD/VARIANCE family, BIT_*, expressions over aggregates, HAVING (on rollup
/// rows too), LIMIT, empty inputs, the binary protocol, and what MariaDB or the
/// gateway refuses (ORDER BY with ROLLUP: 1221 on both).
pub fn rollups(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = vec![
        Q::folded("SELECT city, COUNT(*), SUM(score), MIN(balance), MAX(born), AVG(score) FROM users GROUP BY city WITH ROLLUP"),
        Q::exact("SELECT status, COUNT(*) FROM orders WHERE 1 = 0 GROUP BY status WITH ROLLUP"),
        Q::exact("SELECT city, COUNT(*) FROM users GROUP BY city WITH ROLLUP ORDER BY city"),
        Q::exact("SELECT city, COUNT(DISTINCT score) FROM users GROUP BY city WITH ROLLUP").or_unsupported(),
        Q::exact("SELECT city, name, COUNT(*) FROM users GROUP BY city WITH ROLLUP").or_unsupported(),
        Q::exact("SELECT status, GROUP_CONCAT(order_id) FROM orders GROUP BY status WITH ROLLUP").or_unsupported(),
        Q::exact(
            "SELECT status, user_id % 3 AS m, COUNT(*), SUM(amount), AVG(amount) FROM orders \
             GROUP BY status, m WITH ROLLUP",
        ),
        Q::exact(
            "SELECT status, STD(amount), VAR_SAMP(amount), BIT_OR(order_id) FROM orders \
             GROUP BY status WITH ROLLUP",
        ),
        Q::folded("SELECT city, SUM(score) / COUNT(*) AS r, MAX(score) - MIN(score) FROM users GROUP BY city WITH ROLLUP"),
        Q::exact("SELECT SUM(amount), COUNT(*) FROM orders GROUP BY status WITH ROLLUP"),
        Q::exact("SELECT status, COUNT(*) FROM orders GROUP BY status DESC"),
        Q::exact("SELECT status, COUNT(*), SUM(amount) FROM orders GROUP BY status DESC ORDER BY status"),
        Q::exact("SELECT status, user_id % 2 AS p, COUNT(*) FROM orders GROUP BY status DESC, p LIMIT 5"),
        Q::folded("SELECT city, COUNT(*) FROM users GROUP BY city DESC WITH ROLLUP LIMIT 4"),
        Q::exact("SELECT status, COUNT(*) FROM orders GROUP BY status DESC WITH ROLLUP"),
        Q::exact(
            "SELECT status, COUNT(*), SUM(amount) FROM orders WHERE amount > ? \
             GROUP BY status WITH ROLLUP",
        )
        .bin(vec![mysql_async::Value::Bytes(b"10.5".to_vec())]),
    ];
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let lim = g.rng.range(1, 12);
        let (f, b) = (stat(g), bit(g));
        let q = match g.rng.below(7) {
            0 => Q::folded(format!(
                "SELECT city, COUNT(*), SUM(balance), AVG(balance) FROM users WHERE score > {x} \
                 GROUP BY city WITH ROLLUP"
            )),
            1 => Q::exact(format!(
                "SELECT status, user_id % 2 AS p, order_id % 3 AS q, COUNT(*), SUM(amount), MIN(amount) \
                 FROM orders WHERE order_id > {x} GROUP BY status, p, q WITH ROLLUP"
            )),
            2 => Q::folded(format!(
                "SELECT city, COUNT(*) AS n, SUM(score) FROM users GROUP BY city WITH ROLLUP \
                 HAVING n > {}",
                g.rng.range(0, 6)
            )),
            3 => Q::folded(format!(
                "SELECT YEAR(born) AS y, city, COUNT(*), MAX(score) FROM users \
                 GROUP BY y, city WITH ROLLUP LIMIT {lim}"
            )),
            4 => Q::exact(format!(
                "SELECT status, {f}(amount), {b}(order_id), AVG(amount) FROM orders \
                 WHERE amount > {x} GROUP BY status WITH ROLLUP"
            )),
            5 => Q::folded(format!(
                "SELECT city, SUM(score) AS s FROM users GROUP BY city WITH ROLLUP \
                 HAVING s > {x} OR s IS NULL LIMIT {lim}"
            )),
            _ => Q::exact(format!(
                "SELECT status, COUNT(*), SUM(amount) FROM orders WHERE user_id > {x} \
                 GROUP BY status WITH ROLLUP LIMIT 1, {lim}"
            )),
        };
        out.push(q);
    }
    out
}
