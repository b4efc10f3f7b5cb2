//! The binlog catch-up of a slot move (scheduler/src/moves/): a source server's
//! changes after a GTID position, filtered to the moving slots and applied to a
//! second server, leave there exactly the source's rows of those slots — for every
//! column type, keys moving into and out of the slots, XA, broadcast tables, other
//! tables and databases skipped, replayed twice, resumed, XA waiting for its commit,
//! what it refuses and the privileges it needs.

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::Conn;
use setwise_scheduler::moves::apply::{lag_trx, Filter, Tail};
use setwise_tests::mariadb::NodeOptions;
use setwise_tests::workdir::WorkDir;
use setwise_tests::MariaDb;
use topo::model::KeyType;
use topo::moves::{MoveTable, SlotSpan};
use topo::slot::inside_spans_sql;

const SLOTS: u32 = 16;
const SPANS: [SlotSpan; 1] = [SlotSpan { start: 0, end: 8 }];

fn moving(id: i64) -> bool {
    SPANS[0].contains(topo::slot::slot_of_int(id as i128, SLOTS))
}

async fn servers() -> anyhow::Result<(MariaDb, MariaDb, WorkDir)> {
    let dir = WorkDir::new("movetail")?;
    let (a, b) = tokio::try_join!(
        MariaDb::start("source", dir.path(), 1, NodeOptions::primary(false)),
        MariaDb::start("target", dir.path(), 2, NodeOptions::primary(false)),
    )?;
    Ok((a, b, dir))
}

const T_DDL: &str = "CREATE TABLE d.t (
    id INT NOT NULL PRIMARY KEY,
    s VARCHAR(100) CHARACTER SET utf8mb4,
    amount DECIMAL(20,6),
    dt DATETIME(3),
    ts TIMESTAMP(6) NULL DEFAULT NULL,
    b BLOB,
    u INT UNSIGNED,
    big BIGINT UNSIGNED,
    y YEAR,
    st SET('a','b','c'),
    e ENUM('x','y','z'),
    bits BIT(10),
    dbl DOUBLE,
    f FLOAT,
    tm TIME(2),
    tm6 TIME(6),
    dd DATE,
    c CHAR(5),
    bin BINARY(4),
    mi MEDIUMINT UNSIGNED,
    l1 VARCHAR(20) CHARACTER SET latin1,
    lb LONGBLOB
) ENGINE=InnoDB";

const T_COLS: &str =
    "id, s, amount, dt, ts, HEX(b), u, big, y, st, e, HEX(bits), dbl, f, tm, tm6, \
                      dd, c, HEX(bin), mi, HEX(l1), MD5(lb), LENGTH(lb)";

fn t_row(id: i64, n: u32) -> String {
    format!(
        "({id}, 'näme {n} ✓ 😀', {n}.123456, '2024-02-29 12:34:56.{ms:03}', \
         '2024-03-10 02:30:00.{n:06}', 0x00ff{n:04x}5c27, 4294967295, 18446744073709551615, \
         {y}, 'a,c', 'y', b'1010101010', 1.5e300, 3.25, '-838:59:58.99', '-00:00:01.{us:06}', '2024-01-01', \
         'ab', 0x0102, 16777215, 'café', REPEAT('z', {n}))",
        ms = n % 1000,
        us = n * 7919 % 1_000_000,
        y = if n.is_multiple_of(2) { "0" } else { "2155" },
    )
}

async fn exec(c: &mut Conn, sql: &str) -> anyhow::Result<()> {
    c.query_drop(sql)
        .await
        .map_err(|e| anyhow::anyhow!("{sql}: {e}"))
}

