//! RFC 4475 (SIP torture test messages): every message of
//! `tests/fixtures/rfc4475` (byte-exact copies of
//! `../shared/testdata/rfc4475`) with the outcome the full syntax check
//! (`sip::parse`, then `sip::validate_request`) gives it: accepted, with
//! assertions on the views that make the message tricky, or rejected with
//! the exact [`Error`] and the answer [`Error::reaction`] gives. Each row is
//! cross-checked against the verdict and the response named in `INDEX.tsv`.
//!
//! Then every message goes through `Proxy::handle`, which must give the
//! same verdict, except for the faults a proxy ignores (see
//! [`PROXY_FORWARDS`]).

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use branchline::proxy::{Config, Input, Key, Listener, Output, Proxy, Scratch};
use branchline::route::{Table, Upstream};
use branchline::sip::{
    self,
    credentials::Credentials,
    name_addr::{Contact, NameAddr},
    uri::{Host, SipUri, Uri},
    via::{Rport, Via},
    Error, HeaderName, Message, Method, Reaction, Request, Response, Transport,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rfc4475");

/// Where a rejected message fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// `sip::parse`.
    Parse,
    /// `sip::validate_request` (after a successful parse).
    Validate,
}

/// What the proxy does with one message.
enum Outcome {
    /// Parsed (and, for a request, validated); the function checks the views.
    Accept(fn(&Message<'_>)),
    /// Rejected at `Stage` with exactly this error and this answer.
    Reject(Stage, Error, Reaction),
}

use Outcome::{Accept, Reject};
use Stage::{Parse, Validate};

const fn bad(detail: &'static str) -> Reaction {
    Reaction::Reply {
        code: 400,
        reason: "Bad Request",
        detail,
    }
}

const UNSUPPORTED_SCHEME: Reaction = Reaction::Reply {
    code: 416,
    reason: "Unsupported URI Scheme",
    detail: "",
};

/// Files where the RFC lets an element either reject or accept; for each,
/// what we do and why that is allowed is in the comment on its row.
const EITHER_WAY: [&str; 6] = [
    "lwsstart.dat",
    "trws.dat",
    "escruri.dat",
    "badbranch.dat",
    "baddate.dat",
    "mismatch02.dat",
];

/// INVALID messages whose fault is in a part the proxy does not use: the
/// From or To address (its tag is still checked). RFC 3261 §16.3 item 1
/// says such components "SHOULD be ignored and remain unchanged when the
/// message is forwarded", and RFC 4475 lets an element be liberal with both
/// (§3.1.2.14 "may ignore the spaces", §3.1.2.15 "may infer quotes"), so
/// `Proxy::handle` forwards them with those lines untouched, while the full
/// check `validate_request` refuses them.
const PROXY_FORWARDS: [&str; 2] = ["badaspec.dat", "baddn.dat"];

/// VALID messages a proxy still cannot route: the RFC itself names 416 as
/// the expected response (§3.3.2, §3.3.3). `parse` accepts them; the
/// Request-URI check of `validate_request` answers 416.
const VALID_BUT_416: [&str; 2] = ["novelsc.dat", "unkscm.dat"];

#[rustfmt::skip]
const TABLE: &[(&str, Outcome)] = &[
    // §3.1.2.14: spaces inside <...> of To (From is fine: a quoted display
    // name with a comma).
    ("badaspec.dat", Reject(Validate, Error::Invalid("To"), bad("Invalid To"))),
    // §3.2.1: the RFC allows falling back to RFC 2543 matching, which a
    // stateless proxy does anyway: it forwards, and the Via view says the
    // bare cookie names no transaction.
    ("badbranch.dat", Accept(badbranch)),
    // §3.1.2.12: "may ignore Date" — a proxy never reads Date.
    ("baddate.dat", Accept(baddate)),
    // §3.1.2.15: an unquoted display name with a comma (From comes first).
    ("baddn.dat", Reject(Validate, Error::Invalid("From"), bad("Invalid From"))),
    // §3.1.2.1: `Via: SIP/2.0/UDP 192.0.2.15;;,;,,` has empty params.
    ("badinv01.dat", Reject(Validate, Error::Invalid("Via"), bad("Invalid Via"))),
    // §3.1.2.19: a malformed response is dropped, never answered.
    ("bigcode.dat", Reject(Parse, Error::StatusCode, Reaction::Drop)),
    // §3.1.2.2: Content-Length 9999 in a datagram that holds less.
    ("clerr.dat", Reject(Parse, Error::BodyTruncated, bad("Content-Length Exceeds Message"))),
    ("cparam01.dat", Accept(cparam01)),
    ("cparam02.dat", Accept(cparam02)),
    ("esc01.dat", Accept(esc01)),
    ("escnull.dat", Accept(escnull)),
    // §3.1.2.11: "may reject": a Request-URI with headers is not a valid
    // Request-URI (RFC 3261 §19.1.5), so validate_request answers 400.
    ("escruri.dat", Reject(Validate, Error::RequestUri, bad("Malformed Request-URI"))),
    // §3.3.1: From, To and Call-ID missing; From is checked first.
    ("insuf.dat", Reject(Validate, Error::Missing("From"), bad("Missing From"))),
    ("intmeth.dat", Accept(intmeth)),
    ("invut.dat", Accept(invut)),
    // §3.1.2.8: LWS inside the Request-URI.
    ("lwsruri.dat", Reject(Parse, Error::RequestUri, bad("Malformed Request-URI"))),
    // §3.1.2.9: "may reject": RFC 3261 §25 puts exactly one SP between the
    // elements, and a strict start line keeps request smuggling out.
    ("lwsstart.dat", Reject(Parse, Error::StartLine("Request-Line"), bad("Malformed Request-Line"))),
    // §3.1.2.18: 501 from an endpoint, 400 acceptable; a proxy does not
    // implement methods, so it answers the mismatch with 400.
    ("mismatch02.dat", Reject(Validate, Error::CSeqMismatch, bad("CSeq Method Mismatch"))),
    ("mpart01.dat", Accept(mpart01)),
    // §3.3.8: two From, two To, two CSeq, two Call-ID; From is checked first.
    ("multi01.dat", Reject(Validate, Error::Duplicate("From"), bad("Duplicate From"))),
    // §3.3.3: parses (the view keeps the scheme); the proxy cannot route it.
    ("novelsc.dat", Reject(Validate, Error::UnsupportedScheme, UNSUPPORTED_SCHEME)),
    ("regaut01.dat", Accept(regaut01)),
    ("regescrt.dat", Accept(regescrt)),
    // §3.1.2.4: the CSeq number is past 2^31 (Max-Forwards 300 and the huge
    // Expires come after it).
    ("scalar02.dat", Reject(Validate, Error::Invalid("CSeq"), bad("Invalid CSeq"))),
    ("sdp01.dat", Accept(sdp01)),
    // §3.1.2.10: "liberal accept allowed": trailing SP after the version is
    // trimmed, nothing is lost.
    ("trws.dat", Accept(trws)),
    // §3.3.2: parses; the proxy answers 416 as the RFC says.
    ("unkscm.dat", Reject(Validate, Error::UnsupportedScheme, UNSUPPORTED_SCHEME)),
    ("unreason.dat", Accept(unreason)),
    ("wsinv.dat", Accept(wsinv)),
];

#[test]
fn every_rfc4475_message_has_its_outcome() {
    let index = index();
    let files = fixture_files();
    assert_eq!(files.len(), 29, "RFC 4475 has 29 test messages");
    assert_eq!(index.len(), 29, "INDEX.tsv names 29 messages");
    assert_eq!(TABLE.len(), 29, "one row per message");
    let rows: Vec<&str> = TABLE.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        rows, files,
        "the table names exactly the fixture files, sorted"
    );

    for (file, outcome) in TABLE {
        let bytes = fs::read(Path::new(DIR).join(file)).unwrap();
        let entry = &index[*file];
        // INDEX.tsv gives the archive's sizes; baddn.dat has the closing
        // CR LF the archive's copy lacks (see the note in INDEX.tsv).
        let added = if *file == "baddn.dat" { 2 } else { 0 };
        assert_eq!(
            bytes.len(),
            entry.bytes + added,
            "{file}: not the byte-exact copy"
        );
        let is_request = !bytes.starts_with(b"SIP/");
        let got = run(&bytes);
        match outcome {
            Accept(check) => {
                let msg = match got {
                    Ok(m) => m,
                    Err((stage, e)) => panic!("{file}: rejected at {stage:?} with {e:?}"),
                };
                assert_eq!(msg.is_request(), is_request, "{file}");
                check(&msg);
                assert!(
                    entry.verdict == "VALID" || EITHER_WAY.contains(file),
                    "{file}: accepted but INDEX says {} / {}",
                    entry.verdict,
                    entry.expectation
                );
            }
            Reject(stage, error, reaction) => {
                let (got_stage, got_error) = match got {
                    Ok(_) => panic!("{file}: accepted, expected {error:?}"),
                    Err(e) => e,
                };
                assert_eq!((got_stage, got_error), (*stage, *error), "{file}");
                assert_eq!(got_error.reaction(is_request), *reaction, "{file}");
                assert!(
                    entry.verdict == "INVALID" || VALID_BUT_416.contains(file),
                    "{file}: rejected but INDEX says VALID"
                );
                // The answer is one the RFC names for this message.
                match reaction {
                    Reaction::Drop => assert!(entry.response.contains("drop"), "{file}"),
                    Reaction::Reply { code, .. } => assert!(
                        entry.response.contains(&code.to_string()),
                        "{file}: we answer {code}, INDEX names {}",
                        entry.response
                    ),
                }
            }
        }
    }
}

/// Every message through `Proxy::handle` (one UDP upstream, none of the
/// messages addressed to the proxy): a rejected one gets exactly the answer
/// its row names (a reply with that status line, or a drop); an accepted
/// request is forwarded, an accepted response (not through us) dropped as
/// not ours; the two in [`PROXY_FORWARDS`] are forwarded with their From
/// and To lines as received.
#[test]
fn the_proxy_gives_each_rfc4475_message_its_outcome() {
    let addr = |s: &str| -> std::net::SocketAddr { s.parse().unwrap() };
    let listener = Listener {
        transport: Transport::Udp,
        addr: addr("192.0.2.10:5060"),
        advertise: None,
    };
    let proxy = Proxy::new(Config::new(vec![listener], Key::new(1, 2))).unwrap();
    let table = Table::from_upstreams([Upstream {
        addr: addr("192.0.2.50:5060"),
        transport: Transport::Udp,
        weight: 1,
    }])
    .unwrap();
    let mut forwarded = Vec::new();
    for (file, outcome) in TABLE {
        let bytes = fs::read(Path::new(DIR).join(file)).unwrap();
        let input = Input {
            data: &bytes,
            source: addr("198.51.100.7:5062"),
            local: addr("192.0.2.10:5060"),
            transport: Transport::Udp,
            conn: None,
            now: 1_700_000_000,
        };
        let mut out = Vec::new();
        let got = proxy.handle(&input, &table, &mut Scratch::new(), &mut out);
        let first_line = out.split(|&b| b == b'\r').next().unwrap_or_default();
        let first_line = String::from_utf8_lossy(first_line);
        match (outcome, got) {
            (Reject(..), Output::Forward(_)) if PROXY_FORWARDS.contains(file) => {
                let msg = sip::parse(&bytes).unwrap();
                let sent = sip::parse(&out).unwrap();
                for name in [HeaderName::From, HeaderName::To] {
                    let was = msg.headers().first(name).map(|h| h.value);
                    let now = sent.headers().first(name).map(|h| h.value);
                    assert!(was.is_some(), "{file}: no {name:?}");
                    assert_eq!(now, was, "{file}: {name:?} changed");
                }
                forwarded.push(*file);
            }
            (Reject(_, _, Reaction::Drop), Output::Drop(_)) => {}
            (
                Reject(
                    _,
                    _,
                    Reaction::Reply {
                        code,
                        reason,
                        detail,
                    },
                ),
                Output::Reply(_),
            ) => {
                let mut want = format!("SIP/2.0 {code} {reason}");
                if !detail.is_empty() {
                    want.push_str(&format!(" ({detail})"));
                }
                assert_eq!(first_line, want, "{file}");
            }
            (Accept(_), Output::Forward(_)) if !bytes.starts_with(b"SIP/") => {}
            (Accept(_), Output::Drop(d)) if bytes.starts_with(b"SIP/") => {
                assert_eq!(d.as_str(), "not_our_via", "{file}")
            }
            (_, got) => panic!("{file}: the proxy answered {got:?} ({first_line})"),
        }
    }
    assert_eq!(forwarded, PROXY_FORWARDS, "each ignored fault was met");
}

/// The full syntax check: parse, then (requests) `validate_request`.
fn run(bytes: &[u8]) -> Result<Message<'_>, (Stage, Error)> {
    let msg = sip::parse(bytes).map_err(|e| (Parse, e))?;
    if let Message::Request(r) = &msg {
        sip::validate_request(r).map_err(|e| (Validate, e))?;
    }
    Ok(msg)
}

