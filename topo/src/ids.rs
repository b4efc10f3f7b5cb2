//! Cluster-wide AUTO_INCREMENT ids: one counter per table in etcd
//! (`ids/<db>/<table>`, the next id no gateway holds yet, a JSON number). A
//! gateway reserves a segment `[counter, counter + n)` by compare-and-swap and
//! hands its ids out itself, so ids are unique across gateways; an explicit id
//! above the counter raises it.

use std::ops::Range;

use crate::error::{Result, TopoError};
use crate::store::Topo;

/// Compare-and-swap attempts before giving up (each loses only to another
/// gateway's reservation, which moved the counter on).
const ATTEMPTS: usize = 64;

impl Topo {
    /// The counter of `db.table`: `None` when no id was ever reserved.
    pub async fn id_counter(&self, db: &str, table: &str) -> Result<Option<u64>> {
        let key = self.keys().ids(db, table);
        Ok(self.get::<u64>(&key).await?.map(|v| v.value))
    }

    /// Reserves `n` (≥ 1) consecutive ids of `db.table`, none below `floor`
    /// (and none below 1): the counter moves past them.
    pub async fn reserve_ids(
        &self,
        db: &str,
        table: &str,
        n: u64,
        floor: u64,
    ) -> Result<Range<u64>> {
        let n = n.max(1);
        let key = self.keys().ids(db, table);
        for _ in 0..ATTEMPTS {
            let cur = self.get::<u64>(&key).await?;
            let rev = cur.as_ref().map(|c| c.mod_revision).unwrap_or(0);
            let start = cur.map(|c| c.value).unwrap_or(1).max(floor).max(1);
            let end = start.checked_add(n).ok_or_else(|| TopoError::Invalid {
                what: "AUTO_INCREMENT counter",
                why: format!("`{db}`.`{table}` has no ids left"),
            })?;
            match self.cas(&key, &end, rev).await {
                Ok(_) => return Ok(start..end),
                Err(TopoError::CasConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TopoError::CasConflict { key })
    }

    /// Makes sure no id up to `id` is reserved again for `db.table` (an explicit
    /// id was written): the counter becomes at least `id + 1`.
    pub async fn raise_ids(&self, db: &str, table: &str, id: u64) -> Result<()> {
        let key = self.keys().ids(db, table);
        let next = id.saturating_add(1);
        for _ in 0..ATTEMPTS {
            let cur = self.get::<u64>(&key).await?;
            if cur.as_ref().is_some_and(|c| c.value >= next) {
                return Ok(());
            }
            let rev = cur.as_ref().map(|c| c.mod_revision).unwrap_or(0);
            match self.cas(&key, &next, rev).await {
                Ok(_) => return Ok(()),
                Err(TopoError::CasConflict { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TopoError::CasConflict { key })
    }
}
