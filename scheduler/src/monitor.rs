//! The leader's health monitor: from the agents' health reports, tells per set whether
//! its primary looks alive, and logs changes; failover acts on [`Monitor::suspects`]
//! (see [`crate::control`]).
//!
//! [`assess`] is a pure function of the records; [`Monitor`] remembers each set's
//! verdict across rounds (since when, how many rounds in a row).

use std::collections::BTreeMap;

use topo::{HealthReport, NodeRecord, Role, SetRecord};
use tracing::{info, warn};

/// What one round of reports says about a set's primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The primary reports itself readable (writable or not).
    Healthy { primary: String },
    /// No node of the set has role primary.
    NoPrimary,
    /// More than one node claims the primary role.
    ManyPrimaries { primaries: Vec<String> },
    /// The primary's agent has no live report (agent down or its lease expired).
    NoReport { primary: String },
    /// The report is older than `stale_ms`.
    Stale { primary: String, age_ms: u64 },
    /// The agent reports the primary unreadable.
    Unreadable { primary: String, error: String },
    /// The agent sees the primary's process stopped by the kernel (SIGSTOP, a
    /// frozen host): certain at once, no confirmation needed.
    Frozen { primary: String, error: String },
    /// Readable, `read_only` OFF, but the heartbeat write failed or hangs (e.g. a
    /// strong-sync primary without an acknowledging replica).
    NotWritable { primary: String, error: String },
}

impl Verdict {
    pub fn is_healthy(&self) -> bool {
        matches!(self, Verdict::Healthy { .. })
    }

    /// Whether the primary itself looks dead (what a failover acts on), as opposed to a
    /// topology problem or a primary that is alive but cannot commit.
    pub fn primary_down(&self) -> bool {
        matches!(
            self,
            Verdict::NoReport { .. }
                | Verdict::Stale { .. }
                | Verdict::Unreadable { .. }
                | Verdict::Frozen { .. }
        )
    }

    /// Whether the verdict is certain without waiting rounds or probing the primary
    /// from here (the agent beside it saw the process stopped).
    pub fn certain(&self) -> bool {
        matches!(self, Verdict::Frozen { .. })
    }

    /// One line for the logs.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Healthy { primary } => format!("primary {primary} is healthy"),
            Verdict::NoPrimary => "no node has the primary role".into(),
            Verdict::ManyPrimaries { primaries } => {
                format!("several primaries: {}", primaries.join(","))
            }
            Verdict::NoReport { primary } => format!("primary {primary} has no health report"),
            Verdict::Stale { primary, age_ms } => {
                format!("primary {primary}'s last health report is {age_ms} ms old")
            }
            Verdict::Unreadable { primary, error } => {
                format!("primary {primary} is unreadable: {error}")
            }
            Verdict::Frozen { primary, error } => format!("primary {primary} is hung: {error}"),
            Verdict::NotWritable { primary, error } => {
                format!("primary {primary} is not writable: {error}")
            }
        }
    }
}

/// Judges every set from its nodes and the current health reports.
pub fn assess(
    sets: &[SetRecord],
    nodes: &[NodeRecord],
    health: &[HealthReport],
    now_ms: u64,
    stale_ms: u64,
) -> BTreeMap<String, Verdict> {
    let mut out = BTreeMap::new();
    for set in sets {
        let primaries: Vec<&NodeRecord> = nodes
            .iter()
            .filter(|n| n.set == set.name && n.role == Role::Primary)
            .collect();
        let verdict = match primaries.as_slice() {
            [] => Verdict::NoPrimary,
            [p] => {
                let primary = p.id.clone();
                match health.iter().find(|h| h.set == p.set && h.node == p.id) {
                    None => Verdict::NoReport { primary },
                    Some(h) if now_ms.saturating_sub(h.at_ms) > stale_ms => Verdict::Stale {
                        primary,
                        age_ms: now_ms.saturating_sub(h.at_ms),
                    },
                    Some(h) if h.frozen => Verdict::Frozen {
                        primary,
                        error: h.error.clone().unwrap_or_else(|| "frozen".into()),
                    },
                    Some(h) if !h.readable => Verdict::Unreadable {
                        primary,
                        error: h.error.clone().unwrap_or_else(|| "no error text".into()),
                    },
                    Some(h) if h.read_only == Some(false) && !h.writable => Verdict::NotWritable {
                        primary,
                        error: h.error.clone().unwrap_or_else(|| "no error text".into()),
                    },
                    Some(_) => Verdict::Healthy { primary },
                }
            }
            many => Verdict::ManyPrimaries {
                primaries: many.iter().map(|n| n.id.clone()).collect(),
            },
        };
        out.insert(set.name.clone(), verdict);
    }
    out
}

/// A set's verdict and how long it has held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetState {
    pub verdict: Verdict,
    /// When this verdict was first seen (ms).
    pub since_ms: u64,
    /// Consecutive rounds with this verdict.
    pub rounds: u32,
}

/// A change of a set's verdict, as returned by [`Monitor::observe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub set: String,
    pub before: Option<Verdict>,
    pub after: Verdict,
}

/// Remembers verdicts across rounds.
#[derive(Debug, Default)]
pub struct Monitor {
    sets: BTreeMap<String, SetState>,
    last_remind: u64,
}

