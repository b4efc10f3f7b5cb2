//! One etcd server (Debian's etcd 3.4) on free loopback ports, data in the work dir.
//!
//! Ready when a [`topo::Topo`] connects and a `get` answers (bounded wait).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::port::{self, Port};
use crate::process::ChildGuard;

/// How long etcd may take to answer after it is started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Etcd {
    child: Option<ChildGuard>,
    client_port: Port,
    peer_port: Port,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Etcd {
    /// Starts etcd with its data in `dir/etcd` and waits until it answers.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut etcd = Self {
            child: None,
            client_port: port::reserve(),
            peer_port: port::reserve(),
            data_dir: dir.join("etcd"),
            log: dir.join("etcd.log"),
        };
        etcd.spawn().await?;
        Ok(etcd)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let client = format!("http://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut cmd = Command::new("etcd");
        cmd.arg("--name=default")
            .arg(format!("--data-dir={}", self.data_dir.display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=default={peer}"))
            // A 50 ms raft tick lets leases as short as 1 s live (etcd's minimum
            // lease TTL is 1.5 election timeouts): a dead scheduler leader is
            // replaced within about a second (`election_ttl = 1`).
            .arg("--heartbeat-interval=50")
            .arg("--election-timeout=500")
            .arg("--logger=zap");
        self.child = Some(ChildGuard::spawn("etcd", cmd, &self.log)?);
        self.wait_ready(READY_TIMEOUT).await
    }

    /// Polls until a `get` succeeds; fails at once if etcd exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let cfg = self.config("ready-probe");
        let start = std::time::Instant::now();
        loop {
            match self.child.as_mut() {
                Some(c) => c.ensure_running()?,
                None => anyhow::bail!("etcd is stopped"),
            }
            let probe = async {
                let topo = topo::Topo::connect(&cfg).await?;
                topo.get::<serde_json::Value>("/setwise-ready-probe")
                    .await?;
                anyhow::Ok(())
            };
            match probe.await {
                Ok(()) => return Ok(()),
                Err(e) if start.elapsed() > timeout => {
                    return Err(e).with_context(|| {
                        format!(
                            "etcd did not answer within {timeout:?}; log {}",
                            self.log.display()
                        )
                    })
                }
                Err(_) => tokio::time::sleep(crate::POLL).await,
            }
        }
    }

    /// `http://127.0.0.1:<client port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn client_port(&self) -> u16 {
        self.client_port.get()
    }

    /// The `[etcd]` config section for `cluster` on this server.
    pub fn config(&self, cluster: &str) -> topo::EtcdConfig {
        topo::EtcdConfig {
            endpoints: vec![self.endpoint()],
            cluster: cluster.to_string(),
            timeout_ms: 2000,
            ..Default::default()
        }
    }

    /// A raw etcd-client connection (for tests of etcd itself).
    pub async fn raw_client(&self) -> anyhow::Result<etcd_client::Client> {
        Ok(etcd_client::Client::connect([self.endpoint()], None).await?)
    }

    /// Kills etcd (`SIGKILL`); its data stays for [`Etcd::restart`].
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// Starts etcd again on the same ports and data (after [`Etcd::kill`]).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}
