//! Pooled backend connections (mysql_async), one pool per (instance, database,
//! found-rows mode, session state, worker thread), so a borrowed connection is already in the right database and
//! needs no `USE` round trip. Borrowing is bounded by the connect timeout: a dead
//! set gives a clear error, never a hang.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::{Conn as RawConn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

use super::conn::{Conn, HotStack};
use super::mux::Mux;
use super::pipelines::Pipelines;
use crate::config::BackendConfig;
use crate::error::ProxyError;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub host: String,
    pub port: u16,
    pub db: Option<String>,
    pub found_rows: bool,
    /// Session-state statements (`SET ...`) run on each new connection.
    pub init: std::sync::Arc<Vec<String>>,
    /// The worker thread whose runtime the pool's connections belong to
    /// ([`super::worker::current`]).
    pub worker: usize,
    /// A pool for reads on a replica (`crate::split`): kept while routing names
    /// the instance a replica, where a primary's pool is closed.
    pub replica: bool,
}

/// Most pools kept at once (one per node × database × client flags × session state).
const MAX_POOLS: usize = 512;

/// Most pool keys with pipelined connections kept at once (each holds up to
/// `pipeline_conns` connections open while it is in use: `super::pipelines`).
const MAX_PIPELINE_KEYS: usize = 32;

/// MariaDB's ER_CON_COUNT_ERROR, "Too many connections".
const TOO_MANY_CONNECTIONS: u16 = 1040;

/// MariaDB's ER_MAX_PREPARED_STMT_COUNT_REACHED: the instance holds
/// `max_prepared_stmt_count` prepared statements over all its connections.
const TOO_MANY_STATEMENTS: u16 = 1461;

/// Between connects to an instance that refused one as full.
const FULL_PAUSE: Duration = Duration::from_millis(50);

/// How long an idle connection stays in a pool: a session state of its own (a
/// user variable, a time zone) is often one client's, so its pool's connections
/// go soon — MariaDB counts them against `max_connections`.
const IDLE_TTL: Duration = Duration::from_secs(60);
const IDLE_TTL_OF_STATE: Duration = Duration::from_secs(5);

pub struct Backends {
    cfg: BackendConfig,
    pools: Mutex<HashMap<PoolKey, (Pool, Arc<HotStack>)>>,
    /// `host:port` of every set's primary in the current routing (`None` until
    /// routing is known): a pool to any other instance is not kept.
    primaries: Mutex<Option<HashSet<(String, u16)>>>,
    /// The same for replicas: the instances replica pools may lead to.
    replicas: Mutex<HashSet<(String, u16)>>,
    /// Sets whose primary a statement waited for in vain, at the routing epoch of
    /// that wait: until routing moves on, later statements do not wait again (a dead
    /// set with no failover coming answers at once).
    waited_in_vain: Mutex<HashMap<String, u64>>,
    /// Pipelined connections for point reads ([`Pipelines`]).
    pipelines: Pipelines,
    /// TLS to the instances (`[backend.tls]`); `None`: plain.
    ssl: Option<mysql_async::SslOpts>,
}

impl Backends {
    pub fn new(mut cfg: BackendConfig) -> Self {
        // Checked at start (server.rs); pipelined connections speak plain TCP only.
        let ssl = cfg.tls.ssl_opts().unwrap_or_default();
        if ssl.is_some() {
            cfg.pipeline_conns = 0;
        }
        Self {
            ssl,
            cfg,
            pools: Mutex::new(HashMap::new()),
            primaries: Mutex::new(None),
            replicas: Mutex::new(HashSet::new()),
            waited_in_vain: Mutex::new(HashMap::new()),
            pipelines: Pipelines::default(),
        }
    }

    /// Whether a wait for `set`'s primary already timed out at routing `epoch`.
    pub fn waited_in_vain(&self, set: &str, epoch: u64) -> bool {
        self.waited_in_vain
            .lock()
            .expect("waits")
            .get(set)
            .is_some_and(|&e| e == epoch)
    }

