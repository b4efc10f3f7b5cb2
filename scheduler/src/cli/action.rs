//! What a `setwise` command asks for, validated and turned into topo records before
//! anything touches etcd (what `db add` then does to an existing database is
//! [`super::db_add`]'s decision).

use std::net::IpAddr;

use anyhow::{anyhow, bail, ensure, Result};
use ipnet::IpNet;
use topo::keys::{valid_name, valid_object_name};
use topo::{NodeRecord, SyncMode, TableKind, TableRecord, UserRecord};

use super::args::{Command, DbAddArgs, DbCmd, NodeCmd, SetCmd, TableCmd, TableSetArgs, UserCmd};
use super::db_add::DbAdd;

/// One validated request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Status,
    SetAdd {
        name: String,
        sync: Option<SyncMode>,
        semi_timeout_ms: Option<u64>,
    },
    SetList,
    NodeAdd(NodeRecord),
    NodeList,
    DbAdd(DbAdd),
    DbList,
    Shardmap(String),
    TableSet(TableRecord),
    TableList(Option<String>),
    /// The user, and whether `--reads`, `--require` and `--admin` were given
    /// (else an existing user keeps its own setting).
    UserAdd(UserRecord, bool, bool, bool),
    /// `user reads NAME primary|replica`.
    UserReads(String, topo::Reads),
    UserList,
    UserDel(String),
    Switchover {
        set: String,
        to: Option<String>,
        wait_secs: u64,
    },
    Failovers {
        set: Option<String>,
        steps: bool,
    },
    Stats(Option<String>),
    /// `shard …` (validated in [`super::shard::check`]).
    Shard(super::shard::check::ShardAction),
}

impl Action {
    /// Validates a parsed command line.
    pub fn from_command(cmd: Command) -> Result<Self> {
        Ok(match cmd {
            Command::Status => Action::Status,
            Command::Set(SetCmd::Add {
                name,
                sync,
                semi_timeout_ms,
            }) => {
                check_name("set", &name)?;
                Action::SetAdd {
                    name,
                    sync: sync.map(Into::into),
                    semi_timeout_ms,
                }
            }
            Command::Set(SetCmd::List) => Action::SetList,
            Command::Node(NodeCmd::Add {
                target: id,
                set,
                addr: Some(addr),
                role: Some(role),
                id: None,
                ..
            }) => {
                check_name("node", &id)?;
                check_name("set", &set)?;
                let (host, port) = parse_addr(&addr)?;
                Action::NodeAdd(NodeRecord {
                    id,
                    set,
                    host,
                    port,
                    role: role.into(),
                    rejoin: None,
                })
            }
            Command::Node(NodeCmd::List) => Action::NodeList,
            Command::Node(NodeCmd::Add { .. }) => bail!(
                "node add: give either HOST:PORT alone (join a new node) or ID with both --addr \
                 and --role (register a node as is)"
            ),
            Command::Node(NodeCmd::Replace(_) | NodeCmd::Remove(_))
            | Command::Set(SetCmd::Create(_) | SetCmd::Delete(_)) => {
                bail!("handled by cli::nodes / cli::sets")
            }
            Command::Db(DbCmd::Add(a)) => Action::DbAdd(db_add(a)?),
            Command::Db(DbCmd::List) => Action::DbList,
            Command::Shardmap { db } => {
                check_name("database", &db)?;
                Action::Shardmap(db)
            }
            Command::Table(TableCmd::Set(a)) => Action::TableSet(table_set(a)?),
            Command::Table(TableCmd::List { db }) => {
                if let Some(db) = &db {
                    check_name("database", db)?;
                }
                Action::TableList(db)
            }
            Command::User(UserCmd::Add {
                name,
                password,
                hosts,
                reads,
                require,
                admin,
            }) => {
                check_name("user", &name)?;
                let hosts = hosts
                    .iter()
                    .map(|h| parse_host(h))
                    .collect::<Result<Vec<_>>>()?;
                Action::UserAdd(
                    UserRecord {
                        name,
                        password_hash: topo::password::native_hash(&password),
                        hosts,
                        reads: reads.map(Into::into).unwrap_or_default(),
                        require_ssl: require == Some(super::args::RequireArg::Ssl),
                        admin: admin == Some(true),
                    },
                    reads.is_some(),
                    require.is_some(),
                    admin.is_some(),
                )
            }
            Command::User(UserCmd::Reads { name, reads }) => {
                check_name("user", &name)?;
                Action::UserReads(name, reads.into())
            }
            Command::User(UserCmd::List) => Action::UserList,
            Command::User(UserCmd::Del { name }) => {
                check_name("user", &name)?;
                Action::UserDel(name)
            }
            Command::Switchover { set, to, wait } => {
                check_name("set", &set)?;
                if let Some(t) = &to {
                    check_name("node", t)?;
                }
                ensure!(wait >= 1, "--wait must be at least 1 second");
                Action::Switchover {
                    set,
                    to,
                    wait_secs: wait,
                }
            }
            Command::Failovers { set, steps } => {
                if let Some(s) = &set {
                    check_name("set", s)?;
                }
                Action::Failovers { set, steps }
            }
            Command::Gateway(_) => bail!("`setwise gateway` is run by cli::gateway"),
            Command::Ddl(_) => bail!("`setwise ddl` is run by cli::ddl"),
            Command::Digests(_) => bail!("`setwise digests` is run by cli::digests"),
            Command::Shard(cmd) => Action::Shard(super::shard::check::ShardAction::from_cmd(cmd)?),
            Command::Stats { set } => {
                if let Some(s) = &set {
                    check_name("set", s)?;
                }
                Action::Stats(set)
            }
        })
    }
}

