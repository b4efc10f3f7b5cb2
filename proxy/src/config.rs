//! The gateway's configuration: a TOML file (`conf/proxy.toml`) with flags that
//! override it.

use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};
use topo::EtcdConfig;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Address clients connect to.
    pub listen: String,
    /// File keeping the last good routing (used when etcd is unreachable).
    pub routing_cache: PathBuf,
    /// Prometheus metrics endpoint; empty = off.
    pub metrics_listen: String,
    /// Version string announced to clients (prefixed with `5.5.5-` on the wire).
    pub server_version: String,
    /// Threads serving clients, each with its own event loop and backend pools
    /// (a client stays on one for its whole connection); 0 = half the cores
    /// (at least one).
    pub workers: usize,
    pub etcd: EtcdConfig,
    pub backend: BackendConfig,
    pub ids: IdsConfig,
    /// Read/write split: which replicas may answer reads (`[reads]`).
    pub reads: ReadsConfig,
    /// Cross-set joins and subqueries run by the gateway (`[join]`).
    pub join: JoinConfig,
    /// This gateway's name in etcd (`gateways/<id>`, `move-acks/<move>/<id>`);
    /// empty = `<hostname>-<listen port>`.
    pub gateway_id: String,
    /// The gateway's side of slot moves (`[moves]`, `crate::moving`).
    pub moves: MovesConfig,
    /// Connection counts, timeouts and packet size (`[limits]`, `crate::admission`).
    pub limits: crate::admission::LimitsConfig,
    /// TLS for clients (`[tls]`, docs/tls.md); off unless a certificate is set.
    pub tls: crate::front::tls::TlsConfig,
    /// Schema changes through the scheduler (`[ddl]`, docs/ddl.md).
    pub ddl: DdlConfig,
    /// Where distributed commits record their decision (`[xa]`, `crate::xa_sets`).
    pub xa: XaConfig,
    /// The SQL audit log (`[audit]`, docs/observability.md); off by default.
    pub audit: AuditConfig,
    /// Query digests (`[digests]`, docs/observability.md).
    pub digests: DigestsConfig,
    /// Deadlocks through several sets (`[deadlock]`, `crate::deadlock`).
    pub deadlock: DeadlockConfig,
}

/// `[join]` of the gateway's config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct JoinConfig {
    /// Most bytes of rows the gateway holds for one cross-set join or
    /// subquery (both sides, the values read, rows held for ORDER BY); beyond,
    /// the statement fails with 1041.
    pub memory_limit: usize,
    /// Join-key values per `IN (...)` batch of a lookup join.
    pub batch: usize,
}

impl Default for JoinConfig {
    fn default() -> Self {
        Self {
            memory_limit: 64 << 20,
            batch: 500,
        }
    }
}

/// Which replicas may answer reads sent to replicas (`[reads]`,
/// docs/contracts.md; what is sent there: `crate::split`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadsConfig {
    /// A replica whose agent reports more replication lag than this
    /// (`Seconds_Behind_Master`, in ms) gets no reads.
    pub max_replica_lag_ms: u64,
    /// A replica whose agent's last report is older than this gets no reads.
    pub stale_report_ms: u64,
    /// Read-your-writes: how long a read may wait on a replica
    /// (`MASTER_GTID_WAIT`) for the session's own last write before it goes to
    /// the primary instead; 0 = never wait.
    pub gtid_wait_ms: u64,
    /// How long a replica the gateway could not reach (or that broke during a
    /// read) gets no reads, whatever its agent reports.
    pub shun_ms: u64,
}

impl Default for ReadsConfig {
    fn default() -> Self {
        Self {
            max_replica_lag_ms: 1000,
            stale_report_ms: 3000,
            gtid_wait_ms: 50,
            shun_ms: 5000,
        }
    }
}

