//! Differential checks of writes whose rows come from or go to several sets,
//! against one plain MariaDB:
//!
//! * a broadcast or single table filled or changed from rows that differ per
//!   set (a sharded table, another set's single table): `INSERT ... SELECT` is
//!   read by the gateway and written to every copy (each set ran it on its own
//!   rows: the copies drifted apart, a single target was refused), and an
//!   UPDATE / DELETE / INSERT ... VALUES reading such rows is refused (1235),
//!   never run per set — every copy of a broadcast table stays the same,
//!   checked on each set's primary;
//! * `INSERT ... SELECT` into a table sharded by a string (the copied strings,
//!   `_utf8mb4 X'..'`, were not taken for shard-key values: 1235), whose ON
//!   DUPLICATE KEY UPDATE names the SELECT's columns (1054 once the rows were
//!   written as VALUES), and
//!   `ROW_COUNT()` after an `INSERT ... SELECT` the gateway reads (was -1);
//! * a multi-set statement that fails inside a transaction is undone on every
//!   set, the transaction kept, as InnoDB undoes one statement (the parts on
//!   sets that ran before the failing one stayed);
//! * the `Duplicates` of a split `INSERT ... ON DUPLICATE KEY UPDATE` whose
//!   part on one set is one row (MariaDB sends no info for it; an unchanged
//!   duplicate, affecting 0 rows, was counted).

use setwise_tests::diff::data::DB;
use setwise_tests::diff::{Diff, Q};

const TABLES: &[(&str, &str)] = &[
    (
        "CREATE TABLE ti (id INT PRIMARY KEY, v INT, s VARCHAR(10))",
        " shardkey=id",
    ),
    (
        "CREATE TABLE ts (name VARCHAR(32) PRIMARY KEY, v INT)",
        " shardkey=name",
    ),
    (
        "CREATE TABLE tb (k INT PRIMARY KEY, v INT)",
        " shardkey=noshardkey_allset",
    ),
    ("CREATE TABLE tg (k INT PRIMARY KEY, v INT)", ""),
];

async fn loaded() -> Diff {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.create_db().await.expect("create diffdb");
    for (ddl, opt) in TABLES {
        d.pair(&format!("{ddl}{opt}"), ddl).await.unwrap();
    }
    let ti: Vec<String> = (1..=40)
        .map(|i| format!("({i}, {}, 's{}')", i % 7, i % 5))
        .collect();
    let small: Vec<String> = (1..=10).map(|i| format!("({i}, {})", i * 10)).collect();
    let ts: Vec<String> = (1..=20).map(|i| format!("('n{i}', {})", i % 4)).collect();
    for sql in [
        format!("INSERT INTO ti VALUES {}", ti.join(", ")),
        format!("INSERT INTO tb VALUES {}", small.join(", ")),
        format!("INSERT INTO tg VALUES {}", small.join(", ")),
        format!("INSERT INTO ts VALUES {}", ts.join(", ")),
    ] {
        d.pair(&sql, &sql).await.unwrap();
    }
    d
}

/// Every set's copy of broadcast table `tb` must hold the same rows.
async fn copies_agree(d: &mut Diff) {
    let mut seen: Vec<(String, Vec<Vec<Option<String>>>)> = Vec::new();
    for set in d.cluster().set_names() {
        let rows = d
            .cluster()
            .primary(&set)
            .query(&format!("SELECT k, v FROM {DB}.tb ORDER BY k"))
            .await
            .expect("read a copy of tb");
        seen.push((set, rows));
    }
    let (first, rows) = &seen[0];
    let differ: Vec<String> = seen[1..]
        .iter()
        .filter(|(_, r)| r != rows)
        .map(|(s, r)| format!("{s}: {} rows, {first}: {} rows", r.len(), rows.len()))
        .collect();
    d.record((!differ.is_empty()).then(|| {
        format!(
            "the copies of broadcast table tb differ between sets: {}",
            differ.join("; ")
        )
    }));
}

