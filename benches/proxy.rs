//! `Proxy::handle` end to end: parse, validate, route, and splice the
//! forwarded message into a reused buffer, for a realistic ~900-byte INVITE
//! with SDP and for the 200 OK that answers it.

use std::hint::black_box;
use std::net::SocketAddr;

use branchline::proxy::{Config, Input, Key, Listener, Output, Proxy, Scratch};
use branchline::route::{Table, Upstream};
use branchline::sip::{self, Transport};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A carrier-style INVITE: rport, two Route headers (the first names this
/// proxy, the second a core node by name, so the table picks the upstream),
/// Contact, Allow, Supported, User-Agent and an SDP offer.
const INVITE: &[u8] = include_bytes!("messages/proxy_invite.sip");

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn setup() -> (Proxy, Table) {
    let config = Config::new(
        vec![Listener {
            transport: Transport::Udp,
            addr: addr("192.0.2.10:5060"),
            advertise: None,
        }],
        Key::new(0x0102_0304_0506_0708, 0x1112_1314_1516_1718),
    );
    let table = Table::from_upstreams(["192.0.2.50:5060", "192.0.2.51:5060"].map(|a| Upstream {
        addr: addr(a),
        transport: Transport::Udp,
        weight: 1,
    }))
    .unwrap();
    (Proxy::new(config).unwrap(), table)
}

fn input<'a>(data: &'a [u8], source: &str) -> Input<'a> {
    Input {
        data,
        source: addr(source),
        local: addr("192.0.2.10:5060"),
        transport: Transport::Udp,
        conn: None,
        now: 1_700_000_000,
    }
}

/// The 200 OK the upstream sends for the forwarded INVITE: its Vias (ours
/// on top), Record-Route, a Contact and an SDP answer.
fn ok200(forwarded: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(forwarded).unwrap();
    let keep = |l: &&str| {
        ["Via:", "Record-Route:", "From:", "To:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|p| l.starts_with(p))
    };
    let mut m = String::from("SIP/2.0 200 OK\r\n");
    for line in text.split("\r\n").filter(keep) {
        if line.starts_with("To:") {
            m.push_str(line);
            m.push_str(";tag=as7c2b1f3e\r\n");
        } else {
            m.push_str(line);
            m.push_str("\r\n");
        }
    }
    let sdp = "v=0\r\no=- 2808844564 2808844564 IN IP4 192.0.2.50\r\ns=-\r\n\
c=IN IP4 192.0.2.50\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
a=ptime:20\r\na=sendrecv\r\n";
    m.push_str(
        "Contact: <sip:+15551234567@192.0.2.50:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE, PRACK, INFO\r\n\
Supported: replaces, timer\r\nSession-Expires: 1800;refresher=uac\r\n\
Server: ExamplePBX/7.1\r\nContent-Type: application/sdp\r\n",
    );
    m.push_str(&format!("Content-Length: {}\r\n\r\n{sdp}", sdp.len()));
    m.into_bytes()
}

fn bench(c: &mut Criterion) {
    let (proxy, table) = setup();
    let mut scratch = Scratch::new();
    let mut out = Vec::with_capacity(2048);

    let inv = input(INVITE, "198.51.100.7:5062");
    let o = proxy.handle(&inv, &table, &mut scratch, &mut out);
    assert!(matches!(o, Output::Forward(_)), "{o:?}");
    let forwarded = out.clone();
    let resp = ok200(&forwarded);
    let rin = input(&resp, "192.0.2.50:5060");
    let o = proxy.handle(&rin, &table, &mut scratch, &mut out);
    assert!(
        matches!(o, Output::Forward(t) if t.dest == addr("198.51.100.7:5062")),
        "{o:?}"
    );

    let mut g = c.benchmark_group("proxy");
    g.throughput(Throughput::Bytes(INVITE.len() as u64));
    g.bench_function(format!("handle_invite_{}B", INVITE.len()), |b| {
        b.iter(|| {
            let o = proxy.handle(black_box(&inv), &table, &mut scratch, &mut out);
            black_box((o, out.len()))
        })
    });
    // For scale: the parse alone, which `handle` starts with.
    g.bench_function(format!("parse_invite_{}B", INVITE.len()), |b| {
        b.iter(|| black_box(sip::parse(black_box(INVITE)).is_ok()))
    });
    g.throughput(Throughput::Bytes(resp.len() as u64));
    g.bench_function(format!("relay_200_{}B", resp.len()), |b| {
        b.iter(|| {
            let o = proxy.handle(black_box(&rin), &table, &mut scratch, &mut out);
            black_box((o, out.len()))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
