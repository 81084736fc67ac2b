//! Checks shared by the robustness test, the fuzz-corpus regression test and
//! the cargo-fuzz targets (which include this file with `#[path]`).
//!
//! [`check_parse`] runs bytes through everything a proxy may call on them:
//! `parse`, `validate_request`, every typed accessor and every view's
//! helpers, plus `scan_headers` and `frame_stream`. Nothing may panic, and
//! the zero-copy views must lie inside the input.
//!
//! [`check_edit_round_trip`] parses, applies the proxy's forwarding edits
//! (requests) or the response-relaying edit (responses), parses the output
//! again and compares: the output parses, the start line, the body and every
//! header line the edits did not touch are byte-identical and in order, the
//! new Via is on top, Max-Forwards is decremented, the top Route is gone and
//! the new Record-Route is on top.

#![allow(dead_code)]

use std::net::Ipv4Addr;

use branchline::sip::{
    self,
    credentials::{Challenge, Credentials},
    edit::Editor,
    name_addr::{Contact, NameAddr},
    uri::{Host, Params, Uri},
    via::Via,
    Error, HeaderName, Headers, Message, Request, MAX_HEADERS,
};

/// The branch of the Via the round trip inserts.
pub const OUR_VIA: &[u8] = b"SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKbl.0.305419896";
/// The Record-Route value the round trip adds.
pub const OUR_RR: &[u8] = b"<sip:198.51.100.1:5060;lr>";

/// Header names the edits may change; every other line must survive.
const TOUCHED: [HeaderName<'static>; 5] = [
    HeaderName::Via,
    HeaderName::MaxForwards,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::ContentLength,
];

/// Parses `data` and exercises every view. Panics only on a broken
/// invariant (a view outside the input); the caller catches panics.
pub fn check_parse(data: &[u8]) {
    let _ = sip::frame_stream(data, 65_535);
    touch_headers(data, &sip::scan_headers(data));
    let msg = match sip::parse(data) {
        Ok(m) => m,
        Err(e) => {
            touch_error(e);
            return;
        }
    };
    let raw = msg.raw();
    assert!(sip::offset_in(data, raw).is_some(), "raw outside the input");
    assert!(raw.ends_with(msg.body()), "body is not the tail of raw");
    assert!(
        sip::offset_in(raw, msg.body()).is_some(),
        "body outside raw"
    );
    touch_headers(raw, msg.headers());
    match &msg {
        Message::Request(req) => touch_request(req),
        Message::Response(resp) => {
            assert!((100..=699).contains(&resp.code), "status code range");
            assert!(sip::offset_in(raw, resp.reason).is_some() || resp.reason.is_empty());
        }
    }
}

fn touch_error(e: Error) {
    let _ = e.reaction(true);
    let _ = e.reaction(false);
    let _ = e.to_string();
}

fn touch_request(req: &Request<'_>) {
    assert!(
        sip::offset_in(req.raw, req.uri_raw).is_some(),
        "URI outside raw"
    );
    let _ = req.method.as_bytes();
    if let Ok(u) = req.uri() {
        touch_uri(&u);
    }
    match sip::validate_request(req) {
        Ok(e) => {
            touch_via(&e.top_via);
            touch_name_addr(&e.from);
            touch_name_addr(&e.to);
            assert!(
                sip::offset_in(req.raw, e.call_id).is_some(),
                "Call-ID outside raw"
            );
        }
        Err(e) => touch_error(e),
    }
    if let Err(e) = sip::check_request_uri(req) {
        touch_error(e);
    }
    if let Err(e) = sip::essentials(req) {
        touch_error(e);
    }
}

