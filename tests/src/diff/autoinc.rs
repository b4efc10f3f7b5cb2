//! AUTO_INCREMENT ids compared with a plain MariaDB: fresh tables of every kind
//! (sharded by another column, sharded by the id itself, broadcast, single), one
//! gateway, one session — so the gateway's ids must be MariaDB's own: from 1,
//! consecutive in a multi-row INSERT, above an explicit id, one used up by an
//! `ON DUPLICATE KEY UPDATE` that updates, in the order of an INSERT ... SELECT's
//! rows; `LAST_INSERT_ID()` (value and column
//! definition) after each statement, text and binary protocol.

use mysql_async::Value;

use super::Q;

/// `(table, DDL for the gateway, DDL for the reference)`.
pub fn tables() -> Vec<(&'static str, String, String)> {
    let t = |name: &'static str, body: &str, option: &str| {
        let ddl = format!("CREATE TABLE {name} {body}");
        (name, format!("{ddl}{option}"), ddl)
    };
    vec![
        t(
            "ai_sharded",
            "(id BIGINT AUTO_INCREMENT, k INT NOT NULL, v VARCHAR(10), PRIMARY KEY (id, k))",
            " shardkey=k",
        ),
        t(
            "ai_bykey",
            "(id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT, v VARCHAR(10))",
            " shardkey=id",
        ),
        t(
            "ai_bcast",
            "(id INT AUTO_INCREMENT PRIMARY KEY, k INT, v VARCHAR(10), UNIQUE KEY (v))",
            " shardkey=noshardkey_allset",
        ),
        t(
            "ai_single",
            "(id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, k INT, v VARCHAR(10), UNIQUE KEY (v))",
            "",
        ),
    ]
}

