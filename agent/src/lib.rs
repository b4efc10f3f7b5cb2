//! `setwise-agent`: one beside every MariaDB instance. Probes it with short
//! connections ([`probe`]), publishes a [`topo::HealthReport`] under a lease
//! ([`report`]) every interval ([`service`]) with the gap to its primary ([`view`]) and
//! host measurements ([`host`]), publishes per-table statistics ([`stats`]), keeps a
//! primary's semi-sync settings in line with its set's sync mode ([`sync`]), and runs
//! the node tasks the scheduler gives it: read_only, promote, repoint, rebuild
//! ([`task`]; a physical rebuild stops and starts mariadbd, [`mysqld`]), and serves
//! physical backups of its node to other agents ([`backup`]). A replica's prepared
//! gateway XA branches that its primary does not hold are decided from the primary
//! ([`prepared`]); a replica whose applier makes no progress says so ([`stall`]). Its probes' findings
//! are also Prometheus metrics ([`metrics`]).

pub mod backup;
pub mod config;
pub mod db;
pub mod fence;
pub mod host;
pub mod logging;
pub mod metrics;
pub mod mysqld;
pub mod prepared;
pub mod probe;
pub mod programs;
pub mod report;
pub mod service;
pub mod stall;
pub mod stats;
pub mod sync;
pub mod task;
pub mod view;
