//! Executing a [`Plan`] on the sets' primaries and writing the merged answer to the
//! client. Rows stream: a scatter is written set after set, row by row, never
//! collected.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use topo::ClusterSnapshot;

use crate::backend::{Backends, PoolKey};
use crate::error::ProxyError;
use crate::front::{OkInfo, Responder};
use crate::merge::{stream, MergeSpec};
use crate::route::{Merge, Plan, Target};
use crate::routing::{Changes, Routing};
use crate::session::txn::Txn;

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
}

/// How long a statement waits on a set before the gateway checks that the set's
/// primary still answers (a long query is fine; a stopped server is not).
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// How long that check may take.
const CHECK_WITHIN: Duration = Duration::from_secs(2);
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
                if !backends.answers(&node.host, node.port, CHECK_WITHIN).await {
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
        guard(
            self.backends,
            self.changes,
            self.snap,
            &[(set, epoch)],
            write,
            fut,
        )
        .await
    }

    /// [`guarded`](Self::guarded) for work on several sets at once.
    pub async fn guarded_sets<T>(
        &self,
        on: &[(&str, u64)],
        write: bool,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, ProxyError> {
        guard(self.backends, self.changes, self.snap, on, write, fut).await
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

    async fn connect(&self, set: &str, node: &topo::NodeRecord) -> Result<Conn, ProxyError> {
        let db = self.db.filter(|d| {
            self.snap
                .db(d)
                .is_some_and(|r| r.sets().iter().any(|s| s == set))
        });
        let key = PoolKey {
            host: node.host.clone(),
            port: node.port,
            db: db.map(str::to_string),
            found_rows: self.found_rows,
            init: self.init.clone(),
        };
        self.backends.get(set, &key).await
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
        let named = self.routing.get().primary_of(set).is_some();
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

/// What one statement runs against: pooled connections, or the session's
/// transaction when one is open.
pub struct Exec<'a> {
    pub conns: Conns<'a>,
    pub txn: Option<&'a mut Txn>,
    /// Whether the statement may write (matters inside a transaction).
    pub write: bool,
    /// Keep the OK of a write here instead of sending it (the caller commits first).
    pub held: Option<Option<OkInfo>>,
    /// The session's activity record: where its statement runs (for KILL QUERY).
    pub activity: Option<Arc<std::sync::Mutex<crate::registry::Activity>>>,
    /// Outside a transaction: the connection of a one-set statement that left
    /// warnings or an error, kept so `SHOW WARNINGS` can read them there.
    pub diagnostics: Option<(String, Conn)>,
    keep: Option<()>,
}

/// A one-set statement: text, or prepared with typed parameters.
enum Work<'s> {
    Text(&'s str),
    Prepared(&'s str, Vec<Value>),
}

/// `Ok(true)`: answered; `Ok(false)`: an error was sent to the client;
/// `Err`: the client connection broke.
pub type Answered = io::Result<bool>;

impl<'a> Exec<'a> {
    pub fn new(conns: Conns<'a>, txn: Option<&'a mut Txn>) -> Self {
        Self {
            conns,
            txn,
            write: true,
            held: None,
            activity: None,
            diagnostics: None,
            keep: None,
        }
    }
}

impl Exec<'_> {
    pub fn snap(&self) -> &ClusterSnapshot {
        self.conns.snap
    }

    /// A connection for `set`: the transaction's, or a pooled one.
    pub async fn take(&mut self, set: &str) -> Result<Conn, ProxyError> {
        self.take_at(set).await.map(|(c, _)| c)
    }

    /// A connection for `set` and the routing epoch of the primary it leads to:
    /// the transaction's (a transaction a set's primary changed under is fenced
    /// here), or a pooled one. A write to a set whose writes are blocked is refused.
    pub async fn take_at(&mut self, set: &str) -> Result<(Conn, u64), ProxyError> {
        if self.write {
            check_writable(self.conns.snap, set)?;
        }
        match self.txn.as_deref_mut() {
            Some(t) => {
                t.take(set, self.write, self.conns.snap, self.conns.pooled_at(set))
                    .await
            }
            None => self.conns.pooled_at(set).await,
        }
    }

    /// Returns a connection taken with [`take`](Self::take); outside a transaction
    /// one holding diagnostics (warnings, an error) is kept in `diagnostics`.
    pub fn give_back(&mut self, set: &str, conn: Conn, err: Option<&ProxyError>) {
        if let Some(t) = self.txn.as_deref_mut() {
            t.give_back(set, conn, err);
        } else if matches!(
            err,
            Some(ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. })
        ) {
            // Broken, or its statement was given up: never reused.
            discard(conn);
        } else if self.keep.take().is_some() {
            self.diagnostics = Some((set.to_string(), conn));
        } else {
            release(conn);
        }
    }

    /// Marks the connection about to be given back as holding diagnostics when it
    /// has warnings or MariaDB refused the statement.
    fn keep_diagnostics(&mut self, _set: &str, conn: &Conn, err: Option<&ProxyError>) {
        let diag = conn.get_warnings() > 0 || matches!(err, Some(ProxyError::Backend { .. }));
        if diag && self.txn.is_none() {
            self.keep = Some(());
        }
    }

    pub async fn run(&mut self, plan: &Plan, sql: &str, out: &mut Responder<'_>) -> Answered {
        match (&plan.target, &plan.merge) {
            (Target::Sets(sets), Merge::Single) => self.single(&sets[0], sql, out).await,
            (Target::Sets(sets), Merge::Concat) => self.concat(sets, sql, out).await,
            (Target::Sets(sets), Merge::Merged(spec)) => self.merged(sets, spec, out).await,
            (Target::Sets(sets), merge) => {
                let parts: Vec<(&str, &str)> = sets.iter().map(|s| (s.as_str(), sql)).collect();
                self.writes(&parts, merge, out, false).await
            }
            (Target::PerSet(parts), merge) => {
                let parts: Vec<(&str, &str)> = parts
                    .iter()
                    .map(|(s, q)| (s.as_str(), q.as_str()))
                    .collect();
                self.writes(&parts, merge, out, true).await
            }
        }
    }

    /// One set: every result of the statement passes through as MariaDB sent it.
    pub async fn single(&mut self, set: &str, sql: &str, out: &mut Responder<'_>) -> Answered {
        self.one(set, Work::Text(sql), out).await
    }

    /// One set, as a prepared statement executed there with typed `values` (binary
    /// protocol end to end).
    pub async fn single_prepared(
        &mut self,
        set: &str,
        sql: &str,
        values: Vec<Value>,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.one(set, Work::Prepared(sql, values), out).await
    }

    /// Records (or clears) the backend connection running the statement.
    fn running_on(&self, conn: Option<&Conn>) {
        self.clear_running();
        if let Some(c) = conn {
            note_running(&self.activity, c);
        }
    }

    /// No backend connection runs the session's statement any more.
    fn clear_running(&self) {
        if let Some(a) = &self.activity {
            if let Ok(mut a) = a.lock() {
                a.running_on.clear();
            }
        }
    }

    async fn one(&mut self, set: &str, work: Work<'_>, out: &mut Responder<'_>) -> Answered {
        let (mut conn, epoch) = match self.take_at(set).await {
            Ok(c) => c,
            Err(e) => return fail(out, &e).await,
        };
        self.running_on(Some(&conn));
        let run = async {
            match work {
                Work::Text(sql) => stream_all(&mut conn, set, sql, out).await,
                Work::Prepared(sql, values) => {
                    exec_prepared(&mut conn, set, sql, values, out).await
                }
            }
        };
        let r = match self.conns.guarded(set, epoch, self.write, run).await {
            Ok(r) => r,
            Err(e) => Ok(Err(e)),
        };
        self.running_on(None);
        let err = r.as_ref().ok().and_then(|r| r.as_ref().err());
        self.keep_diagnostics(set, &conn, err);
        self.give_back(set, conn, err);
        match r? {
            Ok(()) => Ok(true),
            Err(e) => fail(out, &e).await,
        }
    }

    /// Several sets, rows concatenated; column definitions from the first set.
    async fn concat(&mut self, sets: &[String], sql: &str, out: &mut Responder<'_>) -> Answered {
        let mut warnings = 0u16;
        let mut started = false;
        for set in sets {
            let (mut conn, epoch) = match self.take_at(set).await {
                Ok(c) => c,
                Err(e) => return fail(out, &e).await,
            };
            self.running_on(Some(&conn));
            let r = match self
                .conns
                .guarded(
                    set,
                    epoch,
                    self.write,
                    stream_rows(&mut conn, set, sql, !started, out),
                )
                .await
            {
                Ok(r) => r,
                Err(e) => Ok(Err(e)),
            };
            self.running_on(None);
            self.give_back(set, conn, r.as_ref().ok().and_then(|r| r.as_ref().err()));
            match r? {
                Ok(w) => warnings = warnings.saturating_add(w),
                Err(e) => return fail(out, &e).await,
            }
            started = true;
        }
        out.end_rows(warnings).await?;
        Ok(true)
    }

    /// Several sets, their rows merged by the gateway (sort, group, limit).
    async fn merged(
        &mut self,
        sets: &[String],
        spec: &MergeSpec,
        out: &mut Responder<'_>,
    ) -> Answered {
        let shown = match &spec.columns_sql {
            Some(q) => match self.columns_of(&sets[0], q).await {
                Ok(c) => Some(c),
                Err(e) => return fail(out, &e).await,
            },
            None => None,
        };
        let mut streams = Vec::with_capacity(sets.len());
        let mut on = Vec::with_capacity(sets.len());
        for set in sets {
            match self.take_at(set).await {
                Ok((c, epoch)) => {
                    on.push((set.as_str(), epoch));
                    note_running(&self.activity, &c);
                    streams.push(stream::spawn(set, c, spec.sql.clone()))
                }
                Err(e) => {
                    self.clear_running();
                    self.recover(streams).await;
                    return fail(out, &e).await;
                }
            }
        }
        let r = self
            .conns
            .guarded_sets(
                &on,
                self.write,
                crate::merge::run::run(spec, &mut streams, shown, out),
            )
            .await;
        self.clear_running();
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                // The stream tasks stay behind on the stuck set; their connections
                // are not reused.
                for s in streams {
                    s.task.abort();
                }
                if let Some(t) = self.txn.as_deref_mut() {
                    t.broken = Some(e.to_string());
                }
                return fail(out, &e).await;
            }
        };
        self.recover(streams).await;
        r
    }

    /// The column definitions of `sql` on `set` (for [`MergeSpec::columns_sql`]).
    async fn columns_of(
        &mut self,
        set: &str,
        sql: &str,
    ) -> Result<std::sync::Arc<[mysql_common::packets::Column]>, ProxyError> {
        let (mut conn, epoch) = self.take_at(set).await?;
        let r = self
            .conns
            .guarded(
                set,
                epoch,
                self.write,
                stream::columns_of(&mut conn, set, sql),
            )
            .await
            .and_then(|r| r);
        self.give_back(set, conn, r.as_ref().err());
        r
    }

    /// Waits for the per-set tasks and returns their connections.
    async fn recover(&mut self, streams: Vec<stream::SetStream>) {
        for s in streams {
            drop(s.rx);
            if let Ok(conn) = s.task.await {
                self.give_back(&s.set, conn, None);
            }
        }
    }

    /// Writes on several sets (at once when no transaction is open); OKs merged.
    async fn writes(
        &mut self,
        parts: &[(&str, &str)],
        merge: &Merge,
        out: &mut Responder<'_>,
        insert_split: bool,
    ) -> Answered {
        let mut oks = Vec::with_capacity(parts.len());
        if self.txn.is_none() {
            for (set, _) in parts {
                if let Err(e) = check_writable(self.conns.snap, set) {
                    return fail(out, &e).await;
                }
            }
            let conns = &self.conns;
            let activity = &self.activity;
            let results = join_all(parts.iter().map(|(set, sql)| async move {
                let (mut c, epoch) = conns.pooled_at(set).await?;
                note_running(activity, &c);
                match conns
                    .guarded(set, epoch, true, write_one(&mut c, set, sql))
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        discard(c);
                        Err(e)
                    }
                }
            }))
            .await;
            self.clear_running();
            for r in results {
                match r {
                    Ok(ok) => oks.push(ok),
                    Err(e) => return fail(out, &e).await,
                }
            }
        } else {
            for (set, sql) in parts {
                let (mut conn, epoch) = match self.take_at(set).await {
                    Ok(c) => c,
                    Err(e) => return fail(out, &e).await,
                };
                self.running_on(Some(&conn));
                let r = match self
                    .conns
                    .guarded(set, epoch, true, write_one(&mut conn, set, sql))
                    .await
                {
                    Ok(r) => r,
                    Err(e) => Err(e),
                };
                self.running_on(None);
                self.give_back(set, conn, r.as_ref().err());
                match r {
                    Ok(ok) => oks.push(ok),
                    Err(e) => return fail(out, &e).await,
                }
            }
        }
        let ok = match merge {
            Merge::Replicated => oks.into_iter().next().unwrap_or_default(),
            _ => sum_oks(oks, insert_split),
        };
        match self.held.as_mut() {
            Some(slot) => *slot = Some(ok),
            None => out.ok(&ok).await?,
        }
        Ok(true)
    }
}

