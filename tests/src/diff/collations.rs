//! Strings whose order depends on the collation, and the merges that compare
//! them, for running the differential under several connection character sets.
//!
//! Table [`TABLE`] holds the same string in columns of different collations
//! (general, unicode, latin1, `_bin`, NO PAD, binary): digits of different
//! lengths ('3' < '33' in every collation, but only if a tail is compared with
//! the right space weight), case, accents, trailing spaces and tabs. Rows
//! 1..=[`PLAIN`] differ only in case and trailing blanks, so where MariaDB keeps
//! any one of several equal strings (DISTINCT, MIN/MAX, UNION, a group's key)
//! the answers are compared folded ([`Order::AnyFolded`]); rows above add
//! accents and ligatures, compared through ORDER BY with a unique tie-break
//! and through counts only.

use mysql_async::Value;

use super::outcome::Order;
use super::Q;

/// The table's name.
pub const TABLE: &str = "cs";

/// `CREATE TABLE` (with `shardkey=id` through the gateway).
pub fn ddl(sharded: bool) -> String {
    format!(
        "CREATE TABLE {TABLE} (id INT PRIMARY KEY, k INT, \
         g VARCHAR(20) COLLATE utf8mb4_general_ci, \
         u VARCHAR(20) COLLATE utf8mb4_unicode_ci, \
         l VARCHAR(20) CHARACTER SET latin1, \
         b VARCHAR(20) COLLATE utf8mb4_bin, \
         n VARCHAR(20) COLLATE utf8mb4_nopad_bin, \
         v VARBINARY(20)) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci{}",
        if sharded { " shardkey=id" } else { "" }
    )
}

/// The string columns, each in its own collation.
pub const COLUMNS: [&str; 6] = ["g", "u", "l", "b", "n", "v"];

/// Rows `1..=PLAIN` differ only in case and trailing blanks.
pub const PLAIN: usize = 24;

/// The strings, row `i + 1` holding `STRINGS[i]` (SQL literal text).
const STRINGS: [&str; 40] = [
    "'28'", "'3'", "'33'", "'38'", "'8'", "'13'", "'3 '", "'a'", "'A'", "'a '", "'A  '", "'a\\t'",
    "'b'", "'B'", "'b\\t'", "'ab'", "'Ab'", "'aB '", "''", "' '", "'\\t'", "'z'", "'Z '",
    "NULL", // PLAIN ends here
    "'á'", "'Á'", "'ä'", "'Ä'", "'ss'", "'ß'", "'é'", "'e'", "'E'", "'è'", "'ö'", "'o'", "'O '",
    "'å'", "'æ'", "'ae'",
];

/// The INSERT loading the table (the same on both sides).
pub fn insert() -> String {
    let rows: Vec<String> = STRINGS
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let id = i + 1;
            format!("({id}, {}, {s}, {s}, {s}, {s}, {s}, {s})", id % 4)
        })
        .collect();
    format!("INSERT INTO {TABLE} VALUES {}", rows.join(", "))
}

/// Connection character sets / collations to run under (`SET NAMES ...`).
pub const NAMES: [&str; 7] = [
    "utf8mb4 COLLATE utf8mb4_general_ci",
    "utf8mb4 COLLATE utf8mb4_unicode_ci",
    "utf8mb4 COLLATE utf8mb4_unicode_520_ci",
    "utf8mb4 COLLATE utf8mb4_bin",
    "utf8mb3",
    "latin1",
    "binary",
];

fn q(sql: String, order: Order) -> Q {
    Q {
        order,
        ..Q::any(sql)
    }
}

