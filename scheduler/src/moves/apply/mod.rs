//! The catch-up of a slot move: one source primary's binlog ([`BinlogReader`])
//! filtered to the moving slots and applied idempotently to the target primary.
//!
//! * A row of a moving table is kept when its shard key's slot (computed from the
//!   row image with [`topo::slot`], exactly as the gateway and the copy's SQL do) is
//!   in the moving spans; every row of a broadcast table is kept.
//! * Insert → `REPLACE` the after-image; update → delete by the before-image's
//!   primary key when the row leaves the moving slots or its key changes, then
//!   `REPLACE` the after-image when it is (still) moving; delete → delete by the
//!   before-image's key. Replaying any stretch twice gives the same rows.
//! * Source transactions are applied whole — the ones already arrived together, in
//!   one target transaction — and `gtid_applied` only moves past them after the
//!   target's COMMIT. A prepared XA transaction's rows wait for its
//!   `XA COMMIT` (dropped on `XA ROLLBACK`); while one waits, the reported position
//!   stays before its prepare, so resuming from it never loses the rows.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use topo::gtid::{Gtid, GtidPos};
use topo::moves::{MoveTable, SlotSpan};

use super::binlog::{
    BinlogEvent, BinlogReader, GtidEvent, FL_COMPLETED_XA, FL_PREPARED_XA, FL_STANDALONE,
};

mod ops;

pub use ops::value_slot;
use ops::{batch_len, ops_of, plans, statement, Op, TablePlan};

/// How long the stream may stay silent before [`Tail::step`] returns.
const IDLE: Duration = Duration::from_millis(100);
/// Row changes / source transactions applied in one target transaction at most.
const BATCH_OPS: usize = 5_000;
const BATCH_GROUPS: usize = 1_000;

/// What a tail keeps: rows of `db`'s moving `tables` whose key's slot is in `spans`
/// (slot = topo::slot over `slots`), and every row of the `broadcast` tables.
#[derive(Debug, Clone)]
pub struct Filter {
    pub db: String,
    pub tables: Vec<MoveTable>,
    pub slots: u32,
    pub spans: Vec<SlotSpan>,
    pub broadcast: Vec<String>,
}

/// Where a tail is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailProgress {
    /// Every source transaction up to here is on the target: a transaction boundary,
    /// safe to record and to resume from.
    pub gtid_applied: String,
    /// Row changes written to the target (REPLACEd or deleted rows).
    pub events_applied: u64,
    /// How far the stream has been read and applied (ahead of `gtid_applied` only
    /// while a prepared XA transaction waits for its commit).
    pub gtid_read: String,
}
/// The event group being read.
struct Group {
    gtid: GtidEvent,
    ops: Vec<Op>,
}

/// A prepared XA transaction waiting for its `XA COMMIT`.
struct PendingXa {
    xid: Vec<u8>,
    /// Its domain's position before its prepare (None: the domain had none).
    before: Option<Gtid>,
    domain: u32,
    ops: Vec<Op>,
}

/// One source primary's binlog, streamed from a GTID position and applied to the target primary.
pub struct Tail {
    reader: BinlogReader,
    target: Conn,
    filter: Filter,
    plans: Vec<TablePlan>,
    /// Every group read so far is applied (or, XA, pending).
    read: GtidPos,
    /// `read` and the GTIDs of the batch not yet written.
    ahead: GtidPos,
    group: Option<Group>,
    /// Changes of source transactions read but not yet written, and their GTIDs.
    batch: Vec<Op>,
    batch_gtids: Vec<Gtid>,
    pending: Vec<PendingXa>,
    /// XA transactions prepared on the source when the tail opened.
    prepared_at_open: HashSet<Vec<u8>>,
    /// XA prepares seen in the stream.
    seen_prepares: HashSet<Vec<u8>>,
    /// The copy's first snapshot position ([`Tail::expect_copy_snapshot`]).
    copy_snapshot: Option<GtidPos>,
    events_applied: u64,
    /// The first error: a tail that failed must be reopened.
    failed: Option<String>,
}

