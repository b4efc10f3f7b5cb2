//! The leader's loop, one round per `[monitor] interval_ms`: read the records, judge
//! each set's health ([`Monitor`]), then — unless failover is disabled — resume
//! operations found in `ops/` (a previous leader's), start switchovers that were
//! requested, fail over sets whose primary stayed down for `confirm_rounds` rounds (and
//! does not answer our own probe), and apply the [`Policy`] to the quiet sets.
//!
//! Operations run as tasks of a `JoinSet`, at most one per set; they are aborted when
//! leadership ends (the next leader resumes them from their recorded phase). Slot
//! moves ([`crate::moves`]) run the same way, one at a time (the oldest unfinished),
//! each waiting while one of its sets has a failover or switchover in progress. Every
//! round also feeds the capacity monitor ([`crate::capacity::auto`]). DDL tasks
//! ([`crate::ddl`]) run beside the rounds for the whole term.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use anyhow::Result;
use tokio::task::JoinSet;
use topo::{
    FailoverRecord, HealthReport, NodeRecord, SetRecord, SwitchoverRequest, TaskRecord, Versioned,
};
use tracing::{info, warn};

use crate::config::SchedulerConfig;
use crate::failover::{self, switchover, Attempt, Driver};
use crate::leader::LeaderCtx;
use crate::monitor::{Monitor, Verdict};
use crate::policy::{self, Policy};

/// How often "the primary answers our probe, its agent does not report" is repeated.
const AGENT_WARN_EVERY_MS: u64 = 30_000;
/// After a failed failover, the set is not tried again for this long.
const RETRY_FAILED_FAILOVER_MS: u64 = 10_000;

/// What an operation task reports when it ends: the set, a line for the log (empty:
/// nothing to say) and whether a failover failed.
type Ended = (String, String, bool);

/// Everything one round reads.
struct Round {
    sets: Vec<SetRecord>,
    nodes: Vec<NodeRecord>,
    health: Vec<HealthReport>,
    ops: Vec<Versioned<FailoverRecord>>,
    requests: Vec<Versioned<SwitchoverRequest>>,
    tasks: Vec<TaskRecord>,
}

async fn read(ctx: &LeaderCtx) -> topo::Result<Round> {
    let t = &ctx.topo;
    Ok(Round {
        sets: t.list_sets().await?,
        nodes: t.list_nodes().await?,
        health: t.list_health().await?,
        ops: t.list(&t.keys().ops()).await?,
        requests: t.list_requests().await?,
        tasks: t.list_tasks().await?,
    })
}