/// Adds `conn` to the backend connections running the session's statement (KILL
/// QUERY stops every one of them).
fn note_running(activity: &Option<Arc<std::sync::Mutex<crate::registry::Activity>>>, conn: &Conn) {
    let Some(a) = activity else { return };
    if let Ok(mut a) = a.lock() {
        // The instance the connection leads to (after a failover wait, not
        // necessarily the statement's snapshot's primary).
        let o = conn.opts();
        a.running_on
            .push((o.ip_or_hostname().to_string(), o.tcp_port(), conn.id()));
    }
}

/// Runs `sql` on `conn` and writes all its results to the client. The outer error
/// is the client's connection; the inner one a backend error not yet sent.
pub(crate) async fn stream_all(
    conn: &mut Conn,
    set: &str,
    sql: &str,
    out: &mut Responder<'_>,
) -> io::Result<Result<(), ProxyError>> {
    let mut res = match conn.query_iter(sql).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
    };
    let more_after = out.more_results();
    loop {
        let cols = res.columns().filter(|c| !c.is_empty());
        if let Some(cols) = cols {
            out.columns(&cols).await?;
            loop {
                match res.next().await {
                    Ok(Some(row)) => write_row(out, &row).await?,
                    Ok(None) => break,
                    Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
                }
            }
            out.set_more_results(!res.is_empty() || more_after);
            out.end_rows(res.warnings()).await?;
        } else {
            let ok = ok_of(&res);
            if let Err(e) = res.next().await {
                return Ok(Err(ProxyError::from_backend(set, e)));
            }
            out.set_more_results(!res.is_empty() || more_after);
            out.ok(&ok).await?;
        }
        if res.is_empty() {
            break;
        }
    }
    out.set_more_results(more_after);
    Ok(Ok(()))
}

