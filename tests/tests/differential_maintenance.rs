//! `ANALYZE | CHECK | OPTIMIZE | REPAIR TABLE` through the gateway against a
//! plain MariaDB (they were refused): a sharded, a broadcast and a single
//! table, several at once, a table that does not exist; the result sets must
//! be MariaDB's. Each runs on every set holding the table; a row every set
//! gave alike appears once. `CHECKSUM TABLE` (refused before): a sharded
//! table's is its sets' summed modulo 2^32, as MariaDB sums its rows'.

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
        "CHECKSUM TABLE users",
        "CHECKSUM TABLE orders, cities, settings",
        "CHECKSUM TABLE users EXTENDED",
        "CHECKSUM TABLE users QUICK",
        "CHECKSUM TABLE diffdb.orders, users",
    ] {
        d.run(&Q::exact(sql)).await.unwrap();
    }
    // In a transaction (which it does not commit): refused, and the
    // transaction's write is still rolled back.
    d.run(&Q::exact("BEGIN")).await.unwrap();
    d.run(&Q::exact("UPDATE users SET score = score + 1"))
        .await
        .unwrap();
    let got = d
        .run(&Q::exact("CHECKSUM TABLE users").or_unsupported())
        .await
        .unwrap();
    assert!(got.is_unsupported(), "{got:?}");
    d.run(&Q::exact("ROLLBACK")).await.unwrap();
    d.run(&Q::exact("CHECKSUM TABLE users, orders"))
        .await
        .unwrap();
    // The data is still all there, and the same.
    d.compare_tables().await.unwrap();
    d.finish();
}
