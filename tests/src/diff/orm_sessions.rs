//! What ORM drivers do that the other groups do not: PyMySQL (so Django and
//! SQLAlchemy) turns `autocommit` off at connect, so every statement runs in an
//! implicit transaction, and Django's `bulk_create` on MariaDB writes
//! `INSERT ... RETURNING`. Fresh tables with AUTO_INCREMENT ids (sharded by the id,
//! sharded by another column, broadcast), one session: the gateway's answers must
//! be MariaDB's; a RETURNING write over several sets may be refused (1235), never
//! answered without its rows.

use super::Q;

/// `(table, DDL for the gateway, DDL for the reference)`.
pub fn tables() -> Vec<(&'static str, String, String)> {
    let t = |name: &'static str, body: &str, option: &str| {
        let ddl = format!("CREATE TABLE {name} {body}");
        (name, format!("{ddl}{option}"), ddl)
    };
    vec![
        t(
            "orm_bykey",
            "(id INT AUTO_INCREMENT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL)",
            " shardkey=id",
        ),
        t(
            "orm_byk",
            "(id BIGINT AUTO_INCREMENT, k INT NOT NULL, v VARCHAR(20), PRIMARY KEY (id, k))",
            " shardkey=k",
        ),
        t(
            "orm_bcast",
            "(id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
            " shardkey=noshardkey_allset",
        ),
    ]
}

/// Statements under `autocommit = 0`: commits, a rollback, reads between, ids.
pub fn autocommit_off() -> Vec<Q> {
    let mut out = vec![
        Q::any("SET autocommit = 0"),
        Q::exact("SELECT @@autocommit"),
        // A SELECT using no table does not start the transaction (a pool's
        // `SELECT 1` check); one reading a table does, and COMMIT ends it.
        Q::exact("SELECT @@in_transaction"),
        Q::exact("SELECT 1"),
        Q::exact("SELECT @@in_transaction"),
        Q::exact("SELECT COUNT(*) > 0 FROM orm_bcast WHERE 1 = 0"),
        Q::exact("SELECT @@in_transaction"),
        Q::any("COMMIT"),
        Q::exact("SELECT @@in_transaction"),
    ];
    for (t, cols) in [("orm_bykey", "v"), ("orm_byk", "k, v"), ("orm_bcast", "v")] {
        let row = |i: usize| {
            if cols == "v" {
                format!("('{t}{i}')")
            } else {
                format!("({i}, '{t}{i}')")
            }
        };
        out.push(Q::any(format!(
            "INSERT INTO {t} ({cols}) VALUES {}",
            row(1)
        )));
        out.push(Q::exact("SELECT LAST_INSERT_ID()"));
        out.push(Q::any("COMMIT"));
        out.push(Q::any(format!(
            "INSERT INTO {t} ({cols}) VALUES {}",
            row(2)
        )));
        out.push(Q::any("COMMIT"));
        out.push(Q::exact("SELECT 'no table'"));
        let many: Vec<String> = (3..11).map(row).collect();
        out.push(Q::any(format!(
            "INSERT INTO {t} ({cols}) VALUES {}",
            many.join(", ")
        )));
        out.push(Q::exact("SELECT LAST_INSERT_ID()"));
        out.push(Q::exact(format!("SELECT COUNT(*) FROM {t}")));
        out.push(Q::any("COMMIT"));
        out.push(Q::exact(format!("SELECT id, v FROM {t} ORDER BY id")));
        out.push(Q::any(format!(
            "UPDATE {t} SET v = CONCAT(v, '!') WHERE id > 4"
        )));
        out.push(Q::any("ROLLBACK"));
        out.push(Q::exact(format!("SELECT id, v FROM {t} ORDER BY id DESC")));
        out.push(Q::any(format!("DELETE FROM {t} WHERE id = 3")));
        out.push(Q::any("COMMIT"));
        out.push(Q::exact(format!("SELECT COUNT(*), MAX(id) FROM {t}")));
    }
    out.push(Q::any("SET autocommit = 1"));
    out
}

