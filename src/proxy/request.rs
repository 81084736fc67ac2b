//! The general request path: validation (RFC 3261 §16.3), route
//! processing (§16.4), and the forwarding edits (§16.6) recorded in the
//! editor, for every request; the decision itself is `forward::decide`'s.
//! No I/O.

use smallvec::SmallVec;

use super::branch::{self, Invariants};
use super::forward::{self, Decision, Fields, Head, Next, OurVia, Routes};
use super::received::SenderMark;
use super::reply::{self, Replier, Status};
use super::{DropReason, Input, Output, Proxy};
use crate::route::Table;
use crate::sip::credentials::Credentials;
use crate::sip::edit::Editor;
use crate::sip::uri::Uri;
use crate::sip::writer;
use crate::sip::{self, charset, Error, HeaderName, Method, Request};

/// Methods we forward, for `Allow` in our own OPTIONS answer.
const ALLOW: &[u8] =
    b"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, SUBSCRIBE, NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE";

/// The whole request path.
pub(super) fn handle(
    p: &Proxy,
    input: &Input<'_>,
    req: &Request<'_>,
    table: &Table,
    ed: &mut Editor,
    out: &mut Vec<u8>,
) -> Output {
    let replier = |out| Replier::new(p, input, out);
    // §16.3 item 1: reasonable syntax of everything we rely on. Results
    // are borrowed in place rather than moved out of their `Result`s.
    let ess = sip::Essentials::tags_only(req);
    let ess = match &ess {
        Ok(e) => e,
        Err(e) => return replier(out).refuse(req, *e),
    };
    let to_tag = ess.to;

    // The ACK for one of our own non-2xx replies carries our To-tag; one
    // with a To-tag of another shape is not hashed to find that out.
    if req.method == Method::Ack {
        if let Some(t) = to_tag.filter(|t| branch::local_tag_shaped(t)) {
            if t == reply::local_tag(p, &req.headers, ess.top_via_raw) {
                return Output::Drop(DropReason::AckAbsorbed);
            }
        }
    }

    // §16.3 item 2: the Request-URI scheme.
    let uri = sip::check_request_uri(req);
    let uri = match &uri {
        Ok(u) => u,
        Err(e) => return replier(out).refuse(req, *e),
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
        return replier(out).refuse(req, e);
    }
    let loop_part = loop_hash.finish();

    // Our own OPTIONS (keep-alive probes): answered whatever Max-Forwards.
    let to_us = matches!(&uri, Uri::Sip(s) if s.user.is_none() && p.uri_is_us(s));
    if req.method == Method::Options && to_us && routes.all_ours() {
        let extra: [(&[u8], &[u8]); 2] = [(b"Allow", ALLOW), (b"Supported", b"")];
        return replier(out).reply(&req.headers, Status::new(200, "OK").with(&extra));
    }

    // §16.3 item 3: Max-Forwards.
    if ess.max_forwards == Some(0) {
        if req.method == Method::Ack {
            return Output::Drop(DropReason::AckUnroutable);
        }
        return replier(out).reply(&req.headers, Status::new(483, "Too Many Hops"));
    }

    // §16.3 item 4: loop detection. The top Via was parsed by
    // `essentials`; the rest are parsed here.
    let loop_detected = Status::new(482, "Loop Detected");
    if forward::is_our_loop(p, &ess.top_via, loop_part) {
        return replier(out).refuse_status(req, loop_detected);
    }
    for v in req.headers.vias_after(ess.top_via_raw) {
        let v = match v {
            Ok(v) => v,
            Err(e) => return replier(out).refuse(req, e),
        };
        if forward::is_our_loop(p, &v, loop_part) {
            return replier(out).refuse_status(req, loop_detected);
        }
    }

    // §16.3 item 5: Proxy-Require (we support no extensions).
    if req.headers.proxy_require().next().is_some() {
        return refuse_extensions(replier(out), req);
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
        Some(Err(_)) => return replier(out).refuse(req, Error::Invalid("Route")),
        None => uri,
    };

    // §16.5/§16.6 items 6-7, and §16.3 item 6 (authorization): the one
    // decision point.
    let next = forward::next_hop(p, table, &routes, ours, routes_end, effective_uri, to_tag);
    let fields = Fields {
        uri: effective_uri,
        head: Head::Parsed(&req.headers),
    };
    let rin = forward::route_input(input, req.method, ess.call_id, &fields);
    let (hop, rewrite) = match forward::decide(p, input, req, next, table, &rin) {
        Decision::Forward { hop, rewrite } => (hop, rewrite),
        Decision::Refuse {
            code,
            reason,
            retry_after,
        } => {
            let mut secs = [0u8; 10];
            let extra: [(&[u8], &[u8]); 1] = [(b"Retry-After", decimal(&mut secs, retry_after))];
            let extra = if retry_after.is_some() {
                &extra[..]
            } else {
                &[]
            };
            return replier(out).refuse_status(req, Status::new(code, reason).with(extra));
        }
        Decision::Challenge(c) => {
            // One header line per challenge (one per digest algorithm).
            let name = c.kind.header_name().as_bytes();
            let mut extra: [(&[u8], &[u8]); 4] = [(b"", b""); 4];
            let mut n = 0;
            for (slot, v) in extra.iter_mut().zip(c.values()) {
                *slot = (name, v);
                n += 1;
            }
            let status = Status::new(c.kind.code(), c.kind.reason()).with(&extra[..n]);
            return replier(out).refuse_status(req, status);
        }
        Decision::Drop(reason) => return Output::Drop(reason),
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
    // The credentials our authenticator consumed are not forwarded; those
    // of other realms (a PBX's) are.
    if let Some(realm) = p.auth.consumed_realm() {
        for h in req.headers.all(HeaderName::ProxyAuthorization) {
            let ours = Credentials::parse_as(h.value, "Proxy-Authorization")
                .is_ok_and(|c| c.is_digest() && c.realm() == Some(realm));
            if ours {
                ed.remove_header(req, &h);
            }
        }
    }
    // RFC 3261 §18.2.1 and RFC 3581: received and rport on the sender's Via.
    let mark = SenderMark::of(req.raw, &ess.top_via, ess.top_via_raw, input.source);
    if let Some(range) = mark.range() {
        ed.replace_with(range, |w| mark.write(w, input.source));
    }
    // Item 3: Max-Forwards.
    let mf = ess.max_forwards.map_or(70, |m| m - 1);
    ed.set_max_forwards(req, mf);
    // §16.4: our own Route entries go.
    if ours > 0 {
        ed.remove_first_values(req, HeaderName::Route, ours);
    }
    // The Request-URI: restored from a strict router's Route, and
    // rewritten as the route says, in one replacement.
    match (restore_uri, rewrite) {
        (raw, Some(rw)) => {
            let raw = raw.unwrap_or(req.uri_raw);
            ed.replace_request_uri_with(req, |w| {
                forward::write_rewritten_uri(w, raw, effective_uri, rw)
            });
        }
        (Some(raw), None) => ed.replace_request_uri(req, raw),
        (None, None) => {}
    }
    if restore_uri.is_some() {
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
    if forward::records_route(p, req.method, to_tag) {
        ed.add_record_route_with(req, |w| {
            forward::write_record_route(w, p, input, hop, outgoing, false)
        });
    }
    // The parse framed the body by Content-Length when there is one, so a
    // present value is already right; only a missing one is added.
    if req.headers.first(HeaderName::ContentLength).is_none() {
        ed.fix_content_length(req);
    }
    if ed.apply(req.raw, out).is_err() {
        out.clear();
        return replier(out).refuse_status(req, Status::new(500, "Server Internal Error"));
    }
    Output::Forward(forward::forward_transmit(hop, outgoing))
}

/// `n` in decimal in `buf`, or nothing for `None`.
fn decimal(buf: &mut [u8; 10], n: Option<u32>) -> &[u8] {
    match n {
        Some(n) => {
            let at = writer::decimal_into(buf, u64::from(n));
            buf.get(at..).unwrap_or_default()
        }
        None => &[],
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
    Some(Replier::new(p, input, out).refuse(req, Error::TooManyHeaders))
}

/// `420 Bad Extension` naming every Proxy-Require option tag in one
/// `Unsupported` line (RFC 3261 §20.40 allows a list), so that any number
/// of tags fits in a reply; a tag that is not a token makes the request
/// malformed (`400`), and such bytes are never echoed.
#[cold]
fn refuse_extensions(replier: Replier<'_, '_>, req: &Request<'_>) -> Output {
    let mut list: SmallVec<[u8; 128]> = SmallVec::new();
    for tag in req.headers.proxy_require() {
        if !charset::is_token(tag) {
            return replier.refuse(req, Error::Invalid("Proxy-Require"));
        }
        if !list.is_empty() {
            list.extend_from_slice(b", ");
        }
        list.extend_from_slice(tag);
    }
    let extra: [(&[u8], &[u8]); 1] = [(b"Unsupported", &list)];
    replier.refuse_status(req, Status::new(420, "Bad Extension").with(&extra))
}
