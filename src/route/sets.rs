//! The small sets rules match against: methods ([`MethodSet`], a bitmask),
//! users ([`UserSet`]), transports ([`TransportSet`]) and case-insensitive
//! substrings ([`Substrings`], `match.user_agent`). No I/O.

use crate::sip::{Method, Transport};

use super::number::User;

/// SIP methods: the known ones as bits, extension methods by name
/// (case-sensitive, RFC 3261 §7.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MethodSet {
    bits: u16,
    extensions: Box<[Box<[u8]>]>,
}

/// What is wrong with a method name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MethodProblem {
    /// Not a token.
    #[error("'{0}' is not a SIP method name")]
    NotAToken(String),
    /// A known method in the wrong case, which would never match.
    #[error("'{given}': SIP method names are case-sensitive; write {want}")]
    Case {
        /// As written.
        given: String,
        /// The method's name.
        want: String,
    },
}

impl MethodSet {
    /// The set of `names`; a bad one is refused with its index.
    pub fn new<S: AsRef<str>>(
        names: impl IntoIterator<Item = S>,
    ) -> Result<MethodSet, (usize, MethodProblem)> {
        let mut set = MethodSet::default();
        let mut extensions = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            let name = name.as_ref().trim();
            let method = Method::from_bytes(name.as_bytes())
                .ok_or_else(|| (i, MethodProblem::NotAToken(name.to_owned())))?;
            match method_bit(&method) {
                Some(bit) => set.bits |= bit,
                None => {
                    let upper = name.to_ascii_uppercase();
                    if Method::from_bytes(upper.as_bytes())
                        .is_some_and(|m| method_bit(&m).is_some())
                    {
                        return Err((
                            i,
                            MethodProblem::Case {
                                given: name.to_owned(),
                                want: upper,
                            },
                        ));
                    }
                    extensions.push(name.as_bytes().into());
                }
            }
        }
        set.extensions = extensions.into_boxed_slice();
        Ok(set)
    }

    /// True when `method` is in the set.
    #[inline]
    pub fn contains(&self, method: &Method<'_>) -> bool {
        match method_bit(method) {
            Some(bit) => self.bits & bit != 0,
            None => self.extensions.iter().any(|e| **e == *method.as_bytes()),
        }
    }

    /// The known methods, as [`method_bit`]s.
    pub(super) fn bits(&self) -> u16 {
        self.bits
    }

    /// The extension methods, as written.
    pub(super) fn extensions(&self) -> &[Box<[u8]>] {
        &self.extensions
    }
}

/// The bit of a known method; `None` for an extension.
#[inline]
pub(super) fn method_bit(m: &Method<'_>) -> Option<u16> {
    let i = match m {
        Method::Invite => 0,
        Method::Ack => 1,
        Method::Bye => 2,
        Method::Cancel => 3,
        Method::Options => 4,
        Method::Register => 5,
        Method::Prack => 6,
        Method::Subscribe => 7,
        Method::Notify => 8,
        Method::Publish => 9,
        Method::Info => 10,
        Method::Refer => 11,
        Method::Message => 12,
        Method::Update => 13,
        Method::Extension(_) => return None,
    };
    Some(1 << i)
}

/// Users compared exactly after normalization ([`User`]: escapes decoded,
/// a dialled number's separators removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSet {
    /// Normalized, sorted.
    users: Box<[Box<[u8]>]>,
}

/// What is wrong with a user entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserProblem {
    /// Nothing given.
    #[error("the user is empty")]
    Empty,
}

impl UserSet {
    /// The set of `users`; an empty one is refused with its index.
    pub fn new<S: AsRef<str>>(
        users: impl IntoIterator<Item = S>,
    ) -> Result<UserSet, (usize, UserProblem)> {
        let mut out = Vec::new();
        for (i, u) in users.into_iter().enumerate() {
            let user = User::from_config(u.as_ref().trim());
            if user.as_bytes().is_empty() {
                return Err((i, UserProblem::Empty));
            }
            out.push(user.as_bytes().into());
        }
        out.sort_unstable();
        out.dedup();
        Ok(UserSet {
            users: out.into_boxed_slice(),
        })
    }

    /// True when the normalized `user` is in the set.
    #[inline]
    pub fn contains(&self, user: &User) -> bool {
        self.users
            .binary_search_by(|u| (**u).cmp(user.as_bytes()))
            .is_ok()
    }

    /// The normalized users.
    pub(super) fn users(&self) -> &[Box<[u8]>] {
        &self.users
    }
}

/// Transports, as a bitmask.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportSet(u8);

impl TransportSet {
    /// The set of `transports`.
    pub fn new(transports: impl IntoIterator<Item = Transport>) -> TransportSet {
        TransportSet(transports.into_iter().fold(0, |m, t| m | transport_bit(t)))
    }

