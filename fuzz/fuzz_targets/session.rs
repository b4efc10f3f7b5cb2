#![no_main]
//! A whole client conversation with the front (handshake, commands).
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_proxy::fuzz::front::session(data));