struct IndexEntry {
    verdict: String,
    expectation: String,
    response: String,
    bytes: usize,
}

fn index() -> BTreeMap<String, IndexEntry> {
    let text = fs::read_to_string(Path::new(DIR).join("INDEX.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "INDEX.tsv row: {l}");
            let entry = IndexEntry {
                verdict: f[3].to_owned(),
                expectation: f[4].to_owned(),
                response: f[5].to_owned(),
                bytes: f[6].parse().unwrap(),
            };
            (f[0].to_owned(), entry)
        })
        .collect()
}

fn fixture_files() -> Vec<String> {
    let mut files: Vec<String> = fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    files.sort();
    files
}

// ---- view helpers ----------------------------------------------------------

fn req<'m, 'a>(m: &'m Message<'a>) -> &'m Request<'a> {
    match m {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

fn resp<'m, 'a>(m: &'m Message<'a>) -> &'m Response<'a> {
    match m {
        Message::Response(r) => r,
        Message::Request(_) => panic!("not a response"),
    }
}

fn sip_uri<'a>(u: &Uri<'a>) -> SipUri<'a> {
    *u.as_sip().expect("a sip: URI")
}

fn name<'a>(h: &[u8]) -> Host<'a> {
    // Host equality is case-insensitive on names; the lifetime is free.
    Host::Name(Box::leak(h.to_vec().into_boxed_slice()))
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Host<'static> {
    Host::V4(Ipv4Addr::new(a, b, c, d))
}