    /// The set of transports named as in a `transport=` parameter
    /// (`udp`, `tcp`; any case); an unknown name is refused with its index.
    pub fn parse<S: AsRef<str>>(
        names: impl IntoIterator<Item = S>,
    ) -> Result<TransportSet, (usize, String)> {
        let mut set = TransportSet::default();
        for (i, name) in names.into_iter().enumerate() {
            let name = name.as_ref().trim();
            let t = match name.to_ascii_lowercase().as_str() {
                "udp" => Transport::Udp,
                "tcp" => Transport::Tcp,
                _ => {
                    return Err((
                        i,
                        format!("transport '{name}' is not supported; use udp or tcp"),
                    ))
                }
            };
            set.0 |= transport_bit(t);
        }
        Ok(set)
    }

    /// True when `t` is in the set.
    #[inline]
    pub fn contains(self, t: Transport) -> bool {
        self.0 & transport_bit(t) != 0
    }

    /// The set as [`transport_bit`]s.
    pub(super) fn bits(self) -> u8 {
        self.0
    }
}

/// The bit of a transport in a [`TransportSet`]: one of the low
/// [`TRANSPORTS`] bits.
pub(super) fn transport_bit(t: Transport) -> u8 {
    1 << match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
        Transport::Sctp => 3,
        Transport::Ws => 4,
        Transport::Wss => 5,
        Transport::Other => 6,
    }
}

/// How many transports [`transport_bit`] tells apart.
pub(super) const TRANSPORTS: usize = 7;

/// Substrings found without regard to ASCII case (`match.user_agent`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Substrings {
    /// Lower case, non-empty.
    needles: Box<[Box<[u8]>]>,
}

impl Substrings {
    /// The set of `needles`; an empty one (which would match everything)
    /// is refused with its index.
    pub fn new<S: AsRef<str>>(needles: impl IntoIterator<Item = S>) -> Result<Substrings, usize> {
        let mut out = Vec::new();
        for (i, n) in needles.into_iter().enumerate() {
            let n = n.as_ref();
            if n.is_empty() {
                return Err(i);
            }
            out.push(n.to_ascii_lowercase().into_bytes().into_boxed_slice());
        }
        Ok(Substrings {
            needles: out.into_boxed_slice(),
        })
    }

    /// True when `hay` contains one of the needles, in any ASCII case.
    pub fn found_in(&self, hay: &[u8]) -> bool {
        self.needles.iter().any(|n| contains_ignore_case(hay, n))
    }

    /// The needles, in lower case.
    pub(super) fn needles(&self) -> &[Box<[u8]>] {
        &self.needles
    }
}

/// Whether `hay` contains the lower-case `needle` in any ASCII case: the
/// first byte (either case) is found with `memchr2`, the rest compared only
/// there.
pub(super) fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut at = 0;
    while let Some(i) = hay
        .get(at..)
        .and_then(|h| memchr::memchr2(first, first.to_ascii_uppercase(), h))
    {
        let start = at + i + 1;
        if hay
            .get(start..start + rest.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(rest))
        {
            return true;
        }
        at = start;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::UriParts;

    #[test]
    fn methods_match_by_bit_and_extensions_by_name() {
        let set = MethodSet::new(["INVITE", "MESSAGE", "FOO"]).unwrap();
        assert!(set.contains(&Method::Invite) && set.contains(&Method::Message));
        assert!(!set.contains(&Method::Ack) && !set.contains(&Method::Register));
        assert!(set.contains(&Method::Extension(b"FOO")));
        assert!(!set.contains(&Method::Extension(b"foo")));
        assert_eq!(
            MethodSet::new(["INVITE", "invite"]).unwrap_err(),
            (
                1,
                MethodProblem::Case {
                    given: "invite".into(),
                    want: "INVITE".into()
                }
            )
        );
        assert_eq!(MethodSet::new(["IN VITE"]).unwrap_err().0, 0);
    }

    #[test]
    fn users_compare_normalized() {
        let set = UserSet::new(["9999", "+44 20 7946 0000", "alice.smith"]).unwrap();
        let user = |raw: &'static [u8]| {
            User::of(&UriParts {
                user: raw,
                host: None,
                phone: false,
            })
        };
        assert!(set.contains(&user(b"9999")));
        assert!(set.contains(&user(b"+44-20-7946-0000")));
        assert!(set.contains(&user(b"alice%2Esmith")));
        assert!(!set.contains(&user(b"alicesmith")));
        assert!(!set.contains(&user(b"99990")));
        assert_eq!(
            UserSet::new(["1", " "]).unwrap_err(),
            (1, UserProblem::Empty)
        );
    }

    #[test]
    fn transports_and_substrings() {
        let t = TransportSet::parse(["UDP"]).unwrap();
        assert!(t.contains(Transport::Udp) && !t.contains(Transport::Tcp));
        assert!(TransportSet::parse(["udp", "tls"]).unwrap_err().0 == 1);
        let ua = Substrings::new(["friendly-scanner", "sipvicious"]).unwrap();
        assert!(ua.found_in(b"Friendly-Scanner 1.0"));
        assert!(ua.found_in(b"x SIPVicious"));
        assert!(!ua.found_in(b"Linphone/5.0") && !ua.found_in(b""));
        assert!(!ua.found_in(b"friendly-scanne") && ua.found_in(b"ffriendly-scannerr"));
        assert_eq!(Substrings::new(["a", ""]).unwrap_err(), 1);
    }
}
