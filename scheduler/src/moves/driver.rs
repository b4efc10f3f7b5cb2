//! The phase machine of one move: `requested → create → copy → catchup → hold →
//! cleanup → done`, `undo → cancelled` on a cancel before the flip, `undo → failed`
//! when the move cannot go on. The record `moves/<id>` is written by compare-and-swap
//! on the revision this driver last wrote, so a leader that lost its leadership cannot
//! overwrite its successor's progress; the only other writer, `setwise shard moves
//! --cancel`, sets `cancel`, which is taken over and honoured until the flip.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use topo::{Batch, ClusterSnapshot, FenceState, MovePhase, MoveRecord, Topo, Versioned};
use tracing::{info, warn};

use super::catchup::Stream;
use super::{catchup, cleanup, copy, create, flip, undo};
use crate::config::{MovesConfig, MysqlConfig};
use crate::leader::LeaderCtx;
use crate::now_ms;

/// Attempts of a phase (with backoff) before the move gives up on it.
const MAX_ATTEMPTS: u32 = 5;
/// Progress is written at most this often (and at every table's end).
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// Why a move stops or ends, beyond a step that may succeed when tried again.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    /// The request cannot be carried out: the move fails, nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The move cannot go on (verification, holds exhausted): undone, then failed.
    #[error("{0}")]
    Fatal(String),
    /// A set the move writes on refuses writes (`writes_blocked`): the move
    /// waits for it (see [`super::blocked`]).
    #[error("{set} refuses writes: {why}")]
    Blocked { set: String, why: String },
    /// Another leader took the move over.
    #[error("the move record was changed by another scheduler")]
    Superseded,
}

/// Drives one move to its end (or until leadership ends).
pub struct Driver {
    pub ctx: LeaderCtx,
    pub cfg: MovesConfig,
    pub account: MysqlConfig,
    pub rec: MoveRecord,
    /// mod_revision of `moves/<id>` as last written by us.
    pub rev: i64,
    /// The catch-up's binlog streams, one per source, while this driver runs.
    pub tails: Vec<Option<Stream>>,
    /// When the current hold was written (None: no hold by this driver).
    pub hold_started: Option<(Instant, i64)>,
    /// Verify inside the hold (configured, or no exact snapshot position).
    pub verify_in_hold: bool,
    last_save: Instant,
    /// The record as last written by us (to tell a CLI's cancel from a takeover).
    saved: MoveRecord,
}

impl Driver {
    /// Takes over a move found in `moves/`.
    pub fn new(
        ctx: LeaderCtx,
        cfg: MovesConfig,
        account: MysqlConfig,
        found: Versioned<MoveRecord>,
    ) -> Self {
        Self {
            verify_in_hold: cfg.verify_in_hold,
            ctx,
            cfg,
            account,
            saved: found.value.clone(),
            rec: found.value,
            rev: found.mod_revision,
            tails: Vec::new(),
            hold_started: None,
            last_save: Instant::now(),
        }
    }

    pub fn topo(&self) -> &Topo {
        &self.ctx.topo
    }

    /// The routing records now (primaries, maps, tables).
    pub async fn snapshot(&self) -> Result<ClusterSnapshot> {
        Ok(self.ctx.topo.snapshot().await?)
    }

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

    /// Ends a move that did not flip: phase `undo` (the fence back to `copying`
    /// when it exists), then `cancelled` (no error) or `failed`.
    pub async fn to_undo(&mut self, error: Option<String>) -> Result<()> {
        let fenced = matches!(
            self.rec.phase,
            MovePhase::Copy | MovePhase::CatchUp | MovePhase::Hold
        );
        self.tails.clear();
        self.hold_started = None;
        if error.is_some() {
            self.rec.error = error;
        }
        self.rec.phase = MovePhase::Undo;
        let fence = self.rec.fence(FenceState::Copying);
        let key = self.topo().keys().fence(&self.rec.id);
        self.commit(|b| if fenced { b.put(&key, &fence) } else { Ok(b) })
            .await?;
        self.topo().clear_hold_acks(&self.rec.id).await?;
        Ok(())
    }

    /// Appends a step to the history and the log.
    pub fn note(&mut self, text: String) {
        info!(id = %self.rec.id, db = %self.rec.db, "move: {text}");
        self.rec.step(now_ms(), text);
    }

