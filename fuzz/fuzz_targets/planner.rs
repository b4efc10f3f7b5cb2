#![no_main]
//! Parse, plan and plan cache against a fixed routing snapshot.
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_proxy::fuzz::planner(data));
