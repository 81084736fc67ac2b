//! Upstream specifications as written on the command line or in the routing
//! file: `HOST:PORT[;transport=udp|tcp][;weight=N]`. Parsing does no I/O;
//! [`UpstreamSpec::resolve`] is the one function here that may (blocking DNS
//! for host names) and is meant for start-up and reload, never a worker.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use crate::sip::Transport;

use super::RouteError;

/// The grammar, quoted at the end of every spec error.
pub const UPSTREAM_SYNTAX: &str = "HOST:PORT[;transport=udp|tcp][;weight=N]";

/// A parsed upstream: where to send, how, and its share of the group. The
/// host may still be a name; see [`UpstreamSpec::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UpstreamSpec {
    /// The host: an IP literal or a name to resolve.
    pub host: Host,
    /// The port, 1..=65535 (always given explicitly).
    pub port: u16,
    /// `udp` (the default) or `tcp`.
    pub transport: Transport,
    /// Relative weight in the group, 1 or more (default 1).
    pub weight: u32,
}

/// The host part of an [`UpstreamSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 literal or a bracketed IPv6 literal.
    Ip(IpAddr),
    /// A DNS name, kept as written (letters, digits, `-`, `_`, dots).
    Name(String),
}

/// A resolved upstream, ready for [`TableBuilder::group`](super::TableBuilder::group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// Where to send.
    pub addr: SocketAddr,
    /// How to send.
    pub transport: Transport,
    /// Relative weight in its group; 0 is rejected when the table is built.
    pub weight: u32,
}

/// What is wrong with an upstream spec (the `problem` of
/// [`RouteError::Spec`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecProblem {
    /// Nothing was given.
    #[error("empty")]
    Empty,
    /// `sip:` or `sips:` in front.
    #[error("a SIP URI is not accepted here, drop the '{0}:' prefix")]
    UriScheme(String),
    /// Nothing before the port.
    #[error("missing host")]
    MissingHost,
    /// No `:PORT`.
    #[error("missing port")]
    MissingPort,
    /// The port is not 1..=65535.
    #[error("port '{0}' is not a number from 1 to 65535")]
    InvalidPort(String),
    /// An IPv6 address without brackets.
    #[error("an IPv6 address needs brackets, as in [2001:db8::1]:5060")]
    UnbracketedIpv6,
    /// `[` without `]`.
    #[error("'[' without a closing ']'")]
    UnclosedBracket,
    /// Text in brackets that is not an IPv6 address.
    #[error("'{0}' is not an IPv6 address")]
    InvalidIpv6(String),
    /// Digits and dots that are not an IPv4 address.
    #[error("'{0}' is not an IPv4 address")]
    InvalidIpv4(String),
    /// A host name with characters or label lengths DNS does not allow.
    #[error("'{0}' is not a valid host name")]
    InvalidHostName(String),
    /// `;` followed by nothing.
    #[error("empty parameter (a stray ';')")]
    EmptyParameter,
    /// `;name` or `;name=` without a value.
    #[error("parameter '{0}' needs a value")]
    MissingValue(String),
    /// A parameter other than `transport` and `weight`.
    #[error("unknown parameter '{0}'")]
    UnknownParameter(String),
    /// The same parameter twice.
    #[error("parameter '{0}' is given twice")]
    DuplicateParameter(&'static str),
    /// A transport other than `udp` and `tcp`.
    #[error("transport '{0}' is not supported (use udp or tcp)")]
    UnsupportedTransport(String),
    /// A weight that is not 1..=4294967295.
    #[error("weight '{0}' is not a whole number from 1 to 4294967295")]
    InvalidWeight(String),
}

/// Parses `HOST:PORT[;transport=udp|tcp][;weight=N]`. Hosts are IPv4
/// literals, bracketed IPv6 literals (`[::1]:5060`) or DNS names, which are
/// kept unresolved. Parameter names and values are case-insensitive; the
/// transport defaults to UDP and the weight to 1. Surrounding white space is
/// ignored. No I/O.
///
/// Errors name the spec, the problem and the expected form, e.g.
/// `upstream '10.0.0.1': missing port; expected HOST:PORT[;transport=udp|tcp][;weight=N]`.
pub fn parse_upstream(spec: &str) -> Result<UpstreamSpec, RouteError> {
    parse(spec.trim()).map_err(|problem| RouteError::Spec {
        spec: spec.to_owned(),
        problem,
    })
}

