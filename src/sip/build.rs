//! Builders for locally generated messages: stateless responses to a
//! received request, and requests (OPTIONS probes, load-generator traffic).
//! Each writes a whole message into a caller-owned `Vec<u8>` (cleared
//! first) and allocates nothing else. No I/O.
//!
//! Text that the caller passes for a start line or header value (reason
//! phrase, extra header values, display names) has any CR or LF turned into
//! a space, so it can never end a line early.

use super::error::Reaction;
use super::header_name::HeaderName;
use super::message::{Headers, Method, Request, Transport, MAX_HEADERS};
use super::writer::Writer;

/// Writes a stateless response to `req` into `out` (cleared first), as
/// RFC 3261 §8.2.6 describes:
///
/// ```text
/// SIP/2.0 <code> <reason>[ (<detail>)]
/// Via: ...            every Via line, in order, values as received (all in
///                     one line, comma-separated, when one line each would
///                     pass MAX_HEADERS lines)
/// From: ...
/// To: ...[;tag=<to_tag>]   the tag only when To has none and one is given
/// Call-ID: ...
/// CSeq: ...
/// <extra headers>
/// Content-Length: 0
/// ```
///
/// A header missing from `req` is skipped, so a malformed request can be
/// answered with what it has. Header names are written in their long form.
pub fn response(
    req: &Request<'_>,
    code: u16,
    reason: &str,
    detail: &str,
    to_tag: Option<&[u8]>,
    extra: &[(&[u8], &[u8])],
    out: &mut Vec<u8>,
) {
    response_to_headers(&req.headers, code, reason, detail, to_tag, extra, out);
}

/// [`response`] from the header lines alone, for a request whose
/// Request-Line could not be taken apart but whose headers were.
pub fn response_to_headers(
    headers: &Headers<'_>,
    code: u16,
    reason: &str,
    detail: &str,
    to_tag: Option<&[u8]>,
    extra: &[(&[u8], &[u8])],
    out: &mut Vec<u8>,
) {
    write_response(headers, code, reason, detail, to_tag, extra, None, out);
}

/// [`response`] with a body: `Content-Type: <content_type>` and the body's
/// Content-Length end the header section, then the body follows (e.g. the
/// SDP answer in a UAS's 200 to an INVITE).
#[allow(clippy::too_many_arguments)]
pub fn response_with_body(
    req: &Request<'_>,
    code: u16,
    reason: &str,
    to_tag: Option<&[u8]>,
    extra: &[(&[u8], &[u8])],
    content_type: &[u8],
    body: &[u8],
    out: &mut Vec<u8>,
) {
    let body = Some((content_type, body));
    write_response(&req.headers, code, reason, "", to_tag, extra, body, out);
}

#[allow(clippy::too_many_arguments)]
fn write_response(
    headers: &Headers<'_>,
    code: u16,
    reason: &str,
    detail: &str,
    to_tag: Option<&[u8]>,
    extra: &[(&[u8], &[u8])],
    body: Option<(&[u8], &[u8])>,
    out: &mut Vec<u8>,
) {
    out.clear();
    let mut w = Writer::new(out);
    w.bytes(b"SIP/2.0 ").u16(code).byte(b' ');
    text(&mut w, reason.as_bytes());
    if !detail.is_empty() {
        w.bytes(b" (");
        text(&mut w, detail.as_bytes());
        w.byte(b')');
    }
    w.bytes(b"\r\n");
    // Every line below the Vias, so that the reply never has more lines than
    // a parser (ours included) takes: a request can bring MAX_HEADERS Via
    // lines, and the reply adds its own.
    let singles = [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ];
    let below = singles
        .iter()
        .filter(|&&n| headers.first(n).is_some())
        .count()
        + extra.len()
        + if body.is_some() { 2 } else { 1 };
    if headers.all(HeaderName::Via).count() + below <= MAX_HEADERS {
        for via in headers.all(HeaderName::Via) {
            line(&mut w, b"Via", via.value);
        }
    } else {
        // One Via line holding every value, the same list (RFC 3261 §7.3.1).
        w.bytes(b"Via: ");
        let values = headers.all(HeaderName::Via).map(|v| v.value);
        for (i, v) in values.filter(|v| !v.is_empty()).enumerate() {
            if i > 0 {
                w.bytes(b", ");
            }
            w.bytes(v);
        }
        w.bytes(b"\r\n");
    }
    if let Some(from) = headers.first(HeaderName::From) {
        line(&mut w, b"From", from.value);
    }
    if let Some(to) = headers.first(HeaderName::To) {
        w.bytes(b"To: ").bytes(to.value);
        if let Some(tag) = to_tag.filter(|_| !has_tag(to.value)) {
            w.bytes(b";tag=");
            text(&mut w, tag);
        }
        w.bytes(b"\r\n");
    }
    if let Some(call_id) = headers.first(HeaderName::CallId) {
        line(&mut w, b"Call-ID", call_id.value);
    }
    if let Some(cseq) = headers.first(HeaderName::CSeq) {
        line(&mut w, b"CSeq", cseq.value);
    }
    for (name, value) in extra {
        text(&mut w, name);
        w.bytes(b": ");
        text(&mut w, value);
        w.bytes(b"\r\n");
    }
    match body {
        None => {
            w.bytes(b"Content-Length: 0\r\n\r\n");
        }
        Some((content_type, body)) => {
            w.bytes(b"Content-Type: ");
            text(&mut w, content_type);
            w.bytes(b"\r\nContent-Length: ")
                .u64(body.len() as u64)
                .bytes(b"\r\n\r\n")
                .bytes(body);
        }
    }
}

