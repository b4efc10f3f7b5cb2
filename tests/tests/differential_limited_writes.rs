//! Differential checks of `UPDATE`/`DELETE ... ORDER BY ... LIMIT` over rows of
//! several sets: affected rows and table contents equal to one plain MariaDB's;
//! see `setwise_tests::diff::limited`.

use setwise_tests::diff::data::Data;
use setwise_tests::diff::{limited, Diff};

#[tokio::test]
async fn limited_writes_across_sets_match_a_plain_mariadb() {
    let data = Data::generate(20_240_601, 300, 1000);
    let mut d = Diff::start()
        .await
        .expect("start the cluster and the reference");
    d.setup(&data).await.expect("create and load diffdb");
    d.pair(limited::TAGS_GW, limited::TAGS_RF).await.unwrap();
    let ins = limited::tags_insert();
    d.pair(&ins, &ins).await.unwrap();
    d.pair(limited::LOGS_GW, limited::LOGS_RF).await.unwrap();
    let ins = limited::logs_insert();
    d.pair(&ins, &ins).await.unwrap();
    d.group("UPDATE/DELETE ORDER BY LIMIT across sets");
    d.run_all(&limited::statements()).await.unwrap();
    d.group("table contents after UPDATE/DELETE LIMIT");
    d.compare_tables().await.unwrap();
    for t in ["tags", "logs"] {
        d.run(&setwise_tests::diff::Q::any(format!("SELECT * FROM {t}")))
            .await
            .unwrap();
    }
    d.finish();
}
