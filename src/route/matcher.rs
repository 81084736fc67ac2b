//! The `match` keys of a rule ([`Match`]) and their evaluation over one
//! request. No I/O.
//!
//! A rule's keys are ANDed, the entries of one key ORed. The request's
//! fields are read once each, lazily, in an [`Eval`] that lives for one
//! [`Table::select`](super::Table::select): the Request-URI's user is
//! normalized (decoded, separators removed, packed for prefix lookups) by
//! the first rule that needs it and reused by every later one, on the stack
//! (no heap for users up to 64 bytes). No regex runs unless a rule with a
//! regex is reached and its other keys matched (keys are tested cheapest
//! first; the order does not change the result).

use regex::bytes::Regex;

use crate::cidr::CidrSet;

use super::domain::DomainSet;
use super::input::{RouteInput, UriParts};
use super::number::User;
use super::prefix::PrefixSet;
use super::sets::{MethodSet, Substrings, TransportSet, UserSet};
use super::time::TimeWindow;

/// One `match` key of a rule, compiled. Lists are ORed.
#[derive(Debug, Clone)]
pub enum Match {
    /// `method`: the request method is one of these.
    Method(MethodSet),
    /// `ruri_user_prefix`: the Request-URI user is a dialled number that
    /// starts with one of these.
    RuriUserPrefix(PrefixSet),
    /// `ruri_user`: the Request-URI user is one of these (normalized).
    RuriUser(UserSet),
    /// `ruri_user_regex`: the regex finds a match in the normalized
    /// Request-URI user (anchor it with `^...$` to match the whole user).
    RuriUserRegex(Regex),
    /// `ruri_domain`: the Request-URI host.
    RuriDomain(DomainSet),
    /// `from_user`: the From URI user (normalized).
    FromUser(UserSet),
    /// `from_domain`: the From URI host.
    FromDomain(DomainSet),
    /// `to_user`: the To URI user (normalized).
    ToUser(UserSet),
    /// `to_domain`: the To URI host.
    ToDomain(DomainSet),
    /// `source`: the packet's source address.
    Source(CidrSet),
    /// `transport`: the transport the request came over.
    Transport(TransportSet),
    /// `header`: the header is present (`value: None`) or its first value,
    /// trimmed, is exactly `value`.
    Header {
        /// The header name (any case; a compact form names the same header).
        name: String,
        /// The value wanted; `None` for presence.
        value: Option<String>,
    },
    /// `user_agent`: the User-Agent contains one of these, in any case.
    UserAgent(Substrings),
    /// `time`: the request's time falls in one of these windows.
    Time(Vec<TimeWindow>),
}

impl Match {
    /// A rough cost rank, cheapest first: the order a rule tests its keys.
    pub(super) fn cost(&self) -> u8 {
        match self {
            Match::Method(_) | Match::Transport(_) => 0,
            Match::Source(_) => 1,
            Match::RuriUserPrefix(_) | Match::RuriUser(_) | Match::RuriDomain(_) => 2,
            Match::FromUser(_) | Match::FromDomain(_) | Match::ToUser(_) | Match::ToDomain(_) => 3,
            Match::UserAgent(_) => 4,
            Match::Header { .. } => 5,
            Match::Time(_) => 6,
            Match::RuriUserRegex(_) => 7,
        }
    }

