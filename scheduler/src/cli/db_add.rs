//! `setwise db add`: the validated request ([`DbAdd`]) and the pure decision
//! whether it keeps, creates or replaces the database's shard map ([`DbPlan`]).

use anyhow::{bail, Result};
use topo::{DatabaseRecord, ShardMap, DEFAULT_SLOTS};

/// `db add` as asked; unset options keep what an existing database has.
#[derive(Debug, Clone, PartialEq)]
pub struct DbAdd {
    pub name: String,
    pub sets: Vec<String>,
    pub home: Option<String>,
    pub slots: Option<u32>,
    pub force: bool,
}

/// What `db add` does to etcd.
#[derive(Debug, Clone, PartialEq)]
pub enum DbPlan {
    /// No such database yet: create it with an even map.
    Create(DatabaseRecord),
    /// It exists on the same sets: keep it as is (its map may have been rebalanced since).
    Keep(DatabaseRecord),
    /// It exists and differs, and `--force` was given: replace it.
    Replace(DatabaseRecord),
}

impl DbAdd {
    /// The record a fresh `db add` creates: slots split evenly over the sets.
    pub fn fresh_record(&self) -> DatabaseRecord {
        DatabaseRecord {
            name: self.name.clone(),
            home_set: self.home.clone().unwrap_or_else(|| self.sets[0].clone()),
            shard_map: ShardMap::even(self.slots.unwrap_or(DEFAULT_SLOTS), &self.sets),
        }
    }

    /// Decides what to do given the database as it is in etcd. Re-running the same
    /// `db add` keeps the existing map, which a scale-out may have changed since;
    /// different sets, home or slot count are refused unless `--force`.
    pub fn plan(&self, existing: Option<&DatabaseRecord>) -> Result<DbPlan> {
        let Some(cur) = existing else {
            return Ok(DbPlan::Create(self.fresh_record()));
        };
        let mut differences = Vec::new();
        let mut cur_sets: Vec<&str> = cur
            .shard_map
            .ranges
            .iter()
            .map(|r| r.set.as_str())
            .collect();
        cur_sets.sort_unstable();
        cur_sets.dedup();
        let mut want: Vec<&str> = self.sets.iter().map(String::as_str).collect();
        want.sort_unstable();
        if cur_sets != want {
            differences.push(format!(
                "its shard map is on sets {}, not {}",
                cur_sets.join(","),
                self.sets.join(",")
            ));
        }
        if let Some(home) = self.home.as_ref().filter(|h| **h != cur.home_set) {
            differences.push(format!("its home set is {}, not {home}", cur.home_set));
        }
        if let Some(slots) = self.slots.filter(|s| *s != cur.shard_map.slots) {
            differences.push(format!("it has {} slots, not {slots}", cur.shard_map.slots));
        }
        if differences.is_empty() {
            return Ok(DbPlan::Keep(cur.clone()));
        }
        if !self.force {
            bail!(
                "database {} already exists and {}; re-run with --force to replace its shard map \
                 (rows are not moved)",
                self.name,
                differences.join("; ")
            );
        }
        let mut rec = self.fresh_record();
        if self.home.is_none() && self.sets.contains(&cur.home_set) {
            rec.home_set = cur.home_set.clone();
        }
        rec.shard_map.version = cur.shard_map.version + 1;
        Ok(DbPlan::Replace(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::SlotRange;

    fn req(sets: &[&str]) -> DbAdd {
        DbAdd {
            name: "d".into(),
            sets: sets.iter().map(|s| s.to_string()).collect(),
            home: None,
            slots: None,
            force: false,
        }
    }

    #[test]
    fn db_plan_keeps_rebalanced_map() {
        let r = req(&["set1", "set2"]);
        let DbPlan::Create(mut cur) = r.plan(None).unwrap() else {
            panic!()
        };
        assert_eq!(cur.shard_map.slots, 1024);
        // A scale-out moved slots around on the same sets.
        cur.shard_map.ranges = vec![
            SlotRange {
                start: 0,
                end: 100,
                set: "set2".into(),
            },
            SlotRange {
                start: 100,
                end: 1024,
                set: "set1".into(),
            },
        ];
        cur.shard_map.version = 7;
        assert_eq!(r.plan(Some(&cur)).unwrap(), DbPlan::Keep(cur.clone()));
        // Same sets in another order are the same sets.
        assert!(matches!(
            req(&["set2", "set1"]).plan(Some(&cur)).unwrap(),
            DbPlan::Keep(_)
        ));
        // Different sets, home or slots: refused without --force.
        let err = req(&["set1", "set3"])
            .plan(Some(&cur))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--force"), "{err}");
        let mut h = req(&["set1", "set2"]);
        h.home = Some("set2".into());
        assert!(h.plan(Some(&cur)).is_err());
        let mut s = req(&["set1", "set2"]);
        s.slots = Some(64);
        assert!(s.plan(Some(&cur)).is_err());
        s.force = true;
        let DbPlan::Replace(new) = s.plan(Some(&cur)).unwrap() else {
            panic!()
        };
        assert_eq!(new.shard_map.slots, 64);
        assert_eq!(new.shard_map.version, 8);
        assert_eq!(new.home_set, "set1");
    }
}
