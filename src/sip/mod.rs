//! The SIP language (RFC 3261): message framing, zero-copy views of requests
//! and responses, typed header values, URIs, the splice editor that builds an
//! outgoing message from incoming bytes plus small edits, and builders for
//! locally generated messages. No I/O.
//!
//! Every view borrows the datagram it was parsed from; nothing here allocates
//! per header on the hot path.

mod access;
pub mod build;
pub(crate) mod charset;
pub mod credentials;
pub mod edit;
mod error;
mod header_name;
mod ip;
mod message;
pub mod name_addr;
mod parse;
pub mod uri;
mod validate;
pub mod values;
pub mod via;
pub mod writer;

pub(crate) use access::list_gap;
pub use error::{Error, Reaction};
pub use header_name::HeaderName;
pub(crate) use message::Line;
pub use message::{
    offset_in, split_values, Header, HeaderIter, Headers, Message, Method, Request, Response,
    SplitValues, Transport, Version, MAX_HEADERS, MAX_HEAD_LEN,
};
pub(crate) use parse::scan_request;
pub use parse::{frame_stream, parse, scan_headers};
pub use validate::{check_request_uri, essentials, validate_request, Essentials};

/// The RFC 4475 fixtures and the benchmark messages, in a fixed order: the
/// seeds of the tests that check a one-pass reader against a general one.
#[cfg(test)]
pub(crate) fn test_messages() -> Vec<Vec<u8>> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut seeds = Vec::new();
    for dir in ["tests/fixtures/rfc4475", "benches/messages"] {
        let mut files: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .expect("fixture directory")
            .map(|e| e.expect("fixture entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "dat" || e == "sip"))
            .collect();
        files.sort();
        for f in files {
            seeds.push(std::fs::read(f).expect("fixture"));
        }
    }
    seeds
}

/// `seeds` and, for every `step`-th byte of the first `head` bytes of each,
/// a copy with that byte replaced by each of `bytes`.
#[cfg(test)]
pub(crate) fn with_mutations(
    seeds: Vec<Vec<u8>>,
    head: usize,
    step: usize,
    bytes: &[u8],
) -> Vec<Vec<u8>> {
    let mut all = seeds.clone();
    for seed in &seeds {
        for i in (0..seed.len().min(head)).step_by(step) {
            for &b in bytes {
                let mut m = seed.clone();
                m[i] = b;
                all.push(m);
            }
        }
    }
    all
}
