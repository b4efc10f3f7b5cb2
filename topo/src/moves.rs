//! Slot moves (scale-out): the records a move keeps in etcd.
//!
//! A move takes slots `start..end` of every sharded table of one database from the
//! set(s) owning them to a target set, in phases run by the scheduler leader (see
//! `docs/scaleout.md`). Two records per move:
//!
//! * [`MoveRecord`] at `moves/<id>`: the whole state — phase, per-source GTID
//!   positions and copy progress, counters, steps. Written often (progress), so it
//!   is **not** a routing key: gateways do not reload on it.
//! * [`MoveFence`] at `moving/<id>`: the little a gateway must know, written only
//!   when it changes meaning (routing key, in [`ClusterSnapshot`](crate::ClusterSnapshot)):
//!   which sets hold rows of slots they do not own (*orphans*, filtered out of every
//!   statement sent there), and whether writes to the moving slots are held.
//!
//! Gateways register under a lease at `gateways/<id>` ([`GatewayRecord`]) and
//! acknowledge a hold at `move-acks/<move>/<gateway>` ([`HoldAck`]) once no write to
//! the moving slots is in flight through them and none can start.

use serde::{Deserialize, Serialize};

use crate::model::{KeyType, ShardMap};

/// Slots `start..end` (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotSpan {
    pub start: u32,
    pub end: u32,
}

impl SlotSpan {
    pub fn contains(&self, slot: u32) -> bool {
        self.start <= slot && slot < self.end
    }
    pub fn len(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Whether `slot` is in any of `spans`.
pub fn spans_contain(spans: &[SlotSpan], slot: u32) -> bool {
    spans.iter().any(|s| s.contains(slot))
}

/// The parts of `start..end` each set owns in `map`, in slot order, one entry per
/// set (a set owning several pieces gets them all). Sets equal to `except` are left
/// out (slots the target already owns do not move).
pub fn owners_of(map: &ShardMap, start: u32, end: u32, except: &str) -> Vec<FenceSource> {
    let mut out: Vec<FenceSource> = Vec::new();
    for r in &map.ranges {
        let (s, e) = (r.start.max(start), r.end.min(end));
        if s >= e || r.set == except {
            continue;
        }
        let span = SlotSpan { start: s, end: e };
        match out.iter_mut().find(|f| f.set == r.set) {
            Some(f) => f.ranges.push(span),
            None => out.push(FenceSource {
                set: r.set.clone(),
                ranges: vec![span],
            }),
        }
    }
    out
}

/// `map` with slots `start..end` owned by `to` (adjacent ranges of one set merged,
/// version bumped).
pub fn map_after_move(map: &ShardMap, start: u32, end: u32, to: &str) -> ShardMap {
    let mut owner: Vec<&str> = Vec::with_capacity(map.slots as usize);
    for r in &map.ranges {
        for _ in r.start..r.end {
            owner.push(&r.set);
        }
    }
    for o in owner
        .iter_mut()
        .take(end.min(map.slots) as usize)
        .skip(start as usize)
    {
        *o = to;
    }
    let mut ranges: Vec<crate::model::SlotRange> = Vec::new();
    for (i, set) in owner.iter().enumerate() {
        match ranges.last_mut() {
            Some(last) if last.set == *set => last.end = i as u32 + 1,
            _ => ranges.push(crate::model::SlotRange {
                start: i as u32,
                end: i as u32 + 1,
                set: set.to_string(),
            }),
        }
    }
    ShardMap {
        slots: map.slots,
        ranges,
        version: map.version + 1,
    }
}

/// One source set of a move and the slots it gives up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceSource {
    pub set: String,
    pub ranges: Vec<SlotSpan>,
}

/// What gateways must do about a move (`moving/<id>`, a routing record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveFence {
    pub id: String,
    pub db: String,
    /// The target set.
    pub to: String,
    pub sources: Vec<FenceSource>,
    /// The target is new to the database: its broadcast tables are being copied
    /// there, so writes to them are held with the moving slots.
    #[serde(default)]
    pub broadcast: bool,
    pub state: FenceState,
}

impl MoveFence {
    /// Every moving slot range, over all sources.
    pub fn spans(&self) -> Vec<SlotSpan> {
        self.sources
            .iter()
            .flat_map(|s| s.ranges.iter().copied())
            .collect()
    }

    /// The slot ranges whose rows `set` holds without owning them (to be filtered
    /// out of every statement sent there): the target's copies until the flip, a
    /// source's leftovers after it.
    pub fn orphans_on(&self, set: &str) -> Vec<SlotSpan> {
        match self.state {
            FenceState::Copying | FenceState::Holding if set == self.to => self.spans(),
            FenceState::Flipped => self
                .sources
                .iter()
                .filter(|s| s.set == set)
                .flat_map(|s| s.ranges.iter().copied())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether writes to the moving slots must wait (and be acknowledged).
    pub fn holds_writes(&self) -> bool {
        self.state == FenceState::Holding
    }
}

/// The gateway-visible state of a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FenceState {
    /// Rows are being copied and caught up: the target holds orphans.
    Copying,
    /// Writes to the moving slots wait in every gateway; the target holds orphans.
    Holding,
    /// The shard map points at the target; the sources hold orphans until cleanup.
    Flipped,
}

/// A sharded table that moves, with what the mover needs of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveTable {
    pub name: String,
    pub key: String,
    #[serde(default)]
    pub key_type: KeyType,
}

