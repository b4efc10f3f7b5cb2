//! The differential under several connection character sets: strings whose
//! order differs between collations, in columns whose collation differs from
//! the connection's, merged across sets by every merge that compares strings
//! (ORDER BY's k-way merge, GROUP BY, DISTINCT, COUNT(DISTINCT), MIN/MAX,
//! UNION, HAVING, GROUP_CONCAT ORDER BY, ROLLUP), over the text and the binary
//! protocol, must answer as one plain MariaDB does. Both connections switch
//! with the same `SET NAMES` (see `setwise_tests::diff::collations`).

use setwise_tests::diff::collations::{
    self, binary_statements, expressions, statements, COLUMNS, NAMES,
};
use setwise_tests::diff::Diff;

/// The cluster and the reference with the collation tables and their rows.
async fn loaded() -> Diff {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.create_db().await.expect("create diffdb");
    d.pair(&collations::ddl(true), &collations::ddl(false))
        .await
        .unwrap();
    let insert = collations::insert();
    d.pair(&insert, &insert).await.unwrap();
    d
}

#[tokio::test]
async fn merges_follow_the_columns_collation_under_every_connection_charset() {
    let mut d = loaded().await;
    for names in NAMES {
        d.group(&format!("SET NAMES {names}"));
        let set = format!("SET NAMES {names}");
        d.pair(&set, &set).await.unwrap();
        for c in COLUMNS {
            d.run_all(&statements(c)).await.unwrap();
            d.run_all(&binary_statements(c)).await.unwrap();
        }
        d.run_all(&expressions()).await.unwrap();
    }
    d.finish();
}

/// Sessions with different character sets at once, sharing the gateway's
/// pooled backend connections: each session's merges follow its own
/// `SET NAMES` (the sets' answers are converted to it), never another's.
#[tokio::test]
async fn concurrent_sessions_merge_each_in_its_own_charset() {
    use setwise_tests::diff::data::DB;
    use setwise_tests::diff::outcome::{differences, run_text, Order};

    let mut d = loaded().await;
    let queries = [
        "SELECT id, u, l FROM cs ORDER BY u, id LIMIT 1, 6",
        "SELECT id, l FROM cs ORDER BY l DESC, id LIMIT 8",
        "SELECT COUNT(*), MIN(id), MAX(id) FROM cs GROUP BY g ORDER BY MIN(id)",
    ];
    // MariaDB's answers, per character set.
    let mut want = Vec::new();
    for names in NAMES {
        let set = format!("SET NAMES {names}");
        run_text(&mut d.rf, &set).await.unwrap();
        let mut answers = Vec::new();
        for q in queries {
            answers.push(run_text(&mut d.rf, q).await.unwrap());
        }
        want.push(answers);
    }
    let opts = d.cluster().proxy_opts("app", "app", Some(DB));
    let mut tasks = Vec::new();
    for (i, names) in NAMES.iter().enumerate() {
        let opts = opts.clone();
        let want = want[i].clone();
        tasks.push(tokio::spawn(async move {
            let mut c = mysql_async::Conn::new(opts).await.unwrap();
            run_text(&mut c, &format!("SET NAMES {names}"))
                .await
                .unwrap();
            let mut failures = Vec::new();
            for round in 0..12 {
                for (q, w) in queries.iter().zip(&want) {
                    let got = run_text(&mut c, q).await.unwrap();
                    if let Some(diff) = differences(w, &got, Order::Exact) {
                        failures.push(format!("{names}, round {round}: {q}\n{diff}"));
                    }
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    d.finish();
}
