//! The rules indexed by key kind, so that [`Table::select`] does not test
//! every rule's keys in turn. No I/O.
//!
//! At build time, each kind of key that some rule uses (method, transport,
//! source, the domains and users of the Request-URI, From and To, the
//! User-Agent, each header name) gets one structure that answers, for the
//! request's value of that kind, *which rules accept it*, as a bitset of
//! rules ([`Bits`]): a rule without a key of that kind accepts every value.
//! The AND of the kinds' answers leaves the candidates; they are walked in
//! file order, each testing its remaining keys (`ruri_user_prefix`, `time`,
//! `ruri_user_regex`, and any second key of a kind it already has), then its
//! action (a `prefix_table` without a matching prefix sends the walk on).
//! The first that decides wins: exactly what testing the rules one by one
//! (the [`linear`] evaluation, kept for tables beyond [`MAX_INDEXED`] rules
//! and as the tests' oracle) decides.
//!
//! A kind is looked at only while a remaining candidate has a key of it, so
//! a kind no rule uses costs nothing and a field (read once, through
//! [`Eval`]) is not read when no candidate needs it. Nothing here allocates
//! per request.
//!
//! [`Table::select`]: super::Table::select

use std::collections::HashMap;
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::cidr::CidrSet;
use crate::sip::uri::Host;
use crate::sip::{Method, Transport};

use super::matcher::{Eval, Match};
use super::number::User;
use super::rule::{Action, Outcome, Rule};
use super::sets::{contains_ignore_case, method_bit, transport_bit, TRANSPORTS};

/// The most rules indexed: tables with more rules are evaluated rule by
/// rule ([`linear`]).
pub(super) const MAX_INDEXED: usize = 64 * WIDE;

/// Words of the bitset of tables of more than 64 rules.
const WIDE: usize = 8;

/// Tells the hash maps' keys apart (the same hasher as the rest of route).
type Map<V> = HashMap<Box<[u8]>, V, ahash::RandomState>;

/// The first rule, in file order, whose keys all match the request in `ev`
/// and whose action decides: each rule tested in turn.
pub(super) fn linear<'t>(rules: &'t [Rule], ev: &mut Eval<'_, '_>) -> Option<Outcome<'t>> {
    rules.iter().find_map(|rule| rule.decide(ev))
}

/// The index of a table's rules, sized to their number.
#[derive(Debug)]
pub(super) enum RuleIndex {
    /// Up to 64 rules: one word per bitset.
    Narrow(Box<Index<1>>),
    /// Up to [`MAX_INDEXED`] rules.
    Wide(Box<Index<WIDE>>),
    /// No rules, or too many to index.
    Linear,
}

impl RuleIndex {
    /// Indexes `rules` (compiled, in file order).
    pub(super) fn new(rules: &[Rule]) -> RuleIndex {
        match rules.len() {
            0 => RuleIndex::Linear,
            1..=64 => RuleIndex::Narrow(Box::new(Index::new(rules))),
            n if n <= MAX_INDEXED => RuleIndex::Wide(Box::new(Index::new(rules))),
            _ => RuleIndex::Linear,
        }
    }

    /// The first rule that matches and decides, as [`linear`] finds it.
    #[inline]
    pub(super) fn decide<'t>(
        &self,
        rules: &'t [Rule],
        ev: &mut Eval<'_, '_>,
    ) -> Option<Outcome<'t>> {
        match self {
            RuleIndex::Narrow(ix) => ix.decide(rules, ev),
            RuleIndex::Wide(ix) => ix.decide(rules, ev),
            RuleIndex::Linear => linear(rules, ev),
        }
    }
}

/// A set of rules by number: bit `i` of word `i / 64` is rule `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bits<const W: usize>([u64; W]);

impl<const W: usize> Bits<W> {
    const EMPTY: Bits<W> = Bits([0; W]);

    fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }

    fn clear(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }

    #[inline]
    fn and(self, other: Bits<W>) -> Bits<W> {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a &= b;
        }
        out
    }

    #[inline]
    fn or(self, other: Bits<W>) -> Bits<W> {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a |= b;
        }
        out
    }

    #[inline]
    fn not(self) -> Bits<W> {
        let mut out = self;
        for a in out.0.iter_mut() {
            *a = !*a;
        }
        out
    }

    #[inline]
    fn is_empty(self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    #[inline]
    fn meets(self, other: Bits<W>) -> bool {
        !self.and(other).is_empty()
    }

    /// The lowest rule in the set.
    #[inline]
    fn first(self) -> Option<usize> {
        self.0
            .iter()
            .position(|&w| w != 0)
            .map(|i| i * 64 + self.0[i].trailing_zeros() as usize)
    }
}

/// Which rules accept a value of one kind: those with a key of the kind
/// (`keyed`) that accept it, and all the others (`free`).
#[derive(Debug, Clone, Copy)]
struct Kind<const W: usize> {
    keyed: Bits<W>,
    free: Bits<W>,
}

impl<const W: usize> Kind<W> {
    fn new(keyed: Bits<W>) -> Kind<W> {
        Kind {
            keyed,
            free: keyed.not(),
        }
    }
}

/// The compiled index of up to `64 * W` rules.
#[derive(Debug)]
pub(super) struct Index<const W: usize> {
    /// The rules with an action, and those that set `auth` (other `Next`
    /// rules never decide anything).
    deciding: Bits<W>,
    method: Option<MethodIx<W>>,
    transport: Option<TransportIx<W>>,
    source: Option<SourceIx<W>>,
    ruri_user: Option<UserIx<W>>,
    ruri_domain: Option<DomainIx<W>>,
    from_user: Option<UserIx<W>>,
    from_domain: Option<DomainIx<W>>,
    to_user: Option<UserIx<W>>,
    to_domain: Option<DomainIx<W>>,
    user_agent: Option<AgentIx<W>>,
    headers: Box<[HeaderIx<W>]>,
    /// Per rule, its keys not answered by the index (positions in its
    /// `matches`, cheapest first).
    rest: Box<[Box<[u16]>]>,
}

/// What a kind of key a [`Match`] is, for the index: `None` for keys
/// tested per candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyKind {
    Method,
    Transport,
    Source,
    RuriUser,
    RuriDomain,
    FromUser,
    FromDomain,
    ToUser,
    ToDomain,
    UserAgent,
    /// The lower-case header name.
    Header(Box<[u8]>),
}

fn key_kind(m: &Match) -> Option<KeyKind> {
    Some(match m {
        Match::Method(_) => KeyKind::Method,
        Match::Transport(_) => KeyKind::Transport,
        Match::Source(_) => KeyKind::Source,
        Match::RuriUser(_) => KeyKind::RuriUser,
        Match::RuriDomain(_) => KeyKind::RuriDomain,
        Match::FromUser(_) => KeyKind::FromUser,
        Match::FromDomain(_) => KeyKind::FromDomain,
        Match::ToUser(_) => KeyKind::ToUser,
        Match::ToDomain(_) => KeyKind::ToDomain,
        Match::UserAgent(_) => KeyKind::UserAgent,
        Match::Header { name, .. } => {
            KeyKind::Header(name.to_ascii_lowercase().into_bytes().into())
        }
        Match::RuriUserPrefix(_) | Match::RuriUserRegex(_) | Match::Time(_) => return None,
    })
}