/// Per-source progress of a move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SourceProgress {
    pub set: String,
    pub ranges: Vec<SlotSpan>,
    /// Where the catch-up starts: a GTID position at or before the copy's first
    /// consistent snapshot (scheduler `moves::copy::catchup_start`).
    pub gtid_start: Option<String>,
    /// GTID position of the copy's first consistent snapshot (the catch-up fails
    /// on an XA transaction prepared before `gtid_start` and committed after it).
    pub gtid_snapshot: Option<String>,
    /// GTID position up to which the source's binlog has been applied to the target.
    pub gtid_applied: Option<String>,
    /// Tables whose copy is finished.
    pub copied: Vec<String>,
    /// Table being copied and the last primary key copied (JSON array of values).
    pub copy_cursor: Option<(String, serde_json::Value)>,
    pub rows_copied: u64,
    pub events_applied: u64,
    /// Transactions of the source not yet applied (last measured).
    pub lag_trx: Option<u64>,
    /// The binlog stream's server_id (unique per stream).
    pub server_id: u32,
}

/// The phases of a move, in order; `Done`, `Failed` and `Cancelled` end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MovePhase {
    /// Recorded by `setwise shard move`; not yet picked up by the leader.
    Requested,
    /// Tables (and the database, and broadcast tables) created on the target.
    Create,
    /// Rows of the moving slots copied from a consistent snapshot.
    Copy,
    /// The sources' binlogs applied to the target until it is close behind.
    CatchUp,
    /// Writes held, binlogs drained, slots verified, map flipped.
    Hold,
    /// The moved rows deleted from the sources.
    Cleanup,
    /// Undoing a move that did not flip (cancel or failure).
    Undo,
    Done,
    Failed,
    Cancelled,
}

impl MovePhase {
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            MovePhase::Done | MovePhase::Failed | MovePhase::Cancelled
        )
    }
    /// Whether the shard map already points at the target.
    pub fn flipped(&self) -> bool {
        matches!(self, MovePhase::Cleanup | MovePhase::Done)
    }
    pub fn word(&self) -> &'static str {
        match self {
            MovePhase::Requested => "requested",
            MovePhase::Create => "create",
            MovePhase::Copy => "copy",
            MovePhase::CatchUp => "catchup",
            MovePhase::Hold => "hold",
            MovePhase::Cleanup => "cleanup",
            MovePhase::Undo => "undo",
            MovePhase::Done => "done",
            MovePhase::Failed => "failed",
            MovePhase::Cancelled => "cancelled",
        }
    }
}

/// One line of a move's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveStep {
    pub at_ms: u64,
    pub text: String,
}

/// A slot move (`moves/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRecord {
    /// `m<created_ms>`: sorts by creation.
    pub id: String,
    pub db: String,
    /// Slots `start..end` move.
    pub start: u32,
    pub end: u32,
    /// The target set.
    pub to: String,
    /// Who asked: `cli`, `rebalance`, `auto`.
    #[serde(default)]
    pub by: String,
    /// Why (automatic moves: the load that triggered it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub phase: MovePhase,
    /// Filled when the leader picks the move up (phase `Create`).
    #[serde(default)]
    pub sources: Vec<SourceProgress>,
    #[serde(default)]
    pub tables: Vec<MoveTable>,
    /// Broadcast tables copied to a target new to the database.
    #[serde(default)]
    pub broadcast: Vec<String>,
    /// Views of the database recorded sharded or broadcast, created (after the
    /// tables) on a target new to the database; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
    /// The shard map version the move was planned against, and the one it made.
    #[serde(default)]
    pub map_version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_map_version: Option<u64>,
    /// A DBA asked to cancel (honoured until the flip).
    #[serde(default)]
    pub cancel: bool,
    pub created_ms: u64,
    #[serde(default)]
    pub updated_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rows of the moving slots on the sources when the copy started (estimate).
    #[serde(default)]
    pub rows_total: u64,
    #[serde(default)]
    pub rows_deleted: u64,
    /// Holds tried (a hold that cannot finish in time is released and tried again).
    #[serde(default)]
    pub holds: u32,
    /// The longest time writes to the moving slots waited, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_hold_ms: Option<u64>,
    /// What the verification compared (slots, rows, checksums).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<String>,
    #[serde(default)]
    pub steps: Vec<MoveStep>,
}

