//! Generated reads of the shapes ORMs write (Django's compiler, SQLAlchemy's):
//! qualified column names with aliases, `ORDER BY ... LIMIT 21` (a queryset's
//! repr), `SELECT (1) AS a ... LIMIT 1` (`exists()`), `EXISTS (SELECT 1 ... LIMIT 1)`
//! and `IN (SELECT ...)` filters, correlated scalar subqueries of co-located rows,
//! CASE / COALESCE in the select list, WHERE and ORDER BY, conditional
//! aggregation (`SUM(CASE WHEN ... END)`), `EXTRACT` / `DATE()` groupings,
//! NULLs first or last (`x IS NULL, x`), DISTINCT with ORDER BY, LIKE under the
//! table's case-insensitive collation, window functions. Every ORDER BY ends with
//! a unique key, so the order is defined. Shapes the gateway does not run yet may
//! be refused (1235); none may answer differently.

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

/// `n` statements over the sharded `users` / `orders` (co-located by `user_id`).
pub fn orm_reads(g: &mut Gen, n: usize) -> Vec<Q> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let x = g.rng.range(-1000, 1000);
        let lim = g.rng.range(1, 25);
        let off = g.rng.range(0, 30);
        let d = dir(g);
        let city = quote(g.rng.pick(&super::data::CITIES).0);
        let status = quote(g.rng.pick::<&str>(&super::data::STATUSES));
        let q = match g.rng.below(24) {
            0 => Q::exact(format!(
                "SELECT `users`.`user_id`, `users`.`name`, `users`.`score` FROM `users` \
                 WHERE `users`.`score` > {x} ORDER BY `users`.`name` {d}, `users`.`user_id` ASC LIMIT 21"
            )),
            1 => Q::exact(format!(
                "SELECT COUNT(*) AS `__count` FROM `users` WHERE `users`.`city` = {city}"
            )),
            2 => Q::exact(format!(
                "SELECT (1) AS `a` FROM `users` WHERE `users`.`score` > {x} LIMIT 1"
            )),
            3 => Q::any(format!(
                "SELECT `users`.`user_id`, `users`.`name` FROM `users` WHERE EXISTS(SELECT 1 AS `a` \
                 FROM `orders` U0 WHERE (U0.`user_id` = (`users`.`user_id`) AND U0.`status` = {status}) LIMIT 1)"
            )),
            4 => Q::exact(format!(
                "SELECT `users`.`user_id`, (SELECT U0.`amount` FROM `orders` U0 WHERE U0.`user_id` = \
                 (`users`.`user_id`) ORDER BY U0.`order_id` ASC LIMIT 1) AS `first_amount` FROM `users` \
                 ORDER BY `users`.`user_id` {d} LIMIT {lim}"
            )),
            5 => Q::exact(format!(
                "SELECT `users`.`user_id`, CASE WHEN `users`.`score` > {x} THEN 'high' WHEN `users`.`score` \
                 IS NULL THEN NULL ELSE 'low' END AS `band` FROM `users` ORDER BY `band` {d}, `users`.`user_id` \
                 LIMIT {lim} OFFSET {off}"
            )),
            6 => Q::exact(format!(
                "SELECT `users`.`user_id`, COALESCE(`users`.`score`, 0) AS `s` FROM `users` WHERE \
                 COALESCE(`users`.`score`, 0) > {x} ORDER BY COALESCE(`users`.`score`, 0) {d}, `users`.`user_id` LIMIT {lim}"
            )),
            7 => Q::any(format!(
                "SELECT `orders`.`status`, SUM(CASE WHEN `orders`.`amount` > {x} THEN `orders`.`amount` \
                 ELSE NULL END) AS `big`, COUNT(CASE WHEN `orders`.`status` = {status} THEN 1 ELSE NULL END) AS `n` \
                 FROM `orders` GROUP BY `orders`.`status`"
            )),
            8 => Q::exact(format!(
                "SELECT EXTRACT(YEAR FROM `users`.`born`) AS `y`, COUNT(`users`.`user_id`) AS `n` FROM `users` \
                 GROUP BY EXTRACT(YEAR FROM `users`.`born`) ORDER BY `y` {d}"
            )),
            9 => Q::exact(format!(
                "SELECT `users`.`user_id`, `users`.`born` FROM `users` ORDER BY `users`.`born` IS NULL, \
                 `users`.`born` {d}, `users`.`user_id` ASC LIMIT {lim}"
            )),
            10 => Q::exact(format!(
                "SELECT `users`.`user_id`, `users`.`note` FROM `users` ORDER BY `users`.`note` IS NOT NULL, \
                 `users`.`note` {d}, `users`.`user_id` LIMIT {lim}"
            )),
            11 => Q::exact(format!(
                "SELECT DISTINCT `users`.`city` FROM `users` WHERE `users`.`city` IS NOT NULL ORDER BY `users`.`city` {d}"
            )),
            12 => Q::exact(format!(
                "SELECT `users`.`city`, COUNT(`users`.`user_id`) AS `n` FROM `users` GROUP BY `users`.`city` \
                 ORDER BY `n` {d}, `users`.`city` ASC"
            )),
            13 => Q::any(format!(
                "SELECT `users`.`user_id` FROM `users` WHERE `users`.`user_id` IN (SELECT U0.`user_id` FROM \
                 `orders` U0 WHERE U0.`amount` > {x})"
            )),
            14 => Q::any(format!(
                "SELECT `users`.`user_id`, `users`.`name` FROM `users` WHERE `users`.`name` LIKE '%{}%'",
                g.rng.pick(&["a", "O", "é", "E", "日", "ü"])
            )),
            15 => Q::exact(format!(
                "SELECT DATE(`users`.`created`) AS `d`, COUNT(*) AS `n`, MAX(`users`.`balance`) AS `b` FROM `users` \
                 GROUP BY DATE(`users`.`created`) ORDER BY `d` {d} LIMIT {lim}"
            )),
            16 => Q::exact(format!(
                "SELECT `users`.`user_id`, RANK() OVER (ORDER BY `users`.`score` DESC) AS `r` FROM `users` \
                 ORDER BY `r`, `users`.`user_id` LIMIT {lim}"
            )),
            17 => Q::exact(format!(
                "SELECT `orders`.`user_id`, `orders`.`order_id`, ROW_NUMBER() OVER (PARTITION BY `orders`.`user_id` \
                 ORDER BY `orders`.`amount` DESC, `orders`.`order_id`) AS `rn` FROM `orders` ORDER BY `orders`.`user_id`, `rn` LIMIT {lim}"
            )),
            18 => Q::exact(format!(
                "SELECT `users`.`user_id`, `users`.`balance`, `users`.`created` FROM `users` WHERE `users`.`balance` \
                 BETWEEN {} AND {} ORDER BY `users`.`balance` {d}, `users`.`user_id` LIMIT {lim}",
                x.min(0),
                x.max(0) + 500
            )),
            19 => Q::exact(format!(
                "SELECT MAX(`users`.`balance`) AS `m`, MIN(`users`.`born`) AS `b`, AVG(`users`.`balance`) AS `a`, \
                 SUM(`users`.`balance`) AS `s` FROM `users` WHERE `users`.`city` = {city}"
            )),
            20 => Q::exact(format!(
                "SELECT `users`.`city`, SUM(`users`.`score`) AS `t` FROM `users` GROUP BY `users`.`city` \
                 HAVING SUM(`users`.`score`) > {x} ORDER BY `t` {d}, `users`.`city`"
            )),
            21 => Q::exact(format!(
                "SELECT `users`.`user_id`, `users`.`name` FROM `users` WHERE (`users`.`city` = {city} OR \
                 `users`.`score` < {x}) AND NOT (`users`.`note` IS NULL) ORDER BY `users`.`user_id` {d} LIMIT {lim}"
            )),
            22 => Q::exact(format!(
                "SELECT `users`.`user_id`, CAST(`users`.`balance` AS DECIMAL(20, 4)) AS `b4`, \
                 CAST(`users`.`created` AS DATE) AS `day` FROM `users` ORDER BY `b4` {d}, `users`.`user_id` LIMIT {lim}"
            )),
            _ => Q::exact(format!(
                "SELECT `users`.`user_id`, `users`.`name` FROM `users` ORDER BY `users`.`name` COLLATE \
                 utf8mb4_unicode_ci {d}, `users`.`user_id` LIMIT {lim}"
            )),
        };
        out.push(q);
    }
    out
}

