//! Routing: the compiled, immutable [`Table`] that maps a request (its
//! [`RouteInput`]) to a [`Decision`] (an upstream [`Destination`], a
//! rejection or a drop), the balancing inside a destination [`Group`]
//! (weighted rendezvous hashing of the Call-ID), the shared [`Health`] flags
//! written by the prober, and the upstream spec syntax used by flags and the
//! routing file. No I/O, except [`UpstreamSpec::resolve`] (DNS), which is
//! marked as such and meant for start-up and reload.
//!
//! The shape:
//!
//! ```text
//! Table ── groups: [Group] ── dests: [Destination{addr, transport, weight, key, Arc<Health>}]
//!       └─ default group (used when no rule matches)
//! LiveTable = ArcSwap<Table>: workers load(), a reload stores a new Table.
//! ```
//!
//! ```
//! use branchline::route::{parse_upstream, RouteInput, Table};
//!
//! let ups = ["10.0.0.1:5060", "10.0.0.2:5060;weight=2"]
//!     .iter()
//!     .map(|s| parse_upstream(s).and_then(|u| u.resolve()))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let table = Table::from_upstreams(ups)?;
//! let decision = table.select(&RouteInput::new(b"a84b4c76e66710@pc33.atlanta.com"));
//! assert!(decision.dest().is_some());
//! # Ok::<(), branchline::route::RouteError>(())
//! ```

mod decision;
mod group;
mod hash;
mod input;
mod spec;
mod table;

use std::net::SocketAddr;

pub use decision::{Decision, Rewrite};
pub use group::{Destination, Group, Health};
pub use hash::{destination_key, CallHash};
pub use input::{DecodedUser, NoFields, RequestFields, RouteInput, UriParts};
pub use spec::{parse_upstream, Host, SpecProblem, Upstream, UpstreamSpec, UPSTREAM_SYNTAX};
pub use table::{LiveTable, Table, TableBuilder, DEFAULT_GROUP, MAX_GROUP_NAME};

/// Why an upstream spec or a table definition was refused. Each variant
/// names the offending spec or group.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// An upstream spec that does not parse.
    #[error("upstream '{spec}': {problem}; expected {syntax}", syntax = UPSTREAM_SYNTAX)]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        problem: SpecProblem,
    },
    /// A host name that did not resolve.
    #[error("upstream '{spec}': cannot resolve the host name: {reason}")]
    Resolve {
        /// The spec, in canonical form.
        spec: String,
        /// The resolver's answer.
        reason: String,
    },
    /// A table without groups.
    #[error("no destination group is defined; give at least one upstream")]
    NoGroups,
    /// A group name that is empty, too long or has other characters.
    #[error(
        "group name '{group}' is not valid; use 1 to {max} characters from A-Z a-z 0-9 _ - .",
        max = MAX_GROUP_NAME
    )]
    InvalidGroupName {
        /// The name as given.
        group: String,
    },
    /// Two groups with one name.
    #[error("group '{group}' is defined twice; group names must be unique")]
    DuplicateGroup {
        /// The repeated name.
        group: String,
    },
    /// A group without destinations.
    #[error("group '{group}' has no destinations; give at least one upstream")]
    EmptyGroup {
        /// The group.
        group: String,
    },
    /// A destination with weight 0.
    #[error(
        "group '{group}': upstream {addr};transport={transport} has weight 0; \
         weights must be 1 or more (remove the upstream to stop using it)"
    )]
    ZeroWeight {
        /// The group.
        group: String,
        /// The upstream's address.
        addr: SocketAddr,
        /// The upstream's transport (`udp`, `tcp`).
        transport: &'static str,
    },
    /// The same address and transport twice in a group.
    #[error(
        "group '{group}': upstream {addr};transport={transport} is listed twice; \
         list it once and give it a larger weight instead"
    )]
    DuplicateDestination {
        /// The group.
        group: String,
        /// The upstream's address.
        addr: SocketAddr,
        /// The upstream's transport (`udp`, `tcp`).
        transport: &'static str,
    },
    /// A default group that is not defined.
    #[error("default group '{group}' is not defined")]
    UnknownDefaultGroup {
        /// The name as given.
        group: String,
    },
}
