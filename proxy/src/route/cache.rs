//! The plan cache: a shape of statement seen before is routed without sqlparser.
//!
//! A statement's fingerprint is its significant tokens with every number and
//! string literal replaced by `?` (plus the session database and the routing
//! revision). Two statements with one fingerprint differ only in literal values,
//! so they plan alike — except where a literal picks the set: a shard-key value.
//! Cached entries therefore say either "always these sets" ([`Cached::Fixed`]) or
//! "the set owning the slot of literal number *n*" ([`Cached::Keyed`]).

use std::collections::HashMap;
use std::sync::Mutex;

use topo::{ClusterSnapshot, KeyType};

use super::{Merge, Plan, Target};
use crate::sql::lexer::{string_value, Kind, Token};

/// Entries kept before the cache starts over.
const MAX_ENTRIES: usize = 20_000;

#[derive(Debug, Clone)]
pub enum Cached {
    /// The plan does not depend on literal values.
    Fixed(Plan),
    /// One set: the owner of the slot of the `literal`-th literal, for a table
    /// sharded with this map; `merge` as planned.
    Keyed {
        literal: usize,
        db: String,
        key_type: KeyType,
        /// A read fit for a pipelined connection (`exec::fast_eligible`),
        /// decided once for the shape.
        point_read: bool,
    },
}

#[derive(Default)]
pub struct PlanCache {
    map: Mutex<HashMap<String, (i64, Cached)>>,
    /// Merged plans, as templates (`super::merged_cache`).
    pub merged: super::merged_cache::MergedPlans,
}

/// The fingerprint of a statement and the positions of its literals.
pub fn fingerprint(sql: &str, tokens: &[Token], db: Option<&str>) -> (String, Vec<Token>) {
    let mut key = String::with_capacity(sql.len() + 16);
    key.push_str(db.unwrap_or(""));
    key.push('\u{1}');
    let mut literals = Vec::new();
    for t in tokens.iter().filter(|t| !t.is_trivia()) {
        match t.kind {
            Kind::Number | Kind::String => {
                key.push('?');
                literals.push(*t);
            }
            _ => key.push_str(t.text(sql)),
        }
        key.push(' ');
    }
    (key, literals)
}

impl PlanCache {
    /// A cached plan for this fingerprint, made concrete with this statement's
    /// literals, and whether it is a point read a pipelined connection may run
    /// (`Cached::Keyed::point_read`). `None`: not cached (or cached under another
    /// routing revision).
    pub fn get(
        &self,
        key: &str,
        literals: &[Token],
        sql: &str,
        snap: &ClusterSnapshot,
    ) -> Option<(Plan, bool)> {
        let entry = self.map.lock().expect("plan cache").get(key).cloned()?;
        if entry.0 != snap.revision {
            return None;
        }
        match entry.1 {
            Cached::Fixed(p) => Some((p, false)),
            Cached::Keyed {
                literal,
                db,
                key_type,
                point_read,
            } => {
                let t = literals.get(literal)?;
                // A number compared with a string key matches rows anywhere
                // (`'012' = 12`): planned again.
                if key_type.is_text() && t.kind != Kind::String {
                    return None;
                }
                let text = match t.kind {
                    Kind::String => string_value(sql, t),
                    _ => super::key::number_text(t.text(sql)),
                };
                let map = &snap.db(&db)?.shard_map;
                let slot = topo::slot::slot_of_compared(text.as_bytes(), key_type, map.slots)?;
                let set = map.set_of_slot(slot)?.to_string();
                Some((
                    Plan {
                        target: Target::Sets(vec![set]),
                        merge: Merge::Single,
                    },
                    point_read,
                ))
            }
        }
    }

    /// Plans cached now (the metrics port's gauge).
    pub fn len(&self) -> usize {
        self.map.lock().expect("plan cache").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn put(&self, key: String, revision: i64, c: Cached) {
        let mut m = self.map.lock().expect("plan cache");
        if m.len() >= MAX_ENTRIES {
            m.clear();
        }
        m.insert(key, (revision, c));
    }
}

/// How a fresh plan may be cached: `None` when it must be planned every time.
/// `pinned` is the shard-key literal the planner routed by (db, key type, text),
/// when there was exactly one.
pub fn cacheable(
    plan: &Plan,
    pinned: Option<(&str, KeyType, &str)>,
    literals: &[Token],
    sql: &str,
) -> Option<Cached> {
    // Only plans that send the client's own text can be reused for other literals.
    let Target::Sets(sets) = &plan.target else {
        return None;
    };
    match (&plan.merge, pinned) {
        (Merge::Merged(_) | Merge::Join(_), _) => None,
        (Merge::Single, Some((db, key_type, value))) if sets.len() == 1 => {
            // The literal must be identifiable: exactly one literal with that value.
            let same: Vec<usize> = literals
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    let v = match t.kind {
                        Kind::String => string_value(sql, t),
                        _ => super::key::number_text(t.text(sql)),
                    };
                    v == value
                })
                .map(|(i, _)| i)
                .collect();
            match same.as_slice() {
                [i] if key_type.is_text() && literals[*i].kind != Kind::String => None,
                [i] => Some(Cached::Keyed {
                    literal: *i,
                    db: db.to_string(),
                    key_type,
                    point_read: false,
                }),
                _ => None,
            }
        }
        (_, Some(_)) => None,
        (_, None) => Some(Cached::Fixed(plan.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    #[test]
    fn fingerprints() {
        let a = "SELECT c FROM t WHERE id = 42 AND s = 'x'";
        let b = "select c  FROM t WHERE id=7 AND s = 'it''s'";
        let (ka, la) = fingerprint(a, &tokenize(a).unwrap(), Some("db"));
        let (kb, lb) = fingerprint(b, &tokenize(b).unwrap(), Some("db"));
        assert_ne!(ka, kb, "keywords keep their case: the text differs");
        assert_eq!(la.len(), 2);
        assert_eq!(lb.len(), 2);
        let c = "SELECT c FROM t WHERE id = 7 AND s = 'y'";
        let (kc, _) = fingerprint(c, &tokenize(c).unwrap(), Some("db"));
        assert_eq!(ka, kc);
        let (kd, _) = fingerprint(c, &tokenize(c).unwrap(), Some("other"));
        assert_ne!(kc, kd);
    }

    #[test]
    fn keyed_needs_a_unique_literal() {
        let plan = Plan {
            target: Target::Sets(vec!["s1".into()]),
            merge: Merge::Single,
        };
        let sql = "SELECT * FROM t WHERE id = 5 AND k = 6";
        let (_, lits) = fingerprint(sql, &tokenize(sql).unwrap(), None);
        assert!(matches!(
            cacheable(&plan, Some(("db", KeyType::Integer, "5")), &lits, sql),
            Some(Cached::Keyed { literal: 0, .. })
        ));
        let sql = "SELECT * FROM t WHERE id = 5 AND k = 5";
        let (_, lits) = fingerprint(sql, &tokenize(sql).unwrap(), None);
        assert!(cacheable(&plan, Some(("db", KeyType::Integer, "5")), &lits, sql).is_none());
    }
}
