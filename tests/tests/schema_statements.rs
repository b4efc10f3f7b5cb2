//! Schema statements migrations send, through the gateway on two sets:
//! * `RENAME TABLE` / `ALTER TABLE ... RENAME`: sharded, broadcast and single
//!   tables keep their placement under the new name (queries route as before,
//!   topo's record follows, the old name is gone); a swap through a third name;
//!   a move into a database whose rows live elsewhere is refused with 1235; a
//!   renamed shard-key column renames the record's key, dropping it is refused;
//! * views over single, broadcast and sharded tables answer as MariaDB (a view
//!   over a sharded table scatters and pins by the key it shows); views that
//!   would be wrong on some set are refused with 1235; SHOW CREATE VIEW, SHOW
//!   FULL TABLES and information_schema.VIEWS see them; DROP VIEW;
//! * a stored function on every set, called in a scatter query; a procedure on
//!   the home set, `CALL` with a result set and an OUT parameter (text and
//!   prepared); a trigger firing on every set of a sharded table; refusals;
//!   the `mariadb` client's DELIMITER script.

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
    // The shard key column renamed: the record's key follows (with a table rename too).
    exec(&mut conn, "ALTER TABLE shop2.big RENAME COLUMN id TO bid").await;
    assert!(matches!(
        kind(&c, "shop2", "big").await,
        Some(TableKind::Sharded { ref key, .. }) if key == "bid"
    ));
    exec(&mut conn, "INSERT INTO shop2.big (bid, v) VALUES (23, 23)").await;
    assert_eq!(
        q(&mut conn, "SELECT v FROM shop2.big WHERE bid = 23").await,
        one("23")
    );
    exec(
        &mut conn,
        "ALTER TABLE shop2.big CHANGE bid id BIGINT NOT NULL, RENAME TO shop2.big2",
    )
    .await;
    assert!(matches!(
        kind(&c, "shop2", "big2").await,
        Some(TableKind::Sharded { ref key, .. }) if key == "id"
    ));
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*) FROM shop2.big2 WHERE id > 0").await,
        one("23")
    );
    // ... but not dropped, nor made a type that routes differently.
    for sql in [
        "ALTER TABLE shop2.big2 DROP COLUMN id",
        "ALTER TABLE shop2.big2 MODIFY id VARCHAR(20) NOT NULL",
    ] {
        assert_eq!(err(&mut conn, sql).await.0, 1235, "{sql}");
    }
    exec(&mut conn, "ALTER TABLE shop2.big2 RENAME AS shop2.big").await;
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
        one("23")
    );
}

async fn count_on(c: &Cluster, sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    for set in ["set1", "set2"] {
        out.push(
            c.primary(set)
                .scalar(sql)
                .await
                .unwrap()
                .unwrap_or_default(),
        );
    }
    out
}

fn strs(rows: &[&[&str]]) -> Rows {
    setwise_tests::sql::expect(rows)
}