impl Tail {
    /// source/target: mysql_async::Opts of the two primaries (scheduler's [mysql] account, see scheduler/src/config.rs MysqlConfig::opts).
    /// from_gtid: a MariaDB GTID position ("0-101-57" or "" for the beginning), server_id: unique per stream.
    pub async fn open(
        source: Opts,
        target: Opts,
        filter: Filter,
        from_gtid: &str,
        server_id: u32,
    ) -> anyhow::Result<Tail> {
        let read = GtidPos::parse(from_gtid).map_err(|e| anyhow!(e))?;
        let prepared_at_open = prepared_xa(source.clone()).await?;
        let mut names: Vec<String> = filter.tables.iter().map(|t| t.name.clone()).collect();
        names.extend(filter.broadcast.iter().cloned());
        let reader = BinlogReader::open(source, &filter.db, &names, from_gtid, server_id).await?;
        let plans = plans(&filter, reader.tables())?;
        let mut target = Conn::new(target)
            .await
            .context("connect to the target primary")?;
        // Text keys are placed by their collation's weights, read once per process.
        for t in &filter.tables {
            if let topo::KeyType::Weighted { collation, .. } = t.key_type {
                topo::weights::load(&mut target, collation)
                    .await
                    .with_context(|| format!("the weights of the shard key of `{}`", t.name))?;
            }
        }
        // Values are bound as the bytes the binlog holds (in each column's own
        // character set), timestamps as UTC text, 0 stays 0 in AUTO_INCREMENT.
        target
            .query_drop(
                "SET NAMES binary, time_zone = '+00:00', \
                 sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0",
            )
            .await
            .context("prepare the target session")?;
        Ok(Tail {
            reader,
            target,
            filter,
            plans,
            ahead: read.clone(),
            read,
            group: None,
            batch: Vec::new(),
            batch_gtids: Vec::new(),
            pending: Vec::new(),
            prepared_at_open,
            seen_prepares: HashSet::new(),
            copy_snapshot: None,
            events_applied: 0,
            failed: None,
        })
    }

    /// The position of the copy's first snapshot: an `XA COMMIT` read after it
    /// whose `XA PREPARE` the stream never showed was prepared before the start
    /// and not committed in the snapshot — its rows are in neither, and the tail
    /// fails rather than go on without them (docs/scaleout.md, invariant 1).
    pub fn expect_copy_snapshot(&mut self, pos: &str) -> anyhow::Result<()> {
        self.copy_snapshot = Some(GtidPos::parse(pos).map_err(|e| anyhow!(e))?);
        Ok(())
    }

    /// Where the tail is now.
    pub fn progress(&self) -> TailProgress {
        let waiting: Vec<(u32, Option<Gtid>)> =
            self.pending.iter().map(|p| (p.domain, p.before)).collect();
        TailProgress {
            gtid_applied: safe_position(&self.read, &waiting).to_string(),
            events_applied: self.events_applied,
            gtid_read: self.read.to_string(),
        }
    }

    /// Applies what arrives for at most `max_wait` (returns sooner when the stream is idle); the returned gtid_applied is always at a transaction boundary (safe to record in etcd and resume from).
    pub async fn step(&mut self, max_wait: Duration) -> anyhow::Result<TailProgress> {
        let deadline = Instant::now() + max_wait;
        self.pump(deadline, |_| false).await?;
        Ok(self.progress())
    }

    /// Applies until every domain of `pos` (the source's @@gtid_binlog_pos read after writes were held) is reached, or fails after `timeout`.
    pub async fn drain_to(&mut self, pos: &str, timeout: Duration) -> anyhow::Result<TailProgress> {
        let want = GtidPos::parse(pos).map_err(|e| anyhow!(e))?;
        let deadline = Instant::now() + timeout;
        loop {
            // Counting what is read but still batched: the pump flushes on return.
            let reached =
                |t: &Tail| t.ahead.contains(&want) && t.pending.iter().all(|p| p.ops.is_empty());
            if reached(self) {
                return Ok(self.progress());
            }
            if Instant::now() >= deadline {
                let waiting = self.pending.iter().filter(|p| !p.ops.is_empty()).count();
                bail!(
                    "the catch-up did not reach {pos} within {timeout:?}: at {}{}",
                    self.read,
                    if waiting > 0 {
                        format!(", {waiting} prepared XA transaction(s) with moving rows not yet committed")
                    } else {
                        String::new()
                    }
                );
            }
            self.pump(deadline, reached).await?;
        }
    }

