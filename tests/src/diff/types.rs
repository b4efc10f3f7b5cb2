//! Value fidelity of merged results, type by type: table [`TABLE`] holds one
//! column of each kind a client reads back differently (DECIMAL of several
//! precisions, BIGINT UNSIGNED near 2^64, TINYINT, FLOAT / DOUBLE, DATE,
//! DATETIME(6), TIME(3), TIMESTAMP(2), YEAR, BIT(10), ENUM / SET — ordered by
//! their index, not their text —, BINARY / VARBINARY / BLOB, JSON, CHAR), with
//! seeded rows spread over both sets. [`statements`] merges every column
//! through ORDER BY / LIMIT / OFFSET, GROUP BY, DISTINCT, MIN / MAX / SUM /
//! AVG / COUNT(DISTINCT), expressions over aggregates, WITH ROLLUP and UNION;
//! [`binary_statements`] the same in the binary protocol (placeholders in
//! WHERE and LIMIT). Rows, order and column definitions must be MariaDB's.

use mysql_async::Value;

use super::outcome::Order;
use super::rng::Rng;
use super::Q;

/// The table's name.
pub const TABLE: &str = "typed";

/// `CREATE TABLE` (with `shardkey=id` through the gateway).
pub fn ddl(sharded: bool) -> String {
    format!(
        "CREATE TABLE {TABLE} (id INT PRIMARY KEY, k INT, \
         d1 DECIMAL(5,2), d2 DECIMAL(30,10), d3 DECIMAL(65,0), d4 DECIMAL(10,0) UNSIGNED, \
         u BIGINT UNSIGNED, t TINYINT, f FLOAT, db DOUBLE, dd DOUBLE(16,3), \
         dt DATE, dtm DATETIME(6), tm TIME(3), ts TIMESTAMP(2) NULL DEFAULT NULL, y YEAR, \
         bt BIT(10), e ENUM('zeta','alpha','mid',''), st SET('x','a','m'), \
         bn BINARY(4), vb VARBINARY(16), bl BLOB, j JSON, ch CHAR(5)) \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci{}",
        if sharded { " shardkey=id" } else { "" }
    )
}

/// The value columns (everything but `id` and `k`).
pub const COLUMNS: [&str; 22] = [
    "d1", "d2", "d3", "d4", "u", "t", "f", "db", "dd", "dt", "dtm", "tm", "ts", "y", "bt", "e",
    "st", "bn", "vb", "bl", "j", "ch",
];

/// Columns SUM / AVG are taken of (MariaDB sums dates and strings as numbers
/// too, but those answers are compared elsewhere: here the numeric ones).
pub const NUMERIC: [&str; 10] = ["d1", "d2", "d3", "d4", "u", "t", "f", "db", "dd", "y"];

