//! Differential checks of subqueries and set operations over sharded tables
//! with rows on several sets: quantified comparisons, scalar subqueries, UNION
//! of aggregates; the gateway against one plain MariaDB with the same data; see
//! `setwise_tests::diff::subqueries`.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{joins, subqueries, Diff};

async fn loaded() -> Diff {
    let data = Data::generate(20_241_206, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    joins::setup(&mut d)
        .await
        .expect("create and load the join tables");
    d
}

/// `x op ALL / ANY / SOME (SELECT ...)` over rows of several sets (before:
/// 1242, the subquery taken for a scalar one).
#[tokio::test]
async fn quantified_comparisons_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("ALL / ANY / SOME in WHERE and HAVING");
    d.run_all(&subqueries::quantified()).await.unwrap();
    d.group("ALL / ANY / IN in the select list");
    d.run_all(&subqueries::quantified_selected()).await.unwrap();
    d.finish();
}

/// Scalar subqueries and EXISTS over a sharded table in the select list and
/// WHERE of a query on another table.
#[tokio::test]
async fn scalar_subqueries_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("scalar subqueries");
    d.run_all(&subqueries::scalars()).await.unwrap();
    d.finish();
}

/// `UNION [ALL]` of aggregates over sharded tables (before: refused).
#[tokio::test]
async fn unions_of_aggregates_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("UNION of aggregates");
    d.run_all(&subqueries::unions_of_aggregates())
        .await
        .unwrap();
    d.finish();
}
