//! The digest authenticator on arbitrary credentials: `Proxy::handle` with
//! `[auth]` on, given the input as a whole message and as the value of a
//! `Proxy-Authorization` header of an otherwise well-formed INVITE (which is
//! where the authenticator reads). It never panics, and whatever it answers
//! parses back as a response; a request with credentials it accepts is
//! forwarded without our realm's `Proxy-Authorization`.
#![no_main]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use branchline::auth::{DigestAuth, DigestSettings};
use branchline::cidr::CidrSet;
use branchline::digest::{Algorithm, Users};
use branchline::proxy::{Config, Input, Key, Listener, Output, Proxy, Scratch};
use branchline::route::{Table, Upstream};
use branchline::sip::{self, Message, Transport};
use libfuzzer_sys::fuzz_target;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn world() -> &'static (Proxy, Table) {
    static WORLD: OnceLock<(Proxy, Table)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let users = Users::parse("alice,secret\nbob,md5:0123456789abcdef0123456789abcdef\n", "users", "example.net").unwrap();
        let settings = DigestSettings {
            realm: "example.net".into(),
            users_file: PathBuf::from("unused"),
            methods: vec!["INVITE".into(), "REGISTER".into()],
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nonce_lifetime_secs: 300,
            trusted: CidrSet::new([]),
            bind_nonce: true,
        };
        let mut config = Config::new(
            vec![Listener {
                transport: Transport::Udp,
                addr: addr("192.0.2.10:5060"),
                advertise: None,
            }],
            Key::new(7, 8),
        );
        config.auth = Arc::new(DigestAuth::with_users(settings, b"fuzz", users));
        let table = Table::from_upstreams([Upstream {
            addr: addr("192.0.2.50:5060"),
            transport: Transport::Udp,
            weight: 1,
        }])
        .unwrap();
        (Proxy::new(config).unwrap(), table)
    })
}

fn check(proxy: &Proxy, table: &Table, data: &[u8]) {
    let input = Input {
        data,
        source: addr("198.51.100.7:5062"),
        local: addr("192.0.2.10:5060"),
        transport: Transport::Udp,
        conn: None,
        now: 1_700_000_000,
    };
    let mut out = Vec::new();
    match proxy.handle(&input, table, &mut Scratch::new(), &mut out) {
        Output::Reply(_) => assert!(
            matches!(sip::parse(&out), Ok(Message::Response(_))),
            "a reply that does not parse:\n{}",
            String::from_utf8_lossy(&out)
        ),
        Output::Forward(_) => {
            if let Ok(Message::Request(r)) = sip::parse(&out) {
                for v in r.headers.values(sip::HeaderName::ProxyAuthorization) {
                    let c = sip::credentials::Credentials::parse(v);
                    assert!(
                        !c.is_ok_and(|c| c.is_digest() && c.realm() == Some(&b"example.net"[..])),
                        "our credentials were forwarded"
                    );
                }
            }
        }
        Output::Drop(_) | Output::Probe(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let (proxy, table) = world();
    check(proxy, table, data);
    let mut msg = b"INVITE sip:+442079460000@example.net SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:+442079460000@example.net>\r\n\
From: <sip:alice@example.net>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.net\r\n\
CSeq: 1 INVITE\r\n\
Proxy-Authorization: Digest "
        .to_vec();
    msg.extend_from_slice(data);
    msg.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    check(proxy, table, &msg);
});