/// One cell's SQL literal for column `c`, from `rng` (NULL sometimes).
fn cell(rng: &mut Rng, c: &str) -> String {
    if rng.chance(8) {
        return "NULL".into();
    }
    let pick = |rng: &mut Rng, xs: &[&str]| rng.pick(xs).to_string();
    match c {
        "d1" => pick(
            rng,
            &["999.99", "-999.99", "0.00", "0.01", "-0.01", "12.5", "100"],
        ),
        "d2" => format!(
            "{}.{:010}",
            rng.range(-99_999_999_999, 99_999_999_999),
            rng.range(0, 9_999_999_999)
        ),
        "d3" => pick(
            rng,
            &[
                "99999999999999999999999999999999999999999999999999999999999999999",
                "-99999999999999999999999999999999999999999999999999999999999999999",
                "12345678901234567890123456789",
                "0",
                "-1",
                "7",
            ],
        ),
        "d4" => rng.range(0, 9_999_999_999).to_string(),
        "u" => pick(
            rng,
            &[
                "18446744073709551615",
                "18446744073709551614",
                "9223372036854775808",
                "9223372036854775807",
                "0",
                "1",
                "4294967296",
            ],
        ),
        "t" => rng.range(-128, 127).to_string(),
        "dd" => format!(
            "{}.{:03}",
            rng.range(-99_999_999, 99_999_999),
            rng.range(0, 999)
        ),
        "f" => pick(
            rng,
            &["1.5", "-0.25", "3.4e38", "1e-30", "0", "123456.789", "0.1"],
        ),
        "db" => pick(
            rng,
            &[
                // (No huge values of both signs: a sum's rounding would depend
                // on the order MariaDB adds the rows in.)
                "0.1",
                "1e150",
                "2.5e-300",
                "123456789012345680",
                "1e15",
                "1e14",
                "-0.5",
                "0",
                "3.141592653589793",
            ],
        ),
        "dt" => pick(
            rng,
            &[
                "'1000-01-01'",
                "'9999-12-31'",
                "'2024-02-29'",
                "'1970-01-01'",
                "'2000-10-10'",
            ],
        ),
        "dtm" => format!(
            "'{}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}'",
            rng.range(1000, 9999),
            rng.range(1, 12),
            rng.range(1, 28),
            rng.range(0, 23),
            rng.range(0, 59),
            rng.range(0, 59),
            rng.range(0, 999_999)
        ),
        "tm" => pick(
            rng,
            &[
                "'-838:59:59.000'",
                "'838:59:59.000'",
                "'-00:00:01.500'",
                "'00:00:00'",
                "'23:59:59.999'",
                "'100:00:00.001'",
                "'-12:30:00'",
                "'09:05:03.250'",
            ],
        ),
        "ts" => format!(
            "'{}-{:02}-{:02} {:02}:{:02}:{:02}.{:02}'",
            rng.range(1971, 2037),
            rng.range(1, 12),
            rng.range(1, 28),
            rng.range(0, 23),
            rng.range(0, 59),
            rng.range(0, 59),
            rng.range(0, 99)
        ),
        "y" => pick(rng, &["1901", "2155", "0", "1999", "2024", "70"]),
        "bt" => pick(
            rng,
            &[
                "b'1111111111'",
                "b'0'",
                "b'1'",
                "b'100000000'",
                "b'11'",
                "255",
            ],
        ),
        "e" => pick(rng, &["'zeta'", "'alpha'", "'mid'", "''", "'ALPHA'"]),
        "st" => pick(
            rng,
            &["'x'", "'a'", "'m'", "'x,a'", "'a,m'", "''", "'x,a,m'"],
        ),
        "bn" => pick(
            rng,
            &["'ab'", "'AB'", "'ab  '", "X'00'", "X'FF00'", "''", "'zz'"],
        ),
        "vb" => pick(
            rng,
            &[
                "'ab'", "'AB'", "'ab '", "X'00'", "X'FF'", "''", "'b'", "X'0000'",
            ],
        ),
        "bl" => pick(rng, &["'ab'", "'AB'", "'ab '", "X'00FF'", "''", "'é'"]),
        "j" => pick(
            rng,
            &[
                "'{\"a\": 1}'",
                "'[1, 2, 3]'",
                "'\"str\"'",
                "'null'",
                "'{\"b\": [true, false]}'",
                "'2.50'",
            ],
        ),
        "ch" => pick(rng, &["'a'", "'A'", "'a  '", "'é'", "''", "'zz'", "'Ab'"]),
        _ => unreachable!("no column {c}"),
    }
}

/// The INSERTs of `n` seeded rows (ids spread so both sets hold some).
pub fn inserts(seed: u64, n: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let rows: Vec<String> = (0..n)
        .map(|i| {
            let id = i as i64 * 7 + rng.range(0, 6) - 40;
            let k = rng.range(0, 4);
            let cells: Vec<String> = COLUMNS.iter().map(|c| cell(&mut rng, c)).collect();
            format!("({id}, {k}, {})", cells.join(", "))
        })
        .collect();
    rows.chunks(25)
        .map(|part| {
            format!(
                "INSERT INTO {TABLE} (id, k, {}) VALUES {}",
                COLUMNS.join(", "),
                part.join(", ")
            )
        })
        .collect()
}

fn dir(rng: &mut Rng) -> &'static str {
    if rng.chance(50) {
        "ASC"
    } else {
        "DESC"
    }
}

/// What the gateway refuses (1235) rather than answer differently, see
/// `proxy/src/merge/fidelity.rs`: ENUM / SET as keys (MariaDB orders them by
/// index), a BIT in an ordered GROUP_CONCAT, FLOAT in binary rows or under
/// arithmetic or as a subquery's values, DECIMAL(65) sums that overflow. Answers for `ch` (a _ci
/// column) that show any one of several equal strings are compared folded.
fn fit(c: &str, q: Q) -> Q {
    let sql = q.sql.clone();
    let refusable = matches!(c, "e" | "st")
        || (c == "d3" && (sql.contains("SUM(") || sql.contains("AVG(") || sql.contains("STD")))
        || (c == "f"
            && (q.params.is_some() || sql.contains(") - MIN(") || sql.contains("(SELECT")))
        || (matches!(c, "bt" | "e" | "st") && sql.contains("GROUP_CONCAT"));
    let q = if refusable { q.or_unsupported() } else { q };
    let shows_any = ["GROUP BY", "DISTINCT", "UNION", "MIN("]
        .iter()
        .any(|w| sql.contains(w));
    if c == "ch" && shows_any {
        Q {
            order: Order::AnyFolded,
            ..q
        }
    } else {
        q
    }
}

