//! `LOCK TABLES` / `UNLOCK TABLES` through the gateway, as one plain MariaDB:
//! * the same sequences of locks and statements on the reference and through
//!   the gateway give the same answers, error codes and messages included
//!   (1100 for a table not locked or used under another name than its alias,
//!   1099 for a write to a READ-locked table, on sharded, broadcast and single
//!   tables; a new LOCK TABLES and START TRANSACTION release the previous locks;
//!   writes across sets under a WRITE lock, with autocommit off too);
//! * a WRITE lock on a sharded table (and FLUSH TABLES WITH READ LOCK, on every
//!   set) holds another session's write on it until UNLOCK TABLES, and two sessions locking the same tables on both sets at once
//!   never deadlock; a locked connection lost on one set releases every set; a
//!   session killed while its LOCK TABLES waits leaves no lock behind;
//! * `SET autocommit = 1` after a transaction under locks reaches the
//!   connections the locks pinned (later writes there commit);
//! * a `mariadb-dump` with default options (it sends LOCK TABLES ... READ LOCAL)
//!   through the gateway, restored through the gateway with the `mariadb`
//!   client (its LOCK TABLES ... WRITE and ALTER TABLE ... DISABLE KEYS), gives
//!   the source's rows; `--lock-all-tables` (FLUSH TABLES WITH READ LOCK) dumps
//!   the same rows.

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
        "INSERT INTO orders (order_id, user_id, amount, status) SELECT user_id + 3000000, user_id, 1, 'copy' FROM users u WHERE user_id < 6",
        "INSERT INTO orders (order_id, user_id, amount, status) SELECT user_id + 3000000, user_id, 1, 'copy' FROM users WHERE user_id < 6",
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
        "INSERT INTO users (user_id, name) SELECT user_id + 1000000, name FROM users WHERE user_id < 6",
        "INSERT INTO users (user_id, name) SELECT user_id + 1000000, name FROM users AS users WHERE user_id < 6",
        "INSERT INTO users (user_id, name) SELECT u.user_id + 1000000, u.name FROM users u WHERE u.user_id < 6",
        "INSERT INTO users (user_id, name) SELECT order_id + 2000000, status FROM orders WHERE order_id < 6",
        "SELECT COUNT(*) FROM users WHERE user_id > 1000000",
        "ALTER TABLE users ENABLE KEYS",
        "CREATE TABLE locked_new (i INT)",
        "SELECT * FROM cities",
        "UNLOCK TABLES",
        "SELECT user_id, name, score FROM users WHERE user_id >= 900001",
        // A table read while written: locked a second time under an alias.
        "LOCK TABLES users WRITE, users AS src READ",
        "INSERT INTO users (user_id, name) SELECT src.user_id + 4000000, src.name FROM users src WHERE src.user_id < 6",
        "INSERT INTO users (user_id, name) SELECT user_id + 5000000, name FROM users WHERE user_id < 6",
        "SELECT COUNT(*) FROM users WHERE user_id > 4000000",
        "UPDATE users SET score = 7 WHERE user_id > 4000000 ORDER BY user_id LIMIT 3",
        "DELETE FROM users WHERE user_id > 4000000 ORDER BY user_id DESC LIMIT 2",
        "UPDATE users src SET score = 8 ORDER BY user_id LIMIT 1",
        "SELECT user_id, score FROM users WHERE user_id > 4000000",
        "UNLOCK TABLES",
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
        "LOCK TABLES settings READ",
        "LOCK TABLES no_such_db.t READ",
        "SELECT COUNT(*) FROM orders",
        "LOCK TABLES settings READ, no_such_db.t WRITE",
        "SELECT COUNT(*) FROM settings",
        "LOCK TABLES settings AS s1 READ, settings AS s2 WRITE",
        "SELECT COUNT(*) FROM settings s1 JOIN settings s2 USING (k)",
        "UPDATE settings s2 SET v = 'both' WHERE k = 'lock'",
        "UNLOCK TABLES",
        "SELECT COUNT(*) FROM cities",
        "LOCK TABLES users READ, users WRITE",
        "LOCK TABLES diffdb.users READ, diffdb.cities c READ",
        "SELECT COUNT(*) FROM users, cities c",
        "SELECT COUNT(*) FROM diffdb.users",
        "SELECT COUNT(*) FROM diffdb.cities",
        "UNLOCK TABLES",
        // The global read lock: every table readable, no write anywhere.
        "FLUSH TABLES WITH READ LOCK",
        "SELECT COUNT(*) FROM users",
        "SELECT * FROM settings",
        "SELECT COUNT(*) FROM orders o JOIN users u USING (user_id)",
        "UPDATE users SET score = 0 WHERE user_id = 1",
        "UPDATE users SET score = 0",
        "INSERT INTO cities VALUES ('Nowhere', 'XX')",
        "DELETE FROM settings",
        "CREATE TABLE locked_new (i INT)",
        "START TRANSACTION",
        "SELECT COUNT(*) FROM cities",
        "UPDATE orders SET amount = 0",
        "COMMIT",
        "FLUSH TABLES WITH READ LOCK",
        "FLUSH TABLES",
        "UNLOCK TABLES",
        "UPDATE settings SET v = 'after' WHERE k = 'lock'",
        "FLUSH LOCAL TABLES",
        "LOCK TABLES users READ",
        "FLUSH TABLES WITH READ LOCK",
        "UNLOCK TABLES",
        "START TRANSACTION",
        "UPDATE settings SET v = 'in txn' WHERE k = 'lock'",
        "FLUSH NO_WRITE_TO_BINLOG TABLES WITH READ LOCK",
        "ROLLBACK",
        "SELECT * FROM settings WHERE k = 'lock'",
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

