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
//! planner ([`route`]) decides where it runs, [`exec`] runs it. Dependencies
//! point down this list (a module uses its own layer or those below):
//!
//! 1. entry: [`server`], [`workers`] (accept, run sessions), [`xa`] recovery;
//! 2. [`session`]: one client's state and the dispatch;
//! 3. statement handlers: [`ddl`], [`ddl_task`], [`schema`], [`ddl_apply`] (given a
//!    [`schema_session::SchemaSession`], never the session itself), [`show`];
//! 4. [`command`]: the classifier (uses [`sql`], [`explain`]'s recognition of
//!    an EXPLAIN request and `route::analyze`'s table references only);
//!    [`shared`], [`schema_session`]: what sessions share, and lend a handler;
//! 5. execution: [`exec`], [`join`], [`derived`], [`merge`], [`split`], [`orphans`],
//!    [`moving`], [`xa_sets`], [`placement`];
//! 6. planning: [`route`], [`explain`] (a plan as steps);
//! 7. wiring and text: [`sql`], [`front`], [`backend`],
//!    [`routing`], [`ids`], [`registry`], [`admission`];
//! 8. foundations: [`error`], [`config`], [`metrics`], [`observe`],
//!    [`digest`], [`audit`], [`xa_log`].
//!
//! `python3 tools/cycles.py` lists the import cycles left (file-level modules,
//! from `crate::` and `super::` paths); at this writing: `exec` ↔ `join/run`
//! and the join executors (`Exec` runs a join plan through `join::run`, whose
//! steps take the `Exec`), `join` ↔ `route/plan` ↔ `route/union` /
//! `route/write` / `route/call` (the planner hands statements to them; they use
//! its `Plan`, `Ctx` and helpers; `route/nested` hands derived tables over
//! several sets to `derived`, which reads `route/nested`'s verdict and whose
//! runner, like the join executors, takes the `Exec`), joined through
//! `exec/conns` → `observe` → `audit` → `config` → `join` (`config` names
//! `join`'s config types). A
//! transaction's connections are [`exec::txn`], below the session, and
//! `session` and everything above it are in no cycle. With `--top`, layers
//! 5–8 still form one, through edges that point up this list: `config` names
//! the config types of `join`, `moving`, `xa_sets`, `front`, `digest`; `route`
//! plans `join`s and `merge`s; `routing` keeps `split`'s replica health;
//! `moving` uses `command`'s table lexer; `ids` uses `route::select`'s edits;
//! `observe/http` reads `shared`.

pub mod admission;
pub mod audit;
pub mod backend;
pub mod command;
pub mod config;
pub mod ddl;
pub mod ddl_apply;
pub mod ddl_ids;
pub mod ddl_task;
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
