#![no_main]
//! The scheduler's binlog row-image decoder.
//!
//! The decoder turns a panic inside mysql_common into an error of the move
//! (catch_unwind); libFuzzer's panic hook would abort on it first, so the
//! default hook is put back: a panic that escapes the decoder still aborts
//! (libfuzzer-sys catches it at the target's edge).
libfuzzer_sys::fuzz_target!(
    init: {
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| setwise_scheduler::moves::binlog::fuzz::rows(data)
);
