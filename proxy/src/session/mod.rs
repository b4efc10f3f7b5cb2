//! One client's session: who it is, its current database, its session variables
//! and open transaction, and how each statement it sends is dispatched — answered
//! by the gateway itself (USE, SET, transaction control, SHOW DATABASES, DDL
//! bookkeeping) or planned and executed on the sets.

mod app_xa;
mod charset;
mod columns;
mod counts;
mod database;
mod diagnostics;
mod explain;
mod found;
mod handler;
mod held;
mod identity;
mod ids;
mod insert_select;
mod into_vars;
mod kill;
mod limited;
mod limits;
mod load_data;
mod locks;
mod maintenance;
mod move_gate;
mod observed;
mod planning;
mod reads;
mod release;
mod reprepare;
mod run;
mod select_limit;
mod set;
mod sql_prepare;
mod temporary;
pub(crate) mod text;
mod txn_control;
mod upsert_refs;
pub mod vars;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use mysql_common::constants::StatusFlags;
use tracing::debug;

use crate::command::{Command, Show, Statement};
use crate::ddl;
use crate::error::ProxyError;
use crate::exec::txn::Txn;
use crate::exec::{Answered, Conns, Exec};
use crate::front::charset::Codec;
use crate::front::{Credentials, Handler, OkInfo, Prepared, Responder};
use crate::route::cache;
use crate::route::merged_cache;
use crate::route::{Merge, Plan, Target};
use crate::show;
use crate::sql::lexer::{split_statements, tokenize};
use mysql_async::prelude::Queryable;
use text::*;
use vars::SessionVars;

/// The system database of the agents: hidden from gateway clients.
pub const HIDDEN_DB: &str = crate::front::responder::HIDDEN_SCHEMA;

pub use crate::shared::{ColumnCache, Shared};

pub struct Session {
    pub shared: Arc<Shared>,
    /// This connection's id (as announced in the handshake).
    pub id: u32,
    activity: Arc<std::sync::Mutex<crate::registry::Activity>>,
    pub user: Option<String>,
    pub db: Option<String>,
    pub found_rows: bool,
    pub peer: Option<SocketAddr>,
    collation: u8,
    /// How the client's text is decoded and sent on (its character_set_client).
    codec: Codec,
    /// The client's account, as USER() / CURRENT_USER() / SHOW GRANTS show it.
    account: Option<Arc<crate::front::account::Account>>,
    vars: SessionVars,
    autocommit: bool,
    txn: Option<Txn>,
    /// The application's XA transaction (`XA START ...`), in its state.
    app_xa: Option<app_xa::AppXa>,
    /// `SET TRANSACTION ...` waiting for the next transaction.
    next_txn: Vec<String>,
    /// The sets the session's last transaction used (`ahead`).
    ahead_sets: Vec<String>,
    /// Branches of the next transaction its last COMMIT started
    /// (`crate::exec::txn::primed`), given back unless the next command is
    /// a BEGIN that takes them.
    primed: Option<crate::exec::txn::primed::Primed>,
    /// Whether the next COMMIT primes: not after primed branches were given
    /// back unused, until a BEGIN follows a COMMIT again.
    prime_next: bool,
    /// The last statement was a COMMIT.
    after_commit: bool,
    /// The COM_STMT_EXECUTE being run: its text with `?` and its typed values.
    prepared: Option<(String, Vec<mysql_async::Value>)>,
    /// The statement being run is a point read fit for a pipelined connection.
    fast_next: bool,
    /// What the statement being run does to its backend connections' session
    /// (`crate::sql::effects`), read once when it arrives.
    effects_next: crate::sql::effects::Effects,
    /// Backend connections that are this session's own (`crate::exec::Pins`).
    pins: crate::exec::Pins,
    /// This session's temporary tables, `(db, name)`: schema statements on them
    /// run on its pinned connection.
    temp_tables: std::collections::HashSet<(String, String)>,
    /// What `ROW_COUNT()` answers (`counts.rs`).
    row_count: i64,
    /// What `FOUND_ROWS()` answers (`found.rs`).
    found: found::Found,
    /// SQL-level prepared statements (`PREPARE name FROM ...`): name → set.
    sql_stmts: std::collections::HashMap<String, sql_prepare::Pinned>,
    /// SQL-level prepared statements over several sets, held by the gateway.
    held: held::HeldStmts,
    /// The backend connections holding the last statement's warnings or error
    /// (outside transactions), for `SHOW WARNINGS`.
    diag: Vec<(String, crate::backend::Conn)>,
    /// Conditions of the last statement read from a connection that could not
    /// keep them (a last-agent commit's coordinator: `exec::txn::diag`),
    /// listed with those of `diag`.
    diag_rows: Vec<crate::exec::txn::diag::Cells>,
    /// The statement running uses no table: the diagnostics area stays unless
    /// it raises conditions itself, as in MariaDB.
    diag_keep: bool,
    /// Routing changes since this session last read a snapshot
    /// ([`snapshot`](Self::snapshot)): what a running statement watches.
    changes: crate::routing::Changes,
    /// What `LAST_INSERT_ID()` answers (ids.rs).
    last_insert_id: u64,
    /// `SET insert_id = v`: the first id of the next INSERT that generates one.
    insert_id_next: Option<u64>,
    /// `LAST_INSERT_ID(expr)` of rows (ids.rs): the value to give the one set
    /// running the statement, and the value read back there after it.
    last_id_probe: Option<u64>,
    last_id_read: Option<u64>,
    /// Read/write split: the session's setting and own writes (reads.rs).
    split: crate::split::SplitState,
    /// Its user's connection count and its idle timeout (limits.rs).
    limits: limits::SessionLimits,
    /// The client's TLS, if it connected with it (`SHOW STATUS LIKE 'Ssl_%'`).
    tls: Option<Arc<crate::front::tls::TlsInfo>>,
    /// The tables its `LOCK TABLES` holds, and on which sets (locks.rs).
    locks: Option<locks::TableLocks>,
    /// The statement being run, as metrics, digests and audit see it (observed.rs).
    stmt: crate::observe::StmtNote,
    stmt_metrics: crate::observe::SessionMetrics,
}