async fn exec_prepared(
    conn: &mut Conn,
    set: &str,
    sql: &str,
    values: Vec<Value>,
    out: &mut Responder<'_>,
) -> io::Result<Result<(), ProxyError>> {
    let params = if values.is_empty() {
        mysql_async::Params::Empty
    } else {
        mysql_async::Params::Positional(values)
    };
    let mut res = match conn.exec_iter(sql, params).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
    };
    let more_after = out.more_results();
    match res.columns().filter(|c| !c.is_empty()) {
        Some(cols) => {
            out.columns(&cols).await?;
            loop {
                match res.next().await {
                    Ok(Some(row)) => {
                        let vals: Vec<Value> = (0..row.len())
                            .map(|i| row.as_ref(i).cloned().unwrap_or(Value::NULL))
                            .collect();
                        out.values_row(&vals).await?;
                    }
                    Ok(None) => break,
                    Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
                }
            }
            out.set_more_results(more_after);
            out.end_rows(res.warnings()).await?;
        }
        None => {
            let ok = ok_of(&res);
            if let Err(e) = res.drop_result().await {
                return Ok(Err(ProxyError::from_backend(set, e)));
            }
            out.ok(&ok).await?;
        }
    }
    Ok(Ok(()))
}

/// Streams the rows of `sql` (one result set); writes the column definitions first
/// when `with_columns`. Returns the warning count.
async fn stream_rows(
    conn: &mut Conn,
    set: &str,
    sql: &str,
    with_columns: bool,
    out: &mut Responder<'_>,
) -> io::Result<Result<u16, ProxyError>> {
    let mut res = match conn.query_iter(sql).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
    };
    if with_columns {
        let cols = res.columns().unwrap_or_default();
        out.columns(&cols).await?;
    }
    loop {
        match res.next().await {
            Ok(Some(row)) => write_row(out, &row).await?,
            Ok(None) => break,
            Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
        }
    }
    Ok(Ok(res.warnings()))
}

