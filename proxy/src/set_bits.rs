//! Set names as bits: the sets a statement touched are a `u64` mask, so a
//! statement's digest and audit bookkeeping copy no names. Each name gets the
//! next bit the first time it is seen (bit 63 stands for every set past the
//! 63rd).

use std::sync::RwLock;

static NAMES: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// The bit of `set`.
pub fn bit(set: &str) -> u64 {
    {
        let names = NAMES.read().expect("set names");
        if let Some(i) = names.iter().position(|n| n == set) {
            return 1u64 << i.min(63);
        }
    }
    let mut names = NAMES.write().expect("set names");
    let i = match names.iter().position(|n| n == set) {
        Some(i) => i,
        None => {
            names.push(set.to_string());
            names.len() - 1
        }
    };
    1u64 << i.min(63)
}

/// The mask of every set in `sets`.
pub fn mask<'a>(sets: impl IntoIterator<Item = &'a str>) -> u64 {
    sets.into_iter().fold(0, |m, s| m | bit(s))
}

/// The names of the sets in `mask`, sorted.
pub fn names(mask: u64) -> Vec<String> {
    if mask == 0 {
        return Vec::new();
    }
    let names = NAMES.read().expect("set names");
    let mut v: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << (*i).min(63)) != 0)
        .map(|(_, n)| n.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let m = super::mask(["obs_b", "obs_a"]);
        assert_eq!(super::names(m), vec!["obs_a", "obs_b"]);
        assert_eq!(super::bit("obs_a"), super::bit("obs_a"));
    }
}