    /// Reads and applies events until `deadline`, an idle stream, or `stop`.
    async fn pump(
        &mut self,
        deadline: Instant,
        stop: impl Fn(&Tail) -> bool,
    ) -> anyhow::Result<()> {
        if let Some(e) = &self.failed {
            bail!("the catch-up failed earlier ({e}): reopen it");
        }
        let r = self.pump_events(deadline, stop).await;
        let r = match r {
            Ok(()) => self.flush().await,
            e => e,
        };
        r.map_err(|e| self.fail(e))
    }

    async fn pump_events(
        &mut self,
        deadline: Instant,
        stop: impl Fn(&Tail) -> bool,
    ) -> anyhow::Result<()> {
        loop {
            if Instant::now() >= deadline || stop(self) {
                return Ok(());
            }
            // What has already arrived is applied in one batch; before waiting for
            // more, the batch goes to the target.
            let ev = match self.reader.next(Duration::ZERO).await? {
                Some(ev) => ev,
                None => {
                    self.flush().await?;
                    let now = Instant::now();
                    if now >= deadline || stop(self) {
                        return Ok(());
                    }
                    match self.reader.next(IDLE.min(deadline - now)).await? {
                        Some(ev) => ev,
                        None => return Ok(()),
                    }
                }
            };
            self.handle(ev).await?;
            if self.batch.len() >= BATCH_OPS || self.batch_gtids.len() >= BATCH_GROUPS {
                self.flush().await?;
            }
        }
    }

    fn fail(&mut self, e: anyhow::Error) -> anyhow::Error {
        self.failed = Some(format!("{e:#}"));
        e
    }

    async fn handle(&mut self, ev: BinlogEvent) -> anyhow::Result<()> {
        match ev {
            BinlogEvent::Gtid(g) => {
                if let Some(open) = &self.group {
                    bail!(
                        "binlog group {} began before group {} ended",
                        show(&g.gtid),
                        show(&open.gtid.gtid)
                    );
                }
                self.group = Some(Group {
                    gtid: g,
                    ops: Vec::new(),
                });
            }
            BinlogEvent::Rows(changes) => {
                let Some(group) = self.group.as_mut() else {
                    bail!("row changes outside a binlog event group");
                };
                for c in changes {
                    ops_of(&self.plans, &self.filter, c, &mut group.ops)?;
                }
            }
            BinlogEvent::Xid => self.commit().await?,
            BinlogEvent::XaPrepare => self.prepare().await?,
            BinlogEvent::Query { schema, text } => self.query(&schema, &text).await?,
            BinlogEvent::Other => {}
        }
        Ok(())
    }

    async fn query(&mut self, schema: &str, text: &str) -> anyhow::Result<()> {
        let Some(group) = self.group.as_ref() else {
            return Ok(());
        };
        let head: String = text
            .trim_start()
            .chars()
            .take(12)
            .collect::<String>()
            .to_ascii_uppercase();
        let completes_xa = group.gtid.flags & FL_COMPLETED_XA != 0;
        if head.starts_with("XA COMMIT") && completes_xa {
            return self.complete_xa(true).await;
        }
        if head.starts_with("XA ROLLBACK") && completes_xa {
            return self.complete_xa(false).await;
        }
        if head.starts_with("COMMIT") || head.starts_with("XA COMMIT") {
            return self.commit().await;
        }
        if head.starts_with("ROLLBACK") && !head.starts_with("ROLLBACK TO") {
            // What a rolled-back mixed transaction logged is what stayed.
            return self.commit().await;
        }
        if ["BEGIN", "SAVEPOINT", "ROLLBACK TO", "XA START", "XA END"]
            .iter()
            .any(|p| head.starts_with(p))
        {
            return Ok(());
        }
        // Table maintenance (statistics, a check, a rebuild) changes no row.
        let maintenance = ["ANALYZE", "CHECK", "OPTIMIZE", "REPAIR"]
            .iter()
            .any(|p| head.starts_with(p));
        if !maintenance && self.touches(schema, text) {
            bail!(
                "a statement on a moving table is in the source's binlog (DDL or a \
                 statement-logged change during the move): {}",
                text.chars().take(200).collect::<String>()
            );
        }
        if group.gtid.flags & FL_STANDALONE != 0 {
            return self.commit().await;
        }
        Ok(())
    }

