//! `Proxy::handle` driven directly: exact output bytes for each rule of
//! RFC 3261 §16 that the proxy implements.

use std::net::SocketAddr;
use std::sync::Arc;

use super::*;
use crate::auth::{AuthContext, Verdict};
use crate::route::{Table, Upstream};
use crate::sip::Request;

const KEY: Key = Key::new(0x0102_0304_0506_0708, 0x1112_1314_1516_1718);

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub(super) fn proxy_with(f: impl FnOnce(&mut Config)) -> Proxy {
    let mut c = Config::new(
        vec![
            Listener {
                transport: Transport::Udp,
                addr: addr("192.0.2.10:5060"),
                advertise: None,
            },
            Listener {
                transport: Transport::Tcp,
                addr: addr("192.0.2.10:5060"),
                advertise: None,
            },
            Listener {
                transport: Transport::Udp,
                addr: addr("[2001:db8::10]:5060"),
                advertise: None,
            },
        ],
        KEY,
    );
    c.aliases = vec!["proxy.example.com".into()];
    f(&mut c);
    Proxy::new(c).unwrap()
}

fn proxy() -> Proxy {
    proxy_with(|_| {})
}

pub(super) fn table(ups: &[(&str, Transport)]) -> Table {
    Table::from_upstreams(ups.iter().map(|(a, t)| Upstream {
        addr: addr(a),
        transport: *t,
        weight: 1,
    }))
    .unwrap()
}

fn one_upstream() -> Table {
    table(&[("192.0.2.50:5060", Transport::Udp)])
}

pub(super) fn udp_input(data: &[u8]) -> Input<'_> {
    Input {
        data,
        source: addr("198.51.100.7:5062"),
        local: addr("192.0.2.10:5060"),
        transport: Transport::Udp,
        conn: None,
        now: 1_700_000_000,
    }
}

fn run(p: &Proxy, t: &Table, input: &Input<'_>) -> (Output, String) {
    let mut out = Vec::new();
    let o = p.handle(input, t, &mut Scratch::new(), &mut out);
    (o, String::from_utf8(out).unwrap())
}

const INVITE: &str = "INVITE sip:bob@proxy.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5062>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn fwd(o: Output) -> Transmit {
    match o {
        Output::Forward(t) => t,
        other => panic!("expected Forward, got {other:?}"),
    }
}

fn reply_of(o: Output) -> Transmit {
    match o {
        Output::Reply(t) => t,
        other => panic!("expected Reply, got {other:?}"),
    }
}

/// The branch we add, read back from the first Via of `out`.
fn our_branch(out: &str) -> &str {
    let via = out.lines().nth(1).unwrap();
    let i = via.find("branch=").unwrap() + 7;
    &via[i..i + branch::BRANCH_LEN]
}

#[test]
fn forwards_invite_with_via_rr_and_decremented_max_forwards() {
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(INVITE.as_bytes()));
    let t = fwd(o);
    assert_eq!(t.dest, addr("192.0.2.50:5060"));
    assert_eq!(t.transport, Transport::Udp);
    assert_eq!(t.from, Some(addr("192.0.2.10:5060")));
    let b = our_branch(&out).to_string();
    let expected = format!(
        "INVITE sip:bob@proxy.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch={b}\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Record-Route: <sip:192.0.2.10:5060;transport=udp;lr>\r\n\
Max-Forwards: 69\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@198.51.100.7:5062>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n"
    );
    assert_eq!(out, expected);
    // The branch is pinned: the same key gives the same value on every
    // worker, restart and node.
    assert_eq!(b, GOLDEN_INVITE_BRANCH);
}

const GOLDEN_INVITE_BRANCH: &str = "z9hG4bK31597ca01cd5c45a.df285b6d";

#[test]
fn record_route_can_be_switched_off() {
    let p = proxy_with(|c| c.record_route = false);
    let (_, out) = run(&p, &one_upstream(), &udp_input(INVITE.as_bytes()));
    assert!(!out.contains("Record-Route"));
}

#[test]
fn missing_max_forwards_gets_70() {
    let m = INVITE.replace("Max-Forwards: 70\r\n", "");
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    fwd(o);
    assert!(out.contains("\r\nMax-Forwards: 70\r\n"), "{out}");
}

#[test]
fn malformed_gets_400_naming_the_fault_with_stable_to_tag() {
    let m = INVITE.replace("Call-ID: a84b4c76e66710@pc33.example.com\r\n", "");
    let p = proxy();
    let (o, out) = run(&p, &one_upstream(), &udp_input(m.as_bytes()));
    let t = reply_of(o);
    // No rport and the sent-by is the source: the Via is copied as is, and
    // the reply goes back to the source IP at the sent-by port.
    assert_eq!(t.dest, addr("198.51.100.7:5062"));
    let tag = branch::local_tag(
        KEY,
        b"SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds",
        b"",
        b"Alice <sip:alice@example.com>;tag=1928301774",
        b"314159 INVITE",
    );
    let tag = core::str::from_utf8(&tag).unwrap();
    assert_eq!(
        out,
        format!(
            "SIP/2.0 400 Bad Request (Missing Call-ID)\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@example.com>;tag={tag}\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n"
        )
    );
    // A retransmission gets byte-identical bytes.
    let (_, again) = run(&p, &one_upstream(), &udp_input(m.as_bytes()));
    assert_eq!(again, out);
}