    /// Ends the move in the phase already set (done, cancelled, failed): finished
    /// now, and the fence deleted in the same etcd transaction; then its hold
    /// acknowledgements are forgotten.
    pub async fn finish(&mut self) -> Result<()> {
        self.rec.finished_ms = Some(now_ms());
        let key = self.topo().keys().fence(&self.rec.id);
        if !self.commit(|b| Ok(b.delete(&key))).await? {
            bail!("the fence could not be deleted");
        }
        self.topo().clear_hold_acks(&self.rec.id).await?;
        Ok(())
    }

    /// Writes the record now.
    pub async fn save(&mut self) -> Result<()> {
        if !self.commit(Ok).await? {
            bail!("the move record could not be written");
        }
        Ok(())
    }

    /// Writes the record if the last write is older than [`SAVE_EVERY`].
    pub async fn save_progress(&mut self) -> Result<()> {
        if self.last_save.elapsed() >= SAVE_EVERY {
            self.save().await?;
        }
        Ok(())
    }

    /// Writes the record together with what `more` adds, in one etcd transaction
    /// guarded by the record's revision. `Ok(false)`: a guard `more` added failed.
    /// A cancel written meanwhile by the CLI is taken over and the write retried.
    pub async fn commit(&mut self, more: impl Fn(Batch) -> topo::Result<Batch>) -> Result<bool> {
        let key = self.topo().keys().move_of(&self.rec.id);
        for _ in 0..8 {
            if self.ctx.is_stopping() {
                bail!("leadership ended");
            }
            self.rec.updated_ms = now_ms();
            let batch = more(
                Batch::new()
                    .unchanged(&key, self.rev)
                    .put(&key, &self.rec)?,
            )?;
            let ok = self.topo().commit(batch).await?;
            let cur = self.topo().get::<MoveRecord>(&key).await?;
            let Some(cur) = cur else {
                return Err(MoveError::Superseded.into());
            };
            if ok {
                self.rev = cur.mod_revision;
                self.rec.cancel |= cur.value.cancel;
                self.saved = self.rec.clone();
                self.last_save = Instant::now();
                return Ok(true);
            }
            if cur.mod_revision == self.rev {
                return Ok(false);
            }
            // Changed by someone else: only a cancel (and the CLI's note of it) may
            // be taken over; anything else means another leader drives the move.
            let strip = |r: &MoveRecord| MoveRecord {
                cancel: false,
                updated_ms: 0,
                steps: Vec::new(),
                ..r.clone()
            };
            let theirs: Vec<_> = cur
                .value
                .steps
                .iter()
                .filter(|s| self.saved.steps.contains(s) || !s.text.contains("cancel"))
                .cloned()
                .collect();
            if strip(&cur.value) != strip(&self.saved) || !self.saved.steps.ends_with(&theirs) {
                return Err(MoveError::Superseded.into());
            }
            for st in &cur.value.steps {
                if !self.saved.steps.contains(st) {
                    self.rec.steps.push(st.clone());
                }
            }
            self.rec.cancel |= cur.value.cancel;
            self.saved = cur.value.clone();
            self.rev = cur.mod_revision;
        }
        Err(anyhow!("the move record keeps changing"))
    }

    /// Sleeps `d` unless leadership ends first (then fails).
    pub async fn pause(&self, d: Duration) -> Result<()> {
        let mut ctx = self.ctx.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => Ok(()),
            _ = ctx.stopped() => bail!("leadership ended"),
        }
    }

    /// Fails when leadership ended (checked before each write to MariaDB).
    pub fn check_leading(&self) -> Result<()> {
        if self.ctx.is_stopping() {
            bail!("leadership ended");
        }
        Ok(())
    }

    /// The sets the move reads or writes.
    pub fn sets(&self) -> Vec<String> {
        let mut v = vec![self.rec.to.clone()];
        v.extend(self.rec.sources.iter().map(|s| s.set.clone()));
        v
    }

    async fn failover_in_progress(&self) -> bool {
        let sets = self.sets();
        match self.topo().list_ops().await {
            Ok(ops) => ops.iter().any(|o| sets.contains(&o.set)),
            Err(_) => false,
        }
    }
}
