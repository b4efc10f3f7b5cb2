//! The control plane of a [`Cluster`]: one `setwise-agent` per node and N
//! `setwise-scheduler`s sharing one TOML config, plus bounded waits on what they write
//! to etcd (failover records, the primary in routing, the election's leader).
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! use std::time::Duration;
//! let mut c = setwise_tests::Cluster::builder().sets(1).replicas(2).proxy(true).start().await?;
//! let mut cp = c.start_control_plane(2).await?;
//! let since = setwise_tests::control::now_ms();
//! c.kill_node("set1-n0");
//! let rec = setwise_tests::control::wait_failover(c.topo(), "set1", since, Duration::from_secs(30)).await?;
//! cp.kill_scheduler("sched-1");
//! # Ok(()) }
//! ```
//!
//! Agents run with `--interval-ms 200 --lease-ttl 2`; schedulers with the fast
//! [`ControlPlaneConfig::default`] (election TTL 2 s, 200 ms rounds, failover after 1
//! round confirmed by the scheduler's own probe, as deploy/local). Every program is a [`ChildGuard`] kept by name, so a test can kill and
//! start any of them. When the test panics, the last lines of every program's log
//! are printed, and the schedulers' failover lines in full.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use topo::{FailoverPhase, FailoverRecord, NodeRecord, Role, SetRecord, TaskRecord, Topo};

use crate::cluster::Cluster;
use crate::process::ChildGuard;

/// Bound of one direct query of a node's state in [`set_problems`].
pub const NODE_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bound for the agents' first reports and the first leader.
pub const CONTROL_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Unix time in milliseconds (the clock the scheduler stamps its records with).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The schedulers' config file (`setwise-scheduler --config`).
#[derive(Debug, Clone)]
pub struct ControlPlaneConfig {
    pub election_ttl: i64,
    /// `takeover_ms` (0: a dead leader is replaced when its lease expires).
    pub takeover_ms: u64,
    pub interval_ms: u64,
    pub stale_ms: u64,
    pub failover_enabled: bool,
    pub confirm_rounds: u32,
    pub probe_timeout_ms: u64,
    pub task_timeout_ms: u64,
    pub report_wait_ms: u64,
    /// More agent flags (e.g. `--stats-interval-ms`).
    pub agent_args: Vec<String>,
    /// Environment variables of every scheduler started (e.g.
    /// `("SETWISE_FAILOVER_PAUSE", "fenced=3000")`, see [`ControlPlaneConfig::pause_after`]).
    pub scheduler_env: Vec<(String, String)>,
    /// More TOML sections of the schedulers' config (e.g. `"[moves]\nchunk_rows = 50\n"`).
    pub extra_toml: String,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        Self {
            election_ttl: 2,
            takeover_ms: 0,
            interval_ms: 200,
            stale_ms: 2000,
            failover_enabled: true,
            confirm_rounds: 1,
            probe_timeout_ms: 500,
            task_timeout_ms: 30_000,
            report_wait_ms: 2000,
            agent_args: Vec::new(),
            scheduler_env: Vec::new(),
            extra_toml: String::new(),
        }
    }
}

impl ControlPlaneConfig {
    /// The scheduler's test hook: every failover driver sleeps `spec`'s milliseconds
    /// right after recording a phase (`"fenced=3000,promoted=3000"`; phases `started`,
    /// `fenced`, `elected`, `promoted`, `published`), so a test can act at that point.
    pub fn pause_after(mut self, spec: &str) -> Self {
        self.scheduler_env
            .retain(|(k, _)| k != "SETWISE_FAILOVER_PAUSE");
        self.scheduler_env
            .push(("SETWISE_FAILOVER_PAUSE".into(), spec.into()));
        self
    }

    /// The TOML text (`[etcd]` is given by the `--etcd`/`--cluster` flags).
    pub fn toml(&self) -> String {
        format!(
            "election_ttl = {}\n\
             takeover_ms = {}\n\
             \n\
             [monitor]\n\
             interval_ms = {}\n\
             stale_ms = {}\n\
             \n\
             [failover]\n\
             enabled = {}\n\
             confirm_rounds = {}\n\
             probe_timeout_ms = {}\n\
             task_timeout_ms = {}\n\
             report_wait_ms = {}\n\
             \n\
             [mysql]\n\
             user = \"setwise\"\n\
             password = \"setwise\"\n\
             {}",
            self.election_ttl,
            self.takeover_ms,
            self.interval_ms,
            self.stale_ms,
            self.failover_enabled,
            self.confirm_rounds,
            self.probe_timeout_ms,
            self.task_timeout_ms,
            self.report_wait_ms,
            self.extra_toml,
        )
    }
}

