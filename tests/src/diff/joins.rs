//! Joins and subqueries over tables that are not co-located, which the gateway
//! runs itself (lookup join, hash join, subqueries read first): tables sharded
//! on different keys (`jitems` by `item_id`, `users` by `user_id`), a single
//! table (`jsingle`, on diffdb's home set), and a second database `joindb2`
//! whose shard map and home set differ from diffdb's (`j2users` sharded by
//! `uid`, `j2single` single on the other set). String keys have values equal
//! only under the collation (`a1` / `A1`, `b2` / `B2 `, `é` / `E`); keys and
//! values have NULLs.

use mysql_async::prelude::Queryable;
use mysql_async::Value;

use super::data::DB;
use super::{Diff, Q};

pub const DB2: &str = "joindb2";

/// Rows of `jitems`: with `[join] batch = 50` a lookup join over them sends
/// several batches.
pub const ITEMS: i64 = 1500;

const CODES: [Option<&str>; 9] = [
    Some("a1"),
    Some("A1"),
    Some("b2"),
    Some("B2 "),
    Some("c3"),
    Some("é"),
    Some("E"),
    Some("zz"),
    None,
];

const CS: &str = " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci";

fn lit(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => "NULL".into(),
    }
}

fn num(v: Option<i64>) -> String {
    v.map_or("NULL".into(), |n| n.to_string())
}

/// Creates and loads the join tables on both sides (after [`Diff::setup`]).
pub async fn setup(d: &mut Diff) -> anyhow::Result<()> {
    d.group("setup");
    let ids: Vec<i64> =
        d.rf.query("SELECT user_id FROM users ORDER BY user_id")
            .await?;
    let tables = [
        (
            format!("CREATE TABLE jitems (item_id BIGINT PRIMARY KEY, user_id BIGINT NULL, code VARCHAR(16) NULL, qty INT NULL){CS}"),
            " shardkey=item_id",
        ),
        (
            format!("CREATE TABLE jsingle (code VARCHAR(16) PRIMARY KEY, label VARCHAR(32) NOT NULL, n INT NULL){CS}"),
            "",
        ),
    ];
    for (ddl, opt) in &tables {
        d.pair(&format!("{ddl}{opt}"), ddl).await?;
    }
    // joindb2: home set2, its map the other way round from diffdb's.
    d.cluster().create_db(DB2, &["set2", "set1"]).await?;
    d.rf.query_drop(format!("CREATE DATABASE {DB2}{CS}"))
        .await?;
    let gw_opts = d.cluster().proxy_opts("app", "app", Some(DB));
    crate::wait_until(
        "the gateway routes joindb2",
        std::time::Duration::from_secs(20),
        || {
            let o = gw_opts.clone();
            async move {
                let mut c = mysql_async::Conn::new(o).await?;
                Ok(c.query_drop(format!("USE {DB2}")).await.is_ok())
            }
        },
    )
    .await?;
    let tables2 = [
        (
            format!("CREATE TABLE {DB2}.j2users (uid BIGINT PRIMARY KEY, tag VARCHAR(16) NULL, code VARCHAR(16) NULL){CS}"),
            " shardkey=uid",
        ),
        (
            format!("CREATE TABLE {DB2}.j2single (code VARCHAR(16) PRIMARY KEY, note VARCHAR(32) NULL){CS}"),
            "",
        ),
    ];
    for (ddl, opt) in &tables2 {
        d.pair(&format!("{ddl}{opt}"), ddl).await?;
    }
    // Rows.
    let mut items = Vec::new();
    for i in 1..=ITEMS {
        let user = if i % 17 == 0 {
            None
        } else if i % 13 == 0 {
            Some(1_000_000_007 + i)
        } else {
            Some(ids[(i as usize * 7) % ids.len()])
        };
        let code = CODES[(i as usize) % CODES.len()];
        let qty = (i % 11 != 0).then_some((i * 7) % 50 - 5);
        items.push(format!("({i}, {}, {}, {})", num(user), lit(code), num(qty)));
    }
    for chunk in items.chunks(200) {
        let sql = format!("INSERT INTO jitems VALUES {}", chunk.join(", "));
        d.pair(&sql, &sql).await?;
    }
    let single = "INSERT INTO jsingle VALUES ('A1', 'upper a', 1), ('b2', 'lower b', NULL), \
                  ('C3', 'upper c', 3), ('e', 'plain e', 14), ('x9', 'none', NULL), ('', 'empty', 0)";
    d.pair(single, single).await?;
    let mut users2 = Vec::new();
    for (k, id) in ids.iter().enumerate().filter(|(k, _)| k % 2 == 0) {
        let code = CODES[k % CODES.len()];
        users2.push(format!("({id}, 'tag{}', {})", k % 5, lit(code)));
    }
    users2.push("(77777777777, NULL, 'zz')".into());
    let sql = format!("INSERT INTO {DB2}.j2users VALUES {}", users2.join(", "));
    d.pair(&sql, &sql).await?;
    let s2 = format!(
        "INSERT INTO {DB2}.j2single VALUES ('a1', 'note a'), ('B2', 'note b'), ('é', 'note e'), ('q', NULL)"
    );
    d.pair(&s2, &s2).await?;
    Ok(())
}

