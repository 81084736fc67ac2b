//! What both request paths share: the one place where a request that is
//! to be forwarded is checked for loops, shown to the authenticator and
//! routed, and the pieces of the forwarded request they write alike. No
//! I/O.
//!
//! The general path (`request.rs`, every request) and the one pass
//! (`fast.rs`, the common request, for speed) each read the request their
//! own way, then call in here; neither imports from the other. Where each
//! policy feature is called from:
//!
//! * **Loop check:** [`is_our_loop`], on every Via, by both paths.
//! * **Next hop:** [`next_hop`] (Route set, in-dialog Request-URI, or the
//!   table), by both paths.
//! * **Authentication verdict and routing rules:** [`decide`] (general
//!   path, with the parsed request) and [`decide_by_context`] (the one
//!   pass, for an authenticator that decides by the source alone) share
//!   [`after_auth`], which turns the verdict and the routing table's
//!   [`route::Decision`] into this module's [`Decision`]. A new rule
//!   action, auth outcome or location lookup goes there, once. The one pass
//!   forwards only a plain [`Decision::Forward`]; anything else (a reply,
//!   a drop, a Request-URI rewrite, an authenticator that must read the
//!   request) sends the request down the general path, which decides
//!   again with the whole request.
//! * **The flood guard** must count each message once, before anything
//!   parses it: it belongs at the top of `Proxy::handle`, ahead of the
//!   split into the two paths, not in here.
//! * **The forwarded request's pieces:** our Via ([`OurVia`]),
//!   Record-Route ([`write_record_route`]), the sender's Via marks
//!   (`received.rs`) and the [`Transmit`] ([`forward_transmit`]).

use std::cell::OnceCell;
use std::net::SocketAddr;

use super::branch;
use super::local::Local;
use super::{DropReason, Input, Proxy, Transmit};
use crate::auth::{self, AuthContext, Challenge};
use crate::route::{self, InDialog, RequestFields, Rewrite, RouteInput, RuleAuth, Table, UriParts};
use crate::sip::name_addr::NameAddr;
use crate::sip::uri::{Host, Routing, SipUri, Uri};
use crate::sip::via::Via;
use crate::sip::writer::Writer;
use crate::sip::{self, charset, HeaderName, Headers, Method, Request, Transport};

/// The most header lines forwarding adds to a request: Via, Record-Route
/// (one line, even with two values), Max-Forwards and Content-Length when
/// missing, and the Route line of strict routing.
pub(super) const MAX_ADDED_LINES: usize = 5;

/// Whether a request of `lines` header lines could pass the header-line
/// limit once forwarding adds its lines: such a request is checked again
/// after it is written (the general path's `past_line_limit`).
pub(super) fn near_line_limit(lines: usize) -> bool {
    lines + MAX_ADDED_LINES > sip::MAX_HEADERS
}

/// A resolved next hop.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hop {
    pub(super) dest: SocketAddr,
    pub(super) transport: Transport,
}

/// Where a URI leads without help from the table.
pub(super) enum UriHop {
    Hop(Hop),
    /// A host name: needs DNS, which a sans-IO core does not do.
    Name,
    /// A transport we do not speak (TLS, SCTP, WebSocket).
    Unsupported,
}

/// Where the SIP URI `u` leads.
pub(super) fn uri_hop(u: &SipUri<'_>) -> UriHop {
    uri_hop_with(u, &u.routing())
}

/// [`uri_hop`] with the URI's routing parameters already read.
fn uri_hop_with(u: &SipUri<'_>, r: &Routing<'_>) -> UriHop {
    let transport = match (u.secure, r.transport) {
        (true, _)
        | (
            _,
            Some(
                Transport::Tls
                | Transport::Sctp
                | Transport::Ws
                | Transport::Wss
                | Transport::Other,
            ),
        ) => return UriHop::Unsupported,
        (false, Some(t)) => t,
        (false, None) => Transport::Udp,
    };
    let ip = match r.maddr.and_then(|m| Host::parse(m).ok()) {
        Some(h) => h.ip(),
        None => u.host.ip(),
    };
    match ip {
        Some(ip) => UriHop::Hop(Hop {
            dest: SocketAddr::new(ip, u.port.unwrap_or(transport.default_port())),
            transport,
        }),
        None => UriHop::Name,
    }
}

