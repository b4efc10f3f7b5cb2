//! The planner's fuzz target: arbitrary SQL parsed and planned against a fixed
//! routing snapshot (two sets; sharded, broadcast and single tables), then
//! routed again from the plan cache, which must agree with the fresh plan.

use std::sync::OnceLock;

use topo::{ClusterSnapshot, DatabaseRecord, KeyType, ShardMap, TableKind, TableRecord};

use crate::error::ProxyError;
use crate::route::cache::{self, PlanCache};
use crate::route::plan::KnownTable;
use crate::route::plan::{plan_statement_with, single_set_for_tables};
use crate::route::{Merge, Target};
use crate::sql::lexer::{significant, split_statements, tokenize};

/// Two sets; database `d` sharded over them (64 slots, home set1) with
/// `users(user_id, name, v)` and `orders(order_id, user_id, amount)` sharded by
/// integer keys, `names(name, v)` by a text key, `b(id, x)` broadcast and
/// `s(id, x)` single; database `e` lives on set2 only.
pub fn snapshot() -> &'static ClusterSnapshot {
    static SNAP: OnceLock<ClusterSnapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let mut s = ClusterSnapshot {
            revision: 7,
            ..Default::default()
        };
        let sets = vec!["set1".to_string(), "set2".to_string()];
        for n in &sets {
            s.sets
                .insert(n.clone(), topo::SetRecord::new(n, Default::default()));
        }
        s.dbs.insert(
            "d".into(),
            DatabaseRecord {
                name: "d".into(),
                home_set: "set1".into(),
                shard_map: ShardMap::even(64, &sets),
            },
        );
        s.dbs.insert(
            "e".into(),
            DatabaseRecord {
                name: "e".into(),
                home_set: "set2".into(),
                shard_map: ShardMap::even(64, &sets[1..]),
            },
        );
        let sharded = |key: &str, key_type| TableKind::Sharded {
            key: key.into(),
            key_type,
        };
        for (db, t, kind) in [
            ("d", "users", sharded("user_id", KeyType::Integer)),
            ("d", "orders", sharded("order_id", KeyType::Integer)),
            ("d", "names", sharded("name", KeyType::Text)),
            ("d", "b", TableKind::Broadcast),
            ("d", "s", TableKind::Single),
            ("e", "t", sharded("id", KeyType::Binary)),
        ] {
            s.tables.insert(
                (db.into(), t.into()),
                TableRecord {
                    db: db.into(),
                    name: t.into(),
                    kind,
                },
            );
        }
        s
    })
}

/// Column lists handed to the planner when it asks (an INSERT without a
/// column list, a cross-set join).
fn known() -> Vec<KnownTable> {
    let t = |table: &str, cols: &[&str]| KnownTable {
        db: "d".into(),
        table: table.into(),
        columns: cols.iter().map(|c| c.to_string()).collect(),
    };
    vec![
        t("users", &["user_id", "name", "v"]),
        t("orders", &["order_id", "user_id", "amount"]),
        t("names", &["name", "v"]),
        t("b", &["id", "x"]),
        t("s", &["id", "x"]),
    ]
}

/// `data`: the first byte picks the session database (`d`, none, `e`), the
/// rest is SQL (lossy UTF-8), possibly several statements.
pub fn planner(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let db = match which % 3 {
        0 => Some("d"),
        1 => None,
        _ => Some("e"),
    };
    let text = String::from_utf8_lossy(rest);
    let Ok(tokens) = tokenize(&text) else {
        return;
    };
    for (s, e) in split_statements(&text, &tokens) {
        let sql = &text[s..e];
        let Ok(tokens) = tokenize(sql) else {
            continue;
        };
        super::classify(sql, &tokens);
        plan_one(db, sql, &tokens);
    }
}

fn plan_one(db: Option<&str>, sql: &str, tokens: &[crate::sql::lexer::Token]) {
    let snap = snapshot();
    let sig = significant(tokens);
    let _ = single_set_for_tables(snap, db, &crate::command::lexed_tables(sql, &sig));
    let stmt = match crate::sql::parse_one(sql) {
        Ok(s) => s,
        Err(_) => match crate::session::text::planning_text(&crate::command::Statement::new(
            sql,
            tokens.to_vec(),
        ))
        .and_then(|t| crate::sql::parse_one(&t).ok())
        {
            Some(s) => s,
            None => return,
        },
    };
    let known = known();
    let mut cols: Option<Vec<String>> = None;
    let mut asked = 0;
    let planned = loop {
        let r = plan_statement_with(
            snap,
            db,
            sql,
            tokens,
            &stmt,
            cols.as_deref(),
            &known,
            &crate::join::CrossSetPlanner,
        );
        match r {
            Err(ProxyError::NeedColumns { db: tdb, table }) if asked < 8 => {
                asked += 1;
                cols = Some(
                    known
                        .iter()
                        .find(|k| k.db == tdb && k.table == table)
                        .map(|k| k.columns.clone())
                        .unwrap_or_else(|| vec!["id".into()]),
                );
            }
            Ok(p) => break p,
            Err(_) => return,
        }
    };
    check_sets(&planned.plan.target);
    let _ = crate::route::merged_cache::check(snap, db, sql, tokens, &planned);
    // The plan cache: a shape it keeps must route this very text as planned.
    let (fp, literals) = cache::fingerprint(sql, tokens, db);
    let pinned = planned.dep.pinned();
    let Some(pinned) = pinned else {
        return;
    };
    let Some(c) = cache::cacheable(&planned.plan, pinned, &literals, sql) else {
        return;
    };
    let plans = PlanCache::default();
    plans.put(fp.clone(), snap.revision, c);
    let Some((cached, _)) = plans.get(&fp, &literals, sql, snap) else {
        panic!("a cached shape is not found again: {sql:?}");
    };
    assert_eq!(
        cached.target, planned.plan.target,
        "the plan cache routes {sql:?} elsewhere than the planner"
    );
    if matches!(planned.plan.merge, Merge::Single) {
        assert_eq!(cached.merge, Merge::Single);
    }
}

/// Every set a plan names exists.
fn check_sets(t: &Target) {
    let snap = snapshot();
    let names: Vec<&String> = match t {
        Target::Sets(s) => s.iter().collect(),
        Target::PerSet(p) => p.iter().map(|(s, _)| s).collect(),
    };
    for n in names {
        assert!(snap.sets.contains_key(n), "a plan names an unknown set {n}");
    }
}