fn vias<'a>(m: &Message<'a>) -> Vec<Via<'a>> {
    m.headers().vias().map(Result::unwrap).collect()
}

fn contacts<'a>(m: &Message<'a>) -> Vec<NameAddr<'a>> {
    m.headers()
        .contacts()
        .map(|c| match c.unwrap() {
            Contact::Addr(a) => a,
            Contact::Star => panic!("Contact: *"),
        })
        .collect()
}

fn decoded_user(u: &SipUri<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    u.decode_user(&mut out);
    out
}

/// Common checks of a request: method, Request-URI, CSeq, Max-Forwards and
/// that the body is exactly Content-Length bytes.
fn common(m: &Message<'_>, method: Method<'_>, cseq: u32, mf: Option<u8>) {
    let r = req(m);
    let h = &r.headers;
    assert_eq!(r.method, method);
    let c = h.cseq().unwrap();
    assert_eq!((c.seq, c.method), (cseq, method));
    assert_eq!(h.max_forwards().unwrap().map(|m| m.0), mf);
    let e = sip::validate_request(r).unwrap();
    assert_eq!(e.cseq, cseq);
    assert_eq!(e.max_forwards, mf);
    assert_eq!(h.content_length().unwrap(), Some(r.body.len() as u32));
}

// ---- accepted messages ------------------------------------------------------

