//! Freezing the replicas' positions when a failover elects: the scheduler stops
//! each replica's IO thread (`STOP SLAVE IO_THREAD`) and reads what it received
//! (`Gtid_IO_Pos`) and applied, over SQL, all replicas in parallel, each within
//! the probe timeout.
//!
//! Once the IO threads stop, nothing more arrives from the old primary: a hung one
//! that wakes up cannot have a commit acknowledged by a replica that is about to
//! follow another node, and the positions read are exact, so the election waits
//! for no fresh agent report. A replica that cannot be reached this way is judged
//! from its agent's reports as before ([`super::elect::field`]). Replicas left
//! without an IO thread are repointed by the failover, or by the policy when the
//! failover ends without a new primary.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use topo::gtid::GtidPos;
use topo::NodeRecord;

use super::elect::Candidate;
use crate::config::MysqlConfig;

/// Stops the IO thread of every node in `replicas` and reads its position; one
/// result per node (the error says why it could not).
pub async fn freeze(
    account: &MysqlConfig,
    replicas: &[NodeRecord],
    within: Duration,
) -> Vec<(String, Result<Candidate, String>)> {
    let runs = replicas.iter().map(|n| async move {
        let r = match tokio::time::timeout(within, freeze_one(account, n)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} ms", within.as_millis())),
        };
        (n.id.clone(), r)
    });
    futures::future::join_all(runs).await
}

const IO_THREADS: &str = "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'";

async fn freeze_one(account: &MysqlConfig, n: &NodeRecord) -> Result<Candidate, String> {
    let mut c = Conn::new(account.opts(&n.host, n.port))
        .await
        .map_err(|e| e.to_string())?;
    let r = async {
        // An IO thread blocked on a hung primary takes MariaDB 2 s to stop: its
        // connection is ended first (again until it is gone: a kill that lands
        // just before the thread blocks in its read is not seen), which stops it
        // at once. The agent's `stop_io_thread` does the same.
        for _ in 0..200 {
            let io: Vec<u64> = c.query(IO_THREADS).await?;
            if io.is_empty() {
                break;
            }
            for id in io {
                match c.query_drop(format!("KILL CONNECTION {id}")).await {
                    Err(mysql_async::Error::Server(e)) if e.code == 1094 => {} // gone meanwhile
                    other => other?,
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c.query_drop("STOP SLAVE IO_THREAD").await?;
        let st: Option<Row> = c.query_first("SHOW SLAVE STATUS").await?;
        let current: Option<String> = c.query_first("SELECT @@GLOBAL.gtid_current_pos").await?;
        Ok::<_, mysql_async::Error>((st, current))
    }
    .await;
    let _ = tokio::time::timeout(Duration::from_millis(200), c.disconnect()).await;
    let (st, current) = r.map_err(|e| e.to_string())?;
    let col = |name: &str| -> Option<String> {
        st.as_ref()
            .and_then(|r| r.get_opt::<Option<String>, _>(name))
            .and_then(|v| v.ok())
            .flatten()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let text = col("Gtid_IO_Pos")
        .or(current.filter(|s| !s.trim().is_empty()))
        .unwrap_or_default();
    Ok(Candidate {
        node: n.id.clone(),
        received: GtidPos::parse_lossy(&text),
        wait_gtid: (!text.is_empty()).then_some(text),
        sql_running: col("Slave_SQL_Running").as_deref() == Some("Yes"),
    })
}
