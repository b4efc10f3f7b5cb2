//! Session behaviour applications rely on without thinking, as one plain MariaDB
//! gives it (issue 10, items 2–4):
//! * a `SAVEPOINT` that opens a transaction (autocommit off) holds, on every set
//!   the transaction touches — also sets it reaches only after the savepoint;
//!   `RELEASE`, unknown names (1305), names compared case-insensitively;
//! * session state never travels between sessions through pooled connections:
//!   a `SET` or `USE` inside a transaction, a user variable assigned inside a
//!   `SELECT`, with many sessions sharing the pools at once;
//! * `SET SESSION TRANSACTION ISOLATION LEVEL` / `READ ONLY` hold for the
//!   session (also set inside a transaction), `SET TRANSACTION` for the next
//!   transaction only (1568 inside one), `WITH CONSISTENT SNAPSHOT` takes each
//!   set's snapshot at the start.

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;

/// Two sets, no replicas, the gateway, and `app.t` (sharded by `id`) with ids
/// 1..=20, `v = 0`.
async fn app() -> (Cluster, Conn) {
    let c = Cluster::two_sets_with_gateway().await;
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE app").await.unwrap();
    conn.query_drop("CREATE TABLE app.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE app.single (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 0)")).collect();
    conn.query_drop(format!("INSERT INTO app.t VALUES {}", values.join(",")))
        .await
        .unwrap();
    (c, conn)
}

/// One id of `app.t` held by each set: (id on set1, id on set2).
async fn ids_on_each_set(c: &Cluster) -> (i64, i64) {
    let mut ids = Vec::new();
    for set in ["set1", "set2"] {
        let id = c
            .primary(set)
            .scalar("SELECT MIN(id) FROM app.t")
            .await
            .unwrap()
            .expect("each set holds rows")
            .parse()
            .unwrap();
        ids.push(id);
    }
    (ids[0], ids[1])
}

async fn err_of(conn: &mut Conn, sql: &str) -> (u16, String) {
    let e = conn.query_drop(sql).await.expect_err(sql);
    server_error(&e).unwrap_or_else(|| panic!("{sql}: not a server error: {e}"))
}

async fn iso(conn: &mut Conn) -> String {
    conn.query_first::<String, _>("SELECT @@tx_isolation")
        .await
        .unwrap()
        .unwrap()
}

async fn count(conn: &mut Conn, sql: &str) -> i64 {
    conn.query_first::<i64, _>(sql).await.unwrap().unwrap()
}

#[tokio::test]
async fn savepoints_hold_on_every_set() {
    let (c, mut conn) = app().await;
    let (a, b) = ids_on_each_set(&c).await;

    // The case: the savepoint is the transaction's first statement.
    conn.query_drop("SET autocommit = 0").await.unwrap();
    conn.query_drop("SAVEPOINT s1").await.unwrap();
    conn.query_drop("INSERT INTO app.t VALUES (1001, 1)")
        .await
        .unwrap();
    conn.query_drop("ROLLBACK TO SAVEPOINT s1").await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM app.t WHERE id = 1001").await,
        0
    );
    conn.query_drop("COMMIT").await.unwrap();

    // A set that joins after the savepoint is rolled back to it too; the set
    // that was there before keeps what it did before the savepoint.
    conn.query_drop(format!("UPDATE app.t SET v = 1 WHERE id = {a}"))
        .await
        .unwrap();
    conn.query_drop("SAVEPOINT `Sp 2`").await.unwrap();
    conn.query_drop(format!("UPDATE app.t SET v = 2 WHERE id = {a}"))
        .await
        .unwrap();
    conn.query_drop(format!("UPDATE app.t SET v = 2 WHERE id = {b}"))
        .await
        .unwrap();
    conn.query_drop("ROLLBACK WORK TO `sp 2`").await.unwrap();
    // The savepoint stays after a rollback to it.
    conn.query_drop(format!("UPDATE app.t SET v = 3 WHERE id = {b}"))
        .await
        .unwrap();
    conn.query_drop("ROLLBACK TO SAVEPOINT `SP 2`")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    let rows: Vec<(i64, i64)> = conn
        .query(format!(
            "SELECT id, v FROM app.t WHERE id IN ({a}, {b}) ORDER BY id"
        ))
        .await
        .unwrap();
    let mut want = vec![(a, 1), (b, 0)];
    want.sort();
    assert_eq!(rows, want);
    conn.query_drop("COMMIT").await.unwrap();

    // RELEASE removes it and the later ones; unknown names are 1305.
    conn.query_drop("SAVEPOINT x").await.unwrap();
    conn.query_drop("SAVEPOINT y").await.unwrap();
    conn.query_drop("RELEASE SAVEPOINT X").await.unwrap();
    assert_eq!(
        err_of(&mut conn, "ROLLBACK TO SAVEPOINT y").await,
        (1305, "42000".into())
    );
    assert_eq!(
        err_of(&mut conn, "RELEASE SAVEPOINT nope").await,
        (1305, "42000".into())
    );
    conn.query_drop("ROLLBACK").await.unwrap();

    // With autocommit on and no transaction, a savepoint is accepted and forgotten.
    conn.query_drop("SET autocommit = 1").await.unwrap();
    conn.query_drop("SAVEPOINT s1").await.unwrap();
    assert_eq!(
        err_of(&mut conn, "ROLLBACK TO SAVEPOINT s1").await,
        (1305, "42000".into())
    );
    // Inside BEGIN on a single table (the home set) and a sharded one at once.
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("SAVEPOINT s").await.unwrap();
    conn.query_drop("INSERT INTO app.single VALUES (1, 1)")
        .await
        .unwrap();
    conn.query_drop(format!("UPDATE app.t SET v = 9 WHERE id IN ({a}, {b})"))
        .await
        .unwrap();
    conn.query_drop("ROLLBACK TO s").await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM app.single").await, 0);
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM app.t WHERE v = 9").await,
        0
    );
}