/// Runs rounds until leadership ends.
pub async fn run(mut ctx: LeaderCtx, cfg: SchedulerConfig) -> Result<()> {
    let mut monitor = Monitor::default();
    let mut policy = Policy::default();
    let mut running: JoinSet<Ended> = JoinSet::new();
    let mut failed_at: HashMap<String, u64> = HashMap::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut agent_warned: HashMap<String, u64> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.monitor.interval_ms.max(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut read_failing = false;
    let mut whole: HashMap<String, (bool, u64)> = HashMap::new();
    let mut capacity = crate::capacity::auto::AutoScaler::default();
    // DDL tasks run beside the rounds, woken by their own watch (crate::ddl).
    let ddl = tokio::spawn(crate::ddl::run(ctx.clone(), cfg.mysql.clone()));
    crate::metrics::leading(true);
    info!(
        term = ctx.term,
        failover = cfg.failover.enabled,
        "leader rounds started"
    );
    loop {
        tokio::select! {
            _ = ctx.stopped() => break,
            _ = tick.tick() => {}
        }
        while let Some(done) = running.try_join_next() {
            match done {
                Ok((set, outcome, failed)) => {
                    if !outcome.is_empty() {
                        info!(set = %set, "{outcome}");
                    }
                    if failed {
                        failed_at.insert(set.clone(), crate::now_ms());
                    }
                    busy.remove(&set);
                }
                Err(e) => warn!("an operation task ended abnormally: {e}"),
            }
        }
        // An aborted or panicked task leaves its set marked busy: forget sets whose
        // tasks are all gone.
        if running.is_empty() {
            busy.clear();
        }
        let r = match read(&ctx).await {
            Ok(r) => {
                if read_failing {
                    info!("the leader reads etcd again");
                    read_failing = false;
                }
                r
            }
            Err(e) => {
                if !read_failing {
                    warn!("the leader cannot read etcd: {e}");
                    read_failing = true;
                }
                continue;
            }
        };
        let now = crate::now_ms();
        monitor.round(&r.sets, &r.nodes, &r.health, now, cfg.monitor.stale_ms);
        for s in &r.sets {
            if let Some(st) = monitor.state(&s.name) {
                crate::metrics::set_health(&s.name, st.verdict.is_healthy(), st.rounds);
            }
        }
        log_redundancy(&mut whole, &r, now);
        let in_etcd: HashSet<String> = r.ops.iter().map(|o| o.value.set.clone()).collect();
        if !busy.iter().any(|k| k.starts_with(MOVE_KEY)) {
            start_move(&ctx, &cfg, &in_etcd, &mut busy, &mut running).await;
        }
        let stale = cfg.monitor.stale_ms;
        capacity
            .round(
                &ctx,
                &cfg.capacity,
                stale,
                &r.sets,
                &r.nodes,
                &r.health,
                now,
            )
            .await;
        if !cfg.failover.enabled {
            continue;
        }

        // A previous leader's operations first.
        for op in r.ops {
            let set = op.value.set.clone();
            if busy.insert(set.clone()) {
                let driver =
                    Driver::resume(ctx.clone(), cfg.failover.clone(), cfg.mysql.clone(), op);
                running.spawn(async move {
                    let (text, failed) = outcome(driver.run().await);
                    (set, text, failed)
                });
            }
        }
        // Requested switchovers.
        for req in r.requests {
            let set = req.value.set.clone();
            if in_etcd.contains(&set) || !busy.insert(set.clone()) {
                continue;
            }
            let (ctx, fcfg, account) = (ctx.clone(), cfg.failover.clone(), cfg.mysql.clone());
            let (nodes, health) = (r.nodes.clone(), r.health.clone());
            let fresh_after = now.saturating_sub(cfg.monitor.stale_ms);
            running.spawn(async move {
                let rec =
                    switchover::handle(ctx, fcfg, account, req, nodes, health, fresh_after).await;
                (set, outcome(rec).0, false)
            });
        }
        // Dead primaries.
        for (set, st) in monitor.suspects() {
            let backing_off = failed_at
                .get(set)
                .is_some_and(|&t| now.saturating_sub(t) < RETRY_FAILED_FAILOVER_MS);
            let confirmed = st.verdict.certain() || st.rounds >= cfg.failover.confirm_rounds;
            if !confirmed || in_etcd.contains(set) || busy.contains(set) || backing_off {
                continue;
            }
            let primary = match &st.verdict {
                v if v.primary_down() => r
                    .nodes
                    .iter()
                    .find(|n| n.set == set && n.role == topo::Role::Primary)
                    .cloned(),
                Verdict::NoPrimary => None,
                _ => continue,
            };
            if primary.is_none() && !matches!(st.verdict, Verdict::NoPrimary) {
                continue;
            }
            busy.insert(set.to_string());
            let (ctx, fcfg, account) = (ctx.clone(), cfg.failover.clone(), cfg.mysql.clone());
            let (set, verdict, certain) =
                (set.to_string(), st.verdict.describe(), st.verdict.certain());
            let warned = agent_warned.get(&set).copied().unwrap_or(0);
            let remind = now.saturating_sub(warned) >= AGENT_WARN_EVERY_MS;
            if remind {
                agent_warned.insert(set.clone(), now);
            }
            running.spawn(async move {
                let r =
                    failover::fail_over(ctx, fcfg, account, set.clone(), primary, verdict, certain)
                        .await;
                let (text, failed) = match r {
                    Ok(Attempt::PrimaryAnswers) if remind => (
                        "no failover: the primary answers the scheduler's probe \
                         (its agent is not reporting)"
                            .to_string(),
                        false,
                    ),
                    Ok(Attempt::PrimaryAnswers) => (String::new(), false),
                    Ok(Attempt::Ran(rec)) => outcome(Ok(*rec)),
                    Err(e) => {
                        crate::metrics::operation_not_run();
                        (format!("failover did not run: {e:#}"), true)
                    }
                };
                (set, text, failed)
            });
        }
        // The quiet sets.
        let quiet = |s: &str| !busy.contains(s) && !in_etcd.contains(s);
        let decisions = policy.decide(&r.sets, &r.nodes, &r.health, &quiet);
        let stop = ctx.clone();
        tokio::select! {
            _ = ctx.stopped() => break,
            _ = policy::apply(&stop, &r.health, decisions) => {}
        }
    }
    ddl.abort();
    crate::metrics::leading(false);
    crate::metrics::move_running(false);
    info!(term = ctx.term, "leader rounds stopped");
    Ok(())
}

/// The key a running move takes in `busy` (never a set's name: names have no `:`).
const MOVE_KEY: &str = "move:";

/// Starts the oldest unfinished slot move, unless one of its sets is failing over.
async fn start_move(
    ctx: &LeaderCtx,
    cfg: &SchedulerConfig,
    ops: &HashSet<String>,
    busy: &mut HashSet<String>,
    running: &mut JoinSet<Ended>,
) {
    let found = match crate::moves::pick(&ctx.topo, ops).await {
        Ok(Some(m)) => m,
        Ok(None) => return,
        Err(e) => {
            warn!("cannot read the slot moves: {e}");
            return;
        }
    };
    let key = format!("{MOVE_KEY}{}", found.value.id);
    busy.insert(key.clone());
    crate::metrics::move_running(true);
    let driver =
        crate::moves::Driver::new(ctx.clone(), cfg.moves.clone(), cfg.mysql.clone(), found);
    running.spawn(async move {
        let text = match driver.run().await {
            Ok(rec) => {
                crate::metrics::move_ended(rec.phase.word());
                format!(
                    "move {} {}{}",
                    rec.id,
                    rec.phase.word(),
                    rec.error.map(|e| format!(": {e}")).unwrap_or_default()
                )
            }
            Err(e) => {
                crate::metrics::move_ended("stopped");
                format!("move stopped: {e:#}")
            }
        };
        crate::metrics::move_running(false);
        (key, text, false)
    });
}

/// Logs each set that became whole again (and after how long) or stopped being
/// whole (and why); `whole` remembers each set's state and since when.
fn log_redundancy(whole: &mut HashMap<String, (bool, u64)>, r: &Round, now: u64) {
    whole.retain(|name, _| r.sets.iter().any(|s| &s.name == name));
    for s in &r.sets {
        let red = crate::redundancy::assess(s, &r.nodes, &r.health, &r.tasks);
        let is = red.is_whole();
        crate::metrics::set_whole(&s.name, is);
        match whole.get(&s.name) {
            Some(&(was, _)) if was == is => continue,
            Some(&(_, since)) if is => info!(
                set = %s.name,
                after_ms = now.saturating_sub(since),
                "set whole again: {}",
                red.describe()
            ),
            _ if is => info!(set = %s.name, "set {}", red.describe()),
            _ => warn!(set = %s.name, "set not whole: {}", red.describe()),
        }
        whole.insert(s.name.clone(), (is, now));
    }
}

/// A log line for a finished operation, and whether it failed.
fn outcome(r: Result<FailoverRecord>) -> (String, bool) {
    match &r {
        Ok(rec) => crate::metrics::operation(rec),
        Err(_) => crate::metrics::operation_not_run(),
    }
    match r {
        Ok(rec) => match rec.error {
            None => (
                format!(
                    "{:?} {} -> {} done in {} ms",
                    rec.kind,
                    if rec.old_primary.is_empty() {
                        "-"
                    } else {
                        &rec.old_primary
                    },
                    rec.new_primary.as_deref().unwrap_or("-"),
                    rec.duration_ms().unwrap_or(0)
                ),
                false,
            ),
            Some(e) => (format!("{:?} failed: {e}", rec.kind), true),
        },
        Err(e) => (format!("operation stopped: {e:#}"), true),
    }
}
