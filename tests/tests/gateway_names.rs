//! Database and table names MariaDB accepts — dots, spaces, quotes, backticks,
//! slashes, percent signs, Unicode — work through the gateway as on one plain
//! MariaDB (CREATE / INSERT / SELECT / UPDATE / SHOW CREATE TABLE / DROP,
//! sharded, broadcast and single), and are recorded in etcd; names MariaDB
//! refuses get MariaDB's error (1102 / 1103, 42000), never "etcd is
//! unreachable".

use mysql_async::prelude::Queryable;
use setwise_tests::diff::{Diff, Q};

/// `name` as a quoted identifier.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

const DB: &str = "we.ird db/\"x\" %2F";

const TABLES: [&str; 8] = [
    "inspectdb_special.table name",
    "\"quoted\"",
    "back`tick",
    "a/b\\c",
    "ünïcødé 表",
    "%2E",
    "..",
    "t",
];

#[tokio::test]
async fn any_name_mariadb_accepts_works_and_is_recorded() {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    let db = ident(DB);
    d.group("create database");
    let sql = format!("CREATE DATABASE {db}");
    d.pair(&sql, &sql).await.unwrap();
    assert!(
        d.cluster().topo().get_db(DB).await.unwrap().is_some(),
        "the database is recorded in etcd"
    );
    let sql = format!("USE {db}");
    d.pair(&sql, &sql).await.unwrap();
    for (i, name) in TABLES.iter().enumerate() {
        // Qualified, and in the current database.
        let t = if i % 2 == 0 {
            format!("{db}.{}", ident(name))
        } else {
            ident(name)
        };
        let option = ["shardkey=id", "shardkey=noshardkey_allset", ""][i % 3];
        d.group(&format!("table {name:?} ({option})"));
        let ddl = format!("CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(10))");
        d.pair(&format!("{ddl} {option}"), &ddl).await.unwrap();
        if !option.is_empty() {
            assert!(
                d.cluster()
                    .topo()
                    .get_table(DB, name)
                    .await
                    .unwrap()
                    .is_some(),
                "table {name:?} is recorded in etcd"
            );
        }
        let qs = [
            Q::any(format!(
                "INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')"
            )),
            Q::exact(format!("SELECT * FROM {t} WHERE id = 3")),
            Q::exact(format!("SELECT * FROM {t} ORDER BY id")),
            Q::exact(format!("SELECT v, id FROM {t} ORDER BY v DESC LIMIT 2")),
            Q::any(format!("UPDATE {t} SET v = 'z' WHERE id = 4")),
            Q::any(format!("DELETE FROM {t} WHERE id = 5")),
            Q::exact(format!("SELECT COUNT(*), MAX(v) FROM {t}")),
            Q::exact(format!("SELECT id FROM {t} WHERE id = ?")).bin(vec![4.into()]),
            Q::any(format!("SHOW TABLES FROM {db}")),
        ];
        d.run_all(&qs).await.unwrap();
        // SHOW CREATE TABLE: MariaDB's, with the gateway's shard option.
        let show = format!("SHOW CREATE TABLE {t}");
        let got: Option<(String, String)> = d.gw.query_first(&show).await.unwrap();
        let want: Option<(String, String)> = d.rf.query_first(&show).await.unwrap();
        let (want, got) = (want.unwrap(), got.unwrap());
        assert_eq!(got.0, *name);
        let suffix = if option.is_empty() {
            String::new()
        } else {
            format!(" {option}")
        };
        assert_eq!(got.1, format!("{}{suffix}", want.1), "{show}");
        let sql = format!("DROP TABLE {t}");
        d.pair(&sql, &sql).await.unwrap();
    }
    d.group("names MariaDB refuses");
    for sql in [
        format!("CREATE TABLE {db}.`a ` (id INT PRIMARY KEY) shardkey=id"),
        format!("CREATE TABLE {db}.`` (id INT PRIMARY KEY)"),
        format!(
            "CREATE TABLE {db}.`{}` (id INT PRIMARY KEY)",
            "x".repeat(65)
        ),
        "CREATE DATABASE `a `".to_string(),
        "CREATE DATABASE ``".to_string(),
    ] {
        let rf = sql.replace(" shardkey=id", "");
        d.pair(&sql, &rf).await.unwrap();
    }
    d.group("drop database");
    let sql = format!("DROP DATABASE {db}");
    d.pair(&sql, &sql).await.unwrap();
    assert!(d.cluster().topo().get_db(DB).await.unwrap().is_none());
    d.finish();
}