/// What a pooled backend connection would show another session.
async fn state(conn: &mut Conn) -> (i64, Option<i64>, Option<String>) {
    conn.query_first::<(i64, Option<i64>, Option<String>), _>(
        "SELECT @@foreign_key_checks, @rn, DATABASE()",
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn session_state_never_travels_between_sessions() {
    let (c, mut setup) = app().await;
    setup.query_drop("CREATE DATABASE other").await.unwrap();
    // Each round: one session changes its backend connections' state in the ways
    // that used to leak; then fresh sessions with the state it started from must
    // see exactly their own state, on every set.
    for round in 0..3 {
        let mut a = c.proxy_conn().await.unwrap();
        a.query_drop("USE app").await.unwrap();
        a.query_drop("SET FOREIGN_KEY_CHECKS = 0, @rn = 0")
            .await
            .unwrap();
        match round {
            0 => {
                // SET inside a transaction (the case).
                a.query_drop("BEGIN").await.unwrap();
                a.query_drop("SELECT COUNT(*) FROM t").await.unwrap();
                a.query_drop("SET FOREIGN_KEY_CHECKS = 1").await.unwrap();
                a.query_drop("COMMIT").await.unwrap();
                assert_eq!(state(&mut a).await.0, 1);
            }
            1 => {
                // USE inside a transaction.
                a.query_drop("BEGIN").await.unwrap();
                a.query_drop("SELECT COUNT(*) FROM t").await.unwrap();
                a.query_drop("USE other").await.unwrap();
                a.query_drop("ROLLBACK").await.unwrap();
                assert_eq!(state(&mut a).await.2.as_deref(), Some("other"));
            }
            _ => {
                // A user variable assigned inside a SELECT.
                a.query_drop("SELECT @rn := @rn + 1 AS rn, id FROM t WHERE id = 3")
                    .await
                    .unwrap();
                // No row: nothing assigned, as on one server.
                a.query_drop("SELECT @rn := 100 FROM single").await.unwrap();
                assert_eq!(state(&mut a).await.1, Some(1));
            }
        }
        drop(a);
        for _ in 0..4 {
            let mut b = c.proxy_conn().await.unwrap();
            b.query_drop("USE app").await.unwrap();
            b.query_drop("SET FOREIGN_KEY_CHECKS = 0, @rn = 0")
                .await
                .unwrap();
            assert_eq!(
                state(&mut b).await,
                (0, Some(0), Some("app".into())),
                "round {round}"
            );
            b.query_drop("BEGIN").await.unwrap();
            let rows: Vec<(i64, i64, Option<i64>)> = b
                .query("SELECT id, @@foreign_key_checks, @rn FROM t ORDER BY id")
                .await
                .unwrap();
            assert_eq!(rows.len(), 20);
            assert!(
                rows.iter().all(|r| r.1 == 0 && r.2 == Some(0)),
                "round {round}: {rows:?}"
            );
            b.query_drop("COMMIT").await.unwrap();
        }
    }
}

#[tokio::test]
async fn many_sessions_keep_their_own_state() {
    let (c, _setup) = app().await;
    let pool = c.proxy_pool();
    let tasks: Vec<_> = (0..8i64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut conn = pool.get_conn().await.unwrap();
                // Sessions pair up on the same state, so they share pools.
                let (mode, shared) = if i % 2 == 0 {
                    ("ANSI_QUOTES", 0)
                } else {
                    ("", 1)
                };
                conn.query_drop(format!("SET @me = {shared}, sql_mode = '{mode}'"))
                    .await
                    .unwrap();
                for n in 0..15i64 {
                    let in_txn = n % 2 == 0;
                    let mut me = shared;
                    if in_txn {
                        // A SET inside a transaction: on the pinned connections.
                        me = 10 + i * 100 + n;
                        conn.query_drop("BEGIN").await.unwrap();
                        conn.query_drop("SELECT COUNT(*) FROM app.t").await.unwrap();
                        conn.query_drop(format!("SET @me = {me}")).await.unwrap();
                    }
                    let rows: Vec<(i64, Option<i64>, String)> = conn
                        .query("SELECT id, @me, @@sql_mode FROM app.t ORDER BY id")
                        .await
                        .unwrap();
                    assert_eq!(rows.len(), 20);
                    for r in &rows {
                        assert_eq!((r.1, r.2.as_str()), (Some(me), mode), "session {i}");
                    }
                    // The binary protocol too.
                    let got: Option<i64> = conn.exec_first("SELECT @me", ()).await.unwrap();
                    assert_eq!(got, Some(me), "session {i}");
                    if in_txn {
                        conn.query_drop(if n % 4 == 0 { "COMMIT" } else { "ROLLBACK" })
                            .await
                            .unwrap();
                        conn.query_drop(format!("SET @me = {shared}"))
                            .await
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn isolation_level_and_access_mode_hold() {
    let (c, mut a) = app().await;
    let mut b = c.proxy_conn().await.unwrap();
    assert_eq!(iso(&mut a).await, "REPEATABLE-READ");
    a.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await
        .unwrap();
    assert_eq!(iso(&mut a).await, "READ-COMMITTED");
    let p: Option<String> = a.exec_first("SELECT @@tx_isolation", ()).await.unwrap();
    assert_eq!(p.as_deref(), Some("READ-COMMITTED"));

    // READ COMMITTED: a transaction sees another session's commit.
    let read = "SELECT SUM(v) FROM app.t";
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(count(&mut a, read).await, 0);
    b.query_drop("UPDATE app.t SET v = 1").await.unwrap();
    assert_eq!(count(&mut a, read).await, 20);
    // Allowed inside a transaction with SESSION, as in MariaDB.
    a.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    // Without SESSION: next transaction only, refused inside one.
    assert_eq!(
        err_of(&mut a, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED").await,
        (1568, "25001".into())
    );
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(iso(&mut a).await, "REPEATABLE-READ");

    // REPEATABLE READ: it does not.
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(count(&mut a, read).await, 20);
    b.query_drop("UPDATE app.t SET v = 2").await.unwrap();
    assert_eq!(count(&mut a, read).await, 20);
    a.query_drop("COMMIT").await.unwrap();

    // SET TRANSACTION: the next transaction only.
    a.query_drop("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .await
        .unwrap();
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(count(&mut a, read).await, 40);
    b.query_drop("UPDATE app.t SET v = 3").await.unwrap();
    assert_eq!(count(&mut a, read).await, 60);
    a.query_drop("COMMIT").await.unwrap();
    a.query_drop("BEGIN").await.unwrap();
    assert_eq!(count(&mut a, read).await, 60);
    b.query_drop("UPDATE app.t SET v = 4").await.unwrap();
    assert_eq!(count(&mut a, read).await, 60);
    a.query_drop("COMMIT").await.unwrap();

    // Access mode for the session, by statement and by variable.
    a.query_drop("SET SESSION TRANSACTION READ ONLY")
        .await
        .unwrap();
    assert_eq!(
        err_of(&mut a, "UPDATE app.t SET v = 5 WHERE id = 1").await,
        (1792, "25006".into())
    );
    let ro: Option<i64> = a.query_first("SELECT @@tx_read_only").await.unwrap();
    assert_eq!(ro, Some(1));
    a.query_drop("SET @@session.tx_read_only = 0")
        .await
        .unwrap();
    a.query_drop("UPDATE app.t SET v = 5 WHERE id = 1")
        .await
        .unwrap();

    // WITH CONSISTENT SNAPSHOT: every set's snapshot is taken at the start, before
    // the transaction reads anything.
    a.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        .await
        .unwrap();
    b.query_drop("UPDATE app.t SET v = 10").await.unwrap();
    assert_eq!(count(&mut a, read).await, 4 * 19 + 5);
    a.query_drop("COMMIT").await.unwrap();
    assert_eq!(count(&mut a, read).await, 200);
}

#[tokio::test]
async fn user_variables_assigned_by_statements_stay_with_the_session() {
    let (c, mut a) = app().await;
    let mut direct = c.primary("set1").conn().await.unwrap();
    a.query_drop("USE app").await.unwrap();
    a.query_drop("SELECT @i := 5, @d := 1.50, @f := 0.1e0, @s := 'café', @n := NULL")
        .await
        .unwrap();
    a.query_drop("SELECT id, v INTO @x, @y FROM t WHERE id = 7")
        .await
        .unwrap();
    a.exec_drop("SELECT @p := ? FROM t WHERE id = ?", (42, 3))
        .await
        .unwrap();
    let check = "SELECT @i, @d, @f, @s, @n, @x, @y, @p, @i + 1, CONCAT(@s, '!')";
    let got: mysql_async::Row = a.query_first(check).await.unwrap().unwrap();
    // The same values and types as on one MariaDB connection.
    direct
        .query_drop("SELECT @i := 5, @d := 1.50, @f := 0.1e0, @s := 'café', @n := NULL, @x := 7, @y := 0, @p := 42")
        .await
        .unwrap();
    let want: mysql_async::Row = direct.query_first(check).await.unwrap().unwrap();
    assert_eq!(got.clone().unwrap(), want.clone().unwrap());
    let types = |r: &mysql_async::Row| {
        r.columns_ref()
            .iter()
            .map(|c| (c.column_type(), c.character_set(), c.decimals()))
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&got), types(&want));

    // Each set would assign its own value: refused, never a wrong numbering.
    let e = a
        .query_drop("SELECT @rn := @rn + 1 AS rn, id FROM t ORDER BY id")
        .await
        .unwrap_err();
    assert_eq!(server_error(&e), Some((1235, "42000".into())));
}

/// The session's backend thread on the set named-lock statements run on.
async fn lock_holder(conn: &mut Conn) -> Option<i64> {
    conn.query_first::<Option<i64>, _>("SELECT IS_USED_LOCK('migrations')")
        .await
        .unwrap()
        .flatten()
}

#[tokio::test]
async fn named_locks_and_prepared_statements_stay_on_the_session() {
    let (c, mut setup) = app().await;
    setup.query_drop("CREATE DATABASE other").await.unwrap();
    setup
        .query_drop("INSERT INTO app.single VALUES (1, 1), (2, 2)")
        .await
        .unwrap();
    let mut a = c.proxy_conn().await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    a.query_drop("USE app").await.unwrap();
    b.query_drop("USE other").await.unwrap();

    // A lock taken by one session is seen by every other, whatever its database.
    let got: Option<i64> = a
        .query_first("SELECT GET_LOCK('migrations', 0)")
        .await
        .unwrap();
    assert_eq!(got, Some(1));
    let holder = lock_holder(&mut a).await.expect("held");
    let got: Option<i64> = b
        .query_first("SELECT GET_LOCK('migrations', 0)")
        .await
        .unwrap();
    assert_eq!(got, Some(0), "another session holds it");
    // The holder works on as usual — reads, a transaction across sets, SETs —
    // and keeps the lock on the same backend connection throughout.
    a.query_drop("SET @x = 1, sql_mode = 'ANSI_QUOTES'")
        .await
        .unwrap();
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE t SET v = v + 1").await.unwrap();
    a.query_drop("UPDATE single SET v = v + 1").await.unwrap();
    a.query_drop("COMMIT").await.unwrap();
    let n: Option<i64> = a.query_first("SELECT SUM(v) FROM t").await.unwrap();
    assert_eq!(n, Some(20));
    assert_eq!(lock_holder(&mut a).await, Some(holder));
    let mode: Option<String> = a.query_first("SELECT @@sql_mode").await.unwrap();
    assert_eq!(mode.as_deref(), Some("ANSI_QUOTES"));
    let got: Option<i64> = a
        .query_first("SELECT RELEASE_LOCK('migrations')")
        .await
        .unwrap();
    assert_eq!(got, Some(1), "released by its holder");
    let got: Option<i64> = b
        .query_first("SELECT GET_LOCK('migrations', 0)")
        .await
        .unwrap();
    assert_eq!(got, Some(1));
    // A session that ends frees its locks.
    drop(b);
    let cl = &c;
    setwise_tests::wait_until(
        "the lock of a closed session to be freed",
        std::time::Duration::from_secs(10),
        || async move {
            let mut d = cl.proxy_conn().await?;
            let got: Option<i64> = d.query_first("SELECT IS_FREE_LOCK('migrations')").await?;
            Ok(got == Some(1))
        },
    )
    .await
    .unwrap();

    // SQL-level prepared statements live on the session's connection.
    a.query_drop("PREPARE s FROM 'SELECT SUM(v) FROM single WHERE id > ?'")
        .await
        .unwrap();
    a.query_drop("SET @lo = 0").await.unwrap();
    for _ in 0..3 {
        let n: Option<i64> = a.query_first("EXECUTE s USING @lo").await.unwrap();
        assert_eq!(n, Some(5));
    }
    a.query_drop("BEGIN").await.unwrap();
    let n: Option<i64> = a.query_first("EXECUTE s USING @lo").await.unwrap();
    assert_eq!(n, Some(5));
    a.query_drop("COMMIT").await.unwrap();
    a.query_drop("DEALLOCATE PREPARE s").await.unwrap();
    // Over a sharded table: held by the gateway, executed over every set.
    a.query_drop("PREPARE s2 FROM 'SELECT COUNT(*) FROM t WHERE id > ?'")
        .await
        .unwrap();
    let all = count(&mut a, "SELECT COUNT(*) FROM t WHERE id > 0").await;
    let n: Option<i64> = a.query_first("EXECUTE s2 USING @lo").await.unwrap();
    assert_eq!(n, Some(all));
    a.query_drop("DEALLOCATE PREPARE s2").await.unwrap();
    assert_eq!(
        err_of(&mut a, "EXECUTE s2 USING @lo").await,
        (1243, "HY000".into())
    );
}

#[tokio::test]
async fn temporary_tables_live_with_their_session() {
    let (c, mut setup) = app().await;
    setup
        .query_drop("INSERT INTO app.single VALUES (1, 10), (2, 20)")
        .await
        .unwrap();
    let mut a = c.proxy_conn().await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    a.query_drop("USE app").await.unwrap();
    b.query_drop("USE app").await.unwrap();
    a.query_drop("CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, w INT)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO tmp VALUES (1, 100), (2, 200)")
        .await
        .unwrap();
    // Sharded reads and writes in between use other connections; the temporary
    // table stays.
    a.query_drop("UPDATE t SET v = 1 WHERE id IN (1, 2, 3)")
        .await
        .unwrap();
    let rows: Vec<(i64, i64, i64)> = a
        .query("SELECT s.id, s.v, x.w FROM single s JOIN tmp x ON x.id = s.id ORDER BY s.id")
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, 10, 100), (2, 20, 200)]);
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("UPDATE tmp SET w = w + 1").await.unwrap();
    a.query_drop("UPDATE t SET v = 2").await.unwrap();
    a.query_drop("ROLLBACK").await.unwrap();
    let sum: Option<i64> = a.query_first("SELECT SUM(w) FROM tmp").await.unwrap();
    assert_eq!(sum, Some(300));
    a.query_drop("CREATE TEMPORARY TABLE tmp2 AS SELECT id, v FROM single")
        .await
        .unwrap();
    let n: Option<i64> = a.query_first("SELECT COUNT(*) FROM tmp2").await.unwrap();
    assert_eq!(n, Some(2));
    // Another session does not see them.
    let e = b.query_drop("SELECT * FROM tmp").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1146, "42S02".into())));
    // Refused rather than wrong: over sharded rows, or hiding a sharded table.
    assert_eq!(
        err_of(&mut a, "CREATE TEMPORARY TABLE tmp3 AS SELECT * FROM t").await,
        (1235, "42000".into())
    );
    assert_eq!(
        err_of(&mut a, "CREATE TEMPORARY TABLE t (id INT)").await,
        (1235, "42000".into())
    );
    // Joined with the sharded table: the other sets cannot see it (was 1146).
    assert_eq!(
        err_of(&mut a, "SELECT t.id, x.w FROM t JOIN tmp x ON x.id = t.id").await,
        (1235, "42000".into())
    );
    // Schema statements on it run where it lives.
    a.query_drop("CREATE INDEX tmp_w ON tmp (w)").await.unwrap();
    a.query_drop("ALTER TABLE tmp ADD COLUMN z INT")
        .await
        .unwrap();
    a.query_drop("TRUNCATE TABLE tmp2").await.unwrap();
    a.query_drop("DROP TABLE tmp2").await.unwrap();
    let e = a.query_drop("SELECT * FROM tmp2").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1146, "42S02".into())));
    let z: Vec<Option<i64>> = a.query("SELECT z FROM tmp").await.unwrap();
    assert_eq!(z, vec![None, None]);
    a.query_drop("DROP TEMPORARY TABLE tmp").await.unwrap();
    let e = a.query_drop("SELECT * FROM tmp").await.unwrap_err();
    assert_eq!(server_error(&e), Some((1146, "42S02".into())));
}

