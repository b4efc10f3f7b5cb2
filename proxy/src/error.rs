//! Every error the gateway can send a client, and its MySQL code and SQLSTATE —
//! mapped in this one place.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProxyError {
    #[error("Access denied for user '{user}'@'{host}' (using password: {})", if *.using_password { "YES" } else { "NO" })]
    AccessDenied {
        user: String,
        host: String,
        using_password: bool,
    },
    /// ER_SPECIFIC_ACCESS_DENIED_ERROR: the user lacks `privilege` (e.g.
    /// `RELOAD`, `SHOW SETWISE DIGESTS RESET`), as MariaDB words it.
    #[error("Access denied; you need (at least one of) the {0} privilege(s) for this operation")]
    PrivilegeNeeded(&'static str),
    #[error("Unknown database '{0}'")]
    UnknownDatabase(String),
    #[error("No database selected")]
    NoDatabaseSelected,
    #[error("Can't create database '{0}'; database exists")]
    DatabaseExists(String),
    /// ER_WRONG_DB_NAME, as MariaDB words it.
    #[error("Incorrect database name '{0}'")]
    WrongDbName(String),
    /// ER_WRONG_TABLE_NAME, as MariaDB words it.
    #[error("Incorrect table name '{0}'")]
    WrongTableName(String),
    #[error("This version of Setwise doesn't yet support '{0}'")]
    NotSupported(String),
    #[error("You have an error in your SQL syntax; {0}")]
    Syntax(String),
    #[error("Set '{set}' is unavailable: {detail} (retry later)")]
    SetUnavailable { set: String, detail: String },
    #[error("Lost connection to set '{set}' during the query: {detail}")]
    BackendLost { set: String, detail: String },
    /// The scheduler blocked writes to the set (`SetRecord::writes_blocked`).
    #[error("Set '{set}' refuses writes: {reason}")]
    WritesBlocked { set: String, reason: String },
    /// The set's primary changed (its routing epoch moved) during a transaction:
    /// the transaction was rolled back and must be retried.
    #[error("The primary of set '{set}' changed during the transaction (failover or switchover): it was rolled back on every set; try restarting transaction")]
    Fenced { set: String },
    /// An error MariaDB itself returned: passed through unchanged.
    #[error("{message}")]
    Backend {
        code: u16,
        state: String,
        message: String,
    },
    /// A DDL task that failed for no set's error (cancelled, held back by a
    /// half-applied task) or did not finish within `[ddl] wait_ms`.
    #[error("{0}")]
    DdlTask(String),
    #[error("Unknown command")]
    UnknownCommand,
    /// ER_NEED_REPREPARE: an SQL-level prepared statement pinned to one set
    /// whose tables no longer all live there (a slot move flipped).
    #[error("Prepared statement needs to be re-prepared")]
    NeedReprepare,
    /// ER_MALFORMED_PACKET: a command shorter than its fixed part.
    #[error("Malformed communication packet")]
    MalformedPacket,
    /// ER_NET_PACKETS_OUT_OF_ORDER: a command packet with a sequence id other
    /// than 0 (the connection is closed after it, as MariaDB does).
    #[error("Got packets out of order")]
    PacketsOutOfOrder,
    /// ER_HANDSHAKE_ERROR: a handshake response that cannot be read.
    #[error("Bad handshake")]
    BadHandshake,
    /// ER_WRONG_ARGUMENTS for a protocol command (`mysqld_stmt_execute`):
    /// parameters that cannot be decoded, as MariaDB words it.
    #[error("Incorrect arguments to {0}")]
    WrongArguments(&'static str),
    /// ER_WRONG_ARGUMENTS for EXECUTE: a wrong number of values, or a negative
    /// LIMIT value, as MariaDB words it.
    #[error("Incorrect arguments to EXECUTE")]
    ExecuteArguments,
    /// ER_UNKNOWN_STMT_HANDLER: `to` is `EXECUTE` or `DEALLOCATE PREPARE`.
    #[error("Unknown prepared statement handler ({name}) given to {to}")]
    UnknownStatement { name: String, to: &'static str },
    /// XAER_RMFAIL: a statement not allowed in this state (`ACTIVE`, `IDLE`,
    /// `PREPARED`) of the application's XA transaction, as MariaDB words it.
    #[error(
        "XAER_RMFAIL: The command cannot be executed when global transaction is in the  {0} state"
    )]
    XaState(&'static str),
    /// XAER_NOTA: no such XA transaction.
    #[error("XAER_NOTA: Unknown XID")]
    XaUnknown,
    /// XAER_OUTSIDE: XA commands on another xid than the session's own.
    #[error("XAER_OUTSIDE: Some work is done outside global transaction")]
    XaOutside,
    /// XAER_INVAL: `XA COMMIT ... ONE PHASE` of a prepared transaction.
    #[error("XAER_INVAL: Invalid arguments (or unsupported command)")]
    XaInvalid,
    /// XAER_DUPID: the xid is prepared already.
    #[error("XAER_DUPID: The XID already exists")]
    XaDuplicate,
    /// A slot move holds what the statement needs (a write to its slots, a
    /// schema change of its database) longer than the gateway waits
    /// (ER_LOCK_WAIT_TIMEOUT, `crate::moving`).
    #[error("Lock wait timeout exceeded; try restarting transaction ({0})")]
    MoveWait(String),
    /// A slot move's hold ended the transaction, which had written rows of the
    /// moving slots (ER_LOCK_DEADLOCK: retried as a whole by clients).
    #[error("Deadlock found when trying to get lock; try restarting transaction (slot move {0} needed the rows this transaction wrote: it was rolled back on every set)")]
    MoveAborted(String),
    /// The statement waited in a cycle of lock waits through several sets
    /// (`crate::deadlock`) and its transaction was chosen to end it: rolled
    /// back on every set, as MariaDB answers a deadlock on one server.
    #[error("Deadlock found when trying to get lock; try restarting transaction")]
    Deadlock,
    #[error("Routing is not available yet: {0}")]
    NoRouting(String),
    /// Something that must be recorded in etcd while etcd cannot be reached.
    #[error("etcd is unreachable: {0}")]
    EtcdUnavailable(String),
    #[error("{0}")]
    Internal(String),
    /// The planner needs the column order of `db.table` (an INSERT without a
    /// column list); the session looks it up and plans again. Never sent.
    #[error("column list of `{db}`.`{table}` is needed")]
    NeedColumns { db: String, table: String },
    /// The planner needs the weights of a text shard key's collation to place a
    /// written value (`topo::weights`); the session loads them from `set` and
    /// plans again. Never sent.
    #[error("the weights of collation id {collation} are needed")]
    NeedWeights { collation: u16, set: String },
    /// An UPDATE/DELETE with LIMIT on rows of several sets: the session chooses
    /// the rows first (`session::limited`); sent only where it cannot.
    #[error("This version of Setwise doesn't yet support 'UPDATE/DELETE with LIMIT on rows of several sets here'")]
    WriteLimitAcrossSets,
    /// An INSERT ... SELECT into a table whose rows the gateway places: the
    /// session reads the SELECT first (`session::insert_select`); sent only
    /// where it cannot.
    #[error(
        "This version of Setwise doesn't yet support 'INSERT ... SELECT into a sharded table here'"
    )]
    InsertSelect,
    /// A cross-set join or subquery needs more rows held in the gateway than
    /// `[join] memory_limit` allows (ER_OUT_OF_RESOURCES).
    #[error("Out of memory: the gateway holds at most {} of rows for {what} ([join] memory_limit); add a WHERE that narrows the tables or pins their shard keys", if limit % (1 << 20) == 0 { format!("{} MiB", limit >> 20) } else { format!("{} KiB", limit >> 10) })]
    JoinMemory { what: String, limit: usize },
    /// ER_CANT_AGGREGATE_2COLLATIONS: the join keys of a join across sets are
    /// strings of two collations MariaDB does not aggregate (each `(name,
    /// derivation)`, as MariaDB words them).
    #[error("Illegal mix of collations ({}) and ({}) for operation '='", .0, .1)]
    CollationMix(String, String),
    /// ER_CON_COUNT_ERROR: `[limits] max_connections` (or the per-address
    /// limit) reached; sent in place of the handshake, as MariaDB does.
    #[error("Too many connections")]
    TooManyConnections,
    /// ER_TOO_MANY_USER_CONNECTIONS: `[limits] max_user_connections` reached.
    #[error("User {0} already has more than 'max_user_connections' active connections")]
    TooManyUserConnections(String),
    /// ER_NET_PACKET_TOO_LARGE: a client packet over `[limits] max_allowed_packet`.
    #[error("Got a packet bigger than 'max_allowed_packet' bytes")]
    PacketTooLarge,
    /// ER_WRONG_TYPE_FOR_VAR: a session variable the gateway keeps itself set
    /// to a value of the wrong type.
    #[error("Incorrect argument type to variable '{0}'")]
    WrongTypeForVar(String),
    /// ER_ILLEGAL_REFERENCE: an ORDER BY expression naming the alias of an
    /// aggregate select item (`ORDER BY c + 0` for `COUNT(*) c`), as MariaDB
    /// words it.
    #[error("Reference '{0}' not supported (reference to group function)")]
    GroupFunctionReference(String),
    /// ER_TABLE_NOT_LOCKED: a table the session's `LOCK TABLES` did not lock
    /// (its name or alias as the statement wrote it), as MariaDB words it.
    #[error("Table '{0}' was not locked with LOCK TABLES")]
    TableNotLocked(String),
    /// ER_LOCK_OR_ACTIVE_TRANSACTION: `FLUSH TABLES WITH READ LOCK` while the
    /// session holds table locks, as MariaDB words it.
    #[error("Can't execute the given command because you have active locked tables or an active transaction")]
    LockedTables,
    /// ER_CANT_UPDATE_WITH_READLOCK: a schema change while the session holds
    /// `FLUSH TABLES WITH READ LOCK`, as MariaDB words it.
    #[error("Can't execute the query because you have a conflicting read lock")]
    ReadLockHeld,
    /// The client's own connection broke while answering: nothing more can be sent.
    #[error("client connection: {0}")]
    ClientIo(#[from] std::io::Error),
}