/// An outer join across sets (`orders` joined on `order_id`, not its shard key):
/// items and ORDER BY keys over the null-extended table, as Django writes them
/// for `nulls_last` (`x IS NULL, x`) and `Coalesce`. A bare column or an
/// expression that is NULL for NULL columns must match; `IS NULL` / `COALESCE` /
/// `IF` / `CASE` of the null-extended columns may be refused, never answered NULL.
pub fn outer_join_nulls() -> Vec<Q> {
    let from = "FROM `users` LEFT OUTER JOIN `orders` ON (`orders`.`order_id` = `users`.`user_id`)";
    let mut out = vec![
        Q::exact(format!(
            "SELECT `users`.`user_id`, `orders`.`status` {from} ORDER BY `users`.`user_id` LIMIT 60"
        ))
        .or_unsupported(),
        Q::exact(format!(
            "SELECT `users`.`user_id`, UPPER(`orders`.`status`) AS `u` {from} ORDER BY `users`.`user_id` LIMIT 60"
        ))
        .or_unsupported(),
    ];
    for item in [
        "`orders`.`status` IS NULL",
        "COALESCE(`orders`.`status`, 'none')",
        "IF(`orders`.`amount` > 0, 'pos', 'other')",
        "CASE WHEN `orders`.`status` = 'paid' THEN 1 ELSE 0 END",
        "`orders`.`amount` <=> NULL",
    ] {
        out.push(
            Q::exact(format!(
                "SELECT `users`.`user_id`, {item} AS `x` {from} ORDER BY `users`.`user_id` LIMIT 60"
            ))
            .or_unsupported(),
        );
    }
    for key in [
        "UPPER(`orders`.`status`) IS NULL, UPPER(`orders`.`status`) ASC",
        "`orders`.`status` IS NOT NULL, `orders`.`status` DESC",
        "COALESCE(`orders`.`amount`, 0) DESC",
    ] {
        out.push(
            Q::exact(format!(
                "SELECT `users`.`user_id` {from} ORDER BY {key}, `users`.`user_id` LIMIT 60"
            ))
            .or_unsupported(),
        );
    }
    // A constant item of a RIGHT JOIN: from the preserved side.
    out.push(
        Q::exact(
            "SELECT 'k' AS `k`, `orders`.`order_id`, `orders`.`user_id` FROM `users` RIGHT OUTER JOIN `orders` \
             ON (`orders`.`order_id` = `users`.`user_id`) ORDER BY `orders`.`order_id`, `orders`.`user_id` LIMIT 60",
        )
        .or_unsupported(),
    );
    out
}