/// Joins: INNER / LEFT / RIGHT, lookup and hash, keys of every placement.
pub fn joins() -> Vec<Q> {
    let mut v = vec![
        // Sharded on different keys: hash join.
        Q::any("SELECT i.item_id, u.name, i.qty FROM jitems i JOIN users u ON u.user_id = i.user_id"),
        // Filtered outer side, inner key the shard key: lookup join by batches.
        Q::any("SELECT i.item_id, u.name, u.city FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > 10"),
        Q::any("SELECT i.item_id, u.user_id, u.city FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id"),
        Q::any("SELECT i.item_id, u.user_id, u.score FROM jitems i LEFT JOIN users u ON i.user_id = u.user_id AND u.score > 20 WHERE i.qty < 20"),
        Q::any("SELECT u.user_id, i.item_id FROM jitems i RIGHT JOIN users u ON u.user_id = i.user_id"),
        // Anti join by LEFT JOIN ... IS NULL.
        Q::any("SELECT u.user_id, u.name FROM users u LEFT JOIN jitems i ON i.user_id = u.user_id WHERE i.item_id IS NULL"),
        Q::any("SELECT i.item_id FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE u.user_id IS NOT NULL AND i.qty > 30"),
        // A WHERE that no null-extended row passes: an inner join.
        Q::any("SELECT i.item_id, u.name, u.score FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE u.score > 50"),
        Q::any("SELECT s.code, i.item_id, i.qty FROM jsingle s LEFT JOIN jitems i ON i.code = s.code WHERE i.qty IN (1, 2, 3) AND s.n IS NOT NULL"),
        // Pinned outer side, `*` of both tables.
        Q::any("SELECT * FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.item_id IN (1, 2, 3, 50, 99)"),
        Q::any("SELECT u.*, i.qty FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.item_id = 8"),
        // Co-located tables joined on a column that is not the shard key.
        Q::any("SELECT u.user_id, o.order_id, o.amount FROM users u JOIN orders o ON o.order_id = u.score"),
        // Comma join, condition in WHERE; unqualified columns.
        Q::any("SELECT item_id, name FROM jitems, users WHERE users.user_id = jitems.user_id AND qty > 30"),
        // Expressions of one table, aliases.
        Q::any("SELECT i.item_id, CONCAT(u.name, '!') AS shout, i.qty * 2, u.balance + 1 FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty BETWEEN 3 AND 9"),
        // String keys equal under the collation: sharded with a single table.
        Q::any("SELECT i.item_id, s.label, s.code FROM jitems i JOIN jsingle s ON s.code = i.code"),
        Q::any("SELECT s.code, s.n, i.item_id FROM jsingle s LEFT JOIN jitems i ON i.code = s.code AND i.qty > 40"),
        // Two databases with different maps (and home sets).
        Q::any("SELECT u.user_id, j.tag FROM users u JOIN joindb2.j2users j ON j.uid = u.user_id"),
        Q::any("SELECT j.uid, j.tag, u.name FROM joindb2.j2users j LEFT JOIN users u ON u.user_id = j.uid"),
        Q::any("SELECT i.item_id, t.note FROM jitems i JOIN joindb2.j2single t ON t.code = i.code WHERE i.qty > 0"),
        // Single tables on different sets.
        Q::any("SELECT s.code, t.code, t.note FROM jsingle s LEFT JOIN joindb2.j2single t ON t.code = s.code"),
        // ORDER BY / LIMIT over the joined rows.
        Q::exact("SELECT i.item_id, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY u.name, i.item_id LIMIT 20"),
        Q::exact("SELECT i.item_id, i.code, u.user_id FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id ORDER BY i.code DESC, i.item_id LIMIT 5, 10"),
        Q::exact("SELECT s.code AS c, i.item_id FROM jsingle s JOIN jitems i ON i.code = s.code ORDER BY c, 2"),
        // ORDER BY columns of one table only (the first or the second one).
        Q::exact("SELECT u.user_id, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 60 ORDER BY u.user_id DESC"),
        Q::exact("SELECT i.item_id, i.qty FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY i.item_id LIMIT 30"),
        Q::exact("SELECT u.user_id FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE i.item_id < 80 ORDER BY u.user_id"),
        // Column definitions as MariaDB's plan gives them: sorted through a
        // temporary table (key flags dropped; expression items named, typed as
        // fields) or not (ORDER BY u.user_id is i.user_id's order: no
        // temporary table, though the key is of the second table).
        Q::exact("SELECT i.item_id, u.user_id FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY u.user_id DESC, i.item_id LIMIT 20"),
        Q::exact("SELECT i.item_id + 1, CONCAT(u.name, '!'), i.qty * 2 AS q2, u.balance + 1, u.born, DATE(u.created), i.code, 1 AS one, NULL AS n, 'lit' AS l, 1 + 2 AS three FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY u.name, i.item_id LIMIT 30"),
        Q::exact("SELECT i.item_id, UPPER(u.name) AS un, LEFT(u.note, 3), u.score / 3, u.score * 1.5e0 AS d, u.created FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY u.score DESC, i.item_id LIMIT 30"),
        // USING.
        Q::any("SELECT i.item_id, u.name FROM jitems i JOIN users u USING (user_id) WHERE i.qty > 20"),
        Q::any("SELECT i.item_id, u.city FROM jitems i LEFT JOIN users u USING (user_id) WHERE i.qty < 0"),
        Q::any("SELECT * FROM jitems i JOIN users u USING (user_id)").or_unsupported(),
        // Key types compared by value (an INT column against a BIGINT one).
        Q::any("SELECT i.item_id, s.code FROM jitems i JOIN jsingle s ON s.n = i.qty"),
        // Refused (never answered differently): a condition between the tables
        // that is not an equality, an aggregate over the join.
        Q::any("SELECT i.item_id FROM jitems i JOIN users u ON u.user_id < i.user_id").or_unsupported(),
        Q::any("SELECT SUM(i.qty) FROM jitems i JOIN users u ON u.user_id = i.user_id"),
        // A lone COUNT(*) of the joined rows.
        Q::any("SELECT COUNT(*) FROM jitems i JOIN users u ON u.user_id = i.user_id"),
        Q::any("SELECT COUNT(*) AS orphans FROM users u LEFT JOIN jitems i ON i.user_id = u.user_id WHERE i.item_id IS NULL"),
        Q::any("select count(*) from jsingle s join joindb2.j2single t on t.code = s.code"),
    ];
    v.extend(grouped());
    // Binary protocol.
    v.push(
        Q::any("SELECT i.item_id, u.name, u.born FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > ?")
            .bin(vec![Value::Int(25)]),
    );
    v.push(
        Q::any("SELECT i.item_id, u.user_id, u.balance FROM jitems i LEFT JOIN users u ON u.user_id = i.user_id WHERE i.item_id < ?")
            .bin(vec![Value::Int(200)]),
    );
    v.push(
        Q::folded("SELECT u.city, COUNT(*), SUM(i.qty), AVG(u.balance) FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > ? GROUP BY u.city ORDER BY 2 DESC, 1 LIMIT 5")
            .bin(vec![Value::Int(10)]),
    );
    v.push(
        Q::exact("SELECT i.item_id, u.created FROM jitems i JOIN users u ON u.user_id = i.user_id ORDER BY u.created DESC, i.item_id LIMIT ?")
            .bin(vec![Value::Int(15)]),
    );
    v.push(
        Q::exact("SELECT i.item_id * 3, CONCAT(u.name, '!'), u.balance + 1 AS b FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > ? ORDER BY u.name, i.item_id LIMIT 12")
            .bin(vec![Value::Int(3)]),
    );
    v
}