impl FromStr for UpstreamSpec {
    type Err = RouteError;

    fn from_str(s: &str) -> Result<Self, RouteError> {
        parse_upstream(s)
    }
}

impl UpstreamSpec {
    /// The resolved upstream when the host is an IP literal; `None` for a
    /// name. No I/O.
    pub fn to_upstream(&self) -> Option<Upstream> {
        match self.host {
            Host::Ip(ip) => Some(Upstream {
                addr: SocketAddr::new(ip, self.port),
                transport: self.transport,
                weight: self.weight,
            }),
            Host::Name(_) => None,
        }
    }

    /// Resolves the host. **Does I/O**: a host name is looked up with the
    /// system resolver (`std::net::ToSocketAddrs`, blocking), and the first
    /// address returned is used; an IP literal is returned without a lookup.
    /// Call at start-up or reload, never on a worker thread. The name is not
    /// re-resolved later; a reload does that.
    pub fn resolve(&self) -> Result<Upstream, RouteError> {
        if let Some(u) = self.to_upstream() {
            return Ok(u);
        }
        let Host::Name(name) = &self.host else {
            return Err(self.resolve_error("no address".into()));
        };
        let mut addrs = (name.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| self.resolve_error(e.to_string()))?;
        let addr = addrs
            .next()
            .ok_or_else(|| self.resolve_error("no addresses found".into()))?;
        Ok(Upstream {
            addr,
            transport: self.transport,
            weight: self.weight,
        })
    }

    fn resolve_error(&self, reason: String) -> RouteError {
        RouteError::Resolve {
            spec: self.to_string(),
            reason,
        }
    }
}

/// The canonical form, which parses back to the same spec:
/// `host:port;transport=udp;weight=1` (IPv6 in brackets).
impl fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]")?,
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}")?,
            Host::Name(n) => f.write_str(n)?,
        }
        write!(
            f,
            ":{};transport={};weight={}",
            self.port,
            self.transport.as_param(),
            self.weight
        )
    }
}

fn parse(s: &str) -> Result<UpstreamSpec, SpecProblem> {
    if s.is_empty() {
        return Err(SpecProblem::Empty);
    }
    for scheme in ["sip", "sips"] {
        // `sip:5060` is the host "sip" on port 5060; anything else after
        // `sip:` or `sips:` is a URI.
        let is_uri = s.len() > scheme.len()
            && s.as_bytes()[scheme.len()] == b':'
            && s.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
            && !s[scheme.len() + 1..]
                .split(';')
                .next()
                .is_some_and(|port| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
        if is_uri {
            return Err(SpecProblem::UriScheme(s[..scheme.len()].to_owned()));
        }
    }
    let (hostport, params) = match s.find(';') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (host, port) = split_host_port(hostport)?;
    let mut spec = UpstreamSpec {
        host,
        port,
        transport: Transport::Udp,
        weight: 1,
    };
    if let Some(params) = params {
        apply_params(&mut spec, params)?;
    }
    Ok(spec)
}

fn split_host_port(s: &str) -> Result<(Host, u16), SpecProblem> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']').ok_or(SpecProblem::UnclosedBracket)?;
        let inner = &rest[..close];
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| SpecProblem::InvalidIpv6(inner.to_owned()))?;
        let port = rest[close + 1..]
            .strip_prefix(':')
            .ok_or(SpecProblem::MissingPort)?;
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match s.bytes().filter(|&b| b == b':').count() {
            0 => return Err(SpecProblem::MissingPort),
            1 => s.split_once(':').ok_or(SpecProblem::MissingPort)?,
            _ => return Err(SpecProblem::UnbracketedIpv6),
        };
        (parse_host(host)?, port)
    };
    if port.is_empty() {
        return Err(SpecProblem::MissingPort);
    }
    let port = match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(SpecProblem::InvalidPort(port.to_owned())),
    };
    Ok((host, port))
}

fn parse_host(host: &str) -> Result<Host, SpecProblem> {
    if host.is_empty() {
        return Err(SpecProblem::MissingHost);
    }
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host
            .parse::<Ipv4Addr>()
            .map(|ip| Host::Ip(IpAddr::V4(ip)))
            .map_err(|_| SpecProblem::InvalidIpv4(host.to_owned()));
    }
    if is_host_name(host) {
        Ok(Host::Name(host.to_owned()))
    } else {
        Err(SpecProblem::InvalidHostName(host.to_owned()))
    }
}

