//! Getting a backend connection for a statement: pooled connections keyed by the
//! session's database and state, the wait for a primary during a failover, the
//! liveness guard around a statement that waits long, and the routing epoch and
//! `writes_blocked` checks that fence writes.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::Conn;
use topo::ClusterSnapshot;

use crate::backend::{Backends, PoolKey};
use crate::error::ProxyError;
use crate::routing::{Changes, Routing};

/// How to get a pooled connection for a session: its database, client flags and
/// session state.
pub struct Conns<'a> {
    pub backends: &'a Backends,
    /// The live routing: looked at again when `snap` names no reachable primary.
    pub routing: &'a Routing,
    /// Routing changes since `snap` was read (each guard takes a clone).
    pub changes: &'a Changes,
    pub snap: &'a ClusterSnapshot,
    pub db: Option<&'a str>,
    pub found_rows: bool,
    /// Session-state statements run on each new backend connection.
    pub init: Arc<Vec<String>>,
    /// The client's text encoding: what statement text becomes on the wire.
    pub codec: crate::front::charset::Codec,
}

/// How long a statement waits on a set before the gateway checks that the set's
/// primary still answers (a long query is fine; a stopped server is not).
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// How long that check may take.
const CHECK_WITHIN: Duration = Duration::from_secs(2);
/// How long it may take when the set's primary changed under a read (a failover:
/// the old one is most likely dead or hung, and its client should retry at once).
const CHECK_MOVED_WITHIN: Duration = Duration::from_millis(400);
/// While waiting for a primary: how soon one that refused connections is tried again.
const RETRY_REFUSED: Duration = Duration::from_millis(250);

/// The routing epoch of `set` in `snap` (0 for a set without record).
pub fn epoch_of(snap: &ClusterSnapshot, set: &str) -> u64 {
    snap.sets.get(set).map_or(0, |r| r.epoch)
}

/// Refuses a write to a set whose writes the scheduler blocked.
pub fn check_writable(snap: &ClusterSnapshot, set: &str) -> Result<(), ProxyError> {
    match snap.sets.get(set).and_then(|r| r.writes_blocked.as_deref()) {
        None => Ok(()),
        Some(reason) => {
            metrics::counter!(crate::metrics::BLOCKED_WRITES).increment(1);
            Err(ProxyError::WritesBlocked {
                set: set.to_string(),
                reason: reason.to_string(),
            })
        }
    }
}

/// Books a backend error for the set that work over several sets was given up for.
pub fn given_up(e: &ProxyError) {
    if let ProxyError::BackendLost { set, .. } | ProxyError::SetUnavailable { set, .. } = e {
        crate::observe::backend_given_up(set);
    }
}

/// Closes a connection whose statement was given up (its result never read): it
/// must not go back to a pool.
pub fn discard(conn: Conn) {
    tokio::spawn(async move {
        let _ = conn.disconnect().await;
    });
}

