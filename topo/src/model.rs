//! The records Setwise keeps in etcd, as serde types (stored as JSON).
//!
//! Every record is forward compatible: unknown fields are ignored and new fields
//! carry `#[serde(default)]`, so an older program can read a newer record.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Default number of hash slots in a shard map.
pub const DEFAULT_SLOTS: u32 = 1024;

/// A set: one primary and its replicas holding the same data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRecord {
    pub name: String,
    /// Replication durability the set runs with.
    #[serde(default)]
    pub sync: SyncMode,
    /// Routing epoch: bumped whenever the set's primary changes (fencing). A gateway
    /// transaction that began under an older epoch cannot commit.
    #[serde(default)]
    pub epoch: u64,
    /// `semi` mode: how long a commit waits for a replica's acknowledgement before the
    /// primary falls back to asynchronous replication (ms).
    #[serde(default = "default_semi_timeout_ms")]
    pub semi_timeout_ms: u64,
    /// Set by the scheduler while the gateway must refuse writes to the set (a `strong`
    /// set whose primary has no replica to acknowledge commits); the text says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes_blocked: Option<String>,
    /// Set by the scheduler while a `semi` set runs without acknowledgements (its
    /// primary fell back to async); `setwise status` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<Degradation>,
}

impl SetRecord {
    /// A new set with the defaults (strong sync, epoch 0).
    pub fn new(name: &str, sync: SyncMode) -> Self {
        Self {
            name: name.to_string(),
            sync,
            epoch: 0,
            semi_timeout_ms: default_semi_timeout_ms(),
            writes_blocked: None,
            degraded: None,
        }
    }
}

fn default_semi_timeout_ms() -> u64 {
    10_000
}

/// Since when and why a set runs with weaker durability than configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Degradation {
    /// Unix time, milliseconds.
    pub since_ms: u64,
    pub reason: String,
}

/// How a set's primary acknowledges commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// Semi-sync AFTER_SYNC, never falls back to async: no live replica means no writes.
    #[default]
    Strong,
    /// Semi-sync that falls back to async after a timeout (recorded as a degradation).
    Semi,
    /// Plain asynchronous replication.
    Async,
}

/// One MariaDB instance of a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Unique node id, e.g. `set1-n1`.
    pub id: String,
    pub set: String,
    pub host: String,
    pub port: u16,
    pub role: Role,
    /// Set on an old primary by a failover: before it may replicate again it must be
    /// checked against the new primary, and rejoined or rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejoin: Option<Rejoin>,
}

/// What a returning old primary is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejoin {
    /// The node promoted in its place.
    pub new_primary: String,
    /// `@@gtid_current_pos` of the new primary when it was promoted: the old
    /// primary's binlog must be contained in it, else the old primary holds
    /// transactions nobody acknowledged and is rebuilt.
    pub promoted_gtid: String,
    /// Unix time of the failover, milliseconds.
    pub since_ms: u64,
    /// Demoted by a switchover (it was healthy and is made read-only by a task,
    /// its sessions left to finish) rather than by a failover (it was hung or dead:
    /// when it is seen writable again its agent ends every client session).
    #[serde(default)]
    pub planned: bool,
}

impl NodeRecord {
    /// A node in service (no pending rejoin).
    pub fn new(id: &str, set: &str, host: &str, port: u16, role: Role) -> Self {
        Self {
            id: id.to_string(),
            set: set.to_string(),
            host: host.to_string(),
            port,
            role,
            rejoin: None,
        }
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
}

/// A logical database and where its rows live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseRecord {
    pub name: String,
    /// Set holding the database's single (unsharded) tables.
    pub home_set: String,
    pub shard_map: ShardMap,
}

impl DatabaseRecord {
    /// Every set the database has data on (home set first, then shard-map order).
    pub fn sets(&self) -> Vec<String> {
        let mut out = vec![self.home_set.clone()];
        for s in self.shard_map.sets() {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

/// Hash slots `0..slots`, each owned by one set, kept as contiguous ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    pub slots: u32,
    /// Sorted, non-overlapping ranges that cover `0..slots` exactly.
    pub ranges: Vec<SlotRange>,
    /// Bumped by every change to the map.
    #[serde(default)]
    pub version: u64,
}

/// Slots `start..end` (end exclusive) owned by `set`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRange {
    pub start: u32,
    pub end: u32,
    pub set: String,
}

impl ShardMap {
    /// Slots split evenly, in order, over `sets`.
    pub fn even(slots: u32, sets: &[String]) -> Self {
        assert!(!sets.is_empty() && slots as usize >= sets.len());
        let n = sets.len() as u32;
        let ranges = sets
            .iter()
            .enumerate()
            .map(|(i, s)| SlotRange {
                start: slots * i as u32 / n,
                end: slots * (i as u32 + 1) / n,
                set: s.clone(),
            })
            .collect();
        Self {
            slots,
            ranges,
            version: 1,
        }
    }

    /// The sets owning slots, each once, in map order.
    pub fn sets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in &self.ranges {
            if !out.contains(&r.set) {
                out.push(r.set.clone());
            }
        }
        out
    }

