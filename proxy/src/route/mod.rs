//! Routing: from a parsed statement and the cluster snapshot to the sets that must
//! run it and how their answers combine.
//!
//! - [`analyze`] walks the AST: tables, aliases, subqueries, aggregates.
//! - [`key`] finds shard-key values pinned by `WHERE` (`=` and `IN`).
//! - [`insert`] splits a multi-row `INSERT` by set, at token boundaries.
//! - [`cache`] routes a statement shape seen before without parsing it again;
//!   [`merged_cache`] does for merged shapes, from templates of their per-set text;
//!   [`prepared_merge`] keeps a client's `?` in a merged statement's per-set text.
//! - [`plan`] decides: one set, several sets (and how to merge), or an error;
//!   [`planned`] is what a plan is, [`place`] where each table lives, and
//!   [`target_sets`] the sets a statement on several tables runs on; what the sets
//!   cannot answer together goes to the gateway's own planners through
//!   [`cross_set`] (they are above this module).
//! - [`scatter`] rewrites a SELECT for several sets (at the clauses
//!   `crate::sql::select` locates) and plans its merge;
//!   [`aggs`] classifies aggregates, [`calc`] expressions over them, [`having`] HAVING;
//!   `hidden` holds what they share (helper columns, item matching).
//! - [`rollup`] says which `GROUP BY ... WITH ROLLUP` the merge can roll up.
//! - [`union`] plans a UNION across sets (concatenated, or de-duplicated by the gateway);
//!   [`union_mixed`] tags the `UNION ALL` branches after a distinct UNION.
//! - [`view`] says where a view lives and how it is routed.
//! - [`call`] sends `CALL` to the procedure's home set.
//! - [`write`] plans UPDATE, DELETE, INSERT and REPLACE; [`limited`] shapes the
//!   texts of an UPDATE/DELETE with LIMIT on rows of several sets;
//!   [`broadcast_write`] refuses a write to a broadcast table that reads rows
//!   differing per set.

pub mod aggs;
pub mod analyze;
pub mod broadcast_write;
pub mod cache;
pub mod calc;
pub mod call;
pub mod colocate;
pub mod concat;
pub mod cross_set;
pub mod having;
mod hidden;
pub mod insert;
pub mod key;
pub mod limited;
pub mod merged_cache;
pub mod nested;
mod order_items;
pub mod place;
pub mod plan;
pub mod planned;
pub mod prepared_merge;
pub mod rollup;
pub mod scatter;
pub mod target_sets;
pub mod union;
pub mod union_mixed;
pub mod view;
pub mod window;
pub mod write;

pub use cross_set::{CrossSet, CrossSetPlan};
pub use plan::{plan_statement, Merge, Plan, Target};

// The SELECT's clauses in the text moved down to `sql` (the lexer's layer);
// kept under this path for the planner's modules and older callers.
pub use crate::sql::select;
