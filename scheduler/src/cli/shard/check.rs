//! Validation of `setwise shard` commands: the shape of the arguments (before etcd
//! is read) and whether a move may be requested against the current records (pure,
//! so every refusal is unit-tested). A refused command changes nothing.

use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Result};
use topo::keys::{valid_name, valid_object_name};
use topo::{
    DatabaseRecord, HealthReport, MoveRecord, NodeRecord, SetRecord, TableKind, TableRecord,
};

use super::args::{ByArg, ShardCmd};
use crate::balance::By;

/// A health report older than this makes a target unfit (the agents report every
/// second or so).
pub const STALE_MS: u64 = 10_000;

/// A validated `shard` command.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardAction {
    /// Slots `start..end` (end exclusive) of `db` to `to`.
    Move {
        db: String,
        start: u32,
        end: u32,
        to: String,
        wait: Option<Wait>,
    },
    Moves {
        db: Option<String>,
        json: bool,
    },
    Cancel(String),
    Rebalance {
        db: String,
        by: By,
        wait: Option<Wait>,
        dry_run: bool,
    },
    Plan {
        json: bool,
    },
}

/// `--wait [--timeout SECS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub timeout: Option<Duration>,
}

impl ShardAction {
    pub fn from_cmd(cmd: ShardCmd) -> Result<Self> {
        let wait = |on: bool, t: Option<u64>| {
            on.then_some(Wait {
                timeout: t.map(Duration::from_secs),
            })
        };
        Ok(match cmd {
            ShardCmd::Move {
                db,
                slots,
                to,
                wait: w,
                timeout,
            } => {
                check_db(&db)?;
                check_set(&to)?;
                let (first, last) = parse_range(&slots)?;
                ShardAction::Move {
                    db,
                    start: first,
                    end: last + 1,
                    to,
                    wait: wait(w, timeout),
                }
            }
            ShardCmd::Moves {
                cancel: Some(id), ..
            } => {
                ensure!(
                    valid_name(&id),
                    "invalid move id {id:?} (see `setwise shard moves`)"
                );
                ShardAction::Cancel(id)
            }
            ShardCmd::Moves { db, json, .. } => {
                if let Some(d) = &db {
                    check_db(d)?;
                }
                ShardAction::Moves { db, json }
            }
            ShardCmd::Rebalance {
                db,
                by,
                wait: w,
                timeout,
                dry_run,
            } => {
                check_db(&db)?;
                ensure!(!(dry_run && w), "--dry-run and --wait do not go together");
                ShardAction::Rebalance {
                    db,
                    by: match by {
                        ByArg::Slots => By::Slots,
                        ByArg::Data => By::Data,
                    },
                    wait: wait(w, timeout),
                    dry_run,
                }
            }
            ShardCmd::Plan { json } => ShardAction::Plan { json },
        })
    }
}

fn check_db(db: &str) -> Result<()> {
    ensure!(
        valid_object_name(db),
        "invalid database name {db:?}: empty or longer than 64 characters"
    );
    Ok(())
}

fn check_set(set: &str) -> Result<()> {
    ensure!(
        valid_name(set),
        "invalid set name {set:?}: use letters, digits, _ - . $ (at most 64)"
    );
    Ok(())
}

/// `FIRST-LAST` (inclusive) or `N`; FIRST ≤ LAST.
pub fn parse_range(text: &str) -> Result<(u32, u32)> {
    let bad = || anyhow!("invalid slot range {text:?}: expected FIRST-LAST, e.g. 0-340");
    let num = |s: &str| -> Result<u32> {
        let s = s.trim();
        ensure!(
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()),
            bad()
        );
        s.parse().map_err(|_| bad())
    };
    let (first, last) = match text.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(text)?;
            (n, n)
        }
    };
    ensure!(
        first <= last,
        "invalid slot range {text:?}: FIRST ({first}) is after LAST ({last})"
    );
    Ok((first, last))
}

/// `first-last` of slots `start..end`.
pub fn span(start: u32, end: u32) -> String {
    format!("{start}-{}", end.saturating_sub(1))
}

/// What a move request is checked against.
pub struct World<'a> {
    pub db: Option<&'a DatabaseRecord>,
    pub tables: &'a [TableRecord],
    pub sets: &'a [SetRecord],
    pub nodes: &'a [NodeRecord],
    pub health: &'a [HealthReport],
    pub moves: &'a [MoveRecord],
    pub now_ms: u64,
}

