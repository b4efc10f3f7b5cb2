//! The metrics port's address once bound (`crate::metrics_port` serves it):
//! this gateway's etcd registration names it.

static ADDR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The metrics port's address (`host:port`), once bound: this gateway's etcd
/// registration names it (`setwise digests` finds it there).
pub fn addr() -> Option<String> {
    ADDR.get().cloned()
}

/// Records the metrics port's address (when it is bound, before the gateway registers).
pub fn bound(addr: std::net::SocketAddr) {
    let _ = ADDR.set(addr.to_string());
}
