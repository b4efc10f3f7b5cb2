//! A deadlock's victim, seen from its session: the mark the detector
//! (`crate::deadlock`) sets on the session's activity record before it interrupts the
//! waiting statement, and the answer the client gets for that interruption —
//! MariaDB's own for a deadlock (1213, 40001) instead of KILL QUERY's 1317.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::error::ProxyError;
use crate::registry::{Activity, Backend};

/// A session's activity record, as the client's answers look at it.
pub type Watch = Arc<Mutex<Activity>>;

/// ER_QUERY_INTERRUPTED: what a statement stopped by `KILL QUERY` gets.
const INTERRUPTED: u16 = 1317;

/// The error the client gets instead of `e`: a deadlock, when `e` is the
/// interruption of the statement the detector chose as a victim.
pub fn answer(watch: &Watch, e: &ProxyError) -> Option<ProxyError> {
    if e.code() != INTERRUPTED {
        return None;
    }
    let victim = watch.lock().is_ok_and(|a| a.deadlock_victim);
    victim.then_some(ProxyError::Deadlock)
}

/// Marks the session as a deadlock's victim if it still runs the statement
/// that started at `since` and that statement still runs on `waiting`: the
/// backend connections to interrupt, else `None` (the statement ended; the
/// mark is cleared with the session's next activity).
pub fn mark(watch: &Watch, since: Instant, waiting: &Backend) -> Option<Vec<Backend>> {
    let mut a = watch.lock().ok()?;
    let same = a.command == "Query" && a.since == since && a.running_on.contains(waiting);
    if !same {
        return None;
    }
    a.deadlock_victim = true;
    Some(a.running_on.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(on: &Backend) -> Watch {
        let w = Watch::default();
        {
            let mut a = w.lock().unwrap();
            a.command = "Query";
            a.running_on.push(on.clone());
        }
        w
    }

    #[test]
    fn only_the_marked_statement_s_interruption_becomes_a_deadlock() {
        let on: Backend = ("127.0.0.1".into(), 3306, 42);
        let w = running(&on);
        let killed = ProxyError::Backend {
            code: 1317,
            state: "70100".into(),
            message: "Query execution was interrupted".into(),
        };
        assert!(answer(&w, &killed).is_none(), "not a victim yet");
        let since = w.lock().unwrap().since;
        let other: Backend = ("127.0.0.1".into(), 3306, 43);
        assert!(mark(&w, since, &other).is_none(), "not waiting there");
        let stale = since + std::time::Duration::from_millis(1);
        assert!(mark(&w, stale, &on).is_none(), "another statement");
        assert_eq!(mark(&w, since, &on), Some(vec![on.clone()]));
        let e = answer(&w, &killed).expect("the victim's interruption");
        assert_eq!((e.code(), e.sqlstate()), (1213, "40001"));
        assert_eq!(
            e.to_string(),
            "Deadlock found when trying to get lock; try restarting transaction"
        );
        let timeout = ProxyError::Backend {
            code: 1205,
            state: "HY000".into(),
            message: "Lock wait timeout exceeded; try restarting transaction".into(),
        };
        assert!(answer(&w, &timeout).is_none(), "other errors pass");
    }
}