/// AUTO_INCREMENT ids of sharded and broadcast tables (`[ids]`), assigned by the
/// gateway from segments reserved in etcd (docs/contracts.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdsConfig {
    /// Ids reserved at a time per table: the most a restart of this gateway
    /// wastes, and how long it can insert with etcd down.
    pub segment: u64,
}

impl Default for IdsConfig {
    fn default() -> Self {
        Self { segment: 1000 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendConfig {
    pub user: String,
    pub password: String,
    /// Most connections kept to one MariaDB instance (per database).
    pub pool_max: usize,
    /// Give up connecting to a set after this long.
    pub connect_timeout_ms: u64,
    /// How long a statement that needs a set's primary waits for routing to name
    /// one (failover, switchover) or for it to accept connections, before it fails
    /// with a retryable error.
    pub failover_wait_ms: u64,
    /// Pipelined connections per instance, database and session state (per
    /// worker) that point reads share (0: every statement borrows a pooled
    /// connection of its own).
    pub pipeline_conns: usize,
    /// Most statements in flight on one pipelined connection; beyond, a point
    /// read borrows a pooled connection.
    pub pipeline_depth: usize,
    /// TLS to the sets' MariaDB (`[backend.tls]`, docs/tls.md); with it on,
    /// point reads use pooled connections (`pipeline_conns` is taken as 0).
    pub tls: topo::mysql_tls::MysqlTls,
    /// Connections to an instance on this host (loopback address) move to its
    /// Unix socket (`@@socket`) when it is reachable; off: always TCP.
    pub prefer_socket: bool,
    /// A client's prepared statement whose rows are concatenated from several
    /// sets runs as a prepared statement on each (off: as text, values spliced).
    pub prepared_scatters: bool,
    /// Merged plans (sort, group, aggregate across sets) are cached as
    /// templates of their per-set text (`route::merged_cache`); off: parsed
    /// and planned every time. A planning switch, kept with the other speed
    /// switches so that bench/sysbench.sh's `SB_GATEWAY_BINS` can flip it.
    pub merge_plan_cache: bool,
    /// A client's prepared statement merged across sets (sort, group,
    /// aggregate) runs as a prepared statement on each set where that is
    /// provably the same statement (`route::prepared_merge`); off: as text.
    pub prepared_merges: bool,
    /// A client's COMMIT (autocommit mode, one-phase) also starts the
    /// branches of the session's next transaction in the same round trip,
    /// kept for its BEGIN (`exec::txn::primed`); off: started at BEGIN.
    pub prime_branches: bool,
    /// Prepared statements kept open per backend connection (least recently
    /// used closed beyond). Every one counts against the instance's
    /// `max_prepared_stmt_count` (16382 by default), shared by all its
    /// connections: 64 lets 255 connections keep full caches.
    pub stmt_cache: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:6033".into(),
            routing_cache: PathBuf::from("setwise-proxy-routing.json"),
            metrics_listen: String::new(),
            server_version: "10.11.19-MariaDB-Setwise".into(),
            workers: 0,
            etcd: EtcdConfig::default(),
            backend: BackendConfig::default(),
            ids: IdsConfig::default(),
            reads: ReadsConfig::default(),
            join: Default::default(),
            limits: Default::default(),
            gateway_id: String::new(),
            moves: Default::default(),
            tls: Default::default(),
            ddl: Default::default(),
            xa: Default::default(),
            audit: Default::default(),
            digests: Default::default(),
            deadlock: Default::default(),
        }
    }
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            user: "setwise_proxy".into(),
            password: "setwise".into(),
            pool_max: 64,
            connect_timeout_ms: 2000,
            failover_wait_ms: 5000,
            pipeline_conns: 1,
            pipeline_depth: 16,
            tls: Default::default(),
            prefer_socket: true,
            prepared_scatters: true,
            merge_plan_cache: true,
            prepared_merges: true,
            prime_branches: true,
            stmt_cache: 64,
        }
    }
}

