//! The gateway's client connections, by connection id: what `SHOW PROCESSLIST`
//! lists and what `KILL` acts on. Backend thread ids are never exposed: a client's
//! `KILL n` means the gateway connection `n`, not a MariaDB thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::task::AbortHandle;

/// A backend connection: (host, port, MariaDB thread id).
pub type Backend = (String, u16, u32);

/// What a connection is doing, updated by its session.
#[derive(Debug, Clone)]
pub struct Activity {
    pub user: String,
    pub host: String,
    pub db: Option<String>,
    /// `Sleep` or `Query`.
    pub command: &'static str,
    /// The statement being run (truncated).
    pub info: Option<String>,
    pub since: Instant,
    /// Backend connections running the statement.
    pub running_on: Vec<Backend>,
    /// While a statement of an open transaction runs: the transaction's other
    /// branches' connections (whose locks others may wait for;
    /// `crate::deadlock`).
    pub branches: Vec<Backend>,
    /// The statement running was chosen as a deadlock's victim: its
    /// interruption is answered 1213 (`crate::deadlock`). Cleared when the
    /// session's activity changes.
    pub deadlock_victim: bool,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            user: String::new(),
            host: String::new(),
            db: None,
            command: "Connect",
            info: None,
            since: Instant::now(),
            running_on: Vec::new(),
            branches: Vec::new(),
            deadlock_victim: false,
        }
    }
}

struct Entry {
    activity: Arc<Mutex<Activity>>,
    abort: Option<AbortHandle>,
}

#[derive(Default)]
pub struct Registry {
    map: Mutex<HashMap<u32, Entry>>,
}

/// Why a KILL was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum KillError {
    Unknown,
    NotOwner,
}

impl Registry {
    /// Registers connection `id`; returns the activity record its session updates.
    pub fn add(&self, id: u32) -> Arc<Mutex<Activity>> {
        let activity = Arc::new(Mutex::new(Activity::default()));
        self.map.lock().expect("registry").insert(
            id,
            Entry {
                activity: activity.clone(),
                abort: None,
            },
        );
        activity
    }

    /// Client connections registered now (the metrics port's gauge).
    pub fn len(&self) -> usize {
        self.map.lock().expect("registry").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Attaches the task serving connection `id` (so KILL can stop it).
    pub fn set_abort(&self, id: u32, abort: AbortHandle) {
        if let Some(e) = self.map.lock().expect("registry").get_mut(&id) {
            e.abort = Some(abort);
        }
    }

    pub fn remove(&self, id: u32) {
        self.map.lock().expect("registry").remove(&id);
    }

    /// Closes connection `id` on behalf of `user` (who must own it).
    pub fn kill(&self, id: u32, user: &str) -> Result<(), KillError> {
        let map = self.map.lock().expect("registry");
        let e = map.get(&id).ok_or(KillError::Unknown)?;
        if e.activity.lock().expect("activity").user != user {
            return Err(KillError::NotOwner);
        }
        if let Some(a) = &e.abort {
            a.abort();
        }
        Ok(())
    }

    /// Where connection `id` is running a statement, if `user` owns it, and
    /// whether it is between statements or just starting one (`Query` with no
    /// backend yet).
    pub fn running(&self, id: u32, user: &str) -> Result<(Vec<Backend>, bool), KillError> {
        let map = self.map.lock().expect("registry");
        let e = map.get(&id).ok_or(KillError::Unknown)?;
        let a = e.activity.lock().expect("activity");
        if a.user != user {
            return Err(KillError::NotOwner);
        }
        let starting = a.command == "Query" && a.running_on.is_empty();
        Ok((a.running_on.clone(), starting))
    }

    /// The activity records of the connections running a statement that
    /// started at least `min` ago on some backend connection (what
    /// `crate::deadlock` looks at).
    pub fn running_longer(&self, min: std::time::Duration) -> Vec<(u32, Arc<Mutex<Activity>>)> {
        let map = self.map.lock().expect("registry");
        map.iter()
            .filter(|(_, e)| {
                e.activity.lock().is_ok_and(|a| {
                    a.command == "Query" && !a.running_on.is_empty() && a.since.elapsed() >= min
                })
            })
            .map(|(id, e)| (*id, e.activity.clone()))
            .collect()
    }

    /// The connections of `user`, by id.
    pub fn list(&self, user: &str) -> Vec<(u32, Activity)> {
        let map = self.map.lock().expect("registry");
        let mut out: Vec<(u32, Activity)> = map
            .iter()
            .map(|(id, e)| (*id, e.activity.lock().expect("activity").clone()))
            .filter(|(_, a)| a.user == user)
            .collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_needs_the_owner() {
        let r = Registry::default();
        let a = r.add(7);
        a.lock().unwrap().user = "app".into();
        assert_eq!(r.kill(7, "bob"), Err(KillError::NotOwner));
        assert_eq!(r.kill(8, "app"), Err(KillError::Unknown));
        assert_eq!(r.kill(7, "app"), Ok(()));
        assert_eq!(r.list("app").len(), 1);
        r.remove(7);
        assert!(r.list("app").is_empty());
    }
}
