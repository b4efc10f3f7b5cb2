//! What a write statement touches, as far as slot moves care: per database, the
//! slots of the sharded tables it writes (or "unknown": a scatter write, an
//! `INSERT ... SELECT`, a key that is not a literal) and whether it writes a
//! broadcast table. Single tables never move and are left out.
//!
//! Found from the statement's own text, independently of the planner (the plan
//! says which sets, not which slots). Parsing costs a little, so it is done only
//! while the routing snapshot has a fence; without one a write's footprint is
//! [`Footprint::Anything`] (a transaction open since before a move began is
//! ended by its hold if it wrote to the database on any set).

use std::collections::BTreeSet;

use sqlparser::ast::{Expr, SetExpr, Statement, TableObject};
use topo::{ClusterSnapshot, KeyType, MoveFence, TableKind};

use crate::route::analyze::{analyze, split_name, TableRef};
use crate::route::key::{literal_text, pinned_values, KeyColumn};
use crate::route::plan::is_system_schema;
use crate::sql::lexer::{significant, Token};

/// The slots of one database's sharded tables a write touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slots {
    Known(BTreeSet<u32>),
    Unknown,
}

/// What a write does to one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbWrite {
    pub db: String,
    /// `None`: no sharded table of `db` is written.
    pub slots: Option<Slots>,
    pub broadcast: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Footprint {
    /// Writes no table that can move.
    #[default]
    Nothing,
    Dbs(Vec<DbWrite>),
    /// Not known: may write anything.
    Anything,
}

impl Footprint {
    /// Whether the write touches what `f` holds: a moving slot of its
    /// database (or unknown slots of it), or its broadcast tables when the
    /// move copies them.
    pub fn touches(&self, f: &MoveFence) -> bool {
        match self {
            Footprint::Nothing => false,
            Footprint::Anything => true,
            Footprint::Dbs(dbs) => dbs.iter().filter(|d| d.db == f.db).any(|d| {
                (d.broadcast && f.broadcast)
                    || match &d.slots {
                        None => false,
                        Some(Slots::Unknown) => true,
                        Some(Slots::Known(s)) => {
                            let spans = f.spans();
                            s.iter().any(|slot| topo::spans_contain(&spans, *slot))
                        }
                    }
            }),
        }
    }

    /// Whether the write touches a table of `db` that can move.
    pub fn touches_db(&self, db: &str) -> bool {
        match self {
            Footprint::Nothing => false,
            Footprint::Anything => true,
            Footprint::Dbs(dbs) => dbs.iter().any(|d| d.db == db),
        }
    }

    /// Adds what `other` touches (a transaction's writes, one after another).
    pub fn merge(&mut self, other: Footprint) {
        match (std::mem::take(self), other) {
            (Footprint::Anything, _) | (_, Footprint::Anything) => *self = Footprint::Anything,
            (Footprint::Nothing, o) | (o, Footprint::Nothing) => *self = o,
            (Footprint::Dbs(mut a), Footprint::Dbs(b)) => {
                for d in b {
                    add(&mut a, d);
                }
                *self = Footprint::Dbs(a);
            }
        }
    }
}

fn add(dbs: &mut Vec<DbWrite>, d: DbWrite) {
    let Some(e) = dbs.iter_mut().find(|e| e.db == d.db) else {
        dbs.push(d);
        return;
    };
    e.broadcast |= d.broadcast;
    e.slots = match (e.slots.take(), d.slots) {
        (None, s) | (s, None) => s,
        (Some(Slots::Unknown), _) | (_, Some(Slots::Unknown)) => Some(Slots::Unknown),
        (Some(Slots::Known(mut a)), Some(Slots::Known(b))) => {
            a.extend(b);
            Some(Slots::Known(a))
        }
    };
}

/// Column order of a table when the session knows it (for an INSERT without a
/// column list).
pub type Columns<'a> = &'a (dyn Fn(&str, &str) -> Option<Vec<String>> + Sync);

/// The footprint of the write `sql` (its tokens `tokens`) by a session whose
/// database is `db`, against `snap`.
pub fn of_write(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    columns: Columns<'_>,
) -> Footprint {
    if snap.moving.is_empty() {
        return Footprint::Anything;
    }
    let Ok(stmt) = crate::sql::parse_one(sql) else {
        return unparsed(snap, db, sql, tokens);
    };
    let w = Writes { snap, db };
    let mut out = Vec::new();
    match &stmt {
        Statement::Insert(ins) => {
            let TableObject::TableName(name) = &ins.table else {
                return Footprint::Anything;
            };
            let (tdb, tname) = split_name(name);
            let t = TableRef {
                db: tdb,
                name: tname,
                alias: None,
                pos: usize::MAX,
            };
            w.insert(&t, ins, columns, &mut out);
        }
        Statement::Update(u) => {
            let tables = analyze(&stmt).tables;
            for t in &tables {
                w.keyed(t, u.selection.as_ref(), tables.len() == 1, &mut out);
            }
        }
        Statement::Delete(d) => {
            let mut tables = analyze(&stmt).tables;
            for n in &d.tables {
                let (db, name) = split_name(n);
                if !tables
                    .iter()
                    .any(|t| t.name == name || t.alias.as_deref() == Some(&name))
                {
                    tables.push(TableRef {
                        db,
                        name,
                        alias: None,
                        pos: usize::MAX,
                    });
                }
            }
            for t in &tables {
                w.keyed(t, d.selection.as_ref(), tables.len() == 1, &mut out);
            }
        }
        Statement::LoadData { table_name, .. } => {
            let (tdb, name) = split_name(table_name);
            let t = TableRef {
                db: tdb,
                name,
                alias: None,
                pos: usize::MAX,
            };
            w.table(&t, Some(Slots::Unknown), &mut out);
        }
        _ => return Footprint::Anything,
    }
    if out.is_empty() {
        Footprint::Nothing
    } else {
        Footprint::Dbs(out)
    }
}

