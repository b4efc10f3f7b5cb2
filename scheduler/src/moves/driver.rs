//! The phase machine of one move: `requested → create → copy → catchup → hold →
//! cleanup → done`, `undo → cancelled` on a cancel before the flip, `undo → failed`
//! when the move cannot go on. The record `moves/<id>` is written by compare-and-swap
//! on the revision this driver last wrote, so a leader that lost its leadership cannot
//! overwrite its successor's progress; the only other writer, `setwise shard moves
//! --cancel`, sets `cancel`, which is taken over and honoured until the flip.
//!
//! The machine itself is [`run`]; this module is the driver's state that every
//! step uses: the record and its saves, the catch-up's binlog streams ([`step`]).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use topo::{Batch, ClusterSnapshot, FenceState, MovePhase, MoveRecord, Topo, Versioned};
use tracing::info;

use super::apply::{Tail, TailProgress};
use crate::config::{MovesConfig, MysqlConfig};
use crate::leader::LeaderCtx;
use crate::now_ms;

mod run;

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

/// A source's stream while this driver runs; `base`: the source's
/// `events_applied` when the stream was opened.
pub struct Stream {
    pub tail: Tail,
    pub base: u64,
}

type StepFut<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<TailProgress>> + Send + 'a>>;

/// Runs `f` on source `i`'s stream and records its progress; a stream that fails is
/// dropped (reopened from the recorded position by the next attempt).
pub async fn step(
    d: &mut Driver,
    i: usize,
    f: impl for<'a> FnOnce(&'a mut Tail) -> StepFut<'a>,
) -> Result<()> {
    let s = d.tails[i]
        .as_mut()
        .ok_or_else(|| anyhow!("no binlog stream of {}", d.rec.sources[i].set))?;
    match f(&mut s.tail).await {
        Ok(p) => {
            let base = s.base;
            let sp = &mut d.rec.sources[i];
            if !p.gtid_applied.is_empty() {
                sp.gtid_applied = Some(p.gtid_applied);
            }
            sp.events_applied = base + p.events_applied;
            Ok(())
        }
        Err(e) => {
            d.tails[i] = None;
            let set = d.rec.sources[i].set.clone();
            Err(e.context(format!("binlog of {set}")))
        }
    }
}
