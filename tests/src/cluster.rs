//! A whole Setwise cluster for one test: etcd, N sets, the topology registered in
//! etcd, and optionally the gateway.
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! let c = setwise_tests::Cluster::builder().sets(2).replicas(1).proxy(true).start().await?;
//! let mut conn = c.proxy_conn().await?; // user app/app through the gateway
//! # Ok(()) }
//! ```
//!
//! Registered in etcd (cluster name [`DEFAULT_CLUSTER`] unless changed): `SetRecord`s
//! `set1..setN` (sync `strong`), `NodeRecord`s `set<i>-n0` (primary) and `set<i>-n<k>`
//! (replicas) on 127.0.0.1, and the gateway user `app`/`app` from `127.0.0.0/8`.
//! Other programs (`setwise-scheduler`, `setwise-agent`, `setwise`) are started by the
//! test with [`Cluster::spawn`], [`Cluster::spawn_agent`], [`Cluster::spawn_scheduler`]
//! and [`Cluster::setwise`]. Everything stops when the `Cluster` drops.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use topo::{DatabaseRecord, NodeRecord, SetRecord, ShardMap, SyncMode, Topo, UserRecord};

use crate::bins;
use crate::etcd::Etcd;
use crate::mariadb::MariaDb;
use crate::port::{self, Port};
use crate::process::ChildGuard;
use crate::set::MariaSet;
use crate::workdir::WorkDir;

mod gateway;

/// The etcd cluster name tests use (keys under `/setwise/test/`).
pub const DEFAULT_CLUSTER: &str = "test";
/// The gateway user registered by the harness.
pub const APP_USER: &str = "app";
pub const APP_PASSWORD: &str = "app";
/// Bound for a started program to accept connections.
pub const PROGRAM_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound for one run of the `setwise` command line.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// What to start; see [`Cluster::builder`].
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    sets: usize,
    replicas: usize,
    proxy: bool,
    cluster: String,
    register: bool,
    proxy_metrics: bool,
}

impl ClusterBuilder {
    /// Number of sets (default 2), named `set1..`.
    pub fn sets(mut self, n: usize) -> Self {
        self.sets = n;
        self
    }
    /// Replicas per set (default 2).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }
    /// Start the gateway (default no).
    pub fn proxy(mut self, on: bool) -> Self {
        self.proxy = on;
        self
    }
    /// etcd cluster name (default [`DEFAULT_CLUSTER`]).
    pub fn cluster_name(mut self, name: &str) -> Self {
        self.cluster = name.to_string();
        self
    }
    /// Give the gateway its metrics port (default no; [`Cluster::proxy_metrics_port`]).
    pub fn proxy_metrics(mut self, on: bool) -> Self {
        self.proxy_metrics = on;
        self
    }
    /// Register sets, nodes and the `app` user in etcd (default yes).
    pub fn register_topology(mut self, on: bool) -> Self {
        self.register = on;
        self
    }

    pub async fn start(self) -> anyhow::Result<Cluster> {
        let work = WorkDir::new("cluster")?;
        let dir = work.path().to_path_buf();
        let sets = (1..=self.sets).map(|i| {
            let dir = dir.clone();
            let replicas = self.replicas;
            async move { MariaSet::start(&dir, &format!("set{i}"), i as u32, replicas).await }
        });
        let (etcd, sets) =
            tokio::try_join!(Etcd::start(&dir), futures::future::try_join_all(sets))?;
        let topo = Topo::connect(&etcd.config(&self.cluster)).await?;
        let mut c = Cluster {
            proxy: None,
            proxy_port: None,
            proxy_metrics: self.proxy_metrics.then(port::reserve),
            proxy_extra: String::new(),
            proxy_backend_extra: String::new(),
            proxy_env: Vec::new(),
            sets,
            topo,
            cluster: self.cluster.clone(),
            etcd,
            work,
        };
        if self.register {
            c.register()
                .await
                .context("register the topology in etcd")?;
        }
        if self.proxy {
            c.start_proxy().await?;
        }
        Ok(c)
    }
}