/// Two sets and the gateway with `shop.t` (sharded by `id`, ids 1..=20, v = 0)
/// and `shop.b` (broadcast, one row).
async fn shop() -> (Cluster, mysql_async::Conn) {
    let c = Cluster::two_sets_with_gateway().await;
    let mut conn = c.proxy_conn().await.unwrap();
    for sql in [
        "CREATE DATABASE shop",
        "CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id",
        "CREATE TABLE shop.b (k INT PRIMARY KEY, n INT) shardkey=noshardkey_allset",
        "INSERT INTO shop.b VALUES (1, 0)",
    ] {
        conn.query_drop(sql).await.expect(sql);
    }
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 0)")).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    (c, conn)
}

/// Whether a primary of `c` has a statement starting with `prefix` waiting for
/// a lock (a table's metadata lock, the global read lock's backup lock).
async fn waits_for_lock(c: &Cluster, prefix: &str) -> anyhow::Result<bool> {
    for set in c.set_names() {
        let mut p = mysql_async::Conn::new(c.primary(&set).root_opts()).await?;
        let n: Option<i64> = p
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE STATE IN ('Waiting for table metadata lock', 'Waiting for backup lock') \
                 AND INFO LIKE CONCAT(?, '%')",
                (prefix,),
            )
            .await?;
        p.disconnect().await?;
        if n.unwrap_or(0) > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

#[tokio::test]
async fn a_write_lock_holds_another_sessions_write_until_unlock() {
    let (c, mut a) = shop().await;
    a.query_drop("LOCK TABLES shop.t WRITE").await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    let write = tokio::spawn(async move {
        let r = b.query_drop("UPDATE shop.t SET v = v + 1").await;
        (r, b)
    });
    let cl = &c;
    setwise_tests::wait_until(
        "the other session's write to wait for the lock",
        Duration::from_secs(20),
        || async move { waits_for_lock(cl, "UPDATE shop.t").await },
    )
    .await
    .unwrap();
    // The locking session goes on reading and writing its table meanwhile.
    let sum: Option<i64> = a.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(0));
    a.query_drop("UPDATE shop.t SET v = 10 WHERE id IN (1, 2, 3, 4)")
        .await
        .unwrap();
    let err = a.query_drop("SELECT * FROM shop.b").await.unwrap_err();
    assert_eq!(server_error(&err), Some((1100, "HY000".into())), "{err}");
    // Prepared statements too (their metadata is read on the locked connection).
    let v: Option<i64> = a
        .exec_first("SELECT v FROM shop.t WHERE id = ?", (2,))
        .await
        .unwrap();
    assert_eq!(v, Some(10));
    assert!(
        !write.is_finished(),
        "the write ran while the table was locked"
    );
    // Another LOCK TABLES waits at most the session's lock_wait_timeout (1205,
    // as MariaDB), or not at all with NOWAIT, and leaves nothing locked.
    let mut d = c.proxy_conn().await.unwrap();
    d.query_drop("SET SESSION lock_wait_timeout = 1")
        .await
        .unwrap();
    for sql in [
        "LOCK TABLES shop.b READ, shop.t READ",
        "LOCK TABLES shop.t WRITE NOWAIT",
    ] {
        let err = d.query_drop(sql).await.unwrap_err();
        assert_eq!(
            server_error(&err),
            Some((1205, "HY000".into())),
            "{sql}: {err}"
        );
        let n: Option<i64> = d.query_first("SELECT n FROM shop.b").await.unwrap();
        assert_eq!(n, Some(0), "{sql}: nothing stays locked");
    }
    a.query_drop("UNLOCK TABLES").await.unwrap();
    let (r, _b) = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write finishes after UNLOCK TABLES")
        .unwrap();
    r.unwrap();
    // It ran after the locking session's update: 4 × 11 + 16 × 1.
    let sum: Option<i64> = a.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(60));
    // The global read lock holds writes on every set until UNLOCK TABLES.
    a.query_drop("FLUSH TABLES WITH READ LOCK").await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    let write = tokio::spawn(async move {
        let r = b.query_drop("UPDATE shop.t SET v = 0").await;
        (r, b)
    });
    setwise_tests::wait_until(
        "the write to wait for the global read lock",
        Duration::from_secs(20),
        || async move { waits_for_lock(cl, "UPDATE shop.t").await },
    )
    .await
    .unwrap();
    let sum: Option<i64> = a.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(60));
    assert!(!write.is_finished());
    a.query_drop("UNLOCK TABLES").await.unwrap();
    let (r, _b) = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write finishes after UNLOCK TABLES")
        .unwrap();
    r.unwrap();
    // A read lock lets other sessions read and holds their writes; a
    // disconnect releases it.
    a.query_drop("LOCK TABLES shop.t READ, shop.b READ")
        .await
        .unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    let n: Option<i64> = b.query_first("SELECT COUNT(*) FROM shop.t").await.unwrap();
    assert_eq!(n, Some(20));
    let write = tokio::spawn(async move {
        let r = b.query_drop("UPDATE shop.b SET n = n + 1").await;
        (r, b)
    });
    setwise_tests::wait_until(
        "the broadcast write to wait for the read lock",
        Duration::from_secs(20),
        || async move { waits_for_lock(cl, "UPDATE shop.b").await },
    )
    .await
    .unwrap();
    assert!(!write.is_finished());
    drop(a);
    let (r, mut b) = tokio::time::timeout(Duration::from_secs(30), write)
        .await
        .expect("the write finishes once the locking session is gone")
        .unwrap();
    r.unwrap();
    let n: Option<i64> = b.query_first("SELECT n FROM shop.b").await.unwrap();
    assert_eq!(n, Some(1));
}