impl<const W: usize> Index<W> {
    /// Indexes up to `64 * W` rules: each rule's first key of each kind
    /// goes into the kind's structure; its other keys are tested per
    /// candidate.
    fn new(rules: &[Rule]) -> Index<W> {
        debug_assert!(rules.len() <= 64 * W);
        // Per kind, the (rule, key) pairs indexed.
        let mut kinds: Vec<(KeyKind, Vec<(usize, &Match)>)> = Vec::new();
        let mut rest = Vec::with_capacity(rules.len());
        let mut deciding = Bits::EMPTY;
        for (r, rule) in rules.iter().enumerate() {
            if !matches!(rule.action, Action::Next) || rule.auth.is_some() {
                deciding.set(r);
            }
            let mut mine: Vec<KeyKind> = Vec::new();
            let mut left = Vec::new();
            for (k, m) in rule.matches.iter().enumerate() {
                match key_kind(m) {
                    Some(kind) if !mine.contains(&kind) => {
                        mine.push(kind.clone());
                        match kinds.iter_mut().find(|(k, _)| *k == kind) {
                            Some((_, list)) => list.push((r, m)),
                            None => kinds.push((kind, vec![(r, m)])),
                        }
                    }
                    _ => left.push(u16::try_from(k).unwrap_or(u16::MAX)),
                }
            }
            rest.push(left.into_boxed_slice());
        }
        let mut ix = Index {
            deciding,
            method: None,
            transport: None,
            source: None,
            ruri_user: None,
            ruri_domain: None,
            from_user: None,
            from_domain: None,
            to_user: None,
            to_domain: None,
            user_agent: None,
            headers: Box::default(),
            rest: rest.into_boxed_slice(),
        };
        let mut headers = Vec::new();
        for (kind, keys) in kinds {
            let mut keyed = Bits::EMPTY;
            for &(r, _) in &keys {
                keyed.set(r);
            }
            let k = Kind::new(keyed);
            match kind {
                KeyKind::Method => ix.method = Some(MethodIx::new(k, &keys)),
                KeyKind::Transport => ix.transport = Some(TransportIx::new(k, &keys)),
                KeyKind::Source => ix.source = Some(SourceIx::new(k, &keys)),
                KeyKind::RuriUser => ix.ruri_user = Some(UserIx::new(k, &keys)),
                KeyKind::RuriDomain => ix.ruri_domain = Some(DomainIx::new(k, &keys)),
                KeyKind::FromUser => ix.from_user = Some(UserIx::new(k, &keys)),
                KeyKind::FromDomain => ix.from_domain = Some(DomainIx::new(k, &keys)),
                KeyKind::ToUser => ix.to_user = Some(UserIx::new(k, &keys)),
                KeyKind::ToDomain => ix.to_domain = Some(DomainIx::new(k, &keys)),
                KeyKind::UserAgent => ix.user_agent = Some(AgentIx::new(k, &keys)),
                KeyKind::Header(name) => headers.push(HeaderIx::new(k, name, &keys)),
            }
        }
        ix.headers = headers.into_boxed_slice();
        ix
    }

