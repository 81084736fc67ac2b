//! The Via header value (RFC 3261 §20.42, §25.1 `via-parm`; RFC 3581
//! `rport`) as a zero-copy view. No I/O.

use super::{
    charset,
    uri::{scan_host, scan_hostport, Host, Params},
    values::{find2, parse_port, scan_header_params, scan_header_params_list, skip_lws, span},
    Error, Transport,
};

/// The branch prefix of RFC 3261 transactions (RFC 3261 §8.1.1.7).
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// One via-parm: `SIP/2.0/UDP host:port;branch=...;...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// The protocol name and version as written, from `SIP` to `2.0` (may
    /// contain LWS around the `/`).
    pub protocol: &'a [u8],
    /// The transport ([`Transport::Other`] for unknown tokens).
    pub transport: Transport,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by host as written (IPv6 references with their brackets).
    pub host_raw: &'a [u8],
    /// The sent-by port, if explicit.
    pub port: Option<u16>,
    /// All via-params, raw text starting at the first `;`.
    pub params: Params<'a>,
    /// The `branch` parameter (a token; `:`, `[`, `]` are tolerated so the
    /// value is scanned once; a quoted or missing value is an error).
    pub branch: Option<&'a [u8]>,
    /// The `received` parameter, as written.
    pub received: Option<&'a [u8]>,
    /// The `rport` parameter (RFC 3581).
    pub rport: Rport,
    /// The `maddr` parameter, as written.
    pub maddr: Option<&'a [u8]>,
    /// The `ttl` parameter.
    pub ttl: Option<u8>,
}

/// The `rport` Via parameter of RFC 3581.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rport {
    /// No `rport` parameter.
    #[default]
    Absent,
    /// `rport` without a value: the client asks for symmetric response routing.
    Requested,
    /// `rport=N`, as filled in by the server transport.
    Value(u16),
}

const BAD: Error = Error::Invalid("Via");

impl<'a> Via<'a> {
    /// Parses one via-parm (the caller splits comma-separated lists). LWS,
    /// folded line breaks included, is allowed around `/`, `:`, `;` and `=`.
    /// The protocol must be `SIP/2.0`; any fault is `Error::Invalid("Via")`.
    pub fn parse(value: &'a [u8]) -> Result<Via<'a>, Error> {
        parse(value, false).map(|(via, _)| via)
    }

    /// Parses the first via-parm of a comma-separated list without
    /// splitting it first: returns the Via and the index of the `,` that
    /// ends it (or `value.len()`). Saves a pass over the line on the hot
    /// path (top Via).
    #[inline(always)]
    pub fn parse_first(value: &'a [u8]) -> Result<(Via<'a>, usize), Error> {
        parse(value, true)
    }

    /// A Via with its sent-by and no parameters yet.
    #[inline(always)]
    fn sent_by(
        protocol: &'a [u8],
        transport: Transport,
        host: Host<'a>,
        host_raw: &'a [u8],
        port: Option<u16>,
    ) -> Via<'a> {
        Via {
            protocol,
            transport,
            host,
            host_raw,
            port,
            params: Params::EMPTY,
            branch: None,
            received: None,
            rport: Rport::Absent,
            maddr: None,
            ttl: None,
        }
    }

    /// Records a well-known parameter (the first occurrence wins); false
    /// when its value is malformed.
    fn take_param(&mut self, name: &'a [u8], value: Option<&'a [u8]>) -> bool {
        match name.len() {
            6 if charset::eq_letters(name, b"branch") && self.branch.is_none() => match value {
                Some(v) if v.first() != Some(&b'"') => self.branch = Some(v),
                _ => return false,
            },
            5 if charset::eq_letters(name, b"rport") && self.rport == Rport::Absent => {
                self.rport = match value {
                    None => Rport::Requested,
                    Some(v) => match parse_port(v) {
                        Some(p) => Rport::Value(p),
                        None => return false,
                    },
                }
            }
            8 if charset::eq_letters(name, b"received") && self.received.is_none() => match value {
                Some(v) if v.first() != Some(&b'"') => self.received = Some(v),
                _ => return false,
            },
            5 if charset::eq_letters(name, b"maddr") && self.maddr.is_none() => match value {
                Some(v) if Host::parse(v).is_ok() => self.maddr = Some(v),
                _ => return false,
            },
            3 if charset::eq_letters(name, b"ttl") && self.ttl.is_none() => {
                match value
                    .filter(|v| v.len() <= 3)
                    .and_then(charset::parse_u32)
                    .and_then(|t| u8::try_from(t).ok())
                {
                    Some(t) => self.ttl = Some(t),
                    None => return false,
                }
            }
            _ => {}
        }
        true
    }

