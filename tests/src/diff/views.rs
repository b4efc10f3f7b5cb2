//! Views through the gateway against the same views on one plain MariaDB: over
//! the sharded `users` / `orders` (alone, co-located, with the broadcast
//! `cities`), over `cities` alone and over the single `settings`; reads of them
//! scattered, pinned, merged and joined, in both protocols; what clients read
//! about views. Views that would be wrong on some set may be refused (1235).
//! Across databases ([`cross_db`]): a view in another database over `diffdb`'s
//! tables, and `diffdb`'s views read from another database.

use mysql_async::Value;

use super::Q;

/// `CREATE VIEW` statements run on both sides (the same text).
pub const VIEWS: [&str; 6] = [
    "CREATE VIEW v_users AS SELECT user_id, name, city, score FROM users WHERE score IS NOT NULL",
    "CREATE VIEW v_big (uid, total) AS SELECT user_id, amount * 2 FROM orders WHERE amount > 100",
    "CREATE VIEW v_cities AS SELECT name, country FROM cities WHERE country <> ''",
    "CREATE VIEW v_settings AS SELECT k, UPPER(v) AS uv FROM settings",
    "CREATE VIEW v_uo AS SELECT u.user_id, u.name, o.order_id, o.amount \
     FROM users u JOIN orders o ON o.user_id = u.user_id",
    "CREATE VIEW v_uc AS SELECT u.user_id, u.name, c.country \
     FROM users u LEFT JOIN cities c ON c.name = u.city",
];

pub fn reads() -> Vec<Q> {
    vec![
        Q::exact("SELECT * FROM v_users ORDER BY user_id LIMIT 20"),
        Q::any("SELECT COUNT(*), SUM(score), MIN(name), MAX(city) FROM v_users"),
        Q::exact("SELECT city, COUNT(*), AVG(score) FROM v_users GROUP BY city ORDER BY city"),
        Q::any("SELECT * FROM v_users WHERE user_id = 42"),
        Q::any("SELECT * FROM v_users WHERE user_id IN (7, 8, 9, 10)"),
        Q::exact("SELECT uid, total FROM v_big ORDER BY total DESC, uid LIMIT 10"),
        Q::any("SELECT COUNT(*), SUM(total) FROM v_big JOIN users ON users.user_id = v_big.uid"),
        Q::exact("SELECT * FROM v_cities ORDER BY name"),
        Q::exact("SELECT * FROM v_settings ORDER BY k"),
        Q::exact(
            "SELECT user_id, COUNT(*), SUM(amount) FROM v_uo GROUP BY user_id \
             ORDER BY user_id LIMIT 15",
        ),
        Q::exact("SELECT country, COUNT(*) FROM v_uc GROUP BY country ORDER BY country"),
        Q::any("SELECT DISTINCT city FROM v_users"),
        Q::any("SELECT name FROM v_users WHERE user_id = ?").bin(vec![Value::Int(42)]),
        Q::exact("SELECT uid, total FROM v_big WHERE total > ? ORDER BY uid, total LIMIT ?")
            .bin(vec![Value::Int(1000), Value::Int(7)]),
        Q::exact(
            "SELECT TABLE_NAME, CHECK_OPTION, IS_UPDATABLE FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
        ),
        Q::exact("SHOW FULL TABLES"),
        // Writes through a view over a sharded table route by the key it shows.
        Q::any("UPDATE v_users SET name = 'via view' WHERE user_id = 42"),
        Q::any("SELECT name FROM users WHERE user_id = 42"),
        // A view over sharded rows each set would compute on its own rows.
        Q::any("CREATE VIEW v_agg AS SELECT city, COUNT(*) AS n FROM users GROUP BY city")
            .or_unsupported(),
        Q::any("CREATE VIEW v_top AS SELECT user_id FROM users ORDER BY score DESC LIMIT 5")
            .or_unsupported(),
        Q::any("CREATE VIEW v_nokey AS SELECT name, city FROM users").or_unsupported(),
        // Dropped alike.
        Q::any("DROP VIEW v_uc, v_cities"),
        Q::any("SELECT * FROM v_uc"),
        Q::any("DROP VIEW IF EXISTS v_uc"),
    ]
}

