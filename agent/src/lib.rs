//! `setwise-agent`: one beside every MariaDB instance. Probes it with short
//! connections ([`probe`]), publishes a [`topo::HealthReport`] under a lease
//! ([`report`]) every interval ([`service`]). Node tasks (promote, repoint, rebuild)
//! come later.

pub mod config;
pub mod logging;
pub mod probe;
pub mod report;
pub mod service;