impl Monitor {
    /// Records one round; returns the sets whose verdict changed (new sets included).
    /// Sets no longer present are forgotten.
    pub fn observe(&mut self, verdicts: BTreeMap<String, Verdict>, now_ms: u64) -> Vec<Change> {
        self.sets.retain(|name, _| verdicts.contains_key(name));
        let mut changes = Vec::new();
        for (set, verdict) in verdicts {
            match self.sets.get_mut(&set) {
                Some(st) if st.verdict == verdict => st.rounds += 1,
                Some(st) => {
                    changes.push(Change {
                        set: set.clone(),
                        before: Some(st.verdict.clone()),
                        after: verdict.clone(),
                    });
                    *st = SetState {
                        verdict,
                        since_ms: now_ms,
                        rounds: 1,
                    };
                }
                None => {
                    changes.push(Change {
                        set: set.clone(),
                        before: None,
                        after: verdict.clone(),
                    });
                    self.sets.insert(
                        set,
                        SetState {
                            verdict,
                            since_ms: now_ms,
                            rounds: 1,
                        },
                    );
                }
            }
        }
        changes
    }

    pub fn state(&self, set: &str) -> Option<&SetState> {
        self.sets.get(set)
    }

    /// Sets whose primary currently looks unhealthy.
    pub fn suspects(&self) -> impl Iterator<Item = (&str, &SetState)> {
        self.sets
            .iter()
            .filter(|(_, st)| !st.verdict.is_healthy())
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// How often a persisting problem is logged again.
const REMIND_EVERY_MS: u64 = 30_000;

impl Monitor {
    /// Judges one round of records, logs what changed (and, every 30 s, what is still
    /// wrong) and returns the changes.
    pub fn round(
        &mut self,
        sets: &[SetRecord],
        nodes: &[NodeRecord],
        health: &[HealthReport],
        now: u64,
        stale_ms: u64,
    ) -> Vec<Change> {
        let changes = self.observe(assess(sets, nodes, health, now, stale_ms), now);
        for c in &changes {
            if c.after.is_healthy() {
                if c.before.is_some() {
                    info!(set = %c.set, "set recovered: {}", c.after.describe());
                } else {
                    info!(set = %c.set, "{}", c.after.describe());
                }
            } else {
                warn!(set = %c.set, "set unhealthy: {}", c.after.describe());
            }
        }
        if now.saturating_sub(self.last_remind) >= REMIND_EVERY_MS {
            self.last_remind = now;
            for (set, st) in self.suspects() {
                if st.rounds > 1 {
                    warn!(
                        set,
                        for_ms = now.saturating_sub(st.since_ms),
                        "set still unhealthy: {}",
                        st.verdict.describe()
                    );
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::SyncMode;

    fn set(name: &str) -> SetRecord {
        SetRecord::new(name, SyncMode::Strong)
    }
    fn node(id: &str, set: &str, role: Role) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            set: set.into(),
            host: "127.0.0.1".into(),
            port: 3306,
            role,
            rejoin: None,
        }
    }
    fn report(node: &str, set: &str, at_ms: u64, readable: bool) -> HealthReport {
        HealthReport {
            node: node.into(),
            set: set.into(),
            at_ms,
            readable,
            error: (!readable).then(|| "connect: refused".into()),
            ..Default::default()
        }
    }

    #[test]
    fn verdicts() {
        let sets = ["a", "b", "c", "d", "e", "f", "g"].map(set);
        let nodes = vec![
            node("a0", "a", Role::Primary),
            node("a1", "a", Role::Replica),
            node("b0", "b", Role::Primary),
            node("c0", "c", Role::Primary),
            node("d0", "d", Role::Primary),
            node("e1", "e", Role::Replica),
            node("f0", "f", Role::Primary),
            node("f1", "f", Role::Primary),
            node("g0", "g", Role::Primary),
        ];
        let health = vec![
            report("a0", "a", 9_500, true),
            report("a1", "a", 1_000, false),
            report("c0", "c", 9_000, false),
            report("d0", "d", 1_000, true),
            HealthReport {
                read_only: Some(false),
                writable: false,
                error: Some("heartbeat write timed out".into()),
                ..report("g0", "g", 9_900, true)
            },
        ];
        let v = assess(&sets, &nodes, &health, 10_000, 5_000);
        assert_eq!(
            v["a"],
            Verdict::Healthy {
                primary: "a0".into()
            }
        );
        assert_eq!(
            v["b"],
            Verdict::NoReport {
                primary: "b0".into()
            }
        );
        assert_eq!(
            v["c"],
            Verdict::Unreadable {
                primary: "c0".into(),
                error: "connect: refused".into()
            }
        );
        assert_eq!(
            v["d"],
            Verdict::Stale {
                primary: "d0".into(),
                age_ms: 9_000
            }
        );
        assert_eq!(v["e"], Verdict::NoPrimary);
        assert!(matches!(&v["f"], Verdict::ManyPrimaries { primaries } if primaries.len() == 2));
        assert!(matches!(&v["g"], Verdict::NotWritable { primary, .. } if primary == "g0"));
        let down: Vec<&str> = v
            .iter()
            .filter(|(_, v)| v.primary_down())
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(down, ["b", "c", "d"]);
    }

    #[test]
    fn monitor_tracks_changes() {
        let mut m = Monitor::default();
        let healthy = || Verdict::Healthy {
            primary: "a0".into(),
        };
        let down = || Verdict::NoReport {
            primary: "a0".into(),
        };
        let round = |v: Verdict| BTreeMap::from([("a".to_string(), v)]);

        let c = m.observe(round(healthy()), 1_000);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].before, None);
        assert!(m.observe(round(healthy()), 2_000).is_empty());
        assert_eq!(m.state("a").unwrap().rounds, 2);
        assert_eq!(m.suspects().count(), 0);

        let c = m.observe(round(down()), 3_000);
        assert_eq!(c[0].before, Some(healthy()));
        m.observe(round(down()), 4_000);
        let (name, st) = m.suspects().next().unwrap();
        assert_eq!((name, st.since_ms, st.rounds), ("a", 3_000, 2));

        assert!(m.observe(BTreeMap::new(), 5_000).is_empty());
        assert!(m.state("a").is_none());
    }
}
