//! Executable comments (`/*! ... */`, `/*!NNNNN ... */`, `/*M!NNNNNN ... */`)
//! through the gateway and on one plain MariaDB: what MariaDB runs, the gateway
//! routes by what it runs (a hidden INSERT into a sharded table by its key, in
//! both protocols and inside a multi-statement text), what MariaDB skips (a
//! MySQL 5.7+ number, a number above 10.11) stays a comment; then a real
//! `mariadb-dump` of a database on the plain MariaDB (sharded, broadcast, a
//! trigger, a view) restored through the gateway with the `mariadb` client, the
//! tables declared beforehand with `setwise table set`, compared row for row
//! (the dump's own options: its DROP TABLE IF EXISTS runs before the table
//! exists, its LOCK TABLES ... WRITE around each table's rows).

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Row, Value};
use setwise_tests::diff::data::Data;
use setwise_tests::diff::{Diff, Q};
use setwise_tests::Cluster;

fn comments() -> Vec<Q> {
    let key = |id: i64| format!("SELECT user_id, name FROM users WHERE user_id = {id}");
    vec![
        // Alone: MariaDB runs it (was 1065 Query was empty through the gateway).
        Q::any("/*! INSERT INTO users (user_id, name) VALUES (900001, 'c1') */"),
        Q::any(key(900001)),
        Q::any("/*!40101 INSERT INTO users (user_id, name) VALUES (900002, 'c2') */"),
        Q::any(key(900002)),
        Q::any("/*M!100100 INSERT INTO users (user_id, name) VALUES (900003, 'c3') */"),
        Q::any(key(900003)),
        // Rows of several sets in one hidden multi-row INSERT, split by key.
        Q::any(
            "INSERT INTO users (user_id, name) /*!40000 VALUES (900004, 'c4'), (900005, 'c5'), \
             (900006, 'c6'), (900007, 'c7') */",
        ),
        Q::any("SELECT user_id FROM users WHERE user_id IN (900004, 900005, 900006, 900007)"),
        Q::any(key(900005)),
        Q::any(key(900006)),
        // What MariaDB skips stays a comment: a MySQL 5.7+ number, a later version.
        Q::any("/*!50700 INSERT INTO users (user_id, name) VALUES (900008, 'no') */"),
        Q::any("/*!80016 INSERT INTO users (user_id, name) VALUES (900008, 'no') */"),
        Q::any("/*!101200 INSERT INTO users (user_id, name) VALUES (900008, 'no') */"),
        Q::any("/*M!999999 INSERT INTO users (user_id, name) VALUES (900008, 'no') */"),
        Q::any("/* INSERT INTO users (user_id, name) VALUES (900008, 'no') */"),
        Q::any("/*+ NO_ICP(users) */ SELECT COUNT(*) FROM users WHERE user_id = 900008"),
        Q::any(key(900008)),
        // Inside a multi-statement text: every part runs.
        Q::any(
            "INSERT INTO users (user_id, name) VALUES (900009, 'm1'); \
             /*!40101 INSERT INTO users (user_id, name) VALUES (900010, 'm2') */; \
             /*! UPDATE users SET name = 'm3' WHERE user_id = 900001 */",
        ),
        Q::any("SELECT COUNT(*) FROM users; /*!99999 INSERT INTO users VALUES (1) */"),
        Q::any("SELECT 1; /* only a comment */; SELECT 2"),
        Q::any("/* only */ ; INSERT INTO users (user_id, name) VALUES (900012, 'never')"),
        Q::any(key(900012)),
        Q::any(";"),
        Q::any(" "),
        Q::any(key(900009)),
        Q::any(key(900010)),
        Q::any(key(900001)),
        // Hidden UPDATE / DELETE by key, hidden reads merged across sets.
        Q::any("/*! UPDATE users SET name = 'u2' WHERE user_id = 900002 */"),
        Q::any(key(900002)),
        Q::any("/*!40000 DELETE FROM users WHERE user_id = 900003 */"),
        Q::any(key(900003)),
        Q::any("SELECT /*! COUNT(*), */ MAX(user_id) FROM users"),
        Q::exact("/*! SELECT user_id FROM users ORDER BY user_id DESC LIMIT 3 */"),
        Q::any("SELECT COUNT(*) FROM users WHERE user_id >= 900000 /*!99999 AND 0 */"),
        // Prepared statements: the `?` inside count.
        Q::any("INSERT INTO users (user_id, name) /*! VALUES (?, ?) */")
            .bin(vec![Value::Int(900011), Value::from("p1")]),
        Q::any("/*! SELECT name FROM users WHERE user_id = ? */").bin(vec![Value::Int(900011)]),
        Q::any(key(900011)),
        // SQL-level PREPARE of a hidden write to a sharded table: by its key or
        // refused, never pinned to one set.
        Q::any(
            "PREPARE hidden FROM '/*! INSERT INTO users (user_id, name) \
             VALUES (900013, ''sp'') */'",
        )
        .or_unsupported(),
        Q::any("EXECUTE hidden"),
        Q::any(key(900013)),
        Q::any("PREPARE hidden2 FROM '/*!40101 SELECT COUNT(*) FROM settings */'"),
        Q::any("EXECUTE hidden2"),
        // Session state set in a comment is the session's.
        Q::any("/*!40103 SET TIME_ZONE = '+05:00' */"),
        Q::any("SELECT @@time_zone"),
        Q::any("/*!40101 SET NAMES latin1 */"),
        Q::any("SELECT @@character_set_client, @@character_set_results"),
        Q::any("/*!40101 SET NAMES utf8mb4 */"),
        Q::any("/*!40101 SET @saved = 'kept' */"),
        Q::any("SELECT @saved"),
        Q::any("/*!40101 SET @OLD_SQL_MODE = @@SQL_MODE, SQL_MODE = 'NO_AUTO_VALUE_ON_ZERO' */"),
        Q::any("SELECT @@sql_mode"),
        Q::any("/*!40101 SET SQL_MODE = @OLD_SQL_MODE */"),
        Q::any("SELECT @@sql_mode"),
        // Hidden DDL goes through the DDL path (on every set of a sharded table).
        Q::any("/*!40000 ALTER TABLE users DISABLE KEYS */"),
        Q::any("/*!40000 ALTER TABLE users ENABLE KEYS */"),
        Q::any("/*!40101 ALTER TABLE users ADD COLUMN extra INT */"),
        Q::any("SELECT COUNT(extra) FROM users"),
        Q::any("/*!40101 ALTER TABLE users DROP COLUMN extra */"),
        // Errors read as MariaDB reads them.
        Q::any("/*! SELEC 1 */"),
        Q::any("/*!40101 */"),
        Q::any("SELECT 1 /*! + 1"),
    ]
}

