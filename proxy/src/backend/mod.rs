//! Connections to the sets' MariaDB instances.

pub mod pool;

pub use pool::{Backends, PoolKey};
