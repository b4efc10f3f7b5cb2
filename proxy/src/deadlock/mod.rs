//! Deadlocks through several sets. Each set's InnoDB sees only its own lock
//! waits: session A holding a row on set1 and waiting on set2 for a row B
//! holds, while B waits on set1 for A's row, is a cycle neither set sees, and
//! both clients would wait for `innodb_lock_wait_timeout`. This task finds
//! such cycles among this gateway's sessions and ends each as MariaDB ends a
//! deadlock on one server: one transaction (the victim) is rolled back on
//! every set and its client gets 1213 (40001); the others go on.
//!
//! It costs nothing while no statement runs long: every half `interval_ms` it
//! looks at the sessions' activity records (`crate::registry`), and only when
//! two statements have run longer than `interval_ms` does it read the lock
//! waits of their backend threads on those sets' primaries ([`probe`]). From
//! them it builds the wait-for graph between sessions (a thread maps to the
//! session whose statement runs on it, or whose open transaction holds it as
//! a branch: `crate::exec`'s running record), finds the cycles and chooses
//! each one's victim ([`graph`]: fewest rows changed, then youngest). A cycle
//! is acted on only if a second reading still shows every wait of it; then
//! the victim's statement is marked ([`victim`]) and interrupted (`KILL
//! QUERY` on each backend thread running it), its client is answered 1213
//! instead of 1317, and its session rolls the transaction back on every set.
//! Cycles through sessions of other gateways are not seen: they end by the
//! lock wait timeout, as before.

pub mod graph;
mod probe;
use crate::deadlock_victim as victim;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::registry::Backend;
use crate::shared::Shared;
use graph::{Session, Weight};
use probe::{Ask, Host, Probes, Seen};

/// Most sessions looked at in one round (the oldest statements first).
const MAX_SESSIONS: usize = 1000;

/// InnoDB refreshes what `information_schema.INNODB_TRX` and
/// `INNODB_LOCK_WAITS` show only when they were not read for 100 ms
/// (`CACHE_MIN_IDLE_TIME_US`): reads closer together see the same old
/// picture, and reads that never pause freeze it. So the detector's reads of
/// one instance are never closer than this.
const READS_APART: Duration = Duration::from_millis(150);

/// Starts the detector, unless `[deadlock] enabled` is off.
pub fn start(shared: Arc<Shared>) {
    if shared.cfg.deadlock.enabled {
        tokio::spawn(run(shared));
    }
}

async fn run(shared: Arc<Shared>) {
    let wait = Duration::from_millis(shared.cfg.deadlock.interval_ms.max(1));
    let mut tick = tokio::time::interval((wait / 2).max(READS_APART + READS_APART));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut probes = Probes::default();
    loop {
        tick.tick().await;
        let long = shared.registry.running_longer(wait);
        if long.len() < 2 {
            // A cycle needs two sessions.
            probes.close();
            continue;
        }
        round(&shared, &mut probes, long).await;
    }
}

/// A session whose statement runs long, as its activity record showed it.
struct Waiter {
    id: Session,
    watch: victim::Watch,
    since: Instant,
    /// The backend threads running its statement.
    running: Vec<Backend>,
    /// Those and its transaction's other branches.
    threads: Vec<Backend>,
}

/// An edge of the graph: the thread whose wait it is, by session pair.
type Edges = BTreeMap<(Session, Session), Backend>;

