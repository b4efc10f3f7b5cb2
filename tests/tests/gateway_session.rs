//! Transaction options through the gateway, against one plain MariaDB's behaviour:
//! `START TRANSACTION READ ONLY` refuses writes on every set with 1792 (25006) while
//! reads and COMMIT work; `READ WRITE` and a plain `BEGIN` write; `START SLAVE`-like
//! statements are not taken for a transaction start.

use mysql_async::prelude::*;
use setwise_tests::sql::server_error;
use setwise_tests::Cluster;

#[tokio::test]
async fn read_only_transactions_refuse_writes_on_every_set() {
    let c = Cluster::builder()
        .sets(2)
        .replicas(0)
        .proxy(true)
        .start()
        .await
        .unwrap();
    let mut conn = c.proxy_conn().await.unwrap();
    conn.query_drop("CREATE DATABASE shop").await.unwrap();
    conn.query_drop("CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
        .await
        .unwrap();
    let values: Vec<String> = (1..=20).map(|i| format!("({i}, 0)")).collect();
    conn.query_drop(format!("INSERT INTO shop.t VALUES {}", values.join(",")))
        .await
        .unwrap();

    conn.query_drop("START TRANSACTION READ ONLY")
        .await
        .unwrap();
    let n: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.t")
        .await
        .unwrap();
    assert_eq!(n, Some(20));
    for id in 1..=20 {
        let e = conn
            .query_drop(format!("UPDATE shop.t SET v = 1 WHERE id = {id}"))
            .await
            .unwrap_err();
        assert_eq!(
            server_error(&e),
            Some((1792, "25006".to_string())),
            "id {id}: {e}"
        );
    }
    let e = conn
        .query_drop("UPDATE shop.t SET v = 1")
        .await
        .unwrap_err();
    assert_eq!(server_error(&e), Some((1792, "25006".to_string())), "{e}");
    conn.query_drop("COMMIT").await.unwrap();
    let changed: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM shop.t WHERE v <> 0")
        .await
        .unwrap();
    assert_eq!(changed, Some(0));

    // READ WRITE (and the next plain BEGIN) write again.
    conn.query_drop("START TRANSACTION READ WRITE")
        .await
        .unwrap();
    conn.query_drop("UPDATE shop.t SET v = 2").await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    conn.query_drop("BEGIN").await.unwrap();
    conn.query_drop("UPDATE shop.t SET v = v + 1 WHERE id = 7")
        .await
        .unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    let sum: Option<i64> = conn.query_first("SELECT SUM(v) FROM shop.t").await.unwrap();
    assert_eq!(sum, Some(41));

    // Not a transaction start: what follows still autocommits (ROLLBACK undoes nothing).
    let r = conn.query_drop("START SLAVE").await;
    assert!(
        r.is_err(),
        "START SLAVE through the gateway must not succeed"
    );
    conn.query_drop("UPDATE shop.t SET v = 100 WHERE id = 1")
        .await
        .unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    let v: Option<i64> = conn
        .query_first("SELECT v FROM shop.t WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(v, Some(100), "START SLAVE opened a transaction");
}