#[tokio::test]
async fn broadcast_and_single_tables_written_from_sharded_rows() {
    let mut d = loaded().await;
    d.group("INSERT ... SELECT into broadcast, single, text-sharded tables");
    let qs: Vec<Q> = [
        "INSERT INTO tb (k, v) SELECT id + 100, v FROM ti WHERE id < 20",
        "SELECT ROW_COUNT()",
        "REPLACE INTO tb (k, v) SELECT id, v + 1000 FROM ti WHERE id = 3",
        "INSERT INTO tb (k, v) SELECT 300 + v, COUNT(*) FROM ti GROUP BY v",
        "INSERT INTO tb (k, v) SELECT id + 400, v FROM ti ORDER BY id DESC LIMIT 3 \
         ON DUPLICATE KEY UPDATE v = VALUES(v) + 1",
        "INSERT IGNORE INTO tb (k, v) SELECT id, 0 FROM ti WHERE id BETWEEN 8 AND 12",
        "INSERT INTO tg (k, v) SELECT id + 100, v FROM ti WHERE id < 20",
        "SELECT ROW_COUNT()",
        "INSERT INTO tg (k, v) SELECT id, v FROM ti ORDER BY id LIMIT 3 \
         ON DUPLICATE KEY UPDATE v = VALUES(v) + 1",
        "REPLACE INTO tg (k, v) SELECT id, v FROM ti WHERE id IN (4, 17, 33)",
        "INSERT INTO ts (name, v) SELECT CONCAT('c', id), v FROM ti WHERE id < 15",
        "INSERT INTO ts (name, v) SELECT CONCAT('d', k, 'é'), v FROM tb WHERE k < 5",
        "INSERT INTO ts (name, v) SELECT name, v FROM ts WHERE name = 'n3'",
        "INSERT INTO ti (id, v, s) SELECT id + 500, v, s FROM ti WHERE id < 10",
        "SELECT ROW_COUNT()",
        "INSERT INTO ti (id, v, s) SELECT id + 600, v, s FROM ti WHERE id < 0",
        "SELECT ROW_COUNT()",
        // ON DUPLICATE KEY UPDATE naming the SELECT's columns (the row it gave).
        "INSERT INTO tg (k, v) SELECT k, v + 1 FROM tb WHERE k < 6 \
         ON DUPLICATE KEY UPDATE v = tb.v + 100",
        "INSERT INTO ti (id, v) SELECT x.k, x.v FROM tg AS x WHERE x.k < 8 \
         ON DUPLICATE KEY UPDATE v = x.v + ti.v, s = 'upd'",
        "INSERT INTO tb (k, v) SELECT id, v FROM ti WHERE id < 5 \
         ON DUPLICATE KEY UPDATE v = ti.v + 1000",
        "INSERT INTO ti (id, v) SELECT id, v FROM ti WHERE id < 5 ON DUPLICATE KEY UPDATE v = ti.v",
        // Reading only broadcast copies, or writing a sharded table from one:
        // run on every set as sent.
        "INSERT INTO tb (k, v) SELECT k + 1000, v FROM tb WHERE k < 4",
        "UPDATE ti JOIN tb ON tb.k = ti.id SET ti.v = tb.v WHERE ti.id < 12",
        "UPDATE ti SET v = (SELECT MAX(v) FROM tb) WHERE id IN (20, 21, 22)",
    ]
    .into_iter()
    .map(Q::any)
    .collect();
    d.run_all(&qs).await.unwrap();
    copies_agree(&mut d).await;
    d.group("writes to a broadcast table reading sharded or single rows");
    // Refused (each set would read its own rows), or answered exactly.
    let qs: Vec<Q> = [
        "UPDATE tb JOIN ti ON ti.id = tb.k SET tb.v = ti.v + 1000",
        "UPDATE tb JOIN ti ON ti.id = tb.k SET tb.v = 7 WHERE ti.id = 5",
        "UPDATE tb SET v = (SELECT COUNT(*) FROM ti) WHERE k = 1",
        "UPDATE tb SET v = (SELECT MAX(v) FROM tg) WHERE k = 2",
        "DELETE FROM tb WHERE k IN (SELECT id FROM ti WHERE v = 2)",
        "DELETE tb FROM tb JOIN ti ON ti.id = tb.k WHERE ti.v = 4",
        "DELETE FROM x USING ti, tb x WHERE ti.id = x.k AND ti.v = 1",
        "INSERT INTO tb (k, v) VALUES (200, (SELECT COUNT(*) FROM ti))",
        "INSERT INTO tb (k, v) VALUES (5, 1) ON DUPLICATE KEY UPDATE v = (SELECT MAX(id) FROM ti)",
    ]
    .into_iter()
    .map(|s| Q::any(s).or_unsupported())
    .collect();
    d.run_all(&qs).await.unwrap();
    copies_agree(&mut d).await;
    d.group("table contents");
    for t in ["ti", "ts", "tb", "tg"] {
        d.run(&Q::any(format!("SELECT * FROM {t}"))).await.unwrap();
    }
    d.finish();
}

