//! The phase machine of one move ([`Driver::run`]): each phase's step in turn,
//! retried with backoff, the move undone or failed by the errors they end with.
//! The driver's state ([`super`]) is what every step uses; the steps are what
//! this machine calls, so neither names the other.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use topo::{MovePhase, MoveRecord};
use tracing::{info, warn};

use super::{Driver, MoveError};
use crate::moves::{catchup, cleanup, copy, create, flip, undo};
use crate::now_ms;

/// Attempts of a phase (with backoff) before the move gives up on it.
const MAX_ATTEMPTS: u32 = 5;

impl Driver {
    /// Runs the move until it is finished; returns its final record.
    pub async fn run(mut self) -> Result<MoveRecord> {
        if self.rec.phase != MovePhase::Requested {
            let p = self.rec.phase.word();
            self.note(format!("resumed at phase {p} by {}", self.ctx.id));
            self.save().await?;
        }
        let mut attempts = 0u32;
        // Since when a set of the move refuses writes (see [`super::blocked`]).
        let mut blocked_since: Option<Instant> = None;
        while !self.rec.phase.is_finished() {
            if self.rec.cancel && !self.rec.phase.flipped() && self.rec.phase != MovePhase::Undo {
                self.note("cancel requested".to_string());
                self.to_undo(None).await?;
                continue;
            }
            let phase = self.rec.phase;
            let r = match phase {
                MovePhase::Requested => create::plan(&mut self).await,
                MovePhase::Create => create::create(&mut self).await,
                MovePhase::Copy => copy::run(&mut self).await,
                MovePhase::CatchUp => catchup::run(&mut self).await,
                MovePhase::Hold => flip::run(&mut self).await,
                MovePhase::Cleanup => cleanup::run(&mut self).await,
                MovePhase::Undo => undo::run(&mut self).await,
                MovePhase::Done | MovePhase::Failed | MovePhase::Cancelled => break,
            };
            let Err(e) = r else {
                if self.rec.phase != phase {
                    attempts = 0;
                }
                blocked_since = None;
                continue;
            };
            if self.ctx.is_stopping() {
                bail!("leadership ended during {}: {e:#}", phase.word());
            }
            if self.rec.cancel && !phase.flipped() && phase != MovePhase::Undo {
                continue;
            }
            match e.downcast_ref::<MoveError>() {
                Some(MoveError::Superseded) => return Err(e),
                Some(MoveError::Invalid(why)) => {
                    let why = why.clone();
                    self.note(format!("refused: {why}"));
                    self.rec.error = Some(why);
                    self.rec.phase = MovePhase::Failed;
                    self.rec.finished_ms = Some(now_ms());
                    self.save().await?;
                    continue;
                }
                Some(MoveError::Fatal(why)) if !phase.flipped() && phase != MovePhase::Undo => {
                    let why = why.clone();
                    self.note(format!("failed: {why}"));
                    self.to_undo(Some(why)).await?;
                    continue;
                }
                Some(MoveError::Blocked { set, why }) => {
                    let (set, why) = (set.clone(), why.clone());
                    let since = *blocked_since.get_or_insert_with(|| {
                        self.note(format!(
                            "{}: waiting for {set} to take writes again ({why})",
                            phase.word()
                        ));
                        Instant::now()
                    });
                    let limit = Duration::from_millis(self.cfg.blocked_wait_ms);
                    if since.elapsed() >= limit && !phase.flipped() && phase != MovePhase::Undo {
                        blocked_since = None;
                        let why = format!(
                            "{set} refused writes for {} s ([moves] blocked_wait_ms): {why}",
                            since.elapsed().as_secs()
                        );
                        self.note(format!("failed: {why}"));
                        self.to_undo(Some(why)).await?;
                        continue;
                    }
                    let _ = self.save().await;
                    self.pause(Duration::from_secs(1)).await?;
                    continue;
                }
                _ => {}
            }
            if crate::etcd_trouble(&e) {
                bail!("etcd failed during {}: {e:#}", phase.word());
            }
            // A failover of one of the move's sets: wait for it (not an attempt).
            if self.failover_in_progress().await {
                self.note(format!("{}: {e:#}; waiting for a failover", phase.word()));
                self.pause(Duration::from_secs(1)).await?;
                continue;
            }
            attempts += 1;
            self.note(format!(
                "{} (attempt {attempts}/{MAX_ATTEMPTS}): {e:#}",
                phase.word()
            ));
            if attempts >= MAX_ATTEMPTS {
                if phase.flipped() || phase == MovePhase::Undo {
                    // The map already points at the target (or the undo is under way):
                    // no way back; the next leader round tries again.
                    let _ = self.save().await;
                    bail!("{} keeps failing: {e:#}", phase.word());
                }
                self.to_undo(Some(format!("{}: {e:#}", phase.word())))
                    .await?;
                attempts = 0;
                continue;
            }
            let _ = self.save().await;
            self.pause(Duration::from_millis(250 << attempts.min(4)))
                .await?;
        }
        match self.rec.phase {
            MovePhase::Done => info!(
                id = %self.rec.id,
                db = %self.rec.db,
                rows = self.rec.rows_copied(),
                hold_ms = self.rec.longest_hold_ms.unwrap_or(0),
                "move done"
            ),
            p => warn!(
                id = %self.rec.id,
                "move {}: {}",
                p.word(),
                self.rec.error.as_deref().unwrap_or("")
            ),
        }
        Ok(self.rec)
    }
}