impl ProxyError {
    /// The MySQL error code.
    pub fn code(&self) -> u16 {
        match self {
            Self::AccessDenied { .. } => 1045,
            Self::PrivilegeNeeded(_) => 1227,
            Self::UnknownDatabase(_) => 1049,
            Self::NoDatabaseSelected => 1046,
            Self::DatabaseExists(_) => 1007,
            Self::WrongDbName(_) => 1102,
            Self::WrongTableName(_) => 1103,
            Self::NotSupported(_) | Self::WriteLimitAcrossSets | Self::InsertSelect => 1235,
            Self::Syntax(_) => 1064,
            // ER_UNKNOWN_ERROR with SQLSTATE class 08 (connection exception), which
            // drivers classify as transient. Client-side codes (2003, 2013) must not be
            // sent by a server: libmariadb reports them as a malformed packet.
            Self::SetUnavailable { .. }
            | Self::NoRouting(_)
            | Self::EtcdUnavailable(_)
            | Self::BackendLost { .. } => 1105,
            Self::DdlTask(_) => 1105,
            Self::Backend { code, .. } => *code,
            // ER_OPTION_PREVENTS_STATEMENT, as a read-only server answers a write.
            Self::WritesBlocked { .. } => 1290,
            // ER_LOCK_DEADLOCK / 40001: what clients and ORMs retry as a whole.
            Self::Fenced { .. } | Self::MoveAborted(_) | Self::Deadlock => 1213,
            Self::MoveWait(_) => 1205,
            Self::UnknownCommand => 1047,
            Self::NeedReprepare => 1615,
            Self::MalformedPacket => 1835,
            Self::BadHandshake => 1043,
            Self::PacketsOutOfOrder => 1156,
            Self::WrongArguments(_) => 1210,
            Self::ExecuteArguments => 1210,
            Self::UnknownStatement { .. } => 1243,
            Self::XaState(_) => 1399,
            Self::XaUnknown => 1397,
            Self::XaOutside => 1400,
            Self::XaDuplicate => 1440,
            Self::XaInvalid => 1398,
            Self::JoinMemory { .. } => 1041,
            Self::CollationMix(..) => 1267,
            Self::TooManyConnections => 1040,
            Self::TooManyUserConnections(_) => 1203,
            Self::PacketTooLarge => 1153,
            Self::WrongTypeForVar(_) => 1232,
            Self::TableNotLocked(_) => 1100,
            Self::GroupFunctionReference(_) => 1247,
            Self::LockedTables => 1192,
            Self::ReadLockHeld => 1223,
            Self::Internal(_)
            | Self::ClientIo(_)
            | Self::NeedColumns { .. }
            | Self::NeedWeights { .. } => 1105,
        }
    }

