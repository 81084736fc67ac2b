//! [`IpAcl`]: allow requests from listed source prefixes, answer everything
//! else `403 Forbidden`. No I/O.

use std::net::IpAddr;

use crate::cidr::{Cidr, CidrSet};
use crate::sip::Request;

use super::{AuthContext, AuthError, Authenticator, Verdict};

/// Allows requests whose source address is inside one of the listed
/// prefixes, and rejects every other request with `403 Forbidden`.
/// Matching is a linear scan ([`CidrSet`]), meant for lists of up to a few
/// dozen prefixes.
#[derive(Debug, Clone)]
pub struct IpAcl {
    prefixes: CidrSet,
}

impl IpAcl {
    /// An ACL of `prefixes`. An empty list denies everything; see
    /// [`IpAcl::parse`] for the checked constructor.
    pub fn new(prefixes: impl IntoIterator<Item = Cidr>) -> IpAcl {
        IpAcl {
            prefixes: CidrSet::new(prefixes),
        }
    }

    /// Parses prefixes such as `10.0.0.0/8`, `192.0.2.7` (one host) and
    /// `::1/128`. Fails on the first invalid entry, and on an empty list
    /// (which would reject every request).
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<IpAcl, AuthError> {
        let entries: Vec<S> = entries.into_iter().collect();
        let prefixes =
            CidrSet::parse(&entries).map_err(|(i, problem)| AuthError::InvalidPrefix {
                input: entries[i].as_ref().to_owned(),
                problem,
            })?;
        if prefixes.is_empty() {
            return Err(AuthError::EmptyAllowList);
        }
        Ok(IpAcl { prefixes })
    }

    /// True when `ip` is inside a listed prefix.
    #[inline]
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.prefixes.contains(ip)
    }
}

impl Authenticator for IpAcl {
    fn check(&self, _req: &Request<'_>, ctx: &AuthContext) -> Verdict {
        if self.allows(ctx.source.ip()) {
            Verdict::Allow
        } else {
            Verdict::FORBIDDEN
        }
    }

    fn check_context(&self, ctx: &AuthContext) -> Option<Verdict> {
        Some(if self.allows(ctx.source.ip()) {
            Verdict::Allow
        } else {
            Verdict::FORBIDDEN
        })
    }

    fn name(&self) -> &'static str {
        "ip-acl"
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ctx, request};
    use super::*;

    #[test]
    fn invalid_prefixes_say_what_is_wrong() {
        let tail = "; expected ADDRESS/LENGTH such as 10.0.0.0/8 or 2001:db8::/32";
        let cases: &[(&str, &str)] = &[
            ("", "allow-list entry '': '' is not an IPv4 or IPv6 address"),
            ("10.0.0/8", "allow-list entry '10.0.0/8': '10.0.0' is not an IPv4 or IPv6 address"),
            ("host.example/32", "allow-list entry 'host.example/32': 'host.example' is not an IPv4 or IPv6 address"),
            ("10.0.0.0/33", "allow-list entry '10.0.0.0/33': prefix length '33' is not a number from 0 to 32"),
            ("10.0.0.0/", "allow-list entry '10.0.0.0/': prefix length '' is not a number from 0 to 32"),
            ("10.0.0.0/+8", "allow-list entry '10.0.0.0/+8': prefix length '+8' is not a number from 0 to 32"),
            ("::/129", "allow-list entry '::/129': prefix length '129' is not a number from 0 to 128"),
            ("10.0.0.1/8", "allow-list entry '10.0.0.1/8': bits after the prefix length are set; did you mean 10.0.0.0/8?"),
            ("2001:db8::1/32", "allow-list entry '2001:db8::1/32': bits after the prefix length are set; did you mean 2001:db8::/32?"),
        ];
        for (input, want) in cases {
            let err = IpAcl::parse([input]).expect_err(input);
            assert_eq!(err.to_string(), format!("{want}{tail}"), "{input}");
        }
        assert_eq!(
            IpAcl::parse(Vec::<&str>::new()).unwrap_err().to_string(),
            "the IP allow-list is empty, which would reject every request; \
             give at least one prefix such as 10.0.0.0/8"
        );
    }

    #[test]
    fn allows_listed_sources_and_forbids_the_rest() {
        let acl = IpAcl::parse(["10.0.0.0/8", "192.0.2.7", "::1/128", "2001:db8:1::/48"]).unwrap();
        let req = request();
        let cases: &[(&str, bool)] = &[
            ("10.0.0.1:5060", true),
            ("10.255.255.255:1", true),
            ("11.0.0.1:5060", false),
            ("9.255.255.255:5060", false),
            ("192.0.2.7:5060", true),
            ("192.0.2.8:5060", false),
            ("[::1]:5060", true),
            ("[::2]:5060", false),
            ("[2001:db8:1:ffff::9]:5060", true),
            ("[2001:db8:2::9]:5060", false),
            // IPv4 clients on a dual-stack socket appear IPv4-mapped.
            ("[::ffff:10.1.2.3]:5060", true),
            ("[::ffff:11.1.2.3]:5060", false),
        ];
        for (src, allowed) in cases {
            let want = if *allowed {
                Verdict::Allow
            } else {
                Verdict::Reject {
                    code: 403,
                    reason: "Forbidden",
                }
            };
            assert_eq!(acl.check(&req, &ctx(src)), want, "{src}");
        }
    }

    #[test]
    fn zero_length_prefixes_match_their_family_only() {
        let v4 = IpAcl::parse(["0.0.0.0/0"]).unwrap();
        assert!(v4.allows("203.0.113.9".parse().unwrap()));
        assert!(!v4.allows("2001:db8::1".parse().unwrap()));
        let v6 = IpAcl::parse(["::/0"]).unwrap();
        assert!(v6.allows("2001:db8::1".parse().unwrap()));
        assert!(!v6.allows("203.0.113.9".parse().unwrap()));
    }
}