pub struct Cluster {
    // Fields drop in order: programs first, the work dir last.
    proxy: Option<ChildGuard>,
    proxy_port: Option<Port>,
    /// The gateway's metrics port, when on (`metrics_listen`).
    proxy_metrics: Option<Port>,
    /// TOML appended to the gateway's config (see [`Cluster::set_proxy_extra`]).
    proxy_extra: String,
    /// Lines of its `[backend]` section (see [`Cluster::set_proxy_backend`]).
    proxy_backend_extra: String,
    /// Environment variables of the gateway (see [`Cluster::set_proxy_env`]).
    proxy_env: Vec<(String, String)>,
    sets: Vec<MariaSet>,
    topo: Topo,
    cluster: String,
    etcd: Etcd,
    work: WorkDir,
}

impl Cluster {
    /// The smallest cluster a gateway test needs: 2 sets of a primary each (no
    /// replicas) and the gateway. Panics when it cannot start (a test fixture).
    pub async fn two_sets_with_gateway() -> Cluster {
        Cluster::with_gateway(2, 0).await
    }

    /// Two sets of one primary each, the gateway not started yet (the test
    /// configures it first: `set_proxy_extra`, `set_proxy_backend`, then
    /// `start_proxy`). Panics when the sets cannot start (a test fixture).
    pub async fn two_sets_without_gateway() -> Cluster {
        Cluster::builder()
            .sets(2)
            .replicas(0)
            .proxy(false)
            .start()
            .await
            .expect("start 2 sets")
    }

    /// `sets` sets of a primary and `replicas` replicas each, and the gateway. Panics
    /// when it cannot start (a test fixture).
    pub async fn with_gateway(sets: usize, replicas: usize) -> Cluster {
        Cluster::builder()
            .sets(sets)
            .replicas(replicas)
            .proxy(true)
            .start()
            .await
            .unwrap_or_else(|e| {
                panic!("start {sets} sets ({replicas} replicas) and the gateway: {e:#}")
            })
    }