    /// The five-character SQLSTATE.
    pub fn sqlstate(&self) -> &str {
        match self {
            Self::AccessDenied { .. } => "28000",
            Self::PrivilegeNeeded(_) => "42000",
            Self::TooManyConnections => "08004",
            Self::PacketTooLarge => "08S01",
            Self::TooManyUserConnections(_) | Self::WrongTypeForVar(_) => "42000",
            Self::UnknownDatabase(_)
            | Self::NotSupported(_)
            | Self::WriteLimitAcrossSets
            | Self::InsertSelect
            | Self::Syntax(_)
            | Self::WrongDbName(_)
            | Self::WrongTableName(_) => "42000",
            Self::NoDatabaseSelected => "3D000",
            Self::GroupFunctionReference(_) => "42S22",
            Self::DatabaseExists(_)
            | Self::Internal(_)
            | Self::ClientIo(_)
            | Self::NeedColumns { .. }
            | Self::NeedWeights { .. }
            | Self::ExecuteArguments
            | Self::MalformedPacket
            | Self::WrongArguments(_)
            | Self::UnknownStatement { .. }
            | Self::JoinMemory { .. }
            | Self::CollationMix(..)
            | Self::MoveWait(_)
            | Self::NeedReprepare
            | Self::DdlTask(_)
            | Self::TableNotLocked(_)
            | Self::LockedTables
            | Self::ReadLockHeld
            | Self::WritesBlocked { .. } => "HY000",
            Self::Fenced { .. } | Self::MoveAborted(_) | Self::Deadlock => "40001",
            Self::XaState(_) => "XAE07",
            Self::XaUnknown => "XAE04",
            Self::XaOutside => "XAE09",
            Self::XaDuplicate => "XAE08",
            Self::XaInvalid => "XAE05",
            Self::SetUnavailable { .. }
            | Self::NoRouting(_)
            | Self::EtcdUnavailable(_)
            | Self::BackendLost { .. } => "08S01",
            Self::UnknownCommand | Self::BadHandshake | Self::PacketsOutOfOrder => "08S01",
            Self::Backend { state, .. } => state,
        }
    }