/// A write sqlparser cannot read: unknown slots and broadcast tables of every
/// database it may name (the lexer's tables' and the session's).
fn unparsed(snap: &ClusterSnapshot, db: Option<&str>, sql: &str, tokens: &[Token]) -> Footprint {
    let tables = crate::command::lexed_tables(sql, &significant(tokens));
    if tables.is_empty() {
        return Footprint::Anything;
    }
    let mut out = Vec::new();
    for name in tables
        .iter()
        .filter_map(|t| t.db.as_deref().or(db))
        .chain(db)
    {
        if snap.db(name).is_some() {
            add(
                &mut out,
                DbWrite {
                    db: name.to_string(),
                    slots: Some(Slots::Unknown),
                    broadcast: true,
                },
            );
        }
    }
    if out.is_empty() {
        Footprint::Nothing
    } else {
        Footprint::Dbs(out)
    }
}

struct Writes<'a> {
    snap: &'a ClusterSnapshot,
    db: Option<&'a str>,
}

/// Where a table lives, as a footprint needs it.
enum Kind {
    Sharded {
        db: String,
        key: String,
        key_type: KeyType,
        slots: u32,
    },
    Broadcast(String),
    Other,
}

impl Writes<'_> {
    fn kind(&self, t: &TableRef) -> Kind {
        let Some(db) = t.db.as_deref().or(self.db) else {
            return Kind::Other;
        };
        if is_system_schema(db) {
            return Kind::Other;
        }
        let Some(rec) = self.snap.db(db) else {
            return Kind::Other;
        };
        match self.snap.table(db, &t.name).map(|r| &r.kind) {
            Some(TableKind::Sharded { key, key_type }) => Kind::Sharded {
                db: db.to_string(),
                key: key.clone(),
                key_type: *key_type,
                slots: rec.shard_map.slots,
            },
            Some(TableKind::Broadcast) => Kind::Broadcast(db.to_string()),
            _ => Kind::Other,
        }
    }

    /// Records a write of `t`: `slots` when sharded.
    fn table(&self, t: &TableRef, slots: Option<Slots>, out: &mut Vec<DbWrite>) {
        match self.kind(t) {
            Kind::Sharded { db, .. } => add(
                out,
                DbWrite {
                    db,
                    slots: Some(slots.unwrap_or(Slots::Unknown)),
                    broadcast: false,
                },
            ),
            Kind::Broadcast(db) => add(
                out,
                DbWrite {
                    db,
                    slots: None,
                    broadcast: true,
                },
            ),
            Kind::Other => {}
        }
    }

    /// UPDATE / DELETE of `t`: the slots its `WHERE` pins the key to.
    fn keyed(&self, t: &TableRef, selection: Option<&Expr>, single: bool, out: &mut Vec<DbWrite>) {
        let slots = match self.kind(t) {
            Kind::Sharded {
                key,
                key_type,
                slots,
                ..
            } => {
                let mut qualifiers = vec![t.name.as_str()];
                if let Some(a) = &t.alias {
                    qualifiers.push(a.as_str());
                }
                let col = KeyColumn {
                    key: &key,
                    qualifiers,
                    unqualified: single,
                    text: key_type.is_text(),
                };
                pinned_values(selection, &col).map_or(Slots::Unknown, |vals| {
                    slots_of(vals.iter().map(|v| v.as_bytes()), key_type, slots, false)
                })
            }
            _ => Slots::Unknown,
        };
        self.table(t, Some(slots), out);
    }

    /// INSERT / REPLACE into `t`: the slots of its rows' key values.
    fn insert(
        &self,
        t: &TableRef,
        ins: &sqlparser::ast::Insert,
        columns: Columns<'_>,
        out: &mut Vec<DbWrite>,
    ) {
        let Kind::Sharded {
            db,
            key,
            key_type,
            slots,
        } = self.kind(t)
        else {
            return self.table(t, None, out);
        };
        let is_key = |c: &str| c.trim_matches('`').eq_ignore_ascii_case(&key);
        let values: Option<Vec<&Expr>> = if !ins.assignments.is_empty() {
            ins.assignments
                .iter()
                .find(|a| is_key(&a.target.to_string()))
                .map(|a| vec![&a.value])
        } else {
            match ins.source.as_ref().map(|s| s.body.as_ref()) {
                Some(SetExpr::Values(v)) => {
                    let cols: Vec<String> = if ins.columns.is_empty() {
                        columns(&db, &t.name).unwrap_or_default()
                    } else {
                        ins.columns.iter().map(|c| c.to_string()).collect()
                    };
                    cols.iter()
                        .position(|c| is_key(c))
                        .and_then(|ki| v.rows.iter().map(|r| r.get(ki)).collect())
                }
                _ => None,
            }
        };
        let texts: Option<Vec<String>> =
            values.and_then(|vs| vs.into_iter().map(literal_text).collect());
        let s = match texts {
            Some(texts) => slots_of(texts.iter().map(|v| v.as_bytes()), key_type, slots, true),
            None => Slots::Unknown,
        };
        self.table(t, Some(s), out);
    }
}