/// The statements, each write followed by `SELECT LAST_INSERT_ID()`.
pub fn statements() -> Vec<Q> {
    let mut out = Vec::new();
    let last = || Q::exact("SELECT LAST_INSERT_ID()");
    for (t, _, _) in tables() {
        let unique = t == "ai_bcast" || t == "ai_single";
        let w = |out: &mut Vec<Q>, q: Q| {
            out.push(q);
            out.push(last());
        };
        w(
            &mut out,
            Q::any(format!("INSERT INTO {t} (k, v) VALUES (1, 'a')")),
        );
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (k, v) VALUES (2, 'b'), (3, 'c'), (4, 'd')"
            )),
        );
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (id, k, v) VALUES (NULL, 5, 'e'), (0, 6, 'f')"
            )),
        );
        w(
            &mut out,
            Q::any(format!("INSERT INTO {t} SET k = 7, v = 'g'")),
        );
        w(
            &mut out,
            Q::any(format!("INSERT INTO {t} (id, k, v) VALUES (100, 8, 'h')")),
        );
        w(
            &mut out,
            Q::any(format!("INSERT INTO {t} (k, v) VALUES (9, 'i')")),
        );
        w(
            &mut out,
            Q::any(format!("INSERT INTO {t} (k, v) VALUES (?, ?)"))
                .bin(vec![Value::Int(10), Value::Bytes(b"j".to_vec())]),
        );
        if unique {
            // Updates the row with v = 'b': LAST_INSERT_ID() stays, an id is used.
            w(
                &mut out,
                Q::any(format!(
                    "INSERT INTO {t} (k, v) VALUES (11, 'b') ON DUPLICATE KEY UPDATE k = 11"
                )),
            );
            w(
                &mut out,
                Q::any(format!(
                    "INSERT INTO {t} (k, v) VALUES (12, 'l') ON DUPLICATE KEY UPDATE k = 12"
                )),
            );
        }
        if unique {
            // The idiom for the id of the row met (LAST_INSERT_ID(expr)), and
            // INSERT IGNORE of a duplicate (nothing inserted) and of a new row.
            w(
                &mut out,
                Q::any(format!(
                    "INSERT INTO {t} (k, v) VALUES (14, 'c') ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(id)"
                )),
            );
            w(
                &mut out,
                Q::any(format!("INSERT IGNORE INTO {t} (k, v) VALUES (15, 'd')")),
            );
            w(
                &mut out,
                Q::any(format!("INSERT IGNORE INTO {t} (k, v) VALUES (16, 'n')")),
            );
        }
        // Rows that need ids around an explicit one above the counter: MariaDB
        // numbers them in row order, moving past the explicit id.
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (id, k, v) VALUES (NULL, 20, 'p'), (300, 21, 'q'), (0, 22, 'r')"
            )),
        );
        // INSERT ... SELECT (the gateway reads the rows, then numbers them as
        // VALUES): ids in the SELECT's order; one row; none (ids unchanged).
        // Three rows: InnoDB reserves ids for an INSERT ... SELECT in batches
        // of 1, 2, 4, ... and loses the rest of the last batch; the gateway
        // leaves no such gap (README), so only 1 or 3 rows give equal ids.
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (k, v) SELECT k + 100, CONCAT(v, 'x') FROM {t} WHERE k IN (1, 3, 4) ORDER BY k DESC"
            )),
        );
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (k, v) SELECT 200, 'one' FROM {t} WHERE k = 1"
            )),
        );
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (k, v) SELECT k, v FROM {t} WHERE k < 0"
            )),
        );
        out.push(Q::any("SELECT LAST_INSERT_ID(42)"));
        out.push(last());
        // DO sets it too (before: the value stayed).
        out.push(Q::any("DO LAST_INSERT_ID(4242)"));
        out.push(last());
        out.push(Q::any(format!("SELECT id, k, v FROM {t}")));
        w(
            &mut out,
            Q::any(format!("INSERT INTO {t} (k, v) VALUES (13, 'm')")),
        );
        out.push(Q::exact(
            "SELECT LAST_INSERT_ID() AS x, LAST_INSERT_ID() + 1",
        ));
        // `SET LAST_INSERT_ID` / `@@identity` set the session's value; `SET
        // insert_id` gives the next INSERT's generated ids (as mysqlbinlog's
        // output replays them), once.
        out.extend([
            Q::any("SET LAST_INSERT_ID = 77"),
            last(),
            Q::exact("SELECT @@last_insert_id, @@identity"),
            // Named by the client's text, the operand of a word operator last.
            Q::exact(
                "SELECT LAST_INSERT_ID() LIKE '7%', LAST_INSERT_ID() REGEXP '^7', LAST_INSERT_ID() BETWEEN 1 AND 100",
            ),
            Q::any("SET @@identity = 78"),
            last(),
            Q::any("SET insert_id = 5000"),
            Q::exact("SELECT @@insert_id"),
        ]);
        w(
            &mut out,
            Q::any(format!(
                "INSERT INTO {t} (k, v) VALUES (20, 'x'), (21, 'y')"
            )),
        );
        out.push(Q::exact("SELECT @@insert_id"));
        out.push(Q::any(format!("SELECT id, k, v FROM {t} WHERE id >= 5000")));
    }

    out
}

/// The session's `auto_increment_increment` / `auto_increment_offset` on fresh
/// tables sharded by the id and broadcast: each id is the offset modulo the
/// increment, as MariaDB's (before: consecutive). Only the first stepped INSERT
/// of each table is compared by id: later ones differ by what MariaDB reserves
/// ahead (its gaps, see docs/contracts.md).
pub fn stepped() -> (Vec<(String, String)>, Vec<Q>) {
    let mut ddl = Vec::new();
    let mut out = Vec::new();
    for (name, option) in [
        ("ai_step", " shardkey=id"),
        ("ai_step_bcast", " shardkey=noshardkey_allset"),
    ] {
        let body = format!("CREATE TABLE {name} (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)");
        ddl.push((format!("{body}{option}"), body));
        out.extend([
            Q::any(format!("INSERT INTO {name} (v) VALUES (1), (2), (3)")),
            Q::any("SET SESSION auto_increment_increment = 5, auto_increment_offset = 4"),
            Q::any(format!("INSERT INTO {name} (v) VALUES (4), (5), (6)")),
            Q::exact("SELECT LAST_INSERT_ID()"),
            Q::any(format!("SELECT id, v FROM {name}")),
            Q::any("SET SESSION auto_increment_increment = 1, auto_increment_offset = 1"),
        ]);
    }
    (ddl, out)
}
