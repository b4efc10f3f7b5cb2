//! Configuration files of `setwise-scheduler` and `setwise`: TOML read from `--config`,
//! then overridden by command-line flags (flags win).

use std::path::Path;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use topo::EtcdConfig;

/// Reads a TOML config file; no file means all defaults.
pub fn load<T: DeserializeOwned + Default>(path: Option<&Path>) -> anyhow::Result<T> {
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    parse(&text).with_context(|| format!("bad config file {}", path.display()))
}

/// Parses config text (split out for tests).
pub fn parse<T: DeserializeOwned>(text: &str) -> anyhow::Result<T> {
    Ok(toml::from_str(text)?)
}

/// Applies `--etcd URL[,URL]` and `--cluster NAME` to an `[etcd]` section.
pub fn override_etcd(etcd: &mut EtcdConfig, endpoints: Option<&str>, cluster: Option<&str>) {
    if let Some(urls) = endpoints {
        let list: Vec<String> = urls
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if !list.is_empty() {
            etcd.endpoints = list;
        }
    }
    if let Some(c) = cluster {
        etcd.cluster = c.to_string();
    }
}

/// The `setwise` command line's config file: `[etcd]`, and `[capacity]` for `shard plan`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CliConfig {
    pub etcd: EtcdConfig,
    /// The limits `setwise shard plan` measures against (the scheduler's `[capacity]`).
    pub capacity: crate::capacity::CapacityConfig,
}

/// `setwise-scheduler`'s config file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// This instance's name in the election (`--id`); defaults to `<hostname>-<pid>`.
    pub id: Option<String>,
    /// TTL in seconds of the leadership lease: a dead leader is replaced after about this long.
    pub election_ttl: i64,
    /// A standby takes over from a leader whose heartbeat (written 4 times in this span)
    /// stopped for this many milliseconds, without waiting for its lease to expire
    /// (0: off). Keep it well above the longest pause a live leader may have.
    pub takeover_ms: u64,
    pub etcd: EtcdConfig,
    /// The capacity monitor and automatic scale-out (`[capacity]`).
    pub capacity: crate::capacity::CapacityConfig,
    pub monitor: MonitorConfig,
    pub failover: FailoverConfig,
    pub mysql: MysqlConfig,
    pub moves: MovesConfig,
    /// The web console (`[console] listen`), off unless set.
    pub console: crate::console::ConsoleConfig,
    /// Prometheus metrics address, e.g. `127.0.0.1:9105` (`--metrics-listen`);
    /// empty = off.
    pub metrics_listen: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            id: None,
            election_ttl: 3,
            takeover_ms: 0,
            etcd: EtcdConfig::default(),
            capacity: Default::default(),
            monitor: MonitorConfig::default(),
            failover: FailoverConfig::default(),
            mysql: MysqlConfig::default(),
            moves: MovesConfig::default(),
            console: Default::default(),
            metrics_listen: String::new(),
        }
    }
}

/// Slot moves run by the leader (`[moves]`, docs/scaleout.md).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MovesConfig {
    /// Rows per copy chunk (and per delete chunk of the cleanup and the undo).
    pub chunk_rows: u64,
    /// Pause between two chunks, ms (0: none): keeps the sources' foreground latency sane.
    pub throttle_ms: u64,
    /// A hold is tried once every source's binlog lag is at most this many transactions.
    pub catchup_close_trx: u64,
    /// A hold whose acknowledgements and drain do not complete within this is released
    /// and tried again later, ms.
    pub hold_timeout_ms: u64,
    /// Holds tried before the move gives up (undone, failed).
    pub max_holds: u32,
    /// Compare every moving slot (row count + checksum) on the sources and the target
    /// before the flip: consistent snapshots at the sources' exact binlog positions,
    /// during the catch-up (writes are not held for it).
    pub verify: bool,
    /// Compare the current rows inside the hold instead (writes held meanwhile: the
    /// hold lasts as long as the scans).
    pub verify_in_hold: bool,
    /// How long a move waits, before its flip, for a set that refuses writes
    /// (a strong-sync set without a replica) before it is undone and fails, ms.
    /// After the flip it waits as long as it takes.
    pub blocked_wait_ms: u64,
}

