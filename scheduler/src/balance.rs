//! Rebalancing a database's slots over sets (pure): which contiguous slot ranges to
//! move, from which set to which, so that every participating set ends with about
//! the same weight — one per slot (`--by slots`) or the rows each slot holds, as
//! estimated from the agents' table statistics (`--by data`). Used by
//! `setwise shard rebalance` and by the capacity monitor ([`crate::capacity`]).
//!
//! The plan is found in two steps: first how many slots each set gives to each
//! other set (greedy: the next slot of the heaviest giver goes to the lightest
//! receiver while that strictly narrows the gap, so a balanced map gives nothing),
//! then which slots: each giver hands over one end of its slots, the end next to
//! what the previous giver handed over, so a receiver's new slots stay together.
//! Every planned move is one contiguous range taken from one source set.

use std::collections::HashMap;

use topo::ShardMap;

/// What a rebalance evens out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Slots,
    Data,
}

/// One move of a plan: slots `start..end` (end exclusive) from `from` to `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMove {
    pub start: u32,
    pub end: u32,
    pub from: String,
    pub to: String,
    /// The weight that moves (slots, or estimated rows).
    pub weight: f64,
}

impl PlannedMove {
    pub fn slots(&self) -> u32 {
        self.end - self.start
    }
}

/// The owner of every slot of `map`, in slot order.
pub fn owners(map: &ShardMap) -> Vec<&str> {
    let mut out = Vec::with_capacity(map.slots as usize);
    for r in &map.ranges {
        for _ in r.start..r.end {
            out.push(r.set.as_str());
        }
    }
    out
}

/// Weight 1 per slot.
pub fn uniform_weights(map: &ShardMap) -> Vec<f64> {
    vec![1.0; map.slots as usize]
}

/// Each set's `load` (e.g. the database's rows on it) spread evenly over the slots
/// it owns; a set without a figure weighs nothing.
pub fn weights_from_loads(map: &ShardMap, load: &HashMap<String, f64>) -> Vec<f64> {
    let own = owners(map);
    let mut count: HashMap<&str, u32> = HashMap::new();
    for o in &own {
        *count.entry(o).or_default() += 1;
    }
    own.iter()
        .map(|o| load.get(*o).copied().unwrap_or(0.0) / f64::from(count[o].max(1)))
        .collect()
}

