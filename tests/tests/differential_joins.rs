//! Differential checks of joins and IN / EXISTS subqueries over tables that are
//! not co-located (run by the gateway itself): the gateway against one plain
//! MariaDB with the same data; see `setwise_tests::diff::joins`.

use mysql_async::prelude::Queryable;
use setwise_tests::diff::data::Data;
use setwise_tests::diff::outcome::{differences, run_text, Order, Outcome};
use setwise_tests::diff::{join_edges, joins, Diff};

async fn loaded(extra: &str) -> Diff {
    let data = Data::generate(20_241_206, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    // Small lookup batches, so a lookup join sends several.
    d.cluster_mut().set_proxy_extra(extra);
    d.cluster_mut()
        .start_proxy()
        .await
        .expect("restart the gateway");
    d.gw = mysql_async::Conn::new(d.cluster().app_opts())
        .await
        .expect("connect to the restarted gateway");
    d.setup(&data).await.expect("create and load diffdb");
    joins::setup(&mut d)
        .await
        .expect("create and load the join tables");
    d
}

/// INNER / LEFT / RIGHT joins (lookup by batches and hash), IN / NOT IN (with
/// NULLs, empty) / EXISTS / NOT EXISTS, text and binary protocol, under the
/// default connection collation and under utf8mb4_unicode_ci.
#[tokio::test]
async fn cross_set_joins_and_subqueries_match_a_plain_mariadb() {
    let mut d = loaded("[join]\nbatch = 50\n").await;
    d.group("joins across sets");
    d.run_all(&joins::joins()).await.unwrap();
    // The lookup join sends its inner side in batches of 50 key values: about
    // 250 distinct user ids make at least 5 batches, plus the outer side's
    // query on each set.
    let selects = |d: &Diff| {
        let sets: Vec<_> = ["set1", "set2"]
            .iter()
            .map(|s| d.cluster().primary(s).root_opts())
            .collect();
        async move {
            let mut n = 0u64;
            for o in sets {
                let mut c = mysql_async::Conn::new(o).await.unwrap();
                let row: Option<(String, u64)> = c
                    .query_first("SHOW GLOBAL STATUS LIKE 'Com_select'")
                    .await
                    .unwrap();
                n += row.unwrap().1;
            }
            n
        }
    };
    let before = selects(&d).await;
    let n: Vec<(i64, Option<String>)> = d
        .gw
        .query("SELECT i.item_id, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id WHERE i.qty > 10")
        .await
        .unwrap();
    let after = selects(&d).await;
    println!("lookup join: {} SELECTs on the sets", after - before);
    assert!(n.len() > 500, "{} rows", n.len());
    assert!(
        after - before >= 2 + 5,
        "{} SELECTs on the sets",
        after - before
    );
    d.group("IN / EXISTS subqueries across sets");
    d.run_all(&joins::subqueries()).await.unwrap();
    for c in [&mut d.gw, &mut d.rf] {
        c.query_drop("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci")
            .await
            .unwrap();
    }
    d.group("joins and subqueries, utf8mb4_unicode_ci connection");
    d.run_all(&joins::joins()).await.unwrap();
    d.run_all(&joins::subqueries()).await.unwrap();
    // Inside a transaction (one connection per set: the sides one after the other).
    for c in [&mut d.gw, &mut d.rf] {
        c.query_drop("START TRANSACTION").await.unwrap();
    }
    d.group("joins and subqueries in a transaction");
    d.run_all(&joins::joins()[..6]).await.unwrap();
    d.run_all(&joins::subqueries()[..4]).await.unwrap();
    for c in [&mut d.gw, &mut d.rf] {
        c.query_drop("COMMIT").await.unwrap();
    }
    d.group("SQL PREPARE / EXECUTE of joins across sets");
    d.run_all(&joins::sql_level()).await.unwrap();
    // Results in binary: string keys cannot become literals in their collation.
    for c in [&mut d.gw, &mut d.rf] {
        c.query_drop("SET character_set_results = binary")
            .await
            .unwrap();
    }
    d.group("string keys, character_set_results = binary");
    d.run_all(&joins::binary_results()).await.unwrap();
    for c in [&mut d.gw, &mut d.rf] {
        c.query_drop("SET NAMES utf8mb4").await.unwrap();
    }
    // Prepared over single tables no one set holds: no set can prepare it, so
    // the column definitions come with the execute.
    let sql = "SELECT s.code, t.note FROM jsingle s JOIN joindb2.j2single t ON t.code = s.code WHERE s.label <> ?";
    let mut got: Vec<(String, Option<String>)> = d.gw.exec(sql, ("none",)).await.unwrap();
    let mut want: Vec<(String, Option<String>)> = d.rf.exec(sql, ("none",)).await.unwrap();
    got.sort();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want, "{sql}");
    d.finish();
}

