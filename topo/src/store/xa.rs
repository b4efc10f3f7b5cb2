//! [`Topo`]'s distributed-transaction records: the gateway's commit decisions
//! for its own multi-set transactions and the clients' XA transactions it tracks.

use etcd_client::{Compare, CompareOp, Txn, TxnOp};

use super::{values, Topo};
use crate::error::{Result, TopoError};
use crate::model::*;

impl Topo {
    /// Records `d` unless a decision for its gtrid exists; returns the decision in
    /// force (ours, or the one recorded first).
    pub async fn decide_xa(&self, d: &XaDecision) -> Result<XaDecision> {
        let key = self.keys.xa_of(&d.gtrid);
        match self.create(&key, d).await {
            Ok(_) => Ok(d.clone()),
            Err(TopoError::CasConflict { .. }) => Ok(self
                .get::<XaDecision>(&key)
                .await?
                .map(|v| v.value)
                .unwrap_or_else(|| d.clone())),
            Err(e) => Err(e),
        }
    }
    /// Group commit: records every decision of `ds` and deletes the finished
    /// decisions `done` (gtrids), in ONE etcd transaction (one fsync). It applies
    /// only if none of `ds` was decided yet; `Ok(false)` otherwise, and nothing
    /// was written (the caller decides them one by one with
    /// [`decide_xa`](Self::decide_xa)). The records are the ones `decide_xa`
    /// writes, so recovery reads them the same way.
    pub async fn decide_xa_many(&self, ds: &[XaDecision], done: &[String]) -> Result<bool> {
        let mut cmps = Vec::with_capacity(ds.len());
        let mut ops = Vec::with_capacity(ds.len() + done.len());
        for d in ds {
            let key = self.keys.xa_of(&d.gtrid);
            cmps.push(Compare::create_revision(key.as_str(), CompareOp::Equal, 0));
            ops.push(TxnOp::put(key, serde_json::to_vec(d)?, None));
        }
        for g in done {
            ops.push(TxnOp::delete(self.keys.xa_of(g), None));
        }
        let resp = self
            .client
            .kv_client()
            .txn(Txn::new().when(cmps).and_then(ops))
            .await?;
        Ok(resp.succeeded())
    }
    /// Deletes the finished decisions `done` (gtrids), in one etcd transaction per
    /// 100 (etcd refuses a transaction of more than 128 operations by default).
    pub async fn delete_xas(&self, done: &[String]) -> Result<()> {
        for chunk in done.chunks(100) {
            let ops: Vec<TxnOp> = chunk
                .iter()
                .map(|g| TxnOp::delete(self.keys.xa_of(g), None))
                .collect();
            self.client
                .kv_client()
                .txn(Txn::new().and_then(ops))
                .await?;
        }
        Ok(())
    }
    pub async fn get_xa(&self, gtrid: &str) -> Result<Option<XaDecision>> {
        Ok(self.get(&self.keys.xa_of(gtrid)).await?.map(|v| v.value))
    }
    pub async fn list_xas(&self) -> Result<Vec<XaDecision>> {
        Ok(values(self.list(&self.keys.xas()).await?))
    }
    pub async fn delete_xa(&self, gtrid: &str) -> Result<bool> {
        self.delete(&self.keys.xa_of(gtrid)).await
    }

    /// Records an application's prepared transaction; `Ok(false)` when its xid
    /// is already recorded.
    pub async fn create_app_xa(&self, r: &AppXaRecord) -> Result<bool> {
        match self.create(&self.keys.app_xa(&r.xid), r).await {
            Ok(_) => Ok(true),
            Err(TopoError::CasConflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
    pub async fn get_app_xa(&self, xid: &str) -> Result<Option<AppXaRecord>> {
        Ok(self.get(&self.keys.app_xa(xid)).await?.map(|v| v.value))
    }
    pub async fn list_app_xas(&self) -> Result<Vec<AppXaRecord>> {
        Ok(values(self.list(&self.keys.app_xas()).await?))
    }
    pub async fn delete_app_xa(&self, xid: &str) -> Result<bool> {
        self.delete(&self.keys.app_xa(xid)).await
    }
}
