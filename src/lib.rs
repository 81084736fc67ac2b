//! branchline: a stateless, high-throughput SIP forwarding proxy and carrier
//! benchmark harness.
//!
//! The data path of one datagram is `net` (sockets, per-core workers) →
//! [`sip::parse`] (zero-copy views) → `proxy::handle` (a pure function that
//! validates, routes and edits) → `net`. See `ARCHITECTURE.md` in the
//! repository for the module map.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod bench;
pub mod cli;
pub mod demo;
pub mod log;
pub mod metrics;
pub mod net;
pub mod proxy;
pub mod route;
pub mod sip;
pub mod sys;
