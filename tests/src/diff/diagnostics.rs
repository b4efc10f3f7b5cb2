//! The diagnostics area after writes across sets: `SHOW WARNINGS` / `SHOW
//! ERRORS` (with `LIMIT`), `SHOW COUNT(*) ...` and `@@warning_count` /
//! `@@error_count` after an autocommit write (whose branches end before the
//! client reads them) and inside a transaction, compared with one MariaDB.
//!
//! The table `dg` is sharded by `id`; [`Ids`] are keys owned by each set, so a
//! statement's rows are in set order (the order the gateway lists the sets'
//! conditions in) and a `LIMIT` picks the same ones as MariaDB.

use super::Q;

/// The table, without the shard option.
pub const TABLE: &str = "CREATE TABLE dg (id BIGINT PRIMARY KEY, n INT, s VARCHAR(8))";
pub const SHARDING: &str = " shardkey=id";

/// Keys of rows that exist (`a1`, `a2` on set1, `b1`, `b2` on set2) and of
/// rows that do not yet (`new_a` on set1, `new_b` on set2); every set1 key is
/// below every set2 key, so MariaDB's row order (the primary key's) is the
/// gateway's set order.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub a1: i64,
    pub a2: i64,
    pub b1: i64,
    pub b2: i64,
    pub new_a: i64,
    pub new_b: i64,
}

/// The rows every run starts with.
pub fn load(ids: &Ids) -> String {
    format!(
        "INSERT INTO dg VALUES ({}, 1, 'a1'), ({}, 2, 'a2'), ({}, 3, 'b1'), ({}, 4, 'b2')",
        ids.a1, ids.a2, ids.b1, ids.b2
    )
}

/// The reads of a diagnostics area with several conditions.
fn reads() -> Vec<Q> {
    vec![
        Q::any("SHOW WARNINGS"),
        Q::exact("SHOW WARNINGS LIMIT 1"),
        Q::exact("SHOW WARNINGS LIMIT 1, 2"),
        Q::any("SHOW ERRORS"),
        Q::any("SHOW COUNT(*) WARNINGS"),
        Q::any("SHOW COUNT(*) ERRORS"),
        Q::any("SELECT @@warning_count, @@session.error_count"),
        // Read twice: a diagnostics read leaves the area as it is.
        Q::any("SHOW WARNINGS"),
    ]
}

/// Autocommit writes across sets that leave warnings or fail on one set.
pub fn autocommit(ids: &Ids) -> Vec<Q> {
    let Ids {
        a1,
        a2,
        b1,
        b2,
        new_a,
        ..
    } = *ids;
    let mut out = vec![Q::any(format!(
        "INSERT IGNORE INTO dg VALUES ({a1}, 0, 'dup'), ({a2}, 0, 'dup'), ({b1}, 0, 'dup')"
    ))];
    out.extend(reads());
    out.push(Q::any(format!(
        "UPDATE dg SET n = n + CONCAT(id, 'x') WHERE id IN ({a1}, {b1}, {b2})"
    )));
    out.extend(reads());
    // A duplicate key on set2: the write fails (and set1's part is undone).
    out.push(Q::any(format!(
        "INSERT INTO dg VALUES ({new_a}, 0, 'new'), ({b2}, 0, 'dup')"
    )));
    out.extend(reads());
    out.push(Q::any(format!("SELECT id FROM dg WHERE id = {new_a}")));
    // A statement on a table starts a new, empty area.
    out.push(Q::any(format!("SELECT id, n FROM dg WHERE id = {a1}")));
    out.extend(reads());
    out.push(Q::any(format!(
        "INSERT IGNORE INTO dg VALUES ({a1}, 0, 'dup'), ({b1}, 0, 'dup')"
    )));
    // The count inside an expression cannot be written into a clean answer.
    out.push(Q::any("SELECT @@warning_count AS w").or_unsupported());
    // Statements that use no table keep the area unless they raise conditions
    // themselves (before: any statement emptied it).
    out.push(Q::any(format!(
        "INSERT IGNORE INTO dg VALUES ({a1}, 0, 'dup'), ({b1}, 0, 'dup')"
    )));
    out.extend([
        Q::any("SELECT LAST_INSERT_ID()"),
        Q::any("SELECT 1"),
        Q::any("SET @v = 1"),
        Q::any("DO 1"),
    ]);
    out.extend(reads());
    out.push(Q::any(format!(
        "INSERT IGNORE INTO dg VALUES ({a2}, 0, 'dup')"
    )));
    out.push(Q::any("SELECT @@version_comment IS NOT NULL"));
    out.extend(reads());
    out.push(Q::any("SELECT 1 / 0"));
    out.extend(reads());
    out
}

/// The same inside a transaction, where each set's branch still holds the
/// statement's conditions; a later statement on another set leaves none.
pub fn in_transaction(ids: &Ids) -> Vec<Q> {
    let Ids { a1, b1, new_b, .. } = *ids;
    let mut out = vec![
        Q::any("BEGIN"),
        Q::any(format!(
            "INSERT IGNORE INTO dg VALUES ({a1}, 0, 'dup'), ({b1}, 0, 'dup')"
        )),
    ];
    out.extend(reads());
    out.push(Q::any(format!(
        "UPDATE dg SET n = n + CONCAT(id, 'y') WHERE id IN ({a1}, {b1})"
    )));
    out.extend(reads());
    // Warnings on set1 only, then a clean write on set2: nothing to show.
    out.push(Q::any(format!(
        "INSERT IGNORE INTO dg VALUES ({a1}, 0, 'dup')"
    )));
    out.push(Q::any(format!("INSERT INTO dg VALUES ({new_b}, 0, 'new')")));
    out.extend(reads());
    out.push(Q::any("ROLLBACK"));
    out.push(Q::any("SELECT * FROM dg"));
    out
}
