//! What the router hands over to the gateway's own planners (`crate::join`,
//! `crate::derived`), which sit above it: the statements the sets cannot answer
//! together. The planners come with the planning context ([`CrossSet`]); their
//! plans ride in [`super::Merge::Join`] as a [`CrossSetPlan`] (`super::planned`),
//! opaque here (they describe themselves for `EXPLAIN`; `crate::join::run` runs
//! them). Without them ([`RouterOnly`]) the router refuses what they would take.

use sqlparser::ast::Query;
use topo::ClusterSnapshot;

use super::nested::Sharded;
use super::place::KnownTable;
pub use super::planned::CrossSetPlan;
use super::planned::Plan;
use crate::error::ProxyError;
use crate::sql::lexer::Token;

/// The gateway's own planners, where the router gives up on the sets alone
/// (`crate::join::CrossSetPlanner`).
pub trait CrossSet {
    /// A UNION whose branches the sets cannot answer together: each branch
    /// read first.
    fn union_reads(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        sql: &str,
        tokens: &[Token],
        q: &Query,
    ) -> Option<Box<dyn CrossSetPlan>>;

    /// A SELECT whose tables are not co-located (refused by the router with
    /// `why`): the gateway's own plan when it has one, else the refusal.
    #[allow(clippy::too_many_arguments)]
    fn take_over(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        known: &[KnownTable],
        sql: &str,
        tokens: &[Token],
        q: &Query,
        why: String,
    ) -> Result<Plan, ProxyError>;

    /// The plan reading the subqueries of `q`'s outer block first, when it has
    /// subqueries the gateway can read so.
    fn subqueries_first(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        sql: &str,
        tokens: &[Token],
        q: &Query,
    ) -> Option<Plan>;

    /// The derived tables and CTEs of `q` computing over rows of several of
    /// `sets`, materialized first, when each can be located in the text.
    fn materialized(
        &self,
        sql: &str,
        tokens: &[Token],
        q: &Query,
        sharded: &[Sharded<'_>],
        sets: &[String],
    ) -> Option<Box<dyn CrossSetPlan>>;
}

/// The router alone: what the gateway's planners would take is refused (for
/// callers that keep only plans the sets merge, whose plans are the same).
pub struct RouterOnly;

impl CrossSet for RouterOnly {
    fn union_reads(
        &self,
        _: &ClusterSnapshot,
        _: Option<&str>,
        _: &str,
        _: &[Token],
        _: &Query,
    ) -> Option<Box<dyn CrossSetPlan>> {
        None
    }

    fn take_over(
        &self,
        _: &ClusterSnapshot,
        _: Option<&str>,
        _: &[KnownTable],
        _: &str,
        _: &[Token],
        _: &Query,
        why: String,
    ) -> Result<Plan, ProxyError> {
        Err(ProxyError::NotSupported(why))
    }

    fn subqueries_first(
        &self,
        _: &ClusterSnapshot,
        _: Option<&str>,
        _: &str,
        _: &[Token],
        _: &Query,
    ) -> Option<Plan> {
        None
    }

    fn materialized(
        &self,
        _: &str,
        _: &[Token],
        _: &Query,
        _: &[Sharded<'_>],
        _: &[String],
    ) -> Option<Box<dyn CrossSetPlan>> {
        None
    }
}