impl Proxy {
    /// Whether the SIP URI `u` names this proxy.
    pub(super) fn uri_is_us(&self, u: &SipUri<'_>) -> bool {
        let default = if u.secure { 5061 } else { 5060 };
        self.id.is_us(&u.host, u.port, default)
    }
}

/// Whether the Via `v` is one this proxy wrote for this very request (RFC
/// 3261 §16.3 item 4): our sent-by, and the loop part of its branch equal
/// to `loop_part`, the request's own.
#[inline(always)]
pub(super) fn is_our_loop(p: &Proxy, v: &Via<'_>, loop_part: u32) -> bool {
    v.branch.and_then(branch::loop_part_of) == Some(loop_part)
        && p.id.is_us(&v.host, v.port, v.transport.default_port())
}

/// What route processing (§16.4) needs from the Route values, gathered in
/// the one pass that checks them all.
#[derive(Default)]
pub(super) struct Routes<'a> {
    /// Number of values.
    pub(super) count: usize,
    /// How many values from the first on name us.
    pub(super) leading_us: usize,
    /// Where the first value that does not name us (index `leading_us`)
    /// leads.
    pub(super) first_other: Option<RouteHop<'a>>,
    /// The URI of the last value, as written.
    pub(super) last_uri_raw: Option<&'a [u8]>,
}

/// Where one Route value leads: only this is kept of it, rather than the
/// whole parsed address.
pub(super) struct RouteHop<'a> {
    /// The URI as written.
    pub(super) uri_raw: &'a [u8],
    /// Its next hop and `lr`; `None` when it is not a SIP URI.
    pub(super) hop: Option<(UriHop, bool)>,
}

impl<'a> Routes<'a> {
    /// Takes the next value: while every value so far named us, whether
    /// this one does too, and if not, where it leads.
    pub(super) fn push(&mut self, r: &NameAddr<'a>, is_us: impl Fn(&SipUri<'a>) -> bool) {
        if self.leading_us == self.count && !r.sip_uri().is_some_and(is_us) {
            let hop = r.sip_uri().map(|s| {
                let rt = s.routing();
                (uri_hop_with(s, &rt), rt.lr)
            });
            self.first_other = Some(RouteHop {
                uri_raw: r.uri_raw,
                hop,
            });
        }
        self.push_ours(r.uri_raw);
    }

    /// [`Routes::push`] for a value whose URI, `uri_raw`, names us, or for
    /// any value once one that does not has come (`first_other`).
    pub(super) fn push_ours(&mut self, uri_raw: &'a [u8]) {
        if self.first_other.is_none() {
            self.leading_us += 1;
        }
        self.count += 1;
        self.last_uri_raw = Some(uri_raw);
    }

    /// Every value names us (or there is none): with a Request-URI that
    /// names us too, the request is for this proxy itself.
    pub(super) fn all_ours(&self) -> bool {
        self.leading_us == self.count
    }
}

/// Where a request goes (§16.5, §16.6 items 6-7), before the table.
#[derive(Clone, Copy)]
pub(super) enum Next<'x> {
    /// The first Route value not naming us, a loose router.
    Loose(Hop),
    /// That value is a strict router: the hop, and its URI, which becomes
    /// the Request-URI.
    Strict(Hop, &'x [u8]),
    /// The routing table decides.
    Table,
    /// A next hop we cannot reach (`503`).
    Unavailable,
}

/// The next hop: the first Route value after the `ours` leading ones that
/// name us (of the first `routes_end`), else, in a dialog, the Request-URI
/// `uri` unless it names us (or unless the table routes in-dialog requests
/// by its rules, `routing.in_dialog = "rules"`), else the table.
#[inline(always)]
pub(super) fn next_hop<'x>(
    p: &Proxy,
    table: &Table,
    routes: &Routes<'x>,
    ours: usize,
    routes_end: usize,
    uri: &Uri<'_>,
    to_tag: Option<&[u8]>,
) -> Next<'x> {
    // Below `routes_end`, the Route after ours is the first one not naming us.
    if let Some(r) = routes.first_other.as_ref().filter(|_| ours < routes_end) {
        return match r.hop {
            Some((UriHop::Hop(hop), true)) => Next::Loose(hop),
            Some((UriHop::Hop(hop), false)) => Next::Strict(hop, r.uri_raw),
            Some((UriHop::Unsupported, _)) | None => Next::Unavailable,
            // A Route we cannot resolve: the request stays with the call's
            // upstream, which the balancer picks from the Call-ID.
            Some((UriHop::Name, _)) => Next::Table,
        };
    }
    match uri {
        // `routing.in_dialog = "rules"`: routed as if out of dialog.
        _ if to_tag.is_some() && table.in_dialog() == InDialog::Rules => Next::Table,
        Uri::Sip(s) if to_tag.is_some() && !p.uri_is_us(s) => match uri_hop(s) {
            UriHop::Hop(hop) => Next::Loose(hop),
            UriHop::Unsupported => Next::Unavailable,
            UriHop::Name => Next::Table,
        },
        _ => Next::Table,
    }
}