/// RFC 1123 host names (plus `_`, common in internal zones): dot-separated
/// labels of 1 to 63 letters, digits, `-` or `_`, not starting or ending with
/// `-`; 253 characters at most.
fn is_host_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn apply_params(spec: &mut UpstreamSpec, params: &str) -> Result<(), SpecProblem> {
    let mut seen_transport = false;
    let mut seen_weight = false;
    for param in params.split(';') {
        let param = param.trim();
        if param.is_empty() {
            return Err(SpecProblem::EmptyParameter);
        }
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("transport") {
            if std::mem::replace(&mut seen_transport, true) {
                return Err(SpecProblem::DuplicateParameter("transport"));
            }
            spec.transport = match value {
                "" => return Err(SpecProblem::MissingValue(name.to_owned())),
                v if v.eq_ignore_ascii_case("udp") => Transport::Udp,
                v if v.eq_ignore_ascii_case("tcp") => Transport::Tcp,
                v => return Err(SpecProblem::UnsupportedTransport(v.to_owned())),
            };
        } else if name.eq_ignore_ascii_case("weight") {
            if std::mem::replace(&mut seen_weight, true) {
                return Err(SpecProblem::DuplicateParameter("weight"));
            }
            if value.is_empty() {
                return Err(SpecProblem::MissingValue(name.to_owned()));
            }
            spec.weight = match value.parse::<u32>() {
                Ok(w) if w != 0 && value.bytes().all(|b| b.is_ascii_digit()) => w,
                _ => return Err(SpecProblem::InvalidWeight(value.to_owned())),
            };
        } else {
            return Err(SpecProblem::UnknownParameter(name.to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Host {
        Host::Ip(s.parse().unwrap())
    }

    fn name(s: &str) -> Host {
        Host::Name(s.into())
    }

    #[test]
    fn valid_specs() {
        use Transport::{Tcp, Udp};
        let cases: &[(&str, Host, u16, Transport, u32)] = &[
            ("10.0.0.1:5060", ip("10.0.0.1"), 5060, Udp, 1),
            (" 10.0.0.1:5060 ", ip("10.0.0.1"), 5060, Udp, 1),
            ("10.0.0.1:5080;transport=tcp", ip("10.0.0.1"), 5080, Tcp, 1),
            ("10.0.0.1:5060;weight=3", ip("10.0.0.1"), 5060, Udp, 3),
            (
                "10.0.0.1:1;Transport=TCP;Weight=2",
                ip("10.0.0.1"),
                1,
                Tcp,
                2,
            ),
            (
                "10.0.0.1:5060;weight=2;transport=udp",
                ip("10.0.0.1"),
                5060,
                Udp,
                2,
            ),
            ("[::1]:5060", ip("::1"), 5060, Udp, 1),
            (
                "[2001:db8::1]:65535;transport=tcp",
                ip("2001:db8::1"),
                65535,
                Tcp,
                1,
            ),
            (
                "sbc1.example.net:5060",
                name("sbc1.example.net"),
                5060,
                Udp,
                1,
            ),
            (
                "SBC_2-a:5062;weight=4294967295",
                name("SBC_2-a"),
                5062,
                Udp,
                u32::MAX,
            ),
            ("localhost:5060", name("localhost"), 5060, Udp, 1),
            ("sip:5060", name("sip"), 5060, Udp, 1),
        ];
        for (input, host, port, transport, weight) in cases {
            let want = UpstreamSpec {
                host: host.clone(),
                port: *port,
                transport: *transport,
                weight: *weight,
            };
            let got = parse_upstream(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
            // The canonical form parses back to the same spec.
            assert_eq!(parse_upstream(&got.to_string()).unwrap(), got, "{input}");
        }
    }

    #[test]
    fn invalid_specs_say_what_is_wrong() {
        let tail = "; expected HOST:PORT[;transport=udp|tcp][;weight=N]";
        let cases: &[(&str, &str)] = &[
            ("", "upstream '': empty"),
            ("10.0.0.1", "upstream '10.0.0.1': missing port"),
            ("10.0.0.1:", "upstream '10.0.0.1:': missing port"),
            (":5060", "upstream ':5060': missing host"),
            ("10.0.0.1:0", "upstream '10.0.0.1:0': port '0' is not a number from 1 to 65535"),
            ("10.0.0.1:65536", "upstream '10.0.0.1:65536': port '65536' is not a number from 1 to 65535"),
            ("10.0.0.1:+50", "upstream '10.0.0.1:+50': port '+50' is not a number from 1 to 65535"),
            ("10.0.0.1:sip", "upstream '10.0.0.1:sip': port 'sip' is not a number from 1 to 65535"),
            ("10.0.0.300:5060", "upstream '10.0.0.300:5060': '10.0.0.300' is not an IPv4 address"),
            ("2001:db8::1:5060", "upstream '2001:db8::1:5060': an IPv6 address needs brackets, as in [2001:db8::1]:5060"),
            ("[2001:db8::1:5060", "upstream '[2001:db8::1:5060': '[' without a closing ']'"),
            ("[2001:db8::1]", "upstream '[2001:db8::1]': missing port"),
            ("[10.0.0.1]:5060", "upstream '[10.0.0.1]:5060': '10.0.0.1' is not an IPv6 address"),
            ("sip:10.0.0.1:5060", "upstream 'sip:10.0.0.1:5060': a SIP URI is not accepted here, drop the 'sip:' prefix"),
            ("SIPS:sbc:5061", "upstream 'SIPS:sbc:5061': a SIP URI is not accepted here, drop the 'SIPS:' prefix"),
            ("bad host:5060", "upstream 'bad host:5060': 'bad host' is not a valid host name"),
            ("-sbc:5060", "upstream '-sbc:5060': '-sbc' is not a valid host name"),
            ("sbc..net:5060", "upstream 'sbc..net:5060': 'sbc..net' is not a valid host name"),
            ("10.0.0.1:5060;", "upstream '10.0.0.1:5060;': empty parameter (a stray ';')"),
            ("10.0.0.1:5060;transport", "upstream '10.0.0.1:5060;transport': parameter 'transport' needs a value"),
            ("10.0.0.1:5060;weight=", "upstream '10.0.0.1:5060;weight=': parameter 'weight' needs a value"),
            ("10.0.0.1:5060;transport=tls", "upstream '10.0.0.1:5060;transport=tls': transport 'tls' is not supported (use udp or tcp)"),
            ("10.0.0.1:5060;weight=0", "upstream '10.0.0.1:5060;weight=0': weight '0' is not a whole number from 1 to 4294967295"),
            ("10.0.0.1:5060;weight=-1", "upstream '10.0.0.1:5060;weight=-1': weight '-1' is not a whole number from 1 to 4294967295"),
            ("10.0.0.1:5060;weight=1.5", "upstream '10.0.0.1:5060;weight=1.5': weight '1.5' is not a whole number from 1 to 4294967295"),
            ("10.0.0.1:5060;weight=4294967296", "upstream '10.0.0.1:5060;weight=4294967296': weight '4294967296' is not a whole number from 1 to 4294967295"),
            ("10.0.0.1:5060;lr", "upstream '10.0.0.1:5060;lr': unknown parameter 'lr'"),
            ("10.0.0.1:5060;weight=1;weight=2", "upstream '10.0.0.1:5060;weight=1;weight=2': parameter 'weight' is given twice"),
            ("10.0.0.1:5060;transport=udp;TRANSPORT=tcp", "upstream '10.0.0.1:5060;transport=udp;TRANSPORT=tcp': parameter 'transport' is given twice"),
        ];
        for (input, want) in cases {
            let err = parse_upstream(input).expect_err(input);
            assert_eq!(err.to_string(), format!("{want}{tail}"), "{input}");
        }
    }

    #[test]
    fn resolve_without_lookup_for_ip_literals() {
        let spec = parse_upstream("[2001:db8::7]:5070;transport=tcp;weight=2").unwrap();
        let want = Upstream {
            addr: "[2001:db8::7]:5070".parse().unwrap(),
            transport: Transport::Tcp,
            weight: 2,
        };
        assert_eq!(spec.to_upstream(), Some(want));
        assert_eq!(spec.resolve().unwrap(), want);
        assert_eq!(
            parse_upstream("sbc.example:5060").unwrap().to_upstream(),
            None
        );
    }
}