/// Agents and schedulers of one cluster, by node id and scheduler id.
pub struct ControlPlane {
    agents: BTreeMap<String, ChildGuard>,
    schedulers: BTreeMap<String, ChildGuard>,
    config: PathBuf,
    cfg: ControlPlaneConfig,
    logs: Vec<PathBuf>,
}

impl Cluster {
    /// Starts an agent for every node and `schedulers` schedulers (`sched-1..`) with
    /// the default fast config; waits until every node reports and a scheduler leads.
    pub async fn start_control_plane(&self, schedulers: usize) -> anyhow::Result<ControlPlane> {
        self.start_control_plane_with(schedulers, ControlPlaneConfig::default())
            .await
    }

    /// [`Cluster::start_control_plane`] with a given scheduler config.
    pub async fn start_control_plane_with(
        &self,
        schedulers: usize,
        cfg: ControlPlaneConfig,
    ) -> anyhow::Result<ControlPlane> {
        let config = self.work_dir().join("scheduler.toml");
        std::fs::write(&config, cfg.toml())?;
        let mut cp = ControlPlane {
            agents: BTreeMap::new(),
            schedulers: BTreeMap::new(),
            config,
            cfg,
            logs: Vec::new(),
        };
        let nodes: Vec<String> = self
            .sets()
            .iter()
            .flat_map(|s| s.nodes().iter().map(|n| n.name().to_string()))
            .collect();
        for n in &nodes {
            cp.start_agent(self, n)?;
        }
        for i in 1..=schedulers {
            cp.start_scheduler(self, &format!("sched-{i}"))?;
        }
        let t = self.topo();
        let want = nodes.clone();
        crate::wait_until(
            "every node's first health report",
            CONTROL_READY_TIMEOUT,
            || {
                let want = want.clone();
                async move {
                    let h = t.list_health().await?;
                    Ok(want
                        .iter()
                        .all(|n| h.iter().any(|r| &r.node == n && r.readable)))
                }
            },
        )
        .await
        .map_err(|e| anyhow!("{e:#}\n{}", cp.log_tails(20)))?;
        if schedulers > 0 {
            wait_leader(t, None, CONTROL_READY_TIMEOUT)
                .await
                .map_err(|e| anyhow!("{e:#}\n{}", cp.log_tails(20)))?;
        }
        Ok(cp)
    }
}

impl ControlPlane {
    /// Starts (or restarts) the agent of node `id`; its log is appended to.
    pub fn start_agent(&mut self, c: &Cluster, id: &str) -> anyhow::Result<()> {
        if let Some(mut old) = self.agents.remove(id) {
            old.kill();
        }
        let extra: Vec<&str> = self.cfg.agent_args.iter().map(String::as_str).collect();
        let g = c.spawn_agent(id, &extra)?;
        self.remember(g.log_path());
        self.agents.insert(id.to_string(), g);
        Ok(())
    }

    /// `kill -9` the agent of node `id`.
    pub fn kill_agent(&mut self, id: &str) {
        match self.agents.get_mut(id) {
            Some(g) => g.kill(),
            None => panic!("no agent for {id}"),
        }
    }

    /// Starts (or restarts) scheduler `id` with the control plane's config.
    pub fn start_scheduler(&mut self, c: &Cluster, id: &str) -> anyhow::Result<()> {
        if let Some(mut old) = self.schedulers.remove(id) {
            old.kill();
        }
        let config = self.config.display().to_string();
        let g = c.spawn_scheduler_with_env(id, &["--config", &config], &self.cfg.scheduler_env)?;
        self.remember(g.log_path());
        self.schedulers.insert(id.to_string(), g);
        Ok(())
    }

    /// `kill -9` scheduler `id`.
    pub fn kill_scheduler(&mut self, id: &str) {
        match self.schedulers.get_mut(id) {
            Some(g) => g.kill(),
            None => panic!("no scheduler {id}"),
        }
    }

    /// Ids of the schedulers started (running or not).
    pub fn scheduler_ids(&self) -> Vec<String> {
        self.schedulers.keys().cloned().collect()
    }

