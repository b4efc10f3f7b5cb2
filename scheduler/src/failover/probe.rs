//! The scheduler's own check that a primary is dead, before it acts on the agents'
//! reports: a fresh connection and `SELECT 1` within a timeout. An agent that died
//! alone must not cause a failover.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::config::MysqlConfig;

/// `Ok(())` when `host:port` answers `SELECT 1` within `within`; else what failed.
pub async fn answers(
    host: &str,
    port: u16,
    account: &MysqlConfig,
    within: Duration,
) -> Result<(), String> {
    let probe = async {
        let mut c = Conn::new(account.opts(host, port)).await?;
        c.query_drop("SELECT 1").await?;
        let _ = c.disconnect().await;
        Ok::<_, mysql_async::Error>(())
    };
    match tokio::time::timeout(within, probe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", within.as_millis())),
    }
}
