//! Differential testing: the same data and statements on one plain, unsharded
//! MariaDB (the *reference*) and through the gateway in front of a cluster of sets
//! must give the same answers — rows, column definitions, affected-row counts and
//! error codes. A statement the gateway cannot run correctly must be refused with
//! ER_NOT_SUPPORTED_YET (1235, SQLSTATE 42000), never answered differently.
//!
//! * [`data`]: the schema and seeded rows; [`reads`] / [`merges`] / [`unions`] /
//!   [`aggregates`] / [`writes`]: generated statements; [`outcome`]: capturing and comparing answers; [`rng`]: the PRNG.
//! * [`Diff`] runs each statement on the gateway first, then (unless the gateway
//!   refused a statement allowed to be refused) on the reference, compares, and
//!   collects every mismatch; [`Diff::finish`] fails the test with all of them,
//!   each with the query, both answers and the difference.
//!
//! `SETWISE_DIFF_REPORT=FILE` writes every mismatch in full to FILE.
//!
//! [`Expect::SameOrUnsupported`] marks the shapes the gateway refuses today (merging
//! across sets): they pass as 1235 or as an identical answer, so the same test
//! starts comparing results the day merging lands.

pub mod aggregates;
pub mod autoinc;
pub mod collations;
pub mod data;
pub mod derived;
pub mod diagnostics;
pub mod join_edges;
pub mod joins;
pub mod limited;
pub mod limits;
pub mod merges;
pub mod orm_reads;
pub mod orm_sessions;
pub mod outcome;
pub mod reads;
pub mod rng;
pub mod sql_features;
pub mod subqueries;
pub mod types;
pub mod unions;
pub mod views;
pub mod windows;
pub mod writes;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use mysql_async::{Conn, Opts, OptsBuilder, Value};
use topo::DatabaseRecord;

use crate::mariadb::{MariaDb, NodeOptions};
use crate::workdir::WorkDir;
use crate::Cluster;
use data::{Data, CREATE_DB, DB, TABLES};
use outcome::{
    differences, execs, message_difference, prep_differences, report, run_binary, run_text,
    undo_swapped_charset, Order, Outcome, PrepMeta,
};

/// What the gateway's answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Exactly the reference's answer.
    Same,
    /// The reference's answer, or 1235 (a shape the gateway does not merge yet).
    SameOrUnsupported,
}

/// One generated statement.
#[derive(Debug, Clone)]
pub struct Q {
    pub sql: String,
    /// `Some`: run as a prepared statement (binary protocol) with these parameters.
    pub params: Option<Vec<Value>>,
    pub order: Order,
    pub expect: Expect,
    /// Errors must carry the reference's message too, not just code and SQLSTATE.
    pub message: bool,
}

