//! The collation weights text shard keys are hashed by (`topo::weights`), read
//! from a set: when a table's key is created (its collation's id and PAD
//! attribute) and when a write needs a collation this process has not loaded
//! (`ProxyError::NeedWeights`, answered by the planning loops).

use topo::weights::{self, WeightsError};
use topo::KeyType;

use super::conns::Conns;
use crate::error::ProxyError;

/// Loads collation `id`'s weights from `set` unless loaded already.
pub async fn ensure(conns: &Conns<'_>, collation: u16, set: &str) -> Result<(), ProxyError> {
    if weights::weigher(collation).is_some() {
        return Ok(());
    }
    let mut conn = conns.pooled(set).await?;
    weights::load(&mut conn, collation)
        .await
        .map(|_| ())
        .map_err(|e| error(set, e))
}

/// The key type of a text shard key in collation `name`, its weights loaded:
/// refused for a collation whose weights are not per character.
pub async fn key_type(conns: &Conns<'_>, set: &str, name: &str) -> Result<KeyType, ProxyError> {
    let mut conn = conns.pooled(set).await?;
    let (id, pad) = weights::resolve(&mut conn, name)
        .await
        .map_err(|e| error(set, e))?;
    weights::load(&mut conn, id)
        .await
        .map_err(|e| error(set, e))?;
    Ok(KeyType::Weighted { collation: id, pad })
}

fn error(set: &str, e: WeightsError) -> ProxyError {
    match e {
        WeightsError::Unsupported(_) => ProxyError::NotSupported(e.to_string()),
        WeightsError::UnknownName(name) => ProxyError::Backend {
            code: 1273,
            state: "HY000".into(),
            message: format!("Unknown collation: '{name}'"),
        },
        WeightsError::Query(_, e) => ProxyError::from_backend(set, e),
        WeightsError::UnknownId(_) => ProxyError::Internal(e.to_string()),
    }
}
