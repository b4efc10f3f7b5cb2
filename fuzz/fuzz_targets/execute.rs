#![no_main]
//! COM_STMT_PREPARE text and COM_STMT_EXECUTE parameters.
libfuzzer_sys::fuzz_target!(|data: &[u8]| setwise_proxy::fuzz::execute(data));