    /// The set owning `slot`.
    pub fn set_of_slot(&self, slot: u32) -> Option<&str> {
        let i = self.ranges.partition_point(|r| r.end <= slot);
        self.ranges
            .get(i)
            .filter(|r| r.start <= slot && slot < r.end)
            .map(|r| r.set.as_str())
    }

    /// Checks the ranges are sorted, contiguous and cover `0..slots`.
    pub fn validate(&self) -> Result<(), String> {
        if self.slots == 0 {
            return Err("slot count is 0".into());
        }
        let mut next = 0;
        for r in &self.ranges {
            if r.start != next || r.end <= r.start {
                return Err(format!(
                    "range {}..{} does not follow {next}",
                    r.start, r.end
                ));
            }
            next = r.end;
        }
        if next != self.slots {
            return Err(format!("ranges end at {next}, not at {}", self.slots));
        }
        Ok(())
    }
}

/// A table's placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRecord {
    pub db: String,
    pub name: String,
    pub kind: TableKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TableKind {
    /// Rows spread over the shard map by `slot(key)`.
    Sharded {
        key: String,
        #[serde(default)]
        key_type: KeyType,
    },
    /// A full copy in every set of the database.
    Broadcast,
    /// Lives on the database's home set only.
    Single,
}

/// How a shard-key value is normalised before hashing (see [`crate::slot`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// Integer column: `'007'`, `7` and `7.0` hash alike.
    #[default]
    Integer,
    /// String column hashed by its lower-cased text (tables created before
    /// [`KeyType::Weighted`]): values MariaDB finds equal beyond case (`'a' = 'Ä'`)
    /// can hash apart, so the gateway routes only printable-ASCII values of such a
    /// key to one set (reads of others go to every set, writes are refused).
    Text,
    /// Binary string (BINARY, VARBINARY, BLOB): hashed byte for byte.
    Binary,
    /// String column hashed by the weights of its value in the column's collation
    /// (MariaDB collation `id`; `pad`: PAD SPACE), see [`crate::weights`]. Every
    /// text key of a table created since; [`KeyType::Text`] is the older hashing.
    Weighted { collation: u16, pad: bool },
}

impl KeyType {
    /// A string column's key (compared by MariaDB as text, and numerically
    /// with a number).
    pub fn is_text(self) -> bool {
        matches!(self, Self::Text | Self::Weighted { .. })
    }
}

/// A gateway user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// `mysql_native_password` hash, `*` + 40 upper-case hex digits (as in `mysql.user`).
    pub password_hash: String,
    /// Networks the user may connect from; empty means anywhere.
    #[serde(default)]
    pub hosts: Vec<IpNet>,
    /// Where the gateway sends this user's plain reads outside transactions
    /// (`setwise user add ... --reads replica`). Records written before the
    /// field existed read as [`Reads::Primary`].
    #[serde(default, skip_serializing_if = "Reads::is_primary")]
    pub reads: Reads,
    /// MariaDB's `REQUIRE SSL`: the gateway refuses this user over a plain
    /// connection (1045), as MariaDB does (`setwise user add ... --require ssl`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_ssl: bool,
    /// The gateway's own administrative privilege, MariaDB's `RELOAD`:
    /// `SHOW SETWISE DIGESTS RESET` (`setwise user add ... --admin yes`).
    /// Without it `SHOW GRANTS` lists every privilege but `RELOAD`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
}

/// Where a user's plain reads go by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Reads {
    /// Every statement goes to the sets' primaries.
    #[default]
    Primary,
    /// Plain reads outside transactions go to a fit replica (read/write split).
    Replica,
}

impl Reads {
    pub fn is_primary(&self) -> bool {
        *self == Reads::Primary
    }

    /// `primary` / `replica`.
    pub fn word(&self) -> &'static str {
        match self {
            Reads::Primary => "primary",
            Reads::Replica => "replica",
        }
    }
}

impl UserRecord {
    pub fn host_allowed(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.hosts.is_empty() || self.hosts.iter().any(|n| n.contains(&ip))
    }
}

/// The outcome of a distributed (XA) transaction, recorded before its second phase.
/// Whoever creates the record first decides: a gateway committing, or a recovery
/// aborting a branch left prepared by a gateway that died.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XaDecision {
    pub gtrid: String,
    pub commit: bool,
    /// Sets holding a branch (bqual = set name).
    #[serde(default)]
    pub sets: Vec<String>,
    /// Unix time of the decision, milliseconds.
    #[serde(default)]
    pub at_ms: u64,
}

/// A transaction the application prepared through a gateway (`XA PREPARE xid`):
/// its branches stay prepared on the sets until the application's `XA COMMIT` or
/// `XA ROLLBACK` (from any session of any gateway) or a DBA's. Created once per
/// xid (a second prepare of the same xid is MariaDB's XAER_DUPID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppXaRecord {
    /// The application's xid: `format.hex(gtrid).hex(bqual)` (`_` for an empty bqual).
    pub xid: String,
    /// The gateway's gtrid of the branches; each set's branch is `'gtrid','set'`.
    pub gtrid: String,
    /// Sets holding a prepared branch.
    #[serde(default)]
    pub sets: Vec<String>,
    /// Unix time of the prepare, milliseconds.
    #[serde(default)]
    pub at_ms: u64,
}

