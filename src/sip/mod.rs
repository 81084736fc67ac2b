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
mod message;
pub mod name_addr;
mod parse;
pub mod uri;
mod validate;
pub mod values;
pub mod via;

pub use error::{Error, Reaction};
pub use message::{
    offset_in, split_values, Header, HeaderIter, HeaderName, Headers, Message, Method, Request,
    Response, SplitValues, Transport, Version, MAX_HEADERS, MAX_HEAD_LEN,
};
pub use parse::{frame_stream, parse, scan_headers};
pub use validate::{check_request_uri, essentials, validate_request, Essentials};
