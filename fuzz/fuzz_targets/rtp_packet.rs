#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| huifang_fuzz::rtp_packet(data));
