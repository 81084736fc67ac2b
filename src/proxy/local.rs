//! Who "we" are: the listeners, what we advertise in Via and Record-Route,
//! and the test "does this URI or Via name this proxy?". No I/O.

use std::net::{IpAddr, SocketAddr};

use crate::sip::name_addr::NameAddr;
use crate::sip::uri::Host;
use crate::sip::writer::Writer;
use crate::sip::Transport;

/// One address the proxy listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Transport of the socket.
    pub transport: Transport,
    /// The bound address. An unspecified IP (`0.0.0.0`, `::`) needs
    /// `advertise`.
    pub addr: SocketAddr,
    /// What goes into Via and Record-Route instead of the bound address
    /// (`HOST` or `HOST:PORT`; behind NAT, the public address).
    pub advertise: Option<String>,
}

/// A configuration the proxy cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No listener was given.
    #[error("no listen address: give at least one --listen")]
    NoListener,
    /// A wildcard listener without an advertised address.
    #[error("listener {0} is bound to a wildcard address, so there is no address to put in Via and Record-Route; give --advertise HOST[:PORT]")]
    NeedAdvertise(SocketAddr),
    /// An advertised address that is not `HOST[:PORT]`.
    #[error("--advertise '{0}' is not HOST[:PORT] (e.g. 203.0.113.7:5060 or sip.example.com)")]
    BadAdvertise(String),
    /// An alias that is not `HOST[:PORT]`.
    #[error("alias '{0}' is not HOST[:PORT]")]
    BadAlias(String),
}

/// One listener as we present it on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub transport: Transport,
    pub addr: SocketAddr,
    /// Advertised host: an IP literal (IPv6 in brackets) or a name.
    pub host: Vec<u8>,
    /// The advertised host as an IP, when it is one.
    pub host_ip: Option<IpAddr>,
    /// Advertised port.
    pub port: u16,
    /// `host:port`, ready to copy into a Via or Record-Route.
    pub hostport: Vec<u8>,
    /// `SIP/2.0/<transport> host:port;branch=`: the start of our Via when
    /// the request leaves on this listener's transport.
    pub via_start: Vec<u8>,
    /// `<sip:host:port;transport=<t>;lr>`: our Record-Route URI for this
    /// listener's transport.
    pub rr_uri: Vec<u8>,
    /// `Via: ` and [`Local::via_start`]: the start of our whole Via line.
    pub via_line: Vec<u8>,
    /// `Record-Route: ` and [`Local::rr_uri`].
    pub rr_line: Vec<u8>,
}

impl Local {
    /// The start of our Via up to the branch value, for `transport`.
    pub fn via_start(&self, transport: Transport, w: &mut Writer<'_>) {
        if transport == self.transport {
            w.bytes(&self.via_start);
        } else {
            via_start(w, &self.hostport, transport);
        }
    }

    /// Our Record-Route URI (in angle brackets) for `transport`.
    pub fn rr_uri(&self, transport: Transport, w: &mut Writer<'_>) {
        if transport == self.transport {
            w.bytes(&self.rr_uri);
        } else {
            rr_uri(w, &self.hostport, transport);
        }
    }

    /// [`Local::via_start`] after `Via: `, in one copy for this listener's
    /// transport.
    pub fn via_line_start(&self, transport: Transport, w: &mut Writer<'_>) {
        if transport == self.transport {
            w.bytes(&self.via_line);
        } else {
            w.bytes(b"Via: ");
            via_start(w, &self.hostport, transport);
        }
    }

    /// [`Local::rr_uri`] after `Record-Route: `, in one copy for this
    /// listener's transport.
    pub fn rr_line_start(&self, transport: Transport, w: &mut Writer<'_>) {
        if transport == self.transport {
            w.bytes(&self.rr_line);
        } else {
            w.bytes(b"Record-Route: ");
            rr_uri(w, &self.hostport, transport);
        }
    }
}

