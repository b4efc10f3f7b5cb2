//! Which backend connections run the session's statement, recorded in its
//! activity (`crate::registry`) so KILL QUERY stops every one of them.

use std::sync::Arc;

use super::Exec;
use crate::backend::Conn;

impl Exec<'_> {
    /// Adds a backend connection running part of the statement (a join side, a
    /// batch): KILL QUERY stops it too.
    pub(crate) fn also_running_on(&self, conn: &Conn) {
        note_running(&self.activity, conn);
    }

    /// Records (or clears) the backend connection running the statement.
    pub(super) fn running_on(&self, conn: Option<&Conn>) {
        self.clear_running();
        if let Some(c) = conn {
            note_running(&self.activity, c);
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
/// QUERY stops every one of them).
pub(super) fn note_running(
    activity: &Option<Arc<std::sync::Mutex<crate::registry::Activity>>>,
    conn: &Conn,
) {
    let Some(a) = activity else { return };
    if let Ok(mut a) = a.lock() {
        // The instance the connection leads to (after a failover wait, not
        // necessarily the statement's snapshot's primary).
        let o = conn.opts();
        a.running_on
            .push((o.ip_or_hostname().to_string(), o.tcp_port(), conn.id()));
    }
}