fn check_name(what: &str, name: &str) -> Result<()> {
    if matches!(what, "database" | "table") {
        // Any name MariaDB accepts (etcd keys encode it).
        ensure!(
            valid_object_name(name),
            "invalid {what} name {name:?}: empty or longer than 64 characters"
        );
        return Ok(());
    }
    ensure!(
        valid_name(name),
        "invalid {what} name {name:?}: use letters, digits, _ - . $ (at most 64)"
    );
    Ok(())
}

/// `HOST:PORT`, with IPv6 hosts in brackets (`[::1]:3306`).
pub fn parse_addr(addr: &str) -> Result<(String, u16)> {
    let bad = || anyhow!("invalid address {addr:?}: expected HOST:PORT");
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// A network in CIDR notation, or a single address (`/32`, `/128`).
pub fn parse_host(h: &str) -> Result<IpNet> {
    if let Ok(net) = h.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    bail!("invalid host {h:?}: expected a network like 10.0.0.0/8 or an address")
}

fn db_add(a: DbAddArgs) -> Result<DbAdd> {
    check_name("database", &a.name)?;
    let mut sets: Vec<String> = Vec::new();
    for s in a.sets.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        check_name("set", s)?;
        ensure!(
            !sets.iter().any(|x| x == s),
            "set {s} given twice in --sets"
        );
        sets.push(s.to_string());
    }
    ensure!(!sets.is_empty(), "--sets needs at least one set");
    if let Some(home) = &a.home {
        ensure!(
            sets.contains(home),
            "--home {home} is not one of --sets {}",
            sets.join(",")
        );
    }
    if let Some(slots) = a.slots {
        ensure!(
            slots as usize >= sets.len(),
            "--slots {slots} is fewer than the {} sets",
            sets.len()
        );
    }
    Ok(DbAdd {
        name: a.name,
        sets,
        home: a.home,
        slots: a.slots,
        force: a.force,
    })
}

