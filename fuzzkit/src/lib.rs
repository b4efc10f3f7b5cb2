//! A fuzz harness that runs on stable Rust, in `cargo test`: each target's seed
//! corpus (`fuzz/corpus/<target>/`, shared with the cargo-fuzz targets in `fuzz/`)
//! and then a bounded number of pseudo-random mutations of it, from a fixed
//! seed, through the same entry point the coverage-guided fuzzer drives.
//!
//! No coverage feedback: it is a regression net for CI (seconds), not a
//! replacement for `cargo fuzz run`. A longer or different run:
//! `SETWISE_FUZZ_ITERS=1000000 SETWISE_FUZZ_SEED=7 cargo test ... fuzz_`.
//! A failing input is printed (hex) and written to `target/fuzz-failures/`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: small, deterministic, good enough to pick mutations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform-ish in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Values that make decoders take their edge paths: lengths at the limits of
/// 1, 2, 3 and 8 byte integers, length-encoding prefixes, NUL, quotes.
const INTERESTING: &[&[u8]] = &[
    &[0x00],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xfb],
    &[0xfc],
    &[0xfd],
    &[0xfe],
    &[0xff, 0xff],
    &[0xff, 0xff, 0xff],
    &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0xfd, 0xff, 0xff, 0xff],
    &[0x00, 0x00, 0x00, 0x80],
    &[0xff, 0xff, 0xff, 0x7f],
    b"'",
    b"\"",
    b"`",
    b"\\",
    b"?",
    b"/*",
    b"*/",
    b"/*!",
    b"-- ",
    b"#",
    b"(",
    b")",
    b";",
    b",",
    b"\xc3",
    b"\xf0\x9f\x98",
];

/// One mutation of `input`, possibly spliced with `other`; `dict` holds words
/// of the target's language (SQL keywords, command bytes) to insert.
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8], dict: &[&[u8]]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = v.len();
        match rng.below(11) {
            // Flip a bit.
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            // Set a byte to a random value.
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next_u64() as u8;
            }
            // Delete a range.
            2 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                v.drain(i..i + n);
            }
            // Duplicate a range.
            3 if len > 0 && len < 1 << 16 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk = v[i..i + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            // Insert an interesting value.
            4 => {
                let x = INTERESTING[rng.below(INTERESTING.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, x.iter().copied());
            }
            // Overwrite with an interesting value.
            5 if len > 0 => {
                let x = INTERESTING[rng.below(INTERESTING.len())];
                let at = rng.below(len);
                for (k, b) in x.iter().enumerate() {
                    if let Some(slot) = v.get_mut(at + k) {
                        *slot = *b;
                    }
                }
            }
            // Insert a dictionary word.
            6 if !dict.is_empty() => {
                let w = dict[rng.below(dict.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, w.iter().copied());
            }
            // Splice with another input.
            7 if !other.is_empty() => {
                let cut = rng.below(len + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            // Truncate.
            8 if len > 0 => v.truncate(rng.below(len)),
            // Add or subtract a small number to a byte (lengths, counts, ids).
            9 if len > 0 => {
                let i = rng.below(len);
                let d = rng.below(35) as u8;
                v[i] = if rng.chance(2) {
                    v[i].wrapping_add(d)
                } else {
                    v[i].wrapping_sub(d)
                };
            }
            // Random bytes appended.
            _ => {
                for _ in 0..rng.below(8) {
                    v.push(rng.next_u64() as u8);
                }
            }
        }
    }
    v
}

/// The files of a corpus directory, in name order (empty when it is missing).
pub fn corpus(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// How one target is run.
pub struct Campaign<'a> {
    /// The target's name: its corpus is `<corpus_root>/<name>/`.
    pub name: &'a str,
    /// `fuzz/corpus` of the repository.
    pub corpus_root: PathBuf,
    /// Mutations after the corpus (`SETWISE_FUZZ_ITERS` overrides).
    pub iterations: usize,
    /// Words to insert.
    pub dict: &'a [&'a [u8]],
    /// Largest input tried (longer mutants are cut).
    pub max_len: usize,
}

impl Campaign<'_> {
    /// Runs `f` on every seed, then on the mutations. Panics (the test fails)
    /// on the first input that panics or takes longer than 5 seconds, after
    /// printing it and saving it under `target/fuzz-failures/`.
    pub fn run(&self, f: impl Fn(&[u8])) {
        let dir = self.corpus_root.join(self.name);
        let seeds: Vec<Vec<u8>> = corpus(&dir).into_iter().map(|(_, b)| b).collect();
        assert!(
            !seeds.is_empty(),
            "no seed corpus for {} in {}",
            self.name,
            dir.display()
        );
        for s in &seeds {
            self.one(&f, s);
        }
        let iterations = std::env::var("SETWISE_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.iterations);
        let seed = std::env::var("SETWISE_FUZZ_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x5e7_715e);
        let mut rng = Rng::new(seed);
        // Mutants beget mutants: a small pool keeps the walk going deeper.
        let mut pool: Vec<Vec<u8>> = seeds.clone();
        for _ in 0..iterations {
            let base = &pool[rng.below(pool.len())];
            let other = &seeds[rng.below(seeds.len())];
            let mut m = mutate(&mut rng, base, other, self.dict);
            m.truncate(self.max_len);
            self.one(&f, &m);
            if pool.len() < 4096 {
                pool.push(m);
            } else {
                let i = rng.below(pool.len());
                pool[i] = m;
            }
        }
    }

    fn one(&self, f: &impl Fn(&[u8]), input: &[u8]) {
        let started = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| f(input)));
        let took = started.elapsed();
        let why = match r {
            Err(_) => "panicked",
            Ok(()) if took > Duration::from_secs(5) => "took over 5 seconds",
            Ok(()) => return,
        };
        let saved = self.save(input);
        panic!(
            "fuzz target {} {why} on input {:02x?} (saved as {})",
            self.name,
            input,
            saved.display()
        );
    }

    fn save(&self, input: &[u8]) -> PathBuf {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in input {
            h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let dir = self
            .corpus_root
            .join("../../target/fuzz-failures")
            .join(self.name);
        let _ = std::fs::create_dir_all(&dir);
        let p = dir.join(format!("crash-{h:016x}"));
        let _ = std::fs::write(&p, input);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_deterministic_and_bounded() {
        let mut a = Rng::new(1);
        let mut b = Rng::new(1);
        for _ in 0..1000 {
            let x = mutate(&mut a, b"SELECT 1", b"abc", &[b"FROM"]);
            let y = mutate(&mut b, b"SELECT 1", b"abc", &[b"FROM"]);
            assert_eq!(x, y);
            assert!(x.len() < 1024);
        }
    }
}