/// The tables on the plain MariaDB that the dump is taken of.
const SOURCE: [&str; 10] = [
    "CREATE DATABASE dumpdb",
    "CREATE TABLE dumpdb.accounts (id BIGINT PRIMARY KEY, name VARCHAR(32), \
     balance DECIMAL(10,2)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE dumpdb.events (id BIGINT, account_id BIGINT, kind VARCHAR(16), \
     PRIMARY KEY (id, account_id)) ENGINE=InnoDB",
    "CREATE TABLE dumpdb.countries (code CHAR(2) PRIMARY KEY, name VARCHAR(32))",
    "CREATE TRIGGER dumpdb.acc_upper BEFORE INSERT ON dumpdb.accounts FOR EACH ROW \
     SET NEW.name = UPPER(NEW.name)",
    "CREATE VIEW dumpdb.rich AS SELECT id, name FROM dumpdb.accounts WHERE balance > 500",
    "INSERT INTO dumpdb.countries VALUES ('fr', 'France'), ('de', 'Germany'), ('it', 'Italy')",
    "INSERT INTO dumpdb.accounts SELECT seq, CONCAT('acct', seq), seq * 7 % 1000 \
     FROM seq_1_to_300",
    "INSERT INTO dumpdb.events SELECT seq, seq % 300 + 1, ELT(seq % 3 + 1, 'a', 'b', 'c') \
     FROM seq_1_to_900",
    "UPDATE dumpdb.accounts SET name = 'it''s /*! not */ -- sql' WHERE id = 7",
];