    /// Whether every started agent and scheduler still runs (the names of those that
    /// exited otherwise). Killed ones count as exited.
    pub fn exited(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for (n, g) in self.agents.iter_mut() {
            if !g.is_running() {
                out.push(format!("agent {n}"));
            }
        }
        for (n, g) in self.schedulers.iter_mut() {
            if !g.is_running() {
                out.push(format!("scheduler {n}"));
            }
        }
        out
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    fn remember(&mut self, log: &Path) {
        if !self.logs.iter().any(|l| l == log) {
            self.logs.push(log.to_path_buf());
        }
    }

    /// The last `n` lines of every agent's and scheduler's log.
    pub fn log_tails(&self, n: usize) -> String {
        let mut out = String::new();
        for l in &self.logs {
            out.push_str(&format!(
                "==== {} ====\n{}\n",
                l.display(),
                crate::process::log_tail(l, n)
            ));
        }
        out
    }

    /// The schedulers' lines about operations, policy and leadership (at most the last
    /// `n` of each log).
    pub fn scheduler_story(&self, n: usize) -> String {
        let mut out = String::new();
        for l in self.logs.iter().filter(|l| {
            l.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("scheduler"))
        }) {
            let text = std::fs::read_to_string(l).unwrap_or_default();
            let lines: Vec<&str> = text
                .lines()
                .filter(|s| {
                    [
                        "failover",
                        "switchover",
                        "policy",
                        "lead",
                        "WARN",
                        "ERROR",
                        "rejoin",
                        "writes",
                        "move",
                    ]
                    .iter()
                    .any(|k| s.contains(k))
                })
                .collect();
            out.push_str(&format!(
                "==== {} (operations) ====\n{}\n",
                l.display(),
                lines[lines.len().saturating_sub(n)..].join("\n")
            ));
        }
        out
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.scheduler_story(150));
        }
    }
}

// ---- reading the control plane's records -------------------------------------------

/// The node record saying `primary` in set `set`, if exactly one does.
pub async fn primary_of(topo: &Topo, set: &str) -> anyhow::Result<Option<String>> {
    let primaries: Vec<NodeRecord> = topo
        .nodes_of(set)
        .await?
        .into_iter()
        .filter(|n| n.role == Role::Primary)
        .collect();
    Ok(match primaries.as_slice() {
        [p] => Some(p.id.clone()),
        _ => None,
    })
}

/// Node record `id` of `set`.
pub async fn node_record(topo: &Topo, set: &str, id: &str) -> anyhow::Result<NodeRecord> {
    topo.nodes_of(set)
        .await?
        .into_iter()
        .find(|n| n.id == id)
        .ok_or_else(|| anyhow!("no node record {set}/{id}"))
}

/// The set record.
pub async fn set_record(topo: &Topo, set: &str) -> anyhow::Result<SetRecord> {
    topo.get_set(set)
        .await?
        .ok_or_else(|| anyhow!("no set record {set}"))
}

/// The node's current task record, if any.
pub async fn task_of(topo: &Topo, set: &str, node: &str) -> anyhow::Result<Option<TaskRecord>> {
    Ok(topo.get_task(set, node).await?.map(|v| v.value))
}

/// Finished failover/switchover records of `set` started at or after `since_ms`.
pub async fn failovers_since(
    topo: &Topo,
    set: &str,
    since_ms: u64,
) -> anyhow::Result<Vec<FailoverRecord>> {
    Ok(topo
        .list_failovers(Some(set))
        .await?
        .into_iter()
        .filter(|f| f.started_ms >= since_ms)
        .collect())
}

/// One line per step of a record, for failure messages.
pub fn describe(rec: &FailoverRecord) -> String {
    format!(
        "{:?} {} {:?} {} -> {} error={:?}\n  {}",
        rec.kind,
        rec.id,
        rec.phase,
        rec.old_primary,
        rec.new_primary.as_deref().unwrap_or("-"),
        rec.error,
        rec.steps.join("\n  ")
    )
}

/// Waits (bounded) for the first finished failover or switchover record of `set`
/// started at or after `since_ms` (Done or Failed: the caller checks the phase).
/// The error names the operation in progress, if any.
pub async fn wait_failover(
    topo: &Topo,
    set: &str,
    since_ms: u64,
    timeout: Duration,
) -> anyhow::Result<FailoverRecord> {
    let start = Instant::now();
    loop {
        if let Ok(recs) = failovers_since(topo, set, since_ms).await {
            if let Some(r) = recs.into_iter().min_by_key(|r| r.started_ms) {
                return Ok(r);
            }
        }
        if start.elapsed() > timeout {
            let op = topo.get_op(set).await.ok().flatten().map(|v| v.value);
            bail!(
                "no finished failover of {set} within {timeout:?}; in progress: {}",
                op.as_ref()
                    .map(describe)
                    .unwrap_or_else(|| "none".to_string())
            );
        }
        tokio::time::sleep(crate::POLL).await;
    }
}

/// [`wait_failover`], then checks it is `Done` with a new primary, and that routing
/// names that primary. Returns the record.
pub async fn wait_failover_done(
    topo: &Topo,
    set: &str,
    since_ms: u64,
    timeout: Duration,
) -> anyhow::Result<FailoverRecord> {
    let rec = wait_failover(topo, set, since_ms, timeout).await?;
    if rec.phase != FailoverPhase::Done {
        bail!("the operation did not finish: {}", describe(&rec));
    }
    let new = rec
        .new_primary
        .clone()
        .ok_or_else(|| anyhow!("done without a new primary: {}", describe(&rec)))?;
    let routed = primary_of(topo, set).await?;
    if routed.as_deref() != Some(new.as_str()) {
        bail!(
            "routing names {routed:?} as primary, the record {new}: {}",
            describe(&rec)
        );
    }
    Ok(rec)
}