    /// The name of the first `rport` parameter, as a slice of the parsed
    /// text (so its offset can be recovered), when it has no value (RFC
    /// 3581 §3: asks for the source port). One pass over the parameters.
    pub fn rport_name(&self) -> Option<&'a [u8]> {
        if self.rport != Rport::Requested {
            return None;
        }
        trailing_rport(self.params.raw()).or_else(|| self.scanned_rport_name())
    }

    /// [`Via::rport_name`] by a scan of the parameters.
    fn scanned_rport_name(&self) -> Option<&'a [u8]> {
        let mut found = None;
        // The parameters were validated by the parse; stop at the first
        // `rport` (a `None` return here only means the scan stopped).
        let _ = scan_header_params(self.params.raw(), |name, value| {
            if charset::eq_letters(name, b"rport") {
                found = value.is_none().then_some(name);
                return false;
            }
            true
        });
        found
    }

    /// The sent-by port: explicit, or the transport's default (RFC 3261
    /// §18.2.2).
    #[inline]
    pub fn sent_by_port(&self) -> u16 {
        self.port.unwrap_or(self.transport.default_port())
    }

    /// True when the branch starts with the RFC 3261 magic cookie and has
    /// something after it (RFC 3261 §8.1.1.7). A branch that is only the
    /// cookie identifies no transaction (RFC 4475 §3.2.1, badbranch.dat),
    /// so it counts as absent.
    #[inline]
    pub fn has_magic_cookie(&self) -> bool {
        self.branch
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
}

/// The name of a trailing `;rport` when no earlier parameter can be named
/// `rport` (no `r` before it starts a case-insensitive `rport`), the usual
/// case, without scanning the parameters: they were validated by the parse,
/// so a trailing `;rport` (a quoted value would end in `"`) is a parameter
/// without a value, and the first `rport`.
fn trailing_rport(raw: &[u8]) -> Option<&[u8]> {
    let (mut before, last) = raw.split_at_checked(raw.len().checked_sub(6)?)?;
    if last[0] != b';' || !charset::eq_letters(&last[1..], b"rport") {
        return None;
    }
    while let Some(i) = find2(before, b'r', b'R') {
        let rest = before.get(i..).unwrap_or_default();
        if rest
            .get(..5)
            .is_some_and(|w| charset::eq_letters(w, b"rport"))
        {
            return None;
        }
        before = rest.get(1..).unwrap_or_default();
    }
    Some(&last[1..])
}

#[inline(always)]
fn parse(s: &[u8], list: bool) -> Result<(Via<'_>, usize), Error> {
    if let Some(found) = parse_canonical(s, list) {
        return Ok(found);
    }
    parse_general(s, list)
}

/// The Via as most senders write it: `SIP/2.0/UDP` (TCP, TLS), one space,
/// the sent-by, and parameters with no white space and no quoted values.
/// What [`parse_general`] finds for such a value, in one pass without its
/// white-space skips; `None` for anything else (malformed values
/// included), which the general parser then reads.
#[inline(always)]
fn parse_canonical(s: &[u8], list: bool) -> Option<(Via<'_>, usize)> {
    let (protocol, transport, t_end) = canonical_prefix(s)?;
    let h = t_end + 1;
    let sent_by = s.get(h..)?;
    let (host, h_len, port, hp_len) = scan_hostport(sent_by)?;
    let host_raw = sent_by.get(..h_len)?;
    let mut i = h + hp_len;
    let params_at = i;
    let mut via = Via::sent_by(protocol, transport, host, host_raw, port);
    loop {
        match s.get(i) {
            Some(b';') => {}
            Some(b',') if list => break,
            None => break,
            Some(_) => return None,
        }
        // `branch=` first (nearly every Via has it, written this way).
        if via.branch.is_none() && s.get(i + 1..i + 8) == Some(b"branch=") {
            let v_end = span(s, i + 8, charset::gen_value);
            let v = s.get(i + 8..v_end).filter(|v| !v.is_empty())?;
            if v.first() == Some(&b'"') {
                return None;
            }
            via.branch = Some(v);
            i = v_end;
            continue;
        }
        // A bare `rport` (RFC 3581: the client asks for its source port).
        if via.rport == Rport::Absent && s.get(i + 1..i + 6) == Some(b"rport") {
            let ends = match s.get(i + 6) {
                None | Some(b';') => true,
                Some(b',') => list,
                Some(_) => false,
            };
            if ends {
                via.rport = Rport::Requested;
                i += 6;
                continue;
            }
        }
        let name_end = span(s, i + 1, charset::token);
        let name = s.get(i + 1..name_end).filter(|n| !n.is_empty())?;
        let value = if s.get(name_end) == Some(&b'=') {
            let v_end = span(s, name_end + 1, charset::gen_value);
            i = v_end;
            Some(s.get(name_end + 1..v_end).filter(|v| !v.is_empty())?)
        } else {
            i = name_end;
            None
        };
        if !via.take_param(name, value) {
            return None;
        }
    }
    via.params = Params::from_raw(s.get(params_at..i)?);
    Some((via, i))
}

