//! Requests: validation (RFC 3261 §16.3), route processing (§16.4), target
//! selection, forwarding edits (§16.6) and stateless replies. No I/O.

use std::net::{IpAddr, SocketAddr};

use smallvec::SmallVec;

use super::branch::{self, Invariants};
use super::local::Local;
use super::{DropReason, Input, Output, Proxy, Transmit};
use crate::auth::{AuthContext, Verdict};
use crate::route::{RouteInput, Table};
use crate::sip::edit::Editor;
use crate::sip::name_addr::NameAddr;
use crate::sip::uri::{Host, Routing, SipUri, Uri};
use crate::sip::via::{Rport, Via};
use crate::sip::writer::Writer;
use crate::sip::{
    self, build, charset, Error, Header, HeaderName, Headers, Method, Reaction, Request, Transport,
};

/// The most header lines forwarding adds to a request: Via, Record-Route
/// (one line, even with two values), Max-Forwards and Content-Length when
/// missing, and the Route line of strict routing.
pub(super) const MAX_ADDED_LINES: usize = 5;

/// Methods we forward, for `Allow` in our own OPTIONS answer.
const ALLOW: &[u8] =
    b"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, SUBSCRIBE, NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE";

/// Answers a request that did not parse, from whatever header lines can be
/// salvaged; without a Via there is nobody to answer.
pub(super) fn reject_unparsed(p: &Proxy, input: &Input<'_>, e: Error, out: &mut Vec<u8>) -> Output {
    // ACKs are never answered, malformed or not.
    if input.data.starts_with(b"ACK ") {
        return Output::Drop(DropReason::Unanswerable(e));
    }
    let headers = sip::scan_headers(input.data);
    reply_for_error(p, input, &headers, e, out)
}

/// Answers a parsed request with the reply its error calls for.
pub(super) fn reject(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    e: Error,
    out: &mut Vec<u8>,
) -> Output {
    reply_for_error(p, input, &req.headers, e, out)
}

fn reply_for_error(
    p: &Proxy,
    input: &Input<'_>,
    headers: &Headers<'_>,
    e: Error,
    out: &mut Vec<u8>,
) -> Output {
    match e.reaction(true) {
        Reaction::Drop => Output::Drop(DropReason::Unanswerable(e)),
        Reaction::Reply {
            code,
            reason,
            detail,
        } => reply(p, input, headers, code, reason, detail, &[], out),
    }
}

/// Writes a stateless reply (with our deterministic To-tag) and says where
/// it goes. No Via → nothing to answer.
#[allow(clippy::too_many_arguments)]
fn reply(
    p: &Proxy,
    input: &Input<'_>,
    headers: &Headers<'_>,
    code: u16,
    reason: &str,
    detail: &str,
    extra: &[(&[u8], &[u8])],
    out: &mut Vec<u8>,
) -> Output {
    let Some(top_raw) = headers.values(HeaderName::Via).next() else {
        return Output::Drop(DropReason::Unanswerable(Error::Missing("Via")));
    };
    let tag = tag_for(p, headers, top_raw);
    build::response_to_headers(headers, code, reason, detail, Some(&tag), extra, out);
    let top = Via::parse(top_raw).ok();
    if let Some(v) = &top {
        annotate_reply_via(out, top_raw, v, input.source);
    }
    Output::Reply(reply_transmit(input, top.as_ref()))
}