/// One round: read the lock waits, find the cycles, end each.
async fn round(shared: &Shared, probes: &mut Probes, long: Vec<(u32, victim::Watch)>) {
    let mut waiters = snapshot(long);
    waiters.sort_by_key(|w| w.since);
    waiters.truncate(MAX_SESSIONS);
    let owner = owners(&waiters);
    let asks = asks(&waiters);
    metrics::counter!(crate::metrics::DEADLOCK_PROBES).increment(1);
    let seen = probes.read(&shared.backends, &asks, true).await;
    let edges = edges_of(&seen, &owner, &waiters);
    if edges.is_empty() {
        return;
    }
    let weights = weights(&seen, &owner, &waiters);
    let list: Vec<(Session, Session)> = edges.keys().copied().collect();
    let found = graph::victims(&list, |s| weights.get(&s).copied().unwrap_or_default());
    if found.is_empty() {
        return;
    }
    // Read again where the cycles wait, once InnoDB shows a new picture: each
    // of their waits must still be there (the two readings are not one
    // snapshot of every set).
    tokio::time::sleep(READS_APART).await;
    let members: BTreeSet<Session> = found.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    let again: Vec<(Host, Ask)> = asks
        .into_iter()
        .filter_map(|(host, ask)| {
            let waiting: BTreeSet<u32> = ask
                .waiting
                .into_iter()
                .filter(|t| {
                    owner
                        .get(&(host.0.clone(), host.1, *t))
                        .is_some_and(|i| members.contains(&waiters[*i].id))
                })
                .collect();
            (!waiting.is_empty()).then(|| {
                let ask = Ask {
                    waiting,
                    ours: BTreeSet::new(),
                };
                (host, ask)
            })
        })
        .collect();
    let seen = probes.read(&shared.backends, &again, false).await;
    let still = edges_of(&seen, &owner, &waiters);
    let by_id: HashMap<Session, &Waiter> = waiters.iter().map(|w| (w.id, w)).collect();
    for (victim, cycle) in found {
        let pairs: Vec<(Session, Session)> = (0..cycle.len())
            .map(|i| (cycle[i], cycle[(i + 1) % cycle.len()]))
            .collect();
        if !pairs.iter().all(|p| still.contains_key(p)) {
            continue;
        }
        let (Some(w), Some(on)) = (by_id.get(&victim), edges.get(&pairs[0])) else {
            continue;
        };
        end(shared, w, on, &cycle, weights.get(&victim).copied()).await;
    }
}

/// Marks the victim's statement and interrupts it on every thread running it.
async fn end(shared: &Shared, w: &Waiter, on: &Backend, cycle: &[Session], weight: Option<Weight>) {
    let Some(threads) = victim::mark(&w.watch, w.since, on) else {
        // Its statement ended meanwhile: so did the cycle.
        return;
    };
    metrics::counter!(crate::metrics::DEADLOCKS).increment(1);
    tracing::warn!(
        victim = w.id,
        cycle = ?cycle,
        rows_modified = weight.map_or(0, |x| x.rows_modified),
        waiting_on = %format!("{}:{} thread {}", on.0, on.1, on.2),
        "deadlock through several sets: the victim's transaction is rolled back (1213)"
    );
    futures::future::join_all(
        threads
            .iter()
            .map(|(host, port, thread)| shared.backends.kill_query(host, *port, *thread)),
    )
    .await;
}

/// The sessions' statements as their activity records show them now.
fn snapshot(long: Vec<(u32, victim::Watch)>) -> Vec<Waiter> {
    long.into_iter()
        .filter_map(|(id, watch)| {
            let (since, running, threads) = {
                let a = watch.lock().ok()?;
                if a.command != "Query" || a.running_on.is_empty() {
                    return None;
                }
                let mut threads = a.running_on.clone();
                threads.extend(a.branches.iter().cloned());
                (a.since, a.running_on.clone(), threads)
            };
            Some(Waiter {
                id,
                watch,
                since,
                running,
                threads,
            })
        })
        .collect()
}

/// Each backend thread of the waiters, by the waiter (index) it belongs to. A
/// thread two records name (a connection that changed hands between two
/// looks) is left out.
fn owners(waiters: &[Waiter]) -> HashMap<Backend, usize> {
    let mut owner: HashMap<Backend, usize> = HashMap::new();
    let mut shared: BTreeSet<Backend> = BTreeSet::new();
    for (i, w) in waiters.iter().enumerate() {
        for t in &w.threads {
            if let Some(j) = owner.insert(t.clone(), i) {
                if j != i {
                    shared.insert(t.clone());
                }
            }
        }
    }
    for t in shared {
        owner.remove(&t);
    }
    owner
}

/// What to ask each instance the waiters' threads are on.
fn asks(waiters: &[Waiter]) -> Vec<(Host, Ask)> {
    let mut asks: BTreeMap<Host, Ask> = BTreeMap::new();
    for w in waiters {
        for (host, port, t) in &w.running {
            asks.entry((host.clone(), *port))
                .or_default()
                .waiting
                .insert(*t);
        }
        for (host, port, t) in &w.threads {
            asks.entry((host.clone(), *port))
                .or_default()
                .ours
                .insert(*t);
        }
    }
    asks.into_iter().collect()
}

