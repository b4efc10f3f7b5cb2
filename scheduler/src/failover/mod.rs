//! Failover and switchover of a set's primary (docs/failover.md): confirming that a
//! primary is dead ([`probe`]), the resumable operation ([`op`]) with its election
//! ([`elect`]) and the agents' tasks ([`tasks`]), and turning a switchover request into
//! an operation ([`switchover`]).

pub mod elect;
pub mod failpoint;
pub mod freeze;
pub mod op;
pub mod probe;
pub mod switchover;
pub mod tasks;

use std::time::Duration;

use anyhow::Result;
use topo::{FailoverKind, FailoverPhase, FailoverRecord, NodeRecord};
use tracing::info;

use crate::config::{FailoverConfig, MysqlConfig};
use crate::leader::LeaderCtx;
use crate::now_ms;

pub use op::Driver;

/// A new record for an operation on `set` starting now.
pub fn new_record(
    set: &str,
    kind: FailoverKind,
    reason: String,
    old_primary: &str,
) -> FailoverRecord {
    let now = now_ms();
    FailoverRecord {
        id: format!("{now}-{set}"),
        set: set.to_string(),
        kind,
        reason,
        old_primary: old_primary.to_string(),
        new_primary: None,
        old_gtid: None,
        new_gtid: None,
        phase: FailoverPhase::Started,
        error: None,
        started_ms: now,
        finished_ms: None,
        fenced_ms: None,
        published_ms: None,
        request_id: None,
        target: None,
        wait_gtid: None,
        by: Vec::new(),
        steps: Vec::new(),
    }
}

/// What became of a primary that looked dead.
#[derive(Debug)]
pub enum Attempt {
    /// The scheduler's own probe got an answer: the agent (or its etcd link) is the
    /// problem, not the primary. No failover.
    PrimaryAnswers,
    /// Failed over (or tried to: see the record's phase).
    Ran(Box<FailoverRecord>),
}

/// Confirms with our own probe that `primary` is dead (unless the verdict is
/// `certain`: its agent saw the process stopped), then fails the set over.
/// `primary` is None when the set has no primary at all (an earlier failover failed).
pub async fn fail_over(
    ctx: LeaderCtx,
    cfg: FailoverConfig,
    account: MysqlConfig,
    set: String,
    primary: Option<NodeRecord>,
    verdict: String,
    certain: bool,
) -> Result<Attempt> {
    let mut reason = verdict;
    if let Some(p) = primary.as_ref().filter(|_| !certain) {
        let within = Duration::from_millis(cfg.probe_timeout_ms);
        match probe::answers(&p.host, p.port, &account, within).await {
            Ok(()) => return Ok(Attempt::PrimaryAnswers),
            Err(e) => reason = format!("{reason}; the scheduler's probe: {e}"),
        }
    }
    info!(set = %set, "failing over: {reason}");
    let old = primary.as_ref().map(|p| p.id.as_str()).unwrap_or("");
    let rec = new_record(&set, FailoverKind::Failover, reason, old);
    let driver = Driver::start(ctx, cfg, account, rec, None).await?;
    Ok(Attempt::Ran(Box::new(driver.run().await?)))
}
