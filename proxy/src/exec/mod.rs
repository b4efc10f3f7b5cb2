//! Executing a [`Plan`] on the sets' primaries and writing the merged answer to the
//! client. Rows stream: a scatter is written set after set, row by row, never
//! collected. Getting connections is [`conns`]; running SQL on one is [`wire`];
//! merging OK packets is [`oks`].

pub(crate) mod conns;
mod fast;
mod found;
mod oks;
mod parallel;
mod pins;
mod returning;
pub mod txn;
pub mod uservars;
pub mod weights;
pub(crate) mod wire;

use std::borrow::Cow;
use std::sync::Arc;

use crate::backend::Conn;
use futures::future::join_all;
use mysql_async::prelude::Queryable;
use mysql_async::Value;
use topo::ClusterSnapshot;

use crate::error::ProxyError;
pub use crate::front::responder::Answered;
use crate::front::{OkInfo, Responder};
use crate::merge::{stream, MergeSpec};
use crate::route::{Merge, Plan, Target};

pub use conns::{check_writable, discard, epoch_of, given_up, guard, Conns};
pub use fast::eligible as fast_eligible;
pub use found::CalcFound;
pub use oks::sum_oks;
pub use pins::Pins;
use txn::Txn;
pub(crate) use wire::stream_all;
use wire::{exec_prepared, stream_after, stream_rows, write_one};
pub use wire::{release, CLEAR_DIAGNOSTICS};

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
    /// Outside a transaction: the connections of the statement that left
    /// warnings or an error (one set's, or each of a join's or scatter's sets
    /// with warnings), kept so `SHOW WARNINGS` can read them there.
    pub diagnostics: Vec<(String, Conn)>,
    /// The statement is a point read that may run on a pipelined connection
    /// ([`fast`]).
    pub fast: bool,
    /// The statement may leave session state on its connections that the gateway
    /// does not carry ([`crate::sql::effects`]): they are closed, never lent again.
    pub stateful: bool,
    /// User variables the statement assigns (lower-case, no `@`): read back from
    /// the connection of a one-set statement into `captured` ([`uservars`]).
    pub capture: Vec<String>,
    /// `(key, assignment)` of each variable in `capture`, for the session.
    pub captured: Vec<(String, String)>,
    /// The session's pinned connections ([`pins`]), used before any pooled one.
    pub pins: Option<Pins>,
    /// The statement leaves state that must stay on its connection (a named
    /// lock, ...): the connections it runs on become the session's.
    pub pin: bool,
    /// Sets whose connection this statement took from `pins`.
    from_pins: std::collections::BTreeSet<String>,
    keep: Option<()>,
    /// In a transaction: the statement gave a connection back already, so the
    /// transaction's `diag` sets are this statement's.
    diag_begun: bool,
    /// A read outside a transaction that may go to replicas (`crate::split`).
    pub reads: Option<Box<crate::split::ReplicaReads>>,
    /// Read each autocommit write's GTID (`@@last_gtid`) into `gtids`.
    pub track_gtid: bool,
    /// `(set, GTID)` of the writes this statement committed, when tracked.
    pub gtids: Vec<(String, String)>,
    /// Sets whose connection leads to a replica, and the replica.
    on_replica: std::collections::BTreeMap<String, topo::NodeRecord>,
    /// `SQL_CALC_FOUND_ROWS`: the sum of the sets' `FOUND_ROWS()`, each read
    /// on the connection its part ran on ([`found`]); `None`: not asked.
    pub calc_found: Option<found::CalcFound>,
}