    /// Maps an etcd-side failure of recording `doing` (a schema change, ...)
    /// to what the client sees: only a failure to reach etcd is "etcd is
    /// unreachable"; a name the records cannot hold is MariaDB's name error.
    pub fn from_topo(doing: &str, e: topo::TopoError) -> Self {
        use topo::TopoError as T;
        match e {
            T::Etcd(_) | T::Unreachable { .. } => {
                Self::EtcdUnavailable(format!("{doing} failed: {e}"))
            }
            T::Invalid { what: "table", why } => Self::WrongTableName(why),
            T::Invalid {
                what: "database",
                why,
            } => Self::WrongDbName(why),
            other => Self::Internal(format!("{doing} failed: {other}")),
        }
    }

    /// Maps a backend (mysql_async) error on `set` to what the client sees.
    pub fn from_backend(set: &str, e: mysql_async::Error) -> Self {
        match e {
            mysql_async::Error::Server(s) => Self::Backend {
                code: s.code,
                state: s.state,
                message: s.message,
            },
            mysql_async::Error::Io(mysql_async::IoError::Io(io)) => Self::BackendLost {
                set: set.into(),
                detail: io.to_string(),
            },
            other => Self::BackendLost {
                set: set.into(),
                detail: other.to_string(),
            },
        }
    }
}

pub type Result<T, E = ProxyError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topo_failures_by_kind() {
        let invalid = topo::TopoError::Invalid {
            what: "table",
            why: "\"\": empty".into(),
        };
        let e = ProxyError::from_topo("recording the schema change", invalid);
        assert_eq!((e.code(), e.sqlstate()), (1103, "42000"));
        let cas = topo::TopoError::CasConflict { key: "k".into() };
        let e = ProxyError::from_topo("recording the schema change", cas);
        assert!(!matches!(e, ProxyError::EtcdUnavailable(_)));
        let e = ProxyError::WrongDbName("a ".into());
        assert_eq!(
            (e.code(), e.sqlstate(), e.to_string().as_str()),
            (1102, "42000", "Incorrect database name 'a '")
        );
    }

    #[test]
    fn codes_and_messages() {
        let e = ProxyError::AccessDenied {
            user: "app".into(),
            host: "127.0.0.1".into(),
            using_password: true,
        };
        assert_eq!((e.code(), e.sqlstate()), (1045, "28000"));
        assert_eq!(
            e.to_string(),
            "Access denied for user 'app'@'127.0.0.1' (using password: YES)"
        );
        let e = ProxyError::UnknownDatabase("x".into());
        assert_eq!(
            (e.code(), e.sqlstate(), e.to_string().as_str()),
            (1049, "42000", "Unknown database 'x'")
        );
        let e = ProxyError::WritesBlocked {
            set: "set1".into(),
            reason: "no replica acknowledges commits".into(),
        };
        assert_eq!(
            (e.code(), e.sqlstate(), e.to_string().as_str()),
            (
                1290,
                "HY000",
                "Set 'set1' refuses writes: no replica acknowledges commits"
            )
        );
        let e = ProxyError::Fenced { set: "set1".into() };
        assert_eq!((e.code(), e.sqlstate()), (1213, "40001"));
        assert!(e.to_string().contains("primary of set 'set1' changed"));
    }
}