    /// Records the outcome of a wait for `set`'s primary: in vain at `epoch`
    /// (`Some`), or found (`None`).
    pub fn note_wait(&self, set: &str, in_vain_at: Option<u64>) {
        let mut w = self.waited_in_vain.lock().expect("waits");
        match in_vain_at {
            Some(epoch) => {
                w.insert(set.to_string(), epoch);
            }
            None => {
                w.remove(set);
            }
        }
    }

    /// Pools kept now (the metrics port's gauge).
    pub fn pool_count(&self) -> usize {
        self.pools.lock().expect("pool map").len()
    }

    pub fn config(&self) -> &BackendConfig {
        &self.cfg
    }

    /// After a routing change: closes the pools of instances that are no longer
    /// any set's primary (a demoted primary's idle connections would otherwise
    /// serve statements on a read-only replica). Connections borrowed from them
    /// finish their work and are closed when returned.
    pub fn retain_primaries(&self, snap: &topo::ClusterSnapshot) {
        let of_role = |role: topo::Role| -> HashSet<(String, u16)> {
            snap.nodes
                .values()
                .filter(|n| n.role == role)
                .map(|n| (n.host.clone(), n.port))
                .collect()
        };
        let primaries = of_role(topo::Role::Primary);
        let replicas = of_role(topo::Role::Replica);
        let mut closed = Vec::new();
        {
            let mut pools = self.pools.lock().expect("pool map");
            pools.retain(|k, p| {
                let addr = (k.host.clone(), k.port);
                let keep = if k.replica {
                    replicas.contains(&addr)
                } else {
                    primaries.contains(&addr)
                };
                if !keep {
                    p.1.close();
                    closed.push((format!("{}:{}", k.host, k.port), p.0.clone()));
                }
                keep
            });
            self.pipelines
                .retain(|k| primaries.contains(&(k.host.clone(), k.port)));
            *self.primaries.lock().expect("primaries") = Some(primaries);
            *self.replicas.lock().expect("replicas") = replicas;
        }
        for (addr, pool) in closed {
            tracing::info!(%addr, "closing the pool of an instance whose role changed");
            tokio::spawn(async move {
                let _ = pool.disconnect().await;
            });
        }
    }

    fn pool(&self, key: &PoolKey) -> (Pool, Option<Arc<HotStack>>) {
        let mut pools = self.pools.lock().expect("pool map");
        if let Some((p, hot)) = pools.get(key) {
            return (p.clone(), Some(hot.clone()));
        }
        // A statement routed by a snapshot older than the last change: serve it,
        // but do not keep a pool to an instance that is no longer a primary.
        let addr = (key.host.clone(), key.port);
        let keep = if key.replica {
            self.replicas.lock().expect("replicas").contains(&addr)
        } else {
            self.primaries
                .lock()
                .expect("primaries")
                .as_ref()
                .is_none_or(|p| p.contains(&addr))
        };
        if !keep {
            drop(pools);
            return (Pool::new(self.opts(key)), None);
        }
        if pools.len() >= MAX_POOLS {
            // Many distinct session states (e.g. user variables with ever new
            // values): close pools of session state first, then any.
            let victim = pools
                .keys()
                .find(|k| !k.init.is_empty())
                .or_else(|| pools.keys().next())
                .cloned();
            // Only forgotten here: sessions still using it finish their statement,
            // and its connections close when the last handle is dropped.
            if let Some((_, hot)) = victim.and_then(|v| pools.remove(&v)) {
                hot.close();
            }
        }
        let pool = Pool::new(self.opts(key));
        let hot = HotStack::new(self.cfg.pool_max);
        pools.insert(key.clone(), (pool.clone(), hot.clone()));
        (pool, Some(hot))
    }

