//! Connections to the sets' MariaDB instances.

pub mod conn;
pub mod mux;
pub mod pool;
pub mod raw;

pub use conn::Conn;
pub use pool::{Backends, PoolKey};