/// Runs `fut` — work on the sets `on` (each with the routing epoch its connection
/// was taken at) — until it ends, unless:
/// - routing changes under a write (`write`): the set's epoch moved (its primary
///   changed) or its writes were blocked (a commit waiting forever for a replica's
///   acknowledgement). The write is given up at once: its outcome is unknown.
/// - the set's primary stops answering: checked every few seconds, and at once
///   when the epoch of a set a read runs on moved.
pub async fn guard<T>(
    backends: &Backends,
    changes: &Changes,
    snap: &ClusterSnapshot,
    on: &[(&str, u64)],
    write: bool,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, ProxyError> {
    tokio::pin!(fut);
    let mut changes = changes.clone();
    let check = tokio::time::sleep(CHECK_AFTER);
    tokio::pin!(check);
    loop {
        let mut probe = false;
        let mut within = CHECK_WITHIN;
        tokio::select! {
            biased;
            r = &mut fut => return Ok(r),
            Ok(()) = changes.changed() => {
                let fresh = changes.borrow_and_update().clone();
                for &(set, epoch) in on {
                    let moved = epoch_of(&fresh, set) != epoch;
                    let blocked = fresh.sets.get(set).and_then(|r| r.writes_blocked.as_deref());
                    let why = match (write, moved, blocked) {
                        (true, true, _) => "its primary changed (failover or switchover)".to_string(),
                        (true, false, Some(reason)) => format!("its writes were blocked ({reason})"),
                        (false, true, _) => {
                            probe = true;
                            within = CHECK_MOVED_WITHIN;
                            continue;
                        }
                        _ => continue,
                    };
                    metrics::counter!(crate::metrics::INTERRUPTED).increment(1);
                    return Err(ProxyError::BackendLost {
                        set: set.to_string(),
                        detail: format!(
                            "{why} while the statement ran; it was given up and whether it took effect (a COMMIT included) is unknown"
                        ),
                    });
                }
            }
            _ = &mut check => probe = true,
        }
        if probe {
            check
                .as_mut()
                .reset(tokio::time::Instant::now() + CHECK_AFTER);
            for &(set, _) in on {
                let Some(node) = snap.primary_of(set) else {
                    continue;
                };
                if !backends.answers(&node.host, node.port, within).await {
                    let detail = format!(
                        "its primary {} stopped answering during the statement",
                        node.addr()
                    );
                    let set = set.to_string();
                    return Err(if write {
                        ProxyError::BackendLost {
                            set,
                            detail: format!(
                                "{detail}; whether it took effect (a COMMIT included) is unknown"
                            ),
                        }
                    } else {
                        ProxyError::SetUnavailable { set, detail }
                    });
                }
            }
        }
    }
}

impl Conns<'_> {
    /// Runs `fut` (work on `set`, connection taken at routing `epoch`) under
    /// [`guard`].
    pub async fn guarded<T>(
        &self,
        set: &str,
        epoch: u64,
        write: bool,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, ProxyError> {
        let started = std::time::Instant::now();
        let r = guard(
            self.backends,
            self.changes,
            self.snap,
            &[(set, epoch)],
            write,
            fut,
        )
        .await;
        crate::observe::backend(set, started.elapsed(), r.is_err());
        r
    }

    /// [`guarded`](Self::guarded) for work on several sets at once (each set's
    /// part books its own latency; the set it was given up for, an error).
    pub async fn guarded_sets<T>(
        &self,
        on: &[(&str, u64)],
        write: bool,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, ProxyError> {
        let r = guard(self.backends, self.changes, self.snap, on, write, fut).await;
        if let Err(e) = &r {
            given_up(e);
        }
        r
    }

    /// A pooled connection to the primary of `set`.
    pub async fn pooled(&self, set: &str) -> Result<Conn, ProxyError> {
        self.pooled_at(set).await.map(|(c, _)| c)
    }

    /// A pooled connection to the primary of `set`, and the set's routing epoch
    /// it was chosen at. With no primary in routing, or one that refuses
    /// connections (failover in progress), waits up to `failover_wait_ms` for
    /// routing to name a reachable one. Nothing has been sent while it waits.
    pub async fn pooled_at(&self, set: &str) -> Result<(Conn, u64), ProxyError> {
        let refused = match self.snap.primary_of(set) {
            Some(node) => match self.connect(set, node).await {
                Ok(c) => return Ok((c, epoch_of(self.snap, set))),
                Err(e @ ProxyError::SetUnavailable { .. }) => Some(e),
                Err(e) => return Err(e),
            },
            None => None,
        };
        self.wait_for_primary(set, refused).await
    }

    /// A pooled connection to the primary of `set` as routing names it now,
    /// without waiting (background work).
    pub async fn pooled_now(&self, set: &str) -> Result<Conn, ProxyError> {
        let node = self
            .snap
            .primary_of(set)
            .ok_or_else(|| ProxyError::SetUnavailable {
                set: set.into(),
                detail: "it has no primary".into(),
            })?;
        self.connect(set, node).await
    }

    /// The pool key of this session's connections to `node`, a node of `set`:
    /// the session's database if it lives on that set (a system schema lives
    /// on every set).
    pub fn key(&self, set: &str, node: &topo::NodeRecord) -> PoolKey {
        let db = self.db.filter(|d| {
            crate::route::place::is_system_schema(d)
                || self
                    .snap
                    .db(d)
                    .is_some_and(|r| r.sets().iter().any(|s| s == set))
        });
        PoolKey {
            host: node.host.clone(),
            port: node.port,
            db: db.map(str::to_string),
            found_rows: self.found_rows,
            init: self.init.clone(),
            worker: crate::backend::worker::current(),
            replica: false,
        }
    }

    async fn connect(&self, set: &str, node: &topo::NodeRecord) -> Result<Conn, ProxyError> {
        let key = self.key(set, node);
        let r = self.backends.get(set, &key).await;
        if let Err(ProxyError::SetUnavailable { .. }) = &r {
            crate::observe::backend_unreachable(set);
        }
        r
    }

    /// Waits (bounded by `failover_wait_ms`) for the live routing to name a primary
    /// of `set` that accepts a connection. `refused`: why the statement's own
    /// snapshot's primary could not be used, if it had one.
    async fn wait_for_primary(
        &self,
        set: &str,
        mut refused: Option<ProxyError>,
    ) -> Result<(Conn, u64), ProxyError> {
        let wait_ms = self.backends.config().failover_wait_ms;
        let epoch_at_start = epoch_of(&self.routing.get(), set);
        if let Some(ProxyError::SetUnavailable { detail, .. }) = &refused {
            if self.backends.waited_in_vain(set, epoch_at_start) {
                // Routing still names the primary that refuses, and an earlier
                // statement already waited the whole time for another: no failover is
                // under way; answer at once. (A fenced set, with no primary named, is
                // failing over: it is always waited for.)
                return Err(ProxyError::SetUnavailable {
                    set: set.into(),
                    detail: format!(
                        "{detail}; no new primary was named during an earlier wait of {wait_ms} ms"
                    ),
                });
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
        let mut changes = self.routing.subscribe();
        // The statement's snapshot's primary was just tried: not again at once.
        let mut just_tried = refused.is_some();
        loop {
            let snap = changes.borrow_and_update().clone();
            let primary = snap.primary_of(set);
            let same = |n: &topo::NodeRecord| {
                self.snap
                    .primary_of(set)
                    .is_some_and(|p| p.host == n.host && p.port == n.port)
            };
            if let Some(node) = primary.filter(|n| !(just_tried && same(n))) {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                match tokio::time::timeout(left, self.connect(set, node)).await {
                    Ok(Ok(c)) => {
                        metrics::counter!(crate::metrics::PRIMARY_WAITS, "outcome" => "found")
                            .increment(1);
                        self.backends.note_wait(set, None);
                        return Ok((c, epoch_of(&snap, set)));
                    }
                    Ok(Err(e @ ProxyError::SetUnavailable { .. })) => refused = Some(e),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {}
                }
            }
            just_tried = false;
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            // A named primary that refused is tried again shortly (it may be
            // restarting); otherwise only a routing change can help.
            let nap = if primary.is_some() {
                RETRY_REFUSED.min(deadline - now)
            } else {
                deadline - now
            };
            tokio::select! {
                r = changes.changed() => if r.is_err() { break },
                _ = tokio::time::sleep(nap) => {}
            }
        }
        metrics::counter!(crate::metrics::PRIMARY_WAITS, "outcome" => "timeout").increment(1);
        let live = self.routing.get();
        self.backends.note_wait(set, Some(epoch_of(&live, set)));
        let named = live.primary_of(set).is_some();
        let detail = match refused {
            Some(ProxyError::SetUnavailable { detail, .. }) if named => format!(
                "its primary does not accept connections ({detail}) and no other was named within {wait_ms} ms; it may be failing over"
            ),
            _ => format!("it is failing over: no primary was named within {wait_ms} ms"),
        };
        Err(ProxyError::SetUnavailable {
            set: set.into(),
            detail,
        })
    }
}
