//! Leases kept alive in the background: records put under a lease vanish when the
//! program holding it dies (agent health reports, election candidacy).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::error::Result;
use crate::store::Topo;

/// A granted lease with a task that refreshes it at a third of its TTL.
/// Dropping it stops the refresh; the lease then expires after its TTL.
pub struct Lease {
    id: i64,
    ttl: i64,
    refresher: JoinHandle<()>,
    lost: tokio::sync::watch::Receiver<bool>,
    /// Until when the lease is surely alive in etcd: the send time of the last
    /// refresh etcd answered, plus the TTL it answered with (etcd counts from
    /// when it received the refresh, which is later).
    fresh_until: std::sync::Arc<std::sync::Mutex<std::time::Instant>>,
}

impl Lease {
    /// Grants a lease of `ttl` seconds and starts keeping it alive.
    pub async fn grant(topo: &Topo, ttl: i64) -> Result<Self> {
        let mut client = topo.client();
        let sent = std::time::Instant::now();
        let granted = client.lease_grant(ttl, None).await?;
        let id = granted.id();
        let fresh_until = std::sync::Arc::new(std::sync::Mutex::new(
            sent + Duration::from_secs(granted.ttl().max(0) as u64),
        ));
        let (keeper, stream) = client.lease_keep_alive(id).await?;
        let (tx, lost) = tokio::sync::watch::channel(false);
        let period = Duration::from_millis((ttl.max(1) as u64) * 1000 / 3);
        let refresher = tokio::spawn(keep_alive(
            client,
            ttl,
            keeper,
            stream,
            period,
            tx,
            fresh_until.clone(),
        ));
        Ok(Self {
            id,
            ttl,
            refresher,
            lost,
            fresh_until,
        })
    }

    pub fn id(&self) -> i64 {
        self.id
    }
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
    /// Whether refreshing failed (etcd said the lease is gone, or the stream ended):
    /// the holder must grant a new lease and re-put its keys.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// How much longer the lease is surely alive in etcd, counted from the
    /// send time of its last acknowledged refresh (zero: it may have expired).
    /// Stricter than [`is_lost`](Self::is_lost), which turns true only once the
    /// holder has gone a whole TTL without an answer.
    pub fn fresh_for(&self) -> Duration {
        let until = *self.fresh_until.lock().expect("lease fresh_until");
        until.saturating_duration_since(std::time::Instant::now())
    }

    /// Revokes the lease now: its keys disappear at once.
    pub async fn revoke(self, topo: &Topo) -> Result<()> {
        self.refresher.abort();
        topo.client().lease_revoke(self.id).await?;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

/// Refreshes the lease every `period`. A broken keep-alive stream (etcd restarted,
/// a connection reset) is opened again for the same lease for as long as the lease
/// can still be alive — etcd keeps leases across a restart — so its holder does not
/// lose its keys (a leader its leadership) over a blip; `lost` turns true only when
/// etcd says the lease is gone or it has not been refreshed for its whole TTL.
async fn keep_alive(
    mut client: etcd_client::Client,
    ttl: i64,
    mut keeper: etcd_client::LeaseKeeper,
    mut stream: etcd_client::LeaseKeepAliveStream,
    period: Duration,
    lost: tokio::sync::watch::Sender<bool>,
    fresh_until: std::sync::Arc<std::sync::Mutex<std::time::Instant>>,
) {
    let id = keeper.id();
    let full = Duration::from_secs(ttl.max(1) as u64);
    let mut alive_until = tokio::time::Instant::now() + full;
    let mut tick = tokio::time::interval(period);
    let mut broken = false;
    loop {
        tick.tick().await;
        if broken {
            if tokio::time::Instant::now() >= alive_until {
                tracing::warn!(lease = id, "lease not refreshed for its whole TTL");
                break;
            }
            match tokio::time::timeout(period, client.lease_keep_alive(id)).await {
                Ok(Ok((k, s))) => {
                    (keeper, stream) = (k, s);
                    broken = false;
                    tracing::info!(lease = id, "lease keep-alive stream reopened");
                }
                _ => continue,
            }
        }
        let sent = std::time::Instant::now();
        if keeper.keep_alive().await.is_err() {
            broken = true;
            continue;
        }
        match tokio::time::timeout(period.max(Duration::from_millis(500)), stream.message()).await {
            Ok(Ok(Some(resp))) if resp.ttl() > 0 => {
                alive_until = tokio::time::Instant::now() + Duration::from_secs(resp.ttl() as u64);
                *fresh_until.lock().expect("lease fresh_until") =
                    sent + Duration::from_secs(resp.ttl() as u64);
            }
            Ok(Ok(Some(_))) => {
                tracing::warn!(lease = id, "lease expired");
                break;
            }
            other => {
                tracing::debug!(
                    lease = id,
                    ?other,
                    "lease keep-alive interrupted; reopening"
                );
                broken = true;
            }
        }
    }
    let _ = lost.send(true);
}