/// What happens to a request once it has passed validation and the loop
/// check: the decision point's answer. Large for the challenge stored
/// inline, as in [`auth::Verdict`] (no allocation per challenge); it is
/// built in place by the inlined decision functions.
#[allow(clippy::large_enum_variant)] // inline by design, see above
#[derive(Debug)]
pub(super) enum Decision<'t> {
    /// Forward it to `hop`, with `rewrite` applied to the Request-URI
    /// first when there is one.
    Forward {
        hop: Hop,
        rewrite: Option<&'t Rewrite>,
    },
    /// Answer it with this status.
    Refuse {
        code: u16,
        reason: &'t str,
        retry_after: Option<u32>,
    },
    /// Challenge it for credentials.
    Challenge(Challenge),
    /// Drop it silently.
    Drop(DropReason),
}

/// The decision for a parsed request: the authenticator's verdict on it,
/// then the next hop, the table deciding when `next` leaves it to the
/// table. `rin` is what the table reads.
#[inline(always)]
pub(super) fn decide<'t>(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    next: Next<'_>,
    table: &'t Table,
    rin: &RouteInput<'_>,
) -> Decision<'t> {
    // An authenticator that reads the rules' `auth` hears them first: the
    // table decides before it, and after it only if it allows.
    let (selected, rules) = match next {
        Next::Table if p.auth.reads_rules() => {
            let (d, a) = table.select_with_auth(rin);
            (Some(d), a)
        }
        _ => (None, RuleAuth::default()),
    };
    let unchallengeable = matches!(req.method, Method::Ack | Method::Cancel)
        || !matches!(req.headers.to_tag(), Ok(None));
    let verdict = p
        .auth
        .check(req, &auth_context(input, rules, unchallengeable));
    after_auth(verdict, next, selected, table, rin)
}

/// [`decide`] without the parsed request, for the one pass: `None` when
/// the authenticator must read the request itself
/// ([`auth::Authenticator::check_context`]).
#[inline(always)]
pub(super) fn decide_by_context<'t>(
    p: &Proxy,
    input: &Input<'_>,
    next: Next<'_>,
    to_tag: Option<&[u8]>,
    table: &'t Table,
    rin: &RouteInput<'_>,
) -> Option<Decision<'t>> {
    let unchallengeable = matches!(rin.method, Method::Ack | Method::Cancel) || to_tag.is_some();
    let verdict =
        p.auth
            .check_context(&auth_context(input, RuleAuth::default(), unchallengeable))?;
    Some(after_auth(verdict, next, None, table, rin))
}

/// What the authenticator knows of a request besides the request itself.
fn auth_context(input: &Input<'_>, rules: RuleAuth, unchallengeable: bool) -> AuthContext {
    AuthContext {
        source: input.source,
        transport: input.transport,
        now_unix_secs: input.now,
        rules,
        unchallengeable,
    }
}

/// The decision once the authenticator has given `verdict`.
#[inline(always)]
fn after_auth<'t>(
    verdict: auth::Verdict,
    next: Next<'_>,
    selected: Option<route::Decision<'t>>,
    table: &'t Table,
    rin: &RouteInput<'_>,
) -> Decision<'t> {
    match verdict {
        auth::Verdict::Allow => {}
        auth::Verdict::Reject { code, reason } => {
            return Decision::Refuse {
                code,
                reason,
                retry_after: None,
            }
        }
        auth::Verdict::Challenge(c) => return Decision::Challenge(c),
        auth::Verdict::Drop => return Decision::Drop(DropReason::AuthDropped),
    }
    let hop = |dest: &route::Destination| Hop {
        dest: dest.addr(),
        transport: dest.transport(),
    };
    match next {
        Next::Loose(hop) | Next::Strict(hop, _) => Decision::Forward { hop, rewrite: None },
        Next::Unavailable => Decision::Refuse {
            code: 503,
            reason: "Service Unavailable",
            retry_after: None,
        },
        Next::Table => match selected.unwrap_or_else(|| table.select(rin)) {
            route::Decision::Route { dest, rewrite } => Decision::Forward {
                hop: hop(dest),
                rewrite,
            },
            route::Decision::Reject {
                code,
                reason,
                retry_after,
            } => Decision::Refuse {
                code,
                reason,
                retry_after,
            },
            route::Decision::Drop => Decision::Drop(DropReason::RuleDropped),
        },
    }
}

