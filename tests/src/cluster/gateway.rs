//! The gateway of a test [`Cluster`]: its config written and the process started,
//! its settings for the next start, its ports, and client connections through it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use mysql_async::{Conn, Opts, OptsBuilder, Pool};

use super::{wait_accepting, Cluster, APP_PASSWORD, APP_USER, PROGRAM_READY_TIMEOUT};
use crate::bins;
use crate::port;
use crate::process::ChildGuard;

impl Cluster {
    /// Writes the gateway's config (docs/contracts.md) and starts it; waits until its port
    /// accepts TCP. Keeps the port across restarts.
    pub async fn start_proxy(&mut self) -> anyhow::Result<()> {
        if let Some(mut p) = self.proxy.take() {
            p.kill();
        }
        let port = self.proxy_port.get_or_insert_with(port::reserve).get();
        let dir = self.work.path();
        let config = dir.join("proxy.toml");
        let toml = format!(
            "listen = \"127.0.0.1:{port}\"\n\
             routing_cache = \"{cache}\"\n\
             metrics_listen = \"{metrics}\"\n\
             \n\
             [etcd]\n\
             endpoints = [\"{etcd}\"]\n\
             cluster = \"{cluster}\"\n\
             timeout_ms = 2000\n\
             \n\
             [backend]\n\
             user = \"setwise_proxy\"\n\
             password = \"setwise\"\n\
             pool_max = 64\n\
             connect_timeout_ms = 2000\n\
             {backend_extra}\n",
            backend_extra = self.proxy_backend_extra,
            cache = dir.join("proxy-routing.json").display(),
            etcd = self.etcd.endpoint(),
            cluster = self.cluster,
            metrics = self
                .proxy_metrics
                .as_ref()
                .map(|p| format!("127.0.0.1:{}", p.get()))
                .unwrap_or_default(),
        );
        let toml = format!("{toml}\n{}", self.proxy_extra);
        std::fs::write(&config, toml)?;
        let mut cmd = Command::new(bins::bin(bins::PROXY));
        cmd.arg("--config").arg(&config);
        cmd.envs(self.proxy_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut child = ChildGuard::spawn("setwise-proxy", cmd, &dir.join("proxy.log"))?;
        wait_accepting(&mut child, port, PROGRAM_READY_TIMEOUT).await?;
        self.proxy = Some(child);
        Ok(())
    }

    /// TOML sections added to the gateway's config from its next
    /// [`start_proxy`](Cluster::start_proxy) on (e.g. `"[join]\nbatch = 50\n"`).
    pub fn set_proxy_extra(&mut self, toml: &str) {
        self.proxy_extra = toml.to_string();
    }

    /// Lines added to the gateway's `[backend]` section from its next
    /// [`start_proxy`](Cluster::start_proxy) on (e.g. `"prefer_socket = false"`).
    pub fn set_proxy_backend(&mut self, lines: &str) {
        self.proxy_backend_extra = lines.to_string();
    }

    /// Environment variables (e.g. test hooks) of the gateway from its next
    /// [`start_proxy`](Cluster::start_proxy) on; empty: none.
    pub fn set_proxy_env(&mut self, vars: &[(&str, &str)]) {
        self.proxy_env = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }

    /// `kill -9` the gateway (its port stays reserved for [`Cluster::start_proxy`]).
    pub fn kill_proxy(&mut self) {
        if let Some(mut p) = self.proxy.take() {
            p.kill();
        }
    }
    /// The gateway's process, if started (e.g. to check it is still running).
    pub fn proxy_process(&mut self) -> Option<&mut ChildGuard> {
        self.proxy.as_mut()
    }
    pub fn proxy_log(&self) -> PathBuf {
        self.work.path().join("proxy.log")
    }
    /// The gateway's metrics port; panics unless the builder asked for it
    /// ([`ClusterBuilder::proxy_metrics`]).
    pub fn proxy_metrics_port(&self) -> u16 {
        self.proxy_metrics
            .as_ref()
            .expect("the gateway's metrics port is off (ClusterBuilder::proxy_metrics)")
            .get()
    }
    /// The gateway's port; panics if it was never started.
    pub fn proxy_port(&self) -> u16 {
        self.proxy_port.as_ref().expect("gateway not started").get()
    }
    /// `127.0.0.1:<port>` of the gateway.
    pub fn proxy_addr(&self) -> String {
        format!("127.0.0.1:{}", self.proxy_port())
    }
    /// mysql_async options for the gateway. `max_allowed_packet` and `wait_timeout` are
    /// given so the client does not query them at connect; TCP only.
    pub fn proxy_opts(&self, user: &str, password: &str, db: Option<&str>) -> Opts {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.proxy_port())
            .user(Some(user))
            .pass(Some(password))
            .db_name(db)
            .prefer_socket(false)
            .max_allowed_packet(Some(16 * 1024 * 1024))
            .wait_timeout(Some(28800))
            .into()
    }
    /// Options for the `app` user through the gateway.
    pub fn app_opts(&self) -> Opts {
        self.proxy_opts(APP_USER, APP_PASSWORD, None)
    }
    /// A new `app` connection through the gateway (bounded by 10 s).
    pub async fn proxy_conn(&self) -> anyhow::Result<Conn> {
        let opts = self.app_opts();
        tokio::time::timeout(Duration::from_secs(10), Conn::new(opts))
            .await
            .context("connecting to the gateway timed out")?
            .context("connect to the gateway")
    }
    /// A pool of `app` connections through the gateway.
    pub fn proxy_pool(&self) -> Pool {
        Pool::new(self.app_opts())
    }
    /// A new `app` connection through the gateway using database `db`, retried
    /// (30 s at most) until the gateway knows it (after [`Cluster::create_db`]).
    pub async fn proxy_conn_in(&self, db: &str) -> anyhow::Result<Conn> {
        use mysql_async::prelude::Queryable;
        let what = format!("the gateway to know {db}");
        crate::retry(&what, Duration::from_secs(30), || async {
            let mut conn = self.proxy_conn().await?;
            conn.query_drop(format!("USE `{db}`")).await?;
            anyhow::Ok(conn)
        })
        .await
    }
}
