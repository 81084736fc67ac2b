//! [`DomainSet`]: the hosts of `match.ruri_domain`, `from_domain` and
//! `to_domain`. No I/O.
//!
//! An entry is a host name, compared without regard to case (and to one
//! trailing dot), `*.example.net` (any subdomain of `example.net`, at any
//! depth, but not `example.net` itself), or an IP address (`192.0.2.1`,
//! `2001:db8::1` or `[2001:db8::1]`), which matches a URI whose host is
//! that address.

use std::cmp::Ordering;
use std::net::IpAddr;

use crate::sip::uri::Host;

/// A set of hosts and host patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainSet {
    /// Lower case, sorted, without a trailing dot.
    exact: Box<[Box<[u8]>]>,
    /// `.example.net` for `*.example.net`, lower case.
    suffixes: Box<[Box<[u8]>]>,
    ips: Box<[IpAddr]>,
}

/// What is wrong with a domain entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainProblem {
    /// Nothing given.
    #[error("the domain is empty")]
    Empty,
    /// A `*` other than a whole first label.
    #[error(
        "'{0}': '*' may only stand for the whole first label, as in *.example.net \
         (any subdomain of example.net)"
    )]
    Wildcard(String),
    /// Not a host name.
    #[error(
        "'{0}' is not a host name; use labels of letters, digits, '-' and '_' \
         of 1 to 63 characters, separated by dots, or an IP address"
    )]
    InvalidName(String),
}

impl DomainSet {
    /// Compiles the entries; a bad one is refused with its index.
    pub fn new<S: AsRef<str>>(
        entries: impl IntoIterator<Item = S>,
    ) -> Result<DomainSet, (usize, DomainProblem)> {
        let (mut exact, mut suffixes, mut ips) = (Vec::new(), Vec::new(), Vec::new());
        for (i, entry) in entries.into_iter().enumerate() {
            let entry = entry.as_ref().trim();
            let bracketed = entry.strip_prefix('[').and_then(|e| e.strip_suffix(']'));
            if let Ok(ip) = bracketed.unwrap_or(entry).parse::<IpAddr>() {
                ips.push(ip);
                continue;
            }
            let name = entry.strip_suffix('.').unwrap_or(entry);
            let (wild, name) = match name.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, name),
            };
            if entry.is_empty() {
                return Err((i, DomainProblem::Empty));
            }
            if name.contains('*') {
                return Err((i, DomainProblem::Wildcard(entry.to_owned())));
            }
            if !valid_name(name) {
                return Err((i, DomainProblem::InvalidName(entry.to_owned())));
            }
            let lower = name.to_ascii_lowercase().into_bytes();
            if wild {
                let mut s = Vec::with_capacity(lower.len() + 1);
                s.push(b'.');
                s.extend_from_slice(&lower);
                suffixes.push(s.into_boxed_slice());
            } else {
                exact.push(lower.into_boxed_slice());
            }
        }
        exact.sort_unstable();
        exact.dedup();
        Ok(DomainSet {
            exact: exact.into_boxed_slice(),
            suffixes: suffixes.into_boxed_slice(),
            ips: ips.into_boxed_slice(),
        })
    }

    /// True when `host` is in the set.
    #[inline]
    pub fn contains(&self, host: &Host<'_>) -> bool {
        match *host {
            Host::Name(name) => {
                let name = name.strip_suffix(b".").unwrap_or(name);
                self.exact.binary_search_by(|e| cmp_lower(e, name)).is_ok()
                    || self.suffixes.iter().any(|s| {
                        name.len() > s.len()
                            && name
                                .get(name.len() - s.len()..)
                                .is_some_and(|tail| tail.eq_ignore_ascii_case(s))
                    })
            }
            Host::V4(a) => self.ips.contains(&IpAddr::V4(a)),
            Host::V6(a) => self.ips.contains(&IpAddr::V6(a)),
        }
    }

    /// The exact names: lower case, without a trailing dot.
    pub(super) fn exact(&self) -> &[Box<[u8]>] {
        &self.exact
    }

    /// The wildcards' suffixes: `.example.net` for `*.example.net`, lower
    /// case.
    pub(super) fn suffixes(&self) -> &[Box<[u8]>] {
        &self.suffixes
    }

    /// The IP address entries.
    pub(super) fn ips(&self) -> &[IpAddr] {
        &self.ips
    }
}

/// Compares the lower-case `entry` with `name` read in lower case.
fn cmp_lower(entry: &[u8], name: &[u8]) -> Ordering {
    entry
        .iter()
        .copied()
        .cmp(name.iter().map(u8::to_ascii_lowercase))
}

/// A DNS host name: labels of 1 to 63 letters, digits, `-`, `_`; 253
/// characters at most.
pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_wildcard_and_address_entries() {
        let set = DomainSet::new([
            "Example.com",
            "*.example.net",
            "192.0.2.1",
            "[2001:db8::1]",
            "pbx.local.",
        ])
        .unwrap();
        let name = |s: &'static str| Host::Name(s.as_bytes());
        let cases: [(Host<'_>, bool); 12] = [
            (name("example.com"), true),
            (name("EXAMPLE.COM."), true),
            (name("www.example.com"), false),
            (name("a.example.net"), true),
            (name("a.b.Example.NET"), true),
            (name("example.net"), false),
            (name("badexample.net"), false),
            (name("pbx.local"), true),
            (Host::V4("192.0.2.1".parse().unwrap()), true),
            (Host::V4("192.0.2.2".parse().unwrap()), false),
            (Host::V6("2001:db8::1".parse().unwrap()), true),
            (name("192.0.2.10"), false),
        ];
        for (host, want) in cases {
            assert_eq!(set.contains(&host), want, "{host:?}");
        }
    }

    #[test]
    fn bad_entries_name_the_entry() {
        let err = |list: &[&str]| DomainSet::new(list).unwrap_err();
        assert_eq!(err(&["a.com", ""]), (1, DomainProblem::Empty));
        assert_eq!(
            err(&["a.*.com"]).1,
            DomainProblem::Wildcard("a.*.com".into())
        );
        assert_eq!(err(&["*"]).1, DomainProblem::Wildcard("*".into()));
        assert_eq!(
            err(&["a..com"]).1,
            DomainProblem::InvalidName("a..com".into())
        );
        assert_eq!(
            err(&["sip:a.com"]).1,
            DomainProblem::InvalidName("sip:a.com".into())
        );
    }
}