/// Whether slots `start..end` of `db` may move to `to`; the error says why not.
pub fn check_move(w: &World, db: &str, start: u32, end: u32, to: &str) -> Result<()> {
    let Some(rec) = w.db else {
        bail!("database {db} not found (see `setwise db list`)");
    };
    let sharded = w
        .tables
        .iter()
        .any(|t| t.db == db && matches!(t.kind, TableKind::Sharded { .. }));
    ensure!(
        sharded,
        "database {db} has no sharded table: there is nothing to move"
    );
    let slots = rec.shard_map.slots;
    ensure!(
        end <= slots,
        "slots {} are outside {db}'s slots 0-{}",
        span(start, end),
        slots - 1
    );
    let Some(set) = w.sets.iter().find(|s| s.name == to) else {
        bail!("set {to} not found (see `setwise set list`)");
    };
    if let Some(why) = crate::capacity::fit::unfit(set, w.nodes, w.health, w.now_ms, STALE_MS) {
        bail!("cannot move slots to set {to}: {why}");
    }
    ensure!(
        !topo::owners_of(&rec.shard_map, start, end, to).is_empty(),
        "set {to} already owns slots {} of {db}: nothing to move",
        span(start, end)
    );
    if let Some(m) = w
        .moves
        .iter()
        .find(|m| !m.phase.is_finished() && m.overlaps(db, start, end))
    {
        bail!(
            "slots {} of {db} overlap move {} (slots {} → {}, phase {}): wait for it to end \
             or cancel it",
            span(start, end),
            m.id,
            span(m.start, m.end),
            m.to,
            m.phase.word()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::{MovePhase, Role, ShardMap, SyncMode};

    const NOW: u64 = 1_000_000;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0-340").unwrap(), (0, 340));
        assert_eq!(parse_range("7").unwrap(), (7, 7));
        assert_eq!(parse_range(" 3 - 4 ").unwrap(), (3, 4));
        for bad in [
            "",
            "-",
            "a-b",
            "1-",
            "-1",
            "5-3",
            "1-2-3",
            "+1-2",
            "99999999999-1",
        ] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
        assert!(parse_range("5-3")
            .unwrap_err()
            .to_string()
            .contains("after"));
    }

    struct Fixture {
        db: DatabaseRecord,
        tables: Vec<TableRecord>,
        sets: Vec<SetRecord>,
        nodes: Vec<NodeRecord>,
        health: Vec<HealthReport>,
        moves: Vec<MoveRecord>,
    }

    fn fixture() -> Fixture {
        let mut f = Fixture {
            db: DatabaseRecord {
                name: "d".into(),
                home_set: "set1".into(),
                shard_map: ShardMap::even(1024, &["set1".into(), "set2".into()]),
            },
            tables: vec![TableRecord {
                db: "d".into(),
                name: "t".into(),
                kind: TableKind::Sharded {
                    key: "id".into(),
                    key_type: Default::default(),
                },
            }],
            sets: vec![],
            nodes: vec![],
            health: vec![],
            moves: vec![],
        };
        for s in ["set1", "set2", "set3"] {
            f.sets.push(SetRecord::new(s, SyncMode::Strong));
            let id = format!("{s}-n0");
            f.nodes.push(NodeRecord::new(&id, s, "h", 1, Role::Primary));
            f.health.push(HealthReport {
                node: id,
                set: s.into(),
                at_ms: NOW,
                readable: true,
                writable: true,
                ..Default::default()
            });
        }
        f
    }

    fn check(f: &Fixture, start: u32, end: u32, to: &str) -> Result<()> {
        let w = World {
            db: Some(&f.db),
            tables: &f.tables,
            sets: &f.sets,
            nodes: &f.nodes,
            health: &f.health,
            moves: &f.moves,
            now_ms: NOW,
        };
        check_move(&w, "d", start, end, to)
    }

    fn refused(f: &Fixture, start: u32, end: u32, to: &str, what: &str) {
        let e = check(f, start, end, to).unwrap_err().to_string();
        assert!(e.contains(what), "{e:?} should say {what:?}");
        assert!(!e.contains('\n'), "one line: {e:?}");
    }

    #[test]
    fn a_good_move_passes() {
        let f = fixture();
        check(&f, 0, 341, "set3").unwrap();
        // Part of the range already on the target: the rest moves.
        check(&f, 500, 600, "set2").unwrap();
    }

    #[test]
    fn refusals() {
        let mut f = fixture();
        refused(&f, 1000, 1025, "set3", "outside");
        refused(&f, 0, 10, "set9", "set set9 not found");
        refused(&f, 0, 10, "set1", "already owns");
        refused(&f, 512, 1024, "set2", "already owns");

        f.health[2].writable = false;
        refused(&f, 0, 10, "set3", "not writable");
        f.health[2].writable = true;
        f.health[2].at_ms = NOW - STALE_MS - 1;
        refused(&f, 0, 10, "set3", "stale");
        f.health[2].at_ms = NOW;
        f.sets[2].writes_blocked = Some("no replica acknowledges".into());
        refused(&f, 0, 10, "set3", "blocked");
        f.sets[2].writes_blocked = None;
        f.nodes[2].role = Role::Replica;
        refused(&f, 0, 10, "set3", "no primary");
        f.nodes[2].role = Role::Primary;

        let mut m = MoveRecord::request("d", 100, 200, "set3", "cli", 5);
        f.moves.push(m.clone());
        refused(&f, 150, 160, "set2", "overlap move m5");
        refused(&f, 0, 101, "set3", "overlap");
        check(&f, 200, 300, "set3").unwrap();
        // Another database's moves and finished moves do not count.
        m.phase = MovePhase::Done;
        f.moves = vec![m, MoveRecord::request("other", 0, 1024, "set3", "cli", 6)];
        check(&f, 150, 160, "set3").unwrap();

        f.tables[0].kind = TableKind::Broadcast;
        refused(&f, 0, 10, "set3", "no sharded table");

        let w = World {
            db: None,
            tables: &[],
            sets: &f.sets,
            nodes: &f.nodes,
            health: &f.health,
            moves: &[],
            now_ms: NOW,
        };
        let e = check_move(&w, "nope", 0, 1, "set3").unwrap_err();
        assert!(e.to_string().contains("database nope not found"));
    }
}
