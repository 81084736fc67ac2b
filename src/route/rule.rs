//! Routing rules: what the routing file's `[[rules]]` compile to
//! ([`RuleSpec`], [`ActionSpec`]) and the compiled [`Rule`] the table
//! evaluates. No I/O.
//!
//! Rules are evaluated in file order; the first that matches and has an
//! action decides. A `prefix_table` rule matches only when a prefix of the
//! Request-URI's dialled number is in its table (the longest one names the
//! group).

use super::decision::Rewrite;
use super::matcher::{Eval, Match};
use super::number::User;
use super::prefix::PrefixMap;

/// The name `route` may give instead of a group (registrations; not
/// available yet).
pub const LOCATION: &str = "location";

/// One rule as configured.
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// The rule's name, unique among the rules (for errors and logs).
    pub name: String,
    /// The `match` keys, ANDed; none matches every request.
    pub matches: Vec<Match>,
    /// What a matching request gets.
    pub action: ActionSpec,
    /// The Request-URI rewrite of a `route` or `prefix_table` rule.
    pub rewrite: Option<Rewrite>,
    /// `auth = false` (skip) or `true` (require) for what the rule
    /// matches: the authenticator's policy for it ([`RuleAuth`]).
    pub auth: Option<bool>,
    /// `challenge = "www"`: challenge with 401 and WWW-Authenticate
    /// instead of 407.
    pub challenge_www: bool,
}

/// What the rules say about authenticating one request: the `auth` and
/// `challenge` of the first matching rule that sets `auth` (a rule with
/// `auth` and no action sets it for the rules after it), found by
/// [`Table::select_with_auth`](super::Table::select_with_auth).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleAuth {
    /// `Some(false)`: skip authentication; `Some(true)`: require it even
    /// for a method the authenticator would not challenge; `None`: the
    /// authenticator's own policy.
    pub require: Option<bool>,
    /// Challenge with 401 (WWW-Authenticate) instead of 407.
    pub www: bool,
}

/// What a matching request gets.
#[derive(Debug, Clone)]
pub enum ActionSpec {
    /// `route = "GROUP"`: a member of the group.
    Route(String),
    /// `prefix_table`: the group of the longest prefix of the Request-URI's
    /// dialled number; no prefix, no match.
    PrefixTable(PrefixMap<String>),
    /// `reject = { code, reason }`: a stateless reply.
    Reject {
        /// 400 to 699.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// `action = "drop"`: no answer.
    Drop,
    /// No action (a rule that only sets `auth`): evaluation goes on with
    /// the next rule.
    Next,
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub(super) name: Box<str>,
    /// Cheapest first.
    pub(super) matches: Box<[Match]>,
    pub(super) action: Action,
    pub(super) rewrite: Option<Rewrite>,
    pub(super) auth: Option<bool>,
    pub(super) challenge_www: bool,
}

/// A compiled action: groups by index.
#[derive(Debug)]
pub(super) enum Action {
    Route(usize),
    PrefixTable(PrefixMap<usize>),
    Reject { code: u16, reason: Box<str> },
    Drop,
    Next,
}

/// What a rule decided.
pub(super) enum Outcome<'t> {
    Route(usize, Option<&'t Rewrite>),
    Reject(u16, &'t str),
    Drop,
}

impl Rule {
    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule's `auth` setting.
    pub fn auth(&self) -> Option<bool> {
        self.auth
    }

    /// The Request-URI rewrite of the rule.
    pub fn rewrite(&self) -> Option<&Rewrite> {
        self.rewrite.as_ref()
    }

    /// How many prefixes the rule's `prefix_table` and
    /// `ruri_user_prefix` hold.
    pub fn prefix_count(&self) -> usize {
        let table = match &self.action {
            Action::PrefixTable(map) => map.len(),
            _ => 0,
        };
        let sets: usize = self
            .matches
            .iter()
            .map(|m| match m {
                Match::RuriUserPrefix(set) => set.len(),
                _ => 0,
            })
            .sum();
        table + sets
    }

    /// The rule's decision for the request in `ev`; `None` when it does
    /// not match or has no action.
    #[inline]
    pub(super) fn decide<'t>(&'t self, ev: &mut Eval<'_, '_>) -> Option<Outcome<'t>> {
        if matches!(self.action, Action::Next) || !self.matches.iter().all(|m| m.test(ev)) {
            return None;
        }
        self.act(ev)
    }