async fn write_one(conn: &mut Conn, set: &str, sql: &str) -> Result<OkInfo, ProxyError> {
    let res = conn
        .query_iter(sql)
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    let ok = ok_of(&res);
    res.drop_result()
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    Ok(ok)
}

/// A statement that uses a table, so MariaDB starts a new diagnostics area.
pub const CLEAR_DIAGNOSTICS: &str = "SELECT 1 FROM information_schema.CHARACTER_SETS LIMIT 0";

/// Returns a connection to its pool; one that still carries warnings or an error
/// is cleared first (in the background), so the next session never sees them.
pub fn release(mut conn: Conn) {
    if conn.get_warnings() == 0 {
        return;
    }
    tokio::spawn(async move {
        use mysql_async::prelude::Queryable;
        let _ = conn.query_drop(CLEAR_DIAGNOSTICS).await;
    });
}

/// The OK a statement's result reports (affected rows, insert id, warnings, info).
fn ok_of<P: mysql_async::prelude::Protocol>(res: &mysql_async::QueryResult<'_, '_, P>) -> OkInfo {
    OkInfo {
        affected_rows: res.affected_rows(),
        last_insert_id: res.last_insert_id().unwrap_or(0),
        warnings: res.warnings(),
        info: res.info().into_owned(),
    }
}

