//! Checks of where rows live: SQL conditions that find rows on a set that does
//! not own their slot.

use topo::ShardMap;

/// A condition true for rows of `set` whose `CRC32(col) % slots` falls outside
/// every slot range the set owns (i.e. misplaced rows).
pub fn misplaced_condition(map: &ShardMap, set: &str, col: &str) -> String {
    let owned: Vec<String> = map
        .ranges
        .iter()
        .filter(|r| r.set == set)
        .map(|r| {
            format!(
                "CRC32({col}) % {} BETWEEN {} AND {}",
                map.slots,
                r.start,
                r.end - 1
            )
        })
        .collect();
    if owned.is_empty() {
        return "TRUE".into();
    }
    format!("NOT ({})", owned.join(" OR "))
}
