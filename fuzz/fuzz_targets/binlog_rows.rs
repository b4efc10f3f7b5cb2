#![no_main]
//! The scheduler's binlog row-image decoder.
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_scheduler::moves::binlog::fuzz::rows(data));