/// Text-protocol merges of every column (plus a few seeded LIMIT / OFFSET).
pub fn statements(rng: &mut Rng) -> Vec<Q> {
    let mut out = Vec::new();
    for c in COLUMNS {
        let at = out.len();
        let d = dir(rng);
        let lim = rng.range(1, 30);
        let off = rng.range(0, 40);
        out.extend([
            Q::exact(format!("SELECT id, {c} FROM {TABLE} ORDER BY {c} {d}, id")),
            Q::exact(format!(
                "SELECT {c}, id FROM {TABLE} ORDER BY {c} {d}, id DESC LIMIT {off}, {lim}"
            )),
            Q::exact(format!("SELECT id FROM {TABLE} ORDER BY {c} {d}, id LIMIT {lim}")),
            Q::exact(format!(
                "SELECT MIN({c}), MAX({c}), COUNT({c}), COUNT(DISTINCT {c}), COUNT(*) FROM {TABLE}"
            )),
            Q::exact(format!(
                "SELECT k, MIN({c}), MAX({c}), COUNT(DISTINCT {c}) FROM {TABLE} GROUP BY k ORDER BY k {d}"
            )),
            Q::exact(format!(
                "SELECT {c}, COUNT(*) AS n, MIN(id) FROM {TABLE} GROUP BY {c} ORDER BY {c} {d}"
            )),
            Q::exact(format!("SELECT DISTINCT {c} FROM {TABLE} ORDER BY {c} {d}")),
            // Unsorted: the sets sort for the merge, the column stays the
            // client's (a BIT came back a BIGINT).
            Q::any(format!("SELECT DISTINCT {c} FROM {TABLE}")),
            Q::any(format!("SELECT DISTINCT k, {c} FROM {TABLE} WHERE id > {off}")),
            Q::exact(format!(
                "SELECT {c}, MIN(id) FROM {TABLE} GROUP BY {c} HAVING COUNT(*) > 1 ORDER BY {c} {d} LIMIT {lim}"
            )),
            Q::exact(format!(
                "SELECT {c} FROM {TABLE} WHERE id < 100 UNION SELECT {c} FROM {TABLE} WHERE id >= 100 ORDER BY 1 {d}"
            )),
            Q::exact(format!(
                "SELECT k, {c}, COUNT(*) FROM {TABLE} GROUP BY k, {c} WITH ROLLUP"
            )),
            Q::exact(format!(
                "SELECT id, {c} FROM {TABLE} ORDER BY {c} IS NULL, {c} {d}, id LIMIT {lim}"
            )),
        ]);
        fit_from(&mut out, at, c);
    }
    for c in NUMERIC {
        let d = dir(rng);
        let at = out.len();
        out.extend([
            Q::exact(format!(
                "SELECT SUM({c}), AVG({c}), SUM(DISTINCT {c}), AVG(DISTINCT {c}) FROM {TABLE}"
            )),
            Q::exact(format!(
                "SELECT k, SUM({c}), AVG({c}), COUNT({c}) FROM {TABLE} GROUP BY k ORDER BY k {d}"
            )),
            Q::exact(format!(
                "SELECT SUM({c}) * 2, AVG({c}) + 1, MAX({c}) - MIN({c}), SUM({c}) / COUNT(*) FROM {TABLE}"
            )),
            Q::exact(format!(
                "SELECT k, SUM({c}) AS s FROM {TABLE} GROUP BY k ORDER BY s {d}, k"
            )),
            Q::exact(format!(
                "SELECT k, SUM({c}), AVG({c}) FROM {TABLE} GROUP BY k WITH ROLLUP"
            )),
            Q::exact(format!(
                "SELECT k, BIT_AND({c}), BIT_OR({c}), BIT_XOR({c}), STDDEV({c}) FROM {TABLE} GROUP BY k ORDER BY k"
            )),
        ]);
        fit_from(&mut out, at, c);
    }
    // GROUP_CONCAT of every type, ordered (the values' text as MariaDB prints it).
    for c in COLUMNS {
        let q = Q::exact(format!(
            "SELECT k, GROUP_CONCAT({c} ORDER BY {c}, id) FROM {TABLE} GROUP BY k ORDER BY k"
        ));
        out.push(fit(c, q));
    }
    // What to write instead of the refused shapes: the same answers.
    out.extend([
        Q::exact(format!(
            "SELECT id, e FROM {TABLE} ORDER BY CAST(e AS CHAR), id"
        )),
        Q::exact(format!("SELECT MIN(e), MAX(e), COUNT(e) FROM {TABLE}")),
        Q::exact(format!(
            "SELECT k, MIN(st), MAX(st), COUNT(st) FROM {TABLE} GROUP BY k ORDER BY k"
        )),
        Q::exact(format!(
            "SELECT DISTINCT CAST(st AS CHAR) AS s FROM {TABLE} ORDER BY s DESC"
        )),
        Q::exact(format!(
            "SELECT e + 0 AS n, COUNT(*) FROM {TABLE} GROUP BY n ORDER BY n"
        )),
        Q::exact(format!(
            "SELECT k, GROUP_CONCAT(bt + 0 ORDER BY bt, id) FROM {TABLE} GROUP BY k ORDER BY k"
        )),
        Q::exact(format!("SELECT SUM(f) * 2, AVG(f) + 1 FROM {TABLE}")),
        Q::exact(format!(
            "SELECT MAX(CAST(f AS DOUBLE)) - MIN(CAST(f AS DOUBLE)) FROM {TABLE}"
        )),
        Q::exact(format!(
            "SELECT SUM(d3) FROM {TABLE} WHERE d3 < 1e60 AND d3 > -1e60"
        )),
    ]);
    out.extend([
        Q::exact(format!(
            "SELECT id, u + 0, u FROM {TABLE} ORDER BY u + 0 DESC, id LIMIT 10"
        )),
        Q::exact(format!("SELECT COUNT(*), SUM(u), SUM(u) + 1 FROM {TABLE}")),
        Q::exact(format!(
            "SELECT id, e + 0, e FROM {TABLE} ORDER BY e + 0, id"
        )),
        Q::exact(format!(
            "SELECT id, st + 0, st FROM {TABLE} ORDER BY st + 0, id"
        )),
        Q::exact(format!(
            "SELECT id, bt + 0, HEX(bt) FROM {TABLE} ORDER BY bt DESC, id"
        )),
        Q::exact(format!(
            "SELECT e, COUNT(*) FROM {TABLE} GROUP BY e ORDER BY e DESC"
        ))
        .or_unsupported(),
        Q::exact(format!(
            "SELECT id FROM {TABLE} ORDER BY id LIMIT 3 OFFSET 1000000"
        )),
        Q::exact(format!(
            "SELECT id, db FROM {TABLE} ORDER BY db * 2 DESC, id LIMIT 12"
        )),
        Q::exact(format!(
            "SELECT id, dtm FROM {TABLE} ORDER BY DATE(dtm), id LIMIT 12"
        )),
    ]);
    out
}