fn badbranch(m: &Message<'_>) {
    common(m, Method::Options, 8, Some(3));
    let v = req(m).headers.top_via().unwrap();
    assert_eq!(v.branch, Some(&b"z9hG4bK"[..]));
    assert!(
        !v.has_magic_cookie(),
        "the bare cookie names no transaction"
    );
    assert_eq!(v.host, v4(192, 0, 2, 1));
}

fn baddate(m: &Message<'_>) {
    common(m, Method::Invite, 1_392_934, Some(70));
    let date = m.headers().first(HeaderName::Other(b"Date")).unwrap();
    assert_eq!(date.value, b"Fri, 01 Jan 2010 16:00:00 EST");
    assert_eq!(m.body().len(), 150);
}

fn cparam01(m: &Message<'_>) {
    common(m, Method::Register, 2, Some(70));
    // A bare addr-spec: `;unknownparam` is a contact parameter, not a URI
    // parameter (RFC 3261 §20.10).
    let c = contacts(m);
    assert_eq!(c.len(), 1);
    let u = sip_uri(&c[0].uri);
    assert_eq!(u.user, Some(&b"+19725552222"[..]));
    assert_eq!(u.host, name(b"gw1.example.net"));
    assert!(u.params.is_empty());
    assert_eq!(c[0].param(b"unknownparam"), Some(None));
    assert_eq!(req(m).body, b"");
}

