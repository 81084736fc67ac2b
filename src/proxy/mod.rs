//! The stateless proxy (RFC 3261 §16.11) as a pure function of (bytes,
//! source, local address, transport, time): validation (§16.3), route
//! processing (§16.4), target selection through [`crate::route`],
//! forwarding edits (§16.6), branch computation (§16.11), response relaying
//! (§16.7, §18.2.2, RFC 3581) and stateless replies. No I/O.
//!
//! [`Proxy::handle`] takes one message and returns an [`Output`]: forward
//! it, reply to it, or drop it (with a [`DropReason`] the runtime counts).
//! The bytes to send are written into a caller-owned, reused buffer.

mod branch;
mod fast;
mod fold;
mod forward;
mod local;
mod probe;
mod received;
mod reply;
mod request;
mod response;
pub mod siphash;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::auth::{AllowAll, Authenticator};
use crate::route::Table;
use crate::sip::{self, edit::Editor, Message, Transport};

pub use local::{ConfigError, Listener};
pub use probe::ProbeReply;
pub use siphash::Key;

use local::Identity;
use reply::Replier;

/// Default largest message accepted (bytes). Larger ones get `513`.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 8192;

/// What the proxy needs to know about itself.
#[derive(Clone)]
pub struct Config {
    /// Addresses we listen on and advertise (at least one).
    pub listeners: Vec<Listener>,
    /// Other host names (optionally `host:port`) that mean this proxy in a
    /// Request-URI or Route.
    pub aliases: Vec<String>,
    /// Add Record-Route to dialog-creating requests.
    pub record_route: bool,
    /// Key of the branch hash and local To-tags; share it across a cluster
    /// so every node computes the same branch for the same request.
    pub key: Key,
    /// Largest message accepted, in bytes (`513` above it).
    pub max_message_size: usize,
    /// The pluggable authentication check, called after validation.
    pub auth: Arc<dyn Authenticator>,
}

impl Config {
    /// A configuration with the defaults: Record-Route on, allow-all auth,
    /// [`DEFAULT_MAX_MESSAGE_SIZE`], no aliases.
    pub fn new(listeners: Vec<Listener>, key: Key) -> Config {
        Config {
            listeners,
            aliases: Vec::new(),
            record_route: true,
            key,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            auth: Arc::new(AllowAll),
        }
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("listeners", &self.listeners)
            .field("aliases", &self.aliases)
            .field("record_route", &self.record_route)
            .field("max_message_size", &self.max_message_size)
            .finish_non_exhaustive()
    }
}

/// A stream connection owned by one worker, named in our Via so that a
/// response finds its way back to the connection its request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnRef {
    /// The worker that owns the connection.
    pub worker: u16,
    /// The connection's id within that worker.
    pub id: u32,
}

/// One received message.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The message bytes (a datagram, or one framed stream message).
    pub data: &'a [u8],
    /// Where it came from.
    pub source: SocketAddr,
    /// The local address it arrived on.
    pub local: SocketAddr,
    /// The transport it arrived on.
    pub transport: Transport,
    /// The stream connection it arrived on, if any.
    pub conn: Option<ConnRef>,
    /// Wall-clock time, seconds since the Unix epoch (for time-of-day rules).
    pub now: u64,
}

/// Where to send the bytes written into the output buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dest: SocketAddr,
    /// Transport to send on.
    pub transport: Transport,
    /// Send on this existing stream connection (responses over TCP).
    pub conn: Option<ConnRef>,
    /// The local listener address whose sent-by went into our Via (send from
    /// the socket bound there), when we added a Via.
    pub from: Option<SocketAddr>,
}

/// What to do with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Forward the edited message.
    Forward(Transmit),
    /// Send the locally generated reply.
    Reply(Transmit),
    /// Send nothing; the runtime counts the reason.
    Drop(DropReason),
    /// A reply to one of our health probes: send nothing, hand it to the
    /// prober.
    Probe(ProbeReply),
}

/// Why a message was not forwarded or answered. Every variant is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Only CR LF bytes: a keep-alive (RFC 5626 §3.5.1).
    KeepAlive,
    /// A request too broken to answer (no usable Via, or no header section).
    Unanswerable(sip::Error),
    /// A malformed response.
    MalformedResponse(sip::Error),
    /// A response whose top Via is not ours.
    NotOurVia,
    /// A response with no Via left after removing ours.
    NoNextVia,
    /// A response whose next Via names a host we cannot address without DNS.
    UnresolvableVia,
    /// The ACK for one of our own non-2xx replies (absorbed, §16.11).
    AckAbsorbed,
    /// An ACK we could not route (ACKs are never answered).
    AckUnroutable,
    /// The authenticator asked for a silent drop.
    AuthDropped,
    /// A routing rule's action is `drop`.
    RuleDropped,
}

