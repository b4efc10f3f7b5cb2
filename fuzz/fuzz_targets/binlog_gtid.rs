#![no_main]
//! A MariaDB GTID event's body.
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_scheduler::moves::binlog::fuzz::gtid(data));
