//! Schema statements migrations send, through the gateway on two sets:
//! * `RENAME TABLE` / `ALTER TABLE ... RENAME`: sharded, broadcast and single
//!   tables keep their placement under the new name (queries route as before,
//!   topo's record follows, the old name is gone); a swap through a third name;
//!   a move into a database whose rows live elsewhere is refused with 1235.

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::sql::{rows, server_error};
use setwise_tests::Cluster;
use topo::TableKind;

type Rows = Vec<Vec<Option<String>>>;

async fn q(conn: &mut Conn, sql: &str) -> Rows {
    rows(conn, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn exec(conn: &mut Conn, sql: &str) {
    conn.query_drop(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The error code a statement fails with (panics if it succeeds).
async fn err(conn: &mut Conn, sql: &str) -> (u16, String) {
    let e = conn
        .query_drop(sql)
        .await
        .expect_err(&format!("{sql} should fail"));
    server_error(&e).unwrap_or_else(|| panic!("{sql}: not a server error: {e}"))
}

fn one(v: &str) -> Rows {
    vec![vec![Some(v.to_string())]]
}

/// Two sets, the gateway, and database `shop` with a sharded `t` (ids 1..=20),
/// a broadcast `b` and a single `s` (3 rows each).
async fn shop() -> (Cluster, Conn) {
    let c = Cluster::two_sets_with_gateway().await;
    let mut conn = c.proxy_conn().await.unwrap();
    for sql in [
        "CREATE DATABASE shop",
        "USE shop",
        "CREATE TABLE t (id BIGINT PRIMARY KEY, v INT) shardkey=id",
        "CREATE TABLE b (id INT PRIMARY KEY, name VARCHAR(20)) shardkey=noshardkey_allset",
        "CREATE TABLE s (id INT PRIMARY KEY, note VARCHAR(20))",
        "INSERT INTO b VALUES (1, 'one'), (2, 'two'), (3, 'three')",
        "INSERT INTO s VALUES (1, 'x'), (2, 'y'), (3, 'z')",
    ] {
        exec(&mut conn, sql).await;
    }
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, {i})")).collect();
    exec(
        &mut conn,
        &format!("INSERT INTO t VALUES {}", values.join(",")),
    )
    .await;
    (c, conn)
}

async fn kind(c: &Cluster, db: &str, table: &str) -> Option<TableKind> {
    c.topo().get_table(db, table).await.unwrap().map(|t| t.kind)
}

/// Tables named `name` in `shop` on each set's primary.
async fn on_sets(c: &Cluster, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for set in ["set1", "set2"] {
        let n = c
            .primary(set)
            .scalar(&format!(
                "SELECT COUNT(*) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = '{name}'"
            ))
            .await
            .unwrap()
            .unwrap();
        out.push(n);
    }
    out
}

#[tokio::test]
async fn rename_keeps_each_kind_of_table_where_it_is() {
    let (c, mut conn) = shop().await;
    exec(&mut conn, "RENAME TABLE t TO t2, b TO b2").await;
    exec(&mut conn, "ALTER TABLE s RENAME TO s2").await;
    // Routing follows: the sharded table scatters and pins, the others answer.
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*), SUM(v) FROM t2").await,
        vec![vec![Some("20".into()), Some("210".into())]]
    );
    assert_eq!(
        q(&mut conn, "SELECT v FROM t2 WHERE id = 17").await,
        one("17")
    );
    assert_eq!(
        q(&mut conn, "SELECT name FROM b2 WHERE id = 2").await,
        one("two")
    );
    assert_eq!(
        q(&mut conn, "SELECT note FROM s2 WHERE id = 3").await,
        one("z")
    );
    exec(&mut conn, "INSERT INTO t2 VALUES (21, 21), (22, 22)").await;
    assert_eq!(q(&mut conn, "SELECT COUNT(*) FROM t2").await, one("22"));
    // The old names are gone, as on one server.
    for old in ["t", "b", "s"] {
        let e = err(&mut conn, &format!("SELECT * FROM {old}")).await;
        assert_eq!(e, (1146, "42S02".into()), "{old}");
    }
    // topo: the kinds moved with the names.
    assert!(matches!(
        kind(&c, "shop", "t2").await,
        Some(TableKind::Sharded { ref key, .. }) if key == "id"
    ));
    assert_eq!(kind(&c, "shop", "b2").await, Some(TableKind::Broadcast));
    assert_eq!(kind(&c, "shop", "t").await, None);
    assert_eq!(kind(&c, "shop", "b").await, None);
    // Each set holds what it held before.
    assert_eq!(on_sets(&c, "t2").await, ["1", "1"]);
    assert_eq!(on_sets(&c, "b2").await, ["1", "1"]);
    assert_eq!(on_sets(&c, "s2").await, ["1", "0"]);
    assert_eq!(on_sets(&c, "t").await, ["0", "0"]);

    // A swap through a third name: the sharded and the single table trade names.
    exec(&mut conn, "RENAME TABLE t2 TO tmp, s2 TO t2, tmp TO s2").await;
    assert_eq!(q(&mut conn, "SELECT COUNT(*) FROM s2").await, one("22"));
    assert_eq!(q(&mut conn, "SELECT COUNT(*) FROM t2").await, one("3"));
    assert!(matches!(
        kind(&c, "shop", "s2").await,
        Some(TableKind::Sharded { .. })
    ));
    assert_eq!(kind(&c, "shop", "t2").await, Some(TableKind::Single));
    assert_eq!(kind(&c, "shop", "tmp").await, None);
    assert_eq!(on_sets(&c, "t2").await, ["1", "0"]);
    assert_eq!(on_sets(&c, "s2").await, ["1", "1"]);

    // Another database with the same shard map: the sharded table moves there.
    exec(&mut conn, "CREATE DATABASE shop2").await;
    exec(
        &mut conn,
        "ALTER TABLE shop.s2 ADD COLUMN w INT, RENAME AS shop2.big",
    )
    .await;
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*), COUNT(w) FROM shop2.big").await,
        vec![vec![Some("22".into()), Some("0".into())]]
    );
    assert!(matches!(
        kind(&c, "shop2", "big").await,
        Some(TableKind::Sharded { .. })
    ));
    // A database on one set only: the sharded rows could not follow.
    c.create_db("solo", &["set2"]).await.unwrap();
    let cl = &c;
    setwise_tests::wait_until(
        "the gateway to see `solo`",
        std::time::Duration::from_secs(10),
        || async move {
            let mut k = cl.proxy_conn().await?;
            Ok(k.query_drop("USE solo").await.is_ok())
        },
    )
    .await
    .unwrap();
    let e = err(&mut conn, "RENAME TABLE shop2.big TO solo.big").await;
    assert_eq!(e.0, 1235);
    // ... nor the single table (home set1, solo's is set2).
    let e = err(&mut conn, "RENAME TABLE shop.t2 TO solo.t2").await;
    assert_eq!(e.0, 1235);
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*) FROM shop2.big").await,
        one("22")
    );
}