/// The source's rows of the moving slots vs every row of the target.
async fn assert_same(
    src: &MariaDb,
    dst: &MariaDb,
    table: &str,
    cols: &str,
    key: &str,
    key_type: KeyType,
    order: &str,
) -> anyhow::Result<usize> {
    let inside = inside_spans_sql(&format!("`{key}`"), key_type, SLOTS, &SPANS);
    let want = src
        .query(&format!(
            "SELECT {cols} FROM d.{table} WHERE {inside} ORDER BY {order}"
        ))
        .await?;
    let got = dst
        .query(&format!("SELECT {cols} FROM d.{table} ORDER BY {order}"))
        .await?;
    assert_eq!(got, want, "d.{table}: target vs the source's moving rows");
    Ok(want.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_applies_the_moving_rows_of_every_type() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec(T_DDL).await?;
        s.exec("CREATE TABLE d.bc (id INT PRIMARY KEY, name VARCHAR(20))")
            .await?;
    }
    // Tables the tail must skip (they do not exist on the target).
    src.exec("CREATE TABLE d.other (id INT PRIMARY KEY, v INT)")
        .await?;
    src.exec("CREATE DATABASE e").await?;
    src.exec("CREATE TABLE e.t (id INT PRIMARY KEY, v INT)")
        .await?;
    let start = src.gtid_binlog_pos().await?;

    let mut c = src.conn().await?;
    exec(&mut c, "BEGIN").await?;
    for id in 1..=40 {
        exec(
            &mut c,
            &format!("INSERT INTO d.t VALUES {}", t_row(id, id as u32)),
        )
        .await?;
    }
    exec(&mut c, "COMMIT").await?;
    // NULLs everywhere but the key; a large row; a multi-row statement.
    exec(
        &mut c,
        "INSERT INTO d.t (id) VALUES (41),(42),(43),(44),(45),(46),(47),(48)",
    )
    .await?;
    exec(
        &mut c,
        "UPDATE d.t SET lb = REPEAT(X'00FF7F', 1000000), b = NULL WHERE id IN (3, 4, 5, 6)",
    )
    .await?;
    // Zero dates, negative and zero keys (some of them moving).
    assert!([0, -1, -2, -3].iter().any(|&i| moving(i)));
    exec(
        &mut c,
        "INSERT INTO d.t (id, dt, ts, dd, y, tm) VALUES \
         (0, '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00', 0, '00:00:00'), \
         (-1, '1000-01-01 00:00:00.001', '1970-01-01 00:00:01', '9999-12-31', 1901, '-00:00:00.01'), \
         (-2, NULL, '2038-01-19 03:14:07.999999', NULL, NULL, '838:59:59'), \
         (-3, '2024-01-01', '2024-01-01', '2024-01-01', 2024, '-838:59:59')",
    )
    .await?;
    exec(&mut c, "FLUSH BINARY LOGS").await?;
    exec(&mut c, "INSERT INTO d.other VALUES (1, 1), (2, 2)").await?;
    exec(&mut c, "DROP TABLE d.other").await?;
    exec(&mut c, "INSERT INTO e.t VALUES (1, 1)").await?;
    exec(&mut c, "INSERT INTO d.bc VALUES (1, 'one'), (2, 'two')").await?;
    exec(&mut c, "UPDATE d.bc SET name = 'TWO' WHERE id = 2").await?;
    // Keys moving out of and into the moving slots, and within them.
    let out_from = (1..=40).find(|&i| moving(i)).unwrap();
    let out_to = (100..200).find(|&i| !moving(i)).unwrap();
    let in_from = (1..=40).find(|&i| !moving(i)).unwrap();
    let in_to = (200..300).find(|&i| moving(i) && i % 5 != 0).unwrap();
    let within_from = (1..=40).filter(|&i| moving(i)).nth(1).unwrap();
    let within_to = (300..400).find(|&i| moving(i) && i % 5 != 0).unwrap();
    exec(
        &mut c,
        &format!("UPDATE d.t SET id = {out_to} WHERE id = {out_from}"),
    )
    .await?;
    exec(
        &mut c,
        &format!("UPDATE d.t SET id = {in_to} WHERE id = {in_from}"),
    )
    .await?;
    exec(
        &mut c,
        &format!("UPDATE d.t SET id = {within_to}, s = NULL WHERE id = {within_from}"),
    )
    .await?;
    exec(
        &mut c,
        "UPDATE d.t SET s = CONCAT(s, '!'), amount = -amount WHERE id % 3 = 0",
    )
    .await?;
    exec(&mut c, "DELETE FROM d.t WHERE id % 5 = 0").await?;
    exec(&mut c, "DELETE FROM d.bc WHERE id = 1").await?;
    // A transaction rolled back leaves nothing; XA committed and rolled back.
    exec(&mut c, "BEGIN").await?;
    exec(
        &mut c,
        "INSERT INTO d.t (id) VALUES (500),(501),(502),(503)",
    )
    .await?;
    exec(&mut c, "ROLLBACK").await?;
    for (xid, end) in [("x1", "COMMIT"), ("x2", "ROLLBACK")] {
        exec(&mut c, &format!("XA START '{xid}'")).await?;
        let base = if xid == "x1" { 600 } else { 700 };
        for id in base..base + 8 {
            exec(&mut c, &format!("INSERT INTO d.t VALUES {}", t_row(id, 7))).await?;
        }
        exec(&mut c, &format!("UPDATE d.t SET s = '{xid}' WHERE id < 20")).await?;
        exec(&mut c, &format!("XA END '{xid}'")).await?;
        exec(&mut c, &format!("XA PREPARE '{xid}'")).await?;
        exec(&mut c, &format!("XA {end} '{xid}'")).await?;
    }
    let end = src.gtid_binlog_pos().await?;

    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: vec!["bc".into()],
    };
    let mut tail = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter.clone(),
        &start,
        1001,
    )
    .await?;
    let first = tail.step(Duration::from_millis(200)).await?;
    assert!(lag_trx(&first.gtid_applied, &end).is_some());
    let done = tail.drain_to(&end, Duration::from_secs(60)).await?;
    assert_eq!(done.gtid_applied, end);
    assert_eq!(lag_trx(&done.gtid_applied, &end), Some(0));
    assert!(done.events_applied > 0);
    let n = assert_same(&src, &dst, "t", T_COLS, "id", KeyType::Integer, "id").await?;
    assert!(n > 10, "only {n} moving rows");
    let ids: Vec<i64> = dst
        .query("SELECT id FROM d.t")
        .await?
        .into_iter()
        .map(|r| r[0].as_ref().unwrap().parse().unwrap())
        .collect();
    assert!(ids.contains(&in_to) && ids.contains(&within_to) && !ids.contains(&out_from));
    assert!(ids.iter().any(|&i| (600..608).contains(&i)));
    assert!(!ids.iter().any(|&i| (700..708).contains(&i)));
    let bc = dst.query("SELECT id, name FROM d.bc ORDER BY id").await?;
    assert_eq!(
        bc,
        vec![vec![Some("2".to_string()), Some("TWO".to_string())]]
    );

    // Later writes, then a second stream replaying everything from the start:
    // idempotent, same rows.
    exec(&mut c, "UPDATE d.t SET dbl = -0.5, ts = NULL WHERE id < 30").await?;
    exec(&mut c, &format!("DELETE FROM d.t WHERE id = {in_to}")).await?;
    let end2 = src.gtid_binlog_pos().await?;
    tail.close().await;
    let mut again =
        Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1002).await?;
    let p = again.drain_to(&end2, Duration::from_secs(60)).await?;
    assert_eq!(p.gtid_applied, end2);
    assert_same(&src, &dst, "t", T_COLS, "id", KeyType::Integer, "id").await?;
    again.close().await;
    c.disconnect().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_follows_a_text_shard_key() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec(
            "CREATE TABLE d.users (name VARCHAR(64) CHARACTER SET utf8mb4 PRIMARY KEY, \
             n INT, note TEXT CHARACTER SET utf8mb4)",
        )
        .await?;
    }
    let start = src.gtid_binlog_pos().await?;
    let names = [
        "Alice", "bob", "Carol  ", "dave", "Émile", "zoë", "😀x", "Straße", "ΩMEGA", "kate",
        "Łukasz", "mallory", "Niño", "oscar", "peggy", "quinn", "rupert", "sybil", "trent",
        "victor", "walter", "日本",
    ];
    let mut c = src.conn().await?;
    for (i, n) in names.iter().enumerate() {
        exec(
            &mut c,
            &format!("INSERT INTO d.users VALUES ('{n}', {i}, REPEAT('✓', {i}))"),
        )
        .await?;
    }
    exec(&mut c, "UPDATE d.users SET name = 'BOB' WHERE name = 'bob'").await?;
    exec(
        &mut c,
        "UPDATE d.users SET name = 'alice2' WHERE name = 'alice'",
    )
    .await?;
    exec(&mut c, "UPDATE d.users SET n = n + 100 WHERE n % 2 = 0").await?;
    exec(&mut c, "DELETE FROM d.users WHERE n % 3 = 0").await?;
    let end = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "users".into(),
            key: "name".into(),
            key_type: KeyType::Text,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let mut tail = Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1003).await?;
    let p = tail.drain_to(&end, Duration::from_secs(60)).await?;
    assert_eq!(p.gtid_applied, end);
    let n = assert_same(
        &src,
        &dst,
        "users",
        "name, n, note",
        "name",
        KeyType::Text,
        "n",
    )
    .await?;
    assert!(n > 2, "only {n} moving rows");
    tail.close().await;
    c.disconnect().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_refuses_what_it_cannot_follow() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    src.exec("CREATE DATABASE d").await?;
    src.exec("CREATE TABLE d.nokey (id INT, v INT)").await?;
    src.exec("CREATE TABLE d.t (id INT PRIMARY KEY, v INT)")
        .await?;
    src.exec("CREATE TABLE d.l1 (name VARCHAR(10) CHARACTER SET latin1 PRIMARY KEY)")
        .await?;
    let filter = |table: &str| Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: table.into(),
            key: if table == "l1" { "name" } else { "id" }.into(),
            key_type: if table == "l1" {
                KeyType::Text
            } else {
                KeyType::Integer
            },
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let err = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter("nokey"),
        "",
        1004,
    )
    .await
    .err()
    .expect("a table without a primary key is refused");
    assert!(format!("{err:#}").contains("no primary key"), "{err:#}");
    let err = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter("t"),
        "0-1-999999",
        1009,
    )
    .await
    .err()
    .expect("a position the source does not have is refused at open");
    assert!(format!("{err:#}").contains("1236"), "{err:#}");
    let err = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter("l1"),
        "",
        1007,
    )
    .await
    .err()
    .expect("a latin1 text key is refused");
    assert!(
        format!("{err:#}").contains("character set latin1"),
        "{err:#}"
    );
    src.exec("SET GLOBAL binlog_format = 'STATEMENT'").await?;
    let err = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter("t"),
        "",
        1005,
    )
    .await
    .err()
    .expect("statement binlog is refused");
    assert!(format!("{err:#}").contains("binlog_format"), "{err:#}");
    src.exec("SET GLOBAL binlog_format = 'ROW'").await?;
    src.exec("SET GLOBAL log_bin_compress = ON").await?;
    let err = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter("t"),
        "",
        1006,
    )
    .await
    .err()
    .expect("compressed binlog is refused");
    assert!(format!("{err:#}").contains("log_bin_compress"), "{err:#}");
    Ok(())
}