/// The merges that compare strings, on column `c`.
pub fn statements(c: &str) -> Vec<Q> {
    let t = TABLE;
    let p = PLAIN;
    let exact = |s: String| q(s, Order::Exact);
    let any = |s: String| q(s, Order::Any);
    let folded = |s: String| q(s, Order::AnyFolded);
    vec![
        // ORDER BY: the k-way merge, with and without LIMIT.
        exact(format!("SELECT id, {c} FROM {t} ORDER BY {c}, id")),
        exact(format!("SELECT id, {c} FROM {t} ORDER BY {c}, id LIMIT 1, 4")),
        exact(format!("SELECT id, {c} FROM {t} ORDER BY {c} DESC, id DESC LIMIT 3, 8")),
        exact(format!("SELECT {c}, id FROM {t} WHERE id <= {p} ORDER BY {c}, id")),
        // GROUP BY / COUNT(DISTINCT) / DISTINCT.
        any(format!("SELECT COUNT(*), MIN(id), MAX(id) FROM {t} GROUP BY {c}")),
        exact(format!("SELECT COUNT(DISTINCT {c}) FROM {t}")),
        any(format!("SELECT k, COUNT(DISTINCT {c}), COUNT(DISTINCT {c}, id) FROM {t} GROUP BY k")),
        folded(format!("SELECT DISTINCT {c} FROM {t} WHERE id <= {p}")),
        // MIN / MAX.
        folded(format!("SELECT MIN({c}), MAX({c}) FROM {t} WHERE id <= {p}")),
        folded(format!(
            "SELECT k, MIN({c}), MAX({c}) FROM {t} WHERE id <= {p} GROUP BY k"
        )),
        // UNION (distinct).
        folded(format!(
            "SELECT {c} FROM {t} WHERE id <= 12 UNION SELECT {c} FROM {t} WHERE id > 12 AND id <= {p}"
        )),
        // HAVING on strings.
        folded(format!(
            "SELECT {c}, COUNT(*) FROM {t} WHERE id <= {p} GROUP BY {c} HAVING {c} > '3'"
        )),
        folded(format!(
            "SELECT k, MAX({c}) AS m FROM {t} WHERE id <= {p} GROUP BY k HAVING m < 'b'"
        )),
        folded(format!(
            "SELECT k, MIN({c}) AS a, MAX({c}) AS b FROM {t} WHERE id <= {p} GROUP BY k HAVING a < b OR b = 'z'"
        )),
        // Two columns of different collations: MariaDB's answer or 1235.
        folded(format!(
            "SELECT k, MIN({c}) AS a, MAX(g) AS b FROM {t} WHERE id <= {p} GROUP BY k HAVING a < b"
        ))
        .or_unsupported(),
        // GROUP_CONCAT ordered by the string (MariaDB orders a NULL key
        // there as ''), also DESC; ROLLUP.
        any(format!(
            "SELECT k, GROUP_CONCAT(id ORDER BY {c}, id) FROM {t} GROUP BY k"
        )),
        any(format!(
            "SELECT k, GROUP_CONCAT(id ORDER BY {c} DESC, id DESC) FROM {t} GROUP BY k"
        )),
        exact(format!(
            "SELECT GROUP_CONCAT({c} ORDER BY {c}, id SEPARATOR '|') FROM {t}"
        )),
        folded(format!(
            "SELECT {c}, COUNT(*) FROM {t} WHERE id <= {p} GROUP BY {c} WITH ROLLUP"
        )),
    ]
}

