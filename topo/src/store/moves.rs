//! [`Topo`]'s slot-move records: moves, their fences, the gateways that route
//! around them (registered under a lease and remembered until they leave) and
//! the gateways' acknowledgements of a move's holds.

use super::{values, Topo, Versioned};
use crate::error::Result;
use crate::moves::*;

impl Topo {
    pub async fn get_move(&self, id: &str) -> Result<Option<Versioned<MoveRecord>>> {
        self.get(&self.keys.move_of(id)).await
    }
    /// Every move, oldest first (ids sort by creation time).
    pub async fn list_moves(&self) -> Result<Vec<Versioned<MoveRecord>>> {
        let mut v: Vec<Versioned<MoveRecord>> = self.list(&self.keys.moves()).await?;
        v.sort_by_key(|m| (m.value.created_ms, m.value.id.clone()));
        Ok(v)
    }
    pub async fn list_fences(&self) -> Result<Vec<MoveFence>> {
        Ok(values(self.list(&self.keys.fences()).await?))
    }
    /// Registers a running gateway under its lease.
    pub async fn put_gateway(&self, g: &GatewayRecord, lease: i64) -> Result<()> {
        self.put_leased(&self.keys.gateway(&g.id), g, lease).await
    }
    /// Remembers a gateway until it shuts down cleanly or a DBA forgets it: one
    /// known but not registered is a gateway cut off from etcd (or crashed), which
    /// may still route with an old shard map.
    pub async fn put_known_gateway(&self, g: &GatewayRecord) -> Result<()> {
        self.put(&self.keys.gateway_known(&g.id), g).await
    }
    pub async fn list_known_gateways(&self) -> Result<Vec<GatewayRecord>> {
        Ok(values(self.list(&self.keys.gateways_known()).await?))
    }
    /// Deletes a gateway's registration and its known record (clean shutdown,
    /// `setwise gateway forget`); false when neither existed.
    pub async fn forget_gateway(&self, id: &str) -> Result<bool> {
        let a = self.delete(&self.keys.gateway(id)).await?;
        let b = self.delete(&self.keys.gateway_known(id)).await?;
        Ok(a || b)
    }
    pub async fn list_gateways(&self) -> Result<Vec<GatewayRecord>> {
        Ok(values(self.list(&self.keys.gateways()).await?))
    }
    pub async fn put_hold_ack(&self, a: &HoldAck) -> Result<()> {
        self.put(&self.keys.hold_ack(&a.move_id, &a.gateway), a)
            .await
    }
    pub async fn list_hold_acks(&self, move_id: &str) -> Result<Vec<HoldAck>> {
        Ok(values(self.list(&self.keys.hold_acks(move_id)).await?))
    }
    /// Forgets every acknowledgement of a move's holds.
    pub async fn clear_hold_acks(&self, move_id: &str) -> Result<()> {
        self.client
            .kv_client()
            .delete(
                self.keys.hold_acks(move_id),
                Some(etcd_client::DeleteOptions::new().with_prefix()),
            )
            .await?;
        Ok(())
    }
}
