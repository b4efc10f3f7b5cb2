//! `UPDATE`/`DELETE ... [ORDER BY ...] LIMIT n` over rows of several sets: the
//! gateway chooses the rows as one MariaDB would and writes exactly those in one
//! distributed transaction. Compared: affected rows (and UPDATE's matched /
//! changed counts), then every table's contents. Orders are total (the key ends
//! them) except where the statement changes nothing, since MariaDB's choice among
//! ties is unspecified.

use mysql_async::Value;

use super::Q;

fn int(v: i64) -> Value {
    Value::Int(v)
}

/// A table with a string primary key (not the shard key): rows are named by it.
pub const TAGS_GW: &str = "CREATE TABLE tags (tag VARCHAR(20) CHARACTER SET latin1 PRIMARY KEY, \
                           user_id BIGINT, n INT) shardkey=user_id";
pub const TAGS_RF: &str = "CREATE TABLE tags (tag VARCHAR(20) CHARACTER SET latin1 PRIMARY KEY, \
                           user_id BIGINT, n INT)";

/// Rows for [`TAGS_GW`]: 60 tags over many users (so over both sets), `é` in
/// some (a latin1 column read by a utf8mb4 connection).
pub fn tags_insert() -> String {
    let rows: Vec<String> = (0..60)
        .map(|i| {
            let e = if i % 7 == 0 { "é" } else { "" };
            format!("('tag{e}{i:02}', {}, {})", i * 13 + 1, i % 5)
        })
        .collect();
    format!("INSERT INTO tags VALUES {}", rows.join(", "))
}

/// A table with no key at all, with rows that are exact duplicates.
pub const LOGS_GW: &str =
    "CREATE TABLE logs (user_id BIGINT, msg VARCHAR(20), n INT) shardkey=user_id";
pub const LOGS_RF: &str = "CREATE TABLE logs (user_id BIGINT, msg VARCHAR(20), n INT)";

pub fn logs_insert() -> String {
    let rows: Vec<String> = (0..40)
        .map(|i| {
            let i = if i >= 34 { i - 30 } else { i };
            format!("({}, 'm{}', {})", i * 7 + 1, i % 4, i % 6)
        })
        .collect();
    format!("INSERT INTO logs VALUES {}", rows.join(", "))
}

/// The statements, in order (each changes the tables the next ones see).
pub fn statements() -> Vec<Q> {
    let mut out = vec![
        // Sharded, single-column key; ORDER BY another column, ended by the key.
        Q::any("UPDATE users SET note = 'lim1' ORDER BY score DESC, user_id LIMIT 7"),
        Q::any("SELECT user_id FROM users WHERE note = 'lim1'"),
        Q::any("DELETE FROM users WHERE city = 'Paris' ORDER BY born, user_id DESC LIMIT 3"),
        Q::any("UPDATE users SET score = score + 1 WHERE score < 0 ORDER BY user_id LIMIT 10"),
        // No ORDER BY: MariaDB scans in key order.
        Q::any("UPDATE users SET note = 'lim2' WHERE user_id > 100 LIMIT 4"),
        Q::any("DELETE FROM users WHERE note IS NULL LIMIT 2"),
        // Matched but not changed: UPDATE's counts, rows chosen among ties (nothing changes).
        Q::any("UPDATE users SET city = city ORDER BY city LIMIT 9"),
        Q::any("UPDATE users SET note = 'lim1' WHERE note = 'lim1' LIMIT 3"),
        // Nothing matches; LIMIT 0; LIMIT beyond the rows.
        Q::any("DELETE FROM users WHERE user_id = -999999 ORDER BY user_id LIMIT 5"),
        Q::any("UPDATE users SET note = 'never' ORDER BY user_id LIMIT 0"),
        Q::any("UPDATE orders SET status = 'all' WHERE amount > 1500 ORDER BY order_id, user_id LIMIT 100000"),
        // Composite key (with the shard key).
        Q::any("DELETE FROM orders WHERE status = 'new' ORDER BY amount DESC, order_id, user_id LIMIT 6"),
        Q::any("UPDATE orders SET amount = amount * 2 ORDER BY order_id DESC, user_id LIMIT 5"),
        // The key itself changes, in the statement's order (no duplicate on the way).
        Q::any("UPDATE orders SET order_id = order_id + 1 ORDER BY order_id DESC, user_id DESC LIMIT 4"),
        // An error on one set (out of range): nothing changes anywhere.
        Q::any("UPDATE users SET score = score * 2147483647 WHERE score <> 0 ORDER BY user_id LIMIT 50"),
        // A string key, in another character set than the connection's.
        Q::any("UPDATE tags SET n = n + 10 ORDER BY tag DESC LIMIT 8"),
        Q::any("DELETE FROM tags WHERE n < 3 ORDER BY user_id DESC LIMIT 6"),
        Q::any("DELETE FROM tags WHERE tag LIKE 'tagé%' LIMIT 2"),
        // Another connection character set: the chosen keys still name the rows.
        Q::any("SET NAMES latin1"),
        Q::any("UPDATE tags SET n = n + 100 WHERE n > 10 ORDER BY tag LIMIT 5"),
        Q::any("SET NAMES utf8mb4 COLLATE utf8mb4_bin"),
        Q::any("DELETE FROM tags WHERE n > 100 ORDER BY tag DESC LIMIT 2"),
        Q::any("SET NAMES utf8mb4"),
        // No key: each set runs the statement limited to the rows chosen there.
        Q::any("DELETE FROM logs ORDER BY n, msg, user_id LIMIT 4"),
        Q::any("UPDATE logs SET n = n + 10 ORDER BY n DESC, msg, user_id LIMIT 5"),
        Q::any("DELETE FROM logs WHERE n = 3 LIMIT 100"),
        Q::any("UPDATE logs SET msg = 'seen' WHERE n < 10 ORDER BY user_id DESC, n, msg LIMIT 3"),
        // Inside the client's transaction: joins it, undone by its ROLLBACK.
        Q::any("BEGIN"),
        Q::any("DELETE FROM users ORDER BY user_id LIMIT 25"),
        Q::any("SELECT COUNT(*) FROM users"),
        Q::any("ROLLBACK"),
        Q::any("SELECT COUNT(*) FROM users"),
        Q::any("START TRANSACTION"),
        Q::any("UPDATE users SET note = 'txn' ORDER BY balance, user_id LIMIT 5"),
        Q::any("COMMIT"),
        // Binary protocol: values and LIMIT as parameters.
        Q::any("DELETE FROM orders WHERE amount < ? ORDER BY amount, order_id, user_id LIMIT ?")
            .bin(vec![Value::Bytes(b"100".to_vec()), int(4)]),
        Q::any("UPDATE users SET note = ? WHERE score > ? ORDER BY score, user_id LIMIT ?").bin(
            vec![Value::Bytes(b"bin".to_vec()), int(10), int(6)],
        ),
        Q::any("UPDATE users SET note = ? ORDER BY user_id DESC LIMIT ?")
            .bin(vec![Value::Bytes(b"bin2".to_vec()), int(3)]),
    ];
    // What MariaDB refuses is refused alike.
    out.push(Q::any(
        "UPDATE users SET note = 'x' ORDER BY nosuch LIMIT 2",
    ));
    out.push(Q::any("DELETE FROM users ORDER BY user_id LIMIT -1"));
    out
}
