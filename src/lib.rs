//! branchline: a stateless, high-throughput SIP forwarding proxy and carrier
//! benchmark harness.
//!
//! The data path of one datagram is `net` (per-core workers, with the
//! batched syscalls of [`sys`]) → `proxy::Proxy::handle` (a pure function
//! that reads the message with [`sip`], validates it, takes its decision
//! from the authenticator and the [`route`] table, and splices the
//! forwarded message) → `net`. `ARCHITECTURE.md` at the repository's root
//! has the module map and where each kind of change goes.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod bench;
pub mod cidr;
pub mod cli;
pub mod config;
pub mod demo;
pub mod digest;
pub mod guard;
pub mod health;
pub mod log;
pub mod metrics;
pub mod net;
pub mod proxy;
pub mod rng;
pub mod route;
pub mod sip;
pub mod sys;