/// A hash join (or a window's materialized rows) over more rows than `[join]
/// memory_limit` allows fails with 1041 naming the join and the limit; the
/// gateway keeps serving.
#[tokio::test]
async fn a_join_beyond_the_memory_limit_fails_clearly() {
    let mut d = loaded("[join]\nmemory_limit = 65536\n").await;
    let err = d
        .gw
        .query_drop("SELECT i.item_id, u.name FROM jitems i JOIN users u ON u.user_id = i.user_id")
        .await
        .expect_err("over the limit");
    let mysql_async::Error::Server(e) = err else {
        panic!("not a server error: {err:?}");
    };
    assert_eq!((e.code, e.state.as_str()), (1041, "HY000"), "{}", e.message);
    assert!(
        e.message.contains("diffdb.jitems") && e.message.contains("64 KiB"),
        "{}",
        e.message
    );
    // A window over rows of several sets materializes the table's rows under
    // the same limit (refused with 1235 before).
    let err =
        d.gw.query_drop("SELECT item_id, RANK() OVER (ORDER BY qty) FROM jitems")
            .await
            .expect_err("over the limit");
    let mysql_async::Error::Server(e) = err else {
        panic!("not a server error: {err:?}");
    };
    assert_eq!((e.code, e.state.as_str()), (1041, "HY000"), "{}", e.message);
    assert!(
        e.message.contains("materialized") && e.message.contains("64 KiB"),
        "{}",
        e.message
    );
    let n: Option<i64> =
        d.gw.query_first("SELECT COUNT(*) FROM jitems")
            .await
            .unwrap();
    assert_eq!(n, Some(joins::ITEMS));
    d.finish();
}

/// Column names of literals and placeholders, collation mixes (1267 exactly
/// where MariaDB refuses), warnings and `SHOW WARNINGS`, and other shapes, in
/// joins and subqueries across sets.
#[tokio::test]
async fn join_edges_match_a_plain_mariadb() {
    let mut d = loaded("").await;
    setwise_tests::diff::join_edges::setup(&mut d)
        .await
        .expect("create and load the collation tables");
    d.group("names of select items");
    d.run_all(&join_edges::names()).await.unwrap();
    d.group("string keys of two collations");
    d.run_all(&join_edges::collations()).await.unwrap();
    d.group("warnings after a join");
    d.run_all(&join_edges::warnings()).await.unwrap();
    for sql in join_edges::warnings_beyond() {
        let want = run_text(&mut d.rf, sql).await.unwrap();
        let mut got = run_text(&mut d.gw, sql).await.unwrap();
        let (Outcome::Rows { warnings: w, .. }, Outcome::Rows { warnings: g, .. }) =
            (&want, &mut got)
        else {
            panic!("{sql}: {want:?} / {got:?}");
        };
        assert!(
            *w > 0 && *g >= *w,
            "{sql}: {w} warnings vs the gateway's {g}"
        );
        *g = *w;
        assert_eq!(differences(&want, &got, Order::Any), None, "{sql}");
    }
    d.group("other join shapes");
    d.run_all(&join_edges::shapes()).await.unwrap();
    d.finish();
}
