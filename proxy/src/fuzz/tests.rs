//! The fuzz targets on stable Rust, bounded for CI: each target's seed corpus
//! (`fuzz/corpus/<target>/`) and a few thousand deterministic mutations of it.
//! `SETWISE_FUZZ_ITERS` / `SETWISE_FUZZ_SEED` run longer or elsewhere.

use std::path::PathBuf;

use setwise_fuzzkit::Campaign;

fn campaign<'a>(name: &'a str, iterations: usize, dict: &'a [&'a [u8]]) -> Campaign<'a> {
    Campaign {
        name,
        corpus_root: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus"),
        iterations,
        dict,
        max_len: 4096,
    }
}

/// SQL words the mutator inserts.
const SQL: &[&[u8]] = &[
    b" SELECT ",
    b" FROM ",
    b" WHERE ",
    b" users ",
    b" orders ",
    b" d.b ",
    b" s ",
    b" user_id ",
    b" = ",
    b" IN (1, 2) ",
    b" ORDER BY ",
    b" GROUP BY ",
    b" LIMIT 1 ",
    b" UNION ",
    b" JOIN ",
    b" INSERT INTO ",
    b" VALUES ",
    b" UPDATE ",
    b" DELETE ",
    b" COUNT(*) ",
    b" HAVING ",
    b" ? ",
    b" 'x' ",
    b" 7 ",
    b" XA ",
    b" shardkey=",
    b" CREATE PROCEDURE p() BEGIN ",
    b" END ",
    b" CASE ",
    b" MOD ",
    b" LOCK IN SHARE MODE ",
    b" EXPLAIN ",
];

/// Command bytes and fragments of the protocol.
const WIRE: &[&[u8]] = &[
    &[0x03],
    &[0x16],
    &[0x17],
    &[0x18],
    &[0x19],
    &[0x1a],
    &[0x11],
    &[0x04],
    &[0x1b],
    &[0x1f],
    &[0x01, 0, 0, 0],
    &[0x08, 0x00],
    &[0xfd, 0x00],
    &[0x0c, 0x00],
    &[0x0b, 0x00],
    b"mysql_native_password\0",
    b"caching_sha2_password\0",
];

#[test]
fn fuzz_lexer() {
    campaign("lexer", 3000, SQL).run(super::lexer);
}

#[test]
fn fuzz_planner() {
    campaign("planner", 2000, SQL).run(super::planner);
}

#[test]
fn fuzz_execute() {
    campaign("execute", 3000, WIRE).run(super::execute);
}

#[test]
fn fuzz_packet() {
    campaign("packet", 500, WIRE).run(super::front::packet);
}

#[test]
fn fuzz_session() {
    campaign("session", 1000, WIRE).run(super::front::session);
}