/// Subqueries whose value the gateway computes first and puts into the outer
/// statement (scalar, IN): the value must compare as MariaDB's own would,
/// for every type. Plus sums and averages of temporal columns (MariaDB adds
/// them as numbers), HAVING on typed aggregates and UNION ALL of mixed types.
pub fn subqueries() -> Vec<Q> {
    let mut out = Vec::new();
    for c in COLUMNS {
        let at = out.len();
        out.extend([
            Q::exact(format!(
                "SELECT id, {c} FROM {TABLE} WHERE {c} = (SELECT MAX({c}) FROM {TABLE}) ORDER BY id"
            )),
            Q::exact(format!(
                "SELECT COUNT(*) FROM {TABLE} WHERE {c} > (SELECT MIN({c}) FROM {TABLE})"
            )),
            Q::exact(format!(
                // (`id + 0`: MariaDB's semi-join may drop the key flags of `id`.)
                "SELECT id + 0 AS i FROM {TABLE} WHERE {c} IN (SELECT {c} FROM {TABLE} WHERE id < 0) ORDER BY i"
            )),
        ]);
        if matches!(c, "bl" | "j") {
            // MariaDB materializes these IN lists in a temporary table, which
            // renames the outer column definitions (org_name, flags): rows agree.
            out.pop();
        }
        fit_from(&mut out, at, c);
    }
    for c in NUMERIC {
        out.push(Q::exact(format!(
            "SELECT COUNT(*) FROM {TABLE} WHERE {c} < (SELECT AVG({c}) FROM {TABLE} WHERE {c} BETWEEN -1e20 AND 1e20)"
        )));
    }
    let q = |s: String| fit("", Q::exact(s).or_unsupported());
    for s in [
        "SELECT SUM(dt), AVG(dt), SUM(dtm), AVG(dtm), SUM(tm), AVG(tm), AVG(y), SUM(ts) FROM typed",
        "SELECT k, SUM(dt), AVG(tm), MIN(tm), MAX(tm) FROM typed GROUP BY k ORDER BY k",
        "SELECT k, SUM(d1) AS s FROM typed GROUP BY k HAVING s > 10.5 ORDER BY k",
        "SELECT k, MAX(dt) AS m FROM typed GROUP BY k HAVING m > '2000-01-01' ORDER BY k",
        "SELECT k, MIN(tm) AS m FROM typed GROUP BY k HAVING m < '-00:00:00.5' ORDER BY k",
        "SELECT k, MAX(u) AS m FROM typed GROUP BY k HAVING m > 9223372036854775807 ORDER BY k",
        "SELECT k, AVG(d2) AS a FROM typed GROUP BY k HAVING a > 0 ORDER BY a DESC",
        "SELECT id, d1 AS v FROM typed WHERE id < 50 UNION ALL SELECT id, u FROM typed WHERE id >= 50 ORDER BY v, id",
        "SELECT id, dt AS v FROM typed WHERE id < 50 UNION ALL SELECT id, dtm FROM typed WHERE id >= 50 ORDER BY v DESC, id LIMIT 30",
        "SELECT db AS v FROM typed UNION SELECT d2 FROM typed ORDER BY v LIMIT 25",
        "SELECT YEAR(dt) AS yy, COUNT(*), MAX(dtm) FROM typed GROUP BY yy ORDER BY yy DESC",
        "SELECT DATE(dtm) AS d, MIN(tm) FROM typed GROUP BY d ORDER BY d LIMIT 10",
        "SELECT COUNT(DISTINCT d1, dt), COUNT(DISTINCT u), COUNT(DISTINCT db) FROM typed",
    ] {
        out.push(q(s.to_string()));
    }
    out
}