impl Q {
    /// Text protocol, rows compared as a multiset, must match.
    pub fn any(sql: impl Into<String>) -> Q {
        Q {
            sql: sql.into(),
            params: None,
            order: Order::Any,
            expect: Expect::Same,
            message: false,
        }
    }
    /// Text protocol, rows compared in order, must match.
    pub fn exact(sql: impl Into<String>) -> Q {
        Q {
            order: Order::Exact,
            ..Q::any(sql)
        }
    }
    /// Text protocol, rows compared as a multiset of folded strings
    /// ([`Order::AnyFolded`]).
    pub fn folded(sql: impl Into<String>) -> Q {
        Q {
            order: Order::AnyFolded,
            ..Q::any(sql)
        }
    }
    /// Run in the binary protocol with `params`.
    pub fn bin(mut self, params: Vec<Value>) -> Q {
        self.params = Some(params);
        self
    }
    /// An error must have the reference's message too.
    pub fn with_message(mut self) -> Q {
        self.message = true;
        self
    }
    /// May be refused with 1235 instead.
    pub fn or_unsupported(mut self) -> Q {
        self.expect = Expect::SameOrUnsupported;
        self
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    run: usize,
    matched: usize,
    unsupported: usize,
    failed: usize,
}

/// The reference server, the cluster with its gateway, a connection to each, and
/// the mismatches found so far.
pub struct Diff {
    pub gw: Conn,
    pub rf: Conn,
    group: String,
    stats: BTreeMap<String, Stats>,
    failures: Vec<String>,
    refused: Vec<String>,
    /// Statements that showed the known swapped charset/length bug (first one, count).
    swapped: Option<(String, usize)>,
    db: Option<DatabaseRecord>,
    // Dropped in this order: the reference server, its directory, then the cluster.
    reference: MariaDb,
    _reference_dir: WorkDir,
    cluster: Cluster,
}

/// Failure reports printed in full; the rest are counted.
const SHOW_FAILURES: usize = 60;

async fn connect(opts: Opts, what: &str) -> anyhow::Result<Conn> {
    tokio::time::timeout(Duration::from_secs(10), Conn::new(opts))
        .await
        .with_context(|| format!("connecting to the {what} timed out"))?
        .with_context(|| format!("connect to the {what}"))
}

impl Diff {
    /// Starts the cluster (2 sets × primary + 1 replica, gateway) and, at the same
    /// time, one plain `mariadbd` with the same server options.
    pub async fn start() -> anyhow::Result<Diff> {
        let cluster = Cluster::builder().sets(2).replicas(1).proxy(true).start();
        let reference = async {
            let dir = WorkDir::new("diffref")?;
            let db =
                MariaDb::start("reference", dir.path(), 900, NodeOptions::primary(false)).await?;
            anyhow::Ok((dir, db))
        };
        let (cluster, (dir, reference)) = tokio::try_join!(cluster, reference)?;
        let gw = connect(cluster.app_opts(), "gateway").await?;
        let rf = connect(reference.root_opts(), "reference").await?;
        Ok(Diff {
            gw,
            rf,
            group: "setup".into(),
            stats: BTreeMap::new(),
            failures: Vec::new(),
            refused: Vec::new(),
            swapped: None,
            db: None,
            reference,
            _reference_dir: dir,
            cluster,
        })
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The reference MariaDB's port (user root, no password).
    pub fn reference_port(&self) -> u16 {
        self.reference.port()
    }

    pub fn cluster_mut(&mut self) -> &mut Cluster {
        &mut self.cluster
    }

    /// New connections to both, with database [`DB`] selected at connect.
    pub async fn reconnect(&mut self) -> anyhow::Result<()> {
        let gw = self.cluster.proxy_opts("app", "app", Some(DB));
        let rf = OptsBuilder::from_opts(self.reference.root_opts()).db_name(Some(DB));
        self.gw = connect(gw, "gateway").await?;
        self.rf = connect(rf.into(), "reference").await?;
        Ok(())
    }

    /// Creates [`DB`] and its tables on both (the gateway with `shardkey=`), loads
    /// `data` with multi-row INSERTs, and reconnects with the database selected.
    pub async fn setup(&mut self, data: &Data) -> anyhow::Result<()> {
        self.create_db().await?;
        for t in &TABLES {
            self.pair(&t.ddl(true), &t.ddl(false)).await?;
        }
        for sql in data.inserts(40) {
            self.pair(&sql, &sql).await?;
        }
        Ok(())
    }

    /// Creates [`DB`] on both and reconnects with it selected (no tables).
    pub async fn create_db(&mut self) -> anyhow::Result<()> {
        self.group("setup");
        self.pair(CREATE_DB, CREATE_DB).await?;
        self.db = Some(
            self.cluster
                .topo()
                .get_db(DB)
                .await?
                .context("CREATE DATABASE through the gateway records it in etcd")?
                .value,
        );
        self.reconnect().await?;
        Ok(())
    }

    /// The set owning shard-key value `id` (from the shard map in etcd).
    pub fn owner(&self, id: i64) -> String {
        let db = self.db.as_ref().expect("setup() first");
        let slot = topo::slot::slot_of_int(id as i128, db.shard_map.slots);
        db.shard_map
            .set_of_slot(slot)
            .expect("every slot is owned")
            .to_string()
    }

    /// The shard map of [`DB`] as recorded in etcd.
    pub fn shard_map(&self) -> topo::ShardMap {
        self.db.as_ref().expect("setup() first").shard_map.clone()
    }

    /// Starts a named group of checks (for the summary and the failure reports).
    pub fn group(&mut self, name: &str) {
        self.group = name.to_string();
        self.stats.entry(name.to_string()).or_default();
    }

    fn stat(&mut self) -> &mut Stats {
        self.stats.entry(self.group.clone()).or_default()
    }

    fn fail(&mut self, msg: String) {
        self.stat().failed += 1;
        self.failures.push(format!("[{}] {msg}", self.group));
    }

    /// A statement whose text differs per side (DDL with/without `shardkey=`);
    /// must answer the same.
    pub async fn pair(&mut self, gw_sql: &str, rf_sql: &str) -> anyhow::Result<()> {
        self.stat().run += 1;
        let got = run_text(&mut self.gw, gw_sql).await?;
        let want = run_text(&mut self.rf, rf_sql).await?;
        match differences(&want, &got, Order::Exact) {
            None => self.stat().matched += 1,
            Some(d) => self.fail(report("setup statement", gw_sql, &want, &got, &d)),
        }
        Ok(())
    }

    /// Records a check made outside [`run`](Self::run) (e.g. on the sets
    /// themselves): `None` matched, `Some(what)` is a mismatch.
    pub fn record(&mut self, mismatch: Option<String>) {
        self.stat().run += 1;
        match mismatch {
            None => self.stat().matched += 1,
            Some(m) => self.fail(m),
        }
    }

    /// Runs every query of `qs`.
    pub async fn run_all(&mut self, qs: &[Q]) -> anyhow::Result<()> {
        for q in qs {
            self.run(q).await?;
        }
        Ok(())
    }

    /// Runs one statement on the gateway, then on the reference (not if the gateway
    /// refused a statement that may be refused: a write must not happen on one side
    /// only), and records a mismatch. Returns the gateway's answer.
    pub async fn run(&mut self, q: &Q) -> anyhow::Result<Outcome> {
        self.stat().run += 1;
        let proto = if q.params.is_some() {
            "binary protocol"
        } else {
            "text protocol"
        };
        let (gmeta, got) = match &q.params {
            None => (None, run_text(&mut self.gw, &q.sql).await),
            Some(p) => match run_binary(&mut self.gw, &q.sql, p).await {
                Ok((m, o)) => (m, Ok(o)),
                Err(e) => (None, Err(e)),
            },
        };
        let got = match got {
            Ok(o) => o,
            Err(e) => {
                // No answer or a broken connection: record it and carry on afresh.
                self.fail(format!(
                    "{proto}: the gateway gave no proper answer: {e:#}\n  query: {}",
                    q.sql
                ));
                self.reconnect().await?;
                return Ok(Outcome::Error {
                    code: 0,
                    state: String::new(),
                    message: format!("{e:#}"),
                });
            }
        };
        if got.is_unsupported() && q.expect == Expect::SameOrUnsupported {
            self.stat().unsupported += 1;
            if let Outcome::Error { message, .. } = &got {
                self.refused.push(format!("{}  -- {message}", q.sql));
            }
            return Ok(got);
        }
        let (wmeta, want) = match &q.params {
            None => (None, run_text(&mut self.rf, &q.sql).await?),
            Some(p) => run_binary(&mut self.rf, &q.sql, p).await?,
        };
        let mut got = got;
        let mut gmeta = gmeta;
        self.undo_known_bugs(&q.sql, &want, &mut got, wmeta.as_ref(), gmeta.as_mut());
        let mut mismatch = false;
        if let (Some(w), Some(g)) = (&wmeta, &gmeta) {
            if let Some(d) = prep_differences(w, g) {
                mismatch = true;
                let params = format!("{:?}", q.params.as_deref().unwrap_or_default());
                self.fail(format!(
                    "{proto}: prepared-statement metadata differs\n  query: {}\n  params: {params}\n  diff:\n    {d}",
                    q.sql
                ));
            }
        }
        let what = match (got.is_unsupported(), &q.params) {
            (true, _) => format!("{proto}: refused (1235) a statement that must be supported"),
            (false, None) => format!("{proto}: answers differ"),
            (false, Some(p)) => format!("{proto}: answers differ; params {p:?}"),
        };
        if q.message {
            if let Some(d) = message_difference(&want, &got) {
                mismatch = true;
                self.fail(report(&what, &q.sql, &want, &got, &d));
            }
        }
        match differences(&want, &got, q.order) {
            None if !mismatch => self.stat().matched += 1,
            None => {}
            Some(d) => self.fail(report(&what, &q.sql, &want, &got, &d)),
        }
        Ok(got)
    }

    /// Prepares `e.sql` once on each side, then executes it with each of its
    /// parameter lists (binary protocol) and compares every answer, error
    /// messages included.
    pub async fn run_execs(&mut self, e: &limits::Execs) -> anyhow::Result<()> {
        let gw = execs(&mut self.gw, e.sql, &e.params).await;
        let rf = execs(&mut self.rf, e.sql, &e.params).await?;
        let gw = match gw {
            Ok(o) => o,
            Err(err) => {
                self.stat().run += 1;
                self.fail(format!(
                    "binary protocol: the gateway gave no proper answer: {err:#}\n  query: {}",
                    e.sql
                ));
                return self.reconnect().await;
            }
        };
        for ((p, want), got) in e.params.iter().zip(&rf).zip(&gw) {
            self.stat().run += 1;
            let d = differences(want, got, e.order).or_else(|| message_difference(want, got));
            match d {
                None => self.stat().matched += 1,
                Some(d) => {
                    let what =
                        format!("binary protocol, one statement executed many times: params {p:?}");
                    self.fail(report(&what, e.sql, want, got, &d));
                }
            }
        }
        Ok(())
    }

    /// Undoes (and counts) the known swapped charset/length bug in `got` so the rest
    /// of the answer is still compared; see [`outcome::undo_swapped_charset`].
    fn undo_known_bugs(
        &mut self,
        sql: &str,
        want: &Outcome,
        got: &mut Outcome,
        wmeta: Option<&PrepMeta>,
        gmeta: Option<&mut PrepMeta>,
    ) {
        let mut hit = false;
        if let (Outcome::Rows { cols: w, .. }, Outcome::Rows { cols: g, .. }) = (want, got) {
            hit |= undo_swapped_charset(w, g);
        }
        if let (Some(w), Some(g)) = (wmeta, gmeta) {
            hit |= undo_swapped_charset(&w.columns, &mut g.columns);
            hit |= undo_swapped_charset(&w.params, &mut g.params);
        }
        if hit {
            let e = self.swapped.get_or_insert_with(|| (sql.to_string(), 0));
            e.1 += 1;
        }
    }

    /// Compares the full contents of every table (scatter reads, as multisets).
    pub async fn compare_tables(&mut self) -> anyhow::Result<()> {
        for t in &TABLES {
            self.run(&Q::any(format!("SELECT * FROM {}", t.name)))
                .await?;
        }
        Ok(())
    }

    /// Prints the summary; panics with every mismatch found.
    pub fn finish(self) {
        let mut summary =
            String::from("differential summary (run / matched / refused 1235 / failed):");
        for (g, s) in &self.stats {
            summary.push_str(&format!(
                "\n  {g:<40} {:>4} {:>4} {:>4} {:>4}",
                s.run, s.matched, s.unsupported, s.failed
            ));
        }
        if !self.refused.is_empty() {
            summary.push_str("\nrefused with 1235 (allowed today; compared once merging lands):");
            for r in self.refused.iter().take(12) {
                summary.push_str(&format!("\n  {r}"));
            }
            if self.refused.len() > 12 {
                summary.push_str(&format!("\n  ... {} more", self.refused.len() - 12));
            }
        }
        println!("{summary}");
        let mut failures = self.failures;
        if let Some((first, n)) = &self.swapped {
            // KNOWN BUG: see outcome::undo_swapped_charset. Reported once, still a failure.
            failures.insert(
                0,
                format!(
                    "KNOWN BUG: the gateway's column definitions carry character_set and \
                     column_length swapped (mysql_common Column::serialize writes the length \
                     first) in {n} statement(s); first: {first}"
                ),
            );
        }
        if let Ok(path) = std::env::var("SETWISE_DIFF_REPORT") {
            // Every mismatch in full (the panic message shows the first ones).
            let all = format!(
                "{}\n\n{summary}\n\nall refused:\n{}\n",
                failures.join("\n\n"),
                self.refused.join("\n")
            );
            let _ = std::fs::write(path, all);
        }
        if failures.is_empty() {
            return;
        }
        let n = failures.len();
        let mut msg = format!("{n} mismatch(es) between the gateway and plain MariaDB:\n");
        for f in failures.iter().take(SHOW_FAILURES) {
            msg.push_str(f);
            msg.push_str("\n\n");
        }
        if n > SHOW_FAILURES {
            msg.push_str(&format!("... and {} more\n", n - SHOW_FAILURES));
        }
        msg.push_str(&summary);
        panic!("{msg}");
    }
}