/// Expressions whose sqlparser span is only their operand (`x IS NULL`, `NOT x`,
/// `-x`, `CAST(x AS ...)`, `EXTRACT(YEAR FROM x)`) in a join across sets: as
/// pushed-down conditions, select items and aggregate arguments (Django's
/// `Min("book__pubdate__year")`). The gateway once sent `x` in their place: a
/// WHERE `x IS NULL` kept every row with a true `x`, `MIN(EXTRACT(YEAR FROM d))`
/// answered a date. Aggregates over the null-extended table of an outer join
/// (`COUNT(x IS NULL)`) must count its rows as MariaDB computes them.
pub fn join_operand_spans() -> Vec<Q> {
    let from = "FROM `orders` INNER JOIN `users` ON (`orders`.`order_id` = `users`.`user_id`)";
    let left = "FROM `orders` LEFT OUTER JOIN `users` ON (`orders`.`order_id` = `users`.`user_id`)";
    let order = "ORDER BY `orders`.`order_id`, `orders`.`user_id` LIMIT 80";
    let mut out = Vec::new();
    for cond in [
        "`users`.`note` IS NULL",
        "`users`.`note` IS NOT NULL",
        "NOT `users`.`score` > 10",
        "-`users`.`score` < -10",
        "NOT (`orders`.`status` IS NULL)",
        "EXTRACT(YEAR FROM `users`.`born`) > 1990",
        "CAST(`orders`.`amount` AS SIGNED) > 50",
        "`orders`.`amount` IS TRUE",
    ] {
        out.push(
            Q::exact(format!(
                "SELECT `orders`.`amount`, `orders`.`status`, `users`.`name` {from} WHERE {cond} {order}"
            ))
            .or_unsupported(),
        );
    }
    for agg in [
        "MIN(EXTRACT(YEAR FROM `users`.`born`))",
        "MAX(EXTRACT(MONTH FROM `users`.`born`))",
        "SUM(CAST(`orders`.`amount` AS SIGNED))",
        "COUNT(`users`.`note` IS NULL)",
        "SUM(COALESCE(`users`.`score`, 1))",
        "COUNT(1)",
    ] {
        for f in [from, left] {
            out.push(Q::exact(format!("SELECT {agg} AS `a` {f}")).or_unsupported());
        }
    }
    // The null-extended table on the left: a constant is read from the right.
    out.push(
        Q::exact(
            "SELECT COUNT(1) AS `a`, COUNT(`orders`.`status`) AS `b` FROM `users` RIGHT OUTER JOIN `orders` \
             ON (`orders`.`order_id` = `users`.`user_id`)",
        )
        .or_unsupported(),
    );
    out.push(
        Q::exact(format!(
            "SELECT EXTRACT(YEAR FROM `users`.`born`) AS `y`, COUNT(*) AS `n` {from} \
             GROUP BY EXTRACT(YEAR FROM `users`.`born`) ORDER BY `y`"
        ))
        .or_unsupported(),
    );
    out
}

