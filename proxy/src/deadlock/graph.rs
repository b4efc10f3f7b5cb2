//! The wait-for graph between this gateway's sessions (an edge `a → b`: a
//! statement of session `a` waits on some set for a lock a branch of session
//! `b` holds), its cycles, and the victim that ends each: as InnoDB chooses,
//! the transaction that changed the fewest rows, else the youngest.

use std::collections::{BTreeMap, BTreeSet};

/// A gateway session: its connection id.
pub type Session = u32;

/// How much rolling a session's transaction back would undo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weight {
    /// Rows its branches changed (`INNODB_TRX.trx_rows_modified`, summed).
    pub rows_modified: u64,
    /// When its oldest branch started (`trx_started`, Unix seconds): the
    /// larger, the younger the transaction.
    pub started: i64,
}

/// The sessions to roll back so that no cycle is left, each with the cycle
/// it ends (in wait order, starting at the victim). One victim per cycle:
/// a victim leaves the graph before the next cycle is looked for, so two
/// cycles through one session cost one victim.
pub fn victims(
    edges: &[(Session, Session)],
    weight: impl Fn(Session) -> Weight,
) -> Vec<(Session, Vec<Session>)> {
    let mut graph: BTreeMap<Session, BTreeSet<Session>> = BTreeMap::new();
    for &(a, b) in edges {
        if a != b {
            graph.entry(a).or_default().insert(b);
        }
    }
    let mut out = Vec::new();
    // Each round removes a session: bounded by their number.
    for _ in 0..=graph.len() {
        let Some(cycle) = find_cycle(&graph) else {
            break;
        };
        let victim = choose(&cycle, &weight);
        let at = cycle.iter().position(|s| *s == victim).unwrap_or(0);
        let mut ordered = cycle[at..].to_vec();
        ordered.extend_from_slice(&cycle[..at]);
        graph.remove(&victim);
        for next in graph.values_mut() {
            next.remove(&victim);
        }
        out.push((victim, ordered));
    }
    out
}

/// The session of `cycle` to roll back: the fewest rows changed, then the
/// youngest transaction, then the newest connection.
pub fn choose(cycle: &[Session], weight: impl Fn(Session) -> Weight) -> Session {
    cycle
        .iter()
        .copied()
        .min_by_key(|s| {
            let w = weight(*s);
            (
                w.rows_modified,
                std::cmp::Reverse(w.started),
                std::cmp::Reverse(*s),
            )
        })
        .unwrap_or_default()
}

/// A cycle of `graph` (its sessions in wait order), if it has one: a depth-first
/// walk from each session in turn, in order, so the answer is deterministic.
pub fn find_cycle(graph: &BTreeMap<Session, BTreeSet<Session>>) -> Option<Vec<Session>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        OnPath,
        Done,
    }
    let mut seen: BTreeMap<Session, Seen> = BTreeMap::new();
    let none = BTreeSet::new();
    for &root in graph.keys() {
        if seen.contains_key(&root) {
            continue;
        }
        // The path from `root`, each session with the waits not yet followed.
        let mut path: Vec<(Session, std::collections::btree_set::Iter<'_, Session>)> =
            vec![(root, graph.get(&root).unwrap_or(&none).iter())];
        seen.insert(root, Seen::OnPath);
        while let Some((_, next)) = path.last_mut() {
            match next.next().copied() {
                Some(n) => match seen.get(&n) {
                    Some(Seen::OnPath) => {
                        let from = path.iter().position(|(s, _)| *s == n)?;
                        return Some(path[from..].iter().map(|(s, _)| *s).collect());
                    }
                    Some(Seen::Done) => {}
                    None => {
                        seen.insert(n, Seen::OnPath);
                        path.push((n, graph.get(&n).unwrap_or(&none).iter()));
                    }
                },
                None => {
                    if let Some((s, _)) = path.pop() {
                        seen.insert(s, Seen::Done);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[(Session, u64)]) -> impl Fn(Session) -> Weight + '_ {
        move |s| Weight {
            rows_modified: r.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n),
            started: 100,
        }
    }

    #[test]
    fn no_cycle_no_victim() {
        // A waits for B, B for C: a chain ends when C commits.
        assert!(victims(&[(1, 2), (2, 3)], rows(&[])).is_empty());
        // Two waiting for one, and a diamond.
        assert!(victims(&[(1, 3), (2, 3), (1, 2)], rows(&[])).is_empty());
        assert!(victims(&[(1, 2), (1, 3), (2, 4), (3, 4)], rows(&[])).is_empty());
        assert!(victims(&[], rows(&[])).is_empty());
        // A session never waits for itself (two of its own branches).
        assert!(victims(&[(1, 1)], rows(&[])).is_empty());
    }

    #[test]
    fn two_sessions_the_one_that_changed_fewer_rows_goes() {
        let v = victims(&[(1, 2), (2, 1)], rows(&[(1, 5), (2, 2)]));
        assert_eq!(v, vec![(2, vec![2, 1])]);
        let v = victims(&[(1, 2), (2, 1)], rows(&[(1, 1), (2, 2)]));
        assert_eq!(v, vec![(1, vec![1, 2])]);
    }

    #[test]
    fn equal_rows_the_youngest_goes_then_the_newest_connection() {
        let w = |s: Session| Weight {
            rows_modified: 1,
            started: if s == 7 { 200 } else { 100 },
        };
        assert_eq!(choose(&[3, 7, 9], w), 7);
        let same = |_| Weight {
            rows_modified: 1,
            started: 100,
        };
        assert_eq!(choose(&[3, 9, 7], same), 9);
    }

    #[test]
    fn three_sessions_in_a_ring_and_a_bystander() {
        // 4 waits for 1 but is not in the ring 1 → 2 → 3 → 1.
        let edges = [(1, 2), (2, 3), (3, 1), (4, 1)];
        let v = victims(&edges, rows(&[(1, 3), (2, 1), (3, 2), (4, 0)]));
        assert_eq!(v, vec![(2, vec![2, 3, 1])]);
    }

    #[test]
    fn one_victim_per_cycle_and_a_shared_one_counts_once() {
        // Two separate rings.
        let v = victims(
            &[(1, 2), (2, 1), (3, 4), (4, 3)],
            rows(&[(1, 1), (3, 1), (2, 9), (4, 9)]),
        );
        let who: Vec<Session> = v.iter().map(|(s, _)| *s).collect();
        assert_eq!(who, vec![1, 3]);
        // Two rings through session 1, which changed the fewest rows: it
        // alone goes.
        let v = victims(
            &[(1, 2), (2, 1), (1, 3), (3, 1)],
            rows(&[(1, 0), (2, 5), (3, 5)]),
        );
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, 1);
        // The same rings, session 1 the heaviest: one victim per ring.
        let v = victims(
            &[(1, 2), (2, 1), (1, 3), (3, 1)],
            rows(&[(1, 9), (2, 5), (3, 5)]),
        );
        let who: BTreeSet<Session> = v.iter().map(|(s, _)| *s).collect();
        assert_eq!(who, BTreeSet::from([2, 3]));
    }

    #[test]
    fn a_long_ring_is_found_whole() {
        let n = 50u32;
        let edges: Vec<(Session, Session)> = (1..=n).map(|s| (s, s % n + 1)).collect();
        let v = victims(&edges, rows(&[(17, 0)]));
        assert_eq!(v.len(), 1);
        // Every other session changed 0 rows too: the newest connection goes.
        assert_eq!(v[0].0, n);
        assert_eq!(v[0].1.len(), n as usize);
    }
}