impl Session {
    pub fn new(
        shared: Arc<Shared>,
        id: u32,
        activity: Arc<std::sync::Mutex<crate::registry::Activity>>,
    ) -> Self {
        Self {
            id,
            activity,
            user: None,
            db: None,
            found_rows: false,
            peer: None,
            collation: 45,
            codec: Codec::Utf8,
            account: None,
            vars: SessionVars::default(),
            autocommit: true,
            txn: None,
            app_xa: None,
            next_txn: Vec::new(),
            ahead_sets: Vec::new(),
            primed: None,
            prime_next: true,
            after_commit: false,
            prepared: None,
            fast_next: false,
            effects_next: Default::default(),
            pins: Default::default(),
            sql_stmts: Default::default(),
            held: Default::default(),
            temp_tables: Default::default(),
            row_count: 0,
            found: found::Found::new(),
            diag: Vec::new(),
            diag_rows: Vec::new(),
            diag_keep: false,
            changes: shared.routing.subscribe(),
            last_insert_id: 0,
            insert_id_next: None,
            last_id_probe: None,
            last_id_read: None,
            split: Default::default(),
            limits: Default::default(),
            tls: None,
            locks: None,
            stmt: Default::default(),
            stmt_metrics: Default::default(),
            shared,
        }
    }

    /// The current routing snapshot, marked seen: a statement run with it is told
    /// of every routing change after this point.
    pub fn snapshot(&mut self) -> Arc<topo::ClusterSnapshot> {
        self.changes.borrow_and_update().clone()
    }

    /// Pooled connections as this session needs them (database, flags, state).
    pub fn conns<'a>(&'a self, snap: &'a topo::ClusterSnapshot) -> Conns<'a> {
        Conns {
            backends: &self.shared.backends,
            routing: &self.shared.routing,
            changes: &self.changes,
            snap,
            db: self.db.as_deref(),
            found_rows: self.found_rows,
            init: self.vars.init(),
            codec: self.codec,
        }
    }