    fn opts(&self, key: &PoolKey) -> Opts {
        let constraints = PoolConstraints::new(0, self.cfg.pool_max.max(1)).expect("0 <= max");
        let (ttl, check) = match key.init.is_empty() {
            true => (IDLE_TTL, Duration::from_secs(30)),
            false => (IDLE_TTL_OF_STATE, Duration::from_secs(1)),
        };
        let pool_opts = PoolOpts::default()
            .with_constraints(constraints)
            .with_reset_connection(false)
            .with_inactive_connection_ttl(ttl)
            .with_ttl_check_interval(check);
        let opts = OptsBuilder::default()
            .ip_or_hostname(key.host.clone())
            .tcp_port(key.port)
            .user(Some(self.cfg.user.clone()))
            .pass(Some(self.cfg.password.clone()))
            .db_name(key.db.clone())
            .client_found_rows(key.found_rows)
            // mysql_async runs `init` last to first (it pops them): reversed here
            // so they run in the order the session set them.
            .init(key.init.iter().rev().cloned().collect::<Vec<_>>())
            .tcp_nodelay(true)
            // On loopback: mysql_async reconnects through the server's socket.
            .prefer_socket(self.cfg.prefer_socket)
            .stmt_cache_size(self.cfg.stmt_cache)
            .ssl_opts(self.ssl.clone())
            .pool_opts(pool_opts);
        Opts::from(opts)
    }

    /// Whether the instance at `host:port` answers a new connection and `SELECT 1`
    /// within `within` (used while a statement waits long on it: a stopped or hung
    /// server must not hang the client).
    pub async fn answers(&self, host: &str, port: u16, within: Duration) -> bool {
        use mysql_async::prelude::Queryable;
        let opts = OptsBuilder::default()
            .ip_or_hostname(host.to_string())
            .tcp_port(port)
            .prefer_socket(false)
            .ssl_opts(self.ssl.clone())
            .user(Some(self.cfg.user.clone()))
            .pass(Some(self.cfg.password.clone()));
        let probe = async {
            let mut c = RawConn::new(Opts::from(opts)).await?;
            c.query_drop("SELECT 1").await?;
            c.disconnect().await
        };
        // An error packet is an answer too: a server refusing connections as full
        // (1040) is busy, not stopped.
        matches!(
            tokio::time::timeout(within, probe).await,
            Ok(Ok(()) | Err(mysql_async::Error::Server(_)))
        )
    }

    /// Stops the statement running on backend thread `thread` of `host:port`.
    pub async fn kill_query(
        &self,
        host: &str,
        port: u16,
        thread: u32,
    ) -> Result<(), mysql_async::Error> {
        use mysql_async::prelude::Queryable;
        let mut c = self.admin_conn(host, port).await?;
        c.query_drop(format!("KILL QUERY {thread}")).await?;
        c.disconnect().await
    }

    /// A connection of its own to `host:port`, outside every pool, for the
    /// gateway's short administrative work there (KILL QUERY, reading lock
    /// waits: `crate::deadlock`).
    pub async fn admin_conn(&self, host: &str, port: u16) -> Result<RawConn, mysql_async::Error> {
        let opts = OptsBuilder::default()
            .ip_or_hostname(host.to_string())
            .tcp_port(port)
            .ssl_opts(self.ssl.clone())
            .user(Some(self.cfg.user.clone()))
            .pass(Some(self.cfg.password.clone()));
        RawConn::new(Opts::from(opts)).await
    }

    /// Prepares `sql` on `conn`. When the instance refuses for holding too
    /// many prepared statements over all its connections (1461), the idle
    /// connections this gateway keeps there are closed — their statements go
    /// with them — and the prepare is tried once more.
    pub async fn prep(
        &self,
        conn: &mut Conn,
        sql: &[u8],
    ) -> Result<mysql_async::Statement, mysql_async::Error> {
        use mysql_async::prelude::Queryable;
        match conn.prep(sql).await {
            Err(mysql_async::Error::Server(e)) if e.code == TOO_MANY_STATEMENTS => {
                let opts = conn.opts();
                let (host, port) = (opts.ip_or_hostname().to_string(), opts.tcp_port());
                self.close_idle_of(&host, port);
                tokio::time::sleep(FULL_PAUSE).await;
                conn.prep(sql).await
            }
            r => r,
        }
    }

    /// Closes every pool of the instance at `host:port` (connections in use
    /// finish their work and close when given back) and its idle pipelined
    /// connections.
    fn close_idle_of(&self, host: &str, port: u16) {
        let n = self.close_pools(host, port, |_| true);
        tracing::info!(
            addr = %format!("{host}:{port}"),
            pools = n,
            "the instance holds too many prepared statements: closing its idle connections"
        );
    }

