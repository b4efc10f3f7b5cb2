//! The database `shop` most cluster tests start from, created through the gateway:
//! a cluster with `shop.t (id BIGINT PRIMARY KEY, v INT)` sharded by `id`
//! ([`Cluster::with_shop_t`]), `shop` with a test's own statements
//! ([`Cluster::create_shop`]), a connection in a new `shop` ([`Cluster::proxy_shop`]),
//! and `shop.orders` with rows ([`Cluster::shop_orders`]).

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::cluster::Cluster;

/// The statement creating `shop.t`, the table most cluster tests write.
pub const SHOP_T: &str = "CREATE TABLE shop.t (id BIGINT PRIMARY KEY, v INT) shardkey=id";

impl Cluster {
    /// [`Cluster::with_gateway`] with `shop.t` created through the gateway.
    pub async fn with_shop_t(sets: usize, replicas: usize) -> Cluster {
        let c = Cluster::with_gateway(sets, replicas).await;
        drop(c.create_shop(&[SHOP_T]).await);
        c
    }

    /// Creates database `shop` through the gateway, then runs `statements` on the same
    /// connection, which it returns. Panics on an error (a test fixture).
    pub async fn create_shop(&self, statements: &[&str]) -> Conn {
        let mut conn = self.proxy_conn().await.unwrap();
        conn.query_drop("CREATE DATABASE shop").await.unwrap();
        for sql in statements {
            conn.query_drop(*sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn
    }

    /// A new `app` connection through the gateway in a new database `shop`, with
    /// a table `t (id BIGINT PRIMARY KEY, v INT)` sharded by `id`.
    pub async fn proxy_shop(&self) -> anyhow::Result<Conn> {
        let mut conn = self.proxy_conn().await?;
        conn.query_drop("CREATE DATABASE shop").await?;
        conn.query_drop("USE shop").await?;
        conn.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY, v INT) shardkey=id")
            .await?;
        Ok(conn)
    }

    /// Database `shop` on set1 and set2 with `orders (id BIGINT PRIMARY KEY, v
    /// VARCHAR(20))` sharded by `id` holding rows `1..=rows` (`v` = `o<id>`),
    /// created through the gateway.
    pub async fn shop_orders(&self, rows: i64) -> anyhow::Result<()> {
        self.create_db("shop", &["set1", "set2"]).await?;
        let mut conn = self.proxy_conn_in("shop").await?;
        conn.query_drop(
            "CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, v VARCHAR(20)) shardkey=id",
        )
        .await?;
        let values: Vec<String> = (1..=rows).map(|i| format!("({i}, 'o{i}')")).collect();
        conn.query_drop(format!(
            "INSERT INTO shop.orders (id, v) VALUES {}",
            values.join(",")
        ))
        .await?;
        conn.disconnect().await?;
        Ok(())
    }
}

/// The slot of `shop.t`'s integer key `id` (1024 slots, as tests' clusters have).
pub fn t_slot(id: i64) -> u32 {
    topo::slot::slot_of_compared(id.to_string().as_bytes(), topo::KeyType::Integer, 1024)
        .expect("an integer key has a slot")
}
