//! The parser never panics: every RFC 4475 message (and the benchmark
//! messages), every truncation of each, and seeded single-byte mutations of
//! each go through parse → validate_request → every typed accessor → the
//! forwarding edit round trip (see `common`). Each case runs under
//! `catch_unwind`; failures are collected and reported with the seed and
//! the case that reproduces them.
//!
//! The seed is fixed so a run is reproducible; set `ROBUSTNESS_SEED` to try
//! others, and `ROBUSTNESS_MUTATIONS` for more mutations per message.

mod common;

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;

use branchline::sip::edit::Editor;

const DEFAULT_SEED: u64 = 0x4475_b7a2_c0ff_ee01;
/// Mutations per message: 32 messages × 300 ≈ 9600 per run.
const DEFAULT_MUTATIONS: usize = 300;

/// Bytes that mean something to a SIP parser, tried more often than chance
/// would.
const INTERESTING: &[u8] = b"\0\r\n \t:;,=\"<>@%\\/?[]#*+-.0129azAZ\x7f\x80\xc3\xff";

/// xorshift64*: small, deterministic, good enough to pick offsets and bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["tests/fixtures/rfc4475", "benches/messages"] {
        let mut names: Vec<PathBuf> = fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "dat" || e == "sip"))
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, fs::read(&p).unwrap()));
        }
    }
    out
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim_start_matches("0x").parse().ok())
        .unwrap_or(default)
}

/// Runs the checks on one case; `Err` carries the panic message.
fn run_case(data: &[u8], ed: &mut Editor, out: &mut Vec<u8>) -> Result<(), String> {
    catching(|| common::check_all(data, ed, out))
}

/// Runs `f`, turning a panic into `Err(message)`.
fn catching(f: impl FnOnce()) -> Result<(), String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn truncations_and_mutations_never_panic() {
    let seed: u64 = std::env::var("ROBUSTNESS_SEED")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(DEFAULT_SEED);
    let per_message: usize = env_or("ROBUSTNESS_MUTATIONS", DEFAULT_MUTATIONS);
    let inputs = inputs();
    assert_eq!(
        inputs.len(),
        33,
        "29 RFC 4475 messages and 4 benchmark messages"
    );

    let mut ed = Editor::new();
    let mut out = Vec::new();
    let mut failures = Vec::new();
    let mut cases = 0usize;
    let mut rng = Rng(seed | 1);
    for (name, bytes) in &inputs {
        for len in 0..=bytes.len() {
            cases += 1;
            if let Err(msg) = run_case(&bytes[..len], &mut ed, &mut out) {
                failures.push(format!("{name}: truncated to {len} bytes: {msg}"));
            }
        }
        let mut mutated = bytes.clone();
        for i in 0..per_message {
            let at = rng.below(bytes.len());
            let byte = if rng.next() & 1 == 0 {
                INTERESTING[rng.below(INTERESTING.len())]
            } else {
                rng.next() as u8
            };
            mutated[at] = byte;
            cases += 1;
            if let Err(msg) = run_case(&mutated, &mut ed, &mut out) {
                failures.push(format!(
                    "{name}: mutation #{i}: byte {at} = {byte:#04x} (seed {seed:#x}): {msg}"
                ));
            }
            mutated[at] = bytes[at];
        }
    }
    assert!(cases > 15_000, "ran {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases panicked (seed {seed:#x}); first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// The harness itself turns a panic into a reported failure (a test that
/// cannot fail is a defect).
#[test]
fn panics_are_caught_and_reported() {
    let mut ed = Editor::new();
    let mut out = Vec::new();
    assert_eq!(
        run_case(b"OPTIONS sip:x SIP/2.0\r\n\r\n", &mut ed, &mut out),
        Ok(())
    );
    assert_eq!(catching(|| panic!("boom {}", 1)), Err("boom 1".to_string()));
}