/// FLOAT / DOUBLE(16,3) read through one set in binary rows (ids around
/// the seeded ones: some exist on either set).
pub fn point_floats() -> super::limits::Execs {
    super::limits::Execs {
        sql: "SELECT id, f, db, dd FROM typed WHERE id = ?",
        order: Order::Exact,
        params: (-40..40).map(|i| vec![Value::Int(i)]).collect(),
    }
}

/// Statements reading TIMESTAMP(2) values, to run under a session time zone
/// other than the servers' (the sets convert them to the session's zone).
pub fn timestamps() -> Vec<Q> {
    vec![
        Q::exact(format!(
            "SELECT id, ts FROM {TABLE} ORDER BY ts, id LIMIT 20"
        )),
        Q::exact(format!(
            "SELECT MIN(ts), MAX(ts), COUNT(DISTINCT ts) FROM {TABLE}"
        )),
        Q::exact(format!(
            "SELECT k, MAX(ts), UNIX_TIMESTAMP(MIN(ts)) FROM {TABLE} GROUP BY k ORDER BY k"
        ))
        .or_unsupported(),
        Q::exact(format!(
            "SELECT id, ts FROM {TABLE} WHERE ts > ? ORDER BY ts DESC, id LIMIT ?"
        ))
        .bin(vec![
            Value::Bytes(b"2000-01-01 00:00:00".to_vec()),
            Value::Int(15),
        ]),
    ]
}