/// Adds `received`/`rport` to the top Via of a reply we wrote, as the server
/// transport would have to the request on arrival (RFC 3261 §18.2.1, RFC
/// 3581 §4), so the client's NAT binding and IP are visible in the reply.
fn annotate_reply_via(out: &mut Vec<u8>, top_raw: &[u8], v: &Via<'_>, src: SocketAddr) {
    use std::io::Write as _;
    let Some(at) = memchr::memmem::find(out, b"\r\nVia: ").map(|i| i + 7) else {
        return;
    };
    if out.get(at..at + top_raw.len()) != Some(top_raw) {
        return;
    }
    let mut buf = [0u8; 96];
    let mut w = std::io::Cursor::new(&mut buf[..]);
    let range = match v.rport {
        Rport::Requested => {
            let Some(name_at) = v
                .params
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(b"rport") && p.value.is_none())
                .and_then(|p| sip::offset_in(top_raw, p.name))
            else {
                return;
            };
            let ip = ip_for_param(src.ip());
            if write!(w, "received={ip};rport={}", src.port()).is_err() {
                return;
            }
            at + name_at..at + name_at + 5
        }
        _ if !v.host.is_ip(src.ip()) && v.received.is_none() => {
            let ip = ip_for_param(src.ip());
            if write!(w, ";received={ip}").is_err() {
                return;
            }
            at + top_raw.len()..at + top_raw.len()
        }
        _ => return,
    };
    let n = w.position() as usize;
    out.splice(range, buf[..n].iter().copied());
}

fn tag_for(p: &Proxy, headers: &Headers<'_>, top_raw: &[u8]) -> [u8; branch::LOCAL_TAG_LEN] {
    let value = |n| headers.first(n).map_or(&b""[..], |h: Header<'_>| h.value);
    branch::local_tag(
        p.key,
        top_raw,
        value(HeaderName::CallId),
        value(HeaderName::From),
        value(HeaderName::CSeq),
    )
}

/// Where a stateless reply goes (RFC 3261 §18.2.2, RFC 3581 §4): back on
/// the connection for streams; for datagrams to `maddr` if present, else
/// to the source IP at the `rport` (source port) when asked for, the
/// sent-by port otherwise.
fn reply_transmit(input: &Input<'_>, top: Option<&Via<'_>>) -> Transmit {
    let mut t = Transmit {
        dest: input.source,
        transport: input.transport,
        conn: input.conn,
        from: Some(input.local),
    };
    if input.transport.is_stream() {
        return t;
    }
    if let Some(v) = top {
        let default = v.transport.default_port();
        if let Some(ip) = v.maddr.and_then(super::response::parse_ip) {
            t.dest = SocketAddr::new(ip, v.port.unwrap_or(default));
        } else if !matches!(v.rport, Rport::Requested | Rport::Value(_)) {
            t.dest = SocketAddr::new(input.source.ip(), v.port.unwrap_or(default));
        }
    }
    t
}

/// A resolved next hop.
#[derive(Clone, Copy)]
pub(super) struct Hop {
    pub(super) dest: SocketAddr,
    pub(super) transport: Transport,
}

/// Why a URI cannot be used as a next hop without help from the table.
pub(super) enum UriHop {
    Hop(Hop),
    /// A host name: needs DNS, which a sans-IO core does not do.
    Name,
    /// A transport we do not speak (TLS, SCTP, WebSocket).
    Unsupported,
}

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
    pub(super) fn uri_is_us(&self, u: &SipUri<'_>) -> bool {
        let default = if u.secure { 5061 } else { 5060 };
        self.id.is_us(&u.host, u.port, default)
    }
}

