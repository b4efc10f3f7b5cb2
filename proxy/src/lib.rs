//! `setwise-proxy` — the Setwise gateway.
//!
//! | module | owns |
//! |---|---|
//! | [`front`] | the server side of the MySQL protocol (mysql_common) |
//! | [`session`] | one client's session and statement dispatch |
//! | [`command`] | a statement lexed once and classified: what the dispatch tells apart, with its names |
//! | [`shared`] | what the sessions of one core share |
//! | [`sql`] | lexer, `shardkey=` option, sqlparser entry |
//! | [`route`] | planning: which sets run a statement, how answers merge |
//! | [`exec`] | running a plan on the sets, streaming the merged answer; a transaction's branches ([`exec::txn`]) |
//! | [`explain`] | `EXPLAIN` from the sets and `EXPLAIN SETWISE` (the gateway's plan) |
//! | [`merge`] | k-way merge, re-aggregation, final sort, limit |
//! | [`derived`] | derived tables and CTEs over rows of several sets, materialized by the gateway |
//! | [`ddl`], [`show`] | schema changes recorded in topo; SHOW/DESCRIBE |
//! | [`ddl_apply`] | a schema change applied on its sets and recorded, for `ddl` and `schema` |
//! | [`schema`] | RENAME TABLE, views, stored routines and triggers across sets |
//! | [`schema_session`] | what a schema change sees of its session |
//! | [`placement`] | which set answers for a table's definition, or for no table |
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
//! | [`deadlock`] | deadlocks through several sets: the wait-for graph of the sessions, ending each cycle (1213) |
//! | [`deadlock_victim`] | a deadlock victim's mark on its session, and the 1213 its interrupted statement gets |
//! | [`xa_log`] | group commit of two-phase commit decisions to etcd |
//! | [`moving`] | the gateway's side of slot moves: registration, write hold, acks |
//! | [`orphans`] | filtering rows of moving slots out of statements sent to sets holding them |
//! | [`metrics`] | metric names, the Prometheus recorder |
//! | [`metrics_port`] | the metrics port: `/metrics`, `/digests` over HTTP |
//! | [`observe`] | what each statement leaves behind (metrics, digest, audit); the metrics port's address |
//! | [`digest`] | query digests per fingerprint (`SHOW SETWISE DIGESTS`) |
//! | [`audit`] | the SQL audit log (JSON lines, rotating file, bounded queue) |
//! | [`set_bits`] | set names as bits: the sets a statement touched as one `u64` |
//!
//! ## Layering
//!
//! A statement travels down once: [`command`] lexes and classifies it, the
//! [`session`] dispatches it on its [`command::Command`], a handler or the
//! planner ([`route`]) decides where it runs, [`exec`] runs it. The list below
//! starts at the bottom: a module uses only modules listed before it (or in its
//! own group, those before it in the group):
//!
//! 1. text and foundations: [`error`], [`metrics`], [`registry`], [`set_bits`],
//!    [`sql`]; [`admission`], [`ids`], [`xa_log`]; [`front`]; [`config`];
//! 2. what statements leave behind: [`digest`], [`audit`], [`observe`];
//! 3. the sets: [`backend`]; [`merge`], [`split`], [`xa_sets`]; [`routing`];
//! 4. planning: [`route`] (what the sets cannot answer together goes to the
//!    gateway's own planners through [`route::CrossSet`], which `join`
//!    implements), [`orphans`], [`placement`], [`explain`]; [`command`];
//! 5. [`moving`], then [`shared`];
//! 6. execution: [`exec`], [`metrics_port`]; [`join`] and [`derived`];
//!    [`xa`], [`schema_session`], [`show_rows`];
//! 7. statement handlers: [`ddl_apply`], [`ddl_task`], [`table_status`],
//!    [`schema`], [`show`], [`ddl_ids`], [`ddl`];
//! 8. [`session`]; [`workers`]; [`deadlock`] detection (its victim's mark,
//!    [`deadlock_victim`], which [`front`]'s answers read, is a leaf over [`registry`] and
//!    [`error`]); [`server`].
//!
//! `python3 tools/cycles.py --top` lists the cycles between top-level modules;
//! at this writing one: [`join`] ↔ [`derived`]. A derived table is materialized
//! by running its query as any plan (`join::run::run_plan`, which may be a
//! join), and that runner runs derived-table plans (`JoinPlan::Materialized`).
//! Without `--top`, the cycles are those inside `join` (the runner and the
//! executors it calls, which run plans again) and inside `route` (`place`'s
//! planning context carries the [`route::CrossSet`] planners, whose
//! derived-table hook takes `nested`'s `Sharded`, and `nested` uses that context).

pub mod admission;
pub mod audit;
pub mod backend;
pub mod command;
pub mod config;
pub mod ddl;
pub mod ddl_apply;
pub mod ddl_ids;
pub mod ddl_task;
pub mod deadlock;
pub mod deadlock_victim;
pub mod derived;
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
pub mod metrics_port;
pub mod moving;
pub mod observe;
pub mod orphans;
pub mod placement;
pub mod registry;
pub mod route;
pub mod routing;
pub mod schema;
pub mod schema_session;
pub mod server;
pub mod session;
pub mod set_bits;
pub mod shared;
pub mod show;
pub mod show_rows;
pub mod split;
pub mod sql;
pub mod table_status;
pub mod workers;
pub mod xa;
pub mod xa_log;
pub mod xa_sets;