fn via_start(w: &mut Writer<'_>, hostport: &[u8], t: Transport) {
    w.bytes(b"SIP/2.0/")
        .str(t.as_str())
        .byte(b' ')
        .bytes(hostport)
        .bytes(b";branch=");
}

fn rr_uri(w: &mut Writer<'_>, hostport: &[u8], t: Transport) {
    w.bytes(b"<sip:")
        .bytes(hostport)
        .bytes(b";transport=")
        .str(t.as_param())
        .bytes(b";lr>");
}

#[derive(Debug, Clone)]
struct Alias {
    /// A host name (compared case-insensitively), or empty for an IP alias.
    name: Vec<u8>,
    ip: Option<IpAddr>,
    port: Option<u16>,
}

/// Our listeners, pre-rendered, and aliases.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    locals: Vec<Local>,
    aliases: Vec<Alias>,
    /// Route values that name us, as they are usually written: our
    /// Record-Route values for every transport (which in-dialog requests
    /// carry back as written), and `<sip:host:port;lr>` (a preloaded
    /// outbound-proxy route). Each one parses as a whole Route value, and
    /// [`Identity::is_us`] holds for its URI; see [`Identity::is_our_route`].
    route_forms: Vec<Box<[u8]>>,
    /// Bit `n % 64` set for each length `n` in [`Identity::route_forms`]:
    /// most other values are told apart by their length alone.
    route_form_lens: u64,
}

/// Splits `HOST[:PORT]` (IPv6 in brackets) into its parts.
fn split_hostport(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &s[..close + 2];
        let after = &rest[close + 1..];
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((s, None)),
    }
    .filter(|(h, _)| !h.is_empty() && Host::parse(h.as_bytes()).is_ok())
}

fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

