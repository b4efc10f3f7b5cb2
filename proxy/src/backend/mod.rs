//! Connections to the sets' MariaDB instances.

pub mod conn;
pub mod pool;

pub use conn::Conn;
pub use pool::{Backends, PoolKey};