fn status_line(out: &str) -> &str {
    out.lines().next().unwrap()
}

#[test]
fn validation_status_codes() {
    let p = proxy();
    let t = one_upstream();
    let cases: Vec<(String, &str)> = vec![
        (
            INVITE.replace(
                "INVITE sip:bob@proxy.example.com",
                "INVITE http://example.com/x",
            ),
            "SIP/2.0 416 Unsupported URI Scheme",
        ),
        (
            INVITE.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"),
            "SIP/2.0 505 Version Not Supported",
        ),
        (
            INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0"),
            "SIP/2.0 483 Too Many Hops",
        ),
        (
            INVITE.replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE"),
            "SIP/2.0 400 Bad Request (CSeq Method Mismatch)",
        ),
        (
            INVITE.replace("Content-Length: 4", "Content-Length: 40"),
            "SIP/2.0 400 Bad Request (Content-Length Exceeds Message)",
        ),
        (
            INVITE.replace(
                "INVITE sip:bob@proxy.example.com",
                "INVITE sip:bob@proxy.example.com?Subject=x",
            ),
            "SIP/2.0 400 Bad Request (Malformed Request-URI)",
        ),
        // The tags are read and checked; the addresses around them are not
        // (see `faults_in_from_and_to_addresses_are_forwarded_unchanged`).
        (
            INVITE.replace(";tag=1928301774", ";tag"),
            "SIP/2.0 400 Bad Request (Invalid From)",
        ),
        (
            INVITE.replace(
                "To: Bob <sip:bob@example.com>",
                "To: Bob <sip:bob@example.com",
            ),
            "SIP/2.0 400 Bad Request (Invalid To)",
        ),
    ];
    for (m, want) in cases {
        let (o, out) = run(&p, &t, &udp_input(m.as_bytes()));
        reply_of(o);
        assert_eq!(status_line(&out), want, "for {m}");
    }
}

/// RFC 3261 §16.3 item 1: parts the proxy does not use are forwarded as
/// received, well-formed or not. Spaces inside To's `<...>` (RFC 4475
/// §3.1.2.14) and an unquoted display name with a comma in From
/// (§3.1.2.15).
#[test]
fn faults_in_from_and_to_addresses_are_forwarded_unchanged() {
    let from = "From: Bell, Alexander <sip:a.g.bell@example.com>;tag=433423\r\n";
    let to = "To: \"Watson, Thomas\" < sip:t.watson@example.org >\r\n";
    let m = INVITE
        .replace(
            "From: Alice <sip:alice@example.com>;tag=1928301774\r\n",
            from,
        )
        .replace("To: Bob <sip:bob@example.com>\r\n", to);
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    fwd(o);
    assert!(out.contains(&format!("\r\n{to}{from}")), "{out}");
}

#[test]
fn oversized_gets_513() {
    let p = proxy_with(|c| c.max_message_size = 200);
    let (o, out) = run(&p, &one_upstream(), &udp_input(INVITE.as_bytes()));
    reply_of(o);
    assert_eq!(status_line(&out), "SIP/2.0 513 Message Too Large");
}

/// The reply to the test INVITE with `lines` added below Max-Forwards.
fn reply_with_lines(lines: &str) -> String {
    let m = INVITE.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{lines}"),
    );
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    reply_of(o);
    out
}

#[test]
fn proxy_require_gets_420_with_unsupported() {
    let out = reply_with_lines("Proxy-Require: foo, bar\r\n");
    assert_eq!(status_line(&out), "SIP/2.0 420 Bad Extension");
    assert!(out.contains("\r\nUnsupported: foo, bar\r\n"), "{out}");
    assert_eq!(out.matches("Unsupported:").count(), 1, "{out}");
}

#[test]
fn many_proxy_require_tags_fit_in_one_unsupported_line() {
    // One Unsupported line per tag would pass the header-line limit and
    // make a reply that does not parse.
    let tags: Vec<String> = (0..100).map(|i| format!("ext{i}")).collect();
    let lines: String = tags
        .chunks(10)
        .map(|c| format!("Proxy-Require: {}\r\n", c.join(",")))
        .collect();
    let out = reply_with_lines(&lines);
    assert_eq!(status_line(&out), "SIP/2.0 420 Bad Extension");
    let want = format!("\r\nUnsupported: {}\r\n", tags.join(", "));
    assert!(out.contains(&want), "{out}");
    assert!(sip::parse(out.as_bytes()).is_ok(), "{out}");
}

#[test]
fn proxy_require_with_a_non_token_tag_gets_400() {
    let out = reply_with_lines("Proxy-Require: foo, b/r\r\n");
    assert_eq!(
        status_line(&out),
        "SIP/2.0 400 Bad Request (Invalid Proxy-Require)"
    );
    assert!(!out.contains("Unsupported"), "{out}");
    assert!(!out.contains("b/r"), "{out}");
}

