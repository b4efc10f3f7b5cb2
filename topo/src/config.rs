//! The `[etcd]` section shared by every Setwise program's config file.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EtcdConfig {
    /// etcd client URLs, e.g. `["http://127.0.0.1:2379"]`.
    pub endpoints: Vec<String>,
    /// Cluster name: every key lives under `/setwise/<cluster>/`.
    pub cluster: String,
    /// Connect and per-request timeout, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        Self {
            endpoints: vec!["http://127.0.0.1:2379".into()],
            cluster: "local".into(),
            timeout_ms: 3000,
        }
    }
}