    /// Whether a statement may concern a watched table.
    fn touches(&self, schema: &str, text: &str) -> bool {
        let t = text.to_lowercase();
        (schema.eq_ignore_ascii_case(&self.filter.db) || mentions(&t, &self.filter.db))
            && self
                .filter
                .tables
                .iter()
                .map(|m| &m.name)
                .chain(&self.filter.broadcast)
                .any(|n| mentions(&t, n))
    }

    /// The group ends committed: its changes join the batch.
    async fn commit(&mut self) -> anyhow::Result<()> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        self.batch.extend(group.ops);
        self.batch_gtids.push(group.gtid.gtid);
        self.ahead.set(group.gtid.gtid);
        Ok(())
    }

    /// The batch (the changes of whole source transactions, in order) goes to the
    /// target in one transaction; then the position moves past them.
    async fn flush(&mut self) -> anyhow::Result<()> {
        if self.batch_gtids.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut self.batch);
        self.apply(&ops).await?;
        for g in std::mem::take(&mut self.batch_gtids) {
            self.read.set(g);
        }
        Ok(())
    }

    /// An XA transaction is prepared: its changes wait for its completion.
    async fn prepare(&mut self) -> anyhow::Result<()> {
        let Some(group) = self.group.take() else {
            bail!("XA PREPARE outside a binlog event group");
        };
        // Its position before it must be exact: what precedes it goes first.
        self.flush().await?;
        let g = group.gtid.gtid;
        if group.gtid.flags & FL_PREPARED_XA == 0 {
            bail!("XA PREPARE in group {} not flagged as XA", show(&g));
        }
        let xid = group.gtid.xid.clone().unwrap_or_default();
        self.seen_prepares.insert(xid.clone());
        self.pending.push(PendingXa {
            xid,
            before: self.read.domain(g.domain).copied(),
            domain: g.domain,
            ops: group.ops,
        });
        self.read.set(g);
        self.ahead.set(g);
        Ok(())
    }

    /// `XA COMMIT` / `XA ROLLBACK` of a prepared transaction.
    async fn complete_xa(&mut self, commit: bool) -> anyhow::Result<()> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let xid = group.gtid.xid.clone().unwrap_or_default();
        let mut ops = Vec::new();
        match self.pending.iter().position(|p| p.xid == xid) {
            Some(i) => ops = self.pending.remove(i).ops,
            None => {
                let mut at = GtidPos::default();
                at.set(group.gtid.gtid);
                let after_copy = self
                    .copy_snapshot
                    .as_ref()
                    .is_some_and(|s| !s.contains(&at));
                if commit
                    && (self.prepared_at_open.contains(&xid) || after_copy)
                    && !self.seen_prepares.contains(&xid)
                {
                    bail!(
                        "XA transaction {} was prepared before the catch-up's start position \
                         and committed after it: its rows may be missing on the target \
                         (start the copy again)",
                        String::from_utf8_lossy(&xid)
                    );
                }
            }
        }
        if commit {
            self.batch.extend(ops);
            self.batch.extend(group.ops);
        }
        self.batch_gtids.push(group.gtid.gtid);
        self.ahead.set(group.gtid.gtid);
        Ok(())
    }

    /// Writes `ops` on the target in one transaction.
    async fn apply(&mut self, ops: &[Op]) -> anyhow::Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        self.target
            .query_drop("START TRANSACTION")
            .await
            .context("target: START TRANSACTION")?;
        let mut i = 0;
        while i < ops.len() {
            let n = batch_len(&ops[i..]);
            let (sql, params) = statement(&self.plans, &ops[i..i + n]);
            self.target
                .exec_drop(sql.as_str(), params)
                .await
                .with_context(|| {
                    format!("target: {}", sql.chars().take(200).collect::<String>())
                })?;
            i += n;
        }
        self.target
            .query_drop("COMMIT")
            .await
            .context("target: COMMIT")?;
        self.events_applied += ops.len() as u64;
        Ok(())
    }

    /// Closes both connections.
    pub async fn close(self) {
        self.reader.close().await;
        let _ = self.target.disconnect().await;
    }
}

