//! MariaDB GTID positions (`@@gtid_binlog_pos`, `Gtid_IO_Pos`, ...): parsing and the
//! comparisons failover needs. A position is one `domain-server-seq` per replication
//! domain; with `gtid_strict_mode` sequence numbers grow within a domain, so one
//! position is "at least" another when it is at least as far in every domain.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// One GTID: `domain-server-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gtid {
    pub domain: u32,
    pub server: u32,
    pub seq: u64,
}

/// A position: the last GTID of each domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GtidPos {
    domains: BTreeMap<u32, Gtid>,
}

impl GtidPos {
    /// Parses `"0-101-5,1-102-7"` (empty text = empty position). Whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut domains = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.split('-');
            let (Some(d), Some(s), Some(q), None) = (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(format!("bad GTID {part:?}"));
            };
            let bad = |_| format!("bad GTID {part:?}");
            let g = Gtid {
                domain: d.parse().map_err(bad)?,
                server: s.parse().map_err(bad)?,
                seq: q.parse().map_err(bad)?,
            };
            domains.insert(g.domain, g);
        }
        Ok(Self { domains })
    }

    /// Parses, treating unparsable text as an empty position.
    pub fn parse_lossy(text: &str) -> Self {
        Self::parse(text).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    pub fn domain(&self, d: u32) -> Option<&Gtid> {
        self.domains.get(&d)
    }

    /// The last GTID of each domain, in domain order.
    pub fn iter(&self) -> impl Iterator<Item = &Gtid> {
        self.domains.values()
    }

    /// Makes `g` the position of its domain (earlier or later than before).
    pub fn set(&mut self, g: Gtid) {
        self.domains.insert(g.domain, g);
    }

    /// Forgets domain `d` (the position then starts that domain from its beginning).
    pub fn remove(&mut self, d: u32) {
        self.domains.remove(&d);
    }

    /// Whether every transaction up to `other` is also within `self` (per domain,
    /// `self`'s sequence number is at least `other`'s).
    pub fn contains(&self, other: &GtidPos) -> bool {
        other
            .domains
            .values()
            .all(|o| self.domains.get(&o.domain).is_some_and(|s| s.seq >= o.seq))
    }

    /// Takes in `other`: per domain, the later of the two GTIDs.
    pub fn merge(&mut self, other: &GtidPos) {
        for o in other.domains.values() {
            let e = self.domains.entry(o.domain).or_insert(*o);
            if o.seq > e.seq {
                *e = *o;
            }
        }
    }

    /// The earlier of two positions: per domain, the GTID with the lower sequence
    /// number; a domain missing from either is missing from the result (replaying
    /// from it starts that domain at its beginning). Everything up to the result is
    /// within both positions.
    pub fn meet(&self, other: &GtidPos) -> GtidPos {
        let domains = self
            .domains
            .values()
            .filter_map(|a| {
                let b = other.domains.get(&a.domain)?;
                Some((a.domain, if b.seq < a.seq { *b } else { *a }))
            })
            .collect();
        GtidPos { domains }
    }

    /// How many transactions `self` lacks to reach `ahead` (summed over domains).
    pub fn gap_to(&self, ahead: &GtidPos) -> u64 {
        ahead
            .domains
            .values()
            .map(|a| {
                let mine = self.domains.get(&a.domain).map(|g| g.seq).unwrap_or(0);
                a.seq.saturating_sub(mine)
            })
            .sum()
    }

    /// Total order used to elect the most advanced replica: containment first, then
    /// the sum of sequence numbers (positions that do not contain each other only
    /// happen with several domains).
    pub fn advance_cmp(&self, other: &GtidPos) -> Ordering {
        match (self.contains(other), other.contains(self)) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.seq_sum().cmp(&other.seq_sum()),
        }
    }

    fn seq_sum(&self) -> u64 {
        self.domains.values().map(|g| g.seq).sum()
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for g in self.domains.values() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}-{}-{}", g.domain, g.server, g.seq)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> GtidPos {
        GtidPos::parse(s).unwrap()
    }

    #[test]
    fn merge_keeps_the_later_per_domain() {
        let mut a = p("0-1-5,1-2-3");
        a.merge(&p("0-1-4,2-1-9"));
        assert_eq!(a, p("0-1-5,1-2-3,2-1-9"));
        a.merge(&p("1-3-7"));
        assert!(a.contains(&p("1-3-7")) && a.contains(&p("0-1-5")));
    }

    #[test]
    fn meet_keeps_the_earlier_per_domain() {
        assert_eq!(p("0-201-257").meet(&p("0-201-256")), p("0-201-256"));
        assert_eq!(p("0-101-181").meet(&p("0-101-184")), p("0-101-181"));
        assert_eq!(p("0-1-5,1-2-9").meet(&p("0-3-7,1-2-3")), p("0-1-5,1-2-3"));
        // A domain one side lacks starts from its beginning.
        assert_eq!(p("0-1-5,1-2-9").meet(&p("0-1-5")), p("0-1-5"));
        assert_eq!(p("").meet(&p("0-1-5")), p(""));
        let (a, b) = (p("0-1-5,1-2-9"), p("0-3-7,1-2-3,2-1-1"));
        assert!(a.contains(&a.meet(&b)) && b.contains(&a.meet(&b)));
    }

    #[test]
    fn parse_and_print() {
        assert_eq!(p("0-101-5, 1-102-7").to_string(), "0-101-5,1-102-7");
        assert!(p("").is_empty());
        assert!(GtidPos::parse("0-1").is_err());
        assert!(GtidPos::parse("a-1-2").is_err());
        assert_eq!(GtidPos::parse_lossy("junk"), GtidPos::default());
    }

    #[test]
    fn containment_and_gap() {
        assert!(p("0-101-5").contains(&p("0-101-5")));
        assert!(p("0-102-6").contains(&p("0-101-5")));
        assert!(!p("0-101-4").contains(&p("0-101-5")));
        assert!(p("0-101-4").contains(&p("")));
        assert!(!p("").contains(&p("0-1-1")));
        assert!(!p("0-1-9").contains(&p("0-1-1,1-1-1")));
        assert_eq!(p("0-101-3").gap_to(&p("0-101-10,1-5-2")), 9);
        assert_eq!(p("0-101-30").gap_to(&p("0-101-10")), 0);
    }

    #[test]
    fn election_order() {
        assert_eq!(p("0-1-5").advance_cmp(&p("0-1-4")), Ordering::Greater);
        assert_eq!(p("0-1-5").advance_cmp(&p("0-2-5")), Ordering::Equal);
        assert_eq!(p("").advance_cmp(&p("0-1-1")), Ordering::Less);
        assert_eq!(
            p("0-1-5,1-1-1").advance_cmp(&p("0-1-3,1-1-2")),
            Ordering::Greater
        );
    }
}
