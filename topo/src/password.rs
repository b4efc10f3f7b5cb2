//! `mysql_native_password`: the stored hash and the check of a client's scramble.
//!
//! stored = `*` + hex(SHA1(SHA1(password))) — the format of `mysql.user`.
//! A client answers a 20-byte salt with SHA1(pw) XOR SHA1(salt ‖ SHA1(SHA1(pw))).

use sha1::{Digest, Sha1};

/// The stored form of `password`; the empty password stores as the empty string.
pub fn native_hash(password: &str) -> String {
    if password.is_empty() {
        return String::new();
    }
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut out = String::with_capacity(41);
    out.push('*');
    for b in h2 {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

fn decode_stored(stored: &str) -> Option<[u8; 20]> {
    let hex = stored.strip_prefix('*')?;
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Whether `scramble` (the client's auth response) proves knowledge of the password
/// whose stored hash is `stored`, for the 20-byte `salt` the server sent.
pub fn verify_native(stored: &str, salt: &[u8], scramble: &[u8]) -> bool {
    if stored.is_empty() {
        return scramble.is_empty();
    }
    let Some(h2) = decode_stored(stored) else {
        return false;
    };
    if scramble.len() != 20 {
        return false;
    }
    let mut hasher = Sha1::new();
    hasher.update(salt);
    hasher.update(h2);
    let x = hasher.finalize();
    let h1: Vec<u8> = scramble.iter().zip(x.iter()).map(|(a, b)| a ^ b).collect();
    Sha1::digest(&h1).as_slice() == h2
}

/// What a client sends for `password` and `salt` (used by tests and the CLI).
pub fn native_scramble(password: &str, salt: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut hasher = Sha1::new();
    hasher.update(salt);
    hasher.update(h2);
    let x = hasher.finalize();
    h1.iter().zip(x.iter()).map(|(a, b)| a ^ b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hash() {
        // SELECT PASSWORD('app') on MariaDB.
        assert_eq!(
            native_hash("app"),
            "*5BCB3E6AC345B435C7C2E6B7949A04CE6F6563D3"
        );
    }

    #[test]
    fn verify_roundtrip() {
        let salt = b"abcdefghijklmnopqrst";
        let stored = native_hash("s3cret");
        assert!(verify_native(
            &stored,
            salt,
            &native_scramble("s3cret", salt)
        ));
        assert!(!verify_native(
            &stored,
            salt,
            &native_scramble("wrong", salt)
        ));
        assert!(!verify_native(&stored, salt, b""));
        assert!(verify_native("", salt, b""));
        assert!(!verify_native("", salt, &native_scramble("x", salt)));
    }
}
