//! Views over every kind of table, through the gateway and on one plain MariaDB:
//! the same rows, column definitions and errors; see `setwise_tests::diff::views`.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{views, Diff};

#[tokio::test]
async fn views_match_a_plain_mariadb() {
    let data = Data::generate(20_240_601, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    for v in views::VIEWS {
        d.pair(v, v).await.unwrap();
    }
    d.group("views over sharded, broadcast and single tables");
    d.run_all(&views::reads()).await.unwrap();
    d.finish();
}
