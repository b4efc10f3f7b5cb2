//! The front: the server side of the MySQL protocol, built on `mysql_common`.
//!
//! [`serve`] runs one client connection: handshake and authentication
//! ([`handshake`]), then the command loop ([`conn`]). What each command *means* is
//! the [`Handler`]'s business (the gateway's session); the front only speaks the
//! protocol. Column definitions from MariaDB pass through byte for byte
//! (`mysql_common::packets::Column` serialized as received).
//!
//! Why not opensrv-mysql: its latest release (0.7.0) has a use-after-free on
//! pipelined commands, hard-coded column definitions, COM_CHANGE_USER accepted
//! without authentication and status flags always 0 (docs/front.md). The
//! [`Handler`] trait is the seam: a fixed opensrv-mysql could drive the same handler.

pub mod account;
pub mod binary;
pub mod charset;
pub mod conn;
pub mod handshake;
pub mod limits;
pub mod packet;
pub mod param_types;
pub mod params;
pub mod refuse;
pub mod responder;
pub mod rows;
pub mod stmts;
pub mod tls;
pub mod wire;

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use mysql_common::constants::StatusFlags;

pub use conn::serve;
pub use responder::{LoadInfo, Responder};
pub use wire::OkInfo;

use crate::error::ProxyError;

/// What a client presented at connect (or COM_CHANGE_USER).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: String,
    /// The client's `mysql_native_password` answer to `salt`.
    pub scramble: Vec<u8>,
    pub salt: [u8; 20],
    pub db: Option<String>,
    pub peer: SocketAddr,
    /// Collation id the client asked for.
    pub collation: u8,
    /// Client asked for CLIENT_FOUND_ROWS (affected rows = matched rows).
    pub found_rows: bool,
    /// What the client negotiated, if it connected with TLS.
    pub tls: Option<tls::TlsInfo>,
}

/// Metadata of a prepared statement, as MariaDB describes it.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub columns: Vec<mysql_common::packets::Column>,
    pub params: Vec<mysql_common::packets::Column>,
    pub warnings: u16,
}

/// The gateway side of a client connection: one per client, called by the front
/// for each command in order.
pub trait Handler: Send {
    /// Checks credentials and the initial database.
    fn authenticate(
        &mut self,
        cred: &Credentials,
    ) -> impl Future<Output = Result<(), ProxyError>> + Send;
    /// COM_QUERY: runs `sql` and writes its result(s).
    fn query(
        &mut self,
        sql: &str,
        out: &mut Responder<'_>,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// COM_STMT_PREPARE: the result columns and parameter definitions of `sql`
    /// (`placeholders` = its number of `?`).
    fn prepare(
        &mut self,
        sql: &str,
        placeholders: usize,
    ) -> impl Future<Output = Result<Prepared, ProxyError>> + Send;
    /// COM_STMT_EXECUTE: runs one bound statement and writes its result through
    /// `out` (which encodes binary rows).
    fn execute(
        &mut self,
        bound: stmts::Bound,
        out: &mut Responder<'_>,
    ) -> impl Future<Output = io::Result<()>> + Send;
    /// The client's account (after authentication): shown instead of the
    /// backend account, in error messages too.
    fn account(&self) -> Option<std::sync::Arc<account::Account>>;
    /// How the client's text is decoded (its `character_set_client`).
    fn codec(&self) -> charset::Codec;
    /// Whether string parameters may use backslash escapes (sql_mode lacks
    /// NO_BACKSLASH_ESCAPES).
    fn backslash_escapes(&self) -> bool;
    /// COM_CHANGE_USER: authenticate `cred` and start the session over.
    fn change_user(
        &mut self,
        cred: &Credentials,
    ) -> impl Future<Output = Result<(), ProxyError>> + Send;
    /// COM_STATISTICS: a one-line status text.
    fn statistics(&self) -> String;
    /// Whether the client connected with CLIENT_FOUND_ROWS.
    fn found_rows(&self) -> bool;
    /// COM_FIELD_LIST: the column definitions of `table` in the current database.
    fn field_list(
        &mut self,
        table: &str,
    ) -> impl Future<Output = Result<Vec<mysql_common::packets::Column>, ProxyError>> + Send;
    /// COM_INIT_DB.
    fn init_db(&mut self, db: &str) -> impl Future<Output = Result<(), ProxyError>> + Send;
    /// COM_RESET_CONNECTION: back to the state right after authentication.
    fn reset(&mut self) -> impl Future<Output = Result<(), ProxyError>> + Send;
    /// The server status flags for OK/EOF packets (autocommit, in transaction).
    fn status(&self) -> StatusFlags;
    /// How long the client may stay idle between commands before the
    /// connection is closed (its `wait_timeout`); `None` = no limit.
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        None
    }
    /// While the client is idle: a future that resolves when something other
    /// than the client may have ended its session's work (then the front calls
    /// [`idle_woken`](Self::idle_woken)); `None`: nothing to watch.
    fn idle_wake(&mut self) -> Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>> {
        None
    }
    /// What [`idle_wake`](Self::idle_wake) announced: looked at while the
    /// client is still idle (an ended transaction frees its locks).
    fn idle_woken(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// The client connected with CLIENT_INTERACTIVE (its idle timeout starts
    /// at `interactive_timeout`).
    fn set_interactive(&mut self, _interactive: bool) {}
    /// The client closed the connection (COM_QUIT or end of stream).
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}
