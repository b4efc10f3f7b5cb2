//! The `setwise` command line as clap types: exactly the commands of
//! `docs/contracts.md`. Turning them into validated actions is [`super::action`].

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Setwise DBA command line: sets, nodes, databases, shard maps, tables and users in etcd.
/// Every `add`/`set` is an upsert, so scripts may re-run it.
#[derive(Debug, Parser)]
#[command(
    name = "setwise",
    version,
    after_help = "Examples:\n  setwise status\n  setwise --etcd http://127.0.0.1:2379 --json node list\n\n\
Exit codes: 0 done; 1 failed or refused (the message says why); 2 bad command line; \
3 etcd unreachable; 4 gave up waiting while the operation goes on."
)]
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
    /// shard moves/plan, gateway list, ddl list/show/retry/cancel) as one JSON document; the field names are in
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
    #[command(after_help = "Examples:\n  setwise status\n  setwise --json status | jq '.sets'")]
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
    #[command(after_help = "Example:\n  setwise shardmap order_db")]
    Shardmap {
        /// Database name.
        db: String,
    },
    /// Gateways: registered (live) and known (registered once, not stopped cleanly).
    #[command(subcommand)]
    Gateway(super::gateway::GatewayCmd),
    /// Query digests of the gateways (per statement fingerprint: count, latency, rows,
    /// errors, sets), the largest total latency first.
    #[command(after_help = "Example:\n  setwise digests --top 20 --json")]
    Digests(super::digests::DigestsArgs),
    /// Slot moves (scale-out): move, list, cancel, rebalance, capacity plan.
    #[command(subcommand)]
    Shard(super::shard::args::ShardCmd),
    /// DDL tasks the scheduler applies to the sets: list, show, retry, cancel.
    #[command(subcommand)]
    Ddl(super::ddl::DdlCmd),
    /// Table placement: sharded, broadcast or single.
    #[command(subcommand)]
    Table(TableCmd),
    /// Gateway users.
    #[command(subcommand)]
    User(UserCmd),
    /// Planned change of a set's primary, with no lost writes: waits until it is done.
    #[command(after_help = "Example:\n  setwise switchover --set set1 --to set1-n1 --wait 60")]
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
    #[command(after_help = "Example:\n  setwise failovers --set set1 --steps")]
    Failovers {
        /// Only this set.
        #[arg(long)]
        set: Option<String>,
        /// Also print each operation's steps.
        #[arg(long)]
        steps: bool,
    },
    /// Per-node CPU and disk, and per-table rows, size and reads/writes (from the agents).
    #[command(after_help = "Example:\n  setwise stats --set set1")]
    Stats {
        /// Only this set.
        #[arg(long)]
        set: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SetCmd {
    /// Adds a set, or updates its sync mode.
    #[command(after_help = "Example:\n  setwise set add set3 --sync strong")]
    Add {
        name: String,
        /// Replication durability (default strong for a new set; kept for an existing one).
        #[arg(long, value_enum)]
        sync: Option<SyncArg>,
        /// `semi` sets: how long a commit waits for a replica before falling back to async.
        #[arg(long, value_name = "MS")]
        semi_timeout_ms: Option<u64>,
    },
    #[command(after_help = "Example:\n  setwise set list --json")]
    /// Lists the sets.
    List,
    /// Creates a set from running nodes: registers it, picks the primary, starts
    /// replication (docs/rebuild.md).
    Create(super::sets::CreateArgs),
    /// Deletes a set that owns no slots and is no database's home.
    Delete(super::sets::DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// Joins a new node to a set (`--set S HOST:PORT`: its agent rebuilds it from the
    /// primary with mariadb-backup, it replicates and catches up), or registers a node
    /// as is (`ID --set S --addr HOST:PORT --role R`, an upsert).
    #[command(after_help = super::nodes::ADD_EXAMPLES)]
    Add {
        /// HOST:PORT of the new node (its agent must run), or a node id with --addr/--role.
        target: String,
        #[arg(long)]
        set: String,
        /// Register only: MariaDB address HOST:PORT.
        #[arg(long)]
        addr: Option<String>,
        /// Register only: its role.
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// Join: the new node's id (default: the id its agent reports under).
        #[arg(long)]
        id: Option<String>,
        /// Join: give up waiting after this many seconds.
        #[arg(long, default_value_t = 3600, value_name = "SECS")]
        wait: u64,
    },
    #[command(after_help = "Example:\n  setwise node list")]
    /// Lists the nodes.
    List,
    /// Replaces a replica: joins NEW (as `node add`), then removes OLD.
    Replace(super::nodes::ReplaceArgs),
    /// Removes a replica from its set (never the primary; never below what strong
    /// sync needs, unless --force).
    Remove(super::nodes::RemoveArgs),
}

#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Adds a database spread evenly over sets; re-running keeps its existing shard map.
    #[command(after_help = "Example:\n  setwise db add order_db --sets set1,set2 --home set1")]
    Add(DbAddArgs),
    #[command(after_help = "Example:\n  setwise db list")]
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
    #[command(
        after_help = "Examples:\n  setwise table set order_db.orders --shardkey user_id --key-type integer\n  setwise table set order_db.regions --broadcast"
    )]
    Set(TableSetArgs),
    /// Lists tables (of one database, or all).
    #[command(after_help = "Example:\n  setwise table list order_db")]
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
    #[command(
        after_help = "Example:\n  setwise user add app --password s3cret --host 10.0.0.0/8 --reads replica"
    )]
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
        /// The gateway's administrative privilege (MariaDB's RELOAD: `SHOW
        /// SETWISE DIGESTS RESET`): `yes` or `no`; unset: a new user has none,
        /// an existing one keeps its setting.
        #[arg(long, value_name = "yes|no", value_parser = clap::builder::BoolishValueParser::new())]
        admin: Option<bool>,
    },
    /// Changes where an existing user's plain reads go.
    #[command(after_help = "Example:\n  setwise user reads app primary")]
    Reads {
        name: String,
        #[arg(value_enum)]
        reads: ReadsArg,
    },
    #[command(after_help = "Example:\n  setwise user list")]
    /// Lists the users.
    List,
    /// Deletes a user.
    #[command(after_help = "Example:\n  setwise user del app")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command that runs something (a leaf) has an example in its `--help`, and
    /// each example is a valid command line for that very command.
    #[test]
    fn every_command_has_a_valid_example() {
        fn walk(cmd: &clap::Command, path: &mut Vec<String>, found: &mut usize) {
            let subs: Vec<_> = cmd
                .get_subcommands()
                .filter(|c| c.get_name() != "help")
                .collect();
            if subs.is_empty() {
                let help = cmd
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                let examples: Vec<&str> = help
                    .lines()
                    .filter_map(|l| l.trim().strip_prefix("setwise "))
                    .collect();
                assert!(
                    !examples.is_empty(),
                    "`setwise {}` has no example",
                    path.join(" ")
                );
                for ex in examples {
                    let line = ex.split(" | ").next().unwrap();
                    let words: Vec<&str> = std::iter::once("setwise")
                        .chain(line.split_whitespace())
                        .collect();
                    Cli::try_parse_from(&words)
                        .unwrap_or_else(|e| panic!("example `{line}` does not parse: {e}"));
                    let plain: Vec<&str> = words
                        .iter()
                        .copied()
                        .filter(|w| !w.starts_with('-'))
                        .collect();
                    let mut at = 0;
                    for p in path.iter() {
                        at += plain[at..].iter().position(|w| w == p).unwrap_or_else(|| {
                            panic!("example `{line}` is not `{}`", path.join(" "))
                        }) + 1;
                    }
                }
                *found += 1;
            }
            for sub in subs {
                path.push(sub.get_name().to_string());
                walk(sub, path, found);
                path.pop();
            }
        }
        let mut found = 0;
        walk(&Cli::command(), &mut Vec::new(), &mut found);
        assert!(found >= 20, "only {found} commands walked");
    }
}