/// What an agent last saw of its node; kept under the agent's lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct HealthReport {
    pub node: String,
    pub set: String,
    /// Unix time of the probe, milliseconds.
    pub at_ms: u64,
    pub readable: bool,
    pub writable: bool,
    pub read_only: Option<bool>,
    /// Last probe error, if any.
    pub error: Option<String>,
    pub gtid_current_pos: Option<String>,
    pub slave_io_running: Option<bool>,
    pub slave_sql_running: Option<bool>,
    pub seconds_behind_master: Option<u64>,
    pub last_error: Option<String>,
    /// `@@gtid_binlog_pos`: what this node has written to its own binlog.
    pub gtid_binlog_pos: Option<String>,
    /// `Gtid_IO_Pos` of `SHOW SLAVE STATUS`: what a replica has received (relay log),
    /// applied or not. Failover elects the replica with the most advanced one.
    pub gtid_io_pos: Option<String>,
    /// `host:port` this node replicates from (`Master_Host:Master_Port`).
    pub master: Option<String>,
    /// `Rpl_semi_sync_master_status`: a primary waits for acknowledgements (ON) or
    /// has fallen back to async (OFF). None on a node without semi-sync master enabled.
    pub semi_sync_master: Option<bool>,
    /// `Rpl_semi_sync_master_clients`: replicas connected that acknowledge commits.
    pub semi_sync_clients: Option<u64>,
    /// Transactions this node lacks compared with its set's primary (per-domain
    /// sequence-number difference, summed); None when unknown.
    pub gap_trx: Option<u64>,
    /// How long (ms) the replication SQL thread has applied nothing while received
    /// transactions wait for it (a replica's applier stuck behind a lock, e.g. a
    /// prepared XA branch's); None when it applies, or has nothing to apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_stalled_ms: Option<u64>,
    /// CPU used by the mariadbd process since the previous probe, percent of one core.
    pub cpu_pct: Option<f64>,
    /// Bytes used by the datadir.
    pub datadir_bytes: Option<u64>,
    /// The agent saw the mariadbd process stopped by the kernel (`/proc/<pid>/stat`
    /// state `T`: SIGSTOP, a frozen VM's process, a debugger): it cannot answer, and
    /// no timeout needs to pass to know it.
    pub frozen: bool,
    /// The MariaDB address the agent probes (`HOST:PORT` of its `--mysql-addr`):
    /// `setwise node add` / `set create` find a node's agent by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `HOST:PORT` where the agent serves physical backups of its node
    /// (`mariadb-backup --stream`) to a rebuilding node's agent; None: it serves none
    /// (docs/rebuild.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_addr: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_map_covers_all_slots() {
        let m = ShardMap::even(1024, &["a".into(), "b".into(), "c".into()]);
        m.validate().unwrap();
        assert_eq!(m.set_of_slot(0), Some("a"));
        assert_eq!(m.set_of_slot(341), Some("b"));
        assert_eq!(m.set_of_slot(1023), Some("c"));
        assert_eq!(m.set_of_slot(1024), None);
    }

    #[test]
    fn table_kind_json() {
        let k = TableKind::Sharded {
            key: "user_id".into(),
            key_type: KeyType::Integer,
        };
        let j = serde_json::to_string(&k).unwrap();
        assert_eq!(
            j,
            r#"{"kind":"sharded","key":"user_id","key_type":"integer"}"#
        );
        let b: TableKind = serde_json::from_str(r#"{"kind":"broadcast"}"#).unwrap();
        assert_eq!(b, TableKind::Broadcast);
    }

    #[test]
    fn user_reads_default_for_old_records() {
        let old: UserRecord =
            serde_json::from_str(r#"{"name":"app","password_hash":"","hosts":[]}"#).unwrap();
        assert_eq!(old.reads, Reads::Primary);
        let j = serde_json::to_string(&old).unwrap();
        assert!(!j.contains("reads"), "{j}");
        let r = UserRecord {
            reads: Reads::Replica,
            ..old
        };
        let j = serde_json::to_string(&r).unwrap();
        assert!(j.contains(r#""reads":"replica""#), "{j}");
        let back: UserRecord = serde_json::from_str(&j).unwrap();
        assert_eq!(back.reads, Reads::Replica);
        assert!(!j.contains("require_ssl") && !back.require_ssl, "{j}");
        assert!(!j.contains("admin") && !back.admin, "{j}");
    }

    #[test]
    fn host_networks() {
        let u = UserRecord {
            name: "app".into(),
            password_hash: String::new(),
            hosts: vec!["127.0.0.0/8".parse().unwrap()],
            reads: Reads::Primary,
            require_ssl: false,
            admin: false,
        };
        assert!(u.host_allowed("127.0.0.1".parse().unwrap()));
        assert!(u.host_allowed("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!u.host_allowed("10.0.0.1".parse().unwrap()));
    }
}