impl DropReason {
    /// Every reason's short stable name, for counters and logs, in
    /// [`DropReason::index`] order: one counter each.
    pub const NAMES: [&'static str; 10] = [
        "keepalive",
        "unanswerable",
        "malformed_response",
        "not_our_via",
        "no_next_via",
        "unresolvable_via",
        "ack_absorbed",
        "ack_unroutable",
        "auth_dropped",
        "rule_dropped",
    ];

    /// The reason's place in [`DropReason::NAMES`] and in the counters.
    pub fn index(&self) -> usize {
        match self {
            DropReason::KeepAlive => 0,
            DropReason::Unanswerable(_) => 1,
            DropReason::MalformedResponse(_) => 2,
            DropReason::NotOurVia => 3,
            DropReason::NoNextVia => 4,
            DropReason::UnresolvableVia => 5,
            DropReason::AckAbsorbed => 6,
            DropReason::AckUnroutable => 7,
            DropReason::AuthDropped => 8,
            DropReason::RuleDropped => 9,
        }
    }

    /// A short stable name for counters and logs.
    pub fn as_str(&self) -> &'static str {
        DropReason::NAMES
            .get(self.index())
            .copied()
            .unwrap_or_default()
    }
}

/// Per-worker scratch state reused across messages, so handling a message
/// allocates nothing once warm.
#[derive(Debug, Default)]
pub struct Scratch {
    editor: Editor,
}

impl Scratch {
    /// Fresh scratch state.
    pub fn new() -> Scratch {
        Scratch::default()
    }
}

/// The stateless proxy: immutable after construction, shared by all workers.
pub struct Proxy {
    id: Identity,
    record_route: bool,
    key: Key,
    max_message_size: usize,
    auth: Arc<dyn Authenticator>,
}

impl core::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Proxy")
            .field("id", &self.id)
            .field("record_route", &self.record_route)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Checks the configuration and pre-renders our Via and Record-Route
    /// pieces.
    pub fn new(config: Config) -> Result<Proxy, ConfigError> {
        Ok(Proxy {
            id: Identity::new(&config.listeners, &config.aliases)?,
            record_route: config.record_route,
            key: config.key,
            max_message_size: config.max_message_size,
            auth: config.auth,
        })
    }

    /// Decides what happens to one message. The bytes to send, if any, are
    /// written into `out` (cleared first). A common request is forwarded in
    /// one pass (`fast.rs`); everything else goes the general way
    /// ([`Proxy::handle_general`]), with the same result for what both
    /// cover.
    pub fn handle(
        &self,
        input: &Input<'_>,
        table: &Table,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Output {
        out.clear();
        if let Some(o) = fast::forward(self, input, table, out) {
            return o;
        }
        self.handle_general(input, table, scratch, out)
    }

    /// What [`Proxy::handle`] does with a request its one-pass path does
    /// not cover, for any message: the general path alone. For tests and
    /// fuzz targets that compare the two paths.
    #[doc(hidden)]
    pub fn handle_general(
        &self,
        input: &Input<'_>,
        table: &Table,
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Output {
        out.clear();
        let data = input.data;
        if !data.is_empty() && data.iter().all(|&b| b == b'\r' || b == b'\n') {
            return Output::Drop(DropReason::KeepAlive);
        }
        let is_request = !data.starts_with(b"SIP/");
        // Borrowed in place: moving the message out of the `Result` would
        // copy its inline header list (3 KB).
        let parsed = sip::parse(data);
        let msg = match &parsed {
            Ok(m) => m,
            Err(e) => {
                return if is_request {
                    Replier::new(self, input, out).unparsed(*e)
                } else {
                    Output::Drop(DropReason::MalformedResponse(*e))
                };
            }
        };
        match msg {
            Message::Request(req) => {
                if req.raw.len() > self.max_message_size {
                    return Replier::new(self, input, out)
                        .error(&req.headers, sip::Error::TooLarge);
                }
                let o = request::handle(self, input, req, table, &mut scratch.editor, out);
                // Forwarding adds lines; near the limit, check the result.
                if matches!(o, Output::Forward(_)) && forward::near_line_limit(req.headers.len()) {
                    if let Some(refused) = request::past_line_limit(self, input, req, out) {
                        return refused;
                    }
                }
                o
            }
            Message::Response(resp) => {
                response::handle(self, input, resp, &mut scratch.editor, out)
            }
        }
    }

    /// The one-pass path alone: `Some` with what [`Proxy::handle`] returns
    /// when it forwards `input` that way, `None` when the general path
    /// would have to run. For tests and fuzz targets that compare the two.
    #[doc(hidden)]
    pub fn forward_one_pass(
        &self,
        input: &Input<'_>,
        table: &Table,
        out: &mut Vec<u8>,
    ) -> Option<Output> {
        out.clear();
        fast::forward(self, input, table, out)
    }
}

#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod tests;