#[tokio::test]
async fn views_over_each_kind_of_table() {
    let (c, mut conn) = shop().await;
    // Single: on the home set, routed there.
    exec(
        &mut conn,
        "CREATE VIEW vs AS SELECT id, note FROM s WHERE id > 1",
    )
    .await;
    assert_eq!(
        q(&mut conn, "SELECT * FROM vs ORDER BY id").await,
        strs(&[&["2", "y"], &["3", "z"]])
    );
    assert_eq!(on_sets(&c, "vs").await, ["1", "0"]);
    // Broadcast: on every set.
    exec(
        &mut conn,
        "CREATE VIEW vb AS SELECT id, UPPER(name) AS uname FROM b",
    )
    .await;
    assert_eq!(kind(&c, "shop", "vb").await, Some(TableKind::Broadcast));
    assert_eq!(on_sets(&c, "vb").await, ["1", "1"]);
    assert_eq!(
        q(&mut conn, "SELECT uname FROM vb WHERE id = 3").await,
        one("THREE")
    );
    // Sharded: keyed by the name it shows the shard key under.
    exec(
        &mut conn,
        "CREATE VIEW vt (k, val) AS SELECT id, v * 10 FROM t WHERE v > 5",
    )
    .await;
    assert!(matches!(
        kind(&c, "shop", "vt").await,
        Some(TableKind::Sharded { ref key, .. }) if key == "k"
    ));
    assert_eq!(on_sets(&c, "vt").await, ["1", "1"]);
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*), SUM(val) FROM vt").await,
        strs(&[&["15", "1950"]])
    );
    assert_eq!(
        q(&mut conn, "SELECT val FROM vt WHERE k = 17").await,
        one("170")
    );
    assert_eq!(
        q(&mut conn, "SELECT k FROM vt ORDER BY val DESC LIMIT 3").await,
        strs(&[&["20"], &["19"], &["18"]])
    );
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*) FROM vt JOIN t ON t.id = vt.k").await,
        one("15")
    );
    // Prepared statements read it like a table too.
    let v: Vec<(i64,)> = conn
        .exec("SELECT val FROM vt WHERE k = ?", (12,))
        .await
        .unwrap();
    assert_eq!(v, vec![(120,)]);
    let v: Vec<(i64,)> = conn
        .exec(
            "SELECT k FROM vt WHERE val > ? ORDER BY k LIMIT ?",
            (150, 2),
        )
        .await
        .unwrap();
    assert_eq!(v, vec![(16,), (17,)]);
    // Sharded joined with broadcast, the key under an alias.
    exec(
        &mut conn,
        "CREATE VIEW vtb AS SELECT t.id AS tid, b.name FROM t JOIN b ON b.id = t.id",
    )
    .await;
    assert_eq!(
        q(&mut conn, "SELECT tid, name FROM vtb ORDER BY tid").await,
        strs(&[&["1", "one"], &["2", "two"], &["3", "three"]])
    );
    // Views that would be wrong on some set.
    for sql in [
        "CREATE VIEW va AS SELECT COUNT(*) AS n FROM t",
        "CREATE VIEW vl AS SELECT id FROM t ORDER BY id LIMIT 3",
        "CREATE VIEW vd AS SELECT DISTINCT v FROM t",
        "CREATE VIEW vm AS SELECT t.id FROM t JOIN s ON s.id = t.id",
        "CREATE VIEW vn AS SELECT v FROM t",
        "CREATE VIEW vu AS SELECT id FROM t UNION ALL SELECT id FROM s",
    ] {
        assert_eq!(err(&mut conn, sql).await, (1235, "42000".into()), "{sql}");
    }
    // What clients read about views.
    let create = q(&mut conn, "SHOW CREATE VIEW vt").await;
    assert_eq!(create[0][0].as_deref(), Some("vt"));
    assert!(create[0][1].as_deref().unwrap_or("").contains("VIEW `vt`"));
    assert_eq!(
        q(&mut conn, "SHOW FULL TABLES WHERE Table_type = 'VIEW'").await,
        strs(&[
            &["vb", "VIEW"],
            &["vs", "VIEW"],
            &["vt", "VIEW"],
            &["vtb", "VIEW"]
        ])
    );
    assert_eq!(
        q(
            &mut conn,
            "SELECT TABLE_NAME FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = 'shop' ORDER BY TABLE_NAME"
        )
        .await,
        strs(&[&["vb"], &["vs"], &["vt"], &["vtb"]])
    );
    // Replaced by a view of another kind: it moves.
    exec(
        &mut conn,
        "CREATE OR REPLACE VIEW vs AS SELECT id, v FROM t",
    )
    .await;
    assert_eq!(on_sets(&c, "vs").await, ["1", "1"]);
    assert_eq!(q(&mut conn, "SELECT COUNT(*) FROM vs").await, one("20"));
    exec(&mut conn, "ALTER VIEW vb AS SELECT id FROM s").await;
    assert_eq!(on_sets(&c, "vb").await, ["1", "0"]);
    // Renamed like a table: its record follows.
    exec(&mut conn, "RENAME TABLE vtb TO vtb2").await;
    assert!(matches!(
        kind(&c, "shop", "vtb2").await,
        Some(TableKind::Sharded { ref key, .. }) if key == "tid"
    ));
    assert_eq!(
        q(&mut conn, "SELECT name FROM vtb2 WHERE tid = 2").await,
        one("two")
    );
    // Dropped everywhere.
    exec(&mut conn, "DROP VIEW vt, vb").await;
    assert_eq!(on_sets(&c, "vt").await, ["0", "0"]);
    assert_eq!(kind(&c, "shop", "vt").await, None);
    assert_eq!(err(&mut conn, "SELECT * FROM vt").await.0, 1146);
    exec(&mut conn, "DROP VIEW IF EXISTS vt").await;
}

