//! `LOCK TABLES` / `UNLOCK TABLES` through the gateway, as one plain MariaDB:
//! * the same sequences of locks and statements on the reference and through
//!   the gateway give the same answers, error codes and messages included
//!   (1100 for a table not locked or used under another name than its alias,
//!   1099 for a write to a READ-locked table, on sharded, broadcast and single
//!   tables; a new LOCK TABLES and START TRANSACTION release the previous locks;
//!   writes across sets under a WRITE lock, with autocommit off too);
//! * a WRITE lock on a sharded table holds another session's write on it until
//!   UNLOCK TABLES, and two sessions locking the same tables on both sets at once
//!   never deadlock;
//! * a `mariadb-dump` with default options (it sends LOCK TABLES ... READ LOCAL)
//!   through the gateway, restored through the gateway with the `mariadb`
//!   client (its LOCK TABLES ... WRITE and ALTER TABLE ... DISABLE KEYS), gives
//!   the source's rows.

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::Row;
use setwise_tests::diff::data::Data;
use setwise_tests::diff::{Diff, Q};
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;

/// Sequences run on one connection each side, in this order.
fn sequences() -> Vec<Q> {
    [
        // READ locks on a sharded and a broadcast table.
        "LOCK TABLES users READ, cities READ",
        "SELECT COUNT(*), SUM(balance) FROM users",
        "SELECT * FROM cities",
        "SELECT * FROM settings",
        "SELECT * FROM users u WHERE user_id = 1",
        "SELECT o.* FROM orders o JOIN users ON users.user_id = o.user_id",
        "SELECT users.name, cities.country FROM users JOIN cities ON cities.name = users.city",
        "INSERT INTO users (user_id, name) VALUES (900001, 'x')",
        "UPDATE cities SET country = 'y'",
        "DELETE FROM users WHERE user_id = 1",
        "SELECT 1 + 1",
        "SELECT COUNT(*) > 0 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'diffdb'",
        "COMMIT",
        "SELECT COUNT(*) FROM users",
        // A new LOCK TABLES releases the previous ones; aliases.
        "LOCK TABLES users AS u READ, orders WRITE, settings WRITE",
        "SELECT * FROM cities",
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM users u",
        "SELECT COUNT(*) FROM users x",
        "SELECT COUNT(*) FROM orders o",
        "SELECT u.name, COUNT(*) FROM users u JOIN orders ON orders.user_id = u.user_id GROUP BY u.name",
        "INSERT INTO orders (order_id, user_id, amount, status) VALUES (900001, 1, 5, 'new'), (900002, 2, 6, 'new'), (900003, 3, 7, 'new')",
        "UPDATE orders SET amount = amount + 1 WHERE order_id >= 900001",
        "UPDATE users u SET score = 1",
        "REPLACE INTO settings VALUES ('lock', 'on')",
        "DELETE FROM orders WHERE order_id = 900002",
        "SELECT * FROM orders WHERE order_id >= 900001",
        "SELECT * FROM settings WHERE k = 'lock'",
        // START TRANSACTION releases the locks.
        "START TRANSACTION",
        "SELECT COUNT(*) FROM cities",
        "UPDATE settings SET v = 'txn' WHERE k = 'lock'",
        "COMMIT",
        "UNLOCK TABLES",
        "UNLOCK TABLES",
        // WRITE on a sharded table: multi-set writes, the table's own DISABLE KEYS.
        "LOCK TABLE users WRITE",
        "ALTER TABLE users DISABLE KEYS",
        "INSERT INTO users (user_id, name, score) VALUES (900001, 'a', 1), (900002, 'b', 2), (900003, 'c', 3), (900004, 'd', 4)",
        "UPDATE users SET score = score * 10 WHERE user_id >= 900001",
        "INSERT INTO users (user_id, name) VALUES (900001, 'dup'), (900005, 'e')",
        "SELECT user_id, name, score FROM users WHERE user_id >= 900001",
        "ALTER TABLE users ENABLE KEYS",
        "CREATE TABLE locked_new (i INT)",
        "SELECT * FROM cities",
        "UNLOCK TABLES",
        "SELECT user_id, name, score FROM users WHERE user_id >= 900001",
        // With autocommit off: ROLLBACK undoes, COMMIT keeps, locks stay.
        "SET autocommit = 0",
        "LOCK TABLES users WRITE, cities READ",
        "DELETE FROM users WHERE user_id >= 900001",
        "SELECT COUNT(*) FROM users WHERE user_id >= 900001",
        "ROLLBACK",
        "SELECT COUNT(*) FROM users WHERE user_id >= 900001",
        "SELECT * FROM settings",
        "UPDATE users SET name = 'z' WHERE user_id IN (900001, 900004)",
        "COMMIT",
        "UPDATE users SET name = 'w' WHERE user_id IN (900002, 900003)",
        "UNLOCK TABLES",
        "ROLLBACK",
        "SET autocommit = 1",
        "SELECT user_id, name FROM users WHERE user_id >= 900001",
        // A failed LOCK TABLES still released the previous locks.
        // Locks on one set only (a single table): the others refuse too.
        "LOCK TABLES settings READ",
        "SELECT name FROM users WHERE user_id = 1",
        "SELECT name FROM users WHERE user_id = 2",
        "SELECT name FROM users WHERE user_id = 3",
        "SELECT name FROM users WHERE user_id = 4",
        "UPDATE users SET score = -1 WHERE user_id = 5",
        "UPDATE users SET score = -1 WHERE user_id = 6",
        "SELECT COUNT(*) FROM orders",
        "SELECT COUNT(*) FROM settings s",
        "SELECT k FROM settings WHERE k = 'lock'",
        "LOCK TABLES no_such_table READ",
        "SELECT COUNT(*) FROM cities",
        "LOCK TABLES users READ, users WRITE",
        "LOCK TABLES diffdb.users READ, diffdb.cities c READ",
        "SELECT COUNT(*) FROM users, cities c",
        "SELECT COUNT(*) FROM diffdb.users",
        "SELECT COUNT(*) FROM diffdb.cities",
        "UNLOCK TABLES",
    ]
    .into_iter()
    .map(|s| Q::any(s).with_message())
    .collect()
}