/// A tail stepping while writers commit, reopened midway from its recorded
/// position (as the driver does after a restart), then drained: the same rows.
#[tokio::test(flavor = "multi_thread")]
async fn tail_keeps_up_with_writers_and_resumes() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id BIGINT PRIMARY KEY, v INT, pad VARCHAR(50))")
            .await?;
    }
    let start = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let writers: Vec<_> = (0..4i64)
        .map(|w| {
            let opts = src.root_opts();
            tokio::spawn(async move {
                let mut c = Conn::new(opts).await?;
                for i in 0..300i64 {
                    let id = (w * 1000 + i * 7) % 500;
                    let sql = match i % 4 {
                        0 | 1 => format!(
                            "INSERT INTO d.t VALUES ({id}, {i}, 'w{w}') \
                             ON DUPLICATE KEY UPDATE v = v + 1"
                        ),
                        2 => format!("UPDATE d.t SET id = id + 500 WHERE id = {}", (id + 3) % 500),
                        _ => format!("DELETE FROM d.t WHERE id = {}", (id + 11) % 1000),
                    };
                    c.query_drop(sql).await?;
                }
                c.disconnect().await?;
                anyhow::Ok(())
            })
        })
        .collect();
    let mut tail = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter.clone(),
        &start,
        1010,
    )
    .await?;
    let mut resumed = false;
    let mut steps = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        steps += 1;
        assert!(steps < 2000, "writers never finished");
        let p = tail.step(Duration::from_millis(100)).await?;
        if !resumed && p.events_applied > 50 {
            // As a new leader would: reopen from the recorded position.
            tail.close().await;
            tail = Tail::open(
                src.setwise_opts(),
                dst.setwise_opts(),
                filter.clone(),
                &p.gtid_applied,
                1011,
            )
            .await?;
            resumed = true;
        }
    }
    for w in writers {
        w.await??;
    }
    assert!(
        resumed,
        "the tail never applied 50 changes while writers ran"
    );
    let end = src.gtid_binlog_pos().await?;
    let p = tail.drain_to(&end, Duration::from_secs(60)).await?;
    assert_eq!(p.gtid_applied, end);
    let n = assert_same(&src, &dst, "t", "id, v, pad", "id", KeyType::Integer, "id").await?;
    assert!(n > 10, "only {n} moving rows");
    tail.close().await;
    Ok(())
}

