//! Leader election on etcd's election API: one scheduler leads, the others wait.

use etcd_client::{LeaderKey, ResignOptions};

use crate::error::Result;
use crate::lease::Lease;
use crate::store::Topo;

/// Leadership won by [`campaign`]; lost when its lease expires or on [`Leadership::resign`].
pub struct Leadership {
    key: LeaderKey,
    pub lease: Lease,
}

/// Blocks until this candidate (`value`, e.g. its id) leads election `name`.
/// The candidacy lives under a lease of `ttl` seconds kept alive in the background.
pub async fn campaign(topo: &Topo, name: &str, value: &str, ttl: i64) -> Result<Leadership> {
    let lease = Lease::grant(topo, ttl).await?;
    // Campaign blocks while another candidate leads: no request timeout here.
    let resp = topo
        .blocking_client()
        .await?
        .campaign(topo.keys().election(name), value, lease.id())
        .await?;
    let key = resp.leader().cloned().unwrap_or_default();
    Ok(Leadership { key, lease })
}

/// The current leader's value for election `name`, if any.
pub async fn leader(topo: &Topo, name: &str) -> Result<Option<String>> {
    match topo.client().leader(topo.keys().election(name)).await {
        Ok(resp) => Ok(resp
            .kv()
            .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())),
        // etcd answers "election: no leader" as an error.
        Err(etcd_client::Error::GRpcStatus(s)) if s.message().contains("no leader") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Leadership {
    /// Whether the lease behind the leadership is still alive as far as we know.
    pub fn is_held(&self) -> bool {
        !self.lease.is_lost()
    }

    /// Gives up leadership so a standby takes over at once.
    pub async fn resign(self, topo: &Topo) -> Result<()> {
        topo.client()
            .resign(Some(ResignOptions::new().with_leader(self.key.clone())))
            .await?;
        self.lease.revoke(topo).await
    }
}
