#![no_main]
//! Packet framing read from a socket.
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_proxy::fuzz::front::packet(data));
