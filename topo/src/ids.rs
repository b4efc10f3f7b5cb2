//! Cluster-wide AUTO_INCREMENT ids: one counter per table in etcd
//! (`ids/<db>/<table>`, the next id no gateway holds yet, a JSON number). A
//! gateway reserves a segment `[counter, counter + n)` by compare-and-swap and
//! hands its ids out itself, so ids are unique across gateways; an explicit id
//! above the counter raises it.

use std::ops::Range;

use crate::error::{Result, TopoError};
use etcd_client::{Txn, TxnOp};

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
        Ok(self.reserve_ids_at(db, table, n, floor).await?.0)
    }

    /// [`Topo::reserve_ids`], with the etcd revision of the reservation (a
    /// reset at a later revision makes the ids void: [`Topo::reset_ids`]).
    pub async fn reserve_ids_at(
        &self,
        db: &str,
        table: &str,
        n: u64,
        floor: u64,
    ) -> Result<(Range<u64>, i64)> {
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
                Ok(at) => return Ok((start..end, at)),
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

    /// Starts the counter of `db.table` again, as MariaDB does on TRUNCATE,
    /// DROP TABLE and `AUTO_INCREMENT = n`: the key is deleted or, with `next`,
    /// written anew along with its reset marker — every gateway's watch sees
    /// either and drops the ids it holds. Returns the revision of the reset.
    pub async fn reset_ids(&self, db: &str, table: &str, next: Option<u64>) -> Result<i64> {
        let key = self.keys().ids(db, table);
        let ops = match next {
            None => vec![TxnOp::delete(key.as_str(), None)],
            Some(n) => {
                let n = serde_json::to_vec(&n.max(1))?;
                let marker = self.keys().ids_reset(db, table);
                vec![
                    TxnOp::put(key.as_str(), n.clone(), None),
                    TxnOp::put(marker.as_str(), n, None),
                ]
            }
        };
        self.txn_revision(ops).await
    }

    /// Deletes every counter of `db` (DROP DATABASE). Returns the revision.
    pub async fn reset_db_ids(&self, db: &str) -> Result<i64> {
        let prefix = self.keys().ids_of(db);
        let markers = self.keys().ids_reset(db, "");
        let opts = || Some(etcd_client::DeleteOptions::new().with_prefix());
        self.txn_revision(vec![
            TxnOp::delete(prefix.as_str(), opts()),
            TxnOp::delete(markers.as_str(), opts()),
        ])
        .await
    }

    /// Moves the counter of `from` to `to` (RENAME TABLE: MariaDB's counter
    /// goes with the table). Returns the revision.
    pub async fn move_ids(&self, from: (&str, &str), to: (&str, &str)) -> Result<i64> {
        let next = self.id_counter(from.0, from.1).await?;
        let old = self.keys().ids(from.0, from.1);
        let new = self.keys().ids(to.0, to.1);
        let marker = self.keys().ids_reset(to.0, to.1);
        let mut ops = vec![TxnOp::delete(old.as_str(), None)];
        match next {
            Some(n) => {
                let n = serde_json::to_vec(&n)?;
                ops.push(TxnOp::put(new.as_str(), n.clone(), None));
                ops.push(TxnOp::put(marker.as_str(), n, None));
            }
            None => ops.push(TxnOp::delete(new.as_str(), None)),
        }
        self.txn_revision(ops).await
    }

    async fn txn_revision(&self, ops: Vec<TxnOp>) -> Result<i64> {
        let resp = self
            .client()
            .kv_client()
            .txn(Txn::new().and_then(ops))
            .await?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or_default())
    }
}