/// Any via-parm, LWS (folded line breaks included) allowed around `/`,
/// `:`, `;` and `=`.
fn parse_general(s: &[u8], list: bool) -> Result<(Via<'_>, usize), Error> {
    let (protocol, transport, t_end) = match canonical_prefix(s) {
        Some(p) => p,
        None => protocol_and_transport(s)?,
    };

    let h = skip_lws(s, t_end);
    if h == t_end {
        return Err(BAD);
    }
    let sent_by = s.get(h..).unwrap_or_default();
    let (host, h_len) = scan_host(sent_by).ok_or(BAD)?;
    let host_raw = sent_by.get(..h_len).ok_or(BAD)?;

    let mut i = skip_lws(s, h + h_len);
    let mut port = None;
    if s.get(i) == Some(&b':') {
        let p = skip_lws(s, i + 1);
        let p_end = span(s, p, |b| b.is_ascii_digit());
        port = Some(s.get(p..p_end).and_then(parse_port).ok_or(BAD)?);
        i = skip_lws(s, p_end);
    }

    let params = s.get(i..).unwrap_or_default();
    let mut via = Via::sent_by(protocol, transport, host, host_raw, port);
    let take = |name, value| via.take_param(name, value);
    let end = if list {
        scan_header_params_list(params, take)
    } else {
        scan_header_params(params, take).map(|()| params.len())
    }
    .ok_or(BAD)?;
    let params = params.get(..end).unwrap_or_default();
    // A list item may end in LWS before its comma.
    via.params = Params::from_raw(if list { charset::trim(params) } else { params });
    Ok((via, i + end))
}

/// `SIP/2.0/UDP ` (or TCP, TLS) exactly as most senders write it: the
/// protocol, the transport and the index after the transport, what
/// [`protocol_and_transport`] finds for it, without its token scans.
#[inline(always)]
fn canonical_prefix(s: &[u8]) -> Option<(&[u8], Transport, usize)> {
    let (head, rest) = s.split_at_checked(8)?;
    if head != b"SIP/2.0/" {
        return None;
    }
    let transport = match rest.get(..4)? {
        b"UDP " => Transport::Udp,
        b"TCP " => Transport::Tcp,
        b"TLS " => Transport::Tls,
        _ => return None,
    };
    Some((&s[..7], transport, 11))
}

/// `SIP SWS "/" SWS 2.0 SWS "/" SWS transport`, LWS allowed around the
/// slashes: the protocol as written, the transport and the index after it.
fn protocol_and_transport(s: &[u8]) -> Result<(&[u8], Transport, usize), Error> {
    let start = skip_lws(s, 0);
    let name_end = span(s, start, charset::token);
    let name = s.get(start..name_end).ok_or(BAD)?;
    if !name.eq_ignore_ascii_case(b"SIP") {
        return Err(BAD);
    }
    let v = slash(s, name_end)?;
    let v_end = span(s, v, charset::token);
    if s.get(v..v_end) != Some(b"2.0") {
        return Err(BAD);
    }
    let protocol = s.get(start..v_end).ok_or(BAD)?;
    let t = slash(s, v_end)?;
    let t_end = span(s, t, charset::token);
    let transport = s.get(t..t_end).filter(|t| !t.is_empty()).ok_or(BAD)?;
    Ok((protocol, Transport::from_bytes(transport), t_end))
}

