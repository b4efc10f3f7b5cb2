//! `setwise-tests` — the integration-test harness.
//!
//! Every test starts what it needs on free loopback ports inside its own temporary
//! directory, and everything is torn down when the handles drop (also on panic):
//!
//! * [`etcd::Etcd`] — one etcd server;
//! * [`mariadb::MariaDb`] — one `mariadbd` copied from a per-machine template datadir;
//! * [`set::MariaSet`] — a set: a primary and GTID replicas with semi-sync;
//! * [`cluster::Cluster`] — etcd + sets + topology registered in etcd + optionally the
//!   gateway (`setwise-proxy`), with helpers to run the other Setwise programs;
//! * [`control::ControlPlane`] — agents and schedulers of a cluster, and waits on their
//!   records; [`load::Writer`] — numbered commits through the gateway (RPO/RTO);
//! * [`scrape`] — the programs' metrics ports (`/metrics`, parsed).
//! * [`shop`] — the database `shop` most cluster tests start from (`shop.t` sharded by `id`).
//!
//! Waits are bounded polls ([`wait_until`], [`retry`]), never fixed sleeps.
//! Set `SETWISE_KEEP_TMP=1` to keep the temporary directories (data and logs);
//! `SETWISE_BIN_DIR` says where the Setwise binaries are (see [`bins`]).

pub mod bins;
pub mod cluster;
pub mod control;
pub mod diff;
pub mod etcd;
pub mod faults;
pub mod faults_xa;
pub mod load;
pub mod mariadb;
pub mod placement;
pub mod port;
pub mod process;
pub mod raw;
pub mod scrape;
pub mod set;
pub mod shop;
pub mod sql;
pub mod util;
pub mod workdir;

use std::future::Future;
use std::time::{Duration, Instant};

pub use cluster::{Cluster, ClusterBuilder};
pub use etcd::Etcd;
pub use mariadb::MariaDb;
pub use set::MariaSet;

/// How often the wait helpers poll.
pub const POLL: Duration = Duration::from_millis(50);

/// Calls `f` every [`POLL`] until it returns `Ok`, or fails with the last error once
/// `timeout` has passed. `what` names the wait in the error message.
pub async fn retry<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= timeout => {
                return Err(e.context(format!("timed out after {timeout:?} waiting for {what}")));
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// Polls `f` until it returns `Ok(true)`, bounded by `timeout`; errors count as "not yet".
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    retry(what, timeout, || {
        let fut = f();
        async move {
            if fut.await? {
                Ok(())
            } else {
                Err(anyhow::anyhow!("condition not met"))
            }
        }
    })
    .await
}

/// Polls `read` until the value it returns satisfies `ok`, bounded by `timeout`;
/// returns that value. On timeout the error shows the last value read (`None`:
/// nothing there yet), which usually says why.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    timeout: Duration,
    mut read: F,
    ok: impl Fn(&T) -> bool,
) -> anyhow::Result<T>
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let mut last: Option<T> = None;
    let start = Instant::now();
    loop {
        if let Ok(v) = read().await {
            if v.as_ref().is_some_and(&ok) {
                return Ok(v.expect("checked"));
            }
            last = v;
        }
        if start.elapsed() >= timeout {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}; last seen: {last:#?}");
        }
        tokio::time::sleep(POLL).await;
    }
}