    /// Closes the idle connections this gateway keeps to `key`'s instance for
    /// other keys: the pools of other session states (or, with none, every other
    /// pool of the instance) and its idle pipelined connections. Statements
    /// running on them finish; their connections close when given back.
    fn release_idle(&self, key: &PoolKey) {
        let other = |k: &PoolKey| k != key;
        let states = {
            let pools = self.pools.lock().expect("pool map");
            pools
                .keys()
                .any(|k| k.host == key.host && k.port == key.port && other(k) && !k.init.is_empty())
        };
        let n = self.close_pools(&key.host, key.port, |k| {
            other(k) && (!states || !k.init.is_empty())
        });
        tracing::info!(
            addr = %format!("{}:{}", key.host, key.port),
            pools = n,
            "the instance refused a connection (too many): closing idle pools of other session states"
        );
    }

    /// Forgets the pools of `host:port` that `which` selects (their idle
    /// connections disconnected in the background, the rest when given back)
    /// and closes the instance's idle pipelined connections; how many pools.
    fn close_pools(&self, host: &str, port: u16, which: impl Fn(&PoolKey) -> bool) -> usize {
        let on = |k: &PoolKey| k.host == host && k.port == port;
        let closed: Vec<Pool> = {
            let mut pools = self.pools.lock().expect("pool map");
            let victims: Vec<PoolKey> = pools
                .keys()
                .filter(|k| on(k) && which(k))
                .cloned()
                .collect();
            victims
                .iter()
                .filter_map(|v| pools.remove(v))
                .map(|(pool, hot)| {
                    hot.close();
                    pool
                })
                .collect()
        };
        self.pipelines.close_idle(on);
        let n = closed.len();
        for pool in closed {
            tokio::spawn(async move {
                let _ = pool.disconnect().await;
            });
        }
        n
    }

    /// A pipelined connection to `key` with room for one more statement
    /// ([`Pipelines::get`]).
    pub async fn mux(&self, key: &PoolKey) -> Option<Arc<Mux>> {
        self.pipelines.get(key, &self.cfg, MAX_PIPELINE_KEYS).await
    }

    /// Borrows a connection to `key` for work on `set`: the one last given back
    /// clean if there is one, else from mysql_async's pool.
    pub async fn get(&self, set: &str, key: &PoolKey) -> Result<Conn, ProxyError> {
        let (pool, hot) = self.pool(key);
        if let Some(c) = hot.as_ref().and_then(|h| h.pop()) {
            return Ok(Conn::new(c, hot));
        }
        let timeout = Duration::from_millis(self.cfg.connect_timeout_ms.max(100));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut released = false;
        let got = loop {
            let got = tokio::time::timeout_at(deadline, pool.get_conn()).await;
            match &got {
                Ok(Err(mysql_async::Error::Server(s)))
                    if s.code == TOO_MANY_CONNECTIONS
                        && tokio::time::Instant::now() + FULL_PAUSE < deadline =>
                {
                    // The instance is full: what this gateway keeps idle there for
                    // other session states goes first, then the connect is tried
                    // again until the connect timeout.
                    if !released {
                        self.release_idle(key);
                        released = true;
                    }
                    tokio::time::sleep(FULL_PAUSE).await;
                }
                _ => break got,
            }
        };
        match got {
            Ok(Ok(c)) => Ok(Conn::new(c, hot)),
            Ok(Err(mysql_async::Error::Server(s))) => Err(ProxyError::Backend {
                code: s.code,
                state: s.state,
                message: s.message,
            }),
            Ok(Err(e)) => {
                let e = match e {
                    mysql_async::Error::Io(mysql_async::IoError::Io(io)) => io.to_string(),
                    other => other.to_string(),
                };
                Err(ProxyError::SetUnavailable {
                    set: set.into(),
                    detail: format!("cannot connect to {}:{}: {e}", key.host, key.port),
                })
            }
            Err(_) => Err(ProxyError::SetUnavailable {
                set: set.into(),
                detail: format!(
                    "no connection to {}:{} within {} ms",
                    key.host,
                    key.port,
                    timeout.as_millis()
                ),
            }),
        }
    }
}