/// The moves that even `weights` (one per slot of `map`) over `sets`. Slots owned by
/// a set not in `sets` stay where they are; a set of `sets` that owns no slot yet
/// takes its share. Empty when already balanced (within one slot's weight).
pub fn plan(map: &ShardMap, sets: &[String], weights: &[f64]) -> Vec<PlannedMove> {
    let own = owners(map);
    if sets.len() < 2 || weights.len() != own.len() {
        return Vec::new();
    }
    let idx = |s: &str| sets.iter().position(|x| x == s);
    // Each participant's slots in order, and its load.
    let mut slots: Vec<Vec<u32>> = vec![Vec::new(); sets.len()];
    for (slot, o) in own.iter().enumerate() {
        if let Some(i) = idx(o) {
            slots[i].push(slot as u32);
        }
    }
    let mut load: Vec<f64> = slots
        .iter()
        .map(|v| v.iter().map(|&s| weights[s as usize]).sum())
        .collect();
    // Which end each giver gives from: decided when it first gives.
    let mut from_end: Vec<Option<bool>> = vec![None; sets.len()];
    let mut given: Vec<usize> = vec![0; sets.len()];
    let mut receives: Vec<bool> = vec![false; sets.len()];
    // Per giver: the receivers in the order they first took, and how many slots each.
    let mut takers: Vec<Vec<(usize, usize)>> = vec![Vec::new(); sets.len()];
    // Per giver: its slots in the order it hands them over (from the chosen end).
    let mut handed: Vec<Vec<u32>> = vec![Vec::new(); sets.len()];
    let mut last_chunk_end: Option<u32> = None;
    for _ in 0..own.len() {
        let giver = (0..sets.len())
            .filter(|&i| !receives[i] && given[i] < slots[i].len())
            .max_by(|&a, &b| load[a].total_cmp(&load[b]).then(b.cmp(&a)));
        let recv = (0..sets.len())
            .filter(|&i| given[i] == 0)
            .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)));
        let (Some(g), Some(r)) = (giver, recv) else {
            break;
        };
        if g == r {
            break;
        }
        let end = *from_end[g].get_or_insert_with(|| {
            // Give the end next to the previous giver's chunk (slots stay together).
            !matches!(last_chunk_end, Some(e) if slots[g].first() == Some(&e))
        });
        let k = given[g];
        let slot = if end {
            slots[g][slots[g].len() - 1 - k]
        } else {
            slots[g][k]
        };
        let w = weights[slot as usize];
        if load[g] - load[r] <= w || w <= 0.0 {
            break;
        }
        load[g] -= w;
        load[r] += w;
        given[g] += 1;
        receives[r] = true;
        handed[g].push(slot);
        match takers[g].iter_mut().find(|(x, _)| *x == r) {
            Some((_, n)) => *n += 1,
            None => takers[g].push((r, 1)),
        }
        last_chunk_end = Some(if end {
            slots[g][slots[g].len() - 1] + 1
        } else {
            slot + 1
        });
    }
    // Each giver's handed slots, in consecutive blocks per receiver, as contiguous runs.
    let mut out = Vec::new();
    for (g, slots) in handed.iter().enumerate() {
        let mut at = 0;
        for &(r, n) in &takers[g] {
            let mut block = slots[at..at + n].to_vec();
            at += n;
            block.sort_unstable();
            for run in runs(&block) {
                out.push(PlannedMove {
                    start: run.0,
                    end: run.1,
                    from: sets[g].clone(),
                    to: sets[r].clone(),
                    weight: (run.0..run.1).map(|s| weights[s as usize]).sum(),
                });
            }
        }
    }
    out.sort_by_key(|m| m.start);
    out
}

/// Maximal runs of consecutive slots in sorted `v`, as `start..end`.
fn runs(v: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &s in v {
        match out.last_mut() {
            Some(last) if last.1 == s => last.1 = s + 1,
            _ => out.push((s, s + 1)),
        }
    }
    out
}