/// The whole request path.
pub(super) fn handle(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    table: &Table,
    ed: &mut Editor,
    out: &mut Vec<u8>,
) -> Output {
    // §16.3 item 1: reasonable syntax of everything we rely on. Results
    // are borrowed in place rather than moved out of their `Result`s.
    let ess = sip::Essentials::tags_only(req);
    let ess = match &ess {
        Ok(e) => e,
        Err(e) => return refuse(p, input, req, *e, out),
    };
    let to_tag = ess.to;

    // The ACK for one of our own non-2xx replies carries our To-tag; one
    // with a To-tag of another shape is not hashed to find that out.
    if req.method == Method::Ack {
        if let Some(t) = to_tag.filter(|t| branch::local_tag_shaped(t)) {
            if t == tag_for(p, &req.headers, ess.top_via_raw) {
                return Output::Drop(DropReason::AckAbsorbed);
            }
        }
    }

    // §16.3 item 2: the Request-URI scheme.
    let uri = sip::check_request_uri(req);
    let uri = match &uri {
        Ok(u) => u,
        Err(e) => return refuse(p, input, req, *e, out),
    };

    // What the branch hashes read (§16.11).
    let inv = Invariants {
        method: req.method,
        uri_raw: req.uri_raw,
        top_via: &ess.top_via,
        top_via_raw: ess.top_via_raw,
        call_id: ess.call_id,
        cseq: ess.cseq,
        from_tag: ess.from.unwrap_or_default(),
        to_tag,
    };

    // Every Route value must parse (§16.3 item 1); only a summary is kept,
    // and each value as received goes into the loop hash.
    let mut routes = Routes::default();
    let mut loop_hash = inv.loop_hash(p.key);
    let walked = req.headers.each_route(|r, raw| {
        routes.push(r, |s| p.uri_is_us(s));
        loop_hash.route(raw);
    });
    if let Err(e) = walked {
        return refuse(p, input, req, e, out);
    }
    let loop_part = loop_hash.finish();

    // Our own OPTIONS (keep-alive probes): answered whatever Max-Forwards.
    let to_us = matches!(&uri, Uri::Sip(s) if s.user.is_none() && p.uri_is_us(s));
    if req.method == Method::Options && to_us && routes.leading_us == routes.count {
        let extra: [(&[u8], &[u8]); 2] = [(b"Allow", ALLOW), (b"Supported", b"")];
        return reply(p, input, &req.headers, 200, "OK", "", &extra, out);
    }

    // §16.3 item 3: Max-Forwards.
    if ess.max_forwards == Some(0) {
        if req.method == Method::Ack {
            return Output::Drop(DropReason::AckUnroutable);
        }
        return reply(p, input, &req.headers, 483, "Too Many Hops", "", &[], out);
    }

    // §16.3 item 4: loop detection. The top Via was parsed by
    // `essentials`; the rest are parsed here.
    let is_our_loop = |v: &Via<'_>| {
        v.branch.and_then(branch::loop_part_of) == Some(loop_part)
            && p.id.is_us(&v.host, v.port, v.transport.default_port())
    };
    if is_our_loop(&ess.top_via) {
        return refuse_status(p, input, req, 482, "Loop Detected", out);
    }
    for v in req.headers.vias_after(ess.top_via_raw) {
        let v = match v {
            Ok(v) => v,
            Err(e) => return refuse(p, input, req, e, out),
        };
        if is_our_loop(&v) {
            return refuse_status(p, input, req, 482, "Loop Detected", out);
        }
    }

    // §16.3 item 5: Proxy-Require (we support no extensions).
    if req.headers.proxy_require().next().is_some() {
        return refuse_extensions(p, input, req, out);
    }

    // §16.3 item 6: authorization, through the pluggable check.
    let ctx = AuthContext {
        source: input.source,
        transport: input.transport,
        now_unix_secs: input.now,
    };
    match p.auth.check(req, &ctx) {
        Verdict::Allow => {}
        Verdict::Reject { code, reason } => return refuse_status(p, input, req, code, reason, out),
        Verdict::Challenge(c) => {
            let extra: [(&[u8], &[u8]); 1] =
                [(c.kind.header_name().as_bytes(), c.value.as_bytes())];
            return refuse_with(p, input, req, c.kind.code(), c.kind.reason(), &extra, out);
        }
        Verdict::Drop => return Output::Drop(DropReason::AuthDropped),
    }

    // §16.4: route information preprocessing.
    let mut restore_uri: Option<&[u8]> = None;
    let mut routes_end = routes.count;
    if to_us && routes.count > 0 {
        // The previous hop was a strict router: our Record-Route URI is the
        // Request-URI, the real one is the last Route value.
        restore_uri = routes.last_uri_raw;
        routes_end -= 1;
    }
    let ours = routes.leading_us.min(routes_end);
    let restored = restore_uri.map(Uri::parse);
    let effective_uri = match &restored {
        Some(Ok(u)) => u,
        Some(Err(_)) => return refuse(p, input, req, Error::Invalid("Route"), out),
        None => uri,
    };

    // §16.5/§16.6 item 6-7: the next hop.
    let next = next_hop(p, &routes, ours, routes_end, effective_uri, to_tag);
    let hop = match next {
        Next::Unavailable => return refuse_status(p, input, req, 503, "Service Unavailable", out),
        Next::Loose(h) | Next::Strict(h, _) => h,
        Next::Table => match table_hop(table, input, req.method, ess.call_id, effective_uri) {
            Some(hop) => hop,
            None if req.method == Method::Ack => return Output::Drop(DropReason::AckUnroutable),
            None => {
                return refuse_with(
                    p,
                    input,
                    req,
                    503,
                    "Service Unavailable",
                    &[(b"Retry-After", b"5")],
                    out,
                )
            }
        },
    };

    // §16.6: build the request to forward.
    let outgoing = p.id.outgoing(hop.dest, hop.transport);
    let tx = inv.tx_part(p.key);
    // Our Via on top (item 8), carrying the stream connection the request
    // came on so that its responses find their way back.
    let via = OurVia {
        outgoing,
        transport: hop.transport,
        tx,
        loop_part,
    };
    ed.insert_via(req, |w| via.write_value(w, p, input));
    // RFC 3261 §18.2.1 and RFC 3581: received and rport on the sender's Via.
    match SenderMark::of(req.raw, &ess.top_via, ess.top_via_raw, input.source) {
        SenderMark::Rport(at) => {
            ed.replace_with(at..at + 5, |w| write_received_rport(w, input.source));
        }
        SenderMark::Received(at) => ed.insert_with(at, |w| write_received(w, input.source)),
        SenderMark::None => {}
    }
    // Item 3: Max-Forwards.
    let mf = ess.max_forwards.map_or(70, |m| m - 1);
    ed.set_max_forwards(req, mf);
    // §16.4: our own Route entries go.
    if ours > 0 {
        ed.remove_first_values(req, HeaderName::Route, ours);
    }
    if let Some(raw) = restore_uri {
        ed.replace_request_uri(req, raw);
        remove_last_route(ed, req);
    }
    // Item 6: a strict next hop takes the Request-URI's place.
    if let Next::Strict(_, route_uri) = next {
        let old_uri = restore_uri.unwrap_or(req.uri_raw);
        ed.replace_request_uri(req, route_uri);
        if ours == 0 {
            ed.remove_first_value(req, HeaderName::Route);
        }
        append_route(ed, req, old_uri);
    }
    // Item 4: Record-Route on dialog-creating requests.
    if records_route(p, req.method, to_tag) {
        ed.add_record_route_with(req, |w| {
            write_record_route(w, p, input, hop, outgoing, false)
        });
    }
    // The parse framed the body by Content-Length when there is one, so a
    // present value is already right; only a missing one is added.
    if req.headers.first(HeaderName::ContentLength).is_none() {
        ed.fix_content_length(req);
    }
    if ed.apply(req.raw, out).is_err() {
        out.clear();
        return refuse_status(p, input, req, 500, "Server Internal Error", out);
    }
    Output::Forward(Transmit {
        dest: hop.dest,
        transport: hop.transport,
        conn: None,
        from: Some(outgoing.addr),
    })
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
}