/// Every accessor on a header list whose offsets refer to `raw`.
fn touch_headers(raw: &[u8], h: &Headers<'_>) {
    assert!(h.len() <= MAX_HEADERS);
    for line in h.iter() {
        let (start, end) = (line.start as usize, line.end as usize);
        assert!(start < end && end <= raw.len(), "line offsets out of range");
        let bytes = &raw[start..end];
        assert!(
            line.value.is_empty() || sip::offset_in(bytes, line.value).is_some(),
            "header value outside its line"
        );
        let _ = line.name.as_static();
        let _ = line.name.as_bytes();
        for v in line.values() {
            assert!(
                sip::offset_in(bytes, v).is_some(),
                "split value outside its line"
            );
        }
        match line.name {
            HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate => {
                if let Ok(c) = Challenge::parse_as(line.value, "WWW-Authenticate") {
                    touch_challenge(&c);
                }
            }
            HeaderName::Authorization | HeaderName::ProxyAuthorization => {
                if let Ok(c) = Credentials::parse(line.value) {
                    touch_credentials(&c);
                }
            }
            _ => {}
        }
    }
    for v in h.vias().flatten() {
        touch_via(&v);
    }
    if let Ok(v) = h.top_via() {
        touch_via(&v);
    }
    let _ = h.call_id();
    let _ = h.cseq().map(|c| c.method.as_bytes());
    if let Ok(a) = h.from() {
        touch_name_addr(&a);
    }
    if let Ok(a) = h.to() {
        touch_name_addr(&a);
    }
    let _ = h.max_forwards();
    for r in h.routes().chain(h.record_routes()).flatten() {
        touch_name_addr(&r);
    }
    for c in h.contacts().flatten() {
        let _ = (c.expires(), c.q());
        if let Contact::Addr(a) = c {
            touch_name_addr(&a);
        }
    }
    let _ = h.content_length();
    let _ = h
        .require()
        .chain(h.proxy_require())
        .chain(h.supported())
        .count();
    for c in h
        .authorization()
        .into_iter()
        .chain(h.proxy_authorization())
        .chain(h.proxy_authorizations())
        .flatten()
    {
        touch_credentials(&c);
    }
    let _ = h.expires();
    let _ = h.user_agent();
}

fn touch_via(v: &Via<'_>) {
    let _ = (v.sent_by_port(), v.has_magic_cookie(), v.transport.as_str());
    touch_host(&v.host);
    touch_params(&v.params);
}

fn touch_name_addr(a: &NameAddr<'_>) {
    touch_uri(&a.uri);
    touch_params(&a.params);
    let _ = (a.tag, a.param(b"tag"), a.sip_uri());
}

fn touch_uri(u: &Uri<'_>) {
    let _ = u.scheme();
    match u {
        Uri::Sip(s) => {
            touch_host(&s.host);
            touch_params(&s.params);
            let _ = (s.transport(), s.lr(), s.maddr(), s.user_param());
            let mut user = Vec::new();
            s.decode_user(&mut user);
            assert!(user.len() <= s.user.map_or(0, <[u8]>::len));
        }
        Uri::Tel(t) => touch_params(&t.params),
        Uri::Absolute { .. } => {}
    }
}

fn touch_host(h: &Host<'_>) {
    let _ = h.ip();
    assert!(h.eq_ignore_case(h), "a host equals itself");
}

fn touch_params(p: &Params<'_>) {
    for param in p.iter() {
        let _ = param.unquoted();
    }
    let _ = (p.is_empty(), p.get(b"branch"), p.get(b"lr"));
}

fn touch_credentials(c: &Credentials<'_>) {
    let _ = c.iter().count();
    let _ = (c.is_digest(), c.username(), c.realm(), c.nonce(), c.uri());
    let _ = (c.response(), c.algorithm(), c.cnonce(), c.nc(), c.qop());
    let _ = c.opaque();
}

fn touch_challenge(c: &Challenge<'_>) {
    let _ = c.iter().count();
    let _ = (
        c.is_digest(),
        c.realm(),
        c.nonce(),
        c.opaque(),
        c.algorithm(),
    );
    let _ = (c.qop(), c.domain(), c.stale());
}