/// A one-set statement as sent (in the client's character set): text, or
/// prepared with typed parameters.
#[derive(Clone)]
enum Work<'s> {
    Text(Cow<'s, [u8]>),
    Prepared(Cow<'s, [u8]>, Vec<Value>),
}

impl<'a> Exec<'a> {
    pub fn new(conns: Conns<'a>, txn: Option<&'a mut Txn>) -> Self {
        Self {
            conns,
            txn,
            write: true,
            held: None,
            activity: None,
            diagnostics: Vec::new(),
            fast: false,
            stateful: false,
            capture: Vec::new(),
            captured: Vec::new(),
            pins: None,
            pin: false,
            from_pins: Default::default(),
            keep: None,
            diag_begun: false,
            reads: None,
            track_gtid: false,
            gtids: Vec::new(),
            on_replica: Default::default(),
            calc_found: None,
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
        self.take_branch(set, false).await.map(|(c, e, _)| (c, e))
    }

    /// [`take_at`](Self::take_at); with `defer_start`, a transaction branch
    /// opened here is not started yet: the statements that start it come back, to
    /// be sent with the statement (see [`Txn::take_deferred`]).
    async fn take_branch(
        &mut self,
        set: &str,
        defer_start: bool,
    ) -> Result<(Conn, u64, Vec<String>), ProxyError> {
        if self.write {
            check_writable(self.conns.snap, set)?;
        }
        let snap = self.conns.snap;
        // The session's own connection to the set, unless the transaction already
        // holds it.
        let in_txn = self
            .txn
            .as_deref()
            .is_some_and(|t| t.conns.contains_key(set));
        let pinned = match &self.pins {
            Some(p) if !in_txn => p.take(set, epoch_of(snap, set)),
            _ => None,
        };
        if pinned.is_some() {
            self.from_pins.insert(set.to_string());
            if let Some(t) = self.txn.as_deref_mut() {
                t.pinned.insert(set.to_string());
                t.drop_ahead(set);
            }
        }
        if pinned.is_none() && !self.write && self.txn.is_none() {
            if let Some(reads) = &self.reads {
                if let Some((c, node)) = Box::pin(reads.take(&self.conns, set)).await {
                    metrics::counter!(crate::metrics::READS, "target" => "replica").increment(1);
                    self.on_replica.insert(set.to_string(), node);
                    return Ok((c, epoch_of(snap, set), Vec::new()));
                }
            }
        }
        if !self.write {
            metrics::counter!(crate::metrics::READS, "target" => "primary").increment(1);
        }
        let pooled = self.conns.pooled_at(set);
        let fresh = async move {
            match pinned {
                Some(c) => Ok(c),
                None => pooled.await,
            }
        };
        match self.txn.as_deref_mut() {
            Some(t) if defer_start => t.take_deferred(set, self.write, snap, fresh).await,
            Some(t) => t
                .take(set, self.write, snap, fresh)
                .await
                .map(|(c, e)| (c, e, Vec::new())),
            None => fresh.await.map(|(c, e)| (c, e, Vec::new())),
        }
    }

    /// Returns a connection taken with [`take`](Self::take); outside a transaction
    /// one holding diagnostics (warnings, an error) is kept in `diagnostics`.
    pub fn give_back(&mut self, set: &str, conn: Conn, err: Option<&ProxyError>) {
        let lost = matches!(
            err,
            Some(ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. })
        );
        if let Some(node) = self.on_replica.remove(set).filter(|_| lost) {
            self.replica_lost(&node.id);
        }
        if let Some(t) = self.txn.as_deref_mut() {
            if self.pin {
                t.pinned.insert(set.to_string());
            } else if self.stateful {
                t.tainted.insert(set.to_string());
            }
            // The sets holding this statement's diagnostics (`SHOW WARNINGS`).
            if !std::mem::replace(&mut self.diag_begun, true) {
                t.diag.clear();
            }
            if conn.get_warnings() > 0 || matches!(err, Some(ProxyError::Backend { .. })) {
                t.diag.insert(set.to_string());
            }
            t.give_back(set, conn, err);
        } else if let (false, true, Some(pins)) = (
            lost,
            self.pin || self.from_pins.remove(set),
            self.pins.as_ref(),
        ) {
            pins.put(set, conn, epoch_of(self.conns.snap, set));
        } else if self.stateful
            || matches!(
                err,
                Some(ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. })
            )
        {
            // Broken, or its statement was given up: never reused.
            discard(conn);
        } else if self.keep.take().is_some() || conn.get_warnings() > 0 {
            self.diagnostics.push((set.to_string(), conn));
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
            (_, Merge::Join(j)) => {
                let r = Box::pin(crate::join::run::run(self, j, out)).await;
                // Its sides' connections (noted as they started) are done.
                self.clear_running();
                r
            }
            (Target::Sets(sets), merge) => {
                let parts: Vec<(&str, &str)> = sets.iter().map(|s| (s.as_str(), sql)).collect();
                self.writes(&parts, merge, out, false).await
            }
            (Target::PerSet(parts), merge) => {
                let parts: Vec<(&str, &str)> = parts
                    .iter()
                    .map(|(s, q)| (s.as_str(), q.as_str()))
                    .collect();
                // A split INSERT; or the per-set UPDATE/DELETE of chosen rows
                // (`session::limited`), whose OKs are summed as sent.
                let insert_split = !parts.first().is_some_and(|(_, q)| is_update_or_delete(q));
                self.writes(&parts, merge, out, insert_split).await
            }
        }
    }

    /// One set: every result of the statement passes through as MariaDB sent it.
    pub async fn single(&mut self, set: &str, sql: &str, out: &mut Responder<'_>) -> Answered {
        let sql = match self.for_set(set, sql) {
            Ok(s) => s,
            Err(e) => return fail(out, &e).await,
        };
        let sql = self.conns.codec.wire(&sql);
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
        let sql = match self.for_set(set, sql) {
            Ok(s) => s,
            Err(e) => return fail(out, &e).await,
        };
        let sql = self.conns.codec.wire(&sql);
        self.one(set, Work::Prepared(sql, values), out).await
    }

    /// `sql` as it must be sent to `set`: filtered of the rows of slots the set
    /// holds without owning them while slots move ([`crate::orphans`]). A point
    /// read routed by its shard key ([`fast`]) never sees such rows.
    pub(crate) fn for_set<'s>(&self, set: &str, sql: &'s str) -> Result<Cow<'s, str>, ProxyError> {
        if self.fast {
            return Ok(Cow::Borrowed(sql));
        }
        crate::orphans::text_for(self.conns.snap, self.conns.db, set, sql)
    }

    /// Runs `fut`, work on `set`, under [`guard`] — or, when its connection
    /// leads to a replica, under the replica's own liveness check.
    async fn guarded_on<T>(
        &self,
        set: &str,
        epoch: u64,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, ProxyError> {
        match self.on_replica.get(set) {
            Some(node) => {
                let started = std::time::Instant::now();
                let r = Box::pin(crate::split::take::guard_all(
                    self.conns.backends,
                    &[(set, node)],
                    fut,
                ))
                .await;
                crate::observe::backend(set, started.elapsed(), r.is_err());
                r
            }
            None => self.conns.guarded(set, epoch, self.write, fut).await,
        }
    }

    /// A replica broke under a read: no more reads go there for a while, and
    /// none of this statement's.
    fn replica_lost(&mut self, node: &str) {
        if let Some(reads) = self.reads.take() {
            reads
                .health
                .shun(node, std::time::Duration::from_millis(reads.cfg.shun_ms));
        }
    }

    /// Adds a backend connection running part of the statement (a join side, a
    /// batch): KILL QUERY stops it too.
    pub(crate) fn also_running_on(&self, conn: &Conn) {
        note_running(&self.activity, conn);
    }

    /// Records (or clears) the backend connection running the statement.
    fn running_on(&self, conn: Option<&Conn>) {
        self.clear_running();
        if let Some(c) = conn {
            note_running(&self.activity, c);
        }
    }

    /// No backend connection runs the session's statement any more.
    pub(crate) fn clear_running(&self) {
        if let Some(a) = &self.activity {
            if let Ok(mut a) = a.lock() {
                a.running_on.clear();
            }
        }
    }

    async fn one(&mut self, set: &str, work: Work<'_>, out: &mut Responder<'_>) -> Answered {
        if self.fast && self.txn.is_none() && !self.write && !out.more_results() {
            if let Some(answered) = self.fast(set, &work, out).await {
                return answered;
            }
        }
        // In a transaction, a text statement carries its branch's start (one round
        // trip instead of two).
        let text = matches!(work, Work::Text(_));
        let (mut conn, epoch, start) = match self.take_branch(set, text).await {
            Ok(c) => c,
            Err(e) => return fail(out, &e).await,
        };
        // A read on a replica that breaks before it answered anything runs again
        // on the primary.
        let again = self
            .on_replica
            .contains_key(set)
            .then(|| (work.clone(), out.packets_written()));
        self.running_on(Some(&conn));
        let mut start_failed = false;
        let run = async {
            match work {
                Work::Text(sql) => match stream_after(&mut conn, set, &start, &sql, out).await? {
                    Ok(()) => Ok(Ok(())),
                    Err((e, in_start)) => {
                        start_failed = in_start;
                        Ok(Err(e))
                    }
                },
                Work::Prepared(sql, values) => {
                    exec_prepared(&mut conn, set, &sql, values, out).await
                }
            }
        };
        let r = match self.guarded_on(set, epoch, run).await {
            Ok(r) => r,
            Err(e) => Ok(Err(e)),
        };
        self.running_on(None);
        if let Some(node) = self.on_replica.remove(set) {
            let lost = matches!(
                &r,
                Ok(Err(
                    ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. }
                ))
            );
            if lost {
                self.replica_lost(&node.id);
                if let Some((work, _)) = again.filter(|(_, m)| *m == out.packets_written()) {
                    discard(conn);
                    crate::split::take::fallback("replica_lost");
                    return Box::pin(self.one(set, work, out)).await;
                }
            }
        }
        if start_failed {
            // The branch never started: the set is not part of the transaction.
            if let Some(t) = self.txn.as_deref_mut() {
                t.forget(set);
            }
            discard(conn);
            return match r? {
                Ok(()) => Ok(true),
                Err(e) => fail(out, &e).await,
            };
        }
        if self.txn.is_none() && matches!(r, Ok(Ok(()))) {
            // Read to the end, autocommit: lent again as it is.
            conn.mark_clean();
        }
        if self.track_gtid && self.write && self.txn.is_none() && matches!(r, Ok(Ok(()))) {
            if let Ok(Some(Some(g))) = conn
                .query_first::<Option<String>, _>("SELECT @@last_gtid")
                .await
            {
                self.gtids.push((set.to_string(), g));
            }
        }
        if matches!(r, Ok(Ok(()))) {
            self.add_found(set, &mut conn).await;
        }
        if !self.capture.is_empty() && matches!(r, Ok(Ok(()))) {
            // Best effort: a failed read leaves the variables as they were.
            if let Ok(v) = uservars::read_back(&mut conn, set, &self.capture).await {
                self.captured = v;
            }
        }
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
        if self.at_once(sets) {
            return self.concat_at_once(sets, sql, out).await;
        }
        let parts: Vec<(String, String)> =
            sets.iter().map(|s| (s.clone(), sql.to_string())).collect();
        self.concat_parts(&parts, out).await
    }

    /// Each `(set, text)` run in turn, the rows of one after another; column
    /// definitions from the first.
    pub async fn concat_parts(
        &mut self,
        parts: &[(String, String)],
        out: &mut Responder<'_>,
    ) -> Answered {
        let mut warnings = 0u16;
        let mut started = false;
        for (set, sql) in parts {
            let sql = match self.for_set(set, sql) {
                Ok(s) => s,
                Err(e) => return fail(out, &e).await,
            };
            let sql = self.conns.codec.wire(&sql);
            let (mut conn, epoch) = match self.take_at(set).await {
                Ok(c) => c,
                Err(e) => return fail(out, &e).await,
            };
            self.running_on(Some(&conn));
            let r = match self
                .guarded_on(set, epoch, stream_rows(&mut conn, set, &sql, !started, out))
                .await
            {
                Ok(r) => r,
                Err(e) => Ok(Err(e)),
            };
            self.running_on(None);
            if self.txn.is_none() && matches!(r, Ok(Ok(_))) {
                // Read to the end, autocommit: lent again as it is.
                conn.mark_clean();
            }
            if matches!(r, Ok(Ok(_))) {
                self.add_found(set, &mut conn).await;
            }
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
        self.merged_with(sets, spec, None, out).await
    }

    /// [`merged`](Self::merged) of a client's prepared statement: `prepared` (the
    /// per-set text with `?`, `crate::route::prepared_merge`) executed with
    /// `values` on each set whose text needs no change (`for_set`), where its
    /// rows come typed as text rows would (`merge::typed`); else as text.
    pub(crate) async fn merged_prepared(
        &mut self,
        sets: &[String],
        spec: &MergeSpec,
        prepared: &str,
        values: Vec<Value>,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.merged_with(sets, spec, Some((prepared, values)), out)
            .await
    }

    async fn merged_with(
        &mut self,
        sets: &[String],
        spec: &MergeSpec,
        prepared: Option<(&str, Vec<Value>)>,
        out: &mut Responder<'_>,
    ) -> Answered {
        let shown = match &spec.columns_sql {
            Some(q) => match self.columns_of(&sets[0], q).await {
                Ok(c) => Some(c),
                Err(e) => return fail(out, &e).await,
            },
            None => None,
        };
        let texts: Vec<Cow<'_, str>> = match sets
            .iter()
            .map(|set| self.for_set(set, &spec.sql))
            .collect()
        {
            Ok(t) => t,
            Err(e) => return fail(out, &e).await,
        };
        let mut streams = Vec::with_capacity(sets.len());
        let mut on = Vec::with_capacity(sets.len());
        for (set, text) in sets.iter().zip(&texts) {
            match self.take_at(set).await {
                Ok((c, epoch)) => {
                    on.push((set.as_str(), epoch));
                    note_running(&self.activity, &c);
                    let sql = self.conns.codec.wire(text).into_owned();
                    streams.push(match &prepared {
                        Some((q, values)) if matches!(text, Cow::Borrowed(_)) => {
                            let q = self.conns.codec.wire(q).into_owned();
                            stream::spawn_prepared(set, c, sql, q, values.clone())
                        }
                        _ => stream::spawn(set, c, sql),
                    })
                }
                Err(e) => {
                    self.clear_running();
                    self.recover(streams).await;
                    return fail(out, &e).await;
                }
            }
        }
        // Sets read on replicas are checked on those replicas, the others on
        // their primaries.
        let (on_replicas, on): (Vec<_>, Vec<_>) = on
            .into_iter()
            .partition(|(s, _)| self.on_replica.contains_key(*s));
        let replicas: Vec<(&str, &topo::NodeRecord)> = on_replicas
            .iter()
            .filter_map(|(s, _)| Some((*s, self.on_replica.get(*s)?)))
            .collect();
        let run = crate::merge::run::run(spec, &mut streams, shown, out);
        let r = if replicas.is_empty() {
            self.conns.guarded_sets(&on, self.write, run).await
        } else {
            // Boxed: statements that read no replica keep their futures as small
            // as they were.
            let guarded = self.conns.guarded_sets(&on, self.write, run);
            Box::pin(crate::split::take::guard_all(
                self.conns.backends,
                &replicas,
                guarded,
            ))
            .await
            .inspect_err(conns::given_up)
            .and_then(|r| r)
        };
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
                if let ProxyError::SetUnavailable { set, .. } = &e {
                    if let Some(node) = self.on_replica.remove(set) {
                        self.replica_lost(&node.id);
                    }
                }
                return fail(out, &e).await;
            }
        };
        if matches!(r, Ok(true)) {
            self.recover_found(streams).await;
        } else {
            self.recover(streams).await;
        }
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
            .guarded_on(
                set,
                epoch,
                stream::columns_of(&mut conn, set, &self.conns.codec.wire(sql)),
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
        if parts.iter().any(|(_, sql)| returning::has_returning(sql)) {
            // The rows RETURNING gives pass through from one set; from several they
            // would have to be merged in the statement's row order (not yet).
            if let [(set, sql)] = parts {
                return self.single(set, sql, out).await;
            }
            return fail(out, &returning::refused()).await;
        }
        let texts: Vec<Cow<'_, str>> = match parts
            .iter()
            .map(|(set, sql)| self.for_set(set, sql))
            .collect()
        {
            Ok(t) => t,
            Err(e) => return fail(out, &e).await,
        };
        let filtered: Vec<(&str, &str)> = parts
            .iter()
            .zip(&texts)
            .map(|((set, _), t)| (*set, t.as_ref()))
            .collect();
        let parts = &filtered[..];
        let mut oks = Vec::with_capacity(parts.len());
        // A set whose connection is the session's own (a named lock, LOCK
        // TABLES) runs its part there: one after another, as in a transaction.
        let snap = self.conns.snap;
        let pinned = self.pins.as_ref().is_some_and(|p| {
            parts
                .iter()
                .any(|(set, _)| p.holds(set, epoch_of(snap, set)))
        });
        if self.txn.is_none() && !pinned {
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
                    .guarded(
                        set,
                        epoch,
                        true,
                        write_one(&mut c, set, &conns.codec.wire(sql)),
                    )
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
                    .guarded(
                        set,
                        epoch,
                        true,
                        write_one(&mut conn, set, &self.conns.codec.wire(sql)),
                    )
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
            Merge::Replicated => {
                // Every copy gave the same warnings: the first set's are the
                // statement's (its OK is the answer).
                if let (Some(t), Some((first, _))) = (self.txn.as_deref_mut(), parts.first()) {
                    t.diag.retain(|s| s == first);
                }
                oks.into_iter().next().unwrap_or_default()
            }
            _ => sum_oks(oks, insert_split),
        };
        match self.held.as_mut() {
            Some(slot) => *slot = Some(ok),
            None => out.ok(&ok).await?,
        }
        Ok(true)
    }
}

fn is_update_or_delete(sql: &str) -> bool {
    let toks = crate::sql::lexer::tokenize(sql).unwrap_or_default();
    crate::sql::lexer::significant(&toks)
        .first()
        .is_some_and(|t| t.is_word(sql, "UPDATE") || t.is_word(sql, "DELETE"))
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

async fn fail(out: &mut Responder<'_>, e: &ProxyError) -> Answered {
    out.error(e).await?;
    Ok(false)
}