fn table_set(a: TableSetArgs) -> Result<TableRecord> {
    let (db, name) = a
        .table
        .split_once('.')
        .ok_or_else(|| anyhow!("expected DB.TABLE, got {:?}", a.table))?;
    check_name("database", db)?;
    check_name("table", name)?;
    ensure!(
        a.key_type.is_none() || a.shardkey.is_some(),
        "--key-type goes with --shardkey"
    );
    let kind = match (a.shardkey, a.broadcast, a.single) {
        (Some(key), false, false) => {
            ensure!(!key.trim().is_empty(), "--shardkey needs a column name");
            TableKind::Sharded {
                key: key.trim().to_string(),
                key_type: a.key_type.map(Into::into).unwrap_or_default(),
            }
        }
        (None, true, false) => TableKind::Broadcast,
        (None, false, true) => TableKind::Single,
        _ => bail!("give exactly one of --shardkey COL, --broadcast, --single"),
    };
    Ok(TableRecord {
        db: db.to_string(),
        name: name.to_string(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Cli;
    use clap::Parser;
    use topo::{KeyType, Role};

    fn action(args: &[&str]) -> Result<Action> {
        let mut argv = vec!["setwise"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| anyhow!("{e}"))?;
        Action::from_command(cli.command)
    }

    #[test]
    fn set_and_node() {
        assert_eq!(
            action(&[
                "set",
                "add",
                "set1",
                "--sync",
                "semi",
                "--semi-timeout-ms",
                "500"
            ])
            .unwrap(),
            Action::SetAdd {
                name: "set1".into(),
                sync: Some(SyncMode::Semi),
                semi_timeout_ms: Some(500),
            }
        );
        assert_eq!(
            action(&["set", "add", "set1"]).unwrap(),
            Action::SetAdd {
                name: "set1".into(),
                sync: None,
                semi_timeout_ms: None,
            }
        );
        assert!(action(&["set", "add", "a/b"]).is_err());
        assert!(action(&["set", "add", "s", "--sync", "maybe"]).is_err());
        assert_eq!(
            action(&["switchover", "--set", "set1", "--to", "set1-n2"]).unwrap(),
            Action::Switchover {
                set: "set1".into(),
                to: Some("set1-n2".into()),
                wait_secs: 60,
            }
        );
        assert!(action(&["switchover", "--set", "set1", "--wait", "0"]).is_err());
        assert!(action(&["switchover"]).is_err());
        let a = action(&[
            "node",
            "add",
            "set1-n0",
            "--set",
            "set1",
            "--addr",
            "127.0.0.1:3310",
            "--role",
            "primary",
        ])
        .unwrap();
        assert_eq!(
            a,
            Action::NodeAdd(NodeRecord {
                id: "set1-n0".into(),
                set: "set1".into(),
                host: "127.0.0.1".into(),
                port: 3310,
                role: Role::Primary,
                rejoin: None,
            })
        );
        assert!(
            action(&["node", "add", "n", "--set", "s", "--addr", "h", "--role", "replica"])
                .is_err()
        );
        assert!(action(&["node", "add", "n", "--set", "s", "--addr", "h:1"]).is_err());
    }

    #[test]
    fn addresses_and_hosts() {
        assert_eq!(parse_addr("db1:3306").unwrap(), ("db1".into(), 3306));
        assert_eq!(parse_addr("[::1]:3306").unwrap(), ("::1".into(), 3306));
        assert!(parse_addr(":3306").is_err());
        assert!(parse_addr("h:99999").is_err());
        assert!(parse_addr("h:0").is_err());
        assert_eq!(
            parse_host("127.0.0.0/8").unwrap().to_string(),
            "127.0.0.0/8"
        );
        assert_eq!(parse_host("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_host("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(parse_host("::1").unwrap().to_string(), "::1/128");
        assert!(parse_host("localhost").is_err());
    }

    #[test]
    fn db_add_args() {
        let a = action(&[
            "db",
            "add",
            "user_db",
            "--sets",
            "set1,set2",
            "--slots",
            "64",
        ])
        .unwrap();
        let Action::DbAdd(d) = a else { panic!() };
        assert_eq!(d.sets, vec!["set1", "set2"]);
        assert_eq!(d.home, None);
        assert_eq!(d.slots, Some(64));
        let r = d.fresh_record();
        assert_eq!(r.home_set, "set1");
        assert_eq!(r.shard_map.ranges.len(), 2);
        assert_eq!(r.shard_map.ranges[1].start, 32);
        assert!(action(&["db", "add", "d", "--sets", "a,a"]).is_err());
        assert!(action(&["db", "add", "d", "--sets", "a,b", "--home", "c"]).is_err());
        assert!(action(&["db", "add", "d", "--sets", "a,b", "--slots", "1"]).is_err());
        assert!(action(&["db", "add", "d"]).is_err());
    }

    #[test]
    fn table_and_user() {
        assert_eq!(
            action(&[
                "table",
                "set",
                "db.t",
                "--shardkey",
                "uid",
                "--key-type",
                "text"
            ])
            .unwrap(),
            Action::TableSet(TableRecord {
                db: "db".into(),
                name: "t".into(),
                kind: TableKind::Sharded {
                    key: "uid".into(),
                    key_type: KeyType::Text
                }
            })
        );
        let Action::TableSet(t) = action(&["table", "set", "db.t", "--broadcast"]).unwrap() else {
            panic!()
        };
        assert_eq!(t.kind, TableKind::Broadcast);
        assert!(action(&["table", "set", "db.t"]).is_err());
        assert!(action(&["table", "set", "db.t", "--single", "--broadcast"]).is_err());
        assert!(action(&["table", "set", "dbt", "--single"]).is_err());
        assert!(action(&["table", "set", "db.t", "--single", "--key-type", "text"]).is_err());
        assert_eq!(action(&["table", "list"]).unwrap(), Action::TableList(None));

        let Action::UserAdd(u, false, false, false) = action(&[
            "user",
            "add",
            "app",
            "--password",
            "app",
            "--host",
            "127.0.0.0/8",
            "--host",
            "10.0.0.5",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(u.password_hash, "*5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3");
        assert_eq!(u.hosts.len(), 2);
        assert_eq!(u.reads, topo::Reads::Primary);
        assert!(!u.require_ssl);
        let Action::UserAdd(u, true, true, true) = action(&[
            "user",
            "add",
            "ro",
            "--password",
            "ro",
            "--reads",
            "replica",
            "--require",
            "ssl",
            "--admin",
            "yes",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(u.reads, topo::Reads::Replica);
        assert!(u.require_ssl);
        assert!(u.admin);
        assert_eq!(
            action(&["user", "reads", "ro", "primary"]).unwrap(),
            Action::UserReads("ro".into(), topo::Reads::Primary)
        );
        assert!(action(&["user", "add", "app", "--password", "x", "--host", "nope"]).is_err());
        assert_eq!(
            action(&["user", "del", "app"]).unwrap(),
            Action::UserDel("app".into())
        );
    }
}