/// A control byte in the header section (NUL, the others below 0x20 but
/// tab) gets a 400 that names it, and is never copied into the reply;
/// a line with one may sit before or after the lines the reply copies. A
/// tab is white space and passes; so does any byte in the body.
#[test]
fn control_bytes_in_headers_get_400_and_are_not_echoed() {
    for b in [0x00u8, 0x01, 0x0B, 0x0C, 0x1F] {
        let c = char::from(b);
        for m in [
            INVITE.replace(
                "Max-Forwards: 70\r\n",
                &format!("Max-Forwards: 70\r\nX-A: a{c}b\r\n"),
            ),
            INVITE.replace("Content-Type:", &format!("X-B: {c}\r\nContent-Type:")),
            INVITE.replace(
                "<sip:alice@example.com>",
                &format!("<sip:alice@example.com{c}>"),
            ),
        ] {
            let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
            reply_of(o);
            assert_eq!(
                status_line(&out),
                "SIP/2.0 400 Bad Request (Control Character in Header)",
                "byte {b:#04x}"
            );
            assert!(!out.contains(c), "byte {b:#04x}: {out:?}");
        }
    }
    // Escaped, as in a quoted-pair (RFC 4475 §3.1.1.2), a control byte
    // passes.
    let quoted = INVITE.replace("To: Bob", "To: \"B\\\x00b\"");
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(quoted.as_bytes()));
    fwd(o);
    assert!(out.contains("\r\nTo: \"B\\\x00b\" <sip:bob"), "{out:?}");
    let tab = INVITE.replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nX-A: a\tb\r\n");
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(tab.as_bytes()));
    fwd(o);
    assert!(out.contains("\r\nX-A: a\tb\r\n"), "{out}");
    let body = INVITE.replace("v=0\n", "v\x00\x7f\n");
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(body.as_bytes()));
    fwd(o);
    assert!(out.ends_with("\r\n\r\nv\x00\x7f\n"), "{out:?}");
}

const OPTIONS_TO_US: &str = "OPTIONS sip:192.0.2.10 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKping1;rport\r\n\
Max-Forwards: 0\r\n\
To: <sip:192.0.2.10>\r\n\
From: <sip:monitor@example.com>;tag=99\r\n\
Call-ID: ping-1\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

/// The test INVITE padded with `X-Pad` lines to `lines` header lines.
fn invite_with_lines(lines: usize) -> String {
    let have = sip::parse(INVITE.as_bytes()).unwrap().headers().len();
    let pad: String = (have..lines).map(|i| format!("X-Pad: {i}\r\n")).collect();
    INVITE.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{pad}"),
    )
}

#[test]
fn a_request_is_refused_rather_than_forwarded_past_the_line_limit() {
    // Our Via and Record-Route add two lines: 62 + 2 fit, 63 + 2 do not.
    let fits = invite_with_lines(sip::MAX_HEADERS - 2);
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(fits.as_bytes()));
    assert!(matches!(o, Output::Forward(_)), "{o:?}");
    let fwd = sip::parse(out.as_bytes()).expect("the forwarded request parses");
    assert_eq!(fwd.headers().len(), sip::MAX_HEADERS);

    let over = invite_with_lines(sip::MAX_HEADERS - 1);
    assert!(sip::parse(over.as_bytes()).is_ok());
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(over.as_bytes()));
    reply_of(o);
    assert_eq!(
        status_line(&out),
        "SIP/2.0 513 Message Too Large (Too Many Headers)"
    );
    assert!(sip::parse(out.as_bytes()).is_ok(), "{out}");
}

/// `OPTIONS_TO_US` with `n` more Via lines below its own.
fn options_with_vias(n: usize) -> (String, Vec<String>) {
    let extra: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "SIP/2.0/UDP 10.0.{}.{};branch=z9hG4bKhop{i}",
                i / 200,
                i % 200
            )
        })
        .collect();
    let lines: String = extra.iter().map(|v| format!("Via: {v}\r\n")).collect();
    let m = OPTIONS_TO_US.replacen("rport\r\n", &format!("rport\r\n{lines}"), 1);
    (m, extra)
}

