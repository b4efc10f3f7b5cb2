//! Where a statement's tables live: the planner's context for one statement
//! ([`Ctx`]: the snapshot, the session's database, what the session looked up for
//! it, what the plan depends on), each table's [`Placement`], and the sets holding
//! tables (also asked by the session for statements it does not plan).

use topo::{ClusterSnapshot, KeyType, ShardMap, TableKind};

use super::analyze::TableRef;
use super::planned::{Dep, Merge, Plan, Target};
use crate::error::ProxyError;

/// System schemas every set has; statements on them go to any one set.
pub fn is_system_schema(db: &str) -> bool {
    ["information_schema", "mysql", "performance_schema", "sys"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(db))
}

/// Where one referenced table lives.
pub(super) enum Placement<'s> {
    Anywhere,
    Home(String),
    Broadcast(Vec<String>),
    Sharded {
        db: String,
        map: &'s ShardMap,
        key: &'s str,
        key_type: KeyType,
        tref: TableRef,
    },
}

/// Column names of a table, looked up by the session for the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTable {
    pub db: String,
    pub table: String,
    pub columns: Vec<String>,
}

pub(super) struct Ctx<'a> {
    pub(super) snap: &'a ClusterSnapshot,
    pub(super) dep: std::cell::RefCell<Dep>,
    pub(super) db: Option<&'a str>,
    /// Column order of the INSERT target, when the caller looked it up.
    pub(super) known_columns: Option<&'a [String]>,
    /// Column lists of tables a cross-set join names (see `crate::join`).
    pub(super) known_tables: &'a [KnownTable],
    /// The gateway's own planners, for what the sets cannot answer together.
    pub(super) cross: &'a dyn super::cross_set::CrossSet,
}

impl<'a> Ctx<'a> {
    /// A context for placing tables only: no INSERT columns, no join tables.
    pub(super) fn bare(snap: &'a ClusterSnapshot, db: Option<&'a str>) -> Self {
        Ctx {
            snap,
            dep: Default::default(),
            db,
            known_columns: None,
            known_tables: &[],
            cross: &super::cross_set::RouterOnly,
        }
    }

    pub(super) fn place(&self, t: &TableRef) -> Result<Placement<'a>, ProxyError> {
        // `FROM DUAL` names no table.
        if t.db.is_none() && t.name.eq_ignore_ascii_case("dual") {
            return Ok(Placement::Anywhere);
        }
        let db = match t.db.as_deref().or(self.db) {
            Some(d) => d,
            None => return Err(ProxyError::NoDatabaseSelected),
        };
        if is_system_schema(db) {
            return Ok(Placement::Anywhere);
        }
        let rec = self
            .snap
            .db(db)
            .ok_or_else(|| ProxyError::UnknownDatabase(db.to_string()))?;
        Ok(match self.snap.table(db, &t.name).map(|r| &r.kind) {
            Some(TableKind::Sharded { key, key_type }) => Placement::Sharded {
                db: db.to_string(),
                map: &rec.shard_map,
                key,
                key_type: *key_type,
                tref: t.clone(),
            },
            Some(TableKind::Broadcast) => Placement::Broadcast(rec.sets()),
            Some(TableKind::Single) | None => Placement::Home(rec.home_set.clone()),
        })
    }

    /// Records that routing used shard-key `values` of a table of `db`.
    pub(super) fn note(&self, db: &str, key_type: KeyType, values: &[String]) {
        let mut d = self.dep.borrow_mut();
        *d = match (&*d, values) {
            (Dep::None, [v]) => Dep::Key {
                db: db.to_string(),
                key_type,
                value: v.clone(),
            },
            _ => Dep::Many,
        };
    }

    /// A set for statements that touch no table: the session database's home set,
    /// else the first set of the cluster.
    pub(super) fn any_set(&self) -> Result<String, ProxyError> {
        if let Some(rec) = self.db.and_then(|d| self.snap.db(d)) {
            return Ok(rec.home_set.clone());
        }
        self.snap
            .sets
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| ProxyError::NoRouting("no set is registered".into()))
    }
}

/// Sets owning the slots of `values` (in map order, deduplicated).
pub(super) fn sets_for_values(map: &ShardMap, key_type: KeyType, values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        // A value that is not a clean key of this type ('abc', '1e0' for an integer
        // key) is compared by MariaDB after conversion: it may match anywhere.
        let Some(slot) = topo::slot::slot_of_compared(v.as_bytes(), key_type, map.slots) else {
            return all_sets(map);
        };
        if let Some(s) = map.set_of_slot(slot) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
    }
    out
}

pub(super) fn all_sets(map: &ShardMap) -> Vec<String> {
    map.sets()
}

/// The sharded table references among `tables`, with their shard-key columns.
pub(super) fn sharded_refs<'t>(
    ctx: &Ctx<'t>,
    tables: &'t [TableRef],
) -> Vec<(&'t TableRef, &'t str)> {
    tables
        .iter()
        .filter_map(|t| match ctx.place(t) {
            Ok(Placement::Sharded { key, .. }) => Some((t, key)),
            _ => None,
        })
        .collect()
}

/// The sets holding table `t` (its database `t.db`, else `db`): every set of a
/// sharded or broadcast table, the home set of any other; `None` for a table of
/// a system schema (or `DUAL`), which lives on every server.
pub fn sets_holding(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    t: &TableRef,
) -> Result<Option<Vec<String>>, ProxyError> {
    let ctx = Ctx::bare(snap, db);
    Ok(match ctx.place(t)? {
        Placement::Anywhere => None,
        Placement::Home(h) => Some(vec![h]),
        Placement::Broadcast(sets) => Some(sets),
        Placement::Sharded { map, .. } => Some(all_sets(map)),
    })
}

/// The one set holding every table of an unparsable statement (found by the
/// lexer), when there is one: single tables on one home set, broadcast tables,
/// or only a database that lives on one set. `None`: the data spans sets.
pub fn single_set_for_tables(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    tables: &[TableRef],
) -> Result<Option<String>, ProxyError> {
    let ctx = Ctx::bare(snap, db);
    let mut set: Option<String> = None;
    let mut agree = |s: &str| match &set {
        None => {
            set = Some(s.to_string());
            true
        }
        Some(x) => x == s,
    };
    for t in tables {
        let ok = match ctx.place(t)? {
            Placement::Anywhere => true,
            Placement::Home(h) => agree(&h),
            Placement::Broadcast(sets) => sets.len() == 1 && agree(&sets[0]),
            Placement::Sharded { map, .. } => {
                let sets = all_sets(map);
                sets.len() == 1 && agree(&sets[0])
            }
        };
        if !ok {
            return Ok(None);
        }
    }
    match set {
        Some(s) => Ok(Some(s)),
        None => ctx.any_set().map(Some),
    }
}

/// The plan running the statement as is on one set: `sets`' one, or any set
/// when no table places it.
pub(super) fn single(sets: Vec<String>, ctx: &Ctx<'_>) -> Result<Plan, ProxyError> {
    let sets = if sets.is_empty() {
        vec![ctx.any_set()?]
    } else {
        sets
    };
    Ok(Plan {
        target: Target::Sets(sets),
        merge: Merge::Single,
    })
}