fn cparam02(m: &Message<'_>) {
    common(m, Method::Register, 3, Some(70));
    // Inside <...>, `;unknownparam` belongs to the URI.
    let c = contacts(m);
    assert_eq!(c.len(), 1);
    let u = sip_uri(&c[0].uri);
    assert_eq!(u.param(b"unknownparam"), Some(None));
    assert!(c[0].params.is_empty());
    assert_eq!(
        c[0].uri_raw,
        b"sip:+19725552222@gw1.example.net;unknownparam"
    );
}

fn esc01(m: &Message<'_>) {
    common(m, Method::Invite, 234_234, Some(87));
    let r = req(m);
    // The Request-URI user stays escaped in the view and decodes on demand.
    let u = sip_uri(&r.uri().unwrap());
    assert_eq!(u.user, Some(&b"sips%3Auser%40example.com"[..]));
    assert_eq!(decoded_user(&u), b"sips:user@example.com");
    assert_eq!(u.host, name(b"example.net"));
    let to = sip_uri(&r.headers.to().unwrap().uri);
    assert_eq!(decoded_user(&to), b"user");
    let from = sip_uri(&r.headers.from().unwrap().uri);
    assert_eq!(decoded_user(&from), b"I have spaces");
    assert_eq!(
        r.headers.call_id().unwrap(),
        b"esc01.239409asdfakjkn23onasd0-3234"
    );
    // Escaped parameter names and values are kept as written.
    let c = sip_uri(&contacts(m)[0].uri);
    assert_eq!(decoded_user(&c), b"caller");
    assert_eq!(c.params.raw(), b";%6C%72;n%61me=v%61lue%25%34%31");
    assert_eq!(r.body.len(), 150);
}

