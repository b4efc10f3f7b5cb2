//! A set: one primary and N replicas with GTID replication and semi-sync.
//!
//! [`MariaSet::start`] starts every instance at once, then points each replica at
//! the primary (`CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`, retry every second)
//! and waits until the primary sees all of them as semi-sync replicas, so the first
//! commit does not wait for the semi-sync timeout. Semi-sync is on (AFTER_SYNC) on the
//! primary only; replicas have `rpl_semi_sync_slave_enabled=ON` and `read_only=ON`.
//! Nodes are named `<set>-n0` (the primary), `<set>-n1`, ...

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use mysql_async::prelude::*;
use topo::Role;

use crate::mariadb::{MariaDb, NodeOptions};

/// Bound for replication to catch up or attach.
pub const REPLICATION_TIMEOUT: Duration = Duration::from_secs(30);

pub struct MariaSet {
    name: String,
    nodes: Vec<MariaDb>,
}

impl MariaSet {
    /// Starts set `name` (its `index` ≥ 1 gives server ids `100*index + k + 1`) with
    /// `replicas` replicas, data under `parent`.
    pub async fn start(
        parent: &Path,
        name: &str,
        index: u32,
        replicas: usize,
    ) -> anyhow::Result<Self> {
        let starts = (0..=replicas).map(|k| {
            let opts = if k == 0 {
                NodeOptions::primary(replicas > 0)
            } else {
                NodeOptions::replica()
            };
            let node = format!("{name}-n{k}");
            async move { MariaDb::start(&node, parent, 100 * index + k as u32 + 1, opts).await }
        });
        let nodes = futures::future::try_join_all(starts)
            .await
            .with_context(|| format!("start set {name}"))?;
        let set = Self {
            name: name.to_string(),
            nodes,
        };
        let primary = set.nodes[0].port();
        futures::future::try_join_all((1..=replicas).map(|k| set.attach(k, primary))).await?;
        if replicas > 0 {
            set.wait_semi_sync_clients(0, replicas).await?;
        }
        Ok(set)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// All nodes in start order (`n0` first).
    pub fn nodes(&self) -> &[MariaDb] {
        &self.nodes
    }
    pub fn node(&self, k: usize) -> &MariaDb {
        &self.nodes[k]
    }
    pub fn node_mut(&mut self, k: usize) -> &mut MariaDb {
        &mut self.nodes[k]
    }
    /// The node by id, e.g. `set1-n1`.
    pub fn node_by_id(&self, id: &str) -> Option<&MariaDb> {
        self.nodes.iter().find(|n| n.name() == id)
    }
    /// Index of the node started as (or last set to) primary.
    pub fn primary_index(&self) -> usize {
        self.nodes
            .iter()
            .position(|n| n.role() == Role::Primary)
            .unwrap_or(0)
    }
    pub fn primary(&self) -> &MariaDb {
        &self.nodes[self.primary_index()]
    }
    pub fn replicas(&self) -> impl Iterator<Item = &MariaDb> {
        self.nodes.iter().filter(|n| n.role() == Role::Replica)
    }

    /// Points node `k` at the primary on `primary_port` and starts replication.
    pub async fn attach(&self, k: usize, primary_port: u16) -> anyhow::Result<()> {
        let node = &self.nodes[k];
        node.exec("STOP SLAVE").await?;
        node.exec(&format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary_port}, \
             MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, \
             MASTER_CONNECT_RETRY=1"
        ))
        .await?;
        node.exec("START SLAVE").await?;
        crate::wait_until(
            &format!("{} to replicate", node.name()),
            REPLICATION_TIMEOUT,
            || async move {
                let mut c = node.conn().await?;
                let st: Option<mysql_async::Row> = c.query_first("SHOW SLAVE STATUS").await?;
                c.disconnect().await?;
                let Some(st) = st else {
                    bail!("no slave status")
                };
                let io: Option<String> = st.get("Slave_IO_Running");
                let sql: Option<String> = st.get("Slave_SQL_Running");
                if sql.as_deref() != Some("Yes") {
                    let err: Option<String> = st.get("Last_SQL_Error");
                    bail!("SQL thread not running: {err:?}");
                }
                Ok(io.as_deref() == Some("Yes"))
            },
        )
        .await
    }

    /// Waits until node `k` has applied everything node `primary` has binlogged
    /// (`MASTER_GTID_WAIT` on the primary's `@@gtid_binlog_pos`).
    pub async fn catch_up(
        &self,
        k: usize,
        primary: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let pos = self.nodes[primary].gtid_binlog_pos().await?;
        let node = &self.nodes[k];
        let r = node
            .scalar(&format!(
                "SELECT MASTER_GTID_WAIT('{pos}', {})",
                timeout.as_secs_f64()
            ))
            .await?;
        match r.as_deref() {
            Some("0") => Ok(()),
            Some("-1") => bail!(
                "{} did not reach gtid {pos} within {timeout:?} (at {:?})",
                node.name(),
                node.scalar("SELECT @@gtid_slave_pos").await.ok().flatten()
            ),
            other => bail!("MASTER_GTID_WAIT on {} returned {other:?}", node.name()),
        }
    }

    /// Waits until every running replica has caught up with the current primary.
    pub async fn sync_replicas(&self) -> anyhow::Result<()> {
        let p = self.primary_index();
        let ks: Vec<usize> = (0..self.nodes.len())
            .filter(|&k| k != p && self.nodes[k].role() == Role::Replica)
            .collect();
        futures::future::try_join_all(
            ks.into_iter()
                .map(|k| self.catch_up(k, p, REPLICATION_TIMEOUT)),
        )
        .await?;
        Ok(())
    }

    /// Waits until node `k` (a primary) counts at least `n` semi-sync replicas.
    pub async fn wait_semi_sync_clients(&self, k: usize, n: usize) -> anyhow::Result<()> {
        let node = &self.nodes[k];
        crate::wait_until(
            &format!("{n} semi-sync replicas on {}", node.name()),
            REPLICATION_TIMEOUT,
            || async move {
                let rows = node
                    .query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")
                    .await?;
                let clients: usize = rows
                    .first()
                    .and_then(|r| r.get(1).cloned().flatten())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                Ok(clients >= n)
            },
        )
        .await
    }

    /// `kill -9` node `k`.
    pub fn kill(&mut self, k: usize) {
        self.nodes[k].kill();
    }
    /// Restarts node `k` (same port, data and options) and waits until it answers.
    pub async fn restart(&mut self, k: usize) -> anyhow::Result<()> {
        self.nodes[k].restart().await
    }
}
