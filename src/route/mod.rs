//! Routing: the compiled, immutable [`Table`] that maps a request (its
//! [`RouteInput`]) to a [`Decision`] (an upstream [`Destination`], a
//! rejection or a drop) through the routing file's rules ([`RuleSpec`],
//! [`Match`], [`ActionSpec`]: dialled-number prefixes and prefix tables,
//! users, domains, sources, headers, time windows), the balancing inside a
//! destination [`Group`] ([`balance`]: hash, round-robin, random,
//! priority), the shared [`Health`] flags written by the prober, and the
//! upstream spec syntax used by flags and the routing file. No I/O, except [`UpstreamSpec::resolve`] (DNS), which is
//! marked as such and meant for start-up and reload.
//!
//! The shape:
//!
//! ```text
//! Table ── rules: [Rule{matches, action, rewrite}]   (file order; first match decides)
//!       ├─ groups: [Group{algorithm, fallback, when_down}]
//!       │          └─ dests: [Destination{addr, transport, weight, priority, drain, Arc<Health>}]
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

pub mod balance;
mod decision;
mod domain;
mod group;
mod group_spec;
mod hash;
mod index;
mod input;
mod matcher;
mod number;
mod prefix;
mod rule;
mod sets;
mod spec;
mod table;
pub(crate) mod time;

use std::net::SocketAddr;

pub use crate::cidr::{Cidr, CidrProblem, CidrSet};
pub use balance::{Algorithm, HashKey};
pub use decision::{Decision, Rewrite};
pub use domain::{DomainProblem, DomainSet};
pub use group::{Destination, Group, Health};
pub use group_spec::{CodeClass, GroupSpec, InDialog, MemberSpec, ProbeSpec, WhenDown};
pub use hash::{destination_key, CallHash};
pub use input::{DecodedUser, NoFields, RequestFields, RouteInput, UriParts};
pub use matcher::Match;
pub use number::{DialKey, PrefixProblem, User, MAX_DIAL_SYMBOLS};
pub use prefix::{PrefixMap, PrefixSet};
pub use rule::{ActionSpec, Rule, RuleAuth, RuleSpec, LOCATION};
pub use sets::{MethodProblem, MethodSet, Substrings, TransportSet, UserProblem, UserSet};
pub use spec::{parse_upstream, Host, SpecProblem, Upstream, UpstreamSpec, UPSTREAM_SYNTAX};
pub use table::{LiveTable, Table, TableBuilder, DEFAULT_GROUP, MAX_GROUP_NAME};
pub use time::{TimeProblem, TimeWindow};

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
    /// A rule (or its prefix table) that routes to an undefined group.
    #[error("rule '{rule}' routes to group '{group}', which is not defined (groups: {defined})")]
    UnknownRouteGroup {
        /// The rule.
        rule: String,
        /// The group named.
        group: String,
        /// The groups that are defined, comma-separated.
        defined: String,
    },
    /// `route = "location"`, which needs the location service.
    #[error(
        "rule '{rule}' routes to \"location\", which needs registrations; \
         that is not available yet, route to a group"
    )]
    LocationNotSupported {
        /// The rule.
        rule: String,
    },
    /// A fallback to an undefined group.
    #[error("group '{group}' falls back to group '{fallback}', which is not defined (groups: {defined})")]
    UnknownFallback {
        /// The group.
        group: String,
        /// The fallback named.
        fallback: String,
        /// The groups that are defined, comma-separated.
        defined: String,
    },
    /// Fallbacks that lead back to where they started.
    #[error("group '{group}' falls back to itself ({path}); remove one of these fallbacks")]
    FallbackCycle {
        /// The group.
        group: String,
        /// The chain, `a -> b -> a`.
        path: String,
    },
    /// Two rules with one name.
    #[error("rule '{rule}' is defined twice; rule names must be unique")]
    DuplicateRule {
        /// The repeated name.
        rule: String,
    },
    /// A rule without a name.
    #[error("rule #{number} has no name; give every rule a name")]
    UnnamedRule {
        /// The rule's 1-based position.
        number: usize,
    },
    /// A reject or when_down reply that cannot be sent.
    #[error("{place}: {problem}")]
    InvalidReply {
        /// `rule 'x' reject`, `group 'x' when_down`.
        place: String,
        /// What is wrong and what would be right.
        problem: String,
    },
    /// A rewrite on a rule that does not route.
    #[error(
        "rule '{rule}' has a rewrite but does not route; a rewrite needs `route` or `prefix_table`"
    )]
    RewriteWithoutRoute {
        /// The rule.
        rule: String,
    },
    /// A rewrite that would write a broken Request-URI.
    #[error("rule '{rule}': {problem}")]
    InvalidRewrite {
        /// The rule.
        rule: String,
        /// What is wrong.
        problem: String,
    },
    /// Probe settings that make no sense.
    #[error("group '{group}' probe: {problem}")]
    InvalidProbe {
        /// The group.
        group: String,
        /// What is wrong.
        problem: &'static str,
    },
}
