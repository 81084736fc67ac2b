//! IP address prefixes: [`Cidr`] (`10.0.0.0/8`, `2001:db8::/32`) and
//! [`CidrSet`], the membership test over a list of them. Shared by the
//! authenticators' allow-lists and the routing rules' `match.source`. No I/O.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

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

/// What is wrong with a prefix as written (an allow-list entry, a
/// `match.source` entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrProblem {
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
    pub fn new(addr: IpAddr, len: u8) -> Result<Cidr, CidrProblem> {
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if len > max {
            return Err(CidrProblem::InvalidLength {
                len: len.to_string(),
                max,
            });
        }
        let masked = mask(addr, len);
        if masked != addr {
            return Err(CidrProblem::HostBitsSet(format!("{masked}/{len}")));
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
/// Surrounding white space is ignored.
impl FromStr for Cidr {
    type Err = CidrProblem;

    fn from_str(s: &str) -> Result<Cidr, CidrProblem> {
        let input = s.trim();
        let (addr, len) = match input.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (input, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| CidrProblem::NotAnAddress(addr.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max && l.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(CidrProblem::InvalidLength {
                        len: l.to_owned(),
                        max,
                    })
                }
            },
        };
        Cidr::new(addr, len)
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

/// A set of prefixes, both families, and the test whether an address is
/// inside one of them. Matching is a linear scan over (network, mask)
/// pairs, meant for lists of up to a few dozen prefixes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrSet {
    /// (network, mask) pairs, host byte order.
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

impl CidrSet {
    /// The set of `prefixes` (an empty one contains nothing).
    pub fn new(prefixes: impl IntoIterator<Item = Cidr>) -> CidrSet {
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
        CidrSet {
            v4: v4.into_boxed_slice(),
            v6: v6.into_boxed_slice(),
        }
    }

    /// Parses every entry ([`Cidr`]'s `FromStr`). On the first bad one,
    /// says which (its index in `entries`) and why.
    pub fn parse<S: AsRef<str>>(
        entries: impl IntoIterator<Item = S>,
    ) -> Result<CidrSet, (usize, CidrProblem)> {
        let prefixes = entries
            .into_iter()
            .enumerate()
            .map(|(i, s)| s.as_ref().parse::<Cidr>().map_err(|p| (i, p)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CidrSet::new(prefixes))
    }

    /// How many prefixes the set holds.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// True when the set holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when `ip` (IPv4-mapped IPv6 read as IPv4) is inside a prefix
    /// of the set.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
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

#[cfg(test)]
mod tests {
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
        let cases: &[(&str, &str)] = &[
            ("", "'' is not an IPv4 or IPv6 address"),
            ("10.0.0/8", "'10.0.0' is not an IPv4 or IPv6 address"),
            (
                "host.example/32",
                "'host.example' is not an IPv4 or IPv6 address",
            ),
            (
                "10.0.0.0/33",
                "prefix length '33' is not a number from 0 to 32",
            ),
            ("10.0.0.0/", "prefix length '' is not a number from 0 to 32"),
            (
                "10.0.0.0/+8",
                "prefix length '+8' is not a number from 0 to 32",
            ),
            (
                "::/129",
                "prefix length '129' is not a number from 0 to 128",
            ),
            (
                "10.0.0.1/8",
                "bits after the prefix length are set; did you mean 10.0.0.0/8?",
            ),
            (
                "2001:db8::1/32",
                "bits after the prefix length are set; did you mean 2001:db8::/32?",
            ),
        ];
        for (input, want) in cases {
            let err = input.parse::<Cidr>().expect_err(input);
            assert_eq!(err.to_string(), *want, "{input}");
        }
        let (at, _) = CidrSet::parse(["10.0.0.0/8", "nope"]).unwrap_err();
        assert_eq!(at, 1);
    }

    #[test]
    fn sets_hold_both_families() {
        let set = CidrSet::parse(["10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48"]).unwrap();
        assert_eq!(set.len(), 3);
        let cases: &[(&str, bool)] = &[
            ("10.255.255.255", true),
            ("11.0.0.1", false),
            ("192.0.2.7", true),
            ("192.0.2.8", false),
            ("2001:db8:1:ffff::9", true),
            ("2001:db8:2::9", false),
            ("::ffff:10.1.2.3", true),
        ];
        for (ip, want) in cases {
            assert_eq!(set.contains(ip.parse().unwrap()), *want, "{ip}");
        }
        assert!(CidrSet::default().is_empty());
    }

    #[test]
    fn zero_length_prefixes_match_their_family_only() {
        let c: Cidr = "::/0".parse().unwrap();
        assert!(c.prefix_len() == 0 && c.contains("::2".parse().unwrap()));
        assert!(!c.contains("10.0.0.1".parse().unwrap()));
        assert!(!"10.0.0.0/8"
            .parse::<Cidr>()
            .unwrap()
            .contains("::ffff:11.0.0.1".parse().unwrap()));
        let v4 = CidrSet::parse(["0.0.0.0/0"]).unwrap();
        assert!(v4.contains("203.0.113.9".parse().unwrap()));
        assert!(!v4.contains("2001:db8::1".parse().unwrap()));
    }
}