/// Decimal quotients over merged groups, to run under several
/// `div_precision_increment`s: MariaDB cuts a quotient after whole 9-digit
/// words of digits (under 0, `AVG` of integers is cut, not rounded) and an
/// average inside an expression is the unrounded one (`AVG(t) * 1000`).
pub fn quotients() -> Vec<Q> {
    let mut out = Vec::new();
    for s in [
        "SELECT k, AVG(t), AVG(d1), AVG(y), AVG(d4), AVG(d2) FROM typed GROUP BY k ORDER BY k",
        "SELECT AVG(t), AVG(d1), AVG(u), AVG(y), AVG(bt), AVG(d2) FROM typed",
        "SELECT k, AVG(t) * 1000, ROUND(AVG(d1), 6), SUM(t) / COUNT(*) * 1000, SUM(t) / 7 / 3 * 1000 FROM typed GROUP BY k ORDER BY k",
        "SELECT AVG(d2) * 1000000, AVG(y) * 1000, TRUNCATE(AVG(d4), 7), SUM(d1) / 3 FROM typed",
        "SELECT k, AVG(t) AS a FROM typed GROUP BY k ORDER BY a DESC, k",
        "SELECT k, AVG(t) FROM typed GROUP BY k WITH ROLLUP",
    ] {
        out.push(Q::exact(s));
    }
    out.push(
        Q::exact("SELECT k, AVG(t), AVG(t) * 1000, SUM(d1) / COUNT(d1) FROM typed WHERE id > ? GROUP BY k ORDER BY k")
            .bin(vec![Value::Int(-20)]),
    );
    out
}

/// Applies [`fit`] to `out[at..]`.
fn fit_from(out: &mut [Q], at: usize, c: &str) {
    for q in &mut out[at..] {
        *q = fit(c, q.clone());
    }
}

/// Binary-protocol merges: placeholders in WHERE and in LIMIT.
pub fn binary_statements(rng: &mut Rng) -> Vec<Q> {
    let mut out = Vec::new();
    for c in COLUMNS {
        let at = out.len();
        let lim = rng.range(1, 30);
        let d = dir(rng);
        out.extend([
            Q::exact(format!(
                "SELECT id, {c} FROM {TABLE} WHERE id > ? ORDER BY {c} {d}, id LIMIT ?"
            ))
            .bin(vec![Value::Int(rng.range(-50, 100)), Value::Int(lim)]),
            Q::exact(format!(
                "SELECT k, MIN({c}), MAX({c}), COUNT(DISTINCT {c}) FROM {TABLE} WHERE id > ? GROUP BY k ORDER BY k"
            ))
            .bin(vec![Value::Int(rng.range(-50, 100))]),
            Q::exact(format!(
                "SELECT DISTINCT {c} FROM {TABLE} ORDER BY {c} {d} LIMIT ?"
            ))
            .bin(vec![Value::Int(lim)]),
            Q {
                order: Order::Exact,
                ..Q::exact(format!(
                    "SELECT k, {c}, COUNT(*) FROM {TABLE} GROUP BY k, {c} WITH ROLLUP"
                ))
                .bin(vec![])
            },
        ]);
        fit_from(&mut out, at, c);
    }
    for c in NUMERIC {
        let at = out.len();
        out.extend([
            Q::exact(format!(
                "SELECT SUM({c}), AVG({c}), MIN({c}), MAX({c}) FROM {TABLE} WHERE id > ?"
            ))
            .bin(vec![Value::Int(rng.range(-50, 100))]),
            Q::exact(format!(
                "SELECT k, SUM({c}) AS s, AVG({c}) FROM {TABLE} GROUP BY k ORDER BY s DESC, k LIMIT ?"
            ))
            .bin(vec![Value::Int(rng.range(1, 4))]),
        ]);
        fit_from(&mut out, at, c);
    }
    out.extend([
        // DOUBLEs with fixed decimals (text rounds them there, binary rows
        // carry the whole value): read from the sets and computed by the
        // gateway, small enough that the rounding shows.
        Q::exact(format!(
            "SELECT id, dd / 1000000000000 AS q, dd * 1.5 FROM {TABLE} WHERE id > ? ORDER BY q, id"
        ))
        .bin(vec![Value::Int(-50)]),
        Q::exact(format!(
            "SELECT k, STD(t), VARIANCE(t), AVG(dd / 1000000000000), SUM(dd / 1000000000000) FROM {TABLE} WHERE id > ? GROUP BY k ORDER BY k"
        ))
        .bin(vec![Value::Int(-50)]),
        // FLOAT in binary rows cast when merged.
        Q::exact(format!(
            "SELECT id, CAST(f AS DOUBLE) AS f FROM {TABLE} WHERE id > ? ORDER BY f, id LIMIT ?"
        ))
        .bin(vec![Value::Int(-10), Value::Int(25)]),
    ]);
    out
}
