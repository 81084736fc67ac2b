//! `route::Table::select` with the routing file's engine: a table of
//! 1,000,000 generated prefixes behind 49 other rules, on a number that
//! walks deep into the prefix table; the same request on the prefix table
//! alone (the lookup's own cost); and on a table without rules. Setup
//! prints how long compiling the prefixes took and the resident memory it
//! added.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use branchline::cidr::CidrSet;
use branchline::route::{
    ActionSpec, DomainSet, Match, MethodSet, PrefixMap, RequestFields, RouteInput, RuleSpec,
    Substrings, Table, TableBuilder, Upstream, UriParts, UserSet,
};
use branchline::sip::uri::Host;
use branchline::sip::{Method, Transport};
use criterion::{criterion_group, criterion_main, Criterion};

/// The dialled number: every one of its prefixes from 2 symbols up is in
/// the table, so the lookup lands deep.
const NUMBER: &[u8] = b"+44 20 7946 0123";

/// The request's fields, as the proxy would hand them over.
struct Fields;

impl RequestFields for Fields {
    fn ruri(&self) -> Option<UriParts<'_>> {
        Some(UriParts {
            user: NUMBER,
            host: Some(Host::Name(b"core.example.net")),
            phone: true,
        })
    }
    fn from(&self) -> Option<UriParts<'_>> {
        Some(UriParts {
            user: b"alice",
            host: Some(Host::Name(b"atlanta.example.com")),
            phone: false,
        })
    }
    fn to(&self) -> Option<UriParts<'_>> {
        self.ruri()
    }
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        name.eq_ignore_ascii_case(b"User-Agent")
            .then_some(b"Linphone/5.2.0 (belle-sip/5.2.0)".as_slice())
    }
}

fn groups() -> TableBuilder {
    let up = |a: &str| Upstream {
        addr: a.parse::<SocketAddr>().unwrap(),
        transport: Transport::Udp,
        weight: 1,
    };
    (0..8).fold(Table::builder(), |b, g| {
        b.group(
            format!("g{g}"),
            [
                up(&format!("192.0.2.{}:5060", 10 + g)),
                up(&format!("192.0.2.{}:5060", 50 + g)),
            ],
        )
    })
}

/// A million distinct prefixes of 4 to 11 digits after a country code,
/// plus every prefix of `NUMBER`.
fn prefixes() -> Vec<(String, String)> {
    let mut x = 0x1234_5678_u64;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let ccs = ["+44", "+1", "+33", "+49", "+4420", "0044", "+3912"];
    let mut out: Vec<String> = Vec::with_capacity(1_000_100);
    while out.len() < 1_000_000 {
        let r = next();
        let len = 4 + (r % 8) as usize;
        let mut p = String::from(ccs[(r >> 8) as usize % ccs.len()]);
        let mut d = next();
        for _ in 0..len {
            p.push(char::from(b'0' + (d % 10) as u8));
            d /= 10;
        }
        out.push(p);
        if out.len() % 100_000 == 0 {
            out.sort_unstable();
            out.dedup();
        }
    }
    let number: String = NUMBER
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| char::from(b))
        .collect();
    for n in 2..=number.len() {
        out.push(number[..n].to_owned());
    }
    out.sort_unstable();
    out.dedup();
    out.into_iter()
        .enumerate()
        .map(|(i, p)| (p, format!("g{}", i % 8)))
        .collect()
}

/// Resident memory, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The million prefixes, compiled.
fn prefix_map() -> PrefixMap<String> {
    let entries = prefixes();
    let before = rss();
    let start = Instant::now();
    let map = PrefixMap::new(entries).unwrap();
    let took = start.elapsed();
    eprintln!(
        "compiled {} prefixes in {:.2?}, +{} MB resident",
        map.len(),
        took,
        rss().saturating_sub(before) / 1_000_000
    );
    map
}

/// A rule without keys that routes by the prefix table.
fn lcr(map: PrefixMap<String>) -> RuleSpec {
    RuleSpec {
        name: "lcr".into(),
        matches: vec![],
        action: ActionSpec::PrefixTable(map),
        rewrite: None,
        auth: None,
        challenge_www: false,
    }
}

/// The prefix table alone.
fn prefixes_only(map: PrefixMap<String>) -> Table {
    groups().rule(lcr(map)).build().unwrap()
}

/// 49 rules the request does not match, then the prefix table.
fn with_rules(map: PrefixMap<String>) -> Table {
    let mut b = groups();
    for i in 0..49 {
        let m = match i % 7 {
            0 => Match::Method(MethodSet::new(["REGISTER", "SUBSCRIBE"]).unwrap()),
            1 => Match::Source(CidrSet::parse(["198.51.100.0/24", "2001:db8::/32"]).unwrap()),
            2 => Match::RuriUser(UserSet::new([format!("9{i:03}")]).unwrap()),
            3 => Match::RuriDomain(
                DomainSet::new([format!("tenant{i}.example.org"), "*.example.org".into()]).unwrap(),
            ),
            4 => Match::FromUser(UserSet::new(["mallory", "trudy"]).unwrap()),
            5 => Match::UserAgent(Substrings::new(["friendly-scanner", "sipvicious"]).unwrap()),
            _ => Match::ToDomain(DomainSet::new(["partner.example.com"]).unwrap()),
        };
        b = b.rule(RuleSpec {
            name: format!("r{i}"),
            matches: vec![m],
            action: ActionSpec::Route(format!("g{}", i % 8)),
            rewrite: None,
            auth: None,
            challenge_www: false,
        });
    }
    b.rule(lcr(map)).build().unwrap()
}

fn select(c: &mut Criterion) {
    let input = RouteInput {
        method: Method::Invite,
        call_id: b"a84b4c76e66710@pc33.atlanta.example.com",
        source: "203.0.113.7:5060".parse().unwrap(),
        transport: Transport::Udp,
        now_unix_secs: 1_700_000_000,
        request: &Fields,
    };
    let plain = groups().build().unwrap();
    let map = prefix_map();
    let lookup = prefixes_only(map.clone());
    let rules = with_rules(map);
    assert!(rules.select(&input).dest().is_some());
    let addr = |t: &Table| t.select(&input).dest().map(|d| d.addr());
    assert_eq!(addr(&lookup), addr(&rules));
    let mut g = c.benchmark_group("route");
    g.bench_function("select_no_rules", |b| {
        b.iter(|| black_box(plain.select(black_box(&input))))
    });
    g.bench_function("select_1m_prefixes_only", |b| {
        b.iter(|| black_box(lookup.select(black_box(&input))))
    });
    g.bench_function("select_50_rules_1m_prefixes", |b| {
        b.iter(|| black_box(rules.select(black_box(&input))))
    });
    g.finish();
}

criterion_group!(benches, select);
criterion_main!(benches);