/// Transactions of the source not yet applied: compare `applied` with the source's @@gtid_binlog_pos (per-domain seq difference; topo::gtid may already help).
pub fn lag_trx(applied: &str, source_pos: &str) -> Option<u64> {
    let a = GtidPos::parse(applied).ok()?;
    let s = GtidPos::parse(source_pos).ok()?;
    Some(a.gap_to(&s))
}

/// `read`, held back in each domain to before the earliest prepare still waiting
/// (`(domain, position before it)`; None: the domain had no position then).
fn safe_position(read: &GtidPos, waiting: &[(u32, Option<Gtid>)]) -> GtidPos {
    let mut safe = read.clone();
    let mut gone = Vec::new();
    for &(domain, before) in waiting {
        match before {
            Some(g)
                if !gone.contains(&domain) && safe.domain(domain).is_none_or(|s| g.seq < s.seq) =>
            {
                safe.set(g)
            }
            Some(_) => {}
            None => {
                safe.remove(domain);
                gone.push(domain);
            }
        }
    }
    safe
}

/// Whether lower-cased SQL `text` names `name` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let name = name.to_lowercase();
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
    text.match_indices(&name).any(|(i, _)| {
        !ident(text[..i].chars().next_back()) && !ident(text[i + name.len()..].chars().next())
    })
}

fn show(g: &Gtid) -> String {
    format!("{}-{}-{}", g.domain, g.server, g.seq)
}

/// The XA transactions prepared on the source (`formatID`, lengths, data: the
/// identity a GTID event carries).
async fn prepared_xa(source: Opts) -> anyhow::Result<HashSet<Vec<u8>>> {
    let mut conn = Conn::new(source)
        .await
        .context("connect to the source primary")?;
    let rows: Vec<(i64, u8, u8, Vec<u8>)> = conn
        .query("XA RECOVER")
        .await
        .context("source: XA RECOVER")?;
    let _ = conn.disconnect().await;
    Ok(rows
        .into_iter()
        .map(|(format, g, b, data)| {
            let mut x = (format as u32).to_le_bytes().to_vec();
            x.push(g);
            x.push(b);
            x.extend_from_slice(&data);
            x
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_whole_identifiers() {
        assert!(mentions("alter table `d`.`t` add c int", "t"));
        assert!(mentions("truncate d.t", "t"));
        assert!(!mentions("drop table d.other", "t"));
        assert!(!mentions("create table tt (id int)", "t"));
    }

    #[test]
    fn a_waiting_prepare_holds_its_domain_back() {
        let p = |t: &str| GtidPos::parse(t).unwrap();
        let g = |d, s, q| Gtid {
            domain: d,
            server: s,
            seq: q,
        };
        let read = p("0-1-10,1-2-20");
        assert_eq!(safe_position(&read, &[]), read);
        assert_eq!(
            safe_position(&read, &[(0, Some(g(0, 1, 7))), (0, Some(g(0, 1, 4)))]),
            p("0-1-4,1-2-20")
        );
        assert_eq!(
            safe_position(&read, &[(1, None), (1, Some(g(1, 2, 15)))]),
            p("0-1-10")
        );
    }

    #[test]
    fn lag_is_the_per_domain_gap() {
        assert_eq!(lag_trx("0-1-5", "0-1-9,1-2-3"), Some(7));
        assert_eq!(lag_trx("0-1-9", "0-1-9"), Some(0));
        assert_eq!(lag_trx("", "0-1-2"), Some(2));
        assert_eq!(lag_trx("junk", "0-1-2"), None);
    }
}
