//! Which backend connections run the session's statement, recorded in its
//! activity (`crate::registry`) so KILL QUERY stops every one of them; in a
//! transaction, its other branches' connections too, so that deadlock
//! detection (`crate::deadlock`) knows whose locks are whose.

use std::sync::Arc;

use super::txn::Txn;
use super::Exec;
use crate::backend::Conn;

impl Exec<'_> {
    /// Adds a backend connection running part of the statement (a join side, a
    /// batch): KILL QUERY stops it too.
    pub(crate) fn also_running_on(&self, conn: &Conn) {
        note_running(&self.activity, conn, self.txn.as_deref());
    }

    /// Records (or clears) the backend connection running the statement.
    pub(super) fn running_on(&self, conn: Option<&Conn>) {
        let Some(a) = &self.activity else { return };
        if let Ok(mut a) = a.lock() {
            a.running_on.clear();
            if let Some(c) = conn {
                note(&mut a, c, self.txn.as_deref());
            }
        }
    }

    /// No backend connection runs the session's statement any more.
    pub(crate) fn clear_running(&self) {
        if let Some(a) = &self.activity {
            if let Ok(mut a) = a.lock() {
                a.running_on.clear();
            }
        }
    }
}

/// Adds `conn` to the backend connections running the session's statement (KILL
/// QUERY stops every one of them); `txn`: the open transaction, whose other
/// branches are recorded with it.
pub(super) fn note_running(
    activity: &Option<Arc<std::sync::Mutex<crate::registry::Activity>>>,
    conn: &Conn,
    txn: Option<&Txn>,
) {
    let Some(a) = activity else { return };
    if let Ok(mut a) = a.lock() {
        note(&mut a, conn, txn);
    }
}

fn note(a: &mut crate::registry::Activity, conn: &Conn, txn: Option<&Txn>) {
    // The instance the connection leads to (after a failover wait, not
    // necessarily the statement's snapshot's primary).
    a.running_on.push(backend_of(conn));
    a.branches.clear();
    if let Some(t) = txn {
        // The branches not running this statement (those are in `running_on`).
        a.branches.extend(t.conns.values().map(backend_of));
    }
}

fn backend_of(conn: &Conn) -> crate::registry::Backend {
    let o = conn.opts();
    (o.ip_or_hostname().to_string(), o.tcp_port(), conn.id())
}