impl MoveRecord {
    /// A new request for slots `start..end` of `db` to `to`.
    pub fn request(db: &str, start: u32, end: u32, to: &str, by: &str, now_ms: u64) -> Self {
        Self {
            id: format!("m{now_ms}"),
            db: db.to_string(),
            start,
            end,
            to: to.to_string(),
            by: by.to_string(),
            reason: None,
            phase: MovePhase::Requested,
            sources: Vec::new(),
            tables: Vec::new(),
            broadcast: Vec::new(),
            views: Vec::new(),
            map_version: 0,
            new_map_version: None,
            cancel: false,
            created_ms: now_ms,
            updated_ms: now_ms,
            finished_ms: None,
            error: None,
            rows_total: 0,
            rows_deleted: 0,
            holds: 0,
            longest_hold_ms: None,
            verified: None,
            steps: Vec::new(),
        }
    }

    pub fn rows_copied(&self) -> u64 {
        self.sources.iter().map(|s| s.rows_copied).sum()
    }
    pub fn events_applied(&self) -> u64 {
        self.sources.iter().map(|s| s.events_applied).sum()
    }
    /// The largest per-source lag, when known.
    pub fn lag_trx(&self) -> Option<u64> {
        self.sources.iter().filter_map(|s| s.lag_trx).max()
    }

    /// Whether this move and slots `start..end` of `db` overlap.
    pub fn overlaps(&self, db: &str, start: u32, end: u32) -> bool {
        self.db == db && self.start < end && start < self.end
    }

    /// Appends a step to the history (kept to the last 100).
    pub fn step(&mut self, now_ms: u64, text: impl Into<String>) {
        self.steps.push(MoveStep {
            at_ms: now_ms,
            text: text.into(),
        });
        if self.steps.len() > 100 {
            self.steps.remove(0);
        }
        self.updated_ms = now_ms;
    }

    /// The fence gateways see for this move in `state`.
    pub fn fence(&self, state: FenceState) -> MoveFence {
        MoveFence {
            id: self.id.clone(),
            db: self.db.clone(),
            to: self.to.clone(),
            sources: self
                .sources
                .iter()
                .map(|s| FenceSource {
                    set: s.set.clone(),
                    ranges: s.ranges.clone(),
                })
                .collect(),
            broadcast: !self.broadcast.is_empty(),
            state,
        }
    }
}

/// A running gateway (`gateways/<id>`, under the gateway's lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRecord {
    pub id: String,
    /// Client listen address.
    #[serde(default)]
    pub addr: String,
    #[serde(default)]
    pub started_ms: u64,
    /// Its metrics port (`/metrics`, `/digests`), when on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metrics: String,
    /// The id this process puts in its distributed transactions' gtrids
    /// (`sw-<instance>-<n>`), new at every start: a prepared branch whose
    /// instance no registered gateway has is an orphan (its gateway died).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub instance: String,
}

/// A gateway's acknowledgement of a hold (`move-acks/<move>/<gateway>`): from the
/// routing revision `revision` on, no write to the held slots runs through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldAck {
    pub gateway: String,
    pub move_id: String,
    pub revision: i64,
    pub at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ShardMap {
        ShardMap::even(1024, &["set1".into(), "set2".into()])
    }

    #[test]
    fn owners_split_a_range_over_sets() {
        let o = owners_of(&map(), 400, 700, "set3");
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].set, "set1");
        assert_eq!(
            o[0].ranges,
            vec![SlotSpan {
                start: 400,
                end: 512
            }]
        );
        assert_eq!(
            o[1].ranges,
            vec![SlotSpan {
                start: 512,
                end: 700
            }]
        );
        // Slots the target owns already do not move.
        let o = owners_of(&map(), 400, 700, "set2");
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].set, "set1");
    }

    #[test]
    fn map_after_move_merges_and_bumps() {
        let m = map_after_move(&map(), 400, 700, "set3");
        m.validate().unwrap();
        assert_eq!(m.version, 2);
        assert_eq!(m.set_of_slot(399), Some("set1"));
        assert_eq!(m.set_of_slot(400), Some("set3"));
        assert_eq!(m.set_of_slot(699), Some("set3"));
        assert_eq!(m.set_of_slot(700), Some("set2"));
        assert_eq!(m.ranges.len(), 3);
        let back = map_after_move(&m, 400, 512, "set1");
        assert_eq!(back.ranges.len(), 3);
        assert_eq!(back.ranges[0].end, 512);
    }

    #[test]
    fn orphans_follow_the_state() {
        let mut r = MoveRecord::request("d", 0, 10, "set3", "cli", 1);
        r.sources.push(SourceProgress {
            set: "set1".into(),
            ranges: vec![SlotSpan { start: 0, end: 10 }],
            ..Default::default()
        });
        let f = r.fence(FenceState::Copying);
        assert_eq!(f.orphans_on("set3").len(), 1);
        assert!(f.orphans_on("set1").is_empty());
        assert!(!f.holds_writes());
        let f = r.fence(FenceState::Flipped);
        assert!(f.orphans_on("set3").is_empty());
        assert_eq!(f.orphans_on("set1").len(), 1);
        assert!(r.fence(FenceState::Holding).holds_writes());
    }
}