const DUMP_CHECKS: [&str; 8] = [
    "SELECT * FROM dumpdb.accounts",
    "SELECT * FROM dumpdb.events",
    "SELECT * FROM dumpdb.countries",
    "SELECT * FROM dumpdb.rich",
    "SELECT COUNT(*), SUM(balance) FROM dumpdb.accounts",
    "SELECT kind, COUNT(*) FROM dumpdb.events GROUP BY kind",
    "SELECT name FROM dumpdb.accounts WHERE id = 7",
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS \
     WHERE TRIGGER_SCHEMA = 'dumpdb'",
];

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

/// Waits until the gateway plans `sql` on both sets (the rules declared in etcd
/// reached its routing snapshot).
async fn wait_both_sets(c: &Cluster, sql: &str) {
    setwise_tests::wait_until(
        "the gateway to see the rules",
        Duration::from_secs(15),
        || async {
            let mut k = c.proxy_conn().await?;
            let rows: Vec<Row> = k.query(format!("EXPLAIN SETWISE {sql}")).await?;
            k.disconnect().await?;
            let mut sets: Vec<String> = rows.iter().filter_map(|r| r.get(1)).collect();
            sets.sort();
            sets.dedup();
            Ok(sets.len() >= 2)
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn executable_comments_match_a_plain_mariadb() {
    let data = Data::generate(20_261_207, 200, 600);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d.group("executable comments");
    d.run_all(&comments()).await.unwrap();
    d.compare_tables().await.unwrap();

    // A mariadb-dump of the plain MariaDB, restored through the gateway.
    for sql in SOURCE {
        d.rf.query_drop(sql).await.expect(sql);
    }
    let rf_port = d.rf.opts().tcp_port().to_string();
    let dump = run_cli(
        &[
            "mariadb-dump".into(),
            "--no-defaults".into(),
            "--protocol=TCP".into(),
            "-h127.0.0.1".into(),
            format!("-P{rf_port}"),
            "-uroot".into(),
            "--triggers".into(),
            "--databases".into(),
            "dumpdb".into(),
        ],
        None,
    )
    .await
    .stdout;
    let text = String::from_utf8_lossy(&dump);
    assert!(text.contains("/*!40101 SET") && text.contains("/*!50003 CREATE*/"));
    let c = d.cluster();
    let mut gw = c.proxy_conn().await.unwrap();
    gw.query_drop("CREATE DATABASE dumpdb").await.unwrap();
    for (t, rule) in [
        ("accounts", "--shardkey id"),
        ("events", "--shardkey account_id"),
        ("countries", "--broadcast"),
    ] {
        let mut args = vec!["table", "set"];
        let name = format!("dumpdb.{t}");
        args.push(&name);
        args.extend(rule.split(' '));
        let out = c.setwise(&args).await.unwrap();
        assert!(out.status.success(), "setwise {args:?}: {out:?}");
    }
    wait_both_sets(c, "SELECT * FROM dumpdb.accounts").await;
    wait_both_sets(c, "SELECT * FROM dumpdb.events").await;
    wait_both_sets(c, "DELETE FROM dumpdb.countries").await;
    run_cli(
        &[
            "mariadb".into(),
            "--no-defaults".into(),
            "--protocol=TCP".into(),
            "-h127.0.0.1".into(),
            format!("-P{}", c.proxy_port()),
            "-uapp".into(),
            "-papp".into(),
        ],
        Some(dump),
    )
    .await;
    d.group("mariadb-dump restored through the gateway");
    let checks: Vec<Q> = DUMP_CHECKS.iter().map(|s| Q::any(*s)).collect();
    d.run_all(&checks).await.unwrap();
    // Every row on the set owning its key: reads pinned by key find them all.
    let pinned: Vec<Q> = (1..=300)
        .step_by(23)
        .map(|id| Q::any(format!("SELECT * FROM dumpdb.accounts WHERE id = {id}")))
        .chain((1..=300).step_by(31).map(|id| {
            Q::any(format!(
                "SELECT COUNT(*) FROM dumpdb.events WHERE account_id = {id}"
            ))
        }))
        .collect();
    d.run_all(&pinned).await.unwrap();
    // The restored trigger fires on every set.
    d.run_all(&[
        Q::any("INSERT INTO dumpdb.accounts VALUES (1001, 'lower', 1), (1002, 'case', 900)"),
        Q::any("SELECT * FROM dumpdb.accounts WHERE id IN (1001, 1002)"),
        Q::any("SELECT * FROM dumpdb.rich WHERE id > 1000"),
    ])
    .await
    .unwrap();
    d.finish();
}
