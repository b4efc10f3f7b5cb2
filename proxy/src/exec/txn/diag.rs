//! The diagnostics area of a transaction's last statement, kept past the
//! transaction's end: MariaDB's COMMIT and ROLLBACK leave it as it was, so
//! `SHOW WARNINGS` after them still lists the last statement's warnings.
//!
//! The branches holding them (`Txn::diag`) hand their connections to the
//! session as they end ([`KeptDiag::conns`]). The coordinator of a last-agent
//! commit writes its decision row first, which replaces its diagnostics area:
//! its conditions are read beforehand and kept as rows ([`KeptDiag::rows`]).

use std::sync::{Arc, Mutex};

use mysql_async::prelude::Queryable;

use crate::backend::Conn;

/// One row of `SHOW WARNINGS` (`Level`, `Code`, `Message`), as text.
pub type Cells = Vec<Option<Vec<u8>>>;

/// What the session gets back when a transaction ends.
#[derive(Default)]
pub struct KeptDiag {
    /// Connections whose diagnostics area is the last statement's, by set.
    pub conns: Vec<(String, Conn)>,
    /// Conditions read from a connection that could not keep them.
    pub rows: Vec<Cells>,
}

/// Shared between a transaction (which fills it as its branches end) and its
/// session (which takes it after the end).
pub type Kept = Arc<Mutex<KeptDiag>>;

/// A row's values as text cells.
pub fn cells(row: mysql_async::Row) -> Cells {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            mysql_async::Value::NULL => None,
            mysql_async::Value::Bytes(b) => Some(b),
            v => Some(v.as_sql(true).into_bytes()),
        })
        .collect()
}

/// Reads the conditions of `conn`'s diagnostics area into `kept` (best effort:
/// a failed read keeps none).
pub async fn stash(conn: &mut Conn, kept: &Kept) {
    let Ok(rows) = conn.query::<mysql_async::Row, _>("SHOW WARNINGS").await else {
        return;
    };
    if let Ok(mut k) = kept.lock() {
        k.rows.extend(rows.into_iter().map(cells));
    }
}