    /// The first rule that matches and decides: the candidates that every
    /// kind accepts, walked in file order.
    #[inline]
    fn decide<'t>(&self, rules: &'t [Rule], ev: &mut Eval<'_, '_>) -> Option<Outcome<'t>> {
        let mut cand = self.candidates(ev)?;
        while let Some(r) = cand.first() {
            cand.clear(r);
            let rule = rules.get(r)?;
            let rest = self.rest.get(r)?;
            if rest
                .iter()
                .all(|&k| rule.matches.get(usize::from(k)).is_some_and(|m| m.test(ev)))
            {
                if let Some(outcome) = rule.act(ev) {
                    return Some(outcome);
                }
            }
        }
        None
    }

    /// The rules whose indexed keys all accept the request; `None` when
    /// there is none. Kinds are taken cheapest first, each only while a
    /// candidate has a key of it.
    #[inline]
    fn candidates(&self, ev: &mut Eval<'_, '_>) -> Option<Bits<W>> {
        let mut cand = self.deciding;
        let input = ev.input;
        // Narrows the candidates by one kind, when one of them has a key
        // of it; none left: no rule decides.
        macro_rules! narrow {
            ($ix:expr, |$x:ident| $accept:expr) => {
                if let Some($x) = $ix.as_ref().filter(|ix| cand.meets(ix.kind.keyed)) {
                    cand = nonempty(cand.and($accept))?;
                }
            };
        }
        narrow!(self.method, |ix| ix.accept(&input.method));
        narrow!(self.transport, |ix| ix.accept(input.transport));
        narrow!(self.source, |ix| ix.accept(input.source.ip()));
        narrow!(self.ruri_user, |ix| ix.accept(ev.ruri_user()));
        narrow!(self.ruri_domain, |ix| ix
            .accept(ev.ruri().and_then(|p| p.host)));
        narrow!(self.from_user, |ix| ix.accept(ev.user_in_from()));
        narrow!(self.from_domain, |ix| ix
            .accept(ev.from().and_then(|p| p.host)));
        narrow!(self.to_user, |ix| ix.accept(ev.user_in_to()));
        narrow!(self.to_domain, |ix| ix.accept(ev.to().and_then(|p| p.host)));
        narrow!(self.user_agent, |ix| ix.accept(ev.user_agent()));
        for ix in self.headers.iter() {
            if cand.meets(ix.kind.keyed) {
                let value = if &*ix.name == b"user-agent" {
                    ev.user_agent()
                } else {
                    input.request.header(&ix.written)
                };
                cand = nonempty(cand.and(ix.accept(value)))?;
            }
        }
        Some(cand)
    }
}

/// Adds rule `r` to `key`'s entry in `list`, making the entry (from
/// `start`) on first use.
fn mark<K: PartialEq, const W: usize>(
    list: &mut Vec<(K, Bits<W>)>,
    key: K,
    r: usize,
    start: Bits<W>,
) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, bits)) => bits.set(r),
        None => {
            let mut bits = start;
            bits.set(r);
            list.push((key, bits));
        }
    }
}

#[inline]
fn nonempty<const W: usize>(b: Bits<W>) -> Option<Bits<W>> {
    (!b.is_empty()).then_some(b)
}

/// `method`: the rules accepting each known method, and each extension
/// method some rule names.
#[derive(Debug)]
struct MethodIx<const W: usize> {
    kind: Kind<W>,
    /// By the method's bit number.
    known: [Bits<W>; 16],
    extensions: Box<[(Box<[u8]>, Bits<W>)]>,
}

impl<const W: usize> MethodIx<W> {
    fn new(kind: Kind<W>, keys: &[(usize, &Match)]) -> MethodIx<W> {
        let mut known = [kind.free; 16];
        let mut extensions: Vec<(Box<[u8]>, Bits<W>)> = Vec::new();
        for &(r, m) in keys {
            let Match::Method(set) = m else { continue };
            for (bit, bits) in known.iter_mut().enumerate() {
                if set.bits() & (1 << bit) != 0 {
                    bits.set(r);
                }
            }
            for e in set.extensions() {
                mark(&mut extensions, e.clone(), r, kind.free);
            }
        }
        MethodIx {
            kind,
            known,
            extensions: extensions.into_boxed_slice(),
        }
    }

    #[inline]
    fn accept(&self, method: &Method<'_>) -> Bits<W> {
        match method_bit(method) {
            Some(bit) => self
                .known
                .get(bit.trailing_zeros() as usize)
                .copied()
                .unwrap_or(self.kind.free),
            None => self
                .extensions
                .iter()
                .find(|(n, _)| **n == *method.as_bytes())
                .map_or(self.kind.free, |(_, bits)| *bits),
        }
    }
}

/// `transport`: the rules accepting each transport.
#[derive(Debug)]
struct TransportIx<const W: usize> {
    kind: Kind<W>,
    /// By the transport's bit number.
    by: [Bits<W>; TRANSPORTS],
}