/// Parses `data`; when it is a message, applies the proxy's edits with `ed`
/// into `out`, parses the result and checks it (see the module docs).
/// Panics with a message naming the broken property.
pub fn check_edit_round_trip(data: &[u8], ed: &mut Editor, out: &mut Vec<u8>) {
    let Ok(before) = sip::parse(data) else {
        return;
    };
    let added = match &before {
        Message::Request(_) => forward(ed, &before, out),
        Message::Response(_) => relay(ed, &before, out),
    };
    let after = match sip::parse(out) {
        Ok(m) => m,
        // The output may exceed the header limit the input just met.
        Err(Error::TooManyHeaders) if before.headers().len() + added > MAX_HEADERS => return,
        Err(e) => panic!(
            "edited message does not parse: {e:?}\n{}",
            String::from_utf8_lossy(out)
        ),
    };
    assert_eq!(after.is_request(), before.is_request(), "kind changed");
    assert_eq!(after.raw(), &out[..], "output has bytes after the body");
    assert_eq!(after.body(), before.body(), "body changed");
    assert_eq!(
        start_line(after.raw()),
        start_line(before.raw()),
        "start line changed"
    );
    assert_eq!(
        untouched_lines(&after),
        untouched_lines(&before),
        "untouched header lines changed"
    );
    // Equal duplicate Content-Length lines parse; the accessor calls them
    // a Duplicate, and the editor fixes only the first.
    if before.headers().all(HeaderName::ContentLength).count() <= 1 {
        assert_eq!(
            after.headers().content_length(),
            Ok(Some(before.body().len() as u32)),
            "Content-Length does not match the body"
        );
    }
    let (b, a) = (before.headers(), after.headers());
    let via_b: Vec<&[u8]> = b.values(HeaderName::Via).collect();
    let via_a: Vec<&[u8]> = a.values(HeaderName::Via).collect();
    match &before {
        Message::Request(_) => {
            assert_eq!(
                via_a.first().copied(),
                Some(OUR_VIA),
                "new Via is not on top"
            );
            assert_eq!(via_a[1..], via_b[..], "older Vias changed");
            let top = a.top_via().expect("our Via parses");
            assert_eq!(top.branch, Some(&b"z9hG4bKbl.0.305419896"[..]));
            if let Ok(mf) = b.max_forwards() {
                let want = mf.map_or(70, |m| m.0.saturating_sub(1));
                assert_eq!(
                    a.max_forwards().map(|m| m.map(|m| m.0)),
                    Ok(Some(want)),
                    "Max-Forwards not decremented"
                );
            }
            let route_b: Vec<&[u8]> = b.values(HeaderName::Route).collect();
            let route_a: Vec<&[u8]> = a.values(HeaderName::Route).collect();
            assert_eq!(
                route_a[..],
                route_b[route_b.len().min(1)..],
                "top Route not removed"
            );
            let rr_b: Vec<&[u8]> = b.values(HeaderName::RecordRoute).collect();
            let rr_a: Vec<&[u8]> = a.values(HeaderName::RecordRoute).collect();
            assert_eq!(
                rr_a.first().copied(),
                Some(OUR_RR),
                "Record-Route not on top"
            );
            assert_eq!(rr_a[1..], rr_b[..], "older Record-Routes changed");
        }
        Message::Response(_) => {
            assert_eq!(
                via_a[..],
                via_b[via_b.len().min(1)..],
                "top Via not removed"
            );
        }
    }
}

/// RFC 3261 §16.6: new top Via, Max-Forwards decremented (70 when absent),
/// Record-Route added, top Route removed, Content-Length fixed. Returns how
/// many header lines the edits may add.
fn forward(ed: &mut Editor, msg: &Message<'_>, out: &mut Vec<u8>) -> usize {
    ed.insert_via(msg, |w| {
        w.bytes(b"SIP/2.0/UDP ")
            .ipv4(Ipv4Addr::new(198, 51, 100, 1))
            .bytes(b":5060;branch=z9hG4bKbl.0.")
            .u64(0x1234_5678);
    });
    // A duplicate or malformed Max-Forwards is left alone (the proxy
    // rejects such a request before editing it).
    if let Ok(mf) = msg.headers().max_forwards() {
        ed.set_max_forwards(msg, mf.map_or(70, |m| m.0.saturating_sub(1)));
    }
    ed.add_record_route(msg, b"sip:198.51.100.1:5060;lr");
    ed.remove_first_value(msg, HeaderName::Route);
    ed.fix_content_length(msg);
    ed.apply(msg.raw(), out)
        .expect("edits of a parsed message apply");
    4
}

/// RFC 3261 §16.7 item 3: the top Via removed, Content-Length fixed.
fn relay(ed: &mut Editor, msg: &Message<'_>, out: &mut Vec<u8>) -> usize {
    ed.remove_first_value(msg, HeaderName::Via);
    ed.fix_content_length(msg);
    ed.apply(msg.raw(), out)
        .expect("edits of a parsed message apply");
    1
}

fn start_line(raw: &[u8]) -> &[u8] {
    let end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    &raw[..end]
}

fn untouched_lines<'a>(msg: &Message<'a>) -> Vec<&'a [u8]> {
    let raw = msg.raw();
    msg.headers()
        .iter()
        .filter(|h| !TOUCHED.contains(&h.name))
        .map(|h| &raw[h.start as usize..h.end as usize])
        .collect()
}

/// Runs both checks on one input, for the fuzz corpus test and the
/// robustness test.
pub fn check_all(data: &[u8], ed: &mut Editor, out: &mut Vec<u8>) {
    check_parse(data);
    check_edit_round_trip(data, ed, out);
}
