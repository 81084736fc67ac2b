//! parse → forwarding edit → parse, compare (see `check_edit_round_trip`).
#![no_main]

use branchline::sip::edit::Editor;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/common/mod.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let mut ed = Editor::new();
    let mut out = Vec::new();
    common::check_edit_round_trip(data, &mut ed, &mut out);
});
