//! The index decides as the rules tested one by one: random rule sets over
//! a small vocabulary (so that requests hit them), random requests.

use std::net::SocketAddr;

use super::*;
use crate::route::prefix::tests::Rng;
use crate::route::{
    ActionSpec, DomainSet, MethodSet, PrefixMap, PrefixSet, RequestFields, RouteInput, RuleSpec,
    Substrings, Table, TimeWindow, TransportSet, Upstream, UriParts, UserSet,
};

/// More draws from the prefix tests' generator.
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())].clone()
    }

    /// One to three entries of `from`.
    fn some<T: Clone>(&mut self, from: &[T]) -> Vec<T> {
        (0..1 + self.below(3)).map(|_| self.pick(from)).collect()
    }
}

const DOMAINS: &[&str] = &[
    "example.com",
    "*.example.com",
    "Example.NET",
    "*.b.example.com",
    "a.example.com",
    "*.com",
    "192.0.2.1",
    "[2001:db8::1]",
];
const USERS: &[&str] = &["alice", "bob", "+44 20 7946 0000", "9999"];
/// More than FEW_AGENTS, so that both searches run.
const AGENTS: &[&str] = &[
    "scanner",
    "sipvicious",
    "lin",
    "phone/5",
    "Fri",
    "ly-s",
    "xyz",
];
const HEADERS: &[&str] = &["X-Tenant", "x-tenant", "X-Other", "User-Agent"];
const VALUES: &[&str] = &["acme", "beta", "Linphone/5.2"];

fn key(rng: &mut Rng) -> Match {
    match rng.below(15) {
        0 => Match::Method(
            MethodSet::new(rng.some(&["INVITE", "REGISTER", "BYE", "FOO", "BAR"])).unwrap(),
        ),
        1 => Match::Transport(TransportSet::new(rng.some(&[
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
        ]))),
        2 => Match::Source(
            CidrSet::parse(rng.pick(&[
                vec!["10.0.0.0/8"],
                vec!["10.1.0.0/16", "2001:db8::/32"],
                vec!["192.0.2.7"],
            ]))
            .unwrap(),
        ),
        3 => Match::RuriUser(UserSet::new(rng.some(USERS)).unwrap()),
        4 => Match::FromUser(UserSet::new(rng.some(USERS)).unwrap()),
        5 => Match::ToUser(UserSet::new(rng.some(USERS)).unwrap()),
        6 => Match::RuriDomain(DomainSet::new(rng.some(DOMAINS)).unwrap()),
        7 => Match::FromDomain(DomainSet::new(rng.some(DOMAINS)).unwrap()),
        8 => Match::ToDomain(DomainSet::new(rng.some(DOMAINS)).unwrap()),
        9 => Match::UserAgent(Substrings::new(rng.some(AGENTS)).unwrap()),
        10 => Match::Header {
            name: rng.pick(HEADERS).into(),
            value: (rng.below(3) > 0).then(|| rng.pick(VALUES).into()),
        },
        11 => {
            Match::RuriUserPrefix(PrefixSet::new(rng.some(&["+44", "+4420", "1", "0044"])).unwrap())
        }
        12 => Match::Time(vec![rng.pick(&[
            TimeWindow::new("mon-fri", "08:00-18:00", "UTC").unwrap(),
            TimeWindow::new("sat-sun", "22:00-06:00", "Europe/London").unwrap(),
        ])]),
        13 => Match::RuriUserRegex(
            regex::bytes::Regex::new(rng.pick(&["^1[0-9]{3}$", "li"])).unwrap(),
        ),
        _ => Match::Method(MethodSet::new(["INVITE"]).unwrap()),
    }
}

fn action(rng: &mut Rng) -> ActionSpec {
    match rng.below(8) {
        0 => ActionSpec::Reject {
            code: 403,
            reason: "Forbidden".into(),
        },
        1 => ActionSpec::Drop,
        2 => ActionSpec::Next,
        3 => ActionSpec::PrefixTable(
            PrefixMap::new(vec![
                ("+44".into(), "b".into()),
                ("+4420".into(), "c".into()),
                ("1".into(), "a".into()),
            ])
            .unwrap(),
        ),
        _ => ActionSpec::Route(rng.pick(&["a", "b", "c"]).into()),
    }
}

fn table(rng: &mut Rng, rules: usize) -> Table {
    let up = |last: u8| Upstream {
        addr: SocketAddr::from(([10, 0, 0, last], 5060)),
        transport: Transport::Udp,
        weight: 1,
    };
    let mut b = Table::builder()
        .group("a", [up(1)])
        .group("b", [up(2)])
        .group("c", [up(3)]);
    for i in 0..rules {
        // Few keys, so that rules match often.
        let keys = [0, 1, 1, 1, 2, 2, 3][rng.below(7)];
        b = b.rule(RuleSpec {
            name: format!("r{i}"),
            matches: (0..keys).map(|_| key(rng)).collect(),
            action: action(rng),
            rewrite: None,
            auth: None,
            challenge_www: false,
        });
    }
    b.build().unwrap()
}