/// Writes the response a [`Reaction`] asks for (see [`response`]) and
/// returns true; for [`Reaction::Drop`] clears `out` and returns false.
pub fn reaction_response(
    req: &Request<'_>,
    reaction: Reaction,
    to_tag: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> bool {
    match reaction {
        Reaction::Reply {
            code,
            reason,
            detail,
        } => {
            response(req, code, reason, detail, to_tag, &[], out);
            true
        }
        Reaction::Drop => {
            out.clear();
            false
        }
    }
}

/// The Via a locally generated request carries:
/// `Via: SIP/2.0/<transport> <host>[:<port>];branch=<branch>[;rport]`.
#[derive(Debug, Clone, Copy)]
pub struct ViaSpec<'s> {
    /// Transport token written in the Via.
    pub transport: Transport,
    /// sent-by host: a name, an IPv4 address or a bracketed IPv6 reference.
    pub host: &'s [u8],
    /// sent-by port; none writes no port.
    pub port: Option<u16>,
    /// The whole branch, magic cookie included (`z9hG4bK...`, RFC 3261
    /// §8.1.1.7).
    pub branch: &'s [u8],
    /// Adds an empty `;rport` (RFC 3581).
    pub rport: bool,
}

/// A From or To party: `["display" ]<uri>[;tag=tag]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Party<'s> {
    /// Display name, written quoted (quotes and backslashes escaped).
    pub display: Option<&'s [u8]>,
    /// The URI, written between angle brackets.
    pub uri: &'s [u8],
    /// The tag parameter.
    pub tag: Option<&'s [u8]>,
}

/// A request to build: fill it (start from [`RequestSpec::new`]) and call
/// [`RequestSpec::write`]. The CSeq method is the request method (RFC 3261
/// §8.1.1.5) and Content-Length is always the body's length.
#[derive(Debug, Clone, Copy)]
pub struct RequestSpec<'s> {
    /// The method of the Request-Line and of CSeq.
    pub method: Method<'s>,
    /// The Request-URI.
    pub uri: &'s [u8],
    /// The single Via.
    pub via: ViaSpec<'s>,
    /// Max-Forwards (70 by default, RFC 3261 §8.1.1.6).
    pub max_forwards: u8,
    /// From (give it a tag).
    pub from: Party<'s>,
    /// To (no tag outside a dialog).
    pub to: Party<'s>,
    /// Call-ID.
    pub call_id: &'s [u8],
    /// CSeq sequence number.
    pub cseq: u32,
    /// Contact URI, written as `Contact: <uri>`.
    pub contact: Option<&'s [u8]>,
    /// More header lines, `(name, value)`, written after Contact.
    pub extra: &'s [(&'s [u8], &'s [u8])],
    /// Content-Type of the body (RFC 3261 requires one for a non-empty body).
    pub content_type: Option<&'s [u8]>,
    /// The body.
    pub body: &'s [u8],
}

