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

/// The routing file of issue 18's speed target, written to a temporary
/// folder and compiled as the proxy does: 1,000,000 prefixes (random dial
/// strings of 4 to 11 digits, plus +1, +15, ... +1555123456, which the
/// bench INVITE's +15551234567 walks down) and 50 rules, the first 49 of
/// kinds the INVITE does not match (as `benches/routing_table.py` writes
/// them), the last the prefix table. Members are the flags-only table's.
fn rules_table() -> Table {
    use std::fmt::Write as _;
    let dir = std::env::temp_dir().join(format!("branchline-bench-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("prefix,group\n");
    let mut seen = std::collections::HashSet::new();
    for (i, k) in (2..=11).enumerate() {
        let p = &"+1555123456"[..k];
        seen.insert(p.to_owned());
        let _ = writeln!(csv, "{p},lcr{}", i % 8);
    }
    let mut x = 18u64;
    while seen.len() < 1_000_010 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let len = 4 + (x >> 60) as usize % 8;
        let p: String = (0..len)
            .map(|d| char::from(b'0' + ((x >> (4 * d + 8)) % 10) as u8))
            .collect();
        if seen.insert(p.clone()) {
            let _ = writeln!(csv, "{p},lcr{}", seen.len() % 8);
        }
    }
    std::fs::write(dir.join("prefixes.csv"), csv).unwrap();
    let mut file = String::from("[routing]\ndefault = \"pbx\"\n");
    for g in [
        "pbx", "lcr0", "lcr1", "lcr2", "lcr3", "lcr4", "lcr5", "lcr6", "lcr7",
    ] {
        let _ = writeln!(
            file,
            "[groups.{g}]\nmembers = [\"192.0.2.50:5060\", \"192.0.2.51:5060\"]"
        );
    }
    for i in 0..49 {
        let body = match i % 7 {
            0 => format!("match.user_agent = [\"friendly-scanner-{i}\", \"sipvicious-{i}\"]\naction = \"drop\""),
            1 => format!("match.method = [\"MESSAGE\"]\nmatch.ruri_user_prefix = [\"+49{i}\"]\nroute = \"lcr1\""),
            2 => format!("match.source = [\"10.{i}.0.0/16\", \"2001:db8:{i}::/48\"]\nroute = \"lcr2\""),
            3 => format!("match.header = {{ name = \"X-Tenant-{i}\", value = \"t{i}\" }}\nroute = \"lcr3\""),
            4 => format!("match.ruri_domain = [\"tenant{i}.example.com\", \"*.tenant{i}.example.net\"]\nroute = \"lcr4\""),
            5 => format!("match.to_user = [\"99{i}\"]\nreject = {{ code = 403, reason = \"Forbidden\" }}"),
            _ => format!("match.from_domain = [\"blocked{i}.example.org\"]\naction = \"drop\""),
        };
        let _ = writeln!(file, "[[rules]]\nname = \"r{i}\"\n{body}");
    }
    file.push_str("[[rules]]\nname = \"lcr\"\nprefix_table = \"prefixes.csv\"\n");
    let path = dir.join("routing.toml");
    std::fs::write(&path, file).unwrap();
    let config = branchline::config::load(&path).unwrap();
    let table = branchline::config::compile(&config, None, 0).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    table
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
    // The same INVITE, routed by 50 rules and a 1,000,000-prefix table;
    // and the table's decision alone for it.
    let ruled = rules_table();
    let o = proxy.handle(&inv, &ruled, &mut scratch, &mut out);
    assert!(matches!(o, Output::Forward(_)), "{o:?}");
    g.bench_function(
        format!("handle_invite_{}B_50_rules_1m_prefixes", INVITE.len()),
        |b| {
            b.iter(|| {
                let o = proxy.handle(black_box(&inv), &ruled, &mut scratch, &mut out);
                black_box((o, out.len()))
            })
        },
    );
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
