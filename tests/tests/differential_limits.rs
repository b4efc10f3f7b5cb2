//! Differential checks of LIMIT / OFFSET placeholders in prepared statements
//! over rows of several sets: the gateway against one plain MariaDB with the
//! same data; see `setwise_tests::diff::limits`.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{limits, Diff};

async fn loaded() -> Diff {
    let data = Data::generate(20_240_601, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d
}

/// COM_STMT_EXECUTE: one statement executed with many LIMIT/OFFSET values of
/// several types, with and without WHERE placeholders.
#[tokio::test]
async fn binary_limit_placeholders_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("binary protocol: LIMIT ? / OFFSET ? executed many times");
    for e in limits::binary() {
        d.run_execs(&e).await.unwrap();
    }
    d.group("binary protocol: UNION with LIMIT ?");
    for e in limits::unions() {
        d.run_execs(&e).await.unwrap();
    }
    d.group("binary protocol: may be refused, never different");
    d.run_all(&limits::refusable()).await.unwrap();
    d.finish();
}

/// SQL `PREPARE ... FROM '...'` over several sets, then `EXECUTE ... USING`
/// with user variables and literals, several values, wrong counts and
/// negative values (MariaDB's own errors), `DEALLOCATE PREPARE`.
#[tokio::test]
async fn sql_level_limit_placeholders_match_a_plain_mariadb() {
    let mut d = loaded().await;
    d.group("SQL PREPARE ... EXECUTE USING with LIMIT ?");
    d.run_all(&limits::sql_level()).await.unwrap();
    d.finish();
}