    /// Defaults: 2 sets × (primary + 2 replicas), no gateway, cluster `test`.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder {
            sets: 2,
            replicas: 2,
            proxy: false,
            cluster: DEFAULT_CLUSTER.to_string(),
            register: true,
            proxy_metrics: false,
        }
    }

    async fn register(&self) -> anyhow::Result<()> {
        for set in &self.sets {
            self.topo
                .put_set(&SetRecord::new(set.name(), SyncMode::Strong))
                .await?;
            for node in set.nodes() {
                self.topo
                    .put_node(&NodeRecord {
                        id: node.name().to_string(),
                        set: set.name().to_string(),
                        host: "127.0.0.1".into(),
                        port: node.port(),
                        role: node.role(),
                        rejoin: None,
                    })
                    .await?;
            }
        }
        self.topo
            .put_user(&UserRecord {
                name: APP_USER.into(),
                password_hash: topo::password::native_hash(APP_PASSWORD),
                hosts: vec!["127.0.0.0/8".parse()?],
                reads: Default::default(),
                require_ssl: false,
                // ALL PRIVILEGES, as the MariaDB accounts tests compare it with.
                admin: true,
            })
            .await?;
        Ok(())
    }

    // ---- paths, etcd ---------------------------------------------------------------

    /// The test's temporary directory (data, configs, logs).
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }
    /// For [`Etcd::kill`] / [`Etcd::restart`].
    pub fn etcd_mut(&mut self) -> &mut Etcd {
        &mut self.etcd
    }
    /// `http://127.0.0.1:<port>`.
    pub fn etcd_endpoint(&self) -> String {
        self.etcd.endpoint()
    }
    pub fn cluster_name(&self) -> &str {
        &self.cluster
    }
    /// The `[etcd]` config section of this cluster.
    pub fn etcd_config(&self) -> topo::EtcdConfig {
        self.etcd.config(&self.cluster)
    }
    /// A topo client of this cluster (cheap to clone).
    pub fn topo(&self) -> &Topo {
        &self.topo
    }

    // ---- sets and nodes ---------------------------------------------------------------

    pub fn sets(&self) -> &[MariaSet] {
        &self.sets
    }
    /// Set names in order: `set1`, `set2`, ...
    pub fn set_names(&self) -> Vec<String> {
        self.sets.iter().map(|s| s.name().to_string()).collect()
    }
    /// A set by name; panics if there is none.
    pub fn set(&self, name: &str) -> &MariaSet {
        self.sets
            .iter()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("no set {name}"))
    }
    pub fn set_mut(&mut self, name: &str) -> &mut MariaSet {
        self.sets
            .iter_mut()
            .find(|s| s.name() == name)
            .unwrap_or_else(|| panic!("no set {name}"))
    }
    /// The primary of set `name` (as started, or as changed with `set_options`).
    pub fn primary(&self, set: &str) -> &MariaDb {
        self.set(set).primary()
    }
    pub fn primary_addr(&self, set: &str) -> String {
        self.primary(set).addr()
    }
    pub fn replica_addrs(&self, set: &str) -> Vec<String> {
        self.set(set).replicas().map(MariaDb::addr).collect()
    }
    /// A node by id (`set1-n0`); panics if there is none.
    pub fn node(&self, id: &str) -> &MariaDb {
        self.sets
            .iter()
            .find_map(|s| s.node_by_id(id))
            .unwrap_or_else(|| panic!("no node {id}"))
    }
    fn node_index(&self, id: &str) -> (usize, usize) {
        for (i, s) in self.sets.iter().enumerate() {
            if let Some(k) = s.nodes().iter().position(|n| n.name() == id) {
                return (i, k);
            }
        }
        panic!("no node {id}")
    }
    pub fn node_mut(&mut self, id: &str) -> &mut MariaDb {
        let (i, k) = self.node_index(id);
        self.sets[i].node_mut(k)
    }
    /// `kill -9` the `mariadbd` of node `id`.
    pub fn kill_node(&mut self, id: &str) {
        self.node_mut(id).kill();
    }
    /// Starts node `id` again on its port and data; waits until it answers.
    pub async fn restart_node(&mut self, id: &str) -> anyhow::Result<()> {
        self.node_mut(id).restart().await
    }

    /// Registers database `name` in etcd with `ShardMap::even(1024, sets)` (home set =
    /// the first) and runs `CREATE DATABASE` on every one of those sets' primaries.
    pub async fn create_db(&self, name: &str, sets: &[&str]) -> anyhow::Result<DatabaseRecord> {
        let set_names: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let first = set_names
            .first()
            .ok_or_else(|| anyhow!("create_db: no sets"))?;
        let rec = DatabaseRecord {
            name: name.to_string(),
            home_set: first.clone(),
            shard_map: ShardMap::even(topo::DEFAULT_SLOTS, &set_names),
        };
        for s in sets {
            self.primary(s)
                .exec(&format!("CREATE DATABASE IF NOT EXISTS `{name}`"))
                .await?;
        }
        self.topo.put_db(&rec).await?;
        Ok(rec)
    }

    /// The shard map etcd holds for database `db` (read within the test time bound);
    /// panics when there is no record.
    pub async fn shard_map(&self, db: &str) -> ShardMap {
        crate::util::bounded("read the database record", async {
            Ok(self.topo.get_db(db).await?)
        })
        .await
        .unwrap_or_else(|| panic!("no database record for {db} in etcd"))
        .value
        .shard_map
    }

    /// The set owning shard-key value `value` of sharded table `db.table`, hashed as
    /// the gateway hashes it (a text key by its collation's weights, read from set1).
    pub async fn set_of_key(&self, db: &str, table: &str, value: &str) -> String {
        let map = self.shard_map(db).await;
        let record = self
            .topo
            .get_table(db, table)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no record for {db}.{table}"));
        let topo::TableKind::Sharded { key_type, .. } = record.kind else {
            panic!("{db}.{table} is not sharded");
        };
        if let topo::KeyType::Weighted { collation, .. } = key_type {
            let mut conn = self.primary("set1").conn().await.unwrap();
            topo::weights::load(&mut conn, collation).await.unwrap();
        }
        let slot = topo::slot::slot_of(value.as_bytes(), key_type, map.slots)
            .unwrap_or_else(|| panic!("{value:?} is not a key of {db}.{table}"));
        map.set_of_slot(slot).unwrap().to_string()
    }

    // ---- the gateway: in `gateway` ----------------------------------------------------

    // ---- other programs -------------------------------------------------------------------

    /// `--etcd <endpoint> --cluster <name>`: what every program needs to find the cluster.
    pub fn common_args(&self) -> Vec<String> {
        vec![
            "--etcd".into(),
            self.etcd.endpoint(),
            "--cluster".into(),
            self.cluster.clone(),
        ]
    }

    /// Starts Setwise binary `bin` (see [`bins`]) with `args` as-is; output to
    /// `<work dir>/<label>.log`. The returned guard kills it on drop.
    pub fn spawn(&self, bin: &str, label: &str, args: &[String]) -> anyhow::Result<ChildGuard> {
        self.spawn_with_env(bin, label, args, &[])
    }

    /// [`Cluster::spawn`] with more environment variables (e.g. test hooks).
    pub fn spawn_with_env(
        &self,
        bin: &str,
        label: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> anyhow::Result<ChildGuard> {
        let mut cmd = Command::new(bins::bin(bin));
        cmd.args(args);
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        ChildGuard::spawn(label, cmd, &self.work.path().join(format!("{label}.log")))
    }

    /// Starts `setwise-agent` for node `id` (contract flags, `--interval-ms 200`,
    /// `--lease-ttl 2` unless `extra` overrides them; `--mysqld-start` with the node's
    /// own start command and `--backup-listen 127.0.0.1:0`, so rebuilds are physical).
    pub fn spawn_agent(&self, id: &str, extra: &[&str]) -> anyhow::Result<ChildGuard> {
        let (i, k) = self.node_index(id);
        let node = self.sets[i].node(k);
        let mut args = self.common_args();
        args.extend(
            [
                "--node",
                id,
                "--set",
                self.sets[i].name(),
                "--mysql-addr",
                &node.addr(),
                "--mysql-user",
                "setwise",
                "--mysql-password",
                "setwise",
            ]
            .map(String::from),
        );
        // It may restart its server (physical rebuild) and serves backups of it.
        args.extend([
            "--mysqld-start".into(),
            node.start_command(),
            "--backup-listen".into(),
            "127.0.0.1:0".into(),
        ]);
        if !extra.iter().any(|a| a.starts_with("--interval-ms")) {
            args.extend(["--interval-ms".into(), "200".into()]);
        }
        if !extra.iter().any(|a| a.starts_with("--lease-ttl")) {
            args.extend(["--lease-ttl".into(), "2".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        self.spawn(bins::AGENT, &format!("agent-{id}"), &args)
    }

    /// Starts `setwise-scheduler --id <id>` plus `extra`.
    pub fn spawn_scheduler(&self, id: &str, extra: &[&str]) -> anyhow::Result<ChildGuard> {
        self.spawn_scheduler_with_env(id, extra, &[])
    }

    /// [`Cluster::spawn_scheduler`] with more environment variables (e.g.
    /// `SETWISE_FAILOVER_PAUSE`, the scheduler's failover pause hook).
    pub fn spawn_scheduler_with_env(
        &self,
        id: &str,
        extra: &[&str],
        env: &[(String, String)],
    ) -> anyhow::Result<ChildGuard> {
        let mut args = self.common_args();
        args.extend(["--id".to_string(), id.to_string()]);
        args.extend(extra.iter().map(|s| s.to_string()));
        self.spawn_with_env(bins::SCHEDULER, &format!("scheduler-{id}"), &args, env)
    }

    /// Runs the `setwise` command line to completion (bounded by [`CLI_TIMEOUT`]) with
    /// `--etcd`/`--cluster` of this cluster before `args`.
    pub async fn setwise(&self, args: &[&str]) -> anyhow::Result<Output> {
        let mut cmd = tokio::process::Command::new(bins::bin(bins::CLI));
        cmd.args(self.common_args())
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        tokio::time::timeout(CLI_TIMEOUT, cmd.output())
            .await
            .with_context(|| format!("setwise {args:?} did not finish within {CLI_TIMEOUT:?}"))?
            .with_context(|| format!("run setwise {args:?}"))
    }
}

/// Polls until `127.0.0.1:port` accepts TCP; fails at once if `child` exits.
pub async fn wait_accepting(
    child: &mut ChildGuard,
    port: u16,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        child.ensure_running()?;
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!(
                "{} did not accept connections on port {port} within {timeout:?}; log {}:\n{}",
                child.name(),
                child.log_path().display(),
                child.log_tail(crate::process::TAIL_LINES)
            );
        }
        tokio::time::sleep(crate::POLL).await;
    }
}