/// After `i`: SWS "/" SWS; returns the index after it.
fn slash(s: &[u8], i: usize) -> Result<usize, Error> {
    let i = skip_lws(s, i);
    if s.get(i) != Some(&b'/') {
        return Err(BAD);
    }
    Ok(skip_lws(s, i + 1))
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn via<'a>(
        protocol: &'a [u8],
        transport: Transport,
        host_raw: &'a [u8],
        host: Host<'a>,
    ) -> Via<'a> {
        Via::sent_by(protocol, transport, host, host_raw, None)
    }

    const V4: Host<'static> = Host::V4(Ipv4Addr::new(192, 0, 2, 2));

    /// `input => expected` rows for [`Via::parse`].
    macro_rules! via_table {
        ($($input:expr => $expected:expr;)*) => {{
            let rows: Vec<(&[u8], Result<Via<'static>, Error>)> = vec![$(($input, $expected)),*];
            for (input, expected) in rows {
                assert_eq!(Via::parse(input), expected, "{}", String::from_utf8_lossy(input));
            }
        }};
    }

    #[test]
    #[rustfmt::skip]
    fn valid_vias() {
        let udp = |raw, host| via(b"SIP/2.0", Transport::Udp, raw, host);
        via_table! {
            b"SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK776asdhds;rport" => Ok(Via {
                port: Some(5060),
                params: Params::from_raw(b";branch=z9hG4bK776asdhds;rport"),
                branch: Some(b"z9hG4bK776asdhds"),
                rport: Rport::Requested,
                ..udp(&b"192.0.2.2"[..], V4)
            });
            b"SIP/2.0/UDP 192.0.2.2;rport=5062;received=198.51.100.7;branch=z9hG4bKx" => Ok(Via {
                params: Params::from_raw(b";rport=5062;received=198.51.100.7;branch=z9hG4bKx"),
                branch: Some(b"z9hG4bKx"),
                received: Some(b"198.51.100.7"),
                rport: Rport::Value(5062),
                ..udp(b"192.0.2.2", V4)
            });
            // wsinv.dat, first Via: folded LWS around the slashes.
            b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw" => Ok(Via {
                protocol: b"SIP  /   2.0",
                params: Params::from_raw(b";branch=390skdjuw"),
                branch: Some(b"390skdjuw"),
                ..udp(b"192.0.2.2", V4)
            });
            // wsinv.dat, the comma-separated pair of the `v:` line.
            b"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8" => Ok(Via {
                protocol: b"SIP  / 2.0",
                params: Params::from_raw(b";\r\n  branch  =   z9hG4bK9ikj8"),
                branch: Some(b"z9hG4bK9ikj8"),
                ..via(b"SIP  / 2.0", Transport::Tcp, b"spindle.example.com", Host::Name(b"spindle.example.com"))
            });
            b"SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239" => Ok(Via {
                protocol: b"SIP  /    2.0",
                params: Params::from_raw(b"; branch=\r\n z9hG4bK30239"),
                branch: Some(b"z9hG4bK30239"),
                ..udp(b"192.168.255.111", Host::V4(Ipv4Addr::new(192, 168, 255, 111)))
            });
            b"SIP/2.0/TLS [2001:db8::10]:5070;branch=z9hG4bKv6;received=2001:db8::99;maddr=[2001:db8::1];ttl=16" => Ok(Via {
                port: Some(5070),
                params: Params::from_raw(b";branch=z9hG4bKv6;received=2001:db8::99;maddr=[2001:db8::1];ttl=16"),
                branch: Some(b"z9hG4bKv6"),
                received: Some(b"2001:db8::99"),
                maddr: Some(b"[2001:db8::1]"),
                ttl: Some(16),
                ..via(b"SIP/2.0", Transport::Tls, b"[2001:db8::10]", Host::V6("2001:db8::10".parse::<Ipv6Addr>().unwrap()))
            });
            b"sip/2.0/ws h.example : 80 ;maddr=239.255.255.1;TTL=255;x=\"q;r\";BRANCH=z9hG4bKa;branch=second" => Ok(Via {
                protocol: b"sip/2.0",
                port: Some(80),
                params: Params::from_raw(b";maddr=239.255.255.1;TTL=255;x=\"q;r\";BRANCH=z9hG4bKa;branch=second"),
                branch: Some(b"z9hG4bKa"),
                maddr: Some(b"239.255.255.1"),
                ttl: Some(255),
                ..via(b"sip/2.0", Transport::Ws, b"h.example", Host::Name(b"h.example"))
            });
            b"SIP/2.0/FOO h" => Ok(via(b"SIP/2.0", Transport::Other, b"h", Host::Name(b"h")));
            b"SIP/2.0/UDP h;rport=0" => Ok(Via {
                params: Params::from_raw(b";rport=0"),
                rport: Rport::Value(0),
                ..udp(b"h", Host::Name(b"h"))
            });
        }
    }

    #[test]
    #[rustfmt::skip]
    fn invalid_vias() {
        const E: Result<Via<'static>, Error> = Err(Error::Invalid("Via"));
        via_table! {
            b"" => E;
            b"SIP/2.0/UDP" => E;
            b"SIP/2.0/UDP " => E;
            b"SIP/2.0/UDPh" => E;
            b"SIP/3.0/UDP h" => E;
            b"SIP/2.00/UDP h" => E;
            b"HTTP/2.0/UDP h" => E;
            b"SIP/2.0 UDP h" => E;
            b"SIP//UDP h" => E;
            b"SIP/2.0/ h" => E;
            b"SIP/2.0/UDP h:" => E;
            b"SIP/2.0/UDP h:65536" => E;
            b"SIP/2.0/UDP h:5060x" => E;
            b"SIP/2.0/UDP [::1" => E;
            b"SIP/2.0/UDP [zz]" => E;
            b"SIP/2.0/UDP 1.2.3.999" => E;
            b"SIP/2.0/UDP h;branch" => E;
            b"SIP/2.0/UDP h;branch=" => E;
            b"SIP/2.0/UDP h;branch=\"q\"" => E;
            b"SIP/2.0/UDP h;rport=x" => E;
            b"SIP/2.0/UDP h;rport=70000" => E;
            b"SIP/2.0/UDP h;ttl=256" => E;
            b"SIP/2.0/UDP h;ttl=0001" => E;
            b"SIP/2.0/UDP h;ttl" => E;
            b"SIP/2.0/UDP h;maddr=bad_host" => E;
            b"SIP/2.0/UDP h;received" => E;
            b"SIP/2.0/UDP h;" => E;
            b"SIP/2.0/UDP h;;branch=z9hG4bKx" => E;
            b"SIP/2.0/UDP h extra" => E;
            b"SIP/2.0/UDP h, SIP/2.0/UDP i" => E;
        }
    }

    #[test]
    fn rport_name_shortcut_agrees_with_the_parameter_scan() {
        for value in [
            "SIP/2.0/UDP h;branch=z9hG4bK1;rport",
            "SIP/2.0/UDP h;branch=z9hG4bK1;RPort",
            "SIP/2.0/UDP h;rport;branch=z9hG4bK1",
            "SIP/2.0/UDP h;rport;rport",
            "SIP/2.0/UDP h;rport=5;rport",
            "SIP/2.0/UDP h;x=rportx;rport",
            "SIP/2.0/UDP h;branch=z9hG4bKrPoRt;rport",
            "SIP/2.0/UDP h;branch=z9hG4bKr;rport",
            "SIP/2.0/UDP h;branch=z9hG4bKabcdefghrpor;rport",
            "SIP/2.0/UDP h;branch=z9hG4bKabcdefgrport;rport",
            "SIP/2.0/UDP h ; rport",
            "SIP/2.0/UDP h;rport ",
            "SIP/2.0/UDP h;x=\"a;rport\"",
            "SIP/2.0/UDP h;x=\"a\";rport",
            "SIP/2.0/UDP h;rport",
            "SIP/2.0/UDP h",
            "SIP/2.0/UDP h;branch=z9hG4bK1",
        ] {
            let v = Via::parse(value.as_bytes()).unwrap();
            let scanned = (v.rport == Rport::Requested).then(|| v.scanned_rport_name());
            let (fast, slow) = (v.rport_name(), scanned.flatten());
            assert_eq!(
                fast.map(|n| n.as_ptr()),
                slow.map(|n| n.as_ptr()),
                "{value}"
            );
        }
    }

    #[test]
    fn canonical_vias_agree_with_the_general_parser() {
        let seeds: &[&[u8]] = &[
            b"SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds.1;rport",
            b"SIP/2.0/TCP h.example;rport=5062;received=198.51.100.7;branch=z9hG4bKx",
            b"SIP/2.0/TLS [2001:db8::10]:5070;branch=z9hG4bKv6;maddr=[2001:db8::1];ttl=16",
            b"SIP/2.0/UDP a.example;branch=z9hG4bK1;x=y, SIP/2.0/TCP b",
            b"SIP/2.0/UDP 10.0.0.1;received=2001:db8::99;maddr=239.255.255.1;ttl=255",
            b"SIP/2.0/UDP h;rport;branch=z9hG4bKa, SIP/2.0/UDP i",
            b"SIP/2.0/UDP h;branch=z9hG4bKa;rport, SIP/2.0/UDP i",
            b"SIP/2.0/UDP h;rport=5;rport;branch=x;branch=y;rportx;branchy=z",
        ];
        let bytes = b" \t\r\n;=,:\"[]x0";
        let mut fast = 0;
        let mut check = |v: &[u8]| {
            for list in [false, true] {
                if let Some(found) = parse_canonical(v, list) {
                    fast += 1;
                    assert_eq!(parse_general(v, list), Ok(found), "{v:?} list={list}");
                }
            }
        };
        for seed in seeds {
            check(seed);
            for i in 0..seed.len() {
                check(&seed[..i]);
                for &b in bytes {
                    let mut m = seed.to_vec();
                    m[i] = b;
                    check(&m);
                    m.insert(i, b);
                    check(&m);
                }
            }
        }
        assert!(fast > 1_000, "the one-pass parser took {fast} values");
    }

    #[test]
    fn derived_values() {
        let v = Via::parse(b"SIP/2.0/TLS h;branch=z9hG4bKabc").unwrap();
        assert_eq!(v.sent_by_port(), 5061);
        assert!(v.has_magic_cookie());
        let v = Via::parse(b"SIP/2.0/UDP h:5080;branch=abc").unwrap();
        assert_eq!(v.sent_by_port(), 5080);
        assert!(!v.has_magic_cookie());
        // badbranch.dat: the cookie alone identifies no transaction.
        let v = Via::parse(b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK").unwrap();
        assert_eq!(v.branch, Some(&b"z9hG4bK"[..]));
        assert!(!v.has_magic_cookie());
        assert!(!Via::parse(b"SIP/2.0/UDP h").unwrap().has_magic_cookie());
        assert!(!Via::parse(b"SIP/2.0/UDP h;branch=Z9HG4BKx")
            .unwrap()
            .has_magic_cookie());
        assert_eq!(v.params.get(b"BRANCH"), Some(Some(&b"z9hG4bK"[..])));
    }

    #[test]
    fn parse_first_stops_at_the_comma() {
        let line: &[u8] = b"SIP/2.0/UDP a.example;branch=z9hG4bK1 ;x=\"q,r\" , SIP/2.0/TCP b";
        let (v, end) = Via::parse_first(line).unwrap();
        assert_eq!(v.host, Host::Name(b"a.example"));
        assert_eq!(v.params.raw(), b";branch=z9hG4bK1 ;x=\"q,r\"");
        assert_eq!(line.get(end), Some(&b','));
        let (v, end) = Via::parse_first(&line[end + 2..]).unwrap();
        assert_eq!(
            (v.transport, v.host_raw, end),
            (Transport::Tcp, &b"b"[..], 13)
        );
        assert_eq!(
            Via::parse_first(b"SIP/2.0/UDP [::1]:5060,"),
            Ok((
                Via {
                    port: Some(5060),
                    ..via(
                        b"SIP/2.0",
                        Transport::Udp,
                        b"[::1]",
                        Host::V6(Ipv6Addr::LOCALHOST)
                    )
                },
                22
            ))
        );
        assert_eq!(
            Via::parse_first(b"SIP/2.0/UDP h;branch=x y, SIP/2.0/UDP i"),
            Err(Error::Invalid("Via"))
        );
        assert_eq!(Via::parse(b"SIP/2.0/UDP h ,"), Err(Error::Invalid("Via")));
    }
}