/// The wait-for edges between sessions that the instances showed.
fn edges_of(seen: &[(Host, Seen)], owner: &HashMap<Backend, usize>, waiters: &[Waiter]) -> Edges {
    let mut out = Edges::new();
    for ((host, port), s) in seen {
        for (req, blk) in &s.waits {
            let req: Backend = (host.clone(), *port, *req);
            let blk: Backend = (host.clone(), *port, *blk);
            let (Some(&a), Some(&b)) = (owner.get(&req), owner.get(&blk)) else {
                continue;
            };
            // The waiting thread runs the statement (not an idle branch).
            if a != b && waiters[a].running.contains(&req) {
                out.entry((waiters[a].id, waiters[b].id)).or_insert(req);
            }
        }
    }
    out
}

/// Each waiter's weight: rows changed over all its branches, and when its
/// oldest branch started.
fn weights(
    seen: &[(Host, Seen)],
    owner: &HashMap<Backend, usize>,
    waiters: &[Waiter],
) -> HashMap<Session, Weight> {
    let mut out: HashMap<Session, Weight> = HashMap::new();
    for ((host, port), s) in seen {
        for (t, rows, started) in &s.trx {
            let Some(&i) = owner.get(&(host.clone(), *port, *t)) else {
                continue;
            };
            let w = out.entry(waiters[i].id).or_insert(Weight {
                rows_modified: 0,
                started: *started,
            });
            w.rows_modified += rows;
            w.started = w.started.min(*started);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, thread: u32) -> Backend {
        (host.to_string(), 3306, thread)
    }

    fn waiter(id: Session, running: &[Backend], branches: &[Backend]) -> Waiter {
        let mut threads = running.to_vec();
        threads.extend_from_slice(branches);
        Waiter {
            id,
            watch: victim::Watch::default(),
            since: Instant::now(),
            running: running.to_vec(),
            threads,
        }
    }

    fn seen(host: &str, waits: &[(u32, u32)], trx: &[(u32, u64, i64)]) -> (Host, Seen) {
        let s = Seen {
            waits: waits.to_vec(),
            trx: trx.to_vec(),
        };
        ((host.to_string(), 3306), s)
    }

    #[test]
    fn threads_map_to_sessions_and_waits_to_edges() {
        // Session 1 runs on s2:10 and holds a branch on s1:11; session 2 runs
        // on s1:20 and holds s2:21. Each waits for the other's branch.
        let w = vec![
            waiter(1, &[t("s2", 10)], &[t("s1", 11)]),
            waiter(2, &[t("s1", 20)], &[t("s2", 21)]),
        ];
        let owner = owners(&w);
        assert_eq!(owner.get(&t("s1", 11)), Some(&0));
        let asks = asks(&w);
        let s1 = &asks.iter().find(|(h, _)| h.0 == "s1").unwrap().1;
        assert_eq!(s1.waiting, BTreeSet::from([20]));
        assert_eq!(s1.ours, BTreeSet::from([11, 20]));
        let read = vec![
            seen("s1", &[(20, 11), (99, 20)], &[(11, 3, 100), (20, 0, 100)]),
            seen("s2", &[(10, 21)], &[(10, 0, 90), (21, 1, 120)]),
        ];
        let e = edges_of(&read, &owner, &w);
        // The wait of a thread of no session here (99) is no edge.
        let pairs: Vec<_> = e.keys().copied().collect();
        assert_eq!(pairs, vec![(1, 2), (2, 1)]);
        assert_eq!(e[&(1, 2)], t("s2", 10));
        let weights = weights(&read, &owner, &w);
        assert_eq!(
            weights[&1],
            Weight {
                rows_modified: 3,
                started: 90
            }
        );
        assert_eq!(weights[&2].rows_modified, 1);
        let found = graph::victims(&pairs, |s| weights[&s]);
        assert_eq!(found, vec![(2, vec![2, 1])]);
    }

    #[test]
    fn a_thread_two_sessions_name_and_an_idle_branch_s_wait_are_no_edges() {
        // s1:5 named by both (a connection that changed hands between looks).
        let w = vec![
            waiter(1, &[t("s1", 10)], &[t("s1", 5)]),
            waiter(2, &[t("s1", 20)], &[t("s1", 5), t("s1", 21)]),
        ];
        let owner = owners(&w);
        assert!(!owner.contains_key(&t("s1", 5)));
        // 21 is session 2's idle branch: it cannot be waiting; 10 waits for
        // the shared thread.
        let read = vec![seen("s1", &[(21, 10), (10, 5)], &[])];
        assert!(edges_of(&read, &owner, &w).is_empty());
    }
}