#[tokio::test]
async fn sessions_locking_the_same_tables_on_every_set_do_not_deadlock() {
    let (c, _conn) = shop().await;
    let mut runs = Vec::new();
    for (s, order) in [
        (0, "shop.t WRITE, shop.b WRITE"),
        (1, "shop.b WRITE, shop.t WRITE"),
    ] {
        let mut k = c.proxy_conn().await.unwrap();
        runs.push(tokio::spawn(async move {
            for i in 0..15 {
                k.query_drop(format!("LOCK TABLES {order}")).await?;
                k.query_drop(format!(
                    "UPDATE shop.t SET v = v + 1 WHERE id = {}",
                    1 + (i + s) % 20
                ))
                .await?;
                k.query_drop("UPDATE shop.b SET n = n + 1").await?;
                k.query_drop("UNLOCK TABLES").await?;
            }
            anyhow::Ok(())
        }));
    }
    for r in runs {
        tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("both sessions finish: no deadlock across sets")
            .unwrap()
            .unwrap();
    }
    let mut k = c.proxy_conn().await.unwrap();
    let sum: Option<i64> = k.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(30));
    let n: Vec<i64> = k.query("SELECT n FROM shop.b").await.unwrap();
    assert_eq!(n, vec![30]);
}

async fn run_cli(args: &[String], stdin: Option<Vec<u8>>) -> std::process::Output {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(args[0].as_str())
        .args(&args[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run the client");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(&input).await.unwrap();
    }
    drop(pipe);
    let o = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the client finished in time")
        .unwrap();
    assert!(
        o.status.success(),
        "{} failed: {}",
        args[0],
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// How many sets the gateway plans `sql` on.
async fn sets_of(c: &Cluster, sql: &str) -> usize {
    let mut k = c.proxy_conn().await.unwrap();
    let rows: Vec<Row> = k.query(format!("EXPLAIN SETWISE {sql}")).await.unwrap();
    let mut sets: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get(1))
        .filter(|s: &String| s != "gateway")
        .collect();
    sets.sort();
    sets.dedup();
    sets.len()
}

/// Waits until the gateway plans `sql` on both sets (the rules declared in etcd
/// reached its routing snapshot).
async fn wait_both_sets(c: &Cluster, sql: &str) {
    setwise_tests::wait_until(
        "the gateway to see the rules",
        Duration::from_secs(15),
        || async move { Ok(sets_of(c, sql).await >= 2) },
    )
    .await
    .unwrap();
}

/// The rows of `sql`, each as text, sorted.
async fn rows_of(k: &mut mysql_async::Conn, sql: &str) -> Vec<String> {
    let rows: Vec<Row> = k.query(sql).await.expect(sql);
    let mut out: Vec<String> = rows
        .into_iter()
        .map(|r| format!("{:?}", r.unwrap()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_default_mariadb_dump_through_the_gateway_restores_through_it() {
    let c = Cluster::two_sets_with_gateway().await;
    let mut k = c.proxy_conn().await.unwrap();
    for sql in [
        "CREATE DATABASE user_db",
        "CREATE TABLE user_db.users (user_id BIGINT PRIMARY KEY, name VARCHAR(64), \
         balance DECIMAL(12,2), created DATETIME(3), note TEXT) shardkey=user_id",
        "CREATE TABLE user_db.orders (order_id BIGINT, user_id BIGINT, amount DECIMAL(10,2), \
         PRIMARY KEY (order_id, user_id)) shardkey=user_id",
        "CREATE TABLE user_db.cities (name VARCHAR(32) PRIMARY KEY, country VARCHAR(32)) \
         shardkey=noshardkey_allset",
        "CREATE TABLE user_db.settings (k VARCHAR(32) PRIMARY KEY, v VARCHAR(64))",
        "INSERT INTO user_db.cities VALUES ('Lyon', 'FR'), ('Kyoto', 'JP'), ('Oslo', NULL)",
        "INSERT INTO user_db.settings VALUES ('mode', 'on'), ('quote', 'it''s \"q\"')",
    ] {
        k.query_drop(sql).await.expect(sql);
    }
    let users: Vec<String> = (1..=300)
        .map(|i| {
            format!(
                "({i}, 'user {i}', {}.{:02}, '2026-01-{:02} 10:00:00.{:03}', {})",
                i * 7,
                i % 100,
                1 + i % 28,
                i,
                if i % 5 == 0 {
                    "NULL".to_string()
                } else {
                    format!("'note\\n{i}'")
                }
            )
        })
        .collect();
    k.query_drop(format!(
        "INSERT INTO user_db.users VALUES {}",
        users.join(",")
    ))
    .await
    .unwrap();
    let orders: Vec<String> = (1..=600)
        .map(|i| format!("({i}, {}, {}.50)", 1 + i % 300, i % 97))
        .collect();
    k.query_drop(format!(
        "INSERT INTO user_db.orders VALUES {}",
        orders.join(",")
    ))
    .await
    .unwrap();
    let connect = |db: &str| {
        vec![
            "--no-defaults".to_string(),
            "--protocol=TCP".into(),
            "-h127.0.0.1".into(),
            format!("-P{}", c.proxy_port()),
            "-uapp".into(),
            "-papp".into(),
            db.to_string(),
        ]
    };
    // mariadb-dump's defaults: LOCK TABLES ... READ LOCAL while dumping, and a
    // dump with DROP TABLE, LOCK TABLES ... WRITE, ALTER TABLE ... DISABLE KEYS.
    let mut args = vec!["mariadb-dump".to_string()];
    args.extend(connect("user_db"));
    let dump = run_cli(&args, None).await.stdout;
    let text = String::from_utf8_lossy(&dump);
    for t in ["users", "orders", "cities", "settings"] {
        assert!(
            text.contains(&format!("LOCK TABLES `{t}` WRITE"))
                && text.contains(&format!("ALTER TABLE `{t}` DISABLE KEYS"))
                && text.contains(&format!("DROP TABLE IF EXISTS `{t}`")),
            "{t} in the dump:\n{text}"
        );
    }
    // --lock-all-tables: FLUSH TABLES, then FLUSH TABLES WITH READ LOCK on
    // every set; the same rows.
    let mut args = vec!["mariadb-dump".to_string()];
    args.extend(connect("user_db"));
    args.insert(args.len() - 1, "--lock-all-tables".into());
    let all = run_cli(&args, None).await.stdout;
    let inserts = |d: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(d)
            .lines()
            .filter(|l| l.starts_with("INSERT INTO"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(inserts(&all), inserts(&dump));
    assert_eq!(inserts(&dump).len(), 4);
    // Restored through the gateway into a new database.
    k.query_drop("CREATE DATABASE user_copy").await.unwrap();
    for (t, rule) in [
        ("users", "--shardkey user_id"),
        ("orders", "--shardkey user_id"),
        ("cities", "--broadcast"),
    ] {
        let name = format!("user_copy.{t}");
        let mut a = vec!["table", "set", name.as_str()];
        a.extend(rule.split(' '));
        let out = c.setwise(&a).await.unwrap();
        assert!(out.status.success(), "setwise {a:?}: {out:?}");
    }
    for t in ["users", "orders"] {
        wait_both_sets(&c, &format!("SELECT * FROM user_copy.{t}")).await;
    }
    let mut args = vec!["mariadb".to_string()];
    args.extend(connect("user_copy"));
    run_cli(&args, Some(dump)).await;
    for t in ["users", "orders", "cities", "settings"] {
        let want = rows_of(&mut k, &format!("SELECT * FROM user_db.{t}")).await;
        let got = rows_of(&mut k, &format!("SELECT * FROM user_copy.{t}")).await;
        assert_eq!(want.len(), got.len(), "{t}: row count");
        assert_eq!(want, got, "{t}: rows");
    }
    // Still sharded (the dump's DROP TABLE IF EXISTS ran before the tables
    // existed), every row on the set of its key: reads by key find them.
    for t in ["users", "orders"] {
        assert_eq!(
            sets_of(&c, &format!("SELECT * FROM user_copy.{t}")).await,
            2,
            "{t}"
        );
    }
    for id in (1..=300).step_by(17) {
        let n: Option<i64> = k
            .query_first(format!(
                "SELECT COUNT(*) FROM user_copy.users WHERE user_id = {id}"
            ))
            .await
            .unwrap();
        assert_eq!(n, Some(1), "user {id}");
        let n: Option<i64> = k
            .query_first(format!(
                "SELECT COUNT(*) FROM user_copy.orders WHERE user_id = {id}"
            ))
            .await
            .unwrap();
        assert_eq!(n, Some(2), "orders of user {id}");
    }
    // The locks were released: another session writes the restored tables.
    let mut other = c.proxy_conn().await.unwrap();
    other
        .query_drop("UPDATE user_copy.users SET name = 'x' WHERE user_id = 1")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lost_locked_connection_releases_every_lock() {
    let (c, mut a) = shop().await;
    a.query_drop("LOCK TABLES shop.t WRITE").await.unwrap();
    // The backend thread holding the lock on the set of key 1.
    let set = c.set_of_key("shop", "t", "1").await;
    let thread: Option<u64> = a
        .query_first("SELECT @@pseudo_thread_id FROM shop.t WHERE id = 1")
        .await
        .unwrap();
    let mut root = c.primary(&set).conn().await.unwrap();
    root.query_drop(format!("KILL CONNECTION {}", thread.unwrap()))
        .await
        .unwrap();
    // The statement that meets the loss gets the error ...
    let err = a
        .query_drop("UPDATE shop.t SET v = 5 WHERE id = 1")
        .await
        .unwrap_err();
    assert!(server_error(&err).is_some(), "{err}");
    // ... and no set keeps a lock: another session writes every row at once.
    let mut b = c.proxy_conn().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        b.query_drop("UPDATE shop.t SET v = v + 1"),
    )
    .await
    .expect("no lock is left on any set")
    .unwrap();
    // The session goes on unlocked.
    let n: Option<i64> = a.query_first("SELECT n FROM shop.b").await.unwrap();
    assert_eq!(n, Some(0));
    let sum: Option<i64> = a.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(20));
}

#[tokio::test]
async fn autocommit_turned_back_on_after_locks_commits_later_writes() {
    let (c, mut a) = shop().await;
    for sql in [
        "SET autocommit = 0",
        "LOCK TABLES shop.t WRITE",
        "UPDATE shop.t SET v = 1 WHERE id IN (1, 2)",
        "COMMIT",
        "UNLOCK TABLES",
        "SET autocommit = 1",
        // On the connections the locks pinned: committed at once.
        "UPDATE shop.t SET v = 2 WHERE id = 1",
        "UPDATE shop.t SET v = 2 WHERE id = 2",
    ] {
        a.query_drop(sql).await.expect(sql);
    }
    let mut b = c.proxy_conn().await.unwrap();
    let v: Vec<(i64, i64)> = b
        .query("SELECT id, v FROM shop.t WHERE id IN (1, 2) ORDER BY id")
        .await
        .unwrap();
    assert_eq!(v, vec![(1, 2), (2, 2)]);
}

/// Tables of `db` some connection holds locked or in use, on any primary.
async fn tables_in_use(c: &Cluster, db: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    for set in c.set_names() {
        let mut p = mysql_async::Conn::new(c.primary(&set).root_opts()).await?;
        let rows: Vec<Row> = p
            .query(format!("SHOW OPEN TABLES FROM {db} WHERE In_use > 0"))
            .await?;
        p.disconnect().await?;
        n += rows.len();
    }
    Ok(n)
}

#[tokio::test]
async fn a_session_killed_while_its_lock_waits_leaves_no_lock_behind() {
    let (c, mut a) = shop().await;
    a.query_drop("LOCK TABLES shop.t WRITE").await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    let b_id: Option<u32> = b.query_first("SELECT CONNECTION_ID()").await.unwrap();
    let waiting = tokio::spawn(async move { b.query_drop("LOCK TABLES shop.t WRITE").await });
    let cl = &c;
    setwise_tests::wait_until(
        "the second LOCK TABLES to wait",
        Duration::from_secs(20),
        || async move { waits_for_lock(cl, "LOCK TABLES").await },
    )
    .await
    .unwrap();
    let mut k = c.proxy_conn().await.unwrap();
    k.query_drop(format!("KILL CONNECTION {}", b_id.unwrap()))
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the killed session's client gets an answer or a closed connection")
        .unwrap();
    assert!(
        r.is_err(),
        "the killed session's LOCK TABLES was answered OK"
    );
    a.query_drop("UNLOCK TABLES").await.unwrap();
    // The killed session's connection does not keep the lock it was waiting
    // for (its backend connection closes instead of going back to a pool).
    setwise_tests::wait_until(
        "no table of shop to stay locked",
        Duration::from_secs(20),
        || async move { Ok(tables_in_use(cl, "shop").await? == 0) },
    )
    .await
    .unwrap();
    tokio::time::timeout(
        Duration::from_secs(30),
        k.query_drop("UPDATE shop.t SET v = 3"),
    )
    .await
    .expect("writes go on")
    .unwrap();
}