/// A request's fields.
struct Req {
    ruri: Option<UriParts<'static>>,
    from: Option<UriParts<'static>>,
    to: Option<UriParts<'static>>,
    headers: Vec<(&'static [u8], &'static [u8])>,
}

impl RequestFields for Req {
    fn ruri(&self) -> Option<UriParts<'_>> {
        self.ruri
    }
    fn from(&self) -> Option<UriParts<'_>> {
        self.from
    }
    fn to(&self) -> Option<UriParts<'_>> {
        self.to
    }
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

const LONG: &str = "a23456789.123456789.123456789.123456789.123456789.123456789.\
    123456789.123456789.123456789.123456789.123456789.123456789.123456789.\
    123456789.123456789.123456789.123456789.123456789.123456789.123456789.\
    123456789.123456789.123456789.123456789.123456789.123456789.example.com";

fn uri(rng: &mut Rng) -> Option<UriParts<'static>> {
    if rng.below(8) == 0 {
        return None;
    }
    let user: &'static [u8] = rng.pick(&[
        &b"alice"[..],
        b"Alice",
        b"bob",
        b"+44-20-7946-0000",
        b"%2B442079460000",
        b"99-99",
        b"1234",
        b"12125550100",
        b"carol",
        b"",
    ]);
    let host = match rng.below(13) {
        0 => None,
        1 => Some(Host::V4("192.0.2.1".parse().unwrap())),
        2 => Some(Host::V6("2001:db8::1".parse().unwrap())),
        3 => Some(Host::Name(LONG.as_bytes())),
        _ => Some(Host::Name(rng.pick(&[
            &b"example.com"[..],
            b"A.Example.com.",
            b"x.b.example.com",
            b"b.example.com",
            b"example.net",
            b".example.com",
            b"com",
            b"192.0.2.1",
            b"other.org",
        ]))),
    };
    Some(UriParts {
        user,
        host,
        phone: rng.below(4) == 0,
    })
}

fn request(rng: &mut Rng) -> Req {
    let mut headers: Vec<(&'static [u8], &'static [u8])> = Vec::new();
    for _ in 0..rng.below(4) {
        let name: &'static [u8] = rng.pick(&[&b"X-Tenant"[..], b"x-other", b"User-Agent"]);
        let value: &'static [u8] = rng.pick(&[
            &b"acme"[..],
            b"beta",
            b"Linphone/5.2",
            b"friendly-SCANNER",
            b"SIPVicious 0.3",
            b"x",
        ]);
        headers.push((name, value));
    }
    Req {
        ruri: uri(rng),
        from: uri(rng),
        to: uri(rng),
        headers,
    }
}

fn input<'a>(rng: &mut Rng, req: &'a Req) -> RouteInput<'a> {
    RouteInput {
        method: rng.pick(&[
            Method::Invite,
            Method::Register,
            Method::Bye,
            Method::Ack,
            Method::Extension(b"FOO"),
            Method::Extension(b"BAZ"),
        ]),
        call_id: b"call@x",
        source: rng
            .pick(&[
                "10.1.2.3:5060",
                "10.2.0.1:5060",
                "192.0.2.7:5060",
                "[2001:db8::1]:5060",
                "[::ffff:10.1.2.3]:5060",
                "203.0.113.1:5060",
            ])
            .parse()
            .unwrap(),
        transport: rng.pick(&[Transport::Udp, Transport::Tcp, Transport::Tls]),
        // A Monday at 12:00 UTC, a Saturday at 23:00 UTC.
        now_unix_secs: rng.pick(&[1_704_715_200, 1_705_186_800]),
        request: req,
    }
}

#[test]
fn the_index_decides_as_the_rules_in_turn() {
    let mut rng = Rng(18);
    let mut decided = 0;
    let mut total = 0;
    for round in 0..3000 {
        // Mostly small tables; some over 64 rules (the wide bitset) and
        // over MAX_INDEXED (tested in turn).
        let rules = match round % 100 {
            0 => 70 + rng.below(60),
            1 => 200,
            2 if round < 500 => MAX_INDEXED + 1,
            _ => 1 + rng.below(12),
        };
        let t = table(&mut rng, rules);
        for _ in 0..40 {
            let req = request(&mut rng);
            let input = input(&mut rng, &req);
            let want = t.select_linear(&input);
            assert_eq!(
                t.select(&input),
                want,
                "{input:?} with rules {:#?}",
                t.rules()
            );
            total += 1;
            decided += usize::from(want != t.select_linear(&RouteInput::new(b"call@x")));
        }
    }
    // The vocabulary is small enough that rules do match.
    assert!(decided > total / 10, "{decided} of {total}");
}

#[test]
fn bits_walk_in_order() {
    let mut b = Bits::<2>::EMPTY;
    for i in [70, 3, 64, 0] {
        b.set(i);
    }
    let mut seen = Vec::new();
    while let Some(i) = b.first() {
        b.clear(i);
        seen.push(i);
    }
    assert_eq!(seen, [0, 3, 64, 70]);
    assert!(b.is_empty());
}
