//! The cost rule choosing a join's operator.
//!
//! No statistics are kept: a *lookup join* when its outer side is
//! known to be small — its pushed-down WHERE pins its shard key (`=` / `IN`) —
//! or when the inner side's join column is its shard key and the outer side is
//! filtered (each batch then goes only to the sets owning its values);
//! otherwise a *hash join*, which reads both sides once. A comment
//! `/* setwise:lookup */` or `/* setwise:hash */` in the statement forces one.
//! A LEFT/RIGHT join's outer side is its preserved table. A NULL-safe key
//! (`<=>`) is always hashed.

use super::plan::{JoinKind, Side, Strategy};

/// The cost rule (see the module doc).
pub fn strategy(sql: &str, kind: JoinKind, sides: &[Side; 2]) -> Strategy {
    let outers: Vec<usize> = match kind {
        JoinKind::Outer { preserved } => vec![preserved],
        JoinKind::Inner => vec![0, 1],
    };
    // `<=>` keys: NULL matches NULL, which no `IN (...)` batch finds.
    let single_key = sides[0].keys.len() == 1 && !sides[0].null_safe.iter().any(|&n| n);
    let forced = |w: &str| sql.to_ascii_lowercase().contains(&format!("setwise:{w}"));
    if single_key && forced("lookup") {
        return Strategy::Lookup { outer: outers[0] };
    }
    if forced("hash") || !single_key {
        return Strategy::Hash;
    }
    if let Some(&o) = outers.iter().find(|&&o| sides[o].pinned) {
        return Strategy::Lookup { outer: o };
    }
    if let Some(&o) = outers
        .iter()
        .find(|&&o| !sides[o].conds.is_empty() && sides[1 - o].key_is_shard_key)
    {
        return Strategy::Lookup { outer: o };
    }
    Strategy::Hash
}
