//! The gateway's own planners as the router's fallback ([`CrossSetPlanner`],
//! `crate::route::CrossSet`: the router does not name them), and a
//! [`JoinPlan`] as the router carries it (`crate::route::CrossSetPlan`).

use std::any::Any;

use sqlparser::ast::Query;
use topo::ClusterSnapshot;

use super::JoinPlan;
use crate::error::ProxyError;
use crate::route::nested::Sharded;
use crate::route::plan::KnownTable;
use crate::route::{CrossSet, CrossSetPlan, Plan};
use crate::sql::lexer::Token;

/// Joins, subqueries read first, derived tables materialized: what the router
/// falls back on. Passed to `crate::route::plan_statement`.
pub struct CrossSetPlanner;

impl CrossSet for CrossSetPlanner {
    fn union_reads(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        sql: &str,
        tokens: &[Token],
        q: &Query,
    ) -> Option<Box<dyn CrossSetPlan>> {
        let p = super::union_reads::plan(snap, db, sql, tokens, q)?;
        Some(Box::new(JoinPlan::Subqueries(Box::new(p))))
    }

    fn take_over(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        known: &[KnownTable],
        sql: &str,
        tokens: &[Token],
        q: &Query,
        why: String,
    ) -> Result<Plan, ProxyError> {
        super::take_over(snap, db, known, sql, tokens, q, why)
    }

    fn subqueries_first(
        &self,
        snap: &ClusterSnapshot,
        db: Option<&str>,
        sql: &str,
        tokens: &[Token],
        q: &Query,
    ) -> Option<Plan> {
        super::subqueries_first(snap, db, sql, tokens, q)
    }

    fn materialized(
        &self,
        sql: &str,
        tokens: &[Token],
        q: &Query,
        sharded: &[Sharded<'_>],
        sets: &[String],
    ) -> Option<Box<dyn CrossSetPlan>> {
        let m = crate::derived::plan(sql, tokens, q, sharded, sets)?;
        Some(Box::new(JoinPlan::Materialized(Box::new(m))))
    }
}

impl CrossSetPlan for JoinPlan {
    fn side_queries(&self) -> Vec<String> {
        JoinPlan::side_queries(self)
    }

    fn describe(&self) -> Vec<String> {
        JoinPlan::describe(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn clone_box(&self) -> Box<dyn CrossSetPlan> {
        Box::new(self.clone())
    }

    fn eq_dyn(&self, other: &dyn CrossSetPlan) -> bool {
        JoinPlan::of(other) == Some(self)
    }
}

impl JoinPlan {
    /// The join plan a router's plan carries (`crate::route::Merge::Join`;
    /// every one is made here).
    pub fn of(p: &dyn CrossSetPlan) -> Option<&JoinPlan> {
        p.as_any().downcast_ref()
    }
}