/// Waits (bounded) until the election `scheduler` has a leader other than `except`;
/// returns its id.
pub async fn wait_leader(
    topo: &Topo,
    except: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<String> {
    crate::retry(
        &format!("a scheduler leader (other than {except:?})"),
        timeout,
        || async {
            match topo::election::leader(topo, "scheduler").await? {
                Some(l) if Some(l.as_str()) != except => Ok(l),
                other => bail!("leader is {other:?}"),
            }
        },
    )
    .await
}

/// Waits (bounded) until node `id` reports readable health again (e.g. after its
/// agent or server restarted, or etcd came back).
pub async fn wait_reporting(topo: &Topo, ids: &[&str], timeout: Duration) -> anyhow::Result<()> {
    crate::wait_until(&format!("health reports of {ids:?}"), timeout, || async {
        let h = topo.list_health().await?;
        Ok(ids
            .iter()
            .all(|id| h.iter().any(|r| r.node == *id && r.readable)))
    })
    .await
}

/// Waits (bounded) until node `id`'s health report is gone (its agent's lease expired).
pub async fn wait_not_reporting(topo: &Topo, id: &str, timeout: Duration) -> anyhow::Result<()> {
    crate::wait_until(
        &format!("{id}'s health report to expire"),
        timeout,
        || async { Ok(!topo.list_health().await?.iter().any(|r| r.node == id)) },
    )
    .await
    .context("the agent's lease should have expired")
}

/// What keeps `set` from being whole, read from the servers themselves and routing
/// (empty: whole). Whole: routing names exactly one primary and no node is rejoining,
/// writes are not blocked; the primary is writable (`@@read_only = 0`) and replicates
/// from nobody; every other node is read-only and replicates from the primary with
/// its IO and SQL threads running.
pub async fn set_problems(c: &Cluster, set: &str) -> anyhow::Result<Vec<String>> {
    let topo = c.topo();
    let nodes = topo.nodes_of(set).await?;
    let mut out = Vec::new();
    let primaries: Vec<&NodeRecord> = nodes.iter().filter(|n| n.role == Role::Primary).collect();
    let primary = match primaries.as_slice() {
        [p] => Some(*p),
        ps => {
            out.push(format!("{} primaries in routing", ps.len()));
            None
        }
    };
    if let Some(why) = set_record(topo, set).await?.writes_blocked {
        out.push(format!("writes blocked: {why}"));
    }
    for n in &nodes {
        if n.rejoin.is_some() {
            out.push(format!("{} is still rejoining", n.id));
        }
        let node = c.node(&n.id);
        // Bounded: a hung (SIGSTOPped) server accepts TCP but never answers.
        let read = tokio::time::timeout(NODE_QUERY_TIMEOUT, async {
            let ro = node.scalar("SELECT @@GLOBAL.read_only").await?;
            let repl = crate::load::replicates_from(node).await?;
            anyhow::Ok((ro.unwrap_or_default(), repl))
        })
        .await
        .map_err(|_| anyhow!("no answer within {NODE_QUERY_TIMEOUT:?}"))
        .and_then(|r| r);
        let (ro, repl) = match read {
            Ok(v) => v,
            Err(e) => {
                out.push(format!("{} does not answer: {e:#}", n.id));
                continue;
            }
        };
        if primary.is_some_and(|p| p.id == n.id) {
            if ro != "0" {
                out.push(format!("primary {} is read-only", n.id));
            }
            if repl.is_some_and(|(_, io, sql)| io || sql) {
                out.push(format!("primary {} replicates from someone", n.id));
            }
            continue;
        }
        if ro != "1" {
            out.push(format!("{} is writable but not the primary", n.id));
        }
        let want = primary.map(|p| p.port).unwrap_or(0);
        match repl {
            Some((port, true, true)) if port == want => {}
            Some((port, io, sql)) => out.push(format!(
                "{} replicates from port {port} (primary's: {want}), IO {}, SQL {}",
                n.id,
                if io { "running" } else { "stopped" },
                if sql { "running" } else { "stopped" }
            )),
            None => out.push(format!("{} replicates from nobody", n.id)),
        }
    }
    Ok(out)
}

/// Waits (bounded) until [`set_problems`] finds none; the error lists what is left.
pub async fn wait_set_whole(c: &Cluster, set: &str, timeout: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let problems = match set_problems(c, set).await {
            Ok(p) => p,
            Err(e) => vec![format!("{e:#}")],
        };
        if problems.is_empty() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            bail!("{set} not whole after {timeout:?}: {}", problems.join("; "));
        }
        tokio::time::sleep(crate::POLL).await;
    }
}