/// The next hop the routing table picks for a request (the call's
/// upstream, by its Call-ID, Request-URI and source).
pub(super) fn table_hop(
    table: &Table,
    input: &Input<'_>,
    method: Method<'_>,
    call_id: &[u8],
    uri: &Uri<'_>,
) -> Option<Hop> {
    let (user, host) = match uri {
        Uri::Sip(s) => (s.user.unwrap_or_default(), host_bytes(&s.host)),
        Uri::Tel(t) => (t.number, &b""[..]),
        Uri::Absolute { .. } => (&b""[..], &b""[..]),
    };
    let rin = RouteInput {
        call_id,
        method: Some(method),
        ruri_user: user,
        ruri_host: host,
        source: Some(input.source),
        now_unix_secs: input.now,
    };
    table.select(&rin).map(|d| Hop {
        dest: d.addr(),
        transport: d.transport(),
    })
}

fn host_bytes<'a>(h: &Host<'a>) -> &'a [u8] {
    match h {
        Host::Name(n) => n,
        _ => b"",
    }
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

/// Where a request goes (§16.5, §16.6 items 6-7), before the table.
#[derive(Clone, Copy)]
pub(super) enum Next<'x> {
    /// The first Route value not naming us, a loose router.
    Loose(Hop),
    /// That value is a strict router: the hop, and its URI, which becomes
    /// the Request-URI.
    Strict(Hop, &'x [u8]),
    /// The call's upstream, picked by the routing table.
    Table,
    /// A next hop we cannot reach (`503`).
    Unavailable,
}