#[tokio::test]
async fn set_expressions_keep_the_value_they_had() {
    let (_c, mut a) = app().await;
    a.query_drop("SET @a = 1").await.unwrap();
    a.query_drop("SET @b = @a + 1, @t = NOW(6)").await.unwrap();
    a.query_drop("SET @a = 5").await.unwrap();
    let first: (i64, i64, String) = a.query_first("SELECT @a, @b, @t").await.unwrap().unwrap();
    assert_eq!((first.0, first.1), (5, 2));
    // Every set, on connections opened later, sees the same values.
    let rows: Vec<(i64, i64, String)> = a
        .query("SELECT @a, @b, @t FROM app.t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| *r == first), "{rows:?} vs {first:?}");
    // mysqldump's pattern: a variable saved, changed, restored, the save reused.
    a.query_drop("SET @saved_cs_client = @@character_set_client")
        .await
        .unwrap();
    a.query_drop("SET character_set_client = latin1")
        .await
        .unwrap();
    a.query_drop("SET character_set_client = @saved_cs_client")
        .await
        .unwrap();
    a.query_drop("SET @saved_cs_client = NULL").await.unwrap();
    let cs: Vec<String> = a
        .query("SELECT @@character_set_client FROM app.t")
        .await
        .unwrap();
    assert_eq!(cs.len(), 20);
    assert!(cs.iter().all(|c| c == "utf8mb4"), "{cs:?}");
    // sql_mode built from itself is applied once, not once per new connection.
    a.query_drop("SET sql_mode = ''").await.unwrap();
    a.query_drop("SET sql_mode = CONCAT(@@sql_mode, 'ANSI_QUOTES')")
        .await
        .unwrap();
    let modes: Vec<String> = a.query("SELECT @@sql_mode FROM app.t").await.unwrap();
    assert!(modes.iter().all(|m| m == "ANSI_QUOTES"), "{modes:?}");
    // A value read from a table: on the set holding it; across sets, a
    // `(SELECT ...)` read through the gateway first; other expressions refused.
    a.query_drop("INSERT INTO app.single VALUES (7, 70)")
        .await
        .unwrap();
    a.query_drop("SET @s = (SELECT v FROM app.single WHERE id = 7)")
        .await
        .unwrap();
    let rows: Vec<Option<i64>> = a.query("SELECT @s FROM app.t").await.unwrap();
    assert!(
        rows.len() == 20 && rows.iter().all(|r| *r == Some(70)),
        "{rows:?}"
    );
    a.query_drop("SET @n = (SELECT COUNT(*) FROM app.t)")
        .await
        .unwrap();
    let rows: Vec<Option<i64>> = a.query("SELECT @n FROM app.t").await.unwrap();
    assert!(
        rows.len() == 20 && rows.iter().all(|r| *r == Some(20)),
        "{rows:?}"
    );
    assert_eq!(
        err_of(&mut a, "SET @n = (SELECT COUNT(*) FROM app.t) + 1").await,
        (1235, "42000".into())
    );
    // MariaDB's own error for a bad value.
    assert_eq!(
        err_of(&mut a, "SET sql_mode = CONCAT('NO_SUCH_', 'MODE')")
            .await
            .0,
        1231
    );
}

#[tokio::test]
async fn sequences_live_on_the_home_set_and_lastval_is_the_sessions() {
    let (c, mut a) = app().await;
    let mut b = c.proxy_conn().await.unwrap();
    a.query_drop("USE app").await.unwrap();
    b.query_drop("USE app").await.unwrap();
    a.query_drop("CREATE SEQUENCE s").await.unwrap();
    a.query_drop("CREATE OR REPLACE SEQUENCE s2 START WITH 100")
        .await
        .unwrap();
    assert_eq!(count(&mut a, "SELECT NEXTVAL(s)").await, 1);
    assert_eq!(count(&mut a, "SELECT NEXT VALUE FOR s").await, 2);
    assert_eq!(count(&mut b, "SELECT NEXTVAL(s)").await, 3);
    // Other statements in between, on other connections and sets.
    a.query_drop("UPDATE t SET v = v + 1").await.unwrap();
    assert_eq!(count(&mut a, "SELECT LASTVAL(s)").await, 2);
    assert_eq!(count(&mut b, "SELECT PREVIOUS VALUE FOR s").await, 3);
    a.query_drop("INSERT INTO single VALUES (NEXTVAL(s2), 0)")
        .await
        .unwrap();
    assert_eq!(count(&mut a, "SELECT id FROM single").await, 100);
    a.query_drop("DROP SEQUENCE IF EXISTS s, s2").await.unwrap();
    let e = a.query_drop("SELECT NEXTVAL(s)").await.unwrap_err();
    assert_eq!(server_error(&e).map(|x| x.0), Some(4091));
}

#[tokio::test]
async fn rewritten_calls_keep_their_column_names() {
    let (c, mut a) = app().await;
    let mut direct = c.primary("set1").conn().await.unwrap();
    let sql = "SELECT CONNECTION_ID() > 0, connection_id() AS c, 1 + CONNECTION_ID() x, \
               LAST_INSERT_ID() + 0, CURRENT_USER() IS NOT NULL, v COLLATE utf8mb4_bin \
               FROM (SELECT 'a' AS v) d";
    let names = |r: &mysql_async::Row| {
        r.columns_ref()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect::<Vec<_>>()
    };
    let got: mysql_async::Row = a.query_first(sql).await.unwrap().unwrap();
    let want: mysql_async::Row = direct.query_first(sql).await.unwrap().unwrap();
    assert_eq!(names(&got), names(&want));
    let v: (i64, i64) = a
        .query_first("SELECT CONNECTION_ID() > 0, CONNECTION_ID() = CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, (1, 1));
}

#[tokio::test]
async fn row_count_is_the_sessions_previous_statements() {
    let (c, mut a) = app().await;
    let mut direct = c.primary("set1").conn().await.unwrap();
    let mut b = c.proxy_conn().await.unwrap();
    // Rows on both sets: the OK's affected rows, summed.
    a.query_drop("UPDATE app.t SET v = 1 WHERE id <= 5")
        .await
        .unwrap();
    // Another session's statement in between, likely on the same pooled connection.
    b.query_drop("UPDATE app.t SET v = 2 WHERE id = 20")
        .await
        .unwrap();
    assert_eq!(count(&mut a, "SELECT ROW_COUNT()").await, 5);
    assert_eq!(
        count(&mut a, "SELECT ROW_COUNT()").await,
        -1,
        "after a SELECT"
    );
    a.query_drop("INSERT INTO app.single VALUES (1, 1), (2, 2)")
        .await
        .unwrap();
    let p: Option<i64> = a.exec_first("SELECT ROW_COUNT()", ()).await.unwrap();
    assert_eq!(p, Some(2), "binary protocol");
    a.query_drop("CREATE DATABASE rc").await.unwrap();
    assert_eq!(count(&mut a, "SELECT ROW_COUNT()").await, 0, "after DDL");
    assert!(a
        .query_drop("INSERT INTO app.nope VALUES (1)")
        .await
        .is_err());
    assert_eq!(
        count(&mut a, "SELECT ROW_COUNT()").await,
        -1,
        "after an error"
    );
    // MariaDB's column definition and name.
    let sql = "SELECT ROW_COUNT(), ROW_COUNT() + 1 AS n";
    let got: mysql_async::Row = a.query_first(sql).await.unwrap().unwrap();
    let want: mysql_async::Row = direct.query_first(sql).await.unwrap().unwrap();
    let defs = |r: &mysql_async::Row| {
        r.columns_ref()
            .iter()
            .map(|c| {
                (
                    c.name_str().into_owned(),
                    c.column_type(),
                    c.column_length(),
                    c.flags(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(defs(&got), defs(&want));
}

/// Under ANSI_QUOTES a double-quoted name is an identifier, as MariaDB reads it:
/// ORDER BY / GROUP BY / WHERE on it across sets, and an INSERT naming its columns
/// so, give what one MariaDB gives (the gateway once read them as string constants
/// and merged the sets' rows unsorted).
#[tokio::test]
async fn ansi_quotes_names_are_identifiers() {
    let (_c, mut a) = app().await;
    a.query_drop("UPDATE app.t SET v = id % 3").await.unwrap();
    for mode in ["ANSI_QUOTES", "ANSI", "POSTGRESQL,NO_AUTO_VALUE_ON_ZERO"] {
        a.query_drop(format!("SET sql_mode = '{mode}'"))
            .await
            .unwrap();
        let ids: Vec<i64> = a
            .query("SELECT \"id\" FROM \"app\".\"t\" ORDER BY \"id\" DESC LIMIT 3")
            .await
            .unwrap();
        assert_eq!(ids, vec![20, 19, 18], "{mode}");
        let groups: Vec<(i64, i64)> = a
            .query("SELECT \"v\", COUNT(*) FROM app.t GROUP BY \"v\" ORDER BY \"v\"")
            .await
            .unwrap();
        assert_eq!(groups, vec![(0, 6), (1, 7), (2, 7)], "{mode}");
        let one: Vec<(i64, i64)> = a
            .query("SELECT \"id\", \"v\" FROM app.t WHERE \"id\" = 7")
            .await
            .unwrap();
        assert_eq!(one, vec![(7, 1)], "{mode}");
    }
    // A mode built by an expression (the gateway keeps its evaluated value).
    a.query_drop("SET sql_mode = ''").await.unwrap();
    a.query_drop("SET sql_mode = CONCAT(@@sql_mode, 'ANSI_QUOTES')")
        .await
        .unwrap();
    a.query_drop("INSERT INTO app.t (\"id\", \"v\") VALUES (21, 5), (22, 6)")
        .await
        .unwrap();
    let back: Vec<(i64, i64)> = a
        .query("SELECT id, v FROM app.t WHERE id > 20 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(back, vec![(21, 5), (22, 6)]);
    // Out of the mode, double quotes are strings again.
    a.query_drop("SET sql_mode = ''").await.unwrap();
    let s: Option<String> = a
        .query_first("SELECT \"id\" FROM app.t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(s.as_deref(), Some("id"));
}

/// Out of ANSI_QUOTES a double-quoted token is a string, never a column: the gateway
/// must not route or merge on it as a name.
#[tokio::test]
async fn double_quoted_strings_are_strings() {
    let (_c, mut a) = app().await;
    let n: Option<i64> = a
        .query_first("SELECT COUNT(*) FROM app.t WHERE \"id\" = 'id'")
        .await
        .unwrap();
    assert_eq!(n, Some(20));
    let n: Option<i64> = a
        .query_first("SELECT COUNT(*) FROM app.t WHERE \"id\" = \"id\" AND id > 10")
        .await
        .unwrap();
    assert_eq!(n, Some(10));
    let rows: Vec<(String, i64)> = a
        .query("SELECT \"k\", COUNT(*) FROM app.t GROUP BY \"k\"")
        .await
        .unwrap();
    assert_eq!(rows, vec![("k".to_string(), 20)]);
    let ids: Vec<i64> = a
        .query("SELECT id FROM app.t WHERE id IN (\"3\", \"4\", '5') ORDER BY id")
        .await
        .unwrap();
    assert_eq!(ids, vec![3, 4, 5]);
}
