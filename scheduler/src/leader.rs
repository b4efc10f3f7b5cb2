//! Leadership of the scheduler: campaign in etcd election [`ELECTION`], run the leader's
//! work while the leadership lease holds, step down and campaign again when it is lost,
//! resign on shutdown so a standby takes over at once.
//!
//! The work gets a [`LeaderCtx`] whose [`LeaderCtx::stopped`] fires when leadership
//! ends; long operations (failover, later) must check it before each step that writes.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;
use topo::election::{self, Leadership};
use topo::Topo;
use tracing::{debug, info, warn};

/// Name of the scheduler's election.
pub const ELECTION: &str = "scheduler";

/// How often the leader re-checks that it still holds leadership.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// How often the leader asks etcd who leads (catches a deleted leader key).
const VERIFY_EVERY: Duration = Duration::from_secs(1);
/// How long the work may take to wind down after leadership ends.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Handed to the leader's work for one term of leadership.
#[derive(Clone)]
pub struct LeaderCtx {
    pub topo: Topo,
    /// This scheduler's id (its value in the election).
    pub id: String,
    /// Counts the terms this process has led (1, 2, …).
    pub term: u64,
    stop: watch::Receiver<bool>,
}

impl LeaderCtx {
    /// A context whose stop signal is driven by the returned sender (for tests and tools).
    pub fn new(topo: Topo, id: String, term: u64) -> (Self, watch::Sender<bool>) {
        let (tx, stop) = watch::channel(false);
        (
            Self {
                topo,
                id,
                term,
                stop,
            },
            tx,
        )
    }

    /// Whether leadership has ended (lost or shutting down).
    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves when leadership ends.
    pub async fn stopped(&mut self) {
        let _ = self.stop.wait_for(|s| *s).await;
    }
}

/// Why a term of leadership ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TermEnd {
    Shutdown,
    Lost(String),
    WorkEnded,
}

/// Campaigns and leads until `shutdown` turns true. Each term runs `work`.
/// `takeover`: the leader writes a heartbeat four times in that span, and a standby
/// that sees none for that long revokes the leader's lease and takes over (see
/// [`topo::election`]); None: a dead leader is replaced when its lease expires.
pub async fn run<F, Fut>(
    topo: Topo,
    id: String,
    ttl: i64,
    takeover: Option<Duration>,
    mut shutdown: watch::Receiver<bool>,
    mut work: F,
) -> Result<()>
where
    F: FnMut(LeaderCtx) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let mut term = 0u64;
    let mut last_leader: Option<String> = None;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let take_over = async {
            if let Some(silent) = takeover {
                let every = (silent / 4).max(Duration::from_millis(20));
                let gone = election::revoke_if_silent(&topo, ELECTION, &id, every, silent).await;
                warn!(
                    leader = %gone,
                    silent_ms = silent.as_millis() as u64,
                    "the leader stopped beating: its lease revoked, taking over"
                );
            }
            // The campaign below goes on; it wins once the leader's keys are gone.
            std::future::pending::<()>().await
        };
        let leadership = tokio::select! {
            r = election::campaign(&topo, ELECTION, &id, ttl) => r,
            _ = take_over => unreachable!("pending forever"),
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        };
        let leadership = match leadership {
            Ok(l) => l,
            Err(e) => {
                // A standby's campaign blocks until it leads; etcd's request timeout ends
                // the wait (and etcd withdraws the candidacy), so this is the usual path
                // while another scheduler leads.
                let leader = election::leader(&topo, ELECTION).await.ok().flatten();
                match &leader {
                    Some(l) if *l != id => {
                        if last_leader.as_ref() != Some(l) {
                            info!(leader = %l, "standing by: another scheduler leads");
                        }
                        debug!("campaign ended without leadership: {e}");
                    }
                    _ => {
                        warn!("campaign failed: {e}");
                        sleep_or_shutdown(Duration::from_secs(1), &mut shutdown).await;
                    }
                }
                last_leader = leader;
                continue;
            }
        };
        term += 1;
        info!(id = %id, term, "became leader of election {ELECTION}");
        last_leader = Some(id.clone());
        let end = lead(
            &topo,
            &id,
            term,
            leadership,
            takeover,
            &mut shutdown,
            &mut work,
        )
        .await;
        match end {
            TermEnd::Shutdown => return Ok(()),
            TermEnd::Lost(why) => warn!(term, "lost leadership ({why}); campaigning again"),
            TermEnd::WorkEnded => {
                sleep_or_shutdown(Duration::from_secs(1), &mut shutdown).await;
            }
        }
    }
}

/// One term: runs the work until leadership is lost, the work ends, or shutdown.
/// Resigns unless leadership was lost.
async fn lead<F, Fut>(
    topo: &Topo,
    id: &str,
    term: u64,
    leadership: Leadership,
    takeover: Option<Duration>,
    shutdown: &mut watch::Receiver<bool>,
    work: &mut F,
) -> TermEnd
where
    F: FnMut(LeaderCtx) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let (ctx, stop) = LeaderCtx::new(topo.clone(), id.to_string(), term);
    let mut task = tokio::spawn(work(ctx));
    let mut check = tokio::time::interval(CHECK_EVERY);
    let mut beat = tokio::time::interval(
        takeover
            .map(|t| (t / 4).max(Duration::from_millis(20)))
            .unwrap_or(Duration::from_secs(3600)),
    );
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_verify = tokio::time::Instant::now();
    let end = loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break TermEnd::Shutdown,
            r = &mut task => {
                match r {
                    Ok(Ok(())) => warn!(term, "leader work ended; resigning"),
                    Ok(Err(e)) => warn!(term, "leader work failed: {e:#}; resigning"),
                    Err(e) => warn!(term, "leader work panicked: {e}; resigning"),
                }
                break TermEnd::WorkEnded;
            }
            _ = beat.tick(), if takeover.is_some() => {
                if let Err(e) = election::beat(topo, ELECTION, &leadership, id).await {
                    debug!("cannot write the leader's heartbeat: {e}");
                }
            }
            _ = check.tick() => {
                if !leadership.is_held() {
                    break TermEnd::Lost("leadership lease lost".into());
                }
                if last_verify.elapsed() >= VERIFY_EVERY {
                    last_verify = tokio::time::Instant::now();
                    match election::leader(topo, ELECTION).await {
                        Ok(Some(l)) if l == id => {}
                        Ok(other) => break TermEnd::Lost(format!("etcd names leader {other:?}")),
                        Err(e) => debug!("cannot verify leadership: {e}"),
                    }
                }
            }
        }
    };
    let _ = stop.send(true);
    if !task.is_finished() && tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
        task.abort();
    }
    if matches!(end, TermEnd::Lost(_)) {
        // Withdraw the candidacy in case etcd still has it (e.g. a keep-alive blip).
        let _ = tokio::time::timeout(Duration::from_secs(1), leadership.resign(topo)).await;
    } else {
        match tokio::time::timeout(Duration::from_secs(3), leadership.resign(topo)).await {
            Ok(Ok(())) => info!(term, "resigned leadership"),
            Ok(Err(e)) => warn!(
                term,
                "resign failed: {e} (leadership expires with its lease)"
            ),
            Err(_) => warn!(term, "resign timed out (leadership expires with its lease)"),
        }
    }
    end
}

async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
}