/// GROUP BY, aggregates, DISTINCT and HAVING over joined rows, grouped by the
/// gateway.
pub fn grouped() -> Vec<Q> {
    vec![
        // GROUP BY a column of either table; several aggregates of either.
        Q::folded("SELECT u.city, COUNT(*), COUNT(i.qty), SUM(i.qty), MIN(i.qty), MAX(i.qty), AVG(i.qty) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY u.city"),
        Q::folded("SELECT i.code, COUNT(u.score), SUM(u.balance), AVG(u.balance), MIN(u.name), MAX(u.born) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY i.code"),
        Q::any("SELECT i.qty AS q, u.city, COUNT(*) AS n FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > 30 GROUP BY q, 2").or_unsupported(),
        // NULLs of a LEFT JOIN in COUNT(col) / SUM / AVG.
        Q::any("SELECT u.user_id, COUNT(i.item_id), SUM(i.qty), AVG(i.qty), COUNT(*) FROM users u LEFT JOIN jitems i ON i.user_id = u.user_id GROUP BY u.user_id"),
        Q::exact("SELECT i.item_id, COUNT(*), MAX(u.name), SUM(u.score) FROM users u LEFT JOIN jitems i ON i.user_id = u.user_id GROUP BY i.item_id ORDER BY i.item_id LIMIT 20"),
        Q::folded("SELECT i.code, COUNT(u.user_id), AVG(u.score) FROM jitems i RIGHT JOIN users u ON u.user_id = i.user_id GROUP BY i.code"),
        // No GROUP BY: one row, also over no rows.
        Q::any("SELECT COUNT(i.qty), SUM(i.qty), MIN(u.name), MAX(u.score), AVG(u.balance) FROM jitems i JOIN users u ON u.user_id = i.user_id"),
        Q::any("SELECT COUNT(i.qty), SUM(i.qty), MAX(u.name), AVG(u.score) FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > 1000"),
        // String keys equal under the collation (sharded with single).
        Q::folded("SELECT s.code, COUNT(*), SUM(i.qty) FROM jsingle s JOIN jitems i ON i.code = s.code GROUP BY s.code"),
        // DISTINCT.
        Q::folded("SELECT DISTINCT u.city FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty < 5"),
        Q::folded("SELECT DISTINCT i.qty, s.label FROM jitems i JOIN jsingle s ON s.code = i.code"),
        // HAVING.
        Q::folded("SELECT i.code, COUNT(*) AS n FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY i.code HAVING n > 100"),
        Q::any("SELECT u.user_id, SUM(i.qty) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY u.user_id HAVING SUM(i.qty) > 60 AND COUNT(*) < 20"),
        // ORDER BY / LIMIT on aggregates.
        Q::exact("SELECT u.user_id, COUNT(*) AS n, SUM(i.qty) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY u.user_id ORDER BY n DESC, u.user_id LIMIT 10"),
        Q::exact("SELECT u.user_id, MAX(i.qty) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY u.user_id ORDER BY SUM(i.qty) DESC, 1 LIMIT 5, 5"),
        Q::exact("SELECT j.tag, COUNT(*), AVG(u.score) FROM users u JOIN joindb2.j2users j ON j.uid = u.user_id GROUP BY j.tag ORDER BY j.tag"),
        // Sums of doubles depend on the order of additions: refused.
        Q::any("SELECT u.city, SUM(i.qty / 7e0) FROM jitems i JOIN users u ON u.user_id = i.user_id GROUP BY u.city").or_unsupported(),
        // Tables no one set holds together: refused.
        Q::any("SELECT s.code, COUNT(t.note) FROM jsingle s LEFT JOIN joindb2.j2single t ON t.code = s.code GROUP BY s.code").or_unsupported(),
    ]
}