    /// What a schema change sees of this session (`crate::schema_session`).
    fn schema_session(&self) -> crate::schema_session::SchemaSession<'_> {
        crate::schema_session::SchemaSession::new(
            &self.shared,
            self.db.clone(),
            &self.changes,
            self.found_rows,
            self.vars.init(),
            self.codec,
        )
    }

    /// An executor: inside the open transaction if there is one.
    pub fn exec<'a>(&'a mut self, snap: &'a topo::ClusterSnapshot) -> Exec<'a> {
        let conns = Conns {
            backends: &self.shared.backends,
            routing: &self.shared.routing,
            changes: &self.changes,
            snap,
            db: self.db.as_deref(),
            found_rows: self.found_rows,
            init: self.vars.init(),
            codec: self.codec,
        };
        let mut exec = Exec::new(conns, self.txn.as_mut());
        exec.keeps_diag = self.diag_keep;
        exec.activity = Some(self.activity.clone());
        exec.pins = Some(self.pins.clone());
        exec
    }

    fn set_activity(&self, command: &'static str, sql: Option<&str>) {
        if let Ok(mut a) = self.activity.lock() {
            a.command = command;
            a.info = sql.map(|s| s.chars().take(100).collect());
            a.since = std::time::Instant::now();
            a.db = self.db.clone();
            a.branches.clear();
            a.deadlock_victim = false;
        }
    }

    /// Runs one statement (one part of a multi-statement text); observed.rs
    /// books it.
    async fn statement_run(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        let stmt = match Statement::lex(sql) {
            Ok(s) => s,
            Err(e) => {
                self.primed_unused();
                return fail(out, &e).await;
            }
        };
        self.note_priming(&stmt.command);
        // CONNECTION_ID() is the gateway's connection id (what KILL takes), not a
        // backend thread's.
        self.note_digest_key(sql, &stmt.tokens);
        self.effects_next = crate::sql::effects::classify(sql, &stmt.sig);
        self.note_hint(sql, &stmt.tokens);
        if let Some(rewritten) = connection_id_text(&stmt, self.id) {
            return Box::pin(self.statement_run(&rewritten, out)).await;
        }
        if let Some(rewritten) = self.own_vars_text(sql, &stmt.sig) {
            return Box::pin(self.statement_run(&rewritten, out)).await;
        }
        if let Some(rewritten) = self
            .limits
            .select_limit()
            .and_then(|n| select_limit::select_limit_text(&stmt, n))
        {
            // Runs as text (a COM_STMT_EXECUTE's values are spliced in).
            self.prepared = None;
            return Box::pin(self.statement_run(&rewritten, out)).await;
        }
        // AUTO_INCREMENT ids and LAST_INSERT_ID() (ids.rs): the client's text
        // is what SHOW PROCESSLIST shows.
        let client_text = sql;
        let ids = match self.ids_before(sql, &stmt.tokens, &stmt.sig, out).await {
            Ok(s) => s,
            Err(ProxyError::InsertSelect) => {
                self.set_activity("Query", Some(client_text));
                let answered = Box::pin(self.insert_select(sql, out)).await;
                self.set_activity("Sleep", None);
                return answered;
            }
            Err(e) => return fail(out, &e).await,
        };
        let stmt = match ids.text.as_deref() {
            Some(t) => Statement::new(t, tokenize(t).unwrap_or_default()),
            None => stmt,
        };
        debug!(stmt = %stmt.verb, "statement");
        self.stmt.kind = stmt.kind_label();
        self.set_activity("Query", Some(client_text));
        let counted = self.row_count_text(&stmt);
        let stmt = match counted.as_deref() {
            Some(t) => {
                // Runs as the rewritten text (a COM_STMT_EXECUTE's values spliced in).
                self.prepared = None;
                Statement::new(t, tokenize(t).unwrap_or_default())
            }
            None => stmt,
        };
        let found = match self.found_rows_text(&stmt) {
            Ok(f) => f,
            Err(e) => {
                self.set_activity("Sleep", None);
                return fail(out, &e).await;
            }
        };
        let stmt = match found.as_deref() {
            Some(t) => {
                self.prepared = None;
                Statement::new(t, tokenize(t).unwrap_or_default())
            }
            None => stmt,
        };
        let found_mark = self.found_start(&stmt, out);
        // Slot moves: a write waits while a hold covers it (planned after).
        let _in_flight = match self.move_gate(&stmt).await {
            Ok(g) => g,
            Err(e) => {
                self.set_activity("Sleep", None);
                return fail(out, &e).await;
            }
        };
        let answered = match self.identity_text(&stmt) {
            Some(text) => self.dispatch_text(&text, out).await,
            None => self.dispatch(&stmt, out).await,
        };
        if self.is_locked() {
            // A locked connection lost by the statement drops every lock.
            self.locks_after().await;
        }
        self.note_row_count(&stmt, out, matches!(answered, Ok(true)));
        self.note_found_rows(&stmt, found_mark, out, matches!(answered, Ok(true)));
        self.ids_after(&ids, out, matches!(answered, Ok(true)));
        self.set_activity("Sleep", None);
        answered
    }

    /// Dispatches a statement on its command (`crate::command`).
    async fn dispatch(&mut self, stmt: &Statement<'_>, out: &mut Responder<'_>) -> Answered {
        let (sql, sig, first) = (stmt.sql, &stmt.sig[..], stmt.verb.as_str());
        if let Command::AccountManagement(what) = &stmt.command {
            return fail(out, &identity::account_refusal(what)).await;
        }
        if let Some(text) = (first == "SELECT")
            .then(|| self.read_from_text(sql, sig))
            .flatten()
        {
            return Box::pin(self.dispatch_text(&text, out)).await;
        }
        if stmt.command == Command::DiagnosticsRead {
            return self.diagnostics(sql, out).await;
        }
        // Any other statement starts a new diagnostics area — one that uses
        // no table only when it raises conditions itself (`run.rs`).
        // (Lexing the tables only when there is an area to keep.)
        let held = !self.diag.is_empty()
            || !self.diag_rows.is_empty()
            || self.txn.as_ref().is_some_and(|t| !t.diag.is_empty());
        self.diag_keep =
            held && matches!(first, "SELECT" | "SET" | "DO") && stmt.tables().is_empty();
        if !self.diag_keep {
            self.clear_diagnostics();
        }
        if let Some(e) = self.xa_gate(first, stmt.word(1)) {
            return fail(out, &e).await;
        }
        if self.is_locked() && !matches!(stmt.command, Command::Lock(_)) {
            if let Err(e) = self.locks_held().await {
                return fail(out, &e).await;
            }
        }
        match &stmt.command {
            Command::Explain(req) => return self.explain(sql, *req, out).await,
            Command::Use(db) => {
                let Some(db) = db else {
                    return fail(out, &ProxyError::Syntax("USE needs a database name".into()))
                        .await;
                };
                let r = self.use_db(db).await;
                return self.reply(r, out).await;
            }
            Command::Begin(begin) => {
                // Table locks are released and an open transaction is committed
                // first, as MariaDB does.
                if let Err(e) = self.unlock_for_begin().await {
                    return fail(out, &e).await;
                }
                if let Err(e) = self.end_txn("COMMIT").await {
                    return fail(out, &e).await;
                }
                // Branches open as XA transactions. XA START takes no options, but
                // the access mode of START TRANSACTION READ ONLY / READ WRITE is
                // applied with `SET TRANSACTION ...` before each branch's XA START
                // (a write then fails there with 1792, as on one server).
                self.open_txn();
                if let (Some(mode), Some(t)) = (begin.access, self.txn.as_mut()) {
                    t.before.push(format!("SET TRANSACTION {mode}"));
                    // It never writes: no XA on its branches (txn.rs).
                    t.plain = mode == "READ ONLY";
                }
                self.take_primed();
                let sets = std::mem::take(&mut self.ahead_sets);
                self.start_ahead(&sets);
                if begin.consistent_snapshot {
                    if let Err(e) = self.snapshot_branches().await {
                        let _ = self.end_txn("ROLLBACK").await;
                        return fail(out, &e).await;
                    }
                }
                return ok(out, self.status()).await;
            }
            Command::End { commit } => {
                let verb = if *commit { "COMMIT" } else { "ROLLBACK" };
                let r = self.end_txn_priming(verb, *commit && self.prime_next).await;
                return self.reply(r, out).await;
            }
            Command::Savepoint { op, name } => {
                let r = self.savepoint(*op, name.as_deref()).await;
                return self.reply(r, out).await;
            }
            Command::Kill => return self.kill(sql, sig, out).await,
            Command::Show(Show::Processlist { full }) => {
                let user = self.user.clone().unwrap_or_default();
                let rows = self.shared.registry.list(&user);
                return show::processlist(&rows, *full, out).await;
            }
            Command::Show(Show::Status) => {
                let tls = self.tls.clone();
                let snap = self.snapshot();
                let mut exec = self.exec(&snap);
                exec.write = false;
                return show::status(&mut exec, sql, tls.as_deref(), out).await;
            }
            Command::Show(Show::Variables) => {
                let own = self.limits.own_values();
                let snap = self.snapshot();
                let mut exec = self.exec(&snap);
                exec.write = false;
                return show::variables(&mut exec, sql, &own, out).await;
            }
            Command::Show(Show::Digests) => return self.show_digests(sql, sig, out).await,
            Command::Show(Show::Grants) => {
                return show::grants(self.account.as_deref(), self.codec, sql, sig, out).await;
            }
            Command::Xa => return self.xa_statement(sql, sig, out).await,
            Command::Lock(kind) => return self.lock_statement(stmt, *kind, out).await,
            Command::Set => return self.set(sql, sig, out).await,
            Command::Show(Show::Databases) => {
                let snap = self.snapshot();
                let mut exec = self.exec(&snap);
                exec.write = false;
                return show::databases(&mut exec, sql, sig, out).await;
            }
            Command::Show(Show::Forward) => {
                let snap = self.snapshot();
                let mut exec = self.exec(&snap);
                exec.write = false;
                return show::forward(&mut exec, sql, sig, out).await;
            }
            Command::Temporary => return self.temporary(stmt, out).await,
            Command::Ddl(d) => {
                // On one of the session's temporary tables: where it lives.
                if let Some((set, db, name)) = self.temporary_target(stmt) {
                    let snap = self.snapshot();
                    let dropped = first == "DROP" && stmt.word(1) == "TABLE";
                    let answered = self.on_temporary(&snap, set, sql, first, out).await;
                    if dropped && matches!(answered, Ok(true)) {
                        self.temp_tables.remove(&(db, name));
                    }
                    return answered;
                }
                if self.is_locked() {
                    return self.ddl_while_locked(stmt, out).await;
                }
                // DDL commits an open transaction implicitly, as in MariaDB.
                if let Err(e) = self.end_txn("COMMIT").await {
                    return fail(out, &e).await;
                }
                let mut schema = self.schema_session();
                let answered = ddl::run(&mut schema, stmt, d, out).await;
                // DROP DATABASE of the session's own database clears it.
                self.db = schema.db;
                return answered;
            }
            Command::Maintenance(m) => {
                if self.is_locked() {
                    let e = ProxyError::NotSupported(
                        "ANALYZE/CHECK/OPTIMIZE/REPAIR TABLE under LOCK TABLES".into(),
                    );
                    return fail(out, &e).await;
                }
                if m.checksum && self.txn.is_some() {
                    // (It does not commit; the sets' pooled connections would
                    // read outside the transaction.)
                    let e = ProxyError::NotSupported("CHECKSUM TABLE in a transaction".into());
                    return fail(out, &e).await;
                }
                // They commit an open transaction implicitly, as in MariaDB.
                if let Err(e) = self.end_txn("COMMIT").await {
                    return fail(out, &e).await;
                }
                return self.maintenance(sql, m, out).await;
            }
            Command::AccountManagement(_)
            | Command::DiagnosticsRead
            | Command::SqlPrepared(_)
            | Command::LoadData(_)
            | Command::Query => {}
        }
        if let Err(e) = self.locks_gate(stmt) {
            return fail(out, &e).await;
        }
        if let Command::LoadData(l) = &stmt.command {
            return Box::pin(self.load_data(sql, l, out)).await;
        }
        // With autocommit off a statement starts the transaction, as in MariaDB,
        // unless it is a SELECT using no table (`SELECT 1`, `SELECT @@x`: a
        // pool's check leaves `@@in_transaction` and the status flag at 0).
        if !self.autocommit
            && (self.txn.is_some()
                || first != "SELECT"
                || self.effects_next.named_lock
                || !stmt.tables().is_empty())
        {
            self.open_txn();
        }
        let snap = self.snapshot();
        // Named locks live on one fixed set (the cluster's first), whatever the
        // session's database, so every session's locks meet there.
        if self.effects_next.named_lock && stmt.tables().is_empty() {
            let Some(set) = snap.sets.keys().next().cloned() else {
                return fail(out, &ProxyError::NoRouting("no set is registered".into())).await;
            };
            let plan = Plan {
                target: Target::Sets(vec![set]),
                merge: Merge::Single,
            };
            return self.run_plan(&snap, &plan, sql, first, out).await;
        }
        if let Command::SqlPrepared(p) = &stmt.command {
            if let Err(e) = self.follow_moved_statement(p) {
                return fail(out, &e).await;
            }
            if let Some(answered) = self.held_statement(sql, sig, p, out).await {
                return answered;
            }
            if let Some(r) = self.sql_prepared(sql, sig, p) {
                let plan = match r {
                    Ok(set) => Plan {
                        target: Target::Sets(vec![set]),
                        merge: Merge::Single,
                    },
                    Err(e) => return fail(out, &e).await,
                };
                return self.run_plan(&snap, &plan, sql, first, out).await;
            }
        }
        let tokens = &stmt.tokens[..];
        // A shape seen before is routed from the plan cache, without a parse.
        let (fp, literals) = cache::fingerprint(sql, tokens, self.db.as_deref());
        let cached = self.shared.plans.get(&fp, &literals, sql, &snap);
        // A merged shape (sort, group, aggregate across sets) seen before: its
        // per-set text from a template (`route::merged_cache`).
        let merged = match cached {
            None if self.shared.backends.config().merge_plan_cache => {
                merged_cache::key(sql, tokens, self.db.as_deref())
            }
            _ => None,
        };
        let mut learn = None;
        if let Some((key, lits)) = merged {
            match self
                .shared
                .plans
                .merged
                .get(&key, &lits, sql, snap.revision)
            {
                merged_cache::Lookup::Hit(plan) => {
                    crate::observe::plan_cache(true);
                    return self.run_plan(&snap, &plan, sql, first, out).await;
                }
                merged_cache::Lookup::Unknown => learn = Some((key, lits)),
                merged_cache::Lookup::Uncacheable => {}
            }
        }
        crate::observe::plan_cache(cached.is_some());
        if let Some((plan, point)) = cached {
            // Comments are not in the fingerprint; an executable one (`/*! ... */`)
            // may hide SQL that must not share a connection.
            self.fast_next = point
                && !tokens
                    .iter()
                    .any(|t| t.kind == crate::sql::lexer::Kind::Comment);
            return self.run_plan(&snap, &plan, sql, first, out).await;
        }
        let planned = match self.plan_sql(&snap, stmt).await {
            Ok(planning::Planning::Planned(p)) => p,
            Ok(planning::Planning::Unparsed(msg)) => {
                if let Some(span) = into_vars::into_vars(sql, &stmt.sig) {
                    if self.unparsed_plan(&snap, stmt, &msg).is_err() {
                        let e = ProxyError::NotSupported(format!(
                            "a statement the gateway cannot parse on data spread over several sets ({msg})"
                        ));
                        return Box::pin(self.select_into(stmt, span, e, out)).await;
                    }
                }
                return self.unparsed(stmt, &msg, out).await;
            }
            Err(ProxyError::WriteLimitAcrossSets) => {
                return self.limited_write(&snap, sql, tokens, out).await;
            }
            Err(ProxyError::InsertSelect) => return Box::pin(self.insert_select(sql, out)).await,
            Err(e @ ProxyError::NotSupported(_)) => {
                return match into_vars::into_vars(sql, &stmt.sig) {
                    Some(span) => Box::pin(self.select_into(stmt, span, e, out)).await,
                    None => fail(out, &e).await,
                };
            }
            Err(e) => return fail(out, &e).await,
        };
        debug!(plan = ?planned.plan, "plan");
        if let Some(e) = self.temporary_across_sets(stmt, &planned.plan) {
            return fail(out, &e).await;
        }
        if let Some((key, lits)) = learn {
            let db = self.db.as_deref();
            (self.shared.plans.merged).learn(key, &lits, sql, &snap, db, &planned);
        }
        let pinned = planned.dep.pinned();
        if let Some(pinned) = pinned {
            if let Some(mut c) = cache::cacheable(&planned.plan, pinned, &literals, sql) {
                if let cache::Cached::Keyed { point_read, .. } = &mut c {
                    *point_read = crate::exec::fast_eligible(sql, tokens);
                }
                self.shared.plans.put(fp, snap.revision, c);
            }
        }
        self.run_plan(&snap, &planned.plan, sql, first, out).await
    }

    async fn reply(&self, r: Result<(), ProxyError>, out: &mut Responder<'_>) -> Answered {
        match r {
            Ok(()) => ok(out, self.status()).await,
            Err(e) => fail(out, &e).await,
        }
    }
}

/// An OK packet with the session's `status`.
async fn ok(out: &mut Responder<'_>, status: StatusFlags) -> Answered {
    out.status = status;
    out.ok(&OkInfo::default()).await?;
    Ok(true)
}

pub(crate) use crate::front::responder::fail;