    /// Whether the request in `ev` matches this key.
    #[inline]
    pub(super) fn test(&self, ev: &mut Eval<'_, '_>) -> bool {
        let input = ev.input;
        match self {
            Match::Method(set) => set.contains(&input.method),
            Match::Transport(set) => set.contains(input.transport),
            Match::Source(set) => set.contains(input.source.ip()),
            Match::RuriUserPrefix(set) => ev
                .ruri_user()
                .and_then(User::dial_key)
                .is_some_and(|k| set.longest(k).is_some()),
            Match::RuriUser(set) => ev.ruri_user().is_some_and(|u| set.contains(u)),
            Match::RuriUserRegex(re) => ev.ruri_user().is_some_and(|u| re.is_match(u.as_bytes())),
            Match::RuriDomain(set) => host_in(ev.ruri(), set),
            Match::FromUser(set) => ev.user_in_from().is_some_and(|u| set.contains(u)),
            Match::FromDomain(set) => host_in(ev.from(), set),
            Match::ToUser(set) => ev.user_in_to().is_some_and(|u| set.contains(u)),
            Match::ToDomain(set) => host_in(ev.to(), set),
            Match::Header { name, value } => match input.request.header(name.as_bytes()) {
                Some(v) => value.as_ref().is_none_or(|want| want.as_bytes() == v),
                None => false,
            },
            Match::UserAgent(set) => ev.user_agent().is_some_and(|ua| set.found_in(ua)),
            Match::Time(windows) => windows.iter().any(|w| w.contains(input.now_unix_secs)),
        }
    }
}

fn host_in(parts: Option<UriParts<'_>>, set: &DomainSet) -> bool {
    parts.and_then(|p| p.host).is_some_and(|h| set.contains(&h))
}

/// A field read at most once per request: not read yet, or its value.
type Once<T> = Option<T>;

/// The request's fields as rules read them, each on first use.
pub(super) struct Eval<'i, 'a> {
    pub(super) input: &'i RouteInput<'a>,
    ruri: Once<Option<UriParts<'a>>>,
    ruri_user: Once<Option<User>>,
    from: Once<Option<UriParts<'a>>>,
    from_user: Once<Option<User>>,
    to: Once<Option<UriParts<'a>>>,
    to_user: Once<Option<User>>,
    user_agent: Once<Option<&'a [u8]>>,
    /// The `auth` of the first matching rule that has one.
    pub(super) auth: super::rule::RuleAuth,
}

impl<'i, 'a> Eval<'i, 'a> {
    /// Nothing read yet.
    #[inline]
    pub(super) fn new(input: &'i RouteInput<'a>) -> Eval<'i, 'a> {
        Eval {
            input,
            ruri: None,
            ruri_user: None,
            from: None,
            from_user: None,
            to: None,
            to_user: None,
            user_agent: None,
            auth: super::rule::RuleAuth::default(),
        }
    }

    pub(super) fn ruri(&mut self) -> Option<UriParts<'a>> {
        let request = self.input.request;
        *self.ruri.get_or_insert_with(|| request.ruri())
    }

    pub(super) fn from(&mut self) -> Option<UriParts<'a>> {
        let request = self.input.request;
        *self.from.get_or_insert_with(|| request.from())
    }

    pub(super) fn to(&mut self) -> Option<UriParts<'a>> {
        let request = self.input.request;
        *self.to.get_or_insert_with(|| request.to())
    }

    /// The Request-URI's user, normalized once.
    pub(super) fn ruri_user(&mut self) -> Option<&User> {
        if self.ruri_user.is_none() {
            self.ruri_user = Some(self.ruri().map(|p| User::of(&p)));
        }
        self.ruri_user.as_ref().and_then(Option::as_ref)
    }

    pub(super) fn user_in_from(&mut self) -> Option<&User> {
        if self.from_user.is_none() {
            self.from_user = Some(self.from().map(|p| User::of(&p)));
        }
        self.from_user.as_ref().and_then(Option::as_ref)
    }

    pub(super) fn user_in_to(&mut self) -> Option<&User> {
        if self.to_user.is_none() {
            self.to_user = Some(self.to().map(|p| User::of(&p)));
        }
        self.to_user.as_ref().and_then(Option::as_ref)
    }

    pub(super) fn user_agent(&mut self) -> Option<&'a [u8]> {
        let request = self.input.request;
        *self
            .user_agent
            .get_or_insert_with(|| request.header(b"User-Agent"))
    }
}