/// Views across databases, run after [`VIEWS`] with `diffdb` selected: a second
/// database `diffx` (created through the gateway: its own shard map) with views
/// over `diffdb`'s sharded, broadcast and single tables and over a `diffdb` view.
/// A view over another database's sharded rows is refused (1235): they follow
/// that database's map, which its slot moves change.
pub fn cross_db_views() -> Vec<Q> {
    vec![
        Q::any("CREATE DATABASE diffx"),
        Q::any(
            "CREATE VIEW diffx.xv_users AS SELECT user_id, name, city FROM diffdb.users \
             WHERE score > 50",
        )
        .or_unsupported(),
        Q::any("CREATE VIEW diffx.xv_vusers AS SELECT user_id, name FROM diffdb.v_users")
            .or_unsupported(),
        Q::any("CREATE VIEW diffx.xv_cities AS SELECT name, country FROM diffdb.cities")
            .or_unsupported(),
        Q::any("CREATE VIEW diffx.xv_settings AS SELECT k, v FROM diffdb.settings")
            .or_unsupported(),
    ]
}

/// Reads of [`cross_db_views`]' views, and of `diffdb`'s views from `diffx`
/// (`key`: a user id, e.g. one whose slot moved); ends with `diffdb` selected.
pub fn cross_db_reads(key: i64) -> Vec<Q> {
    vec![
        Q::any("SELECT COUNT(*), MIN(name), MAX(city) FROM diffx.xv_users"),
        Q::exact("SELECT * FROM diffx.xv_users ORDER BY user_id LIMIT 10"),
        Q::any(format!(
            "SELECT * FROM diffx.xv_users WHERE user_id = {key}"
        )),
        Q::any(
            "SELECT COUNT(*), SUM(o.amount) FROM diffx.xv_users v \
             JOIN diffdb.orders o ON o.user_id = v.user_id",
        ),
        Q::any("SELECT COUNT(*), MAX(name) FROM diffx.xv_vusers"),
        Q::exact("SELECT * FROM diffx.xv_cities ORDER BY name"),
        Q::exact("SELECT * FROM diffx.xv_settings ORDER BY k"),
        // From the other database: diffdb's views by their qualified names.
        Q::any("USE diffx"),
        Q::exact("SELECT * FROM diffdb.v_users ORDER BY user_id LIMIT 20"),
        Q::any("SELECT COUNT(*), SUM(total) FROM diffdb.v_big"),
        Q::any(format!(
            "SELECT name, city FROM diffdb.v_users WHERE user_id = {key}"
        )),
        Q::exact(
            "SELECT user_id, COUNT(*) FROM diffdb.v_uo GROUP BY user_id ORDER BY user_id LIMIT 5",
        ),
        Q::any("SELECT COUNT(*) FROM xv_users"),
        Q::any("SELECT name FROM diffdb.v_users WHERE user_id = ?").bin(vec![Value::Int(key)]),
        Q::any(format!(
            "UPDATE diffdb.v_users SET name = 'from diffx' WHERE user_id = {key}"
        )),
        Q::any(format!(
            "SELECT name FROM diffdb.users WHERE user_id = {key}"
        )),
        Q::any("USE diffdb"),
    ]
}

/// A system schema as the session's database (`USE mysql`, as `mariadb-dump
/// --all-databases` does): the gateway's connections were opened without it, so
/// `DATABASE()` was NULL and unqualified names failed with 1046.
pub fn system_schema_session() -> Vec<Q> {
    vec![
        Q::any("USE mysql"),
        Q::exact("SELECT DATABASE()"),
        Q::exact("SHOW TABLES LIKE 'general_log'"),
        Q::exact("SELECT COUNT(*) FROM time_zone_name WHERE 1 = 0"),
        Q::any("USE information_schema"),
        Q::exact("SELECT DATABASE()"),
        Q::exact("SELECT COUNT(*) FROM CHARACTER_SETS WHERE CHARACTER_SET_NAME = 'utf8mb4'"),
        Q::any("USE performance_schema"),
        Q::exact("SELECT DATABASE()"),
        Q::any("USE diffdb"),
        Q::exact("SELECT DATABASE()"),
    ]
}