impl<const W: usize> TransportIx<W> {
    fn new(kind: Kind<W>, keys: &[(usize, &Match)]) -> TransportIx<W> {
        let mut by = [kind.free; TRANSPORTS];
        for &(r, m) in keys {
            let Match::Transport(set) = m else { continue };
            for (bit, bits) in by.iter_mut().enumerate() {
                if set.bits() & (1 << bit) != 0 {
                    bits.set(r);
                }
            }
        }
        TransportIx { kind, by }
    }

    #[inline]
    fn accept(&self, t: Transport) -> Bits<W> {
        self.by
            .get(transport_bit(t).trailing_zeros() as usize)
            .copied()
            .unwrap_or(self.kind.free)
    }
}

/// `source`: each distinct CIDR set once, with the rules that list it.
#[derive(Debug)]
struct SourceIx<const W: usize> {
    kind: Kind<W>,
    sets: Box<[(CidrSet, Bits<W>)]>,
}

impl<const W: usize> SourceIx<W> {
    fn new(kind: Kind<W>, keys: &[(usize, &Match)]) -> SourceIx<W> {
        let mut sets: Vec<(CidrSet, Bits<W>)> = Vec::new();
        for &(r, m) in keys {
            let Match::Source(set) = m else { continue };
            mark(&mut sets, set.clone(), r, Bits::EMPTY);
        }
        SourceIx {
            kind,
            sets: sets.into_boxed_slice(),
        }
    }

    #[inline]
    fn accept(&self, ip: IpAddr) -> Bits<W> {
        self.sets
            .iter()
            .filter(|(set, _)| set.contains(ip))
            .fold(self.kind.free, |acc, (_, bits)| acc.or(*bits))
    }
}

/// `ruri_user`, `from_user`, `to_user`: one map from normalized user to
/// the rules that list it.
#[derive(Debug)]
struct UserIx<const W: usize> {
    kind: Kind<W>,
    users: Map<Bits<W>>,
    /// The users' lengths: a user of another length is not looked up.
    lens: Lengths,
}

impl<const W: usize> UserIx<W> {
    fn new(kind: Kind<W>, keys: &[(usize, &Match)]) -> UserIx<W> {
        let mut users: Map<Bits<W>> = Map::default();
        for &(r, m) in keys {
            let (Match::RuriUser(set) | Match::FromUser(set) | Match::ToUser(set)) = m else {
                continue;
            };
            for u in set.users() {
                users.entry(u.clone()).or_insert(Bits::EMPTY).set(r);
            }
        }
        let mut lens = Lengths::default();
        for u in users.keys() {
            lens.add(u.len());
        }
        UserIx { kind, users, lens }
    }

    #[inline]
    fn accept(&self, user: Option<&User>) -> Bits<W> {
        match user
            .map(User::as_bytes)
            .filter(|u| self.lens.has(u.len()))
            .and_then(|u| self.users.get(u))
        {
            Some(bits) => self.kind.free.or(*bits),
            None => self.kind.free,
        }
    }
}

/// The longest host name looked up by suffix: a wildcard's suffix is a dot
/// and a name of at most 253 characters.
const LONGEST_SUFFIX: usize = 254;

/// `ruri_domain`, `from_domain`, `to_domain`: maps from lower-case name
/// and from wildcard suffix (`.example.net`) to the rules that list it,
/// the lengths that occur in each (so a host's suffixes of other lengths
/// are not looked up), and the address entries.
#[derive(Debug)]
struct DomainIx<const W: usize> {
    kind: Kind<W>,
    exact: Map<Bits<W>>,
    suffixes: Map<Bits<W>>,
    exact_lens: Lengths,
    suffix_lens: Lengths,
    ips: Box<[(IpAddr, Bits<W>)]>,
}

/// A set of lengths, to skip lookups that cannot succeed: exact below 256,
/// and any length from 256 on is taken to be in it.
#[derive(Debug, Default)]
struct Lengths([u64; 4]);

