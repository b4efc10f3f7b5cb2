//! The `setwise` command line as clap types: exactly the commands of
//! `docs/contracts.md`. Turning them into validated actions is [`super::action`].

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Setwise DBA command line: sets, nodes, databases, shard maps, tables and users in etcd.
/// Every `add`/`set` is an upsert, so scripts may re-run it.
#[derive(Debug, Parser)]
#[command(name = "setwise", version)]
pub struct Cli {
    /// TOML config file with an `[etcd]` section.
    #[arg(long, global = true, env = "SETWISE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// etcd endpoints, comma separated (overrides the config file).
    #[arg(long, global = true, env = "SETWISE_ETCD", value_name = "URL[,URL]")]
    pub etcd: Option<String>,
    /// Cluster name: every key lives under /setwise/<cluster>/ (overrides the config file).
    #[arg(long, global = true, env = "SETWISE_CLUSTER", value_name = "NAME")]
    pub cluster: Option<String>,
    /// Print listings (status, set/node/db/table/user list, shardmap, failovers, stats,
    /// shard moves/plan, gateway list) as one JSON document; the field names are in
    /// docs/cli-json.md.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log level (overrides RUST_LOG; default warn).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sets, nodes with their health, databases and the scheduler leader.
    Status,
    /// Sets (one primary + replicas).
    #[command(subcommand)]
    Set(SetCmd),
    /// MariaDB instances of the sets.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Logical databases and where they live.
    #[command(subcommand)]
    Db(DbCmd),
    /// A database's shard map: slot ranges and their sets.
    Shardmap {
        /// Database name.
        db: String,
    },
    /// Gateways: registered (live) and known (registered once, not stopped cleanly).
    #[command(subcommand)]
    Gateway(super::gateway::GatewayCmd),
    /// Query digests of the gateways (per statement fingerprint: count, latency, rows,
    /// errors, sets), the largest total latency first.
    ///
    /// Example: `setwise digests --top 20 --json`
    Digests(super::digests::DigestsArgs),
    /// Slot moves (scale-out): move, list, cancel, rebalance, capacity plan.
    #[command(subcommand)]
    Shard(super::shard::args::ShardCmd),
    /// Table placement: sharded, broadcast or single.
    #[command(subcommand)]
    Table(TableCmd),
    /// Gateway users.
    #[command(subcommand)]
    User(UserCmd),
    /// Planned change of a set's primary, with no lost writes: waits until it is done.
    Switchover {
        /// The set.
        #[arg(long)]
        set: String,
        /// The replica to promote (default: the most caught-up replicating replica).
        #[arg(long, value_name = "NODE")]
        to: Option<String>,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        wait: u64,
    },
    /// Failovers and switchovers: in progress, then finished (oldest first).
    Failovers {
        /// Only this set.
        #[arg(long)]
        set: Option<String>,
        /// Also print each operation's steps.
        #[arg(long)]
        steps: bool,
    },
    /// Per-node CPU and disk, and per-table rows, size and reads/writes (from the agents).
    Stats {
        /// Only this set.
        #[arg(long)]
        set: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SetCmd {
    /// Adds a set, or updates its sync mode.
    Add {
        name: String,
        /// Replication durability (default strong for a new set; kept for an existing one).
        #[arg(long, value_enum)]
        sync: Option<SyncArg>,
        /// `semi` sets: how long a commit waits for a replica before falling back to async.
        #[arg(long, value_name = "MS")]
        semi_timeout_ms: Option<u64>,
    },
    /// Lists the sets.
    List,
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Adds a node to a set, or updates it.
    Add {
        /// Unique node id, e.g. set1-n0.
        id: String,
        #[arg(long)]
        set: String,
        /// MariaDB address HOST:PORT.
        #[arg(long)]
        addr: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Lists the nodes.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Adds a database spread evenly over sets; re-running keeps its existing shard map.
    Add(DbAddArgs),
    /// Lists the databases.
    List,
}

#[derive(Debug, Args)]
pub struct DbAddArgs {
    pub name: String,
    /// Sets holding the database's shards, comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub sets: Vec<String>,
    /// Set holding the unsharded tables (default: the first of --sets).
    #[arg(long)]
    pub home: Option<String>,
    /// Number of hash slots (default 1024).
    #[arg(long)]
    pub slots: Option<u32>,
    /// Replace an existing database's shard map even if it differs (data is NOT moved).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum TableCmd {
    /// Sets a table's placement.
    Set(TableSetArgs),
    /// Lists tables (of one database, or all).
    List { db: Option<String> },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("kind").required(true).multiple(false)))]
pub struct TableSetArgs {
    /// DB.TABLE
    pub table: String,
    /// Sharded on this column.
    #[arg(long, group = "kind", value_name = "COL")]
    pub shardkey: Option<String>,
    /// How the shard-key value is normalised before hashing.
    #[arg(long, value_enum, requires = "shardkey")]
    pub key_type: Option<KeyTypeArg>,
    /// A full copy in every set.
    #[arg(long, group = "kind")]
    pub broadcast: bool,
    /// Lives on the database's home set only.
    #[arg(long, group = "kind")]
    pub single: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Adds a gateway user or replaces its password and hosts.
    Add {
        name: String,
        #[arg(long)]
        password: String,
        /// Network the user may connect from (CIDR or address); repeatable; none = anywhere.
        #[arg(long = "host", value_name = "CIDR")]
        hosts: Vec<String>,
        /// Where the user's plain reads outside transactions go (read/write
        /// split); unset: a new user reads from primaries, an existing one keeps
        /// its setting.
        #[arg(long, value_enum)]
        reads: Option<ReadsArg>,
        /// MariaDB's `REQUIRE SSL` / `REQUIRE NONE`: `ssl` refuses the user on a
        /// plain connection (docs/tls.md); unset: a new user requires none, an
        /// existing one keeps its setting.
        #[arg(long, value_enum)]
        require: Option<RequireArg>,
    },
    /// Changes where an existing user's plain reads go.
    Reads {
        name: String,
        #[arg(value_enum)]
        reads: ReadsArg,
    },
    /// Lists the users.
    List,
    /// Deletes a user.
    Del { name: String },
}

/// `--require ssl|none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RequireArg {
    Ssl,
    None,
}

/// `--reads primary|replica`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadsArg {
    Primary,
    Replica,
}

impl From<ReadsArg> for topo::Reads {
    fn from(r: ReadsArg) -> Self {
        match r {
            ReadsArg::Primary => topo::Reads::Primary,
            ReadsArg::Replica => topo::Reads::Replica,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncArg {
    Strong,
    Semi,
    Async,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Primary,
    Replica,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    Integer,
    Text,
    Binary,
}

impl From<SyncArg> for topo::SyncMode {
    fn from(s: SyncArg) -> Self {
        match s {
            SyncArg::Strong => Self::Strong,
            SyncArg::Semi => Self::Semi,
            SyncArg::Async => Self::Async,
        }
    }
}

impl From<RoleArg> for topo::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Primary => Self::Primary,
            RoleArg::Replica => Self::Replica,
        }
    }
}

impl From<KeyTypeArg> for topo::KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::Integer => Self::Integer,
            KeyTypeArg::Text => Self::Text,
            KeyTypeArg::Binary => Self::Binary,
        }
    }
}
