//! What the routing table may look at for one request: [`RouteInput`].
//! No I/O, and no SIP parsing: the proxy hands in views it has already
//! parsed, and the parts a rule may need besides those come through
//! [`RequestFields`], read only when a rule asks for them.
//!
//! Building a `RouteInput` is a handful of word copies, so a table without
//! rules pays nothing for the fields it never reads.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use smallvec::SmallVec;

use crate::sip::uri::Host;
use crate::sip::{Method, Transport};

/// What routing rules may look at, for one request. Every byte field
/// borrows the request.
#[derive(Clone, Copy)]
pub struct RouteInput<'a> {
    /// The request method.
    pub method: Method<'a>,
    /// The Call-ID header value, exactly as received (what `hash` balancing
    /// keys on by default, so every message of a call picks alike).
    pub call_id: &'a [u8],
    /// Where the request came from (the packet's source, not the Via).
    pub source: SocketAddr,
    /// The transport it came over.
    pub transport: Transport,
    /// Wall-clock seconds since the Unix epoch, passed in by the shell (the
    /// table never reads a clock), for time-of-day rules.
    pub now_unix_secs: u64,
    /// The rest of the request, read on demand.
    pub request: &'a dyn RequestFields,
}

impl<'a> RouteInput<'a> {
    /// An INVITE with only the Call-ID known: from `0.0.0.0:0` over UDP at
    /// the epoch, with no other fields. For balancing tests and examples.
    pub fn new(call_id: &'a [u8]) -> RouteInput<'a> {
        RouteInput {
            method: Method::Invite,
            call_id,
            source: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            transport: Transport::Udp,
            now_unix_secs: 0,
            request: &NoFields,
        }
    }

    /// The Request-URI (after the proxy's route processing: for a request
    /// from a strict router, the URI it restored).
    pub fn ruri(&self) -> Option<UriParts<'_>> {
        self.request.ruri()
    }

    /// The User-Agent header value, when present.
    pub fn user_agent(&self) -> Option<&[u8]> {
        self.request.header(b"User-Agent")
    }
}

impl core::fmt::Debug for RouteInput<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RouteInput")
            .field("method", &self.method)
            .field("call_id", &String::from_utf8_lossy(self.call_id))
            .field("source", &self.source)
            .field("transport", &self.transport)
            .field("now_unix_secs", &self.now_unix_secs)
            .finish_non_exhaustive()
    }
}

/// The parts of a request that rules read only when they need them. The
/// proxy implements it over the views it has parsed; each method does its
/// (small) work when called, never before.
pub trait RequestFields {
    /// The Request-URI's user and host.
    fn ruri(&self) -> Option<UriParts<'_>>;

    /// The From URI's user and host; `None` when the header is missing or
    /// its URI is not a SIP or tel URI.
    fn from(&self) -> Option<UriParts<'_>>;

    /// The To URI's user and host, as [`RequestFields::from`].
    fn to(&self) -> Option<UriParts<'_>>;

    /// The first value of the header named `name` (any case; a compact
    /// form names the same header), trimmed; `None` when absent.
    fn header(&self, name: &[u8]) -> Option<&[u8]>;
}

/// A request with no fields beyond the [`RouteInput`]'s own: every lookup
/// finds nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFields;

impl RequestFields for NoFields {
    fn ruri(&self) -> Option<UriParts<'_>> {
        None
    }

    fn from(&self) -> Option<UriParts<'_>> {
        None
    }

    fn to(&self) -> Option<UriParts<'_>> {
        None
    }

    fn header(&self, _name: &[u8]) -> Option<&[u8]> {
        None
    }
}

/// The user and host of a URI, as rules match them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriParts<'a> {
    /// The user part as written, escapes (`%HH`) kept; empty when there is
    /// none. For a `tel:` URI, the number.
    pub user: &'a [u8],
    /// The host (a name, or an IPv4 or IPv6 address); `None` for `tel:`.
    pub host: Option<Host<'a>>,
    /// The user is a telephone number: a `tel:` URI, or `user=phone`.
    pub phone: bool,
}

/// A user part with its escapes decoded, inline up to 64 bytes.
pub type DecodedUser = SmallVec<[u8; 64]>;

impl UriParts<'_> {
    /// The user with its escapes (`%HH`) decoded. An escape that is not
    /// two hex digits is kept as written (the parser has refused such URIs
    /// already; this never fails).
    pub fn user_decoded(&self) -> DecodedUser {
        let Some(first) = memchr::memchr(b'%', self.user) else {
            return DecodedUser::from_slice(self.user);
        };
        let (plain, mut rest) = self.user.split_at(first);
        let mut out = DecodedUser::from_slice(plain);
        while let Some((&b, tail)) = rest.split_first() {
            let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
            match (b, hex(tail.first()), hex(tail.get(1))) {
                (b'%', Some(hi), Some(lo)) => {
                    // Two hex digits make at most 255.
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                    rest = tail.get(2..).unwrap_or_default();
                }
                _ => {
                    out.push(b);
                    rest = tail;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_decoded_reads_escapes_and_keeps_broken_ones() {
        let parts = |user: &'static [u8]| UriParts {
            user,
            host: None,
            phone: false,
        };
        let cases: [(&[u8], &[u8]); 6] = [
            (b"", b""),
            (b"alice", b"alice"),
            (b"%2B44%2020", b"+44 20"),
            (b"bob%20smith", b"bob smith"),
            (b"%4a%4A", b"JJ"),
            (b"100%", b"100%"),
        ];
        for (raw, want) in cases {
            assert_eq!(&parts(raw).user_decoded()[..], want, "{raw:?}");
        }
        assert_eq!(&parts(b"%zz1").user_decoded()[..], b"%zz1");
    }

    #[test]
    fn an_input_without_fields_finds_nothing() {
        let rin = RouteInput::new(b"c@x");
        assert_eq!(rin.call_id, b"c@x");
        assert!(rin.ruri().is_none());
        assert!(rin.user_agent().is_none());
        assert!(rin.request.from().is_none() && rin.request.to().is_none());
    }
}
