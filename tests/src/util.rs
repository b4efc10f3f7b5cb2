//! Small helpers shared by the integration tests.

use std::time::Duration;

/// Bound for one client call to the gateway, a set or etcd.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether the tests run under CI (`CI` set and not empty, `0` or `false`): a
/// missing client is then a failure rather than a skip.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Awaits `f` within [`CALL_TIMEOUT`], panicking with `what` on a timeout or error.
pub async fn bounded<T>(what: &str, f: impl std::future::Future<Output = anyhow::Result<T>>) -> T {
    tokio::time::timeout(CALL_TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {CALL_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: {e:#}"))
}
