//! The client's identity, as one plain MariaDB (with skip-name-resolve) shows it
//! to the same account: `USER()`, `SESSION_USER()`, `SYSTEM_USER()` are
//! `app@<client address>`, `CURRENT_USER()` / `CURRENT_USER` are
//! `app@127.0.0.0/255.0.0.0` (the account matched: the test user may connect
//! from 127.0.0.0/8), with MariaDB's column names and types; `SHOW GRANTS` shows
//! the gateway user's grants; the backend account appears nowhere (account
//! management and the account tables are refused with 1235).

use mysql_async::prelude::*;
use mysql_async::{Conn, Row};
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;

/// Two sets, the gateway, `shop.t` sharded by id; on set1's primary the same
/// account `app`@`127.0.0.0/255.0.0.0` (password app) with all privileges, to
/// compare with.
async fn cluster() -> (Cluster, Conn, Conn) {
    let c = Cluster::two_sets_with_gateway().await;
    let m = c.primary("set1");
    m.exec(&format!(
        "CREATE USER {APP} IDENTIFIED BY 'app'; GRANT ALL PRIVILEGES ON *.* TO {APP}"
    ))
    .await
    .unwrap();
    let direct = Conn::new(m.opts("app", "app")).await.unwrap();
    let mut gw = c.proxy_conn().await.unwrap();
    gw.query_drop("CREATE DATABASE shop").await.unwrap();
    gw.query_drop("CREATE TABLE shop.t (id INT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    gw.query_drop("INSERT INTO shop.t VALUES (1, 1), (2, 2), (3, 3)")
        .await
        .unwrap();
    (c, direct, gw)
}

const APP: &str = "'app'@'127.0.0.0/255.0.0.0'";

/// Columns (name, type, length, charset, flags, decimals) and rows of `sql`.
type Answer = (Vec<String>, Vec<Vec<Option<String>>>);

async fn answer(conn: &mut Conn, sql: &str) -> Result<Answer, mysql_async::Error> {
    let mut r = conn.query_iter(sql).await?;
    let cols: Vec<String> = r
        .columns()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            format!(
                "{} {:?} {} {} {:?} {}",
                c.name_str(),
                c.column_type(),
                c.column_length(),
                c.character_set(),
                c.flags(),
                c.decimals()
            )
        })
        .collect();
    let rows: Vec<Row> = r.collect().await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r.as_ref(i).and_then(setwise_tests::sql::text))
                .collect()
        })
        .collect();
    Ok((cols, rows))
}

