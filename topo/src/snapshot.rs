//! A consistent copy of the routing part of a cluster (sets, nodes, databases,
//! tables, users) at one etcd revision, as the gateway needs it.
//!
//! It is also what a gateway writes to its local "last good routing" file, so it
//! can start and keep serving while etcd is unreachable.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::*;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterSnapshot {
    /// etcd revision this copy was read at (0 when empty).
    pub revision: i64,
    pub sets: BTreeMap<String, SetRecord>,
    /// Nodes by id.
    pub nodes: BTreeMap<String, NodeRecord>,
    pub dbs: BTreeMap<String, DatabaseRecord>,
    /// Tables by `(db, table)`, names as written (case-sensitive, as MariaDB on Linux).
    #[serde(with = "table_map")]
    pub tables: BTreeMap<(String, String), TableRecord>,
    pub users: BTreeMap<String, UserRecord>,
    /// Slot moves gateways must know about, by move id.
    #[serde(default)]
    pub moving: BTreeMap<String, crate::moves::MoveFence>,
}

impl ClusterSnapshot {
    /// The current primary of `set`.
    pub fn primary_of(&self, set: &str) -> Option<&NodeRecord> {
        self.nodes
            .values()
            .find(|n| n.set == set && n.role == Role::Primary)
    }

    /// Nodes of `set`, primary first.
    pub fn nodes_of(&self, set: &str) -> Vec<&NodeRecord> {
        let mut v: Vec<_> = self.nodes.values().filter(|n| n.set == set).collect();
        v.sort_by_key(|n| (n.role != Role::Primary, n.id.clone()));
        v
    }

    /// A database by name (names are case-sensitive as on Linux MariaDB).
    pub fn db(&self, name: &str) -> Option<&DatabaseRecord> {
        self.dbs.get(name)
    }

    /// A table's placement; tables with no record are single tables.
    pub fn table(&self, db: &str, table: &str) -> Option<&TableRecord> {
        self.tables.get(&(db.to_string(), table.to_string()))
    }

    pub fn user(&self, name: &str) -> Option<&UserRecord> {
        self.users.get(name)
    }

    /// The moves of `db` under way.
    pub fn fences_of<'a>(
        &'a self,
        db: &'a str,
    ) -> impl Iterator<Item = &'a crate::moves::MoveFence> {
        self.moving.values().filter(move |f| f.db == db)
    }

    /// Slot ranges of `db` whose rows `set` holds without owning them (see
    /// [`MoveFence::orphans_on`](crate::moves::MoveFence::orphans_on)).
    pub fn orphans(&self, db: &str, set: &str) -> Vec<crate::moves::SlotSpan> {
        self.fences_of(db).flat_map(|f| f.orphans_on(set)).collect()
    }

    /// Writes the snapshot to `path` atomically (write to a temp file, then rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)?;
        std::fs::rename(tmp, path)
    }

    /// Reads a snapshot written by [`save`](Self::save).
    pub fn load(path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Adds one record read from etcd at `key` (relative to the cluster root).
    pub(crate) fn absorb(
        &mut self,
        kind: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), serde_json::Error> {
        match kind {
            "sets" => {
                let r: SetRecord = serde_json::from_slice(value)?;
                self.sets.insert(r.name.clone(), r);
            }
            "nodes" => {
                let r: NodeRecord = serde_json::from_slice(value)?;
                self.nodes.insert(r.id.clone(), r);
            }
            "dbs" => {
                let r: DatabaseRecord = serde_json::from_slice(value)?;
                self.dbs.insert(r.name.clone(), r);
            }
            "tables" => {
                let r: TableRecord = serde_json::from_slice(value)?;
                self.tables.insert((r.db.clone(), r.name.clone()), r);
            }
            "users" => {
                let r: UserRecord = serde_json::from_slice(value)?;
                self.users.insert(r.name.clone(), r);
            }
            "moving" => {
                let r: crate::moves::MoveFence = serde_json::from_slice(value)?;
                self.moving.insert(r.id.clone(), r);
            }
            _ => {
                let _ = key;
            }
        }
        Ok(())
    }
}

/// JSON maps need string keys: tables are stored as a list.
mod table_map {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<(String, String), TableRecord>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<(String, String), TableRecord>, D::Error> {
        let v: Vec<TableRecord> = Vec::deserialize(d)?;
        Ok(v.into_iter()
            .map(|t| ((t.db.clone(), t.name.clone()), t))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load() {
        let mut s = ClusterSnapshot {
            revision: 7,
            ..Default::default()
        };
        s.tables.insert(
            ("db".into(), "t".into()),
            TableRecord {
                db: "db".into(),
                name: "t".into(),
                kind: TableKind::Broadcast,
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("routing.json");
        s.save(&p).unwrap();
        let back = ClusterSnapshot::load(&p).unwrap();
        assert_eq!(back, s);
        assert!(back.table("db", "t").is_some());
    }
}