/// The routing input of a request: the fields every path has at hand, and
/// `fields` for the rest, read only if a rule asks.
#[inline(always)]
pub(super) fn route_input<'r>(
    input: &Input<'_>,
    method: Method<'r>,
    call_id: &'r [u8],
    fields: &'r dyn RequestFields,
) -> RouteInput<'r> {
    RouteInput {
        method,
        call_id,
        source: input.source,
        transport: input.transport,
        now_unix_secs: input.now,
        request: fields,
    }
}

/// The request fields rules read on demand ([`RequestFields`]), over
/// either path's view of the request.
pub(super) struct Fields<'x, 'a> {
    /// The Request-URI routing uses (after §16.4 processing).
    pub(super) uri: &'x Uri<'a>,
    /// The rest of the request.
    pub(super) head: Head<'x, 'a>,
}

/// How [`Fields`] reaches header lines.
pub(super) enum Head<'x, 'a> {
    /// The general path's indexed header view.
    Parsed(&'x Headers<'a>),
    /// The one pass's request bytes, with the From and To values it read;
    /// other header lines are found in an index of the head's lines built
    /// the first time a rule asks for one (and kept for the next).
    Raw {
        data: &'a [u8],
        from: &'a [u8],
        to: &'a [u8],
        lines: &'x OnceCell<Headers<'a>>,
    },
}

impl<'a> Head<'_, 'a> {
    /// The first value of `name`.
    fn first(&self, name: HeaderName<'_>) -> Option<&'a [u8]> {
        match self {
            Head::Parsed(h) => h.first(name).map(|h| h.value),
            Head::Raw { from, .. } if name == HeaderName::From => Some(from),
            Head::Raw { to, .. } if name == HeaderName::To => Some(to),
            Head::Raw { data, lines, .. } => lines
                .get_or_init(|| sip::scan_headers(data))
                .first(name)
                .map(|h| h.value),
        }
    }
}

/// The user and host of `u`, as rules see them.
fn uri_parts<'u>(u: &Uri<'u>) -> Option<UriParts<'u>> {
    match u {
        Uri::Sip(s) => Some(UriParts {
            user: s.user.unwrap_or_default(),
            host: Some(s.host),
            phone: s
                .user_param()
                .is_some_and(|v| v.eq_ignore_ascii_case(b"phone")),
        }),
        Uri::Tel(t) => Some(UriParts {
            user: t.number,
            host: None,
            phone: true,
        }),
        Uri::Absolute { .. } => None,
    }
}

/// The URI of the name-addr in the header `name`'s first value.
fn addr_parts<'a>(value: Option<&'a [u8]>, name: &'static str) -> Option<UriParts<'a>> {
    let (na, _) = NameAddr::parse_first_name_addr(value?, name).ok()?;
    uri_parts(&na.uri)
}

impl RequestFields for Fields<'_, '_> {
    fn ruri(&self) -> Option<UriParts<'_>> {
        uri_parts(self.uri)
    }

    fn from(&self) -> Option<UriParts<'_>> {
        addr_parts(self.head.first(HeaderName::From), "From")
    }

    fn to(&self) -> Option<UriParts<'_>> {
        addr_parts(self.head.first(HeaderName::To), "To")
    }

    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.head
            .first(HeaderName::from_bytes(name))
            .map(charset::trim)
    }
}