    /// The decision of the rule's action, its keys having matched; `None`
    /// for no action, or a `prefix_table` without a prefix of the number.
    #[inline]
    pub(super) fn act<'t>(&'t self, ev: &mut Eval<'_, '_>) -> Option<Outcome<'t>> {
        if let (Some(require), None) = (self.auth, ev.auth.require) {
            ev.auth = RuleAuth {
                require: Some(require),
                www: self.challenge_www,
            };
        }
        Some(match &self.action {
            Action::Route(g) => Outcome::Route(*g, self.rewrite.as_ref()),
            Action::PrefixTable(map) => {
                let key = ev.ruri_user().and_then(User::dial_key)?;
                let (_, g) = map.longest(key)?;
                Outcome::Route(*g, self.rewrite.as_ref())
            }
            Action::Reject { code, reason } => Outcome::Reject(*code, reason),
            Action::Drop => Outcome::Drop,
            Action::Next => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::cidr::CidrSet;
    use crate::route::{
        Decision, DomainSet, GroupSpec, InDialog, MethodSet, PrefixSet, RequestFields, RouteInput,
        Substrings, Table, TableBuilder, TimeWindow, TransportSet, Upstream, UriParts, UserSet,
        WhenDown,
    };
    use crate::sip::uri::Host;
    use crate::sip::{Method, Transport};

    /// A request's fields for tests.
    #[derive(Default)]
    struct Req {
        ruri: Option<(&'static [u8], &'static [u8], bool)>,
        from: Option<(&'static [u8], &'static [u8])>,
        to: Option<(&'static [u8], &'static [u8])>,
        headers: Vec<(&'static [u8], &'static [u8])>,
    }

    fn parts(user: &'static [u8], host: &'static [u8], phone: bool) -> UriParts<'static> {
        UriParts {
            user,
            host: (!host.is_empty()).then_some(Host::Name(host)),
            phone,
        }
    }

    impl RequestFields for Req {
        fn ruri(&self) -> Option<UriParts<'_>> {
            self.ruri.map(|(u, h, p)| parts(u, h, p))
        }
        fn from(&self) -> Option<UriParts<'_>> {
            self.from.map(|(u, h)| parts(u, h, false))
        }
        fn to(&self) -> Option<UriParts<'_>> {
            self.to.map(|(u, h)| parts(u, h, false))
        }
        fn header(&self, name: &[u8]) -> Option<&[u8]> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    fn up(last: u8) -> Upstream {
        Upstream {
            addr: SocketAddr::from(([10, 0, 0, last], 5060)),
            transport: Transport::Udp,
            weight: 1,
        }
    }

    /// Groups a (10.0.0.1, the default), b (.2), c (.3).
    fn base() -> TableBuilder {
        Table::builder()
            .group("a", [up(1)])
            .group("b", [up(2)])
            .group("c", [up(3)])
    }

    fn rule(name: &str, matches: Vec<Match>, action: ActionSpec) -> RuleSpec {
        RuleSpec {
            name: name.into(),
            matches,
            action,
            rewrite: None,
            auth: None,
            challenge_www: false,
        }
    }

    fn to_b(m: Match) -> Table {
        base()
            .rule(rule("r", vec![m], ActionSpec::Route("b".into())))
            .build()
            .unwrap()
    }

    /// The last octet of the member picked (0 for a reply or drop).
    fn pick(t: &Table, input: &RouteInput<'_>) -> u8 {
        match t.select(input).dest().map(|d| d.addr().ip()) {
            Some(std::net::IpAddr::V4(a)) => a.octets()[3],
            _ => 0,
        }
    }

    fn with<'a>(req: &'a Req) -> RouteInput<'a> {
        RouteInput {
            request: req,
            ..RouteInput::new(b"call@x")
        }
    }

    fn ruri(user: &'static [u8], host: &'static [u8]) -> Req {
        Req {
            ruri: Some((user, host, false)),
            ..Req::default()
        }
    }

    #[test]
    fn the_first_matching_rule_with_auth_sets_the_policy() {
        let register = Match::Method(MethodSet::new(["REGISTER"]).unwrap());
        let plus44 = Match::RuriUserPrefix(PrefixSet::new(["+44"]).unwrap());
        let t = base()
            .rule(RuleSpec {
                auth: Some(false),
                ..rule("open-registrar", vec![register], ActionSpec::Next)
            })
            .rule(RuleSpec {
                auth: Some(true),
                challenge_www: true,
                ..rule("uk", vec![plus44], ActionSpec::Route("b".into()))
            })
            .build()
            .unwrap();
        assert!(t.rules_set_auth());
        let auth = |input: &RouteInput<'_>| t.select_with_auth(input).1;
        let uk = ruri(b"+4420", b"x");
        assert_eq!(
            auth(&with(&uk)),
            RuleAuth {
                require: Some(true),
                www: true
            }
        );
        assert_eq!(
            t.select_with_auth(&with(&uk)).0.dest().map(|d| d.addr()),
            t.select(&with(&uk)).dest().map(|d| d.addr())
        );
        // The action-less rule sets it first, the next rule still routes.
        let reg = RouteInput {
            method: Method::Register,
            ..with(&uk)
        };
        assert_eq!(
            auth(&reg),
            RuleAuth {
                require: Some(false),
                www: false
            }
        );
        assert_eq!(pick(&t, &reg), 2);
        // No rule with auth matches: the authenticator's own policy.
        assert_eq!(auth(&with(&ruri(b"0033", b"x"))), RuleAuth::default());
        assert!(!to_b(Match::Method(MethodSet::new(["INVITE"]).unwrap())).rules_set_auth());
    }

    #[test]
    fn each_match_key_routes_what_it_names() {
        let t = to_b(Match::Method(MethodSet::new(["INVITE"]).unwrap()));
        let req = Req::default();
        assert_eq!(pick(&t, &with(&req)), 2);
        assert_eq!(
            pick(
                &t,
                &RouteInput {
                    method: Method::Register,
                    ..with(&req)
                }
            ),
            1
        );

        let t = to_b(Match::RuriUserPrefix(
            PrefixSet::new(["+44", "0044"]).unwrap(),
        ));
        assert_eq!(pick(&t, &with(&ruri(b"+44 20 7946 0000", b"x"))), 2);
        assert_eq!(pick(&t, &with(&ruri(b"%2B4420", b"x"))), 2);
        assert_eq!(pick(&t, &with(&ruri(b"0033", b"x"))), 1);
        assert_eq!(pick(&t, &with(&ruri(b"alice", b"x"))), 1);

        let t = to_b(Match::RuriUser(UserSet::new(["9999"]).unwrap()));
        assert_eq!(pick(&t, &with(&ruri(b"99-99", b"x"))), 2);
        assert_eq!(pick(&t, &with(&ruri(b"99990", b"x"))), 1);

        let t = to_b(Match::RuriUserRegex(
            regex::bytes::Regex::new("^1[0-9]{3}$").unwrap(),
        ));
        assert_eq!(pick(&t, &with(&ruri(b"1234", b"x"))), 2);
        assert_eq!(pick(&t, &with(&ruri(b"12345", b"x"))), 1);

        let t = to_b(Match::RuriDomain(
            DomainSet::new(["*.example.net"]).unwrap(),
        ));
        assert_eq!(pick(&t, &with(&ruri(b"u", b"pbx.example.net"))), 2);
        assert_eq!(pick(&t, &with(&ruri(b"u", b"example.net"))), 1);

        let from = Req {
            from: Some((b"alice", b"Example.com")),
            to: Some((b"+1 212 555", b"other.org")),
            ..Req::default()
        };
        for (m, want) in [
            (Match::FromUser(UserSet::new(["alice"]).unwrap()), 2),
            (Match::FromUser(UserSet::new(["bob"]).unwrap()), 1),
            (
                Match::FromDomain(DomainSet::new(["example.com"]).unwrap()),
                2,
            ),
            (Match::ToUser(UserSet::new(["+1212555"]).unwrap()), 2),
            (Match::ToDomain(DomainSet::new(["example.com"]).unwrap()), 1),
        ] {
            assert_eq!(pick(&to_b(m.clone()), &with(&from)), want, "{m:?}");
        }

        let t = to_b(Match::Source(
            CidrSet::parse(["198.51.100.0/24", "2001:db8::/32"]).unwrap(),
        ));
        for (src, want) in [
            ("198.51.100.7:5060", 2),
            ("[2001:db8::5]:5060", 2),
            ("192.0.2.1:5060", 1),
        ] {
            let input = RouteInput {
                source: src.parse().unwrap(),
                ..with(&req)
            };
            assert_eq!(pick(&t, &input), want, "{src}");
        }

        let t = to_b(Match::Transport(TransportSet::new([Transport::Tcp])));
        assert_eq!(pick(&t, &with(&req)), 1);
        assert_eq!(
            pick(
                &t,
                &RouteInput {
                    transport: Transport::Tcp,
                    ..with(&req)
                }
            ),
            2
        );

        let tenant = Req {
            headers: vec![(b"X-Tenant", b"acme"), (b"User-Agent", b"Friendly-Scanner")],
            ..Req::default()
        };
        let header = |value: Option<&str>| Match::Header {
            name: "x-tenant".into(),
            value: value.map(Into::into),
        };
        assert_eq!(pick(&to_b(header(Some("acme"))), &with(&tenant)), 2);
        assert_eq!(pick(&to_b(header(Some("other"))), &with(&tenant)), 1);
        assert_eq!(pick(&to_b(header(None)), &with(&tenant)), 2);
        assert_eq!(pick(&to_b(header(None)), &with(&req)), 1);
        let ua = to_b(Match::UserAgent(
            Substrings::new(["friendly-scanner"]).unwrap(),
        ));
        assert_eq!(pick(&ua, &with(&tenant)), 2);
        assert_eq!(pick(&ua, &with(&req)), 1);

        let t = to_b(Match::Time(vec![TimeWindow::new(
            "mon-fri",
            "08:00-18:00",
            "UTC",
        )
        .unwrap()]));
        // 2024-01-08 (a Monday) 12:00 and 20:00 UTC.
        let at = |secs| RouteInput {
            now_unix_secs: secs,
            ..with(&req)
        };
        assert_eq!(pick(&t, &at(1_704_715_200)), 2);
        assert_eq!(pick(&t, &at(1_704_744_000)), 1);
    }

    #[test]
    fn keys_are_anded_rules_ordered_and_actions_decide() {
        let t = base()
            .rule(rule("next", vec![], ActionSpec::Next))
            .rule(rule(
                "closed",
                vec![Match::RuriUser(UserSet::new(["9999"]).unwrap())],
                ActionSpec::Reject {
                    code: 403,
                    reason: "Forbidden".into(),
                },
            ))
            .rule(rule(
                "scan",
                vec![Match::UserAgent(Substrings::new(["sipvicious"]).unwrap())],
                ActionSpec::Drop,
            ))
            .rule(rule(
                "uk-invite",
                vec![
                    Match::RuriUserPrefix(PrefixSet::new(["+44"]).unwrap()),
                    Match::Method(MethodSet::new(["INVITE"]).unwrap()),
                ],
                ActionSpec::Route("b".into()),
            ))
            .rule(RuleSpec {
                rewrite: Some(Rewrite {
                    strip: 1,
                    prefix: b"00".as_slice().into(),
                    host: None,
                }),
                ..rule(
                    "lcr",
                    vec![],
                    ActionSpec::PrefixTable(
                        PrefixMap::new(vec![("+4".into(), "c".into()), ("+1".into(), "b".into())])
                            .unwrap(),
                    ),
                )
            })
            .build()
            .unwrap();
        assert_eq!(
            t.select(&with(&ruri(b"9999", b"x"))),
            Decision::Reject {
                code: 403,
                reason: "Forbidden",
                retry_after: None
            }
        );
        let scanner = Req {
            headers: vec![(b"User-Agent", b"SIPVicious")],
            ..ruri(b"9999", b"x")
        };
        assert_ne!(
            t.select(&with(&scanner)),
            Decision::Drop,
            "the earlier rule decides"
        );
        let scanner = Req {
            headers: vec![(b"User-Agent", b"SIPVicious")],
            ..Req::default()
        };
        assert_eq!(t.select(&with(&scanner)), Decision::Drop);
        let uk = ruri(b"+442079460000", b"x");
        assert_eq!(pick(&t, &with(&uk)), 2);
        // Not an INVITE: falls through to the prefix table (+4 -> c), with its rewrite.
        let bye = RouteInput {
            method: Method::Bye,
            ..with(&uk)
        };
        assert_eq!(pick(&t, &bye), 3);
        let Decision::Route {
            rewrite: Some(rw), ..
        } = t.select(&bye)
        else {
            panic!()
        };
        assert_eq!(rw.strip, 1);
        assert_eq!(pick(&t, &with(&ruri(b"+12125550100", b"x"))), 2);
        // No prefix: the table does not match; the default group.
        assert_eq!(pick(&t, &with(&ruri(b"+3312", b"x"))), 1);
        assert_eq!(t.prefix_count(), 3);
        assert_eq!(t.rules().len(), 5);
        assert_eq!(t.rules()[4].name(), "lcr");
        assert_eq!(t.in_dialog(), InDialog::RequestUri);
    }

    #[test]
    fn fallback_then_when_down() {
        let spec = |name: &str, last: u8, fallback: Option<&str>| GroupSpec {
            fallback: fallback.map(Into::into),
            when_down: Some(WhenDown {
                code: 480,
                reason: "Later".into(),
                retry_after: Some(30),
            }),
            ..GroupSpec::from_upstreams(name, [up(last)])
        };
        let t = Table::builder()
            .group_spec(spec("main", 1, Some("backup")))
            .group_spec(spec("backup", 2, None))
            .in_dialog(InDialog::Rules)
            .build()
            .unwrap();
        let req = Req::default();
        assert_eq!(pick(&t, &with(&req)), 1);
        t.groups()[0].destinations()[0].set_healthy(false);
        assert_eq!(pick(&t, &with(&req)), 2);
        t.groups()[1].destinations()[0].set_healthy(false);
        assert_eq!(
            t.select(&with(&req)),
            Decision::Reject {
                code: 480,
                reason: "Later",
                retry_after: Some(30)
            }
        );
        assert_eq!(t.in_dialog(), InDialog::Rules);
    }

    #[test]
    fn invalid_rules_and_groups_name_themselves() {
        let to = |g: &str| rule("uk", vec![], ActionSpec::Route(g.into()));
        let cases: Vec<(TableBuilder, &str)> = vec![
            (base().rule(to("ukk")), "rule 'uk' routes to group 'ukk', which is not defined (groups: a, b, c)"),
            (base().rule(to("location")), "rule 'uk' routes to \"location\", which needs registrations; that is not available yet, route to a group"),
            (base().rule(to("a")).rule(to("b")), "rule 'uk' is defined twice; rule names must be unique"),
            (base().rule(rule("", vec![], ActionSpec::Drop)), "rule #1 has no name; give every rule a name"),
            (
                base().rule(rule("lcr", vec![], ActionSpec::PrefixTable(PrefixMap::new(vec![("1".into(), "z".into())]).unwrap()))),
                "rule 'lcr' routes to group 'z', which is not defined (groups: a, b, c)",
            ),
            (
                base().rule(rule("x", vec![], ActionSpec::Reject { code: 200, reason: "OK".into() })),
                "rule 'x' reject: code 200 is not valid; use 400 to 699",
            ),
            (
                base().rule(RuleSpec { rewrite: Some(Rewrite::default()), ..rule("x", vec![], ActionSpec::Drop) }),
                "rule 'x' has a rewrite but does not route; a rewrite needs `route` or `prefix_table`",
            ),
            (
                base().rule(RuleSpec {
                    rewrite: Some(Rewrite { host: Some(b"bad host".as_slice().into()), ..Rewrite::default() }),
                    ..to("a")
                }),
                "rule 'uk': ruri_host 'bad host' is not a host name or an IP address ([...] for IPv6)",
            ),
            (
                base().group_spec(GroupSpec { fallback: Some("q".into()), ..GroupSpec::from_upstreams("d", [up(4)]) }),
                "group 'd' falls back to group 'q', which is not defined (groups: a, b, c, d)",
            ),
            (
                Table::builder()
                    .group_spec(GroupSpec { fallback: Some("b".into()), ..GroupSpec::from_upstreams("a", [up(1)]) })
                    .group_spec(GroupSpec { fallback: Some("a".into()), ..GroupSpec::from_upstreams("b", [up(2)]) }),
                "group 'a' falls back to itself (a -> b -> a); remove one of these fallbacks",
            ),
        ];
        for (builder, want) in cases {
            assert_eq!(builder.build().unwrap_err().to_string(), want);
        }
    }
}