/// Set operations the gateway must not send to one set when their tables are
/// sharded: INTERSECT, EXCEPT, and UNION of parenthesized branches with their own
/// ORDER BY / LIMIT (Django's `qs1.order_by(..)[:2].union(qs2...)`). Each once
/// went to the first set only.
pub fn set_operations() -> Vec<Q> {
    let u = "SELECT `users`.`user_id` AS `col1`, `users`.`score` AS `col2` FROM `users`";
    vec![
        Q::exact(format!(
            "({u} ORDER BY `users`.`user_id` ASC LIMIT 2) UNION ({u} ORDER BY `users`.`user_id` DESC LIMIT 2) \
             ORDER BY `col1` DESC LIMIT 4"
        ))
        .or_unsupported(),
        Q::any(format!("({u}) INTERSECT ({u}) LIMIT 1000")).or_unsupported(),
        Q::any(format!("{u} INTERSECT {u} WHERE `users`.`score` > 0")).or_unsupported(),
        Q::any(format!("{u} EXCEPT {u} WHERE `users`.`score` > 0")).or_unsupported(),
        Q::any(format!("({u} LIMIT 3) UNION ALL ({u} LIMIT 3)")).or_unsupported(),
        // EXCEPT / INTERSECT [ALL] across sets: each branch read first, the set
        // operation (and its precedence) MariaDB's own on one set (was refused).
        Q::exact("SELECT city FROM users EXCEPT SELECT name FROM cities ORDER BY city"),
        Q::exact(
            "SELECT user_id FROM orders INTERSECT SELECT user_id FROM users WHERE score > 50 \
             ORDER BY user_id",
        ),
        Q::exact(
            "SELECT status FROM orders EXCEPT ALL SELECT status FROM orders WHERE amount > 100 \
             ORDER BY status",
        ),
        Q::exact(
            "SELECT user_id FROM users UNION SELECT user_id FROM orders EXCEPT \
             SELECT user_id FROM orders WHERE amount > 50 INTERSECT SELECT user_id FROM users \
             ORDER BY user_id",
        ),
        // Django's `filter(~Q(id__in=qs1.union(qs2)))` with ordered branches: once a 1105
        // (the first branch alone was taken for the subquery).
        Q::any(
            "SELECT `users`.`name` FROM `users` WHERE NOT (`users`.`user_id` IN \
             ((SELECT U0.`user_id` FROM `users` U0 WHERE U0.`score` > 50 ORDER BY U0.`score` ASC) UNION \
             (SELECT U0.`user_id` FROM `users` U0 WHERE U0.`score` < 0 ORDER BY U0.`score` ASC)))",
        )
        .or_unsupported(),
    ]
}