/// Writes the Request-URI `uri` (written as `raw`) with `rw` applied: the
/// user part as rules compare it (escapes decoded; for a dialled number,
/// visual separators removed: `route::User`) stripped of `rw.strip` bytes
/// and prefixed, then written back with escapes where a URI user needs
/// them; the host replaced. A `tel:` URI's number is its user; its host
/// cannot change. A phone number's own parameters (after `;`, RFC 3966)
/// stay.
pub(super) fn write_rewritten_uri(w: &mut Writer<'_>, raw: &[u8], uri: &Uri<'_>, rw: &Rewrite) {
    let (user, host) = match uri {
        Uri::Sip(s) => (s.user, host_span(raw, s)),
        Uri::Tel(t) => (Some(t.number), None),
        Uri::Absolute { .. } => (None, None),
    };
    // The user's place: where it is, or (none written) just before the host.
    let user_at = match (user.and_then(|u| sip::offset_in(raw, u)), &host) {
        (Some(at), _) => Some(at..at + user.map_or(0, <[u8]>::len)),
        (None, Some(h)) => Some(h.start..h.start),
        (None, None) => None,
    };
    let mut cursor = 0;
    if let (Some(at), Some(parts)) = (user_at.filter(|_| rw.changes_user()), uri_parts(uri)) {
        w.bytes(raw.get(..at.start).unwrap_or_default());
        let number = route::User::of(&parts);
        write_user(w, &rw.prefix);
        write_user(w, number.as_bytes().get(rw.strip..).unwrap_or_default());
        let written = raw.get(at.clone()).unwrap_or_default();
        if parts.phone {
            if let Some(params) = memchr::memchr(b';', written).and_then(|i| written.get(i..)) {
                w.bytes(params);
            }
        }
        if user.is_none() {
            w.byte(b'@');
        }
        cursor = at.end;
    }
    if let (Some(h), Some(new_host)) = (host, rw.host.as_deref()) {
        w.bytes(raw.get(cursor..h.start).unwrap_or_default());
        w.bytes(new_host);
        cursor = h.end;
    }
    w.bytes(raw.get(cursor..).unwrap_or_default());
}

/// Writes `user` as a URI's user part: a byte a user may hold as it is,
/// any other escaped (`%HH`, RFC 3261 §25.1).
fn write_user(w: &mut Writer<'_>, user: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in user {
        if charset::user_unescaped(b) {
            w.byte(b);
        } else {
            w.byte(b'%')
                .byte(HEX[usize::from(b >> 4)])
                .byte(HEX[usize::from(b & 15)]);
        }
    }
}

/// Where the host of the SIP URI `s`, written as `raw`, stands in `raw`:
/// after the userinfo's `@` (or the scheme's `:`), up to the port, the
/// parameters or the headers.
fn host_span(raw: &[u8], s: &SipUri<'_>) -> Option<core::ops::Range<usize>> {
    let start = match s.password.or(s.user) {
        Some(part) => sip::offset_in(raw, part)? + part.len() + 1,
        None => memchr::memchr(b':', raw)? + 1,
    };
    let rest = raw.get(start..)?;
    let len = if rest.first() == Some(&b'[') {
        memchr::memchr(b']', rest)? + 1
    } else {
        rest.iter()
            .position(|b| matches!(b, b':' | b';' | b'?'))
            .unwrap_or(rest.len())
    };
    Some(start..start + len)
}

/// Our Via (RFC 3261 §16.6 item 8): our sent-by for the outgoing
/// transport, the branch, and for a request that came on a stream the
/// connection its responses go back on.
pub(super) struct OurVia<'x> {
    pub(super) outgoing: &'x Local,
    pub(super) transport: Transport,
    pub(super) tx: u64,
    pub(super) loop_part: u32,
}

impl OurVia<'_> {
    /// The value.
    pub(super) fn write_value(&self, w: &mut Writer<'_>, p: &Proxy, input: &Input<'_>) {
        self.outgoing.via_start(self.transport, w);
        self.write_branch(w, p, input);
    }

    /// The whole line: `Via: `, the value, CR LF.
    pub(super) fn write_line(&self, w: &mut Writer<'_>, p: &Proxy, input: &Input<'_>) {
        self.outgoing.via_line_start(self.transport, w);
        self.write_branch(w, p, input);
        w.bytes(b"\r\n");
    }

    /// From the branch value on.
    fn write_branch(&self, w: &mut Writer<'_>, p: &Proxy, input: &Input<'_>) {
        let tx = self.tx;
        w.bytes(&branch::branch_bytes(tx, self.loop_part));
        if let Some(c) = input.conn.filter(|_| input.transport.is_stream()) {
            w.bytes(b";bl=")
                .u16(c.worker)
                .byte(b'.')
                .u32(c.id)
                .byte(b'.')
                .bytes(&branch::hex8(branch::conn_mac(p.key, c.worker, c.id, tx)));
        }
    }
}

