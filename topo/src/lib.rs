//! `topo` — the Setwise cluster model as kept in etcd.
//!
//! This crate is the one place that knows the etcd key layout ([`keys`]) and the
//! records stored there ([`model`]). The proxy, the scheduler, the agent and the
//! `setwise` command line all go through [`Topo`] for typed get, put,
//! compare-and-swap, watch, leases and leader election; none builds a key by hand.

pub mod config;
pub mod control;
pub mod ddl;
pub mod election;
pub mod error;
pub mod gtid;
pub mod ids;
pub mod keys;
pub mod lease;
pub mod model;
pub mod moves;
pub mod mysql_tls;
pub mod password;
pub mod slot;
pub mod snapshot;
pub mod store;
pub mod weights;

pub use config::EtcdConfig;
pub use control::*;
pub use ddl::*;
pub use error::{Result, TopoError};
pub use model::*;
pub use moves::*;
pub use snapshot::ClusterSnapshot;
pub use store::{Batch, Topo, Versioned};