fn escnull(m: &Message<'_>) {
    common(m, Method::Register, 14_398_234, Some(70));
    let h = &req(m).headers;
    let to = sip_uri(&h.to().unwrap().uri);
    assert_eq!(to.user, Some(&b"null-%00-null"[..]));
    assert_eq!(decoded_user(&to), b"null-\0-null");
    let users: Vec<Vec<u8>> = contacts(m)
        .iter()
        .map(|c| decoded_user(&sip_uri(&c.uri)))
        .collect();
    assert_eq!(users, [b"\0".to_vec(), b"\0\0".to_vec()]);
    assert_eq!(req(m).body, b"");
}

fn intmeth(m: &Message<'_>) {
    const METHOD: &[u8] = b"!interesting-Method0123456789_*+`.%indeed'~";
    common(m, Method::Extension(METHOD), 139_122_385, Some(255));
    let r = req(m);
    assert_eq!(r.method.as_bytes(), METHOD);
    let u = sip_uri(&r.uri().unwrap());
    assert_eq!(
        u.user,
        Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
    );
    assert_eq!(
        u.password,
        Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
    );
    assert_eq!(u.host, name(b"example.com"));
    let v = r.headers.top_via().unwrap();
    assert_eq!(v.transport, Transport::Tcp);
    assert_eq!(v.branch, Some(&b"z9hG4bK-.!%66*_+`'~"[..]));
    let to = r.headers.to().unwrap();
    assert_eq!(to.display, Some(&b"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"[..]));
    let from = r.headers.from().unwrap();
    assert_eq!(from.display, Some(&b"token1~` token2'+_ token3*%!.-"[..]));
    assert_eq!(from.tag, Some(&b"_token~1'+`*%!-."[..]));
    let fp = from.param(b"fromParam''~+*_!.-%").unwrap().unwrap();
    assert_eq!(
        fp,
        "\"\u{440}\u{430}\u{431}\u{43e}\u{442}\u{430}\u{44e}\u{449}\u{438}\u{439}\"".as_bytes()
    );
    assert_eq!(
        r.headers.call_id().unwrap(),
        b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    let ext = r
        .headers
        .first(HeaderName::Other(b"extensionHeader-!.%*+_`'~"))
        .unwrap();
    assert_eq!(ext.value, "\u{FEFF}\u{5927}\u{505C}\u{96FB}".as_bytes());
}

fn invut(m: &Message<'_>) {
    common(m, Method::Invite, 235_448, Some(70));
    let ct = m.headers().first(HeaderName::ContentType).unwrap();
    assert_eq!(ct.value, b"application/unknownformat");
    assert_eq!(
        m.body(),
        b"<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n"
    );
}

fn mpart01(m: &Message<'_>) {
    common(m, Method::Message, 1, Some(70));
    let r = req(m);
    assert_eq!(r.body.len(), 553);
    assert!(r.body.starts_with(b"--7a9cbec02ceef655\r\n"));
    assert!(r.body.ends_with(b"--7a9cbec02ceef655--\r\n"));
    let v = r.headers.top_via().unwrap();
    assert_eq!(v.rport, Rport::Requested);
    assert_eq!(v.port, Some(5070));
    let routes: Vec<NameAddr<'_>> = r.headers.routes().map(Result::unwrap).collect();
    assert_eq!(routes.len(), 1);
    let ru = sip_uri(&routes[0].uri);
    assert_eq!(
        (ru.host, ru.port, ru.lr()),
        (v4(127, 0, 0, 1), Some(5080), false)
    );
    assert_eq!(
        r.headers.user_agent(),
        Some(&b"SIPimp.org/0.2.5 (curses)"[..])
    );
    let id = r.headers.first(HeaderName::Identity).unwrap();
    assert!(id.value.starts_with(b"r5mwreLuyDRYBi/0"));
}

fn regaut01(m: &Message<'_>) {
    common(m, Method::Register, 9338, Some(8));
    // An unknown scheme is kept opaque.
    let c: Credentials<'_> = m.headers().authorization().unwrap().unwrap();
    assert_eq!(c.scheme, b"NoOneKnowsThisScheme");
    assert_eq!(c.params, b"opaque-data=here");
    assert!(!c.is_digest());
    assert_eq!(req(m).body, b"");
}

fn regescrt(m: &Message<'_>) {
    common(m, Method::Register, 14_398_234, Some(70));
    // An escaped header in a Contact URI (fine there, not in a Request-URI).
    let c = sip_uri(&contacts(m)[0].uri);
    assert_eq!(c.headers, Some(&b"Route=%3Csip:sip.example.com%3E"[..]));
    assert_eq!(c.user, Some(&b"user"[..]));
    assert_eq!(c.host, name(b"example.com"));
}

fn sdp01(m: &Message<'_>) {
    common(m, Method::Invite, 8, Some(5));
    let accept = m.headers().first(HeaderName::Other(b"Accept")).unwrap();
    assert_eq!(accept.value, b"text/nobodyKnowsThis");
    assert_eq!(m.body().len(), 150);
}

fn trws(m: &Message<'_>) {
    common(m, Method::Options, 238_923, Some(70));
    let r = req(m);
    assert_eq!(r.uri_raw, b"sip:remote-target@example.com");
    assert_eq!(r.headers.top_via().unwrap().transport, Transport::Tcp);
}

fn unreason(m: &Message<'_>) {
    let r = resp(m);
    assert_eq!(r.code, 200);
    let reason = "= 2**3 * 5**2 \u{43d}\u{43e} \u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{43d}\u{43e}\u{441}\u{442}\u{43e} \u{434}\u{435}\u{432}\u{44f}\u{442}\u{44c} - \u{43f}\u{440}\u{43e}\u{441}\u{442}\u{43e}\u{435}";
    assert_eq!(r.reason, reason.as_bytes());
    let h = &r.headers;
    assert_eq!(h.cseq().unwrap().seq, 35);
    assert_eq!(h.to().unwrap().tag, Some(&b"2229"[..]));
    assert_eq!(h.from().unwrap().tag, Some(&b"11141343"[..]));
    assert_eq!(h.content_length().unwrap(), Some(154));
    assert_eq!(r.body.len(), 154);
    assert_eq!(h.top_via().unwrap().branch, Some(&b"z9hG4bK1324923"[..]));
}

fn wsinv(m: &Message<'_>) {
    // Max-Forwards 0068 and CSeq 0009 folded before INVITE.
    common(m, Method::Invite, 9, Some(68));
    let r = req(m);
    let h = &r.headers;
    let u = sip_uri(&r.uri().unwrap());
    assert_eq!(u.param(b"unknownparam"), Some(None));
    // Three Vias: one folded over three lines, two on one folded line.
    let v = vias(m);
    let got: Vec<(Transport, Host<'_>, Option<&[u8]>)> =
        v.iter().map(|v| (v.transport, v.host, v.branch)).collect();
    assert_eq!(
        got,
        [
            (Transport::Udp, v4(192, 0, 2, 2), Some(&b"390skdjuw"[..])),
            (
                Transport::Tcp,
                name(b"spindle.example.com"),
                Some(&b"z9hG4bK9ikj8"[..])
            ),
            (
                Transport::Udp,
                v4(192, 168, 255, 111),
                Some(&b"z9hG4bK30239"[..])
            ),
        ]
    );
    assert!(!v[0].has_magic_cookie());
    assert!(v[1].has_magic_cookie() && v[2].has_magic_cookie());
    let to = h.to().unwrap();
    assert_eq!(to.tag, Some(&b"1918181833n"[..]));
    assert_eq!(sip_uri(&to.uri).host, name(b"chair-dnrc.example.com"));
    let from = h.from().unwrap();
    assert_eq!(from.display, Some(&b"J Rosenberg \\\\\\\""[..]));
    assert_eq!(from.tag, Some(&b"98asjd8"[..]));
    assert_eq!(h.call_id().unwrap(), b"wsinv.ndaksdj@192.0.2.1");
    let routes: Vec<NameAddr<'_>> = h.routes().map(Result::unwrap).collect();
    assert_eq!(routes.len(), 1);
    let ru = sip_uri(&routes[0].uri);
    assert!(ru.lr());
    assert_eq!(ru.param(b"unknownwith"), Some(Some(&b"value"[..])));
    let c = contacts(m);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].display, Some(&b"Quoted string \\\"\\\""[..]));
    assert_eq!(c[0].param(b"newparam"), Some(Some(&b"newvalue"[..])));
    assert_eq!(c[0].param(b"secondparam"), Some(None));
    assert_eq!(
        h.contacts().next().unwrap().unwrap().q(),
        Some(&b"0.33"[..])
    );
    assert_eq!(h.first(HeaderName::Subject).unwrap().value, b"");
    assert_eq!(r.body.len(), 150);
    assert_eq!(
        h.top_via().unwrap().host.ip(),
        Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)))
    );
}

