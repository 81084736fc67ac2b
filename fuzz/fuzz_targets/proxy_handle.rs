//! `Proxy::handle` on arbitrary bytes, as a UDP datagram and as a framed
//! TCP message on a connection: it never panics, whatever it forwards or
//! answers parses back as the same kind of message, nothing it forwards
//! is larger than the size limit, and whatever its one-pass path
//! forwards, the general path forwards the same way, byte for byte.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use branchline::proxy::{
    Config, ConnRef, Input, Key, Listener, Output, Proxy, Scratch, DEFAULT_MAX_MESSAGE_SIZE,
};
use branchline::route::{Table, Upstream};
use branchline::sip::{self, Message, Transport};
use libfuzzer_sys::fuzz_target;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn world() -> &'static (Proxy, Table) {
    static WORLD: OnceLock<(Proxy, Table)> = OnceLock::new();
    WORLD.get_or_init(|| {
        let listener = |transport, a| Listener {
            transport,
            addr: addr(a),
            advertise: None,
        };
        let mut config = Config::new(
            vec![
                listener(Transport::Udp, "192.0.2.10:5060"),
                listener(Transport::Tcp, "192.0.2.10:5060"),
                listener(Transport::Udp, "[2001:db8::10]:5060"),
            ],
            Key::new(0x0102_0304_0506_0708, 0x1112_1314_1516_1718),
        );
        config.aliases = vec!["proxy.example.com".into()];
        let ups = [
            ("192.0.2.50:5060", Transport::Udp),
            ("192.0.2.51:5060", Transport::Tcp),
            ("[2001:db8::50]:5060", Transport::Udp),
        ];
        let table = Table::from_upstreams(ups.map(|(a, transport)| Upstream {
            addr: addr(a),
            transport,
            weight: 1,
        }))
        .unwrap();
        (Proxy::new(config).unwrap(), table)
    })
}

fuzz_target!(|data: &[u8]| {
    let (proxy, table) = world();
    let udp = Input {
        data,
        source: addr("198.51.100.7:5062"),
        local: addr("192.0.2.10:5060"),
        transport: Transport::Udp,
        conn: None,
        now: 1_700_000_000,
    };
    let tcp = Input {
        source: addr("198.51.100.8:40123"),
        transport: Transport::Tcp,
        conn: Some(ConnRef { worker: 3, id: 77 }),
        ..udp
    };
    let v6 = Input {
        source: addr("[2001:db8::7]:5062"),
        local: addr("[2001:db8::10]:5060"),
        ..udp
    };
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let mut general = Vec::new();
    for input in [udp, tcp, v6] {
        if let Some(fast) = proxy.forward_one_pass(&input, table, &mut out) {
            let slow = proxy.handle_general(&input, table, &mut scratch, &mut general);
            assert!(
                (fast, &out) == (slow, &general),
                "the paths disagree:\n{}\n--- one pass: {fast:?} ---\n{}\n--- general: {slow:?} ---\n{}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&general)
            );
        } else {
            assert!(out.is_empty(), "a declined request left output behind");
        }
        let sent = match proxy.handle(&input, table, &mut scratch, &mut out) {
            Output::Forward(_) => {
                assert!(
                    out.len() <= DEFAULT_MAX_MESSAGE_SIZE,
                    "forwarded past the size limit"
                );
                true
            }
            Output::Reply(_) => false,
            Output::Drop(_) | Output::Probe(_) => continue,
        };
        let was_request = matches!(sip::parse(data), Ok(Message::Request(_))) || !sent;
        match sip::parse(&out) {
            Ok(m) => assert_eq!(
                m.is_request(),
                sent && was_request,
                "{} turned into the wrong kind of message:\n{}",
                if sent {
                    "a forwarded message"
                } else {
                    "a reply"
                },
                String::from_utf8_lossy(&out)
            ),
            Err(e) => panic!(
                "{} does not parse ({e}):\n{}\n--- from ---\n{}",
                if sent {
                    "a forwarded message"
                } else {
                    "a reply"
                },
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(data)
            ),
        }
    }
});