impl Lengths {
    fn add(&mut self, n: usize) {
        if let Some(w) = self.0.get_mut(n / 64) {
            *w |= 1 << (n % 64);
        }
    }

    #[inline]
    fn has(&self, n: usize) -> bool {
        self.0.get(n / 64).is_none_or(|w| w & (1 << (n % 64)) != 0)
    }
}

impl<const W: usize> DomainIx<W> {
    fn new(kind: Kind<W>, keys: &[(usize, &Match)]) -> DomainIx<W> {
        let mut ix = DomainIx {
            kind,
            exact: Map::default(),
            suffixes: Map::default(),
            exact_lens: Lengths::default(),
            suffix_lens: Lengths::default(),
            ips: Box::default(),
        };
        let mut ips: Vec<(IpAddr, Bits<W>)> = Vec::new();
        for &(r, m) in keys {
            let (Match::RuriDomain(set) | Match::FromDomain(set) | Match::ToDomain(set)) = m else {
                continue;
            };
            for name in set.exact() {
                ix.exact.entry(name.clone()).or_insert(Bits::EMPTY).set(r);
                ix.exact_lens.add(name.len());
            }
            for s in set.suffixes() {
                ix.suffixes.entry(s.clone()).or_insert(Bits::EMPTY).set(r);
                ix.suffix_lens.add(s.len());
            }
            for ip in set.ips() {
                mark(&mut ips, *ip, r, Bits::EMPTY);
            }
        }
        ix.ips = ips.into_boxed_slice();
        ix
    }

    /// The rules accepting `host`, as [`DomainSet::contains`] decides:
    /// the name (without one trailing dot) equal to an entry, or ending in
    /// a wildcard's suffix and longer than it, in any case.
    ///
    /// [`DomainSet::contains`]: super::DomainSet::contains
    #[inline]
    fn accept(&self, host: Option<Host<'_>>) -> Bits<W> {
        let mut acc = self.kind.free;
        match host {
            None => {}
            Some(Host::Name(name)) => {
                let name = name.strip_suffix(b".").unwrap_or(name);
                // Only the last LONGEST_SUFFIX bytes can take part in a match.
                let skip = name.len().saturating_sub(LONGEST_SUFFIX);
                let tail = name.get(skip..).unwrap_or_default();
                let mut buf = [0u8; LONGEST_SUFFIX];
                let Some(lower) = buf.get_mut(..tail.len()) else {
                    return acc;
                };
                for (d, s) in lower.iter_mut().zip(tail) {
                    *d = s.to_ascii_lowercase();
                }
                let lower = &*lower;
                if skip == 0 && self.exact_lens.has(lower.len()) {
                    if let Some(bits) = self.exact.get(lower) {
                        acc = acc.or(*bits);
                    }
                }
                for (i, &b) in lower.iter().enumerate() {
                    // A suffix shorter than the whole name: at 1 or later.
                    if b == b'.' && (i > 0 || skip > 0) && self.suffix_lens.has(lower.len() - i) {
                        if let Some(bits) = lower.get(i..).and_then(|s| self.suffixes.get(s)) {
                            acc = acc.or(*bits);
                        }
                    }
                }
            }
            Some(Host::V4(a)) => acc = self.ip(acc, IpAddr::V4(a)),
            Some(Host::V6(a)) => acc = self.ip(acc, IpAddr::V6(a)),
        }
        acc
    }

    fn ip(&self, acc: Bits<W>, ip: IpAddr) -> Bits<W> {
        self.ips
            .iter()
            .filter(|(a, _)| *a == ip)
            .fold(acc, |acc, (_, bits)| acc.or(*bits))
    }
}

/// Up to this many distinct `user_agent` substrings are searched one by
/// one (a `memchr2` for the first byte, in either case, then a compare):
/// on a User-Agent of a few dozen bytes that is faster than the
/// automaton's setup. More go into one Aho-Corasick search.
const FEW_AGENTS: usize = 4;