/// IN / NOT IN / EXISTS / NOT EXISTS over another table's rows.
pub fn subqueries() -> Vec<Q> {
    let mut v = vec![
        Q::any("SELECT item_id FROM jitems WHERE user_id IN (SELECT user_id FROM users WHERE score > 50)"),
        Q::any("SELECT item_id, qty FROM jitems WHERE user_id NOT IN (SELECT user_id FROM users WHERE score > 50)"),
        // NOT IN a list with a NULL: never TRUE.
        Q::any("SELECT item_id FROM jitems WHERE qty NOT IN (SELECT n FROM jsingle)"),
        Q::any("SELECT item_id FROM jitems WHERE qty NOT IN (SELECT n FROM jsingle WHERE n IS NOT NULL)"),
        Q::any("SELECT item_id FROM jitems WHERE qty IN (SELECT n FROM jsingle)"),
        // An empty subquery: NOT IN is TRUE even for a NULL.
        Q::any("SELECT item_id, qty FROM jitems WHERE qty NOT IN (SELECT n FROM jsingle WHERE n > 1000)"),
        Q::any("SELECT item_id FROM jitems WHERE (qty IN (SELECT n FROM jsingle)) IS NULL"),
        // Strings under the collation.
        Q::any("SELECT code, label FROM jsingle WHERE code IN (SELECT code FROM jitems)"),
        Q::any("SELECT code FROM jsingle WHERE code NOT IN (SELECT code FROM joindb2.j2single WHERE note IS NOT NULL)"),
        // Correlated EXISTS on one equality: semi / anti join.
        Q::any("SELECT u.user_id FROM users u WHERE EXISTS (SELECT 1 FROM jitems i WHERE i.user_id = u.user_id AND i.qty > 20)"),
        Q::any("SELECT u.user_id, u.city FROM users u WHERE NOT EXISTS (SELECT * FROM jitems i WHERE i.user_id = u.user_id)"),
        Q::any("SELECT s.code FROM jsingle s WHERE NOT EXISTS (SELECT 1 FROM joindb2.j2single t WHERE t.code = s.code)"),
        Q::any("SELECT i.item_id FROM jitems i WHERE EXISTS (SELECT 1 FROM joindb2.j2users j WHERE j.uid = i.user_id) AND i.qty < 0"),
        Q::any("SELECT i.item_id FROM jitems i WHERE NOT EXISTS (SELECT 1 FROM jsingle s WHERE s.n = i.qty)"),
        // Uncorrelated EXISTS.
        Q::any("SELECT code FROM jsingle WHERE EXISTS (SELECT 1 FROM jitems WHERE qty > 1000)"),
        Q::any("SELECT code FROM jsingle WHERE NOT EXISTS (SELECT 1 FROM jitems WHERE qty > 1000)"),
        // Subqueries and a join together; ORDER BY / LIMIT after the substitution.
        Q::exact("SELECT item_id, qty FROM jitems WHERE user_id IN (SELECT user_id FROM users WHERE city IS NOT NULL) ORDER BY qty DESC, item_id LIMIT 12"),
        Q::any("SELECT i.item_id, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.code IN (SELECT code FROM jsingle WHERE n IS NOT NULL)"),
        // A subquery in the select list: refused.
        Q::any("SELECT item_id, qty IN (SELECT n FROM jsingle) FROM jitems").or_unsupported(),
        // Scalar subqueries as operands (an ORM's `amount > (SELECT AVG(amount) ...)`).
        Q::exact("SELECT item_id, qty FROM jitems WHERE qty > (SELECT AVG(qty) FROM jitems) ORDER BY qty DESC, item_id"),
        Q::any("SELECT item_id FROM jitems WHERE qty = (SELECT MAX(qty) FROM jitems)"),
        Q::any("SELECT i.item_id FROM jitems i WHERE i.user_id = (SELECT MIN(user_id) FROM users WHERE score > 50)"),
        Q::any("SELECT code FROM jsingle WHERE code = (SELECT MIN(code) FROM jitems)"),
        Q::any("SELECT item_id FROM jitems WHERE qty > (SELECT n FROM jsingle WHERE n > 100000)"),
        Q::any("SELECT item_id FROM jitems WHERE (SELECT n FROM jsingle WHERE n > 100000) IS NULL AND qty < 3"),
        Q::any("SELECT item_id FROM jitems WHERE qty > (SELECT n FROM jsingle)"),
        Q::any("SELECT user_id, SUM(qty) AS s FROM jitems GROUP BY user_id HAVING SUM(qty) > (SELECT AVG(qty) FROM jitems)"),
    ];
    v.push(
        Q::any("SELECT item_id FROM jitems WHERE user_id IN (SELECT user_id FROM users WHERE score > ?)")
            .bin(vec![Value::Int(60)]),
    );
    v.push(
        Q::any("SELECT item_id FROM jitems WHERE qty >= (SELECT AVG(qty) FROM jitems WHERE user_id > ?) LIMIT ?")
            .bin(vec![Value::Int(3), Value::Int(1000)]),
    );
    v.push(
        Q::any("SELECT u.user_id FROM users u WHERE NOT EXISTS (SELECT 1 FROM jitems i WHERE i.user_id = u.user_id AND i.qty > ?)")
            .bin(vec![Value::Int(10)]),
    );
    v
}