/// The next hop: the first Route value after the `ours` leading ones that
/// name us (of the first `routes_end`), else, in a dialog, the Request-URI
/// `uri` unless it names us, else the table. Shared by the general path
/// and the one pass.
#[inline(always)]
pub(super) fn next_hop<'x>(
    p: &Proxy,
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
        Uri::Sip(s) if to_tag.is_some() && !p.uri_is_us(s) => match uri_hop(s) {
            UriHop::Hop(hop) => Next::Loose(hop),
            UriHop::Unsupported => Next::Unavailable,
            UriHop::Name => Next::Table,
        },
        _ => Next::Table,
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
    write_second_record_route(w, p, input, hop, outgoing);
    if whole_line {
        w.bytes(b"\r\n");
    }
}

/// `, <inbound URI>` when the request changes transport, address family
/// or address.
fn write_second_record_route(
    w: &mut Writer<'_>,
    p: &Proxy,
    input: &Input<'_>,
    hop: Hop,
    outgoing: &Local,
) {
    let inbound = p.id.incoming(input.local, input.transport);
    if inbound.transport != hop.transport
        || inbound.addr.is_ipv4() != hop.dest.is_ipv4()
        || (!std::ptr::eq(inbound, outgoing) && inbound.hostport != outgoing.hostport)
    {
        w.bytes(b", ");
        inbound.rr_uri(input.transport, w);
    }
}

/// What the sender's Via gets (RFC 3261 §18.2.1, RFC 3581 §4), by offset
/// in the message: `rport` (5 bytes) becomes `received=IP;rport=PORT`
/// when rport was asked for; otherwise `;received=IP` goes after the value
/// when the sent-by host is not the source IP.
pub(super) enum SenderMark {
    Rport(usize),
    Received(usize),
    None,
}

impl SenderMark {
    /// The mark for the top Via `v`, written as `v_raw` inside `raw`.
    pub(super) fn of(raw: &[u8], v: &Via<'_>, v_raw: &[u8], src: SocketAddr) -> SenderMark {
        let Some(start) = sip::offset_in(raw, v_raw) else {
            return SenderMark::None;
        };
        if matches!(v.rport, Rport::Requested) {
            if let Some(at) = v.rport_name().and_then(|n| sip::offset_in(raw, n)) {
                return SenderMark::Rport(at);
            }
        }
        if !v.host.is_ip(src.ip()) && v.received.is_none() {
            return SenderMark::Received(start + v_raw.len());
        }
        SenderMark::None
    }
}

/// What replaces `rport`: `received=IP;rport=PORT`.
pub(super) fn write_received_rport(w: &mut Writer<'_>, src: SocketAddr) {
    w.received_rport(src);
}