async fn fail(out: &mut Responder<'_>, e: &ProxyError) -> Answered {
    out.error(e).await?;
    Ok(false)
}

async fn write_row(out: &mut Responder<'_>, row: &mysql_async::Row) -> io::Result<()> {
    let n = row.len();
    out.text_row((0..n).map(|i| match row.as_ref(i) {
        Some(Value::Bytes(b)) => Some(b.as_slice()),
        Some(Value::NULL) | None => None,
        // The text protocol only yields bytes and NULL.
        Some(_) => None,
    }))
    .await
}

/// Sums OK packets of disjoint writes: affected rows, warnings, and the numbers in
/// `info` ("Records: 3  Duplicates: 0  Warnings: 0", "Rows matched: 1  Changed: 1 ...").
/// `insert_split`: the parts of one multi-row INSERT; MariaDB sends no info for a
/// one-row part, so its counters are derived (affected 1 = new row; 0 or 2 = the
/// row met a duplicate: ignored, unchanged, updated or replaced).
pub fn sum_oks(mut oks: Vec<OkInfo>, insert_split: bool) -> OkInfo {
    if insert_split {
        for ok in oks.iter_mut().filter(|o| o.info.is_empty()) {
            let dup = u64::from(ok.affected_rows != 1);
            ok.info = format!("Records: 1  Duplicates: {dup}  Warnings: {}", ok.warnings);
        }
    }
    let mut total = OkInfo::default();
    let mut info_nums: Option<(Vec<String>, Vec<u64>)> = None;
    for ok in oks {
        total.affected_rows += ok.affected_rows;
        total.warnings = total.warnings.saturating_add(ok.warnings);
        if total.last_insert_id == 0 {
            total.last_insert_id = ok.last_insert_id;
        }
        if let Some((labels, nums)) = parse_info(&ok.info) {
            match &mut info_nums {
                None => info_nums = Some((labels, nums)),
                Some((l, n)) if *l == labels => {
                    for (a, b) in n.iter_mut().zip(nums) {
                        *a += b;
                    }
                }
                Some(_) => {}
            }
        }
    }
    if let Some((labels, nums)) = info_nums {
        total.info = labels
            .iter()
            .zip(nums)
            .map(|(l, n)| format!("{l}: {n}"))
            .collect::<Vec<_>>()
            .join("  ");
    }
    total
}

fn parse_info(info: &str) -> Option<(Vec<String>, Vec<u64>)> {
    let mut labels = Vec::new();
    let mut nums = Vec::new();
    for part in info.split("  ").filter(|p| !p.trim().is_empty()) {
        let (l, n) = part.split_once(':')?;
        labels.push(l.trim().to_string());
        nums.push(n.trim().parse().ok()?);
    }
    (!labels.is_empty()).then_some((labels, nums))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_info_of_one_row_parts() {
        let one = |affected, warnings| OkInfo {
            affected_rows: affected,
            last_insert_id: 0,
            warnings,
            info: String::new(),
        };
        // INSERT IGNORE of a duplicate (0, 1 warning) and a new row (1).
        let s = sum_oks(vec![one(0, 1), one(1, 0)], true);
        assert_eq!(s.info, "Records: 2  Duplicates: 1  Warnings: 1");
        // REPLACE over an existing row (2) and a new one (1).
        let s = sum_oks(vec![one(2, 0), one(1, 0)], true);
        assert_eq!(s.info, "Records: 2  Duplicates: 1  Warnings: 0");
        assert_eq!(s.affected_rows, 3);
    }

    #[test]
    fn sums_info() {
        let a = OkInfo {
            affected_rows: 2,
            last_insert_id: 0,
            warnings: 0,
            info: "Records: 2  Duplicates: 0  Warnings: 0".into(),
        };
        let b = OkInfo {
            affected_rows: 3,
            last_insert_id: 7,
            warnings: 1,
            info: "Records: 3  Duplicates: 1  Warnings: 1".into(),
        };
        let s = sum_oks(vec![a, b], false);
        assert_eq!(s.affected_rows, 5);
        assert_eq!(s.last_insert_id, 7);
        assert_eq!(s.info, "Records: 5  Duplicates: 1  Warnings: 1");
    }
}
