//! Round trips through the splice editor: parse → edit → parse, checking the
//! edited fields and that every header line the edits did not touch comes
//! out byte-identical and in the same order.

use std::net::Ipv4Addr;

use branchline::sip::build;
use branchline::sip::edit::Editor;
use branchline::sip::{frame_stream, parse, HeaderName, Message};

/// A realistic INVITE with SDP (about 900 bytes), two Route values on one
/// line, an existing Record-Route and junk after the declared body.
const INVITE: &[u8] = b"INVITE sip:+15551234567@carrier.example.net;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
Route: <sip:proxy.example.com;lr>, <sip:edge.example.net;lr;transport=udp>\r\n\
Record-Route: <sip:sbc.example.org;lr>\r\n\
From: \"Alice Example\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: <sip:+15551234567@carrier.example.net;user=phone>\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
User-Agent: ExamplePhone/4.2.1\r\n\
P-Asserted-Identity: <sip:+15557654321@atlanta.example.com;user=phone>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 263\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
trailing junk that is not part of the message";

const TOUCHED: [HeaderName<'static>; 5] = [
    HeaderName::Via,
    HeaderName::MaxForwards,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::ContentLength,
];

/// The bytes of every header line not named in `touched`, in order.
fn untouched_lines<'a>(msg: &Message<'a>, touched: &[HeaderName<'_>]) -> Vec<&'a [u8]> {
    let raw = msg.raw();
    msg.headers()
        .iter()
        .filter(|h| !touched.contains(&h.name))
        .map(|h| &raw[h.start as usize..h.end as usize])
        .collect()
}

fn values<'a>(msg: &Message<'a>, name: HeaderName<'_>) -> Vec<&'a [u8]> {
    msg.headers().values(name).collect()
}

/// The proxy's forwarding edits (RFC 3261 §16.6): new top Via, Max-Forwards
/// decremented, Record-Route added, top Route removed, Content-Length fixed.
fn forward(ed: &mut Editor, msg: &Message<'_>, out: &mut Vec<u8>) {
    let mf = msg
        .headers()
        .max_forwards()
        .ok()
        .flatten()
        .map_or(70, |m| m.0);
    ed.insert_via(msg, |w| {
        w.bytes(b"SIP/2.0/UDP ")
            .ipv4(Ipv4Addr::new(198, 51, 100, 1))
            .bytes(b":5060;branch=z9hG4bKbl.0.")
            .u64(0x1234_5678_9abc);
    });
    ed.set_max_forwards(msg, mf.saturating_sub(1));
    ed.add_record_route(msg, b"sip:198.51.100.1:5060;lr");
    ed.remove_first_value(msg, HeaderName::Route);
    ed.fix_content_length(msg);
    ed.apply(msg.raw(), out).expect("edits apply");
}

#[test]
fn invite_forwarding_round_trip() {
    let before = parse(INVITE).unwrap();
    let mut ed = Editor::new();
    let mut out = Vec::new();
    forward(&mut ed, &before, &mut out);
    let after = parse(&out).unwrap();

    let vias = values(&after, HeaderName::Via);
    assert_eq!(
        vias,
        [
            &b"SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKbl.0.20015998343868"[..],
            b"SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport",
        ]
    );
    let top = after.headers().top_via().unwrap();
    assert_eq!(top.port, Some(5060));
    assert_eq!(after.headers().max_forwards().unwrap().unwrap().0, 69);
    assert_eq!(
        values(&after, HeaderName::Route),
        [&b"<sip:edge.example.net;lr;transport=udp>"[..]]
    );
    assert!(after.headers().routes().all(|r| r.is_ok()));
    assert_eq!(
        values(&after, HeaderName::RecordRoute),
        [
            &b"<sip:198.51.100.1:5060;lr>"[..],
            b"<sip:sbc.example.org;lr>"
        ]
    );
    assert_eq!(after.headers().content_length().unwrap(), Some(263));
    assert_eq!(after.body(), before.body());
    assert_eq!(after.raw(), &out[..], "nothing after the body was copied");
    assert!(!out.ends_with(b"message"));
    assert_eq!(
        untouched_lines(&after, &TOUCHED),
        untouched_lines(&before, &TOUCHED)
    );
    // The start line is untouched too.
    assert!(out.starts_with(b"INVITE sip:+15551234567@carrier.example.net;user=phone SIP/2.0\r\n"));
}

#[test]
fn request_uri_replacement_round_trip() {
    let before = parse(INVITE).unwrap();
    let Message::Request(req) = &before else {
        panic!("a request")
    };
    let mut ed = Editor::new();
    let mut out = Vec::new();
    ed.replace_request_uri(req, b"sip:+15551234567@203.0.113.5:5080;user=phone");
    ed.remove_first_values(req, HeaderName::Route, 2);
    ed.apply(req.raw, &mut out).unwrap();
    let Message::Request(after) = parse(&out).unwrap() else {
        panic!("a request")
    };
    assert_eq!(
        after.uri_raw,
        b"sip:+15551234567@203.0.113.5:5080;user=phone"
    );
    assert!(after.uri().is_ok());
    assert_eq!(after.headers.first(HeaderName::Route), None);
    let keep = [HeaderName::Route];
    assert_eq!(
        untouched_lines(&Message::Request(after.clone()), &keep),
        untouched_lines(&before, &keep)
    );
}

#[test]
fn response_top_via_removed_from_folded_list() {
    let raw = b"SIP/2.0 180 Ringing\r\n\
v: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKbl.0.1 ,\r\n SIP/2.0/UDP 192.0.2.10:5060\r\n  ;branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5060\r\n\
Via: SIP/2.0/TCP 192.0.2.99;branch=z9hG4bKlast\r\n\
Record-Route: <sip:198.51.100.1:5060;lr>\r\n\
From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";
    let before = parse(raw).unwrap();
    let mut ed = Editor::new();
    let mut out = Vec::new();
    let removed = ed.remove_first_value(&before, HeaderName::Via).unwrap();
    assert_eq!(
        removed,
        b"SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKbl.0.1"
    );
    ed.apply(before.raw(), &mut out).unwrap();
    let after = parse(&out).unwrap();
    assert_eq!(
        values(&after, HeaderName::Via),
        values(&before, HeaderName::Via)[1..]
    );
    let top = after.headers().top_via().unwrap();
    assert_eq!(top.branch, Some(&b"z9hG4bK776asdhds"[..]));
    assert_eq!(top.received, Some(&b"192.0.2.10"[..]));
    let keep = [HeaderName::Via];
    assert_eq!(
        untouched_lines(&after, &keep),
        untouched_lines(&before, &keep)
    );
    // The folded line keeps its continuation, now as the line's only value.
    let first = after.headers().first(HeaderName::Via).unwrap();
    assert_eq!(
        &out[first.start as usize..first.end as usize],
        b"v: SIP/2.0/UDP 192.0.2.10:5060\r\n  ;branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5060\r\n"
    );
}

#[test]
fn content_length_added_for_a_stream() {
    // UDP without Content-Length: the body is the rest of the datagram.
    let raw = b"MESSAGE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKm\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@atlanta.example.com>;tag=1\r\n\
To: <sip:bob@biloxi.example.com>\r\n\
Call-ID: m1\r\n\
CSeq: 1 MESSAGE\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hello, Bob.";
    let before = parse(raw).unwrap();
    let mut ed = Editor::new();
    let mut out = Vec::new();
    ed.fix_content_length(&before);
    ed.apply(before.raw(), &mut out).unwrap();
    assert_eq!(frame_stream(&out, 65_535), Ok(Some(out.len())));
    let after = parse(&out).unwrap();
    assert_eq!(after.headers().content_length().unwrap(), Some(11));
    assert_eq!(after.body(), b"Hello, Bob.");
    let keep = [HeaderName::ContentLength];
    assert_eq!(
        untouched_lines(&after, &keep),
        untouched_lines(&before, &keep)
    );
}

/// An RFC 4475 message from the committed fixtures (a missing one fails).
fn rfc4475(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rfc4475");
    match std::fs::read(dir.join(name)) {
        Ok(bytes) => bytes,
        Err(e) => panic!("tests/fixtures/rfc4475/{name}: {e}"),
    }
}

#[test]
fn wsinv_forwarding_round_trip() {
    let raw = rfc4475("wsinv.dat");
    let before = parse(&raw).unwrap();
    let mut ed = Editor::new();
    let mut out = Vec::new();
    // Also drop the first Via value of the folded `v:` list.
    ed.remove_first_values(&before, HeaderName::Via, 2);
    forward(&mut ed, &before, &mut out);
    let after = parse(&out).unwrap();
    let vias = values(&after, HeaderName::Via);
    assert_eq!(vias.len(), 2);
    assert!(vias[0].starts_with(b"SIP/2.0/UDP 198.51.100.1:5060;"));
    assert_eq!(
        vias[1],
        b"SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239"
    );
    assert_eq!(after.headers().top_via().unwrap().port, Some(5060));
    assert_eq!(after.headers().max_forwards().unwrap().unwrap().0, 67);
    assert_eq!(values(&after, HeaderName::Route), Vec::<&[u8]>::new());
    assert_eq!(
        values(&after, HeaderName::RecordRoute),
        [&b"<sip:198.51.100.1:5060;lr>"[..]]
    );
    assert_eq!(after.headers().content_length().unwrap(), Some(150));
    assert_eq!(after.body(), before.body());
    assert_eq!(
        untouched_lines(&after, &TOUCHED),
        untouched_lines(&before, &TOUCHED)
    );
}

#[test]
fn rfc4475_valid_messages_survive_forwarding() {
    let index = rfc4475("INDEX.tsv");
    let index = String::from_utf8(index).unwrap();
    let mut ed = Editor::new();
    let mut out = Vec::new();
    let mut checked = 0;
    for row in index.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 4 || cols[3] != "VALID" {
            continue;
        }
        let raw = rfc4475(cols[0]);
        let Ok(before) = parse(&raw) else {
            // The parser's verdict on VALID messages is the parser's test.
            continue;
        };
        if before.is_request() {
            forward(&mut ed, &before, &mut out);
        } else {
            ed.remove_first_value(&before, HeaderName::Via);
            ed.apply(before.raw(), &mut out).unwrap();
        }
        let after = parse(&out).unwrap_or_else(|e| panic!("{}: {e}", cols[0]));
        assert_eq!(after.body(), before.body(), "{}", cols[0]);
        assert_eq!(
            untouched_lines(&after, &TOUCHED),
            untouched_lines(&before, &TOUCHED),
            "{}",
            cols[0]
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} VALID messages checked");
}

#[test]
fn rfc4475_every_parsable_message_edits_cleanly() {
    let index = rfc4475("INDEX.tsv");
    let index = String::from_utf8(index).unwrap();
    let mut ed = Editor::new();
    let mut out = Vec::new();
    for row in index.lines().filter(|l| !l.starts_with('#')) {
        let Some(file) = row.split('\t').next().filter(|f| f.ends_with(".dat")) else {
            continue;
        };
        let raw = rfc4475(file);
        let Ok(before) = parse(&raw) else {
            continue;
        };
        if before.is_request() {
            forward(&mut ed, &before, &mut out);
        } else {
            ed.remove_first_value(&before, HeaderName::Via);
            ed.apply(before.raw(), &mut out).unwrap();
        }
        let after = parse(&out).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(after.body(), before.body(), "{file}");
    }
}

/// Mutated messages that still parse are edited and answered without a
/// panic, and the edits always apply.
#[test]
fn mutated_messages_never_panic() {
    const BYTES: &[u8] = b",;:<>\"\\ \t\r\nav0=@";
    let mut ed = Editor::new();
    let mut out = Vec::new();
    let mut reply = Vec::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut m = INVITE.to_vec();
        for _ in 0..1 + rand() % 4 {
            let at = (rand() as usize) % m.len();
            let b = BYTES[(rand() as usize) % BYTES.len()];
            match rand() % 3 {
                0 => m[at] = b,
                1 => m.insert(at, b),
                _ => {
                    m.remove(at);
                }
            }
        }
        let Ok(msg) = parse(&m) else {
            continue;
        };
        parsed += 1;
        if let Message::Request(req) = &msg {
            build::response(req, 400, "Bad Request", "x", Some(b"t"), &[], &mut reply);
            assert!(reply.ends_with(b"Content-Length: 0\r\n\r\n"));
            ed.replace_request_uri(req, b"sip:x@192.0.2.1");
        }
        ed.remove_first_values(&msg, HeaderName::Via, 1);
        forward(&mut ed, &msg, &mut out);
    }
    assert!(parsed > 1000, "only {parsed} mutants parsed");
}
