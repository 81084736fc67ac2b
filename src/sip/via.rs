//! The Via header value (RFC 3261 §20.42, §25.1 `via-parm`; RFC 3581
//! `rport`) as a zero-copy view. No I/O.

use super::{
    charset,
    uri::{parse_port, scan_header_params, skip_lws, span, Host, Params},
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
    /// The `branch` parameter.
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
        let s = value;
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
        let transport = Transport::from_bytes(transport);

        let h = skip_lws(s, t_end);
        if h == t_end {
            return Err(BAD);
        }
        let h_end = if s.get(h) == Some(&b'[') {
            span(s, h, |b| b != b']') + 1
        } else {
            span(s, h, charset::host)
        };
        let host_raw = s.get(h..h_end).ok_or(BAD)?;
        let host = Host::parse(host_raw).map_err(|_| BAD)?;

        let mut i = skip_lws(s, h_end);
        let mut port = None;
        if s.get(i) == Some(&b':') {
            let p = skip_lws(s, i + 1);
            let p_end = span(s, p, |b| b.is_ascii_digit());
            port = Some(s.get(p..p_end).and_then(parse_port).ok_or(BAD)?);
            i = skip_lws(s, p_end);
        }

        let params = s.get(i..).unwrap_or_default();
        let mut via = Via {
            protocol,
            transport,
            host,
            host_raw,
            port,
            params: Params::from_raw(params),
            branch: None,
            received: None,
            rport: Rport::Absent,
            maddr: None,
            ttl: None,
        };
        scan_header_params(params, |name, value| via.take_param(name, value)).ok_or(BAD)?;
        Ok(via)
    }

    /// Records a well-known parameter (the first occurrence wins); false
    /// when its value is malformed.
    fn take_param(&mut self, name: &'a [u8], value: Option<&'a [u8]>) -> bool {
        let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
        match name.len() {
            6 if is(b"branch") && self.branch.is_none() => match value {
                Some(v) if charset::is_token(v) => self.branch = Some(v),
                _ => return false,
            },
            5 if is(b"rport") && self.rport == Rport::Absent => {
                self.rport = match value {
                    None => Rport::Requested,
                    Some(v) => match parse_port(v) {
                        Some(p) => Rport::Value(p),
                        None => return false,
                    },
                }
            }
            8 if is(b"received") && self.received.is_none() => match value {
                Some(v) if v.first() != Some(&b'"') => self.received = Some(v),
                _ => return false,
            },
            5 if is(b"maddr") && self.maddr.is_none() => match value {
                Some(v) if Host::parse(v).is_ok() => self.maddr = Some(v),
                _ => return false,
            },
            3 if is(b"ttl") && self.ttl.is_none() => {
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

/// After `i`: SWS "/" SWS; returns the index after it.
fn slash(s: &[u8], i: usize) -> Result<usize, Error> {
    let i = skip_lws(s, i);
    if s.get(i) != Some(&b'/') {
        return Err(BAD);
    }
    Ok(skip_lws(s, i + 1))
}