impl<'s> RequestSpec<'s> {
    /// A request with Max-Forwards 70, no Contact, no extra headers and no
    /// body.
    pub fn new(
        method: Method<'s>,
        uri: &'s [u8],
        via: ViaSpec<'s>,
        from: Party<'s>,
        to: Party<'s>,
        call_id: &'s [u8],
        cseq: u32,
    ) -> RequestSpec<'s> {
        RequestSpec {
            method,
            uri,
            via,
            max_forwards: 70,
            from,
            to,
            call_id,
            cseq,
            contact: None,
            extra: &[],
            content_type: None,
            body: &[],
        }
    }

    /// Writes the request into `out` (cleared first).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.clear();
        let mut w = Writer::new(out);
        let method = self.method.as_bytes();
        w.bytes(method).byte(b' ');
        text(&mut w, self.uri);
        w.bytes(b" SIP/2.0\r\nVia: SIP/2.0/")
            .str(self.via.transport.as_str())
            .byte(b' ');
        text(&mut w, self.via.host);
        if let Some(port) = self.via.port {
            w.byte(b':').u16(port);
        }
        w.bytes(b";branch=");
        text(&mut w, self.via.branch);
        if self.via.rport {
            w.bytes(b";rport");
        }
        w.bytes(b"\r\nMax-Forwards: ")
            .u16(u16::from(self.max_forwards))
            .bytes(b"\r\n");
        party(&mut w, b"From", &self.from);
        party(&mut w, b"To", &self.to);
        w.bytes(b"Call-ID: ");
        text(&mut w, self.call_id);
        w.bytes(b"\r\nCSeq: ")
            .u32(self.cseq)
            .byte(b' ')
            .bytes(method)
            .bytes(b"\r\n");
        if let Some(contact) = self.contact {
            w.bytes(b"Contact: <");
            text(&mut w, contact);
            w.bytes(b">\r\n");
        }
        for (name, value) in self.extra {
            text(&mut w, name);
            w.bytes(b": ");
            text(&mut w, value);
            w.bytes(b"\r\n");
        }
        if let Some(content_type) = self.content_type {
            w.bytes(b"Content-Type: ");
            text(&mut w, content_type);
            w.bytes(b"\r\n");
        }
        w.bytes(b"Content-Length: ")
            .u64(self.body.len() as u64)
            .bytes(b"\r\n\r\n")
            .bytes(self.body);
    }
}

/// `Name: value` CR LF with a value taken from a parsed message (which
/// cannot hold a bare line break outside folding).
fn line(w: &mut Writer<'_>, name: &[u8], value: &[u8]) {
    w.bytes(name).bytes(b": ").bytes(value).bytes(b"\r\n");
}

fn party(w: &mut Writer<'_>, name: &[u8], p: &Party<'_>) {
    w.bytes(name).bytes(b": ");
    if let Some(display) = p.display {
        w.byte(b'"');
        for &b in display {
            match b {
                b'"' | b'\\' => {
                    w.byte(b'\\').byte(b);
                }
                b'\r' | b'\n' => {
                    w.byte(b' ');
                }
                _ => {
                    w.byte(b);
                }
            }
        }
        w.bytes(b"\" ");
    }
    w.byte(b'<');
    text(w, p.uri);
    w.byte(b'>');
    if let Some(tag) = p.tag {
        w.bytes(b";tag=");
        text(w, tag);
    }
    w.bytes(b"\r\n");
}