impl Identity {
    pub fn new(listeners: &[Listener], aliases: &[String]) -> Result<Identity, ConfigError> {
        if listeners.is_empty() {
            return Err(ConfigError::NoListener);
        }
        let mut locals = Vec::with_capacity(listeners.len());
        for l in listeners {
            let (host, port) = match &l.advertise {
                Some(a) => {
                    let (h, p) =
                        split_hostport(a).ok_or_else(|| ConfigError::BadAdvertise(a.clone()))?;
                    (h.to_string(), p.unwrap_or(l.addr.port()))
                }
                None if l.addr.ip().is_unspecified() => {
                    return Err(ConfigError::NeedAdvertise(l.addr))
                }
                None => (ip_text(l.addr.ip()), l.addr.port()),
            };
            let host_ip = Host::parse(host.as_bytes()).ok().and_then(|h| h.ip());
            let hostport = format!("{host}:{port}").into_bytes();
            let (mut via, mut rr) = (Vec::new(), Vec::new());
            via_start(&mut Writer::new(&mut via), &hostport, l.transport);
            rr_uri(&mut Writer::new(&mut rr), &hostport, l.transport);
            locals.push(Local {
                transport: l.transport,
                addr: l.addr,
                host: host.into_bytes(),
                host_ip,
                port,
                hostport,
                via_line: [&b"Via: "[..], &via].concat(),
                rr_line: [&b"Record-Route: "[..], &rr].concat(),
                via_start: via,
                rr_uri: rr,
            });
        }
        let aliases = aliases
            .iter()
            .map(|a| {
                let (h, p) = split_hostport(a).ok_or_else(|| ConfigError::BadAlias(a.clone()))?;
                let ip = Host::parse(h.as_bytes()).ok().and_then(|h| h.ip());
                Ok(Alias {
                    name: if ip.is_some() {
                        Vec::new()
                    } else {
                        h.as_bytes().to_vec()
                    },
                    ip,
                    port: p,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        let mut id = Identity {
            locals,
            aliases,
            route_forms: Vec::new(),
            route_form_lens: 0,
        };
        id.route_forms = id.route_forms();
        id.route_form_lens = id
            .route_forms
            .iter()
            .fold(0, |m, f| m | 1 << (f.len() % 64));
        Ok(id)
    }

    /// The values for [`Identity::route_forms`]: each written the usual
    /// ways, then kept only when the Route parser reads it whole and finds
    /// a SIP URI that names us (as `Proxy::uri_is_us` would), so that a
    /// value equal to one is known to parse so without parsing it.
    fn route_forms(&self) -> Vec<Box<[u8]>> {
        const TRANSPORTS: [Transport; 6] = [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Sctp,
            Transport::Ws,
            Transport::Wss,
        ];
        let mut forms: Vec<Box<[u8]>> = Vec::new();
        for l in &self.locals {
            let mut written = vec![[&b"<sip:"[..], &l.hostport, b";lr>"].concat()];
            for t in TRANSPORTS {
                let mut rr = Vec::new();
                rr_uri(&mut Writer::new(&mut rr), &l.hostport, t);
                written.push(rr);
            }
            for form in written {
                let names_us = match NameAddr::parse_first_name_addr(&form, "Route") {
                    Ok((a, end)) => {
                        end == form.len()
                            && a.sip_uri().is_some_and(|u| {
                                let default = if u.secure { 5061 } else { 5060 };
                                self.is_us(&u.host, u.port, default)
                            })
                    }
                    Err(_) => false,
                };
                if names_us && !forms.iter().any(|f| **f == *form) {
                    forms.push(form.into_boxed_slice());
                }
            }
        }
        forms
    }

    /// `value`, a whole Route value, is one of the usual ways of writing a
    /// Route to us: what parsing it would find is then known (it names us,
    /// and its URI is `value` without the angle brackets).
    #[inline]
    pub fn is_our_route(&self, value: &[u8]) -> bool {
        self.route_form_lens & 1 << (value.len() % 64) != 0
            && self.route_forms.iter().any(|f| **f == *value)
    }

    /// Does `host[:port]` (with `default_port` when absent) name us?
    pub fn is_us(&self, host: &Host<'_>, port: Option<u16>, default_port: u16) -> bool {
        let port = port.unwrap_or(default_port);
        let host_is = |ours: &[u8], ours_ip: Option<IpAddr>| match (host, ours_ip) {
            (Host::Name(n), _) => n.eq_ignore_ascii_case(ours),
            (h, Some(ip)) => h.is_ip(ip),
            _ => false,
        };
        self.locals.iter().any(|l| {
            (port == l.port && host_is(&l.host, l.host_ip))
                || (port == l.addr.port()
                    && !l.addr.ip().is_unspecified()
                    && host.is_ip(l.addr.ip()))
        }) || self.aliases.iter().any(|a| {
            a.port.is_none_or(|p| p == port)
                && match (a.ip, host) {
                    (Some(ip), h) => h.is_ip(ip),
                    (None, Host::Name(n)) => n.eq_ignore_ascii_case(&a.name),
                    (None, _) => false,
                }
        })
    }

    /// The listener a message arrived on.
    pub fn incoming(&self, local: SocketAddr, transport: Transport) -> &Local {
        self.locals
            .iter()
            .find(|l| l.transport == transport && l.addr == local)
            .or_else(|| {
                self.locals.iter().find(|l| {
                    l.transport == transport
                        && l.addr.port() == local.port()
                        && l.addr.ip().is_unspecified()
                        && l.addr.is_ipv4() == local.is_ipv4()
                })
            })
            .unwrap_or_else(|| self.outgoing(local, transport))
    }

    /// The listener to send from (and to name in Via) towards `dest`: the
    /// first of the same transport and address family, else the first of
    /// the family, else the first.
    pub fn outgoing(&self, dest: SocketAddr, transport: Transport) -> &Local {
        let family = |l: &&Local| l.addr.is_ipv4() == dest.is_ipv4();
        self.locals
            .iter()
            .filter(family)
            .find(|l| l.transport == transport)
            .or_else(|| self.locals.iter().find(family))
            .unwrap_or(&self.locals[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(t: Transport, a: &str, adv: Option<&str>) -> Listener {
        Listener {
            transport: t,
            addr: a.parse().unwrap(),
            advertise: adv.map(str::to_string),
        }
    }

    #[test]
    fn identity_and_is_us() {
        let id = Identity::new(
            &[
                listener(Transport::Udp, "127.0.0.1:5060", None),
                listener(Transport::Tcp, "[::1]:5070", None),
                listener(Transport::Udp, "0.0.0.0:5080", Some("203.0.113.7")),
            ],
            &["sip.example.com".to_string()],
        )
        .unwrap();
        let h = |s: &'static str| Host::parse(s.as_bytes()).unwrap();
        assert!(id.is_us(&h("127.0.0.1"), None, 5060));
        assert!(!id.is_us(&h("127.0.0.1"), Some(5061), 5060));
        assert!(id.is_us(&h("[::1]"), Some(5070), 5060));
        assert!(id.is_us(&h("203.0.113.7"), Some(5080), 5060));
        assert!(id.is_us(&h("SIP.example.com"), Some(1234), 5060));
        assert!(!id.is_us(&h("example.com"), None, 5060));
        let out = id.outgoing("[::1]:9".parse().unwrap(), Transport::Udp);
        assert_eq!(out.hostport, b"[::1]:5070");
        let out = id.outgoing("10.0.0.1:9".parse().unwrap(), Transport::Udp);
        assert_eq!(out.hostport, b"127.0.0.1:5060");
        let inc = id.incoming("10.1.1.1:5080".parse().unwrap(), Transport::Udp);
        assert_eq!(inc.hostport, b"203.0.113.7:5080");
    }

    #[test]
    fn the_usual_routes_to_us_are_known_by_their_bytes() {
        let id = Identity::new(
            &[
                listener(Transport::Udp, "192.0.2.10:5060", None),
                listener(Transport::Tcp, "[2001:db8::10]:5070", None),
            ],
            &[],
        )
        .unwrap();
        for ours in [
            "<sip:192.0.2.10:5060;lr>",
            "<sip:192.0.2.10:5060;transport=udp;lr>",
            "<sip:192.0.2.10:5060;transport=tcp;lr>",
            "<sip:192.0.2.10:5060;transport=wss;lr>",
            "<sip:[2001:db8::10]:5070;lr>",
            "<sip:[2001:db8::10]:5070;transport=tcp;lr>",
        ] {
            assert!(id.is_our_route(ours.as_bytes()), "{ours}");
        }
        for other in [
            // Names us, but not in a usual way: these are parsed.
            "<sip:192.0.2.10;lr>",
            "<sip:192.0.2.10:5060;lr;transport=udp>",
            " <sip:192.0.2.10:5060;lr>",
            "<SIP:192.0.2.10:5060;lr>",
            // Another port or host, a list, no brackets.
            "<sip:192.0.2.10:5070;lr>",
            "<sip:192.0.2.11:5060;lr>",
            "<sip:192.0.2.10:5060;lr>, <sip:192.0.2.10:5060;lr>",
            "sip:192.0.2.10:5060;lr",
        ] {
            assert!(!id.is_our_route(other.as_bytes()), "{other}");
        }
        // 2 listeners x (no transport + 6 transports).
        assert_eq!(id.route_forms.len(), 14);
    }

    #[test]
    fn config_errors_say_what_to_do() {
        let e = Identity::new(&[listener(Transport::Udp, "0.0.0.0:5060", None)], &[]).unwrap_err();
        assert!(e.to_string().contains("--advertise"));
        assert_eq!(
            Identity::new(
                &[listener(Transport::Udp, "1.2.3.4:5060", Some("a:b:c"))],
                &[]
            )
            .unwrap_err(),
            ConfigError::BadAdvertise("a:b:c".into())
        );
        assert_eq!(
            Identity::new(&[], &[]).unwrap_err(),
            ConfigError::NoListener
        );
    }
}