impl Default for MovesConfig {
    fn default() -> Self {
        Self {
            chunk_rows: 1000,
            throttle_ms: 0,
            catchup_close_trx: 50,
            hold_timeout_ms: 3000,
            max_holds: 5,
            verify: true,
            verify_in_hold: false,
            blocked_wait_ms: 600_000,
        }
    }
}

/// Failover, switchover and the sync policy (`[failover]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverConfig {
    /// Off: the leader only monitors (no failover, rejoin or policy tasks).
    pub enabled: bool,
    /// Monitor rounds in a row a primary must look down before the scheduler probes it.
    pub confirm_rounds: u32,
    /// The scheduler's own probe of a primary that looks down (connect + `SELECT 1`).
    pub probe_timeout_ms: u64,
    /// How long one agent task may take before the operation gives up on it.
    pub task_timeout_ms: u64,
    /// How long election waits for every replica to report after the primary died.
    pub report_wait_ms: u64,
    /// A switchover target may lag the primary by at most this many transactions.
    pub switchover_max_gap: u64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            confirm_rounds: 2,
            probe_timeout_ms: 1000,
            task_timeout_ms: 60_000,
            report_wait_ms: 3000,
            switchover_max_gap: 1000,
        }
    }
}

/// How the scheduler reaches MariaDB for its own probe (`[mysql]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlConfig {
    pub user: String,
    pub password: String,
    /// TLS to the sets' MariaDB (`[mysql.tls]`, docs/tls.md).
    pub tls: topo::mysql_tls::MysqlTls,
}

impl MysqlConfig {
    /// Connection options for `host:port` with this account (TCP, no socket; TLS
    /// as `[mysql.tls]` says — checked when the config is loaded).
    pub fn opts(&self, host: &str, port: u16) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(host.to_string())
            .tcp_port(port)
            .prefer_socket(false)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .ssl_opts(self.tls.ssl_opts().unwrap_or_default())
            .into()
    }
}

impl Default for MysqlConfig {
    fn default() -> Self {
        Self {
            user: "setwise".into(),
            password: "setwise".into(),
            tls: Default::default(),
        }
    }
}

/// The leader's health monitor (`[monitor]`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// How often the leader reads the health reports, in milliseconds.
    pub interval_ms: u64,
    /// A report older than this counts as stale (agent stuck or clock trouble).
    pub stale_ms: u64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval_ms: 1000,
            stale_ms: 5000,
        }
    }
}

/// A default instance id: `<hostname>-<pid>`.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "scheduler".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_config_defaults_and_overrides() {
        let mut c: SchedulerConfig = parse(
            r#"
            id = "s1"
            [etcd]
            endpoints = ["http://10.0.0.1:2379"]
            cluster = "prod"
            [monitor]
            interval_ms = 500
            "#,
        )
        .unwrap();
        assert_eq!(c.id.as_deref(), Some("s1"));
        assert_eq!(c.election_ttl, 3);
        assert_eq!(c.monitor.interval_ms, 500);
        assert_eq!(c.monitor.stale_ms, 5000);
        override_etcd(&mut c.etcd, Some("http://a:1, http://b:2"), Some("c2"));
        assert_eq!(c.etcd.endpoints, vec!["http://a:1", "http://b:2"]);
        assert_eq!(c.etcd.cluster, "c2");
        assert_eq!(c.etcd.timeout_ms, 3000);
    }

    #[test]
    fn example_configs_parse() {
        let s: SchedulerConfig = parse(include_str!("../../conf/scheduler.toml")).unwrap();
        assert_eq!(s, SchedulerConfig::default());
        let c: CliConfig = parse(include_str!("../../conf/setwise.toml")).unwrap();
        assert_eq!(c, CliConfig::default());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(parse::<CliConfig>("[etcd]\nendpoint = \"x\"").is_err());
        assert!(parse::<SchedulerConfig>("ttl = 3").is_err());
        let c: CliConfig = parse("").unwrap();
        assert_eq!(c, CliConfig::default());
    }
}
