//! Executing a [`Plan`] on the sets' primaries and writing the merged answer to the
//! client. Rows stream: a scatter is written set after set, row by row, never
//! collected. Getting connections is [`conns`]; running SQL on one is [`wire`];
//! merging OK packets is [`oks`].
//!
//! The pieces: [`take`] (the connection of each part and where it goes
//! after), [`single`] (one set), [`reads`] (several sets concatenated or
//! merged), [`writes`] (several sets written), [`running`] (KILL QUERY's
//! record), [`fast`] (pipelined point reads), [`parallel`] (a concatenation
//! on several sets at once).

pub(crate) mod conns;
mod fast;
mod found;
mod oks;
mod parallel;
mod pins;
mod reads;
mod replica;
mod returning;
mod running;
mod single;
mod take;
pub mod txn;
pub mod uservars;
pub mod weights;
pub(crate) mod wire;
mod writes;

use std::borrow::Cow;
use std::sync::Arc;

use crate::backend::Conn;
use mysql_async::Value;
use topo::ClusterSnapshot;

use crate::error::ProxyError;
pub use crate::front::responder::Answered;
use crate::front::{OkInfo, Responder};
use crate::route::{Merge, Plan, Target};

pub use conns::{check_writable, discard, epoch_of, given_up, guard, Conns};
pub use fast::eligible as fast_eligible;
pub use found::CalcFound;
pub use oks::sum_oks;
pub use pins::Pins;
use txn::Txn;
pub(crate) use wire::stream_all;
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
    /// Outside a transaction: the conditions of a statement whose connection is
    /// not reused (it assigned user variables), read there before it closes.
    pub diag_rows: Vec<txn::diag::Cells>,
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
    /// `SELECT ... LAST_INSERT_ID(expr) ...` on one set: the session's value,
    /// given to the connection first (`DO LAST_INSERT_ID(v)`), so that the
    /// value MariaDB leaves there afterwards — set by the rows it evaluated,
    /// unchanged by none — is read back into [`last_id_read`](Self::last_id_read).
    pub last_id: Option<u64>,
    pub last_id_read: Option<u64>,
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
    /// The statement uses no table: in a transaction, the branches holding the
    /// last statement's diagnostics keep them unless this one raises some.
    pub keeps_diag: bool,
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
            diag_rows: Vec::new(),
            fast: false,
            stateful: false,
            capture: Vec::new(),
            captured: Vec::new(),
            last_id: None,
            last_id_read: None,
            pins: None,
            pin: false,
            from_pins: Default::default(),
            keep: None,
            diag_begun: false,
            keeps_diag: false,
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

    pub async fn run(&mut self, plan: &Plan, sql: &str, out: &mut Responder<'_>) -> Answered {
        match (&plan.target, &plan.merge) {
            (Target::Sets(sets), Merge::Single) => self.single(&sets[0], sql, out).await,
            (Target::Sets(sets), Merge::Concat) => self.concat(sets, sql, out).await,
            (Target::Sets(sets), Merge::Merged(spec)) => self.merged(sets, spec, out).await,
            // The gateway's own join: run by `crate::join::run::run_plan`, which
            // sees both the executor and the join.
            (_, Merge::Join(_)) => {
                let e = ProxyError::Internal("a join plan reached the executor".into());
                fail(out, &e).await
            }
            (Target::Sets(sets), merge) => {
                let parts: Vec<(&str, &str)> = sets.iter().map(|s| (s.as_str(), sql)).collect();
                self.writes(&parts, merge, out, None).await
            }
            (Target::PerSet(parts), merge) => {
                let parts: Vec<(&str, &str)> = parts
                    .iter()
                    .map(|(s, q)| (s.as_str(), q.as_str()))
                    .collect();
                // A split INSERT; or the per-set UPDATE/DELETE of chosen rows
                // (`session::limited`), whose OKs are summed as sent.
                let insert_split = parts.first().and_then(|(_, q)| oks::InsertForm::of(q));
                self.writes(&parts, merge, out, insert_split).await
            }
        }
    }
}

async fn fail(out: &mut Responder<'_>, e: &ProxyError) -> Answered {
    out.error(e).await?;
    Ok(false)
}
