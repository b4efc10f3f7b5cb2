//! The orphan filter. While slots of a database move, a set holds rows of slots
//! it does not own (*orphans*): the target before the flip (the copied rows),
//! the sources after it (until cleanup deletes them), as the `moving/<id>`
//! fences of the routing snapshot say ([`topo::ClusterSnapshot::orphans`]).
//! Every statement text the executor sends to such a set goes through
//! [`text_for`], which rewrites it so that each reference to a sharded table of
//! that database sees only rows whose slot is outside the orphan ranges
//! ([`rewrite`]), or refuses it (1235) when it cannot — never runs it unfiltered.
//! With no move under way it costs one emptiness check.

mod locate;
mod moving;
mod outer;
pub mod rewrite;
mod walk;

use std::borrow::Cow;

use topo::{ClusterSnapshot, TableKind};

use crate::error::ProxyError;
use moving::{Moving, MovingTable};

/// `sql` as it must be sent to `set`: unchanged when the set holds no orphans,
/// filtered when it does; an error when it cannot be filtered.
pub fn text_for<'s>(
    snap: &ClusterSnapshot,
    session_db: Option<&str>,
    set: &str,
    sql: &'s str,
) -> Result<Cow<'s, str>, ProxyError> {
    if snap.moving.is_empty() {
        return Ok(Cow::Borrowed(sql));
    }
    let m = moving_on(snap, session_db, set);
    if m.tables.is_empty() {
        return Ok(Cow::Borrowed(sql));
    }
    match rewrite::rewrite(sql, &m) {
        Ok(None) => Ok(Cow::Borrowed(sql)),
        Ok(Some(text)) => Ok(Cow::Owned(text)),
        Err(r) => Err(ProxyError::NotSupported(format!(
            "{} while slots of `{}` move",
            r.what, r.db
        ))),
    }
}

/// The sharded tables (and sharded views) with orphans on `set`.
fn moving_on<'a>(snap: &ClusterSnapshot, session_db: Option<&'a str>, set: &str) -> Moving<'a> {
    let mut tables = Vec::new();
    let mut dbs: Vec<&str> = Vec::new();
    for f in snap.moving.values() {
        if dbs.contains(&f.db.as_str()) || f.orphans_on(set).is_empty() {
            continue;
        }
        dbs.push(&f.db);
        let Some(rec) = snap.db(&f.db) else { continue };
        let spans = snap.orphans(&f.db, set);
        let from = (f.db.clone(), String::new());
        for ((db, name), t) in snap.tables.range(from..) {
            if *db != f.db {
                break;
            }
            if let TableKind::Sharded { key, key_type } = &t.kind {
                tables.push(MovingTable {
                    db: db.clone(),
                    name: name.clone(),
                    key: key.clone(),
                    key_type: *key_type,
                    slots: rec.shard_map.slots,
                    spans: spans.clone(),
                });
            }
        }
    }
    Moving { session_db, tables }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::moves::{FenceSource, FenceState, MoveFence, SlotSpan};
    use topo::{DatabaseRecord, ShardMap, TableRecord};

    fn snap(state: FenceState) -> ClusterSnapshot {
        let mut s = ClusterSnapshot::default();
        s.dbs.insert(
            "d".into(),
            DatabaseRecord {
                name: "d".into(),
                home_set: "set1".into(),
                shard_map: ShardMap::even(16, &["set1".into(), "set2".into()]),
            },
        );
        for (name, kind) in [
            (
                "t",
                TableKind::Sharded {
                    key: "id".into(),
                    key_type: Default::default(),
                },
            ),
            ("b", TableKind::Broadcast),
        ] {
            s.tables.insert(
                ("d".into(), name.into()),
                TableRecord {
                    db: "d".into(),
                    name: name.into(),
                    kind,
                },
            );
        }
        s.moving.insert(
            "m1".into(),
            MoveFence {
                id: "m1".into(),
                db: "d".into(),
                to: "set2".into(),
                sources: vec![FenceSource {
                    set: "set1".into(),
                    ranges: vec![SlotSpan { start: 0, end: 4 }],
                }],
                broadcast: false,
                state,
            },
        );
        s
    }

    #[test]
    fn only_sets_with_orphans_change() {
        let q = "SELECT COUNT(*) FROM t";
        let s = snap(FenceState::Copying);
        assert!(matches!(
            text_for(&ClusterSnapshot::default(), Some("d"), "set2", q),
            Ok(Cow::Borrowed(_))
        ));
        assert!(matches!(
            text_for(&s, Some("d"), "set1", q),
            Ok(Cow::Borrowed(_))
        ));
        let t = text_for(&s, Some("d"), "set2", q).unwrap();
        assert_eq!(
            t,
            "SELECT COUNT(*) FROM t WHERE (NOT IFNULL(((CRC32(`d`.`t`.`id`) % 16) BETWEEN 0 AND 3), 0))"
        );
        // Other databases' tables and broadcast tables are left alone.
        assert!(matches!(
            text_for(&s, Some("e"), "set2", q),
            Ok(Cow::Borrowed(_))
        ));
        assert!(matches!(
            text_for(&s, Some("d"), "set2", "SELECT * FROM b"),
            Ok(Cow::Borrowed(_))
        ));
        let s = snap(FenceState::Flipped);
        assert!(matches!(
            text_for(&s, Some("d"), "set2", q),
            Ok(Cow::Borrowed(_))
        ));
        assert!(matches!(
            text_for(&s, Some("d"), "set1", q),
            Ok(Cow::Owned(_))
        ));
        let e = text_for(&s, Some("d"), "set1", "CREATE TABLE x AS SELECT * FROM t").unwrap_err();
        assert_eq!(e.code(), 1235);
        assert!(e.to_string().contains("while slots of `d` move"), "{e}");
    }
}
