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

#[tokio::test]
async fn merges_follow_the_columns_collation_under_every_connection_charset() {
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.create_db().await.expect("create diffdb");
    d.pair(&collations::ddl(true), &collations::ddl(false))
        .await
        .unwrap();
    let insert = collations::insert();
    d.pair(&insert, &insert).await.unwrap();
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
