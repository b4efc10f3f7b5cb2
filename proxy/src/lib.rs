//! `setwise-proxy` — the Setwise gateway.
//!
//! | module | owns |
//! |---|---|
//! | [`front`] | the server side of the MySQL protocol (mysql_common) |
//! | [`session`] | one client's session and statement dispatch |
//! | [`sql`] | lexer, `shardkey=` option, sqlparser entry |
//! | [`route`] | planning: which sets run a statement, how answers merge |
//! | [`exec`] | running a plan on the sets, streaming the merged answer |
//! | [`explain`] | `EXPLAIN` from the sets and `EXPLAIN SETWISE` (the gateway's plan) |
//! | [`merge`] | k-way merge, re-aggregation, final sort, limit |
//! | [`ddl`], [`show`] | schema changes recorded in topo; SHOW/DESCRIBE |
//! | [`schema`] | RENAME TABLE, views, stored routines and triggers across sets |
//! | [`routing`] | the routing snapshot from etcd, its watch and file cache |
//! | [`backend`] | pooled connections to the sets (mysql_async) |
//! | [`ids`] | AUTO_INCREMENT ids of sharded and broadcast tables (segments in etcd) |
//! | [`error`] | every client-visible error and its MySQL code |
//! | [`server`] | the listener |
//! | [`workers`] | thread-per-core serving: one event loop per worker thread |
//! | [`registry`] | client connections: SHOW PROCESSLIST, KILL |
//! | [`admission`] | connection limits (overall, per user, per address) and `[limits]` |
//! | [`split`] | read/write split: which reads go to which replica (read-your-writes) |
//! | [`xa`] | recovery of in-doubt distributed (XA) transactions |
//! | [`xa_log`] | group commit of two-phase commit decisions to etcd |
//! | [`moving`] | the gateway's side of slot moves: registration, write hold, acks |
//! | [`orphans`] | filtering rows of moving slots out of statements sent to sets holding them |
//! | [`metrics`] | metric names, the Prometheus recorder |
//! | [`observe`] | what each statement leaves behind (metrics, digest, audit); the metrics port |
//! | [`digest`] | query digests per fingerprint (`SHOW SETWISE DIGESTS`) |
//! | [`audit`] | the SQL audit log (JSON lines, rotating file, bounded queue) |

pub mod admission;
pub mod audit;
pub mod backend;
pub mod command;
pub mod config;
pub mod ddl;
pub mod ddl_task;
pub mod digest;
pub mod error;
pub mod exec;
pub mod explain;
pub mod front;
#[cfg(any(test, feature = "fuzz"))]
#[doc(hidden)]
pub mod fuzz;
pub mod ids;
pub mod join;
pub mod merge;
pub mod metrics;
pub mod moving;
pub mod observe;
pub mod orphans;
pub mod registry;
pub mod route;
pub mod routing;
pub mod schema;
pub mod server;
pub mod session;
pub mod show;
pub mod split;
pub mod sql;
pub mod workers;
pub mod xa;
pub mod xa_log;
pub mod xa_sets;