/// A prepared XA transaction's rows wait for its commit: the recorded position stays
/// before the prepare (a tail reopened there still applies them), and a drain does
/// not finish while it is pending.
#[tokio::test(flavor = "multi_thread")]
async fn tail_waits_for_a_prepared_xa() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id INT PRIMARY KEY, v INT)")
            .await?;
    }
    let start = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let ids: Vec<i64> = (1..100).filter(|&i| moving(i)).take(3).collect();
    let mut c = src.conn().await?;
    exec(&mut c, &format!("INSERT INTO d.t VALUES ({}, 0)", ids[0])).await?;
    exec(&mut c, "XA START 'p1'").await?;
    exec(&mut c, &format!("INSERT INTO d.t VALUES ({}, 1)", ids[1])).await?;
    exec(&mut c, "XA END 'p1'").await?;
    exec(&mut c, "XA PREPARE 'p1'").await?;
    let before_prepare_end = src.gtid_binlog_pos().await?;
    let mut other = src.conn().await?;
    exec(
        &mut other,
        &format!("INSERT INTO d.t VALUES ({}, 2)", ids[2]),
    )
    .await?;
    let end = src.gtid_binlog_pos().await?;

    let mut tail = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter.clone(),
        &start,
        1020,
    )
    .await?;
    let err = tail
        .drain_to(&end, Duration::from_millis(1500))
        .await
        .expect_err("a drain waits for the prepared XA transaction");
    assert!(format!("{err:#}").contains("prepared XA"), "{err:#}");
    let p = tail.progress();
    assert_eq!(p.gtid_read, end);
    assert_ne!(p.gtid_applied, end);
    assert_eq!(lag_trx(&p.gtid_applied, &before_prepare_end), Some(1));
    let got = dst.query("SELECT id FROM d.t ORDER BY id").await?;
    assert_eq!(got.len(), 2, "the prepared row waits: {got:?}");
    tail.close().await;

    // Reopened from the recorded position, then the XA commits.
    let mut tail = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter,
        &p.gtid_applied,
        1021,
    )
    .await?;
    tail.step(Duration::from_millis(300)).await?;
    exec(&mut c, "XA COMMIT 'p1'").await?;
    let end = src.gtid_binlog_pos().await?;
    let p = tail.drain_to(&end, Duration::from_secs(30)).await?;
    assert_eq!(p.gtid_applied, end);
    assert_same(&src, &dst, "t", "id, v", "id", KeyType::Integer, "id").await?;
    assert_eq!(dst.query("SELECT id FROM d.t").await?.len(), 3);
    tail.close().await;
    Ok(())
}

