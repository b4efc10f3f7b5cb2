//! The differential type by type: values of every column kind merged across
//! sets (ORDER BY / LIMIT / OFFSET, GROUP BY, DISTINCT, aggregates, ROLLUP,
//! UNION) must come back with MariaDB's rows, order and column definitions, in
//! the text and the binary protocol (see `setwise_tests::diff::types`).
//! `SETWISE_DIFF_SEED=n` explores other rows and LIMIT / OFFSET values.

use setwise_tests::diff::rng::Rng;
use setwise_tests::diff::{types, Diff};

const SEED: u64 = 20_261_207;

fn seed() -> u64 {
    std::env::var("SETWISE_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEED)
}

#[tokio::test]
async fn merged_values_keep_their_types() {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.create_db().await.expect("create diffdb");
    d.pair(&types::ddl(true), &types::ddl(false)).await.unwrap();
    for sql in types::inserts(seed(), 80) {
        d.pair(&sql, &sql).await.unwrap();
    }
    let mut rng = Rng::new(seed());
    d.group("text protocol: every type merged");
    d.run_all(&types::statements(&mut rng)).await.unwrap();
    d.group("binary protocol: every type merged");
    d.run_all(&types::binary_statements(&mut rng))
        .await
        .unwrap();
    d.group("subqueries, temporal sums, HAVING, UNION ALL of mixed types");
    d.run_all(&types::subqueries()).await.unwrap();
    d.group("binary protocol: floats through one set");
    d.run_execs(&types::point_floats()).await.unwrap();
    for incr in [4, 0, 9] {
        d.group(&format!(
            "decimal quotients, div_precision_increment = {incr}"
        ));
        let set = format!("SET div_precision_increment = {incr}");
        d.pair(&set, &set).await.unwrap();
        d.run_all(&types::quotients()).await.unwrap();
    }
    d.pair(
        "SET div_precision_increment = 4",
        "SET div_precision_increment = 4",
    )
    .await
    .unwrap();
    d.group("TIMESTAMP under the session's time zone");
    let tz = "SET time_zone = '+05:30'";
    d.pair(tz, tz).await.unwrap();
    d.run_all(&types::timestamps()).await.unwrap();
    d.finish();
}