#[test]
fn a_reply_to_many_vias_keeps_them_all_and_still_parses() {
    // 58 Via lines make a 64-line request; one Via line each, the 200 (with
    // Allow, Supported and Content-Length) would have 65.
    let (m, extra) = options_with_vias(57);
    assert!(sip::parse(m.as_bytes()).is_ok());
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    reply_of(o);
    assert_eq!(status_line(&out), "SIP/2.0 200 OK");
    let want = format!(
        "\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKping1;received=198.51.100.7;rport=5062, {}\r\n",
        extra.join(", ")
    );
    assert!(out.contains(&want), "{out}");
    assert_eq!(out.matches("Via:").count(), 1, "{out}");
    let reply = sip::parse(out.as_bytes()).expect("the reply parses");
    assert_eq!(reply.headers().vias().count(), 58);

    // Too many lines to parse: the 513 salvages what it can and parses too.
    let (m, _) = options_with_vias(80);
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    reply_of(o);
    assert!(status_line(&out).starts_with("SIP/2.0 513 "), "{out}");
    assert!(sip::parse(out.as_bytes()).is_ok(), "{out}");

    // Few Vias keep a line each.
    let (m, _) = options_with_vias(2);
    let (_, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    assert_eq!(out.matches("\r\nVia: ").count(), 3, "{out}");
}

#[test]
fn options_to_us_gets_200_even_with_max_forwards_0() {
    let (o, out) = run(
        &proxy(),
        &one_upstream(),
        &udp_input(OPTIONS_TO_US.as_bytes()),
    );
    let t = reply_of(o);
    // rport asked: straight back to the source port.
    assert_eq!(t.dest, addr("198.51.100.7:5062"));
    assert_eq!(status_line(&out), "SIP/2.0 200 OK");
    // The reply's top Via gets what the request's would have on arrival.
    assert!(
        out.contains("\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKping1;received=198.51.100.7;rport=5062\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, PRACK, SUBSCRIBE, NOTIFY, PUBLISH, INFO, REFER, MESSAGE, UPDATE\r\n"));
    assert!(out.contains("\r\nSupported: \r\n"));
    // OPTIONS for a user is routed like any request.
    let m = OPTIONS_TO_US
        .replace("OPTIONS sip:192.0.2.10", "OPTIONS sip:bob@192.0.2.10")
        .replace("Max-Forwards: 0", "Max-Forwards: 5");
    let (o, _) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    fwd(o);
}

#[test]
fn ack_for_our_own_reply_is_absorbed() {
    let p = proxy();
    let t = one_upstream();
    let bad = INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0");
    let (_, reply) = run(&p, &t, &udp_input(bad.as_bytes()));
    let to_line = reply.lines().find(|l| l.starts_with("To: ")).unwrap();
    let ack = format!(
        "ACK sip:bob@proxy.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
{to_line}\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 ACK\r\n\
Content-Length: 0\r\n\r\n"
    );
    let (o, _) = run(&p, &t, &udp_input(ack.as_bytes()));
    assert_eq!(o, Output::Drop(DropReason::AckAbsorbed));
    // An ACK with somebody else's tag is forwarded.
    let other = ack.replace(to_line, "To: Bob <sip:bob@example.com>;tag=pbx-1");
    let (o, _) = run(&p, &t, &udp_input(other.as_bytes()));
    fwd(o);
}

#[test]
fn loop_is_482_spiral_is_forwarded() {
    let p = proxy();
    let t = one_upstream();
    let (_, first) = run(&p, &t, &udp_input(INVITE.as_bytes()));
    // The upstream sends it straight back: it arrives with our Via below a
    // new one, unchanged otherwise.
    let back = first.replacen(
        "Via: SIP/2.0/UDP 192.0.2.10",
        "Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bKpbx1\r\nVia: SIP/2.0/UDP 192.0.2.10",
        1,
    );
    let mut input = udp_input(back.as_bytes());
    input.source = addr("192.0.2.50:5060");
    let (o, out) = run(&p, &t, &input);
    reply_of(o);
    assert_eq!(status_line(&out), "SIP/2.0 482 Loop Detected");
    // Back with another Request-URI: a spiral, forwarded again.
    let spiral = back.replace(
        "INVITE sip:bob@proxy.example.com",
        "INVITE sip:carol@proxy.example.com",
    );
    let (o, _) = run(&p, &t, &udp_input(spiral.as_bytes()));
    fwd(o);
}

#[test]
fn top_route_naming_us_is_removed_and_next_route_decides() {
    let m = INVITE.replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nRoute: <sip:192.0.2.10;lr>, <sip:192.0.2.77:5080;lr>\r\n",
    );
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    let t = fwd(o);
    assert_eq!(t.dest, addr("192.0.2.77:5080"));
    assert!(
        out.contains("\r\nRoute: <sip:192.0.2.77:5080;lr>\r\n"),
        "{out}"
    );
    assert!(!out.contains("sip:192.0.2.10;lr"), "{out}");
}

#[test]
fn in_dialog_follows_route_set_not_balancer() {
    let bye = "BYE sip:bob@192.0.2.60:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKbye1\r\n\
Max-Forwards: 70\r\n\
Route: <sip:192.0.2.10:5060;transport=udp;lr>\r\n\
To: Bob <sip:bob@example.com>;tag=pbx-1\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314160 BYE\r\n\
Content-Length: 0\r\n\r\n";
    let t = table(&[
        ("192.0.2.50:5060", Transport::Udp),
        ("192.0.2.51:5060", Transport::Udp),
    ]);
    let (o, out) = run(&proxy(), &t, &udp_input(bye.as_bytes()));
    let tx = fwd(o);
    // Our Route removed; the remote target (the PBX's Contact) is next.
    assert_eq!(tx.dest, addr("192.0.2.60:5060"));
    assert!(!out.contains("Route:"), "{out}");
    assert!(
        !out.contains("Record-Route"),
        "in-dialog requests get no Record-Route"
    );
}