/// The slots of key values (`written`: values stored into the key, converted
/// as MariaDB converts them; else values compared with it).
fn slots_of<'v>(
    values: impl Iterator<Item = &'v [u8]>,
    key_type: KeyType,
    slots: u32,
    written: bool,
) -> Slots {
    let mut out = BTreeSet::new();
    for v in values {
        let canonical;
        let v = if written && key_type == KeyType::Integer {
            canonical = topo::slot::lenient_integer(v);
            canonical.as_bytes()
        } else {
            v
        };
        match topo::slot::slot_of_compared(v, key_type, slots) {
            Some(s) => {
                out.insert(s);
            }
            None => return Slots::Unknown,
        }
    }
    Slots::Known(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;
    use topo::{DatabaseRecord, FenceSource, FenceState, ShardMap, SlotSpan, TableRecord};

    fn snap() -> ClusterSnapshot {
        let mut s = ClusterSnapshot::default();
        let map = ShardMap::even(64, &["s1".into(), "s2".into()]);
        s.dbs.insert(
            "d".into(),
            DatabaseRecord {
                name: "d".into(),
                shard_map: map,
                home_set: "s1".into(),
            },
        );
        for (name, kind) in [
            (
                "t",
                TableKind::Sharded {
                    key: "id".into(),
                    key_type: KeyType::Integer,
                },
            ),
            ("b", TableKind::Broadcast),
            ("s", TableKind::Single),
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
        s.moving.insert("m1".into(), fence(0, 64, false));
        s
    }

    fn fence(start: u32, end: u32, broadcast: bool) -> MoveFence {
        MoveFence {
            id: "m1".into(),
            db: "d".into(),
            to: "s3".into(),
            sources: vec![FenceSource {
                set: "s1".into(),
                ranges: vec![SlotSpan { start, end }],
            }],
            broadcast,
            state: FenceState::Holding,
        }
    }

    fn fp(sql: &str) -> Footprint {
        let toks = tokenize(sql).unwrap();
        of_write(&snap(), Some("d"), sql, &toks, &|_, _| {
            Some(vec!["id".into(), "v".into()])
        })
    }

    fn slot(id: u64) -> u32 {
        topo::slot::slot_of_compared(id.to_string().as_bytes(), KeyType::Integer, 64).unwrap()
    }

    #[test]
    fn pinned_writes_have_their_slots() {
        let s = slot(7);
        let only = fence(s, s + 1, false);
        assert!(fp("UPDATE t SET v = 1 WHERE id = 7").touches(&only));
        assert!(fp("DELETE FROM t WHERE id IN (7, 8)").touches(&only));
        assert!(fp("INSERT INTO t (id, v) VALUES (7, 1)").touches(&only));
        assert!(fp("INSERT INTO t VALUES (7, 1)").touches(&only));
        assert!(fp("INSERT INTO t SET id = 7, v = 2").touches(&only));
        let other = (0..1000).find(|i| slot(*i) != s).unwrap();
        assert!(!fp(&format!("UPDATE t SET v = 1 WHERE id = {other}")).touches(&only));
        assert!(!fp(&format!("INSERT INTO t (v, id) VALUES (1, {other})")).touches(&only));
    }

    #[test]
    fn unknown_slots_and_broadcast() {
        let s = slot(7);
        let only = fence(s, s + 1, false);
        assert!(fp("UPDATE t SET v = 1 WHERE v > 3").touches(&only));
        assert!(fp("INSERT INTO t (id, v) SELECT id, v FROM t").touches(&only));
        assert!(!fp("UPDATE b SET v = 1").touches(&only));
        assert!(fp("UPDATE b SET v = 1").touches(&fence(s, s + 1, true)));
        assert_eq!(fp("UPDATE s SET v = 1"), Footprint::Nothing);
        let mut f = fp("UPDATE s SET v = 1");
        f.merge(fp("UPDATE t SET v = 1 WHERE id = 7"));
        assert!(f.touches(&only));
        assert!(f.touches_db("d") && !f.touches_db("e"));
    }
}