/// `... RETURNING` (autocommit on and off, in BEGIN): one set's rows pass through,
/// several sets' may be refused. `spread[i]`: ids on more than one set, for the
/// i-th of the three session modes (each its own, as a refused write leaves its
/// rows out on both sides).
pub fn returning(spread: &[Vec<i64>; 3]) -> Vec<Q> {
    let mut out = Vec::new();
    for (pi, prefix) in ["", "BEGIN", "SET autocommit = 0"].into_iter().enumerate() {
        if !prefix.is_empty() {
            out.push(Q::any(prefix));
        }
        for (t, cols, base) in [
            ("orm_bykey", "id, v", 100),
            ("orm_byk", "id, k, v", 200),
            ("orm_bcast", "id, v", 300),
        ] {
            let row = |i: usize| {
                if cols == "id, v" {
                    format!("({}, 'r{i}')", base + i)
                } else {
                    format!("({}, {i}, 'r{i}')", base + i)
                }
            };
            // One row: one set (or every broadcast copy).
            out.push(
                Q::exact(format!(
                    "INSERT INTO {t} ({cols}) VALUES {} RETURNING id, v",
                    row(prefix.len())
                ))
                .or_unsupported(),
            );
            // Eight rows: both sets (for the sharded tables by the id itself: ids
            // that live on different sets).
            let mut many: Vec<String> = (20..28).map(row).collect();
            if t == "orm_bykey" {
                many = spread[pi]
                    .iter()
                    .map(|id| format!("({id}, 's{id}')"))
                    .collect();
            }
            out.push(
                Q::exact(format!(
                    "INSERT INTO {t} ({cols}) VALUES {} RETURNING id, v",
                    many.join(", ")
                ))
                .or_unsupported(),
            );
            out.push(
                Q::exact(format!(
                    "DELETE FROM {t} WHERE id >= {} RETURNING id",
                    base + 20
                ))
                .or_unsupported(),
            );
            out.push(Q::exact(format!("SELECT id, v FROM {t} ORDER BY id")));
            if t == "orm_bykey" {
                out.push(Q::any(format!("DELETE FROM {t} WHERE id >= 1000")));
            }
        }
        if !prefix.is_empty() {
            out.push(Q::any("COMMIT"));
        }
        out.push(Q::any("SET autocommit = 1"));
    }
    out
}

/// `sql_select_limit` (set by GUIs and some drivers' "max rows"): a SELECT
/// without its own LIMIT gives at most that many rows of the whole answer,
/// subqueries and explicit LIMITs untouched; reads of it and of the gateway's
/// other own variables typed as MariaDB's.
pub fn select_limit() -> Vec<Q> {
    vec![
        Q::exact("SELECT @@wait_timeout, @@session.interactive_timeout"),
        Q::any("SET SESSION sql_select_limit = 3"),
        Q::exact("SELECT @@sql_select_limit, @@session.sql_select_limit"),
        Q::exact("SELECT user_id, name FROM users ORDER BY user_id"),
        Q::exact("SELECT user_id FROM users ORDER BY score DESC, user_id"),
        Q::exact("SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY COUNT(*) DESC, status"),
        Q::exact("SELECT COUNT(*) FROM (SELECT user_id FROM users) x"),
        Q::exact("SELECT user_id FROM users WHERE user_id IN (SELECT user_id FROM orders) ORDER BY user_id"),
        Q::exact("SELECT user_id FROM users UNION SELECT user_id FROM orders ORDER BY 1 DESC"),
        Q::exact("SELECT user_id FROM users ORDER BY user_id LIMIT 5"),
        Q::exact("SELECT user_id FROM users ORDER BY user_id FOR UPDATE"),
        Q::exact("SELECT user_id FROM users ORDER BY user_id")
            .bin(vec![]),
        Q::any("SET sql_select_limit = 0"),
        Q::exact("SELECT user_id FROM users ORDER BY user_id"),
        // SET STATEMENT: for that statement only; MariaDB's 1971 for the timeouts.
        Q::any("SET sql_select_limit = DEFAULT"),
        Q::exact("SET STATEMENT sql_select_limit = 2 FOR SELECT status, COUNT(*) FROM orders GROUP BY status ORDER BY COUNT(*) DESC, status"),
        Q::exact("SELECT COUNT(*) FROM users WHERE user_id IN (SELECT user_id FROM users)"),
        Q::exact("SELECT user_id FROM users ORDER BY user_id LIMIT 4"),
        Q::any("SET STATEMENT wait_timeout = 5 FOR SELECT @@wait_timeout").with_message(),
        Q::any("SET STATEMENT interactive_timeout = 5 FOR SELECT 1").with_message(),
        Q::exact("SELECT @@sql_select_limit"),
        Q::exact("SELECT COUNT(*) FROM (SELECT user_id FROM users ORDER BY user_id) x"),
    ]
}
