//! Whether a replica's replication SQL thread makes progress: it has transactions
//! received and not applied (`Gtid_IO_Pos` ahead of `@@gtid_current_pos`) and its
//! applied position has not moved since — how long is reported
//! (`HealthReport::sql_stalled_ms`), so that a replica whose applier waits behind a
//! lock (a prepared XA branch's, `crate::prepared`) does not count as replicating.

use std::time::Instant;

use topo::gtid::GtidPos;

/// Remembers the applied position and since when it has not moved.
#[derive(Debug, Default)]
pub struct StallWatch {
    last: Option<(String, Instant)>,
}

impl StallWatch {
    /// One probe's view: `applied` (`@@gtid_current_pos`), `received` (`Gtid_IO_Pos`),
    /// whether the SQL thread runs. Returns how long (ms) it has been stalled, if it is.
    pub fn observe(
        &mut self,
        applied: Option<&str>,
        received: Option<&str>,
        sql_running: bool,
        now: Instant,
    ) -> Option<u64> {
        let (Some(applied), Some(received), true) = (applied, received, sql_running) else {
            self.last = None;
            return None;
        };
        let waiting = match (GtidPos::parse(applied), GtidPos::parse(received)) {
            (Ok(a), Ok(r)) => a.gap_to(&r) > 0,
            _ => false,
        };
        match &self.last {
            Some((pos, since)) if waiting && pos == applied => {
                Some(now.saturating_duration_since(*since).as_millis() as u64)
            }
            _ => {
                self.last = Some((applied.to_string(), now));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stalled_only_with_work_waiting_and_no_progress() {
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        let mut w = StallWatch::default();
        // Caught up: never stalled.
        assert_eq!(w.observe(Some("0-1-5"), Some("0-1-5"), true, s(0)), None);
        assert_eq!(w.observe(Some("0-1-5"), Some("0-1-5"), true, s(9)), None);
        // Work arrives; nothing applied since the last probe that moved.
        assert_eq!(
            w.observe(Some("0-1-5"), Some("0-1-9"), true, s(10)),
            Some(1000)
        );
        assert_eq!(
            w.observe(Some("0-1-5"), Some("0-1-12"), true, s(30)),
            Some(21000)
        );
        // Progress resets it.
        assert_eq!(w.observe(Some("0-1-6"), Some("0-1-12"), true, s(31)), None);
        assert_eq!(
            w.observe(Some("0-1-6"), Some("0-1-12"), true, s(33)),
            Some(2000)
        );
        // A stopped SQL thread is reported as such elsewhere.
        assert_eq!(w.observe(Some("0-1-6"), Some("0-1-12"), false, s(34)), None);
        assert_eq!(w.observe(Some("0-1-6"), Some("0-1-12"), true, s(35)), None);
    }
}
