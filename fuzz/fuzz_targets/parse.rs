//! parse → validate_request → every typed accessor; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check_parse(data));