/// An XA transaction prepared before a tail's start and committed after the copy's
/// snapshot (the window docs/scaleout.md names under invariant 1: an `XA PREPARE`
/// not yet listed by the copy's `XA RECOVER`): its rows are in neither the snapshot
/// nor the stream. A tail told the snapshot's position fails on its `XA COMMIT`;
/// one not told goes on without the row.
#[tokio::test(flavor = "multi_thread")]
async fn tail_fails_on_an_xa_prepared_before_its_start_and_committed_after_the_copy(
) -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id INT PRIMARY KEY, v INT)")
            .await?;
    }
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let id = (1..100).find(|&i| moving(i)).unwrap();
    let mut c = src.conn().await?;
    exec(&mut c, "XA START 'w1'").await?;
    exec(&mut c, &format!("INSERT INTO d.t VALUES ({id}, 1)")).await?;
    exec(&mut c, "XA END 'w1'").await?;
    exec(&mut c, "XA PREPARE 'w1'").await?;
    // The catch-up's start and the copy's snapshot, both after the prepare; the
    // commit comes after the snapshot, before the tail opens.
    let start = src.gtid_binlog_pos().await?;
    exec(&mut c, "XA COMMIT 'w1'").await?;
    let end = src.gtid_binlog_pos().await?;

    let mut told = Tail::open(
        src.setwise_opts(),
        dst.setwise_opts(),
        filter.clone(),
        &start,
        1030,
    )
    .await?;
    told.expect_copy_snapshot(&start)?;
    let err = told
        .drain_to(&end, Duration::from_secs(10))
        .await
        .expect_err("the XA COMMIT of a prepare the tail never read");
    assert!(
        format!("{err:#}").contains("prepared before the catch-up's start position"),
        "{err:#}"
    );
    told.close().await;

    let mut blind =
        Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1031).await?;
    blind.drain_to(&end, Duration::from_secs(10)).await?;
    assert!(dst.query("SELECT id FROM d.t").await?.is_empty());
    blind.close().await;
    Ok(())
}