/// `setwise-proxy` — the Setwise gateway: speaks the MySQL protocol and routes each
/// statement to the sets holding its rows.
#[derive(Debug, Parser)]
#[command(name = "setwise-proxy", version, about)]
pub struct Args {
    /// TOML config file (see conf/proxy.toml); flags override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:6033.
    #[arg(long)]
    pub listen: Option<String>,
    /// etcd endpoints, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub etcd: Option<Vec<String>>,
    /// Cluster name (keys under /setwise/<cluster>/).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Last-good routing file.
    #[arg(long)]
    pub routing_cache: Option<PathBuf>,
    /// MariaDB user the gateway connects to sets as.
    #[arg(long)]
    pub backend_user: Option<String>,
    #[arg(long)]
    pub backend_password: Option<String>,
    /// Prometheus metrics address (empty = off).
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// How long a statement waits for a set without a (reachable) primary to get
    /// one, in ms (`[backend] failover_wait_ms`).
    #[arg(long)]
    pub failover_wait_ms: Option<u64>,
    /// Threads serving clients (0 = half the cores, at least one).
    #[arg(long)]
    pub workers: Option<usize>,
    /// AUTO_INCREMENT ids reserved in etcd at a time per table (`[ids] segment`).
    #[arg(long)]
    pub id_segment: Option<u64>,
    /// This gateway's name in etcd (default `<hostname>-<port>`).
    #[arg(long)]
    pub gateway_id: Option<String>,
    /// Log level filter (overrides RUST_LOG), e.g. info, debug.
    #[arg(long)]
    pub log_level: Option<String>,
}

impl Args {
    /// The config file (or defaults) with this command line's overrides applied.
    pub fn load(&self) -> anyhow::Result<ProxyConfig> {
        let mut cfg = match &self.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
            }
            None => ProxyConfig::default(),
        };
        if let Some(v) = &self.listen {
            cfg.listen = v.clone();
        }
        if let Some(v) = &self.etcd {
            cfg.etcd.endpoints = v.clone();
        }
        if let Some(v) = &self.cluster {
            cfg.etcd.cluster = v.clone();
        }
        if let Some(v) = &self.routing_cache {
            cfg.routing_cache = v.clone();
        }
        if let Some(v) = &self.backend_user {
            cfg.backend.user = v.clone();
        }
        if let Some(v) = &self.backend_password {
            cfg.backend.password = v.clone();
        }
        if let Some(v) = &self.metrics_listen {
            cfg.metrics_listen = v.clone();
        }
        if let Some(v) = self.workers {
            cfg.workers = v;
        }
        if let Some(v) = self.failover_wait_ms {
            cfg.backend.failover_wait_ms = v;
        }
        if let Some(v) = self.id_segment {
            cfg.ids.segment = v;
        }
        if let Some(v) = &self.gateway_id {
            cfg.gateway_id = v.clone();
        }
        Ok(cfg)
    }
}

impl ProxyConfig {
    /// The number of client-serving threads: `workers`, or half the cores (at
    /// least one). Each worker serves tens of thousands of point reads a second;
    /// the other cores are left to the kernel's socket work (about as much CPU
    /// again per statement) and to what shares the host (docs/fast-path.md).
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2)),
            n => n,
        }
    }
}

/// `[ddl]` in the gateway's config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DdlConfig {
    /// Record schema changes as scheduler tasks when a scheduler leader is elected.
    pub scheduler: bool,
    /// How long a client waits for its task; then error 1105 with the task id
    /// (the task goes on).
    pub wait_ms: u64,
}

impl Default for DdlConfig {
    fn default() -> Self {
        Self {
            scheduler: true,
            wait_ms: 120_000,
        }
    }
}

/// `[deadlock]`: deadlocks through several sets (`crate::deadlock`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadlockConfig {
    /// Look for cycles of lock waits among this gateway's sessions.
    pub enabled: bool,
    /// How long statements run before their lock waits are read (ms): the
    /// longest a cross-set deadlock lasts, about, plus half this.
    pub interval_ms: u64,
}