/// Whether a request gets our Record-Route (RFC 3261 §16.6 item 4): a
/// dialog-creating one, when Record-Route is on.
pub(super) fn records_route(p: &Proxy, method: Method<'_>, to_tag: Option<&[u8]>) -> bool {
    p.record_route
        && to_tag.is_none()
        && matches!(method, Method::Invite | Method::Subscribe | Method::Refer)
}

/// Our Record-Route: one URI, or two when the request leaves on another
/// transport, address family or address than it came on; with
/// `whole_line`, as the whole line (`Record-Route: ` value CR LF).
pub(super) fn write_record_route(
    w: &mut Writer<'_>,
    p: &Proxy,
    input: &Input<'_>,
    hop: Hop,
    outgoing: &Local,
    whole_line: bool,
) {
    if whole_line {
        outgoing.rr_line_start(hop.transport, w);
    } else {
        outgoing.rr_uri(hop.transport, w);
    }
    let inbound = p.id.incoming(input.local, input.transport);
    if inbound.transport != hop.transport
        || inbound.addr.is_ipv4() != hop.dest.is_ipv4()
        || (!std::ptr::eq(inbound, outgoing) && inbound.hostport != outgoing.hostport)
    {
        w.bytes(b", ");
        inbound.rr_uri(input.transport, w);
    }
    if whole_line {
        w.bytes(b"\r\n");
    }
}

/// Where the forwarded request goes: to `hop`, sent from the socket of
/// `outgoing`, the listener whose sent-by is in our Via.
#[inline(always)]
pub(super) fn forward_transmit(hop: Hop, outgoing: &Local) -> Transmit {
    Transmit {
        dest: hop.dest,
        transport: hop.transport,
        conn: None,
        from: Some(outgoing.addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(uri: &str, strip: usize, prefix: &str, host: Option<&str>) -> String {
        let raw = uri.as_bytes();
        let u = Uri::parse(raw).unwrap();
        let rw = Rewrite {
            strip,
            prefix: prefix.as_bytes().into(),
            host: host.map(|h| h.as_bytes().into()),
        };
        let mut out = Vec::new();
        write_rewritten_uri(&mut Writer::new(&mut out), raw, &u, &rw);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rewrites_user_and_host_in_place() {
        let cases = [
            (
                ("sip:00442071234567@gw.example.com", 2, "+", None),
                "sip:+442071234567@gw.example.com",
            ),
            (
                (
                    "sip:0044207@gw.example.com;user=phone",
                    4,
                    "",
                    Some("uk.example.net"),
                ),
                "sip:207@uk.example.net;user=phone",
            ),
            (
                (
                    "sip:alice:secret@[2001:db8::1]:5070;transport=tcp?h=v",
                    0,
                    "",
                    Some("10.0.0.9"),
                ),
                "sip:alice:secret@10.0.0.9:5070;transport=tcp?h=v",
            ),
            (("sip:alice@192.0.2.1", 0, "", None), "sip:alice@192.0.2.1"),
            (
                ("sip:pbx.example.com:5060", 0, "100", None),
                "sip:100@pbx.example.com:5060",
            ),
            (
                ("sips:bob@h.example.com", 0, "9", Some("other.example")),
                "sips:9bob@other.example",
            ),
            (
                ("tel:+44-20-7123;phone-context=x", 1, "00", Some("ignored")),
                "tel:0044207123;phone-context=x",
            ),
            (
                ("sip:%2B44%20(20)%207123@h;user=phone", 3, "0", None),
                "sip:0207123@h;user=phone",
            ),
            (
                ("sip:+44-20-7123;isub=1@h;user=phone", 3, "0", None),
                "sip:0207123;isub=1@h;user=phone",
            ),
            (
                ("sip:alice.smith@h", 0, "a b#", None),
                "sip:a%20b%23alice.smith@h",
            ),
        ];
        for ((uri, strip, prefix, host), want) in cases {
            assert_eq!(rewritten(uri, strip, prefix, host), want, "{uri}");
        }
    }
}