/// novelsc and unkscm parse: the Request-URI view keeps the scheme; only
/// the proxy's Request-URI check turns them into 416.
#[test]
fn atypical_schemes_parse_and_keep_their_scheme() {
    for (file, scheme, rest) in [
        ("novelsc.dat", &b"soap.beep"[..], &b"//192.0.2.103:3002"[..]),
        (
            "unkscm.dat",
            b"nobodyKnowsThisScheme",
            b"totallyopaquecontent",
        ),
    ] {
        let bytes = fs::read(Path::new(DIR).join(file)).unwrap();
        let msg = sip::parse(&bytes).unwrap();
        let r = req(&msg);
        assert_eq!(r.method, Method::Options, "{file}");
        assert_eq!(r.uri().unwrap(), Uri::Absolute { scheme, rest }, "{file}");
        assert_eq!(sip::essentials(r).unwrap().cseq, 3_923_423, "{file}");
        assert_eq!(
            sip::check_request_uri(r),
            Err(Error::UnsupportedScheme),
            "{file}"
        );
    }
}

/// escruri parses; its Request-URI holds the escaped header, which is what
/// the check rejects.
#[test]
fn escruri_request_uri_keeps_its_header() {
    let bytes = fs::read(Path::new(DIR).join("escruri.dat")).unwrap();
    let msg = sip::parse(&bytes).unwrap();
    let u = sip_uri(&req(&msg).uri().unwrap());
    assert_eq!(u.headers, Some(&b"Route=%3Csip:example.com%3E"[..]));
    assert_eq!(sip::essentials(req(&msg)).unwrap().cseq, 149_209_342);
}

