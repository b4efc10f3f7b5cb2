//! A session's part of the read/write split: where it asked its reads to go
//! (`setwise_read_from`), whether the statement being run carries `/*slave*/`,
//! and its own writes per set (their GTIDs, or that a set was written at a
//! position not yet known) — what read-your-writes checks a replica against.

use std::collections::{BTreeMap, BTreeSet};

use topo::gtid::GtidPos;

use super::statement::ReadFrom;

#[derive(Debug, Default)]
pub struct SplitState {
    /// `SET setwise_read_from = ...` (None: the user's own setting).
    pub var: Option<ReadFrom>,
    /// The statement being run carries `/*slave*/`.
    pub hint: bool,
    /// A statement of the session carried the hint: its later writes' GTIDs are
    /// learnt as they happen (as for sessions reading from replicas anyway).
    pub hinted: bool,
    /// Set → the session's own writes there (their GTIDs, merged per domain).
    pub written: BTreeMap<String, GtidPos>,
    /// Sets written whose GTID is not known yet: learnt from the primary
    /// (`@@gtid_binlog_pos`, which covers them) before a replica read there.
    pub unknown: BTreeSet<String>,
}

impl SplitState {
    /// Where the session's reads go: its variable, else the user's setting.
    pub fn read_from(&self, user: ReadFrom) -> ReadFrom {
        self.var.unwrap_or(user)
    }

    /// Whether the statement being run asks for a replica.
    pub fn wants_replica(&self, user: ReadFrom) -> bool {
        self.hint || self.read_from(user) == ReadFrom::Replica
    }

    /// Whether each write's GTID is read right after it (one more round trip
    /// on the write's own connection): for sessions that read from replicas.
    pub fn tracks(&self, user: ReadFrom) -> bool {
        self.hinted || self.read_from(user) == ReadFrom::Replica
    }

    /// Records a write on `sets`; `gtids` are the `(set, @@last_gtid)` known.
    pub fn wrote<'a>(
        &mut self,
        sets: impl IntoIterator<Item = &'a str>,
        gtids: &[(String, String)],
    ) {
        for set in sets {
            match gtids.iter().find(|(s, _)| s == set) {
                Some((_, g)) => self.learnt(set, g),
                None => {
                    self.unknown.insert(set.to_string());
                }
            }
        }
    }

    /// The session's write on `set` is covered by `pos` (a GTID or position).
    pub fn learnt(&mut self, set: &str, pos: &str) {
        let pos = GtidPos::parse_lossy(pos);
        if !pos.is_empty() {
            self.written.entry(set.to_string()).or_default().merge(&pos);
        }
        self.unknown.remove(set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_known_and_unknown() {
        let mut s = SplitState::default();
        assert!(!s.wants_replica(ReadFrom::Primary));
        assert!(s.wants_replica(ReadFrom::Replica));
        s.var = Some(ReadFrom::Primary);
        assert!(!s.wants_replica(ReadFrom::Replica));
        s.hint = true;
        assert!(s.wants_replica(ReadFrom::Primary));
        s.wrote(["a", "b"], &[("a".into(), "0-1-5".into())]);
        assert!(s.unknown.contains("b") && !s.unknown.contains("a"));
        s.learnt("b", "0-1-9,1-1-2");
        assert!(s.unknown.is_empty());
        s.wrote(["a"], &[("a".into(), "0-1-7".into())]);
        assert_eq!(s.written["a"].to_string(), "0-1-7");
    }
}