#[test]
fn strict_router_request_uri_is_restored() {
    // The previous hop (a strict router) put our Record-Route URI in the
    // Request-URI and the real target last in Route.
    let m = "BYE sip:192.0.2.10:5060;transport=udp;lr SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKs1\r\n\
Max-Forwards: 70\r\n\
Route: <sip:bob@192.0.2.60:5060>\r\n\
To: <sip:bob@example.com>;tag=pbx-1\r\n\
From: <sip:alice@example.com>;tag=1\r\n\
Call-ID: strict-1\r\n\
CSeq: 2 BYE\r\n\
Content-Length: 0\r\n\r\n";
    let (o, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    let t = fwd(o);
    assert_eq!(t.dest, addr("192.0.2.60:5060"));
    assert!(
        out.starts_with("BYE sip:bob@192.0.2.60:5060 SIP/2.0\r\n"),
        "{out}"
    );
    assert!(!out.contains("Route:"), "{out}");
}

#[test]
fn received_and_rport_are_added() {
    let m = INVITE.replace(
        "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds",
        "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
    );
    let (_, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    assert!(
        out.contains("\r\nVia: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds;received=198.51.100.7\r\n"),
        "{out}"
    );
    let m = INVITE.replace(";branch=z9hG4bK776asdhds", ";rport;branch=z9hG4bK776asdhds");
    let (_, out) = run(&proxy(), &one_upstream(), &udp_input(m.as_bytes()));
    assert!(
        out.contains("\r\nVia: SIP/2.0/UDP 198.51.100.7:5062;received=198.51.100.7;rport=5062;branch=z9hG4bK776asdhds\r\n"),
        "{out}"
    );
}

#[test]
fn transport_change_gets_two_record_routes() {
    let t = table(&[("192.0.2.50:5060", Transport::Tcp)]);
    let (o, out) = run(&proxy(), &t, &udp_input(INVITE.as_bytes()));
    let tx = fwd(o);
    assert_eq!(tx.transport, Transport::Tcp);
    assert!(
        out.contains("\r\nVia: SIP/2.0/TCP 192.0.2.10:5060;branch="),
        "{out}"
    );
    assert!(
        out.contains("\r\nRecord-Route: <sip:192.0.2.10:5060;transport=tcp;lr>, <sip:192.0.2.10:5060;transport=udp;lr>\r\n"),
        "{out}"
    );
    // Address family change too.
    let t6 = table(&[("[2001:db8::50]:5060", Transport::Udp)]);
    let (_, out) = run(&proxy(), &t6, &udp_input(INVITE.as_bytes()));
    assert!(
        out.contains("\r\nRecord-Route: <sip:[2001:db8::10]:5060;transport=udp;lr>, <sip:192.0.2.10:5060;transport=udp;lr>\r\n"),
        "{out}"
    );
}

fn cancel_for(invite: &str) -> String {
    invite
        .replace("INVITE sip:", "CANCEL sip:")
        .replace("CSeq: 314159 INVITE", "CSeq: 314159 CANCEL")
        .replace("Content-Type: application/sdp\r\n", "")
        .replace(
            "Content-Length: 4\r\n\r\nv=0\n",
            "Content-Length: 0\r\n\r\n",
        )
}

#[test]
fn cancel_and_non_2xx_ack_share_the_invite_branch_and_upstream() {
    let p = proxy();
    let t = table(&[
        ("192.0.2.50:5060", Transport::Udp),
        ("192.0.2.51:5060", Transport::Udp),
        ("192.0.2.52:5060", Transport::Udp),
    ]);
    let (oi, inv) = run(&p, &t, &udp_input(INVITE.as_bytes()));
    let (oc, can) = run(&p, &t, &udp_input(cancel_for(INVITE).as_bytes()));
    assert_eq!(our_branch(&inv), our_branch(&can));
    assert_eq!(fwd(oi).dest, fwd(oc).dest);
    let ack = cancel_for(INVITE)
        .replace("CANCEL sip:", "ACK sip:")
        .replace("CSeq: 314159 CANCEL", "CSeq: 314159 ACK")
        .replace(
            "To: Bob <sip:bob@example.com>",
            "To: Bob <sip:bob@example.com>;tag=pbx-487",
        );
    let (oa, ack_out) = run(&p, &t, &udp_input(ack.as_bytes()));
    assert_eq!(our_branch(&inv), our_branch(&ack_out));
    assert_eq!(fwd(oa).dest, fwd(oi).dest);
    // Another transaction gets another branch.
    let other = INVITE.replace("z9hG4bK776asdhds", "z9hG4bK776other");
    let (_, o2) = run(&p, &t, &udp_input(other.as_bytes()));
    assert_ne!(our_branch(&inv), our_branch(&o2));
}

/// A retransmitted INVITE whose member went down in between goes to the
/// new pick with the same branch (one pass and general path alike), its
/// CANCEL follows it there, and the member's return brings both back.
#[test]
fn a_retransmission_after_its_member_died_goes_to_the_new_pick_with_the_same_branch() {
    let p = proxy();
    let t = table(&[
        ("192.0.2.50:5060", Transport::Udp),
        ("192.0.2.51:5060", Transport::Udp),
        ("192.0.2.52:5060", Transport::Udp),
    ]);
    let (first, inv) = run(&p, &t, &udp_input(INVITE.as_bytes()));
    let was = fwd(first).dest;
    let member = t.upstreams().find(|d| d.addr() == was).unwrap();
    member.set_healthy(false);
    for general in [false, true] {
        let mut out = Vec::new();
        let input = udp_input(INVITE.as_bytes());
        let o = if general {
            p.handle_general(&input, &t, &mut Scratch::new(), &mut out)
        } else {
            p.handle(&input, &t, &mut Scratch::new(), &mut out)
        };
        let again = String::from_utf8(out).unwrap();
        let now = fwd(o).dest;
        assert_ne!(now, was, "sent to the dead member again");
        assert_eq!(our_branch(&again), our_branch(&inv));
        assert_eq!(
            again.replace(&was.to_string(), ""),
            inv.replace(&was.to_string(), "")
        );
        let (oc, _) = run(&p, &t, &udp_input(cancel_for(INVITE).as_bytes()));
        assert_eq!(fwd(oc).dest, now, "the CANCEL follows the retransmission");
    }
    member.set_healthy(true);
    let (back, _) = run(&p, &t, &udp_input(INVITE.as_bytes()));
    assert_eq!(fwd(back).dest, was);
}

#[test]
fn rfc2543_branch_uses_the_transaction_fields() {
    let old = INVITE.replace(";branch=z9hG4bK776asdhds", "");
    let p = proxy();
    let t = one_upstream();
    let (_, a) = run(&p, &t, &udp_input(old.as_bytes()));
    let (_, c) = run(&p, &t, &udp_input(cancel_for(&old).as_bytes()));
    assert_eq!(our_branch(&a), our_branch(&c));
    let next = old.replace("CSeq: 314159", "CSeq: 314160");
    let (_, b) = run(&p, &t, &udp_input(next.as_bytes()));
    assert_ne!(our_branch(&a), our_branch(&b));
}

fn response_via(branch: &str, extra: &str) -> String {
    format!(
        "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}{extra}\r\n\
Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds;received=198.51.100.7;rport=6000\r\n\
To: Bob <sip:bob@example.com>;tag=pbx-1\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn responses_strip_our_via_and_go_to_received_rport() {
    let p = proxy();
    let (_, inv) = run(&p, &one_upstream(), &udp_input(INVITE.as_bytes()));
    let b = our_branch(&inv).to_string();
    let resp = response_via(&b, "");
    let mut input = udp_input(resp.as_bytes());
    input.source = addr("192.0.2.50:5060");
    let (o, out) = run(&p, &one_upstream(), &input);
    let t = fwd(o);
    assert_eq!(t.dest, addr("198.51.100.7:6000"));
    assert_eq!(t.conn, None);
    let mut expected = resp.clone();
    let our_line = format!("Via: SIP/2.0/UDP 192.0.2.10:5060;branch={b}\r\n");
    expected = expected.replace(&our_line, "");
    assert_eq!(out, expected);
}

#[test]
fn responses_not_ours_or_without_next_via_are_dropped() {
    let p = proxy();
    let t = one_upstream();
    let resp = response_via("z9hG4bKnotours", "");
    let (o, _) = run(&p, &t, &udp_input(resp.as_bytes()));
    assert_eq!(o, Output::Drop(DropReason::NotOurVia));
    let b = String::from_utf8(branch::branch_bytes(1, 2).to_vec()).unwrap();
    let only_ours = format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch={b}\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"
    );
    let (o, _) = run(&p, &t, &udp_input(only_ours.as_bytes()));
    assert_eq!(o, Output::Drop(DropReason::NoNextVia));
    let (o, _) = run(&p, &t, &udp_input(b"SIP/2.0 4294967301 x\r\n\r\n"));
    assert_eq!(
        o,
        Output::Drop(DropReason::MalformedResponse(sip::Error::StatusCode))
    );
    let (o, _) = run(&p, &t, &udp_input(b"\r\n\r\n"));
    assert_eq!(o, Output::Drop(DropReason::KeepAlive));
}

#[test]
fn tcp_request_response_finds_its_connection() {
    let p = proxy();
    let t = one_upstream();
    let conn = ConnRef {
        worker: 3,
        id: 4242,
    };
    let m = INVITE.replace(
        "SIP/2.0/UDP 198.51.100.7:5062",
        "SIP/2.0/TCP 198.51.100.7:5062",
    );
    let input = Input {
        transport: Transport::Tcp,
        conn: Some(conn),
        ..udp_input(m.as_bytes())
    };
    let (o, out) = run(&p, &t, &input);
    fwd(o);
    let our_via = out
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("Via: ")
        .unwrap()
        .to_string();
    assert!(our_via.contains(";bl=3.4242."), "{our_via}");
    let resp = format!(
        "SIP/2.0 200 OK\r\nVia: {our_via}\r\nVia: SIP/2.0/TCP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\nCall-ID: x\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    let (o, _) = run(&p, &t, &udp_input(resp.as_bytes()));
    let tx = fwd(o);
    assert_eq!(tx.conn, Some(conn));
    assert_eq!(tx.transport, Transport::Tcp);
    // A forged connection id fails the MAC and is dropped.
    let forged = resp.replace(";bl=3.4242.", ";bl=3.4243.");
    let (o, _) = run(&p, &t, &udp_input(forged.as_bytes()));
    assert_eq!(o, Output::Drop(DropReason::NotOurVia));
}

#[test]
fn no_upstream_gets_503() {
    let t = one_upstream();
    for d in t.upstreams() {
        d.set_healthy(false);
    }
    let (o, out) = run(&proxy(), &t, &udp_input(INVITE.as_bytes()));
    reply_of(o);
    assert_eq!(status_line(&out), "SIP/2.0 503 Service Unavailable");
    assert!(out.contains("\r\nRetry-After: 5\r\n"));
}

struct DenyAll;
impl crate::auth::Authenticator for DenyAll {
    fn check(&self, _req: &Request<'_>, _ctx: &AuthContext) -> Verdict {
        Verdict::FORBIDDEN
    }
    fn name(&self) -> &'static str {
        "deny-all"
    }
}

#[test]
fn authenticator_is_consulted() {
    let p = proxy_with(|c| c.auth = Arc::new(DenyAll));
    let (o, out) = run(&p, &one_upstream(), &udp_input(INVITE.as_bytes()));
    reply_of(o);
    assert_eq!(status_line(&out), "SIP/2.0 403 Forbidden");
}

#[test]
fn route_values_as_received_are_what_split_values_gives() {
    for lines in [
        &["<sip:a;lr>"][..],
        &[" <sip:a;lr> "],
        &["<sip:a;lr>, <sip:b;lr>"],
        &["<sip:a;lr>,<sip:b;lr>;x=1 , <sip:c>", "<sip:d;lr>"],
        &[" , <sip:a;lr>,"],
        &["\"x,y\" <sip:a>", "<sip:b;lr;transport=udp>"],
    ] {
        let mut text = String::from("OPTIONS sip:x SIP/2.0\r\n");
        for l in lines {
            text.push_str(&format!("Route: {l}\r\n"));
        }
        text.push_str("\r\n");
        let Ok(crate::sip::Message::Request(req)) = crate::sip::parse(text.as_bytes()) else {
            panic!("{text}");
        };
        let mut ours: Vec<&[u8]> = Vec::new();
        let mut addrs = Vec::new();
        req.headers
            .each_route(|a, raw| {
                addrs.push(*a);
                ours.push(raw);
            })
            .expect("valid routes");
        let split: Vec<&[u8]> = lines
            .iter()
            .flat_map(|l| crate::sip::split_values(l.as_bytes()))
            .collect();
        assert_eq!(ours, split, "{lines:?}");
        let iterated: Vec<_> = req.headers.routes().map(|r| r.unwrap()).collect();
        assert_eq!(addrs, iterated, "{lines:?}");
    }
}

/// The walk stops at the first Route value that does not parse, with the
/// error the iterator gives for it, after lending the values before it.
#[test]
fn the_route_walk_stops_at_the_first_bad_value() {
    let text = "OPTIONS sip:x SIP/2.0\r\nRoute: <sip:a;lr>, sip:bare\r\nRoute: <sip:c>\r\n\r\n";
    let Ok(crate::sip::Message::Request(req)) = crate::sip::parse(text.as_bytes()) else {
        panic!("{text}");
    };
    let mut seen = 0;
    let walked = req.headers.each_route(|_, _| seen += 1);
    let first_error = req.headers.routes().find_map(|r| r.err());
    assert_eq!(walked.err(), first_error);
    assert_eq!(first_error, Some(crate::sip::Error::Invalid("Route")));
    assert_eq!(seen, 1);
}

/// Regression: the forwarded request and our stateless reply wrote the
/// sender's Via marks with two pieces of code, and disagreed for IPv6
/// (`received=[2001:db8::7]` against `received=2001:db8::7`) and for an
/// IPv4-mapped source (kept mapped against unmapped). Both now write
/// RFC 3261's `via-received` form: no brackets, a mapped source unmapped.
#[test]
fn forwarded_and_replied_via_marks_agree_for_every_source_kind() {
    let p = proxy();
    let t = one_upstream();
    let cases = [
        (
            "198.51.100.7:5062",
            "received=198.51.100.7;rport=5062",
            ";received=198.51.100.7",
        ),
        (
            "[2001:db8::7]:5062",
            "received=2001:db8::7;rport=5062",
            ";received=2001:db8::7",
        ),
        (
            "[::ffff:198.51.100.7]:5062",
            "received=198.51.100.7;rport=5062",
            ";received=198.51.100.7",
        ),
    ];
    // The sender's Via value as a message carries it (the first Via line
    // of a reply, the second of a forwarded request).
    let sender_via = |out: &str, nth: usize| -> String {
        let line = out
            .lines()
            .filter(|l| l.starts_with("Via: "))
            .nth(nth)
            .unwrap();
        line["Via: ".len()..].to_string()
    };
    for (source, with_rport, without_rport) in cases {
        for (via_params, mark) in [
            (";rport;branch=z9hG4bKm1", with_rport),
            (";branch=z9hG4bKm1", without_rport),
        ] {
            let via = format!("SIP/2.0/UDP pc.example.com{via_params}");
            let want = if via_params.starts_with(";rport") {
                format!("SIP/2.0/UDP pc.example.com;{mark};branch=z9hG4bKm1")
            } else {
                format!("SIP/2.0/UDP pc.example.com;branch=z9hG4bKm1{mark}")
            };
            let invite = INVITE.replace(
                "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds",
                &via,
            );
            let refused = invite.replace("Max-Forwards: 70", "Max-Forwards: 0");
            let input = |data| Input {
                source: addr(source),
                ..udp_input(data)
            };
            // Forwarded, by the one pass and by the general path.
            let (o, out) = run(&p, &t, &input(invite.as_bytes()));
            fwd(o);
            assert_eq!(sender_via(&out, 1), want, "forwarded, from {source}");
            let mut general = Vec::new();
            let o = p.handle_general(
                &input(invite.as_bytes()),
                &t,
                &mut Scratch::new(),
                &mut general,
            );
            fwd(o);
            assert_eq!(
                String::from_utf8(general).unwrap(),
                out,
                "the two paths, from {source}"
            );
            // Replied to (483), with the same marks.
            let (o, reply) = run(&p, &t, &input(refused.as_bytes()));
            reply_of(o);
            assert!(reply.starts_with("SIP/2.0 483 "), "{reply}");
            assert_eq!(sender_via(&reply, 0), want, "replied, from {source}");
        }
    }
}

/// Regression: a stateless reply to a request whose top Via names another
/// transport than the one it came over went over UDP to that transport's
/// port (`SIP/2.0/TLS host` → port 5061, `SIP/2.0/TCP 198.51.100.7` → 5060),
/// where the sender need not listen for UDP. It now goes over the
/// request's own transport to the datagram's source address and port,
/// rport or not; a UDP Via keeps §18.2.2's sent-by port.
#[test]
fn a_stateless_reply_goes_over_the_arrival_transport_to_the_source() {
    let p = proxy();
    let t = one_upstream();
    let cases = [
        // (top Via, where the 483 goes)
        (
            "SIP/2.0/TLS host.example.com;branch=z9hG4bKt1",
            "198.51.100.7:5062",
        ),
        (
            "SIP/2.0/TLS host.example.com:5061;branch=z9hG4bKt2",
            "198.51.100.7:5062",
        ),
        (
            "SIP/2.0/TLS host.example.com;rport;branch=z9hG4bKt3",
            "198.51.100.7:5062",
        ),
        (
            "SIP/2.0/TCP 198.51.100.7;branch=z9hG4bKt4",
            "198.51.100.7:5062",
        ),
        (
            "SIP/2.0/TCP 198.51.100.7:5070;rport;branch=z9hG4bKt5",
            "198.51.100.7:5062",
        ),
        // A UDP Via: the sent-by port without rport, the source port with.
        (
            "SIP/2.0/UDP 198.51.100.7:5070;branch=z9hG4bKt6",
            "198.51.100.7:5070",
        ),
        (
            "SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKt7",
            "198.51.100.7:5060",
        ),
        (
            "SIP/2.0/UDP 198.51.100.7:5070;rport;branch=z9hG4bKt8",
            "198.51.100.7:5062",
        ),
    ];
    for (via, dest) in cases {
        let m = INVITE
            .replace("SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds", via)
            .replace("Max-Forwards: 70", "Max-Forwards: 0");
        let (o, out) = run(&p, &t, &udp_input(m.as_bytes()));
        let tx = reply_of(o);
        assert_eq!(status_line(&out), "SIP/2.0 483 Too Many Hops", "{via}");
        assert_eq!(
            tx,
            Transmit {
                dest: addr(dest),
                transport: Transport::Udp,
                conn: None,
                from: Some(addr("192.0.2.10:5060")),
            },
            "{via}"
        );
    }
    // Over TCP, back on the connection, whatever the Via names.
    let m = INVITE
        .replace(
            "SIP/2.0/UDP 198.51.100.7:5062",
            "SIP/2.0/TLS host.example.com",
        )
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let conn = Some(ConnRef { worker: 1, id: 9 });
    let input = Input {
        transport: Transport::Tcp,
        conn,
        ..udp_input(m.as_bytes())
    };
    let tx = reply_of(run(&p, &t, &input).0);
    assert_eq!(
        (tx.dest, tx.transport, tx.conn),
        (addr("198.51.100.7:5062"), Transport::Tcp, conn)
    );
}

/// The test INVITE padded with an `X-Pad` line to `len` bytes.
fn invite_of_len(len: usize) -> String {
    let pad_line = |n: usize| format!("X-Pad: {}\r\n", "p".repeat(n));
    let short = INVITE.len() + pad_line(0).len();
    assert!(len >= short, "{len} < {short}");
    let m = INVITE.replace(
        "Max-Forwards: 70\r\n",
        &format!("Max-Forwards: 70\r\n{}", pad_line(len - short)),
    );
    assert_eq!(m.len(), len);
    m
}

/// Regression: a request just under `max_message_size` was forwarded with
/// our Via and Record-Route added, past the limit (a next hop with the
/// same limit, another branchline among them, refuses it). Both paths now
/// answer it `513` as they answer an oversized request; one well under
/// the limit is still forwarded, by the one pass.
#[test]
fn a_request_is_refused_rather_than_forwarded_past_the_size_limit() {
    const MAX: usize = 1000;
    let p = proxy_with(|c| c.max_message_size = MAX);
    let t = one_upstream();
    let mut general = Vec::new();
    let mut one_pass = Vec::new();

    let near = invite_of_len(MAX - 10);
    let input = udp_input(near.as_bytes());
    let (o, out) = run(&p, &t, &input);
    let tx = reply_of(o);
    assert_eq!(tx.dest, addr("198.51.100.7:5062"));
    assert_eq!(status_line(&out), "SIP/2.0 513 Message Too Large");
    let (oversized_o, oversized) = run(&p, &t, &udp_input(invite_of_len(MAX + 1).as_bytes()));
    assert_eq!(
        (o, &out),
        (oversized_o, &oversized),
        "as an oversized request"
    );
    let g = p.handle_general(&input, &t, &mut Scratch::new(), &mut general);
    assert_eq!((g, general.as_slice()), (o, out.as_bytes()));
    assert_eq!(p.forward_one_pass(&input, &t, &mut one_pass), None);
    assert!(one_pass.is_empty());

    let under = invite_of_len(MAX - 200);
    let input = udp_input(under.as_bytes());
    let (o, out) = run(&p, &t, &input);
    fwd(o);
    assert!(out.len() > under.len() && out.len() <= MAX, "{}", out.len());
    let g = p.handle_general(&input, &t, &mut Scratch::new(), &mut general);
    assert_eq!((g, general.as_slice()), (o, out.as_bytes()));
    assert_eq!(p.forward_one_pass(&input, &t, &mut one_pass), Some(o));
    assert_eq!(one_pass, out.as_bytes());
}
