//! Differential checks of `SQL_CALC_FOUND_ROWS` / `FOUND_ROWS()`, of window
//! functions partitioned by the shard key and of derived tables, over rows of
//! several sets: the gateway against one plain MariaDB with the same data; see
//! `setwise_tests::diff::sql_features` and `setwise_tests::diff::derived`.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{derived, sql_features, windows, Diff, Q};

async fn loaded() -> Diff {
    let data = Data::generate(20_240_601, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d
}

/// `FOUND_ROWS()` is the session's own: the rows of its last result set, or
/// with `SQL_CALC_FOUND_ROWS` every set's rows without the LIMIT, in both
/// protocols and in a transaction; what cannot be summed is refused.
#[tokio::test]
async fn found_rows_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("SQL_CALC_FOUND_ROWS and FOUND_ROWS()");
    d.run_all(&sql_features::found_rows()).await.unwrap();
    d.group("SQL_CALC_FOUND_ROWS refused where counts do not add up");
    for q in sql_features::found_rows_refused() {
        let got = d.run(&q).await.unwrap();
        assert!(got.is_unsupported(), "{}: {got:?}", q.sql);
        // Both sides' count set again before anything else compares it.
        d.run(&Q::exact(
            "SELECT user_id FROM users ORDER BY user_id LIMIT 4",
        ))
        .await
        .unwrap();
        d.run(&Q::any("SELECT FOUND_ROWS()")).await.unwrap();
    }
    d.finish();
}

/// Window functions whose every PARTITION BY names the shard key run on each
/// set, the outer ORDER BY / LIMIT merged; a window over several sets whose
/// FROM joins tables is refused with 1235.
#[tokio::test]
async fn windows_partitioned_by_the_shard_key_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("windows partitioned by the shard key");
    d.run_all(&sql_features::windows()).await.unwrap();
    d.group("windows over partitions spanning sets: refused");
    for sql in sql_features::windows_refused() {
        let got = d.run(&Q::any(sql).or_unsupported()).await.unwrap();
        assert!(got.is_unsupported(), "{sql}: {got:?}");
    }
    d.finish();
}

/// Windows over rows of several sets not partitioned by the shard key
/// (ROW_NUMBER, RANK, LAG/LEAD, frames, over a GROUP BY, ...), over one table:
/// its rows (WHERE applied on each set) materialized, MariaDB computing the
/// rest on one set; before: refused with 1235. Joins, CTEs, FOR UPDATE: refused.
#[tokio::test]
async fn windows_over_several_sets_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("windows spanning sets over one table: materialized");
    d.run_all(&windows::materialized()).await.unwrap();
    d.group("windows spanning sets in a transaction, after its own uncommitted write");
    d.run_all(&windows::in_transaction()).await.unwrap();
    d.group("windows spanning sets over joins, CTEs, locking reads: refused");
    for sql in windows::refused() {
        let got = d.run(&Q::any(sql).or_unsupported()).await.unwrap();
        assert!(got.is_unsupported(), "{sql}: {got:?}");
    }
    d.finish();
}

/// Derived tables over one sharded table: exact set by set when grouped by the shard
/// key (or not computing over rows at all); materialized by the gateway when they
/// aggregate, deduplicate, limit or roll up rows of several sets (before: refused
/// with 1235, and before that each set's part); still refused when a subquery
/// reads the sharded table under outer rows that are not its own.
#[tokio::test]
async fn derived_tables_over_a_sharded_table_match_or_are_refused() {
    let mut d = loaded().await;
    d.group("derived tables whose rows are each set's own");
    d.run_all(&derived::per_set()).await.unwrap();
    d.group("derived tables computing over rows of several sets: materialized");
    d.run_all(&derived::materialized()).await.unwrap();
    d.group("materialized DECIMAL, DATETIME, utf8mb4_unicode_ci, BIGINT UNSIGNED, NULL");
    let (gw, rf, inserts) = derived::typed_table();
    d.pair(&gw, &rf).await.unwrap();
    for sql in &inserts {
        d.pair(sql, sql).await.unwrap();
    }
    d.run_all(&derived::typed()).await.unwrap();
    d.group("materialized in a transaction, after its own uncommitted write");
    d.run_all(&derived::in_transaction()).await.unwrap();
    d.group("subqueries over rows of several sets still refused");
    for sql in derived::refused() {
        let got = d.run(&Q::any(sql).or_unsupported()).await.unwrap();
        assert!(got.is_unsupported(), "{sql}: {got:?}");
    }
    d.finish();
}

/// Expressions over aggregates across sets: `CAST(... AS CHAR)` gives the
/// aggregate's own text; arithmetic over MIN / MAX of strings, dates or JSON is
/// refused (1235) — before, the gateway answered NULL or dropped a DECIMAL's scale.
#[tokio::test]
async fn casts_and_expressions_over_aggregates_match_or_are_refused() {
    let mut d = loaded().await;
    d.group("CAST(aggregate AS CHAR / SIGNED / DECIMAL)");
    d.run_all(&sql_features::casts_over_aggregates())
        .await
        .unwrap();
    d.group("expressions over MIN / MAX of text: refused");
    for sql in sql_features::calcs_over_text_refused() {
        let got = d.run(&Q::any(sql).or_unsupported()).await.unwrap();
        assert!(got.is_unsupported(), "{sql}: {got:?}");
    }
    d.finish();
}

/// `ORDER BY NULL` after GROUP BY or DISTINCT across sets: no order, the
/// groups MariaDB's (before: refused with 1235).
#[tokio::test]
async fn order_by_null_after_grouping_matches_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("GROUP BY / DISTINCT ... ORDER BY NULL");
    d.run_all(&sql_features::order_by_null()).await.unwrap();
    d.finish();
}