/// scalar02's other overlarge values, each on its own: Max-Forwards 300 is
/// invalid, Expires and the contact `expires` clamp to 2^32-1.
#[test]
fn scalar02_other_fields() {
    let bytes = fs::read(Path::new(DIR).join("scalar02.dat")).unwrap();
    let msg = sip::parse(&bytes).unwrap();
    let h = msg.headers();
    assert_eq!(h.max_forwards(), Err(Error::Invalid("Max-Forwards")));
    assert_eq!(h.expires().unwrap().map(|e| e.0), Some(u32::MAX));
    let c = h.contacts().next().unwrap().unwrap();
    assert_eq!(c.expires(), Some(u32::MAX));
}

/// multi01: every single-valued header that appears twice is a Duplicate.
#[test]
fn multi01_duplicates() {
    let bytes = fs::read(Path::new(DIR).join("multi01.dat")).unwrap();
    let msg = sip::parse(&bytes).unwrap();
    let h = msg.headers();
    assert_eq!(h.from(), Err(Error::Duplicate("From")));
    assert_eq!(h.to(), Err(Error::Duplicate("To")));
    assert_eq!(h.call_id(), Err(Error::Duplicate("Call-ID")));
    assert_eq!(h.cseq(), Err(Error::Duplicate("CSeq")));
}