/// String keys read with `character_set_results = binary`.
pub fn binary_results() -> Vec<Q> {
    vec![
        Q::any("SELECT i.item_id, s.label FROM jsingle s JOIN jitems i ON i.code = s.code WHERE s.n > 0 /* setwise:lookup */"),
        Q::any("SELECT i.item_id, s.label FROM jitems i JOIN jsingle s ON s.code = i.code WHERE i.qty > 5 /* setwise:lookup */"),
        Q::any("SELECT i.item_id, s.label FROM jitems i JOIN jsingle s ON s.code = i.code /* setwise:hash */"),
    ]
}

/// SQL `PREPARE` / `EXECUTE ... USING` of joins across sets.
pub fn sql_level() -> Vec<Q> {
    vec![
        Q::any("SET @lim = 20"),
        Q::any("PREPARE pj FROM 'SELECT s.code, t.note FROM jsingle s JOIN joindb2.j2single t ON t.code = s.code WHERE s.n < ?'"),
        Q::any("EXECUTE pj USING @lim"),
        Q::any("PREPARE pi FROM 'SELECT i.item_id, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > ?'"),
        Q::any("EXECUTE pi USING @lim"),
        Q::any("EXECUTE pi USING 40"),
        Q::any("DEALLOCATE PREPARE pj"),
        Q::any("DEALLOCATE PREPARE pi"),
    ]
}
