//! Errors of the topo layer.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum TopoError {
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
    #[error("etcd unreachable at {endpoints}: {source}")]
    Unreachable {
        endpoints: String,
        source: etcd_client::Error,
    },
    #[error("bad record at {key}: {source}")]
    Decode {
        key: String,
        source: serde_json::Error,
    },
    #[error("encode record: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("{what} not found: {name}")]
    NotFound { what: &'static str, name: String },
    #[error("concurrent change to {key}: compare-and-swap lost")]
    CasConflict { key: String },
    #[error("invalid {what}: {why}")]
    Invalid { what: &'static str, why: String },
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = TopoError> = std::result::Result<T, E>;