/// A row larger than 16 MB (MariaDB's default max_allowed_packet) on both servers.
#[tokio::test(flavor = "multi_thread")]
async fn tail_applies_a_17_mb_row() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024")
            .await?;
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id INT PRIMARY KEY, b LONGBLOB)")
            .await?;
    }
    let id = (1..100).find(|&i| moving(i)).unwrap();
    let start = src.gtid_binlog_pos().await?;
    src.exec(&format!(
        "INSERT INTO d.t VALUES ({id}, REPEAT(X'01FE', 17 * 512 * 1024))"
    ))
    .await?;
    let end = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let mut tail = Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1050).await?;
    tail.drain_to(&end, Duration::from_secs(60)).await?;
    let cols = "id, LENGTH(b), MD5(b)";
    let n = assert_same(&src, &dst, "t", cols, "id", KeyType::Integer, "id").await?;
    assert_eq!(n, 1);
    tail.close().await;
    Ok(())
}

/// Not a check but a figure (run with `--ignored --nocapture`): how fast a tail
/// drains a backlog of small source transactions (what a hold waits for).
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn tail_drain_rate() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id BIGINT PRIMARY KEY, v INT, pad VARCHAR(100))")
            .await?;
    }
    let start = src.gtid_binlog_pos().await?;
    const PER_WRITER: i64 = 2500;
    let writers: Vec<_> = (0..8i64)
        .map(|w| {
            let opts = src.root_opts();
            tokio::spawn(async move {
                let mut c = Conn::new(opts).await?;
                for i in 0..PER_WRITER {
                    c.exec_drop(
                        "INSERT INTO d.t VALUES (?, ?, REPEAT('x', 80))",
                        (w * PER_WRITER + i, i),
                    )
                    .await?;
                }
                c.disconnect().await?;
                anyhow::Ok(())
            })
        })
        .collect();
    for w in writers {
        w.await??;
    }
    let end = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let t0 = std::time::Instant::now();
    let mut tail = Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1030).await?;
    let p = tail.drain_to(&end, Duration::from_secs(300)).await?;
    let secs = t0.elapsed().as_secs_f64();
    let trx = 8 * PER_WRITER;
    println!(
        "drained {trx} source transactions ({} rows applied) in {secs:.2} s: {:.0} trx/s",
        p.events_applied,
        trx as f64 / secs
    );
    assert_same(&src, &dst, "t", "id, v, pad", "id", KeyType::Integer, "id").await?;
    tail.close().await;
    Ok(())
}

/// The privileges a tail needs: `REPLICATION SLAVE` and `SELECT` on the database on
/// the source; `INSERT, DELETE` on the database on the target.
#[tokio::test(flavor = "multi_thread")]
async fn tail_runs_with_few_privileges() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id INT PRIMARY KEY, v INT)")
            .await?;
    }
    src.exec("CREATE USER mover@'%' IDENTIFIED BY 'mover'")
        .await?;
    src.exec("GRANT REPLICATION SLAVE ON *.* TO mover@'%'")
        .await?;
    src.exec("GRANT SELECT ON d.* TO mover@'%'").await?;
    dst.exec("CREATE USER mover@'%' IDENTIFIED BY 'mover'")
        .await?;
    dst.exec("GRANT INSERT, DELETE ON d.* TO mover@'%'").await?;
    let start = src.gtid_binlog_pos().await?;
    src.exec("INSERT INTO d.t VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)")
        .await?;
    src.exec("DELETE FROM d.t WHERE id = 2").await?;
    let end = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let mut tail = Tail::open(
        src.opts("mover", "mover"),
        dst.opts("mover", "mover"),
        filter,
        &start,
        1040,
    )
    .await?;
    tail.drain_to(&end, Duration::from_secs(30)).await?;
    assert_same(&src, &dst, "t", "id, v", "id", KeyType::Integer, "id").await?;
    tail.close().await;
    Ok(())
}