/// Appends caller text with CR and LF turned into spaces.
fn text(w: &mut Writer<'_>, s: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', s).is_none() {
        w.bytes(s);
        return;
    }
    for &b in s {
        w.byte(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
}

/// True when a From/To value has a `tag` header parameter. Parameters start
/// after the closing `>` of a name-addr, or at the first `;` of a bare
/// addr-spec (RFC 3261 §20.10: such parameters belong to the header);
/// quoted strings are skipped.
fn has_tag(value: &[u8]) -> bool {
    let mut i = 0;
    let mut params = None;
    while i < value.len() {
        match value[i] {
            b'"' => i = skip_quoted(value, i + 1),
            b'<' => {
                params = memchr::memchr(b'>', &value[i..]).map(|j| i + j + 1);
                break;
            }
            b';' => {
                params = Some(i);
                break;
            }
            _ => i += 1,
        }
    }
    let Some(mut i) = params else {
        return false;
    };
    while i < value.len() {
        // `i` is at or before a ';' that opens a parameter.
        match memchr::memchr(b';', &value[i..]) {
            None => return false,
            Some(j) => i += j + 1,
        }
        let rest = &value[i..];
        let name_end = rest
            .iter()
            .position(|&b| matches!(b, b'=' | b';'))
            .unwrap_or(rest.len());
        if super::charset::trim(&rest[..name_end]).eq_ignore_ascii_case(b"tag") {
            return true;
        }
        // Skip a quoted parameter value so a ';' inside it is not a separator.
        let mut k = name_end;
        while k < rest.len() && rest[k] != b';' {
            k = if rest[k] == b'"' {
                skip_quoted(rest, k + 1)
            } else {
                k + 1
            };
        }
        i += k;
    }
    false
}

/// Index just past the closing quote of a quoted string whose content
/// starts at `i` (or the end of `s`).
fn skip_quoted(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Header;

    /// Header lines from `Name: value` CR LF text; offsets are not needed
    /// by the response builder.
    fn headers(raw: &[u8]) -> Headers<'_> {
        let mut hs = Headers::new(raw);
        let mut start = 0;
        for line in raw.split(|&b| b == b'\n') {
            let end = start + line.len() + 1;
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                hs.push(Header {
                    name: HeaderName::from_bytes(super::super::charset::trim(&line[..colon])),
                    value: super::super::charset::trim(&line[colon + 1..]),
                    start: start as u32,
                    end: end as u32,
                })
                .unwrap();
            }
            start = end;
        }
        hs
    }

    fn req<'a>(hs: Headers<'a>) -> Request<'a> {
        Request {
            method: Method::Invite,
            uri_raw: b"sip:b@h",
            headers: hs,
            body: b"",
            raw: b"",
        }
    }

    #[test]
    fn response_with_body_ends_with_type_length_and_body() {
        let raw = b"Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=9\r\n\
To: <sip:b@h>\r\nCall-ID: id1\r\nCSeq: 1 INVITE\r\n";
        let r = req(headers(raw));
        let mut out = Vec::new();
        response_with_body(
            &r,
            200,
            "OK",
            Some(b"t1"),
            &[(b"Contact", b"<sip:b@1.2.3.4>")],
            b"application/sdp",
            b"v=0\r\n",
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
From: <sip:a@h>;tag=9\r\nTo: <sip:b@h>;tag=t1\r\nCall-ID: id1\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:b@1.2.3.4>\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
        );
        match crate::sip::parse(&out) {
            Ok(crate::sip::Message::Response(resp)) => assert_eq!(resp.body, b"v=0\r\n"),
            other => panic!("{other:?}"),
        };
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let raw = b"Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
v: SIP/2.0/UDP b;branch=z9hG4bK2, SIP/2.0/UDP c;branch=z9hG4bK3\r\n\
f: \"A\" <sip:a@h>;tag=9\r\nt: <sip:b@h>\r\ni: id1\r\nCSeq: 4 INVITE\r\n\
Contact: <sip:a@1.2.3.4>\r\n";
        let r = req(headers(raw));
        let mut out = Vec::new();
        response(
            &r,
            404,
            "Not Found",
            "",
            Some(b"abc"),
            &[(b"Server", b"branchline")],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SIP/2.0 404 Not Found\r\n\
Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
Via: SIP/2.0/UDP b;branch=z9hG4bK2, SIP/2.0/UDP c;branch=z9hG4bK3\r\n\
From: \"A\" <sip:a@h>;tag=9\r\nTo: <sip:b@h>;tag=abc\r\nCall-ID: id1\r\nCSeq: 4 INVITE\r\n\
Server: branchline\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn response_keeps_existing_tag_and_skips_missing_headers() {
        let r = req(headers(b"To: sip:b@h ; TAG = x\r\nCSeq: 1 BYE\r\n"));
        let mut out = b"old".to_vec();
        response(
            &r,
            400,
            "Bad Request",
            "Missing Call-ID",
            Some(b"t"),
            &[],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SIP/2.0 400 Bad Request (Missing Call-ID)\r\nTo: sip:b@h ; TAG = x\r\n\
CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn reaction_and_injection_guard() {
        let r = req(headers(b"i: x\r\n"));
        let mut out = Vec::new();
        assert!(reaction_response(
            &r,
            Reaction::Reply {
                code: 513,
                reason: "Message Too Large",
                detail: "Too Many Headers"
            },
            None,
            &mut out
        ));
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "SIP/2.0 513 Message Too Large (Too Many Headers)\r\nCall-ID: x\r\n\
Content-Length: 0\r\n\r\n"
        );
        assert!(!reaction_response(&r, Reaction::Drop, None, &mut out));
        assert!(out.is_empty());
        response(
            &r,
            500,
            "Oops\r\nX: y",
            "",
            None,
            &[(b"A", b"1\n2")],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SIP/2.0 500 Oops  X: y\r\nCall-ID: x\r\nA: 1 2\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn tag_detection() {
        assert!(has_tag(b"<sip:a@h>;tag=1"));
        assert!(has_tag(b"sip:a@h;foo;tag=1"));
        assert!(has_tag(b"\"x;tag=no\" <sip:a@h> ; tag = 2"));
        assert!(!has_tag(b"<sip:a@h;tag=inside-uri>"));
        assert!(!has_tag(b"\"<;tag=1>\" <sip:a@h>"));
        assert!(!has_tag(b"<sip:a@h>;p=\";tag=1\""));
        assert!(!has_tag(b"<sip:a@h>;tagx=1"));
        assert!(!has_tag(b"sip:a@h"));
        assert!(!has_tag(b"\"unterminated"));
        assert!(!has_tag(b"<sip:unterminated;tag=1"));
    }

    #[test]
    fn request_builder_exact_bytes() {
        let extra: &[(&[u8], &[u8])] = &[(b"User-Agent", b"branchline-bench")];
        let mut spec = RequestSpec::new(
            Method::Invite,
            b"sip:+15551234567@192.0.2.10:5060",
            ViaSpec {
                transport: Transport::Udp,
                host: b"192.0.2.1",
                port: Some(5070),
                branch: b"z9hG4bK-1-0",
                rport: true,
            },
            Party {
                display: Some(b"Load \"Gen\""),
                uri: b"sip:gen@192.0.2.1",
                tag: Some(b"f1"),
            },
            Party {
                uri: b"sip:+15551234567@example.com",
                ..Party::default()
            },
            b"call-1@192.0.2.1",
            1,
        );
        spec.contact = Some(b"sip:gen@192.0.2.1:5070");
        spec.extra = extra;
        spec.content_type = Some(b"application/sdp");
        spec.body = b"v=0\r\n";
        let mut out = Vec::new();
        spec.write(&mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "INVITE sip:+15551234567@192.0.2.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK-1-0;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Load \\\"Gen\\\"\" <sip:gen@192.0.2.1>;tag=f1\r\n\
To: <sip:+15551234567@example.com>\r\n\
Call-ID: call-1@192.0.2.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:gen@192.0.2.1:5070>\r\n\
User-Agent: branchline-bench\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 5\r\n\
\r\n\
v=0\r\n"
        );

        let probe = RequestSpec::new(
            Method::Options,
            b"sip:10.0.0.2:5060",
            ViaSpec {
                transport: Transport::Tcp,
                host: b"[2001:db8::1]",
                port: None,
                branch: b"z9hG4bKp",
                rport: false,
            },
            Party {
                uri: b"sip:ping@proxy",
                tag: Some(b"t"),
                ..Party::default()
            },
            Party {
                uri: b"sip:10.0.0.2:5060",
                ..Party::default()
            },
            b"p1",
            42,
        );
        probe.write(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "OPTIONS sip:10.0.0.2:5060 SIP/2.0\r\n\
Via: SIP/2.0/TCP [2001:db8::1];branch=z9hG4bKp\r\n\
Max-Forwards: 70\r\n\
From: <sip:ping@proxy>;tag=t\r\n\
To: <sip:10.0.0.2:5060>\r\n\
Call-ID: p1\r\n\
CSeq: 42 OPTIONS\r\n\
Content-Length: 0\r\n\
\r\n"
        );
    }
}