/// Two JSON tables sharded by `id`, joined on another column: `(gateway DDL and
/// rows, reference DDL and rows)` run on each side.
pub fn json_tables() -> (Vec<String>, Vec<String>) {
    let ddl = [
        "CREATE TABLE orm_jn (id INT PRIMARY KEY, value JSON, tag VARCHAR(8))",
        "CREATE TABLE orm_jr (id INT PRIMARY KEY, value JSON, jn_id INT, tag VARCHAR(8))",
    ];
    let mut rows = Vec::new();
    let words = ["e", "f", "g", "1", "2"];
    for i in 0..16usize {
        let a = words[i % 5];
        let b = words[(i / 5) % 5];
        rows.push(format!(
            "INSERT INTO orm_jn VALUES ({i}, '{{\"d\": [\"{a}\", {{\"f\": \"{b}\"}}], \"n\": {i}}}', 'n{i}')"
        ));
        rows.push(format!(
            "INSERT INTO orm_jr VALUES ({}, '{{\"d\": [\"{b}\", \"{a}\"], \"n\": \"{}\"}}', {}, 'r{i}')",
            100 + i,
            i % 4,
            (i * 7) % 16
        ));
    }
    // A JSON column against a text column (utf8mb4_bin against the database's
    // utf8mb4_general_ci: MariaDB compares them in utf8mb4_bin, raw, PAD SPACE).
    let docs = [
        "'\"abc\"'",
        "'\"Abc\"'",
        "'1'",
        "'[1]'",
        "'{\"a\":1}'",
        "'null'",
        "'\"abc \"'",
        "NULL",
    ];
    let codes = [
        "'abc'",
        "'\"abc\"'",
        "'\"ABC\"'",
        "'\"Abc\"  '",
        "'1'",
        "'[1]'",
        "'{\"a\": 1}'",
        "'{\"a\":1}'",
        "'null'",
        "NULL",
    ];
    for (i, d) in docs.iter().enumerate() {
        rows.push(format!("INSERT INTO orm_jdoc VALUES ({i}, {d})"));
    }
    for (i, c) in codes.iter().enumerate() {
        rows.push(format!("INSERT INTO orm_jcode VALUES ({}, {c})", 50 + i));
    }
    let ddl = [
        ddl[0],
        ddl[1],
        "CREATE TABLE orm_jdoc (id INT PRIMARY KEY, doc JSON)",
        "CREATE TABLE orm_jcode (id INT PRIMARY KEY, code VARCHAR(32))",
    ];
    let gw = ddl
        .iter()
        .map(|d| format!("{d} shardkey=id"))
        .chain(rows.iter().cloned())
        .collect();
    let rf = ddl.iter().map(|d| d.to_string()).chain(rows).collect();
    (gw, rf)
}

