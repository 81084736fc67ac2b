//! [`IpAcl`]: allow requests from listed source prefixes, answer everything
//! else `403 Forbidden`. No I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::sip::Request;

use super::{AuthContext, AuthError, Authenticator, Verdict};

/// An address prefix such as `10.0.0.0/8` or `2001:db8::/32`.
///
/// IPv4-mapped IPv6 prefixes (`::ffff:10.0.0.0/104`) are stored as the IPv4
/// prefix they denote, and sources are compared after the same mapping, so
/// an IPv4 client reaching a dual-stack socket matches IPv4 entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    net: IpAddr,
    len: u8,
}

/// What is wrong with an allow-list entry (the `problem` of
/// [`AuthError::InvalidPrefix`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixProblem {
    /// The part before `/` is not an address.
    #[error("'{0}' is not an IPv4 or IPv6 address")]
    NotAnAddress(String),
    /// The part after `/` is not a prefix length for the family.
    #[error("prefix length '{len}' is not a number from 0 to {max}")]
    InvalidLength {
        /// As written.
        len: String,
        /// 32 or 128.
        max: u8,
    },
    /// Bits beyond the prefix length are set (`10.0.0.1/8`).
    #[error("bits after the prefix length are set; did you mean {0}?")]
    HostBitsSet(String),
}

impl Cidr {
    /// The prefix `addr/len`. Fails when `len` exceeds the family's width
    /// or `addr` has bits set after the first `len`.
    pub fn new(addr: IpAddr, len: u8) -> Result<Cidr, PrefixProblem> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if len > max {
            return Err(PrefixProblem::InvalidLength {
                len: len.to_string(),
                max,
            });
        }
        let masked = mask(addr, len);
        if masked != addr {
            return Err(PrefixProblem::HostBitsSet(format!("{masked}/{len}")));
        }
        Ok(match addr {
            // ::ffff:a.b.c.d/96+n is the IPv4 prefix a.b.c.d/n.
            IpAddr::V6(v6) if len >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => Cidr {
                    net: IpAddr::V4(v4),
                    len: len - 96,
                },
                None => Cidr { net: addr, len },
            },
            _ => Cidr { net: addr, len },
        })
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.net
    }

    /// The prefix length (`/0` matches every address of its family).
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    /// True when `ip` (IPv4-mapped IPv6 read as IPv4) is inside the prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        matches!(
            (self.net, ip),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        ) && mask(ip, self.len) == self.net
    }
}

/// `ADDRESS/LEN`, or a bare address for a single host (`/32`, `/128`).
impl FromStr for Cidr {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Cidr, AuthError> {
        let input = s.trim();
        let err = |problem| AuthError::InvalidPrefix {
            input: s.to_owned(),
            problem,
        };
        let (addr, len) = match input.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (input, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| err(PrefixProblem::NotAnAddress(addr.to_owned())))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max && l.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(err(PrefixProblem::InvalidLength {
                        len: l.to_owned(),
                        max,
                    }))
                }
            },
        };
        Cidr::new(addr, len).map_err(err)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.len)
    }
}

/// `addr` with all bits after the first `len` cleared.
fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & m))
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & m))
        }
    }
}

/// Allows requests whose source address is inside one of the listed
/// prefixes, and rejects every other request with `403 Forbidden`.
/// Matching is a linear scan, meant for lists of up to a few dozen
/// prefixes.
#[derive(Debug, Clone)]
pub struct IpAcl {
    /// (network, mask) pairs, host byte order.
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

impl IpAcl {
    /// An ACL of `prefixes`. An empty list denies everything; see
    /// [`IpAcl::parse`] for the checked constructor.
    pub fn new(prefixes: impl IntoIterator<Item = Cidr>) -> IpAcl {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for c in prefixes {
            match c.net {
                IpAddr::V4(a) => {
                    let m = u32::MAX.checked_shl(32 - u32::from(c.len)).unwrap_or(0);
                    v4.push((u32::from(a), m));
                }
                IpAddr::V6(a) => {
                    let m = u128::MAX.checked_shl(128 - u32::from(c.len)).unwrap_or(0);
                    v6.push((u128::from(a), m));
                }
            }
        }
        IpAcl {
            v4: v4.into_boxed_slice(),
            v6: v6.into_boxed_slice(),
        }
    }

    /// Parses prefixes such as `10.0.0.0/8`, `192.0.2.7` (one host) and
    /// `::1/128`. Fails on the first invalid entry, and on an empty list
    /// (which would reject every request).
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Result<IpAcl, AuthError> {
        let prefixes = entries
            .into_iter()
            .map(|s| s.as_ref().parse::<Cidr>())
            .collect::<Result<Vec<_>, _>>()?;
        if prefixes.is_empty() {
            return Err(AuthError::EmptyAllowList);
        }
        Ok(IpAcl::new(prefixes))
    }

    /// True when `ip` is inside a listed prefix.
    #[inline]
    pub fn allows(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(net, m)| a & m == net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(net, m)| a & m == net)
            }
        }
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
    fn valid_prefixes() {
        let cases: &[(&str, &str)] = &[
            ("10.0.0.0/8", "10.0.0.0/8"),
            (" 192.0.2.7 ", "192.0.2.7/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::1/128", "::1/128"),
            ("::1", "::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("::/0", "::/0"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ];
        for (input, want) in cases {
            let c: Cidr = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(c.to_string(), *want, "{input}");
        }
    }

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
            let err = input.parse::<Cidr>().expect_err(input);
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
        let c: Cidr = "::/0".parse().unwrap();
        assert!(c.prefix_len() == 0 && c.contains("::2".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(!"10.0.0.0/8"
            .parse::<Cidr>()
            .unwrap()
            .contains("::ffff:11.0.0.1".parse().unwrap()));
    }
}
