//! `ANALYZE | CHECK | OPTIMIZE | REPAIR TABLE` through the gateway against a
//! plain MariaDB (they were refused): a sharded, a broadcast and a single
//! table, several at once, a table that does not exist; the result sets must
//! be MariaDB's. Each runs on every set holding the table; a row every set
//! gave alike appears once.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{Diff, Q};

#[tokio::test]
async fn table_maintenance_matches_a_plain_mariadb() {
    let data = Data::generate(20_261_209, 40, 60);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d.group("table maintenance");
    for sql in [
        "ANALYZE TABLE users",
        "ANALYZE TABLE cities, settings, orders",
        "ANALYZE NO_WRITE_TO_BINLOG TABLE users PERSISTENT FOR ALL",
        "CHECK TABLE users, cities",
        "CHECK TABLE orders EXTENDED",
        "CHECK TABLE settings FOR UPGRADE",
        "OPTIMIZE TABLE users",
        "OPTIMIZE LOCAL TABLE cities",
        "REPAIR TABLE settings",
        "ANALYZE TABLE nosuch",
        "CHECK TABLE users, nosuch",
    ] {
        d.run(&Q::exact(sql)).await.unwrap();
    }
    // The data is still all there, and the same.
    d.compare_tables().await.unwrap();
    d.finish();
}
