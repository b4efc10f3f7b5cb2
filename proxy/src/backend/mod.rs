//! Connections to the sets' MariaDB instances.
//!
//! | module | owns |
//! |---|---|
//! | [`pool`] | [`Backends`]: mysql_async pools per [`PoolKey`], liveness probes, KILL QUERY |
//! | [`conn`] | [`Conn`], a borrowed connection, and the hot stack it goes back to |
//! | [`raw`] | a hand-written client connection (handshake, raw packet reads) |
//! | [`local`] | the Unix socket of an instance on this host, checked to be the same server |
//! | [`mux`] | one pipelined connection: statements back to back, answers forwarded raw |
//! | [`pipelines`] | which pipelined connection a point read uses |
//! | [`worker`] | which worker thread runs the caller (pools are per worker) |

pub mod answer;
pub mod conn;
pub mod local;
pub mod mux;
pub mod pipelines;
pub mod pool;
pub mod raw;
pub mod worker;

pub use conn::{Conn, Hold};
pub use pool::{Backends, PoolKey};