impl Default for DeadlockConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_ms: 1000,
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Write the audit log (default off; its cost is in README, Figures).
    pub enabled: bool,
    /// The log file; rotated to `<path>.1` .. `<path>.<keep>`.
    pub path: PathBuf,
    /// Share of statements recorded, 0.0 to 1.0.
    pub sample: f64,
    /// Replace every number and string literal of the text by `?`.
    pub mask_literals: bool,
    /// Records waiting for the writer; beyond, new ones are dropped and counted.
    pub queue: usize,
    /// The file is rotated when it would grow past this many bytes.
    pub rotate_bytes: u64,
    /// Rotated files kept.
    pub keep: usize,
    /// Longest statement text recorded, bytes; a longer one is cut (its
    /// fingerprint too) and the record says `"truncated": true`.
    pub max_text: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            path: PathBuf::from("setwise-audit.log"),
            sample: 1.0,
            mask_literals: false,
            queue: 65_536,
            rotate_bytes: 64 * 1024 * 1024,
            keep: 4,
            max_text: 65_536,
        }
    }
}

/// `[moves]` in the gateway's config.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovesConfig {
    /// How long a write to held slots waits for the hold to end before it fails
    /// with 1205 (ER_LOCK_WAIT_TIMEOUT).
    pub hold_wait_ms: u64,
    /// How long a schema change of a database with a move under way waits for
    /// the move to finish before it fails with 1205.
    pub ddl_wait_ms: u64,
    /// TTL of this gateway's registration lease, in seconds.
    pub lease_ttl_s: i64,
}

impl Default for MovesConfig {
    fn default() -> Self {
        Self {
            hold_wait_ms: 10_000,
            ddl_wait_ms: 10_000,
            lease_ttl_s: 10,
        }
    }
}

/// Where a transaction that wrote to several sets records its decision
/// (`[xa] decisions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Decisions {
    /// In the coordinator set's own one-phase commit (`crate::xa_sets`).
    #[default]
    Sets,
    /// In etcd, between two phases on every written set (`crate::xa_log`).
    Etcd,
}

/// `[xa]`: distributed commits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XaConfig {
    pub decisions: Decisions,
    /// How long recovery (`crate::xa`) leaves a branch of a live gateway
    /// prepared without a decision before it aborts it (a dead gateway's
    /// branches wait about a second).
    pub grace_ms: u64,
}

impl Default for XaConfig {
    fn default() -> Self {
        Self {
            decisions: Decisions::default(),
            grace_ms: 20_000,
        }
    }
}

/// `[digests]`: the gateway's digest table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigestsConfig {
    /// Keep digests (default on; measured cost in README, Figures).
    pub enabled: bool,
    /// Most fingerprints kept; statements of a new one past this are counted
    /// under no digest (`setwise_proxy_digests_overflow_total`).
    pub max_entries: usize,
}

impl Default for DigestsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_entries: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file() {
        let dir = std::env::temp_dir().join(format!("swcfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("proxy.toml");
        std::fs::write(
            &p,
            "listen = \"0.0.0.0:1\"\n[etcd]\nendpoints = [\"http://e:1\"]\ncluster = \"c\"\n[backend]\nuser = \"u\"\n",
        )
        .unwrap();
        let args = Args::parse_from([
            "x",
            "--config",
            p.to_str().unwrap(),
            "--listen",
            "127.0.0.1:2",
            "--failover-wait-ms",
            "1500",
        ]);
        let cfg = args.load().unwrap();
        assert_eq!(cfg.backend.failover_wait_ms, 1500);
        assert_eq!(cfg.listen, "127.0.0.1:2");
        assert_eq!(cfg.etcd.endpoints, vec!["http://e:1"]);
        assert_eq!(cfg.backend.user, "u");
        assert_eq!(cfg.backend.password, "setwise");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../../conf/proxy.toml");
        let _: ProxyConfig = toml::from_str(text).unwrap();
    }
}