#[tokio::test]
async fn a_failed_statement_across_sets_is_undone_in_a_transaction() {
    let mut d = loaded().await;
    // Loaded ids on each set, and new ones: a statement's parts run in set
    // order, so the one failing on set2 runs after set1's part succeeded.
    let on = |d: &Diff, set: &str, from: i64| (from..).find(|&i| d.owner(i) == set).unwrap();
    let (a, b) = (on(&d, "set1", 1), on(&d, "set2", 1));
    let a2 = on(&d, "set1", a + 1);
    let (n1, n2) = (on(&d, "set1", 1000), on(&d, "set2", 1000));
    let (m1, m2) = (on(&d, "set1", n1 + 1), on(&d, "set2", n2 + 1));
    let (o1, o2) = (on(&d, "set1", m1 + 1), on(&d, "set2", m2 + 1));
    let read = format!(
        "SELECT id, v FROM ti WHERE id IN ({a}, {a2}, {b}, {n1}, {n2}, {m1}, {m2}, {o1}, {o2})"
    );
    let names = "SELECT name, v FROM ts WHERE name LIKE 'q%' OR name IN ('n1', 'n2', 'n3')";
    d.group("a multi-row INSERT failing on its second set");
    let steps = vec![
        "BEGIN".to_string(),
        format!("INSERT INTO ti (id, v) VALUES ({o1}, 1)"),
        // set1's rows go in, set2's duplicate fails: nothing of it stays.
        format!("INSERT INTO ti (id, v) VALUES ({n1}, 2), ({b}, 2), ({n2}, 2)"),
        "SHOW ERRORS".into(),
        read.clone(),
        format!("INSERT INTO ti (id, v) VALUES ({m1}, 3), ({m2}, 3)"),
        "INSERT INTO ts (name, v) VALUES ('q1', 1), ('q2', 1), ('q3', 1), ('n2', 1), ('q4', 1)"
            .into(),
        names.into(),
        "COMMIT".into(),
        read.clone(),
        names.into(),
    ];
    let qs: Vec<Q> = steps.into_iter().map(Q::any).collect();
    d.run_all(&qs).await.unwrap();
    d.group("an UPDATE failing on its second set, savepoints around it");
    let steps = vec![
        format!("UPDATE ti SET v = 2147483647 WHERE id = {b}"),
        "SET autocommit = 0".to_string(),
        format!("UPDATE ti SET v = 10 WHERE id = {a2}"),
        "SAVEPOINT sp".into(),
        format!("UPDATE ti SET v = v + 1 WHERE id IN ({a}, {a2}, {b})"),
        read.clone(),
        format!("DELETE FROM ti WHERE id IN ({a}, {b}) AND v < 1 / 0"),
        format!("UPDATE ti SET v = v + 5 WHERE id IN ({a}, {a2})"),
        read.clone(),
        "ROLLBACK TO SAVEPOINT sp".into(),
        read.clone(),
        format!("INSERT INTO ti (id, v) VALUES ({o2}, 4), ({o1}, 4)"),
        "RELEASE SAVEPOINT sp".into(),
        "ROLLBACK TO SAVEPOINT sp".into(),
        "COMMIT".into(),
        "SET autocommit = 1".into(),
        read.clone(),
    ];
    let qs: Vec<Q> = steps.into_iter().map(Q::any).collect();
    d.run_all(&qs).await.unwrap();
    d.group("table contents");
    for t in ["ti", "ts"] {
        d.run(&Q::any(format!("SELECT * FROM {t}"))).await.unwrap();
    }
    d.finish();
}

#[tokio::test]
async fn split_upserts_count_duplicates_as_mariadb() {
    let mut d = loaded().await;
    // One loaded row on set1 (its part is one row), two on set2; `v` is `id % 7`.
    let on = |d: &Diff, set: &str, from: i64| (from..).find(|&i| d.owner(i) == set).unwrap();
    let x = on(&d, "set1", 1);
    let y1 = on(&d, "set2", 1);
    let y2 = on(&d, "set2", y1 + 1);
    let (n1, n2) = (on(&d, "set1", 1000), on(&d, "set2", 1000));
    let v = |i: i64| i % 7;
    let upsert = "ON DUPLICATE KEY UPDATE v = VALUES(v)";
    d.group("split INSERT ... ON DUPLICATE KEY UPDATE, REPLACE, IGNORE: info");
    let qs: Vec<Q> = [
        // Every row unchanged: Duplicates 0, 0 rows affected.
        format!(
            "INSERT INTO ti (id, v) VALUES ({x}, {}), ({y1}, {}), ({y2}, {}) {upsert}",
            v(x),
            v(y1),
            v(y2)
        ),
        // set1's one row changed (2), set2's unchanged and new.
        format!(
            "INSERT INTO ti (id, v) VALUES ({x}, 100), ({y1}, {}), ({n2}, 1) {upsert}",
            v(y1)
        ),
        // set1's one row new, set2's one changed and one unchanged.
        format!(
            "INSERT INTO ti (id, v) VALUES ({n1}, 1), ({y1}, 200), ({y2}, {}) {upsert}",
            v(y2)
        ),
        // set1's one row unchanged, set2's changed.
        format!("INSERT INTO ti (id, v) VALUES ({x}, 100), ({y1}, 201), ({y2}, 202) {upsert}"),
        format!("REPLACE INTO ti (id, v) VALUES ({x}, 5), ({y1}, 6), ({n2}, 7)"),
        format!("INSERT IGNORE INTO ti (id, v) VALUES ({x}, 5), ({y1}, 6), ({y2}, 7)"),
        format!("INSERT IGNORE INTO ti (id, v) VALUES ({x}, 5), ({y1}, 6) {upsert}"),
        format!("SELECT id, v FROM ti WHERE id IN ({x}, {y1}, {y2}, {n1}, {n2})"),
    ]
    .into_iter()
    .map(Q::any)
    .collect();
    d.run_all(&qs).await.unwrap();
    d.finish();
}
