#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| huifang_fuzz::campaign_toml(data));
