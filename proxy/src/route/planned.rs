//! What a plan is: where a statement runs ([`Target`]), how the sets' answers
//! become one ([`Merge`]), and how a plan depends on the statement's literals
//! ([`Dep`], [`Planned`]) for the plan cache; a plan of the gateway's own
//! ([`CrossSetPlan`], `super::cross_set`). Making plans is [`super::plan`]'s
//! job; running them, `exec`'s.

use std::any::Any;

use topo::KeyType;

/// Where a statement runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The client's text on each of these sets.
    Sets(Vec<String>),
    /// A different text per set (a split multi-row INSERT).
    PerSet(Vec<(String, String)>),
}

/// How the answers of several sets become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// One set: its answer as is.
    Single,
    /// Rows of every set, one after another (no order, no aggregation).
    Concat,
    /// DML on disjoint rows: affected rows and info counters summed.
    SumAffected,
    /// The same write on every copy of a broadcast table: report one set's answer.
    Replicated,
    /// Sorted / grouped / limited rows merged by the gateway.
    Merged(Box<crate::merge::MergeSpec>),
    /// A join or subqueries the gateway runs itself (tables not co-located):
    /// `crate::join`'s plan, opaque to the router.
    Join(Box<dyn CrossSetPlan>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: Target,
    pub merge: Merge,
}

impl Plan {
    /// How many sets the plan sends text to.
    pub fn set_count(&self) -> usize {
        match &self.target {
            Target::Sets(sets) => sets.len(),
            Target::PerSet(parts) => parts.len(),
        }
    }

    /// Whether the plan writes to more than one set.
    pub fn writes_several_sets(&self) -> bool {
        match (&self.target, &self.merge) {
            (Target::PerSet(parts), _) => parts.len() > 1,
            (Target::Sets(sets), Merge::SumAffected | Merge::Replicated) => sets.len() > 1,
            _ => false,
        }
    }
}

/// How a plan depends on the statement's literal values (for the plan cache).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Dep {
    /// Not at all.
    #[default]
    None,
    /// Through one shard-key value of a table of `db`.
    Key {
        db: String,
        key_type: KeyType,
        value: String,
    },
    /// Through several values.
    Many,
}

impl Dep {
    /// What the plan cache keys a plan by: `Some(None)` for a plan that does not
    /// depend on literals, `Some(Some((db, key_type, value)))` for one routed by
    /// one shard-key value; `None` for a plan that depends on several values
    /// (not cached).
    pub fn pinned(&self) -> Option<Option<(&str, KeyType, &str)>> {
        match self {
            Dep::None => Some(None),
            Dep::Key {
                db,
                key_type,
                value,
            } => Some(Some((db.as_str(), *key_type, value.as_str()))),
            Dep::Many => None,
        }
    }
}

/// A plan and how it depends on the statement's literals.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub dep: Dep,
}

/// A plan the gateway runs itself (`crate::join::JoinPlan`).
pub trait CrossSetPlan: std::fmt::Debug + Send + Sync {
    /// The single-table queries the gateway sends for this plan: what `EXPLAIN`
    /// asks the sets about.
    fn side_queries(&self) -> Vec<String>;
    /// The plan as text lines, for the gateway's plan statement.
    fn describe(&self) -> Vec<String>;
    /// The plan itself, for its planner to take back.
    fn as_any(&self) -> &dyn Any;
    fn clone_box(&self) -> Box<dyn CrossSetPlan>;
    fn eq_dyn(&self, other: &dyn CrossSetPlan) -> bool;
}

impl Clone for Box<dyn CrossSetPlan> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl PartialEq for dyn CrossSetPlan {
    fn eq(&self, other: &Self) -> bool {
        self.eq_dyn(other)
    }
}

impl Eq for dyn CrossSetPlan {}