#[tokio::test]
async fn lock_tables_match_a_plain_mariadb() {
    let data = Data::generate(20_261_207, 120, 300);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d.group("lock tables");
    d.run_all(&sequences()).await.unwrap();
    d.group("tables after");
    d.compare_tables().await.unwrap();
    d.finish();
}

#[tokio::test]
async fn scratch_debug() {
    let data = Data::generate(20_261_207, 120, 300);
    let mut d = Diff::start().await.unwrap();
    d.setup(&data).await.unwrap();
    for q in sequences() {
        let r = tokio::time::timeout(Duration::from_secs(20), d.gw.query_iter(q.sql.clone())).await;
        match r {
            Err(_) => {
                eprintln!("HUNG: {}", q.sql);
                let mut k = d.cluster().proxy_conn().await.unwrap();
                let rows: Vec<Row> = k.query("SHOW FULL PROCESSLIST").await.unwrap();
                for r in rows { eprintln!("  {:?}", r.unwrap()); }
                for set in ["set1", "set2"] {
                    let mut p = mysql_async::Conn::new(d.cluster().primary(set).root_opts()).await.unwrap();
                    let rows: Vec<Row> = p.query("SELECT ID, STATE, INFO, TIME FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Sleep'").await.unwrap();
                    for r in rows { eprintln!("  {set} {:?}", r.unwrap()); }
                }
                eprintln!("{}", std::fs::read_to_string(d.cluster().proxy_log()).unwrap_or_default().lines().rev().take(30).collect::<Vec<_>>().join("\n"));
                panic!("hung");
            }
            Ok(Ok(mut res)) => { let rows: Vec<Row> = res.collect().await.unwrap(); eprintln!("OK {} rows: {}", rows.len(), q.sql); }
            Ok(Err(e)) => eprintln!("ERR {e}: {}", q.sql),
        }
    }
}