/// A JSON column joined with a text column across sets: as MariaDB compares
/// them (utf8mb4_bin wins over the text column's collation), or refused. The
/// subquery forms once compared in the outer column's collation and found a
/// row too many.
pub fn json_text_keys() -> Vec<Q> {
    vec![
        Q::exact("SELECT d.id, c.id FROM orm_jdoc d JOIN orm_jcode c ON c.code = d.doc ORDER BY d.id, c.id"),
        Q::exact("SELECT d.id, c.id FROM orm_jdoc d JOIN orm_jcode c ON d.doc = c.code ORDER BY d.id, c.id"),
        Q::exact("SELECT d.id, c.id FROM orm_jdoc d JOIN orm_jcode c ON d.doc = c.code WHERE d.id < 5 ORDER BY d.id, c.id /* setwise:lookup */"),
        Q::exact("SELECT d.id, c.id FROM orm_jcode c JOIN orm_jdoc d ON d.doc = c.code WHERE c.id > 52 ORDER BY d.id, c.id /* setwise:lookup */"),
        Q::exact("SELECT d.id, c.id FROM orm_jdoc d JOIN orm_jcode c ON d.doc = c.code ORDER BY d.id, c.id /* setwise:hash */"),
        Q::exact("SELECT d.id, c.id FROM orm_jcode c LEFT JOIN orm_jdoc d ON d.doc = c.code ORDER BY c.id, d.id"),
        Q::exact("SELECT d.id, c.id FROM orm_jdoc d JOIN orm_jcode c ON c.code = JSON_UNQUOTE(d.doc) ORDER BY d.id, c.id").or_unsupported(),
        Q::any("SELECT d.id FROM orm_jdoc d WHERE d.doc IN (SELECT code FROM orm_jcode)"),
        Q::any("SELECT c.id FROM orm_jcode c WHERE c.code IN (SELECT doc FROM orm_jdoc)"),
        Q::any("SELECT c.id FROM orm_jcode c WHERE EXISTS (SELECT 1 FROM orm_jdoc d WHERE d.doc = c.code)"),
    ]
}

/// Join keys of JSON values across sets (Django's `F("json_model__value__d__0")`):
/// MariaDB unquotes the `JSON_EXTRACT(...)` side of `a = b` (the left one when
/// both are), the gateway once compared `"e"` with `e` and lost the row.
pub fn json_keys() -> Vec<Q> {
    let sel = "SELECT `orm_jr`.`tag`, `orm_jn`.`tag` FROM `orm_jr` INNER JOIN `orm_jn` ON";
    let order = "ORDER BY `orm_jr`.`id`, `orm_jn`.`id`";
    let mut out = Vec::new();
    for on in [
        "(`orm_jr`.`jn_id` = `orm_jn`.`id`) WHERE JSON_UNQUOTE(JSON_EXTRACT(`orm_jr`.`value`, '$.\"d\"[1]')) \
         = (JSON_EXTRACT(`orm_jn`.`value`, '$.\"d\"[0]'))",
        "JSON_UNQUOTE(JSON_EXTRACT(`orm_jr`.`value`, '$.d[0]')) = JSON_EXTRACT(`orm_jn`.`value`, '$.d[1].f')",
        "JSON_EXTRACT(`orm_jn`.`value`, '$.d[1].f') = JSON_UNQUOTE(JSON_EXTRACT(`orm_jr`.`value`, '$.d[0]'))",
        "JSON_EXTRACT(`orm_jr`.`value`, '$.d[1]') = JSON_EXTRACT(`orm_jn`.`value`, '$.d[0]')",
        "JSON_EXTRACT(`orm_jr`.`value`, '$.n') = JSON_EXTRACT(`orm_jn`.`value`, '$.n')",
        "JSON_EXTRACT(`orm_jn`.`value`, '$.n') = JSON_EXTRACT(`orm_jr`.`value`, '$.n')",
        "JSON_VALUE(`orm_jr`.`value`, '$.d[0]') = JSON_VALUE(`orm_jn`.`value`, '$.d[0]')",
    ] {
        out.push(Q::exact(format!("{sel} {on} {order}")).or_unsupported());
    }
    out
}
