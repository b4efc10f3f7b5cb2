//! `setwise-agent`'s configuration: a TOML file (`--config`) overridden by flags,
//! as in `docs/contracts.md`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Deserialize;
use topo::EtcdConfig;

/// Setwise agent: probes one MariaDB instance and reports its health to etcd under a lease.
#[derive(Debug, Default, Parser)]
#[command(name = "setwise-agent", version)]
pub struct AgentArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Node id, e.g. set1-n0.
    #[arg(long)]
    pub node: Option<String>,
    /// Set the node belongs to.
    #[arg(long)]
    pub set: Option<String>,
    /// MariaDB address HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub mysql_addr: Option<String>,
    /// MariaDB user (default setwise).
    #[arg(long)]
    pub mysql_user: Option<String>,
    /// MariaDB password (default setwise).
    #[arg(long)]
    pub mysql_password: Option<String>,
    /// etcd endpoints, comma separated.
    #[arg(long, value_name = "URL[,URL]")]
    pub etcd: Option<String>,
    /// Cluster name.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Probe interval in milliseconds (default 1000).
    #[arg(long)]
    pub interval_ms: Option<u64>,
    /// TTL of the health report's lease in seconds (default 5).
    #[arg(long)]
    pub lease_ttl: Option<i64>,
    /// Per-table statistics interval in milliseconds (default 10000).
    #[arg(long)]
    pub stats_interval_ms: Option<u64>,
    /// Account replicas use to connect to their primary (default repl).
    #[arg(long)]
    pub replication_user: Option<String>,
    /// Password of the replication account (default repl).
    #[arg(long)]
    pub replication_password: Option<String>,
    /// Shell command that starts this node's mariadbd (`[server] start`): the agent
    /// runs it after a physical rebuild swapped the datadir (docs/rebuild.md).
    #[arg(long, value_name = "CMD")]
    pub mysqld_start: Option<String>,
    /// Where to serve physical backups of this node to rebuilding agents
    /// (`[server] backup_listen`, HOST:PORT; port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT")]
    pub backup_listen: Option<String>,
    /// Log level (overrides RUST_LOG; default info).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Prometheus metrics address HOST:PORT (`metrics_listen`; empty = off).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_listen: Option<String>,
}

/// The config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    pub node: String,
    pub set: String,
    /// Probe interval, milliseconds.
    pub interval_ms: u64,
    /// Lease TTL of the health report, seconds.
    pub lease_ttl: i64,
    /// Per-table statistics (`stats/<set>/<node>`) interval, milliseconds.
    pub stats_interval_ms: u64,
    /// Bound of a `read_only`, `promote` or `repoint` task, milliseconds.
    pub task_timeout_ms: u64,
    /// Bound of a `rebuild` task (copy included), milliseconds.
    pub rebuild_timeout_ms: u64,
    pub mysql: MysqlConfig,
    pub replication: ReplicationConfig,
    pub server: ServerConfig,
    pub etcd: EtcdConfig,
    /// Prometheus metrics address, e.g. `127.0.0.1:9106`; empty = off.
    pub metrics_listen: String,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            node: String::new(),
            set: String::new(),
            interval_ms: 1000,
            lease_ttl: 5,
            stats_interval_ms: 10_000,
            task_timeout_ms: 60_000,
            rebuild_timeout_ms: 3_600_000,
            mysql: MysqlConfig::default(),
            replication: ReplicationConfig::default(),
            server: ServerConfig::default(),
            etcd: EtcdConfig::default(),
            metrics_listen: String::new(),
        }
    }
}

/// `[server]`: what the agent needs to rebuild its node physically (docs/rebuild.md):
/// how to start mariadbd again after the datadir was swapped, where to serve backups
/// of this node to other agents, and the programs. The datadir is the server's own
/// `@@datadir`; the agent stops mariadbd with `SHUTDOWN`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Command run with `sh -c` in a session of its own that starts mariadbd (it may
    /// stay in the foreground, e.g. `exec mariadbd --defaults-file=...`, or return,
    /// e.g. `systemctl start mariadb`). Empty: the agent cannot restart its node, and a
    /// rebuild falls back to the logical copy.
    pub start: String,
    /// `HOST:PORT` to serve physical backups of this node on (port 0: any free port,
    /// published in the health report). Empty: none served; nodes rebuilding from this
    /// one fall back to the logical copy.
    pub backup_listen: String,
    pub mariadb_backup: String,
    pub mbstream: String,
    /// `--use-memory` of `mariadb-backup --prepare`, MiB.
    pub prepare_memory_mb: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            start: String::new(),
            backup_listen: String::new(),
            mariadb_backup: "mariadb-backup".into(),
            mbstream: "mbstream".into(),
            prepare_memory_mb: 256,
        }
    }
}