/// `user_agent`: every rule's substrings in one case-insensitive
/// multi-pattern search (or, for a few, one by one); each distinct
/// substring with the rules that list it.
#[derive(Debug)]
struct AgentIx<const W: usize> {
    kind: Kind<W>,
    /// `None` for [`FEW_AGENTS`] substrings or fewer, or if the automaton
    /// could not be built (size limits no routing file reaches): then each
    /// substring is searched in turn.
    search: Option<AhoCorasick>,
    /// By pattern number: the substring, lower case, and its rules.
    patterns: Box<[(Box<[u8]>, Bits<W>)]>,
}

impl<const W: usize> AgentIx<W> {
    fn new(kind: Kind<W>, keys: &[(usize, &Match)]) -> AgentIx<W> {
        let mut patterns: Vec<(Box<[u8]>, Bits<W>)> = Vec::new();
        for &(r, m) in keys {
            let Match::UserAgent(set) = m else { continue };
            for n in set.needles() {
                mark(&mut patterns, n.clone(), r, Bits::EMPTY);
            }
        }
        let search = (patterns.len() > FEW_AGENTS)
            .then(|| {
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(patterns.iter().map(|(p, _)| p))
                    .ok()
            })
            .flatten();
        AgentIx {
            kind,
            search,
            patterns: patterns.into_boxed_slice(),
        }
    }

    /// The rules accepting `ua`, as [`Substrings::found_in`] decides: it
    /// contains one of the rule's substrings, in any ASCII case.
    ///
    /// [`Substrings::found_in`]: super::Substrings::found_in
    #[inline]
    fn accept(&self, ua: Option<&[u8]>) -> Bits<W> {
        let mut acc = self.kind.free;
        let Some(ua) = ua else { return acc };
        match &self.search {
            Some(search) => {
                if !search.is_match(ua) {
                    return acc;
                }
                for m in search.find_overlapping_iter(ua) {
                    if let Some((_, bits)) = self.patterns.get(m.pattern().as_usize()) {
                        acc = acc.or(*bits);
                    }
                }
            }
            None => {
                for (p, bits) in self.patterns.iter() {
                    if contains_ignore_case(ua, p) {
                        acc = acc.or(*bits);
                    }
                }
            }
        }
        acc
    }
}

/// `header` for one header name: the rules that only want it present, and
/// the rules that want a value, by value.
#[derive(Debug)]
struct HeaderIx<const W: usize> {
    kind: Kind<W>,
    /// Lower case: what tells header keys apart.
    name: Box<[u8]>,
    /// As the first rule with the key wrote it: what is looked up (names
    /// compare in any case; a canonical spelling is found fastest).
    written: Box<[u8]>,
    /// The rules without a key on this header and those wanting it present.
    present: Bits<W>,
    values: Map<Bits<W>>,
}

impl<const W: usize> HeaderIx<W> {
    fn new(kind: Kind<W>, name: Box<[u8]>, keys: &[(usize, &Match)]) -> HeaderIx<W> {
        let mut present = kind.free;
        let mut values: Map<Bits<W>> = Map::default();
        let mut written: Option<Box<[u8]>> = None;
        for &(r, m) in keys {
            let Match::Header { value, name } = m else {
                continue;
            };
            written.get_or_insert_with(|| name.as_bytes().into());
            match value {
                None => present.set(r),
                Some(v) => values
                    .entry(v.as_bytes().into())
                    .or_insert(Bits::EMPTY)
                    .set(r),
            }
        }
        HeaderIx {
            kind,
            written: written.unwrap_or_else(|| name.clone()),
            name,
            present,
            values,
        }
    }

    #[inline]
    fn accept(&self, value: Option<&[u8]>) -> Bits<W> {
        match value {
            None => self.kind.free,
            Some(v) => match self.values.get(v) {
                Some(bits) => self.present.or(*bits),
                None => self.present,
            },
        }
    }
}

#[cfg(test)]
mod tests;