#[tokio::test]
async fn user_functions_and_grants_name_the_gateway_user() {
    let (_c, mut direct, mut gw) = cluster().await;
    for sql in [
        "SELECT USER(), CURRENT_USER(), SESSION_USER(), SYSTEM_USER(), CURRENT_USER, user() AS u",
        "SELECT CONCAT(USER(), '/', current_user) AS who, LENGTH(CURRENT_USER())",
        "SELECT SUBSTRING_INDEX(USER(), '@', 1) = 'app'",
        "SHOW GRANTS",
        "SHOW GRANTS FOR CURRENT_USER",
        "SHOW GRANTS FOR CURRENT_USER()",
        "SHOW GRANTS FOR 'app'@'127.0.0.0/255.0.0.0'",
        "SHOW GRANTS FOR app@`127.0.0.0/255.0.0.0`",
    ] {
        let want = answer(&mut direct, sql).await.unwrap();
        let got = answer(&mut gw, sql).await.unwrap();
        assert_eq!(got, want, "{sql}");
    }
    // Read with a table, on one set and on all.
    let got = answer(&mut gw, "SELECT USER(), id FROM shop.t WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(
        got.1,
        vec![vec![Some("app@127.0.0.1".into()), Some("2".into())]]
    );
    let got = answer(
        &mut gw,
        "SELECT CURRENT_USER() AS cu, id FROM shop.t ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(got.1.len(), 3);
    assert!(got
        .1
        .iter()
        .all(|r| r[0].as_deref() == Some("app@127.0.0.0/255.0.0.0")));
    // In a user variable and a write.
    gw.query_drop("SET @who = USER()").await.unwrap();
    let who: Option<String> = gw.query_first("SELECT @who").await.unwrap();
    assert_eq!(who.as_deref(), Some("app@127.0.0.1"));
    // Another account's grants: the same error as MariaDB for an unknown host of
    // this user, a clear refusal for other accounts.
    for sql in [
        "SHOW GRANTS FOR app@localhost",
        "SHOW GRANTS FOR app",
        "SHOW GRANTS FOR root@localhost",
    ] {
        let e = gw.query_drop(sql).await.unwrap_err();
        let want = if sql.contains("root") { 1235 } else { 1141 };
        assert_eq!(server_error(&e).map(|(c, _)| c), Some(want), "{sql}: {e}");
        assert!(!e.to_string().contains("setwise_proxy"), "{e}");
    }
    for sql in ["SHOW GRANTS FOR app@localhost", "SHOW GRANTS FOR app"] {
        let e = direct.query_drop(sql).await.unwrap_err();
        let g = gw.query_drop(sql).await.unwrap_err();
        assert_eq!(g.to_string(), e.to_string());
    }
}

#[tokio::test]
async fn the_backend_account_is_never_shown() {
    let (c, _direct, mut gw) = cluster().await;
    let mut other = c.proxy_conn().await.unwrap();
    other.query_drop("SELECT 1").await.unwrap();
    for sql in [
        "SELECT USER(), CURRENT_USER(), SESSION_USER(), SYSTEM_USER(), CURRENT_USER",
        "SHOW GRANTS",
        "SHOW PROCESSLIST",
        "SHOW FULL PROCESSLIST",
        "SELECT * FROM information_schema.PROCESSLIST",
        "SELECT USER, HOST, ID FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Daemon'",
        "SELECT p.user FROM information_schema.processlist p",
    ] {
        let (_, rows) = answer(&mut gw, sql).await.unwrap();
        let text = format!("{rows:?}");
        assert!(!text.contains("setwise_proxy"), "{sql}: {text}");
        assert!(!rows.is_empty(), "{sql}");
    }
    // The processlist shows the gateway's connections of this user.
    let id: Option<u32> = gw.query_first("SELECT CONNECTION_ID()").await.unwrap();
    let rows: Vec<(u64, String)> = gw
        .query("SELECT ID, USER FROM information_schema.PROCESSLIST ORDER BY ID")
        .await
        .unwrap();
    assert!(
        rows.iter()
            .any(|(i, u)| *i == id.unwrap() as u64 && u == "app"),
        "{rows:?}"
    );
    assert!(rows.len() >= 2, "{rows:?}");
}

#[tokio::test]
async fn account_management_is_not_forwarded() {
    let (c, _direct, mut gw) = cluster().await;
    for sql in [
        "SET PASSWORD = PASSWORD('x')",
        "SET PASSWORD FOR 'app'@'%' = PASSWORD('x')",
        "GRANT SELECT ON *.* TO 'app'@'%'",
        "REVOKE ALL PRIVILEGES ON *.* FROM 'setwise_proxy'@'%'",
        "CREATE USER 'u2'@'%'",
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'x'",
        "DROP USER 'setwise_proxy'@'%'",
        "RENAME USER 'setwise_proxy'@'%' TO 'x'@'%'",
        "SHOW CREATE USER setwise_proxy",
        "SELECT user, host FROM mysql.user",
        "SELECT * FROM `mysql`.`global_priv`",
        "SELECT GRANTEE FROM information_schema.USER_PRIVILEGES",
    ] {
        let e = gw.query_drop(sql).await.unwrap_err();
        assert_eq!(server_error(&e).map(|(c, _)| c), Some(1235), "{sql}: {e}");
    }
    // The gateway still reaches every set as before.
    let mut fresh = c.proxy_conn().await.unwrap();
    let n: Option<i64> = fresh
        .query_first("SELECT COUNT(*) FROM shop.t")
        .await
        .unwrap();
    assert_eq!(n, Some(3));
}
