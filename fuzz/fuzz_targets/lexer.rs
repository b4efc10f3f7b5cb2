#![no_main]
//! The SQL lexer and what reads its tokens.
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_proxy::fuzz::lexer(data));