/// `log_bin_compress` switched on after the tail opened: the compressed row event
/// (MariaDB types 166-171, which the decoder does not read) stops the tail with an
/// error; it is never skipped, which would lose the change.
#[tokio::test(flavor = "multi_thread")]
async fn tail_stops_at_a_compressed_row_event_turned_on_mid_stream() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id INT PRIMARY KEY, v TEXT)")
            .await?;
    }
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let start = src.gtid_binlog_pos().await?;
    let mut tail = Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1010).await?;
    let id = (1..100).find(|&i| moving(i)).unwrap();
    src.exec(&format!("INSERT INTO d.t VALUES ({id}, 'plain')"))
        .await?;
    let pos = src.gtid_binlog_pos().await?;
    tail.drain_to(&pos, Duration::from_secs(30)).await?;
    assert_eq!(
        dst.scalar(&format!("SELECT v FROM d.t WHERE id = {id}"))
            .await?
            .as_deref(),
        Some("plain")
    );
    // Events of at least log_bin_compress_min_len bytes are compressed.
    src.exec("SET GLOBAL log_bin_compress = ON").await?;
    let id2 = (id + 1..200).find(|&i| moving(i)).unwrap();
    src.exec(&format!(
        "INSERT INTO d.t VALUES ({id2}, REPEAT('z', 5000))"
    ))
    .await?;
    let pos = src.gtid_binlog_pos().await?;
    let err = tail
        .drain_to(&pos, Duration::from_secs(30))
        .await
        .expect_err("a compressed row event stops the tail");
    assert!(format!("{err:#}").contains("cannot be decoded"), "{err:#}");
    src.exec("SET GLOBAL log_bin_compress = OFF").await?;
    tail.close().await;
    Ok(())
}

/// Table maintenance in the source's binlog (`ANALYZE`, `CHECK`, `OPTIMIZE`,
/// `REPAIR TABLE`: logged as statements, no row changed) does not stop the
/// catch-up, as the gateway runs them on every set; a schema change still does.
#[tokio::test(flavor = "multi_thread")]
async fn tail_passes_table_maintenance_and_stops_at_a_schema_change() -> anyhow::Result<()> {
    let (src, dst, _dir) = servers().await?;
    for s in [&src, &dst] {
        s.exec("CREATE DATABASE d").await?;
        s.exec("CREATE TABLE d.t (id BIGINT PRIMARY KEY, v INT)")
            .await?;
    }
    let start = src.gtid_binlog_pos().await?;
    let mut c = src.conn().await?;
    exec(
        &mut c,
        "INSERT INTO d.t VALUES (1, 1), (2, 2), (3, 3), (4, 4)",
    )
    .await?;
    for m in ["ANALYZE", "CHECK", "OPTIMIZE", "REPAIR"] {
        exec(&mut c, &format!("{m} TABLE d.t")).await?;
    }
    exec(&mut c, "UPDATE d.t SET v = v + 10").await?;
    let end = src.gtid_binlog_pos().await?;
    let filter = Filter {
        db: "d".into(),
        tables: vec![MoveTable {
            name: "t".into(),
            key: "id".into(),
            key_type: KeyType::Integer,
        }],
        slots: SLOTS,
        spans: SPANS.to_vec(),
        broadcast: Vec::new(),
    };
    let mut tail = Tail::open(src.setwise_opts(), dst.setwise_opts(), filter, &start, 1011).await?;
    let p = tail.drain_to(&end, Duration::from_secs(60)).await?;
    assert_eq!(p.gtid_applied, end);
    assert_same(&src, &dst, "t", "id, v", "id", KeyType::Integer, "v").await?;
    exec(&mut c, "ALTER TABLE d.t ADD COLUMN w INT").await?;
    let end = src.gtid_binlog_pos().await?;
    let err = tail
        .drain_to(&end, Duration::from_secs(60))
        .await
        .expect_err("a schema change of a moving table stops the catch-up");
    assert!(
        format!("{err:#}").contains("statement on a moving table"),
        "{err:#}"
    );
    tail.close().await;
    c.disconnect().await?;
    Ok(())
}