#[tokio::test]
async fn functions_procedures_and_triggers() {
    let (c, mut conn) = shop().await;
    // A function on every set, called by a scatter.
    exec(
        &mut conn,
        "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
    )
    .await;
    let routines = "SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop'";
    assert_eq!(count_on(&c, routines).await, ["1", "1"]);
    assert_eq!(
        q(&mut conn, "SELECT SUM(twice(v)) FROM t").await,
        one("420")
    );
    assert_eq!(
        q(&mut conn, "SELECT twice(v) FROM t WHERE id = 7").await,
        one("14")
    );
    let e = err(
        &mut conn,
        "CREATE FUNCTION n_t() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM t)",
    )
    .await;
    assert_eq!(e.0, 1235);
    // A procedure on the home set: a result set and an OUT parameter.
    exec(
        &mut conn,
        "CREATE PROCEDURE notes(IN lo INT, OUT n INT) BEGIN \
           SELECT id, note FROM s WHERE id >= lo ORDER BY id; \
           SELECT COUNT(*) INTO n FROM s; \
         END",
    )
    .await;
    assert_eq!(count_on(&c, routines).await, ["2", "1"]);
    let rows: Vec<(i32, String)> = conn.query("CALL notes(2, @n)").await.unwrap();
    assert_eq!(rows, vec![(2, "y".into()), (3, "z".into())]);
    assert_eq!(q(&mut conn, "SELECT @n").await, one("3"));
    let rows: Vec<(i32, String)> = conn.exec("CALL notes(?, @m)", (3,)).await.unwrap();
    assert_eq!(rows, vec![(3, "z".into())]);
    assert_eq!(q(&mut conn, "SELECT @m + 1").await, one("4"));
    // Several result sets, as MariaDB sends them.
    exec(
        &mut conn,
        "CREATE PROCEDURE two() BEGIN SELECT 1 AS a; SELECT note FROM s ORDER BY id; END",
    )
    .await;
    let mut res = conn.query_iter("CALL two()").await.unwrap();
    let first: Vec<i64> = res.collect().await.unwrap();
    let second: Vec<String> = res.collect().await.unwrap();
    drop(res);
    assert_eq!(first, vec![1]);
    assert_eq!(second, vec!["x", "y", "z"]);
    exec(&mut conn, "DROP PROCEDURE two").await;
    for sql in [
        "CREATE PROCEDURE bump() UPDATE t SET v = v + 1",
        "CREATE PROCEDURE copy() INSERT INTO b VALUES (9, 'nine')",
    ] {
        assert_eq!(err(&mut conn, sql).await.0, 1235, "{sql}");
    }
    // A trigger on a sharded table fires on every set.
    exec(
        &mut conn,
        "CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.v = NEW.v * 100",
    )
    .await;
    let triggers = "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'";
    assert_eq!(count_on(&c, triggers).await, ["1", "1"]);
    let values: Vec<String> = (101..=120).map(|i| format!("({i}, 1)")).collect();
    exec(
        &mut conn,
        &format!("INSERT INTO t VALUES {}", values.join(",")),
    )
    .await;
    assert_eq!(
        q(&mut conn, "SELECT COUNT(*), SUM(v) FROM t WHERE id > 100").await,
        strs(&[&["20", "2000"]])
    );
    let fired = count_on(&c, "SELECT COUNT(*) FROM shop.t WHERE id > 100 AND v = 100").await;
    assert!(
        fired.iter().all(|n| n != "0"),
        "rows on each set: {fired:?}"
    );
    let e = err(
        &mut conn,
        "CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO s VALUES (NEW.id, 'x')",
    )
    .await;
    assert_eq!(e.0, 1235);
    // A trigger on a broadcast table: every copy.
    exec(
        &mut conn,
        "CREATE TRIGGER b_bi BEFORE INSERT ON b FOR EACH ROW SET NEW.name = CONCAT(NEW.name, '!')",
    )
    .await;
    exec(&mut conn, "INSERT INTO b VALUES (4, 'four')").await;
    assert_eq!(
        count_on(&c, "SELECT name FROM shop.b WHERE id = 4").await,
        ["four!", "four!"]
    );
    exec(&mut conn, "DROP TRIGGER b_bi").await;
    // A trigger on a single table: the home set.
    exec(
        &mut conn,
        "CREATE TRIGGER s_bi BEFORE INSERT ON s FOR EACH ROW SET NEW.note = UPPER(NEW.note)",
    )
    .await;
    assert_eq!(count_on(&c, triggers).await, ["2", "1"]);
    exec(&mut conn, "INSERT INTO s VALUES (4, 'w')").await;
    assert_eq!(
        q(&mut conn, "SELECT note FROM s WHERE id = 4").await,
        one("W")
    );
    // Dropped where they are.
    exec(&mut conn, "DROP TRIGGER t_bi").await;
    exec(&mut conn, "DROP TRIGGER s_bi").await;
    assert_eq!(count_on(&c, triggers).await, ["0", "0"]);
    exec(&mut conn, "DROP FUNCTION twice").await;
    exec(&mut conn, "DROP PROCEDURE notes").await;
    assert_eq!(count_on(&c, routines).await, ["0", "0"]);
    assert_eq!(err(&mut conn, "DROP PROCEDURE notes").await.0, 1305);
    exec(&mut conn, "DROP PROCEDURE IF EXISTS notes").await;
}