/// `[mysql]`: how the agent reaches its MariaDB.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlConfig {
    /// `HOST:PORT`.
    pub addr: String,
    pub user: String,
    pub password: String,
    /// TCP connect + handshake timeout of a probe, milliseconds.
    pub connect_timeout_ms: u64,
    /// Whole probe (connect, reads, heartbeat write), milliseconds.
    pub probe_timeout_ms: u64,
    /// How long mariadbd must stay stopped by the kernel (`/proc` state `T`) to be
    /// reported frozen, milliseconds.
    pub frozen_after_ms: u64,
    /// TLS to the node's MariaDB and a rebuild's source (`[mysql.tls]`, docs/tls.md).
    pub tls: topo::mysql_tls::MysqlTls,
}

impl Default for MysqlConfig {
    fn default() -> Self {
        Self {
            addr: String::new(),
            user: "setwise".into(),
            password: "setwise".into(),
            connect_timeout_ms: 1000,
            probe_timeout_ms: 2000,
            frozen_after_ms: 300,
            tls: Default::default(),
        }
    }
}

/// `[replication]`: the account a replica uses to connect to its primary
/// (`CHANGE MASTER TO MASTER_USER/MASTER_PASSWORD` of `repoint` and `rebuild`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicationConfig {
    pub user: String,
    pub password: String,
    /// TLS of the replica's connection to its primary (`[replication.tls]`: the
    /// `MASTER_SSL*` of `CHANGE MASTER TO`; paths as the node's mariadbd sees them).
    pub tls: topo::mysql_tls::MysqlTls,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        Self {
            user: "repl".into(),
            password: "repl".into(),
            tls: Default::default(),
        }
    }
}

impl MysqlConfig {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(10))
    }
    pub fn probe_timeout(&self) -> Duration {
        Duration::from_millis(self.probe_timeout_ms.max(self.connect_timeout_ms).max(10))
    }
    /// Host and port of `addr` (IPv6 hosts in brackets).
    pub fn host_port(&self) -> Result<(String, u16)> {
        let bad = || {
            anyhow::anyhow!(
                "invalid MariaDB address {:?}: expected HOST:PORT",
                self.addr
            )
        };
        let (host, port) = self.addr.rsplit_once(':').ok_or_else(bad)?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok((host.to_string(), port))
    }
}