/// Merges on expressions whose collation is not a column's: COLLATE,
/// functions, a literal, BINARY.
pub fn expressions() -> Vec<Q> {
    let t = TABLE;
    let p = PLAIN;
    vec![
        Q::exact(format!(
            "SELECT id, g FROM {t} ORDER BY g COLLATE utf8mb4_unicode_ci, id"
        )),
        Q::exact(format!(
            "SELECT id, u FROM {t} ORDER BY u COLLATE utf8mb4_bin DESC, id"
        )),
        // Not `l COLLATE latin1_bin`: MariaDB sorts an expression in an 8-bit
        // _bin collation NO PAD ('' before '\t') though it compares it PAD SPACE.
        Q::exact(format!(
            "SELECT id, l FROM {t} ORDER BY l COLLATE latin1_general_cs, id"
        )),
        Q::exact(format!(
            "SELECT id, n FROM {t} ORDER BY n COLLATE utf8mb4_general_ci, id"
        )),
        Q::exact(format!("SELECT id FROM {t} ORDER BY CONCAT(l, u), id")),
        Q::exact(format!("SELECT id FROM {t} ORDER BY BINARY g, id")),
        Q::exact(format!(
            "SELECT id FROM {t} ORDER BY UPPER(b), id LIMIT 5, 10"
        )),
        Q::exact(format!(
            "SELECT id, 'x' AS s FROM {t} ORDER BY s, id LIMIT 3"
        )),
        Q::any(format!(
            "SELECT COUNT(*), MIN(id) FROM {t} GROUP BY LEFT(u, 1) COLLATE utf8mb4_bin"
        )),
        // Grouped by another expression than the item sorted on: the groups
        // sort in the item's own collation, not by its bytes.
        Q::exact(format!(
            "SELECT u, HEX(u) AS h, COUNT(*) FROM {t} GROUP BY BINARY u ORDER BY u, h"
        )),
        Q::exact(format!(
            "SELECT l, HEX(l) AS h FROM {t} GROUP BY l COLLATE latin1_bin, HEX(l) ORDER BY 1 DESC, 2 LIMIT 3, 20"
        )),
        Q::exact(format!(
            "SELECT g, HEX(g) AS h FROM {t} WHERE id > ? GROUP BY g COLLATE utf8mb4_nopad_bin ORDER BY g, h"
        ))
        .bin(vec![Value::Int(0)]),
        Q::folded(format!(
            "SELECT MAX(UPPER(l)), MIN(CONCAT(n, '')) FROM {t} WHERE id <= {p}"
        )),
        Q::exact(format!(
            "SELECT COUNT(DISTINCT u COLLATE utf8mb4_bin), COUNT(DISTINCT TRIM(g)) FROM {t}"
        )),
        // A NULL order key of GROUP_CONCAT sorts as 0 / the zero time.
        Q::any(format!(
            "SELECT k, GROUP_CONCAT(id ORDER BY IF(id % 5 = 0, NULL, id - 20), id) FROM {t} GROUP BY k"
        )),
        Q::any(format!(
            "SELECT k, GROUP_CONCAT(id ORDER BY IF(id % 3 = 0, NULL, SEC_TO_TIME(id * 60 - 600)) DESC, id) FROM {t} GROUP BY k"
        )),
        Q::any(format!(
            "SELECT k, GROUP_CONCAT(id ORDER BY IF(id % 3 = 0, NULL, id * 1.5 - 20), id) FROM {t} GROUP BY k"
        )),
    ]
}

/// The same merges in the binary protocol (prepared, with a parameter).
pub fn binary_statements(c: &str) -> Vec<Q> {
    let t = TABLE;
    let p = || vec![Value::Int(PLAIN as i64)];
    vec![
        Q::exact(format!(
            "SELECT id, {c} FROM {t} WHERE id > ? ORDER BY {c}, id LIMIT 1, 4"
        ))
        .bin(vec![Value::Int(0)]),
        // A parameter inside the sort key (its weight repeats it).
        Q::exact(format!(
            "SELECT id FROM {t} ORDER BY CONCAT({c}, ?) DESC, id LIMIT 10"
        ))
        .bin(vec![Value::Bytes(b" x".to_vec())]),
        Q::folded(format!(
            "SELECT k, MAX({c}) AS m FROM {t} WHERE id <= ? GROUP BY k HAVING m > '3'"
        ))
        .bin(p()),
        Q::exact(format!("SELECT id, {c} FROM {t} ORDER BY {c} DESC, id")).bin(vec![]),
        Q::any(format!(
            "SELECT COUNT(*), MIN(id), MAX(id) FROM {t} WHERE id <= ? GROUP BY {c}"
        ))
        .bin(p()),
        Q::folded(format!("SELECT DISTINCT {c} FROM {t} WHERE id <= ?")).bin(p()),
        Q::folded(format!("SELECT MIN({c}), MAX({c}) FROM {t} WHERE id <= ?")).bin(p()),
        Q::folded(format!(
            "SELECT {c} FROM {t} WHERE id <= 12 UNION SELECT {c} FROM {t} WHERE id > 12 AND id <= ?"
        ))
        .bin(p()),
        Q::folded(format!(
            "SELECT {c}, COUNT(*) FROM {t} WHERE id <= ? GROUP BY {c} HAVING {c} > '3'"
        ))
        .bin(p()),
    ]
}