/// The `mariadb` client with `DELIMITER`: the procedure's body arrives as one
/// statement, is created on the home set and runs there.
#[tokio::test]
async fn the_mariadb_client_creates_and_calls_a_procedure() {
    use tokio::io::AsyncWriteExt;
    let (c, _conn) = shop().await;
    let script = "USE shop;\n\
                  DELIMITER //\n\
                  CREATE PROCEDURE cnt(OUT n INT)\n\
                  BEGIN\n  DECLARE x INT DEFAULT 0;\n  SELECT COUNT(*) INTO x FROM s;\n  SET n = x * 10;\nEND//\n\
                  DELIMITER ;\n\
                  CALL cnt(@n);\n\
                  SELECT @n AS n;\n";
    let mut child = tokio::process::Command::new("mariadb")
        .args([
            "--no-defaults",
            "--protocol=TCP",
            "-h127.0.0.1",
            "-uapp",
            "-papp",
        ])
        .arg(format!("-P{}", c.proxy_port()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run mariadb");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).await.unwrap();
    drop(stdin);
    let o = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("mariadb finished in time")
        .unwrap();
    assert!(
        o.status.success(),
        "mariadb failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "n\n30\n");
}

/// A sharded CREATE TABLE with a column's `CHARSET x` (MariaDB's short form of
/// `CHARACTER SET x`, which sqlparser cannot read) is sharded on every set.
#[tokio::test]
async fn a_column_charset_in_a_sharded_create_table() {
    let (c, mut conn) = shop().await;
    exec(
        &mut conn,
        "CREATE TABLE cs (id BIGINT PRIMARY KEY, s VARCHAR(10) CHARSET latin1, \
         k CHAR(3) CHARSET utf8mb4 COLLATE utf8mb4_bin) DEFAULT CHARSET=utf8mb4 shardkey=id",
    )
    .await;
    assert_eq!(on_sets(&c, "cs").await, ["1", "1"]);
    assert!(matches!(
        kind(&c, "shop", "cs").await,
        Some(TableKind::Sharded { .. })
    ));
    exec(
        &mut conn,
        "INSERT INTO cs VALUES (1, 'é', 'x'), (2, 'b', 'y')",
    )
    .await;
    assert_eq!(
        q(&mut conn, "SELECT HEX(s) FROM cs ORDER BY id").await,
        vec![vec![Some("E9".to_string())], vec![Some("62".to_string())]]
    );
}

/// `CREATE TABLE IF NOT EXISTS` of a table the sets hold changes nothing — not
/// its routing record either: a text key recorded with the older hashing by
/// case keeps it (its rows were placed by it), though a new table would get
/// collation weights.
#[tokio::test]
async fn create_if_not_exists_keeps_an_existing_tables_key_hashing() {
    let (c, mut conn) = shop().await;
    let ddl = "CREATE TABLE IF NOT EXISTS tk (k VARCHAR(20) PRIMARY KEY, v INT) \
               CHARSET utf8mb4 shardkey=k";
    exec(&mut conn, ddl).await;
    assert!(matches!(
        kind(&c, "shop", "tk").await,
        Some(TableKind::Sharded {
            key_type: topo::KeyType::Weighted { .. },
            ..
        })
    ));
    // As a table created before weights were recorded.
    let legacy = TableKind::Sharded {
        key: "k".into(),
        key_type: topo::KeyType::Text,
    };
    c.topo()
        .put_table(&topo::TableRecord {
            db: "shop".into(),
            name: "tk".into(),
            kind: legacy.clone(),
        })
        .await
        .unwrap();
    // The gateway refuses a write beyond ASCII to such a key once it knows.
    setwise_tests::wait_until(
        "the gateway to see the older record",
        std::time::Duration::from_secs(15),
        || async {
            let mut k = c.proxy_conn().await?;
            let r = k.query_drop("INSERT INTO shop.tk VALUES ('Ä', 1)").await;
            k.disconnect().await?;
            Ok(matches!(r, Err(mysql_async::Error::Server(e)) if e.code == 1235))
        },
    )
    .await
    .unwrap();
    exec(&mut conn, ddl).await;
    assert_eq!(kind(&c, "shop", "tk").await, Some(legacy));
    assert_eq!(
        server_error(
            &conn
                .query_drop("INSERT INTO tk VALUES ('é', 2)")
                .await
                .unwrap_err()
        )
        .unwrap()
        .0,
        1235
    );
}

/// `SHOW TABLE STATUS`: a sharded table's rows are its sets' added up (after
/// ANALYZE, InnoDB's count of a small table is exact), a broadcast or single
/// table's are one copy's; `LIKE` and `FROM db` as MariaDB.
#[tokio::test]
async fn table_status_adds_up_a_sharded_tables_sets() {
    let (c, mut conn) = shop().await;
    exec(&mut conn, "ANALYZE TABLE t, b, s").await;
    let status = q(&mut conn, "SHOW TABLE STATUS").await;
    let rows_of = |name: &str| {
        status
            .iter()
            .find(|r| r[0].as_deref() == Some(name))
            .and_then(|r| r[4].clone())
    };
    assert_eq!(rows_of("t").as_deref(), Some("20"), "{status:?}");
    assert_eq!(rows_of("b").as_deref(), Some("3"));
    assert_eq!(rows_of("s").as_deref(), Some("3"));
    for set in ["set1", "set2"] {
        let n: u64 = c
            .primary(set)
            .scalar("SELECT COUNT(*) FROM shop.t")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        assert!(n < 20, "both sets hold some of t: {set} has {n}");
    }
    let like = q(&mut conn, "SHOW TABLE STATUS FROM shop LIKE 't'").await;
    assert_eq!(like.len(), 1);
    assert_eq!(like[0][4].as_deref(), Some("20"));
}