impl AgentConfig {
    /// Reads the config file (if any), applies the flags and checks the result.
    pub fn resolve(args: &AgentArgs) -> Result<Self> {
        let mut cfg = match &args.config {
            Some(path) => Self::load(path)?,
            None => Self::default(),
        };
        cfg.apply(args);
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("bad config file {}", path.display()))
    }

    fn apply(&mut self, a: &AgentArgs) {
        let set = |dst: &mut String, src: &Option<String>| {
            if let Some(v) = src {
                *dst = v.clone();
            }
        };
        set(&mut self.node, &a.node);
        set(&mut self.set, &a.set);
        set(&mut self.mysql.addr, &a.mysql_addr);
        set(&mut self.mysql.user, &a.mysql_user);
        set(&mut self.mysql.password, &a.mysql_password);
        set(&mut self.etcd.cluster, &a.cluster);
        set(&mut self.replication.user, &a.replication_user);
        set(&mut self.replication.password, &a.replication_password);
        set(&mut self.server.start, &a.mysqld_start);
        set(&mut self.server.backup_listen, &a.backup_listen);
        set(&mut self.metrics_listen, &a.metrics_listen);
        if let Some(urls) = &a.etcd {
            let list: Vec<String> = urls
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if !list.is_empty() {
                self.etcd.endpoints = list;
            }
        }
        if let Some(v) = a.interval_ms {
            self.interval_ms = v;
        }
        if let Some(v) = a.lease_ttl {
            self.lease_ttl = v;
        }
        if let Some(v) = a.stats_interval_ms {
            self.stats_interval_ms = v;
        }
    }

    fn validate(&self) -> Result<()> {
        if !topo::keys::valid_name(&self.node) {
            bail!(
                "--node (or `node` in the config) must be a valid node id, got {:?}",
                self.node
            );
        }
        if !topo::keys::valid_name(&self.set) {
            bail!(
                "--set (or `set` in the config) must be a valid set name, got {:?}",
                self.set
            );
        }
        self.mysql.host_port()?;
        self.mysql.tls.check().context("[mysql.tls]")?;
        self.replication.tls.check().context("[replication.tls]")?;
        if self.interval_ms < 10 {
            bail!("interval_ms must be at least 10");
        }
        if self.lease_ttl < 1 {
            bail!("lease_ttl must be at least 1 second");
        }
        if self.stats_interval_ms < 100 {
            bail!("stats_interval_ms must be at least 100");
        }
        if self.task_timeout_ms < 1000 || self.rebuild_timeout_ms < 1000 {
            bail!("task_timeout_ms and rebuild_timeout_ms must be at least 1000");
        }
        if self.replication.user.is_empty() {
            bail!("[replication] user must not be empty");
        }
        Ok(())
    }

    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }
    pub fn stats_interval(&self) -> Duration {
        Duration::from_millis(self.stats_interval_ms)
    }
    /// Bound of a `read_only`, `promote` or `repoint` task (and of a local fence).
    pub fn task_timeout(&self) -> Duration {
        Duration::from_millis(self.task_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(argv: &[&str]) -> AgentArgs {
        let mut v = vec!["setwise-agent"];
        v.extend_from_slice(argv);
        AgentArgs::try_parse_from(v).unwrap()
    }

    #[test]
    fn flags_only() {
        let c = AgentConfig::resolve(&args(&[
            "--node",
            "set1-n0",
            "--set",
            "set1",
            "--mysql-addr",
            "127.0.0.1:3310",
            "--etcd",
            "http://127.0.0.1:23790",
            "--cluster",
            "t",
            "--interval-ms",
            "500",
            "--lease-ttl",
            "3",
        ]))
        .unwrap();
        assert_eq!(c.node, "set1-n0");
        assert_eq!(c.mysql.host_port().unwrap(), ("127.0.0.1".into(), 3310));
        assert_eq!(c.mysql.user, "setwise");
        assert_eq!(c.mysql.password, "setwise");
        assert_eq!(c.etcd.endpoints, vec!["http://127.0.0.1:23790"]);
        assert_eq!(c.etcd.cluster, "t");
        assert_eq!((c.interval_ms, c.lease_ttl), (500, 3));
        assert_eq!(c.mysql.probe_timeout(), Duration::from_millis(2000));
        assert_eq!(c.stats_interval_ms, 10_000);
        assert_eq!(c.replication, ReplicationConfig::default());
        assert_eq!(c.replication.user, "repl");
    }

    #[test]
    fn missing_or_bad_values() {
        assert!(AgentConfig::resolve(&args(&["--set", "s", "--mysql-addr", "h:1"])).is_err());
        assert!(AgentConfig::resolve(&args(&["--node", "n", "--mysql-addr", "h:1"])).is_err());
        assert!(AgentConfig::resolve(&args(&["--node", "n", "--set", "s"])).is_err());
        assert!(
            AgentConfig::resolve(&args(&["--node", "n", "--set", "s", "--mysql-addr", "h"]))
                .is_err()
        );
        assert!(AgentConfig::resolve(&args(&[
            "--node",
            "n",
            "--set",
            "s",
            "--mysql-addr",
            "h:1",
            "--lease-ttl",
            "0"
        ]))
        .is_err());
    }

    #[test]
    fn example_config_parses() {
        let c: AgentConfig = toml::from_str(include_str!("../../conf/agent.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.node, "set1-n0");
        assert_eq!(
            c.mysql,
            MysqlConfig {
                addr: "127.0.0.1:3310".into(),
                ..MysqlConfig::default()
            }
        );
        assert_eq!(c.etcd, EtcdConfig::default());
        assert_eq!(c.replication, ReplicationConfig::default());
        assert_eq!(c.stats_interval_ms, 10_000);
        assert_eq!(
            (c.task_timeout_ms, c.rebuild_timeout_ms),
            (60_000, 3_600_000)
        );
    }

    #[test]
    fn file_then_flags() {
        let mut c: AgentConfig = toml::from_str(
            r#"
            node = "set1-n1"
            set = "set1"
            lease_ttl = 7
            [mysql]
            addr = "[::1]:3311"
            password = "pw"
            [replication]
            user = "r"
            [etcd]
            cluster = "prod"
            "#,
        )
        .unwrap();
        c.apply(&args(&[
            "--node",
            "set1-n2",
            "--mysql-user",
            "root",
            "--replication-password",
            "rp",
            "--stats-interval-ms",
            "500",
        ]));
        c.validate().unwrap();
        assert_eq!(c.node, "set1-n2");
        assert_eq!(c.lease_ttl, 7);
        assert_eq!(c.mysql.user, "root");
        assert_eq!(c.mysql.password, "pw");
        assert_eq!(c.mysql.host_port().unwrap(), ("::1".into(), 3311));
        assert_eq!(c.etcd.cluster, "prod");
        assert_eq!(
            (c.replication.user.as_str(), c.replication.password.as_str()),
            ("r", "rp")
        );
        assert_eq!(c.stats_interval_ms, 500);
        assert!(toml::from_str::<AgentConfig>("nodes = \"x\"").is_err());
    }
}