/// What follows the sender's Via value: `;received=IP`.
pub(super) fn write_received(w: &mut Writer<'_>, src: SocketAddr) {
    w.bytes(b";received=").ip(ip_for_param(src.ip()));
}

/// RFC 3261 `received` holds an IPv4 or IPv6 address (no brackets).
fn ip_for_param(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn remove_last_route(ed: &mut Editor, req: &Request<'_>) {
    let Some(last) = req.headers.all(HeaderName::Route).last() else {
        return;
    };
    let values: SmallVec<[&[u8]; 4]> = last.values().collect();
    match values.as_slice() {
        [] => {}
        [_] => ed.remove_header(req, &last),
        [.., prev, lastv] => {
            if let (Some(a), Some(b)) = (
                sip::offset_in(req.raw, prev),
                sip::offset_in(req.raw, lastv),
            ) {
                ed.remove(a + prev.len()..b + lastv.len());
            }
        }
    }
}

/// Appends `Route: <uri>` after the last Route line (strict routing).
fn append_route(ed: &mut Editor, req: &Request<'_>, uri: &[u8]) {
    let at = match req.headers.all(HeaderName::Route).last() {
        Some(h) => h.end as usize,
        None => match req.headers.iter().next_back() {
            Some(h) => h.end as usize,
            None => return,
        },
    };
    ed.insert_with(at, |w| {
        w.bytes(b"Route: <").bytes(uri).bytes(b">\r\n");
    });
}

/// Refuses a request whose forwarded form in `out` has more header lines
/// than a parser takes (the next hop, another branchline among them, would
/// refuse it), so that the sender gets the reply. Only a request near the
/// limit is checked; out of line, so that a second copy of the parser does
/// not crowd the hot path.
#[cold]
#[inline(never)]
pub(super) fn past_line_limit(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    out: &mut Vec<u8>,
) -> Option<Output> {
    if sip::parse(out).err() != Some(Error::TooManyHeaders) {
        return None;
    }
    out.clear();
    Some(refuse(p, input, req, Error::TooManyHeaders, out))
}

/// `420 Bad Extension` naming every Proxy-Require option tag in one
/// `Unsupported` line (RFC 3261 §20.40 allows a list), so that any number
/// of tags fits in a reply; a tag that is not a token makes the request
/// malformed (`400`), and such bytes are never echoed.
#[cold]
fn refuse_extensions(p: &Proxy, input: &Input<'_>, req: &Request<'_>, out: &mut Vec<u8>) -> Output {
    let mut list: SmallVec<[u8; 128]> = SmallVec::new();
    for tag in req.headers.proxy_require() {
        if !charset::is_token(tag) {
            return refuse(p, input, req, Error::Invalid("Proxy-Require"), out);
        }
        if !list.is_empty() {
            list.extend_from_slice(b", ");
        }
        list.extend_from_slice(tag);
    }
    refuse_with(
        p,
        input,
        req,
        420,
        "Bad Extension",
        &[(b"Unsupported", &list)],
        out,
    )
}

fn refuse(p: &Proxy, input: &Input<'_>, req: &Request<'_>, e: Error, out: &mut Vec<u8>) -> Output {
    if req.method == Method::Ack {
        // ACKs are never answered (RFC 3261 §17.2.3 has no response to ACK).
        return Output::Drop(DropReason::Unanswerable(e));
    }
    reject(p, input, req, e, out)
}

fn refuse_status(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    code: u16,
    reason: &str,
    out: &mut Vec<u8>,
) -> Output {
    refuse_with(p, input, req, code, reason, &[], out)
}

fn refuse_with(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    code: u16,
    reason: &str,
    extra: &[(&[u8], &[u8])],
    out: &mut Vec<u8>,
) -> Output {
    if req.method == Method::Ack {
        return Output::Drop(DropReason::AckUnroutable);
    }
    reply(p, input, &req.headers, code, reason, "", extra, out)
}