/// Up to `count` contiguous slots of `set` in `map`, from the end of its largest
/// range (the capacity monitor moves one range at a time); None when it owns none.
pub fn take_slots(map: &ShardMap, set: &str, count: u32) -> Option<(u32, u32)> {
    let r = map
        .ranges
        .iter()
        .filter(|r| r.set == set)
        .max_by_key(|r| (r.end - r.start, std::cmp::Reverse(r.start)))?;
    let n = count.clamp(1, r.end - r.start);
    Some((r.end - n, r.end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use topo::map_after_move;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn apply(map: &ShardMap, moves: &[PlannedMove]) -> ShardMap {
        moves.iter().fold(map.clone(), |m, mv| {
            map_after_move(&m, mv.start, mv.end, &mv.to)
        })
    }

    fn count(map: &ShardMap, set: &str) -> u32 {
        map.ranges
            .iter()
            .filter(|r| r.set == set)
            .map(|r| r.end - r.start)
            .sum()
    }

    #[test]
    fn a_new_set_gets_a_third_in_two_moves_next_to_each_other() {
        let map = ShardMap::even(1024, &names(&["set1", "set2"]));
        let sets = names(&["set1", "set2", "set3"]);
        let moves = plan(&map, &sets, &uniform_weights(&map));
        assert_eq!(moves.len(), 2, "{moves:?}");
        assert_eq!((moves[0].start, moves[0].end), (341, 512));
        assert_eq!(
            (moves[0].from.as_str(), moves[0].to.as_str()),
            ("set1", "set3")
        );
        assert_eq!((moves[1].start, moves[1].end), (512, 682));
        assert_eq!(moves[1].from, "set2");
        let after = apply(&map, &moves);
        after.validate().unwrap();
        for s in &sets {
            let n = count(&after, s);
            assert!((341..=342).contains(&n), "{s}: {n}");
        }
        // set3 owns one contiguous range.
        assert_eq!(after.ranges.iter().filter(|r| r.set == "set3").count(), 1);
        // Balanced now: nothing more to do.
        assert!(plan(&after, &sets, &uniform_weights(&after)).is_empty());
    }

    #[test]
    fn balanced_maps_move_nothing() {
        let map = ShardMap::even(1024, &names(&["a", "b", "c"]));
        assert!(plan(&map, &names(&["a", "b", "c"]), &uniform_weights(&map)).is_empty());
        let map = ShardMap::even(1024, &names(&["a", "b"]));
        assert!(plan(&map, &names(&["a", "b"]), &uniform_weights(&map)).is_empty());
        assert!(plan(&map, &names(&["a"]), &uniform_weights(&map)).is_empty());
    }

    #[test]
    fn two_new_sets_share_the_slots() {
        let map = ShardMap::even(1024, &names(&["a", "b"]));
        let sets = names(&["a", "b", "c", "d"]);
        let moves = plan(&map, &sets, &uniform_weights(&map));
        let after = apply(&map, &moves);
        for s in &sets {
            assert_eq!(count(&after, s), 256, "{s}: {moves:?}");
        }
        // Each move is contiguous and from one source.
        for m in &moves {
            assert!((m.start..m.end).all(|s| map.set_of_slot(s) == Some(m.from.as_str())));
        }
        assert!(moves.len() <= 4, "{moves:?}");
    }

    #[test]
    fn sets_left_out_keep_their_slots() {
        let map = ShardMap::even(900, &names(&["a", "b", "c"]));
        // b is unhealthy: a's surplus goes to d only.
        let moves = plan(&map, &names(&["a", "c", "d"]), &uniform_weights(&map));
        assert!(moves.iter().all(|m| m.from != "b" && m.to != "b"));
        let after = apply(&map, &moves);
        assert_eq!(count(&after, "b"), 300);
        assert_eq!(
            count(&after, "a") + count(&after, "c") + count(&after, "d"),
            600
        );
        assert_eq!(count(&after, "d"), 200);
    }

    #[test]
    fn by_data_moves_rows_not_slots() {
        let map = ShardMap::even(1000, &names(&["a", "b"]));
        // a holds 3x the rows of b: a's 500 slots weigh 6 each, b's 2 each.
        let load: HashMap<String, f64> = [("a".into(), 3000.0), ("b".into(), 1000.0)].into();
        let w = weights_from_loads(&map, &load);
        let moves = plan(&map, &names(&["a", "b"]), &w);
        assert_eq!(moves.len(), 1);
        let m = &moves[0];
        assert_eq!((m.from.as_str(), m.to.as_str()), ("a", "b"));
        // 1000 rows = 166.7 slots of a.
        assert!((166..=167).contains(&m.slots()), "{m:?}");
        assert!((m.weight - 1000.0).abs() <= 6.0);
    }

    #[test]
    fn scattered_slots_split_into_contiguous_moves() {
        // a owns 0..100 and 200..300, b 100..200; c is new.
        let mut map = ShardMap::even(300, &names(&["a", "b", "a2"]));
        map.ranges[2].set = "a".into();
        let moves = plan(&map, &names(&["a", "b", "c"]), &uniform_weights(&map));
        let after = apply(&map, &moves);
        assert_eq!(count(&after, "c"), 100);
        for m in &moves {
            assert!((m.start..m.end).all(|s| map.set_of_slot(s) == Some(m.from.as_str())));
        }
    }

    #[test]
    fn take_slots_from_the_largest_range() {
        let map = ShardMap::even(1024, &names(&["a", "b"]));
        assert_eq!(take_slots(&map, "a", 100), Some((412, 512)));
        assert_eq!(take_slots(&map, "b", 5000), Some((512, 1024)));
        assert_eq!(take_slots(&map, "b", 0), Some((1023, 1024)));
        assert_eq!(take_slots(&map, "c", 10), None);
    }
}
