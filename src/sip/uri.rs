//! URIs as zero-copy views: [`Uri`] (RFC 3261 §19.1 and §25.1), [`SipUri`],
//! [`TelUri`] (RFC 3966), [`Host`], and the [`Params`] list shared by URI
//! parameters and header parameters. No I/O.
//!
//! Parsers validate once; the views they return hold raw, still-escaped
//! slices of the input, and iterating them afterwards cannot fail.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use memchr::memchr;

use super::{
    charset,
    ip::{parse_ipv6, scan_ipv4},
    values::{find, host_span, parse_port, span, unquote},
    Error, Transport,
};

/// A URI: the Request-URI, or the URI inside a name-addr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:` (scheme case-insensitive).
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other syntactically valid scheme, kept opaque.
    Absolute {
        /// The scheme as written, without the colon.
        scheme: &'a [u8],
        /// Everything after the colon.
        rest: &'a [u8],
    },
}

/// A `sip:` / `sips:` URI. Every slice borrows the input and keeps its
/// escapes (`%HH`) as written.
#[derive(Debug, Clone, Copy)]
pub struct SipUri<'a> {
    /// True for `sips:`.
    pub secure: bool,
    /// The user part (everything before the `:` password or the `@`),
    /// escapes kept raw; see [`SipUri::decode_user`].
    pub user: Option<&'a [u8]>,
    /// The password, when the userinfo has a `:`.
    pub password: Option<&'a [u8]>,
    /// The host.
    pub host: Host<'a>,
    /// The explicit port, if any.
    pub port: Option<u16>,
    /// The `;`-parameters (uri-parameters), raw text starting at the first `;`.
    pub params: Params<'a>,
    /// The headers after `?`, without the `?`.
    pub headers: Option<&'a [u8]>,
    /// Which routing parameters the parser saw while validating `params`
    /// ([`SEEN_KNOWN`] set), so [`SipUri::lr`] and [`SipUri::routing`]
    /// need not scan them again; 0 when unknown (a URI built by hand).
    pub(crate) seen: u8,
}

/// Two URIs are equal when their parts are (what the parser noted about
/// them aside).
impl PartialEq for SipUri<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.secure == other.secure
            && self.user == other.user
            && self.password == other.password
            && self.host == other.host
            && self.port == other.port
            && self.params == other.params
            && self.headers == other.headers
    }
}

impl Eq for SipUri<'_> {}

/// The parameters of a SIP URI that routing looks at, from
/// [`SipUri::routing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Routing<'a> {
    /// The `lr` parameter is present (loose routing).
    pub lr: bool,
    /// The first `transport=` value.
    pub transport: Option<Transport>,
    /// The first `maddr=` value.
    pub maddr: Option<&'a [u8]>,
}

/// [`SipUri::routing`] under way: the first `transport` and `maddr` win.
#[derive(Default)]
struct RoutingScan<'a> {
    found: Routing<'a>,
    seen_transport: bool,
    seen_maddr: bool,
}

impl<'a> RoutingScan<'a> {
    #[inline(always)]
    fn take(&mut self, p: Param<'a>) -> bool {
        match p.name.len() {
            2 if charset::eq_letters(p.name, b"lr") => self.found.lr = true,
            9 if !self.seen_transport && charset::eq_letters(p.name, b"transport") => {
                self.seen_transport = true;
                self.found.transport = p.value.map(Transport::from_bytes);
            }
            5 if !self.seen_maddr && charset::eq_letters(p.name, b"maddr") => {
                self.seen_maddr = true;
                self.found.maddr = p.value;
            }
            _ => {}
        }
        true
    }
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written, visual separators included (`+1-212-555-0101`).
    pub number: &'a [u8],
    /// True for a global number (starts with `+`).
    pub global: bool,
    /// The `;`-parameters, raw text starting at the first `;`.
    pub params: Params<'a>,
}

/// A host: a domain name, an IPv4 address, or an IPv6 address.
///
/// Equality compares names case-insensitively and addresses by value, which
/// is what matching a Via sent-by or a Route against our own address needs.
#[derive(Debug, Clone, Copy)]
pub enum Host<'a> {
    /// A domain name as written.
    Name(&'a [u8]),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written as a `[...]` reference in URIs and Vias).
    V6(Ipv6Addr),
}

/// A parameter list over its raw text (`;a=b;c`).
///
/// Iteration tolerates LWS around `;` and `=` (header parameters allow it)
/// and never fails; validation happened when the list was parsed. Values
/// are returned as written: quoted-strings keep their quotes
/// ([`Param::unquoted`] removes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a [u8],
}

/// [`SipUri::seen`] is filled in.
const SEEN_KNOWN: u8 = 0x80;
/// An `lr` parameter is present.
const SEEN_LR: u8 = 1;
/// A `maddr` parameter is present, or the first `transport` parameter is
/// not `udp` or `tcp`: [`SipUri::routing`] reads the parameters again.
const SEEN_OTHER_ROUTING: u8 = 2;
/// The first `transport` parameter is `udp` (any case).
const SEEN_UDP: u8 = 4;
/// The first `transport` parameter is `tcp` (any case).
const SEEN_TCP: u8 = 8;
/// A `transport` parameter was seen (later ones do not count).
const SEEN_TRANSPORT: u8 = 16;

/// One parameter: `name` or `name=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a [u8],
    /// The value as written (quotes kept), `None` for a bare name.
    pub value: Option<&'a [u8]>,
}

/// Iterator over a [`Params`] list.
#[derive(Debug, Clone)]
pub struct ParamsIter<'a> {
    rest: &'a [u8],
}

impl<'a> Uri<'a> {
    /// Parses an absolute URI. `sip:`/`sips:` and `tel:` are interpreted,
    /// other schemes are kept opaque. Any white space, or bytes outside the
    /// URI grammar, is [`Error::RequestUri`]; callers parsing a header map it
    /// to their own error.
    #[inline]
    pub fn parse(s: &'a [u8]) -> Result<Uri<'a>, Error> {
        // `sip:` first: nearly every URI a proxy reads.
        if let [a, b, c, b':', rest @ ..] = s {
            if charset::eq_letters(&[*a, *b, *c], b"sip") {
                if let Some((u, n)) = SipUri::parse_plain(rest, true) {
                    if n == rest.len() {
                        return Ok(Uri::Sip(u));
                    }
                }
                return SipUri::parse_rest(rest, false)
                    .map(Uri::Sip)
                    .ok_or(Error::RequestUri);
            }
        }
        let colon = scheme_len(s).ok_or(Error::RequestUri)?;
        let (scheme, rest) = s.split_at(colon);
        let rest = rest.get(1..).unwrap_or_default();
        let parsed = if scheme.eq_ignore_ascii_case(b"sip") {
            SipUri::parse_rest(rest, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"sips") {
            SipUri::parse_rest(rest, true).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            TelUri::parse_rest(rest).map(Uri::Tel)
        } else if !rest.is_empty() && rest.iter().all(|&b| uric(b)) {
            Some(Uri::Absolute { scheme, rest })
        } else {
            None
        };
        parsed.ok_or(Error::RequestUri)
    }

    /// The scheme (`sip`, `sips`, `tel`, or the opaque scheme as written).
    pub fn scheme(&self) -> &'a [u8] {
        match self {
            Uri::Sip(u) if u.secure => b"sips",
            Uri::Sip(_) => b"sip",
            Uri::Tel(_) => b"tel",
            Uri::Absolute { scheme, .. } => scheme,
        }
    }

    /// The SIP URI, when this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl<'a> SipUri<'a> {
    /// Parses a `sip:`/`sips:` URI (see [`Uri::parse`]); other schemes are
    /// [`Error::RequestUri`].
    pub fn parse(s: &'a [u8]) -> Result<SipUri<'a>, Error> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(Error::RequestUri),
        }
    }

    /// Parses what follows `sip:`. The userinfo ends at the `@` (an
    /// unescaped `@` can appear nowhere else in a SIP URI). Each part is
    /// validated in one forward pass.
    #[inline(always)]
    fn parse_rest(s: &'a [u8], secure: bool) -> Option<SipUri<'a>> {
        let (user, password, host_at) = match find(s, b'@') {
            None => (None, None, 0),
            Some(at) => {
                let user_end = escaped_span(s, 0, charset::user_unescaped)?;
                let user = s.get(..user_end).filter(|u| !u.is_empty())?;
                // `@` is not a user byte: the user ends at the first `@` or
                // at the `:` before a password.
                let password = match s.get(user_end) {
                    Some(b'@') => None,
                    Some(b':') => {
                        let p = s.get(user_end + 1..at)?;
                        if escaped_span(p, 0, charset::password_unescaped)? != p.len() {
                            return None;
                        }
                        Some(p)
                    }
                    _ => return None,
                };
                (Some(user), password, at + 1)
            }
        };
        let hostport = s.get(host_at..)?;
        let (host, _, port, i) = scan_hostport(hostport)?;
        let rest = hostport.get(i..)?;
        let (q, seen) = scan_uri_params(rest)?;
        let (params, headers) = rest.split_at(q);
        let headers = headers.get(1..);
        if let Some(h) = headers {
            if !uri_headers_valid(h) {
                return None;
            }
        }
        Some(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params: Params { raw: params },
            headers,
            seen: seen | SEEN_KNOWN,
        })
    }

    /// What follows `sip:` when it is `[user@]host[:port]` with unescaped
    /// parameters: with `users`, a user of bytes that are neither `@`, `:`
    /// (a password) nor `%` (an escape) followed by the `@`, which is then
    /// the URI's only one; then [`SipUri::parse_host_params`]. The URI and
    /// the index of the first byte that cannot continue it; `None` when it
    /// is not of that form. Used by [`Uri::parse`] first and by the
    /// name-addr reader; inlined into each (out of line it cost more in
    /// calls and moves of the result than it saved in code).
    #[inline(always)]
    pub(crate) fn parse_plain(rest: &'a [u8], users: bool) -> Option<(SipUri<'a>, usize)> {
        let u = if users {
            span(rest, 0, charset::user_unescaped)
        } else {
            0
        };
        let (user, host_at) = match rest.get(u) {
            Some(b'@') if u > 0 => (rest.get(..u), u + 1),
            _ => (None, 0),
        };
        let (mut uri, n) = SipUri::parse_host_params(rest.get(host_at..)?)?;
        uri.user = user;
        Some((uri, host_at + n))
    }

    /// What follows `sip:` when it is `host[:port]` and unescaped
    /// parameters, up to the first byte that cannot continue it: the URI
    /// (not secure, no userinfo, no headers) and that byte's index. For a
    /// `rest` whose byte at the returned index is `>` (or its end), this is
    /// what [`Uri::parse`] finds for `sip:` and `rest` up to that index: no
    /// byte of a host or a parameter is `@`, `?` or `%`, and the parts are
    /// read by the same scanners. `None` when it is not of that form.
    #[inline(always)]
    pub(crate) fn parse_host_params(rest: &'a [u8]) -> Option<(SipUri<'a>, usize)> {
        let (host, _, port, mut i) = scan_hostport(rest)?;
        let params_at = i;
        let mut seen = SEEN_KNOWN;
        while rest.get(i) == Some(&b';') {
            let n = span(rest, i + 1, charset::param_unescaped);
            let name = param_seen(rest.get(i + 1..n)?)?;
            i = n;
            let mut value = None;
            if rest.get(i) == Some(&b'=') {
                let v = span(rest, i + 1, charset::param_unescaped);
                if v == i + 1 {
                    return None;
                }
                value = rest.get(i + 1..v);
                i = v;
            }
            seen = note_param(seen, name, value);
        }
        Some((
            SipUri {
                secure: false,
                user: None,
                password: None,
                host,
                port,
                params: Params {
                    raw: rest.get(params_at..i)?,
                },
                headers: None,
                seen,
            },
            i,
        ))
    }

    /// A uri-parameter by name (case-insensitive): `Some(None)` for a bare
    /// name such as `lr`, `Some(Some(v))` for `name=v`.
    #[inline]
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.params.get(name)
    }

    /// The `transport=` parameter.
    pub fn transport(&self) -> Option<Transport> {
        self.param(b"transport")
            .flatten()
            .map(Transport::from_bytes)
    }

    /// True when the `lr` parameter is present (RFC 3261 §19.1.1, loose routing).
    #[inline]
    pub fn lr(&self) -> bool {
        if self.seen & SEEN_KNOWN != 0 {
            return self.seen & SEEN_LR != 0;
        }
        self.param(b"lr").is_some()
    }

    /// [`SipUri::lr`], [`SipUri::transport`] and [`SipUri::maddr`] in one
    /// pass over the parameters (what routing a request on this URI needs).
    pub fn routing(&self) -> Routing<'a> {
        let seen = self.seen;
        if seen & SEEN_KNOWN != 0 && seen & SEEN_OTHER_ROUTING == 0 {
            let transport = match seen & (SEEN_UDP | SEEN_TCP) {
                SEEN_UDP => Some(Transport::Udp),
                SEEN_TCP => Some(Transport::Tcp),
                _ => None,
            };
            return Routing {
                lr: seen & SEEN_LR != 0,
                transport,
                maddr: None,
            };
        }
        let mut plain = RoutingScan::default();
        if self.params.each_plain(|p| plain.take(p)).is_some() {
            return plain.found;
        }
        // Not plain: again with the general iterator.
        let mut general = RoutingScan::default();
        for p in self.params.iter() {
            general.take(p);
        }
        general.found
    }

    /// The `maddr=` parameter.
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.param(b"maddr").flatten()
    }

    /// The `user=` parameter (e.g. `phone`).
    pub fn user_param(&self) -> Option<&'a [u8]> {
        self.param(b"user").flatten()
    }

    /// Appends the percent-decoded user part to `out` (nothing when there is
    /// no user). The escapes were validated by the parser.
    pub fn decode_user(&self, out: &mut Vec<u8>) {
        if let Some(u) = self.user {
            percent_decode(u, out);
        }
    }
}

impl<'a> TelUri<'a> {
    /// Parses what follows `tel:` (RFC 3966 §3).
    fn parse_rest(s: &'a [u8]) -> Option<TelUri<'a>> {
        let end = find(s, b';').unwrap_or(s.len());
        let (number, params) = s.split_at(end);
        let global = number.first() == Some(&b'+');
        let ok = if global {
            let digits = number.get(1..).unwrap_or_default();
            digits.iter().all(|&b| b.is_ascii_digit() || visual(b))
                && digits.iter().any(u8::is_ascii_digit)
        } else {
            let hexish = |b: u8| b.is_ascii_hexdigit() || b == b'*' || b == b'#';
            number.iter().all(|&b| hexish(b) || visual(b)) && number.iter().any(|&b| hexish(b))
        };
        if !ok || scan_uri_params(params).map(|(end, _)| end) != Some(params.len()) {
            return None;
        }
        Some(TelUri {
            number,
            global,
            params: Params::from_raw(params),
        })
    }
}

impl<'a> Host<'a> {
    /// Parses a host: an IPv6 reference `[...]` (or a bare IPv6 address, as
    /// in a Via `received=`), an IPv4 address, or a domain name. Anything
    /// else is `Error::Invalid("Host")`; callers map it to their own error.
    pub fn parse(s: &'a [u8]) -> Result<Host<'a>, Error> {
        match scan_host(s) {
            Some((host, end)) if end == s.len() => Ok(host),
            _ if s.first() != Some(&b'[') && s.contains(&b':') => {
                parse_ipv6(s).map(Host::V6).ok_or(Error::Invalid("Host"))
            }
            _ => Err(Error::Invalid("Host")),
        }
    }

    /// The address, for IPv4 and IPv6 hosts.
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Name(_) => None,
            Host::V4(a) => Some(IpAddr::V4(a)),
            Host::V6(a) => Some(IpAddr::V6(a)),
        }
    }

    /// Names compare case-insensitively, addresses by value (same as `==`).
    #[inline]
    pub fn eq_ignore_case(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (Host::V4(a), Host::V4(b)) => a == b,
            (Host::V6(a), Host::V6(b)) => a == b,
            _ => false,
        }
    }

    /// True when this host is the address `ip` (an IPv4-mapped IPv6 address
    /// matches its IPv4 form).
    pub fn is_ip(&self, ip: IpAddr) -> bool {
        let canon = |a: IpAddr| match a {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
            v4 => v4,
        };
        self.ip().is_some_and(|mine| canon(mine) == canon(ip))
    }
}

impl PartialEq for Host<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.eq_ignore_case(other)
    }
}

impl Eq for Host<'_> {}

impl From<IpAddr> for Host<'_> {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        }
    }
}

impl<'a> Params<'a> {
    /// An empty list.
    pub const EMPTY: Params<'static> = Params { raw: b"" };

    /// Wraps raw parameter text without validating it (iteration still
    /// never panics; malformed pieces come out as odd names).
    #[inline]
    pub fn from_raw(raw: &'a [u8]) -> Params<'a> {
        Params { raw }
    }

    /// The raw text, starting at the first `;` (empty when there are none).
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// True when there are no parameters.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The parameters in order.
    #[inline]
    pub fn iter(&self) -> ParamsIter<'a> {
        ParamsIter { rest: self.raw }
    }

    /// The first parameter with this name (case-insensitive): `Some(None)`
    /// for a bare name, `Some(Some(value))` for `name=value`.
    pub fn get(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        let mut found = None;
        let plain = self.each_plain(|p| {
            let hit = p.name.eq_ignore_ascii_case(name);
            if hit {
                found = Some(p.value);
            }
            !hit
        });
        match plain {
            Some(()) => found,
            None => self
                .iter()
                .find(|p| p.name.eq_ignore_ascii_case(name))
                .map(|p| p.value),
        }
    }

    /// Calls `each` with the parameters in order, as [`Params::iter`] yields
    /// them, until it returns false, when the text holds no quote, backslash
    /// or white space (always so for the parameters of a parsed SIP URI):
    /// then a `;` always ends a parameter and nothing needs trimming. `None`
    /// (having called `each` for none or some of them) when it does hold
    /// one: the caller then iterates.
    #[inline]
    fn each_plain(&self, mut each: impl FnMut(Param<'a>) -> bool) -> Option<()> {
        let raw = self.raw;
        let mut i = 0;
        while i < raw.len() {
            let end = i + raw[i..]
                .iter()
                .position(|&b| PLAIN_STOP[usize::from(b)])
                .unwrap_or(raw.len() - i);
            if raw.get(end).is_some_and(|&b| b != b';') {
                return None;
            }
            let seg = &raw[i..end];
            let param = match seg.iter().position(|&b| b == b'=') {
                Some(eq) => Param {
                    name: &seg[..eq],
                    value: Some(&seg[eq + 1..]),
                },
                None => Param {
                    name: seg,
                    value: None,
                },
            };
            let empty = param.name.is_empty() && param.value.is_none();
            if !empty && !each(param) {
                return Some(());
            }
            i = end + 1;
        }
        Some(())
    }
}

/// The bytes that end a plain parameter (`;`) or make [`Params::each_plain`]
/// hand over to [`ParamsIter`]: quotes, backslash and white space.
const PLAIN_STOP: [bool; 256] = byte_set(b";\"\\ \t\r\n");

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamsIter<'a>;
    fn into_iter(self) -> ParamsIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamsIter<'a>;
    fn into_iter(self) -> ParamsIter<'a> {
        self.iter()
    }
}

impl<'a> Param<'a> {
    /// The value with the quotes of a quoted-string removed (escapes kept
    /// raw); token values as they are.
    pub fn unquoted(&self) -> Option<&'a [u8]> {
        self.value.map(unquote)
    }
}

impl<'a> Iterator for ParamsIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        while !self.rest.is_empty() {
            // One pass finds both the `;` that ends the parameter (outside
            // quotes, as `segment_end` would) and its first `=` (anywhere).
            let s = self.rest;
            let mut eq = None;
            let mut quoted = false;
            let mut i = 0;
            while let Some(&b) = s.get(i) {
                if !PARAM_SPECIAL[usize::from(b)] {
                    i += 1;
                    continue;
                }
                match b {
                    b';' if !quoted => break,
                    b'=' => {
                        eq = eq.or(Some(i));
                    }
                    b'"' => quoted = !quoted,
                    b'\\' if quoted => {
                        i += 1;
                        if s.get(i) == Some(&b'=') {
                            eq = eq.or(Some(i));
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let end = i.min(s.len());
            let seg = s.get(..end).unwrap_or_default();
            self.rest = s.get(end + 1..).unwrap_or_default();
            let param = match eq {
                Some(eq) => Param {
                    name: charset::trim(seg.get(..eq).unwrap_or_default()),
                    value: Some(charset::trim(seg.get(eq + 1..).unwrap_or_default())),
                },
                None => Param {
                    name: charset::trim(seg),
                    value: None,
                },
            };
            if param.name.is_empty() && param.value.is_none() {
                continue;
            }
            return Some(param);
        }
        None
    }
}

/// The bytes [`ParamsIter`] must look at: `;`, `=`, `"` and `\\`.
const PARAM_SPECIAL: [bool; 256] = byte_set(b";=\"\\");

/// A 256-entry table that is true for the bytes of `set`.
const fn byte_set(set: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < set.len() {
        t[set[i] as usize] = true;
        i += 1;
    }
    t
}

/// Length of `scheme` when `s` starts with `scheme ":"`.
fn scheme_len(s: &[u8]) -> Option<usize> {
    if !s.first()?.is_ascii_alphabetic() {
        return None;
    }
    let n = span(s, 1, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
    });
    (s.get(n) == Some(&b':')).then_some(n)
}

/// RFC 2396 `uric` (plus `[`/`]` for IPv6 hosts): the bytes of an opaque URI.
fn uric(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'();/?:@&=+$,%[]".contains(&b)
}

/// RFC 3966 visual separators.
fn visual(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b'(' | b')')
}

/// Scans the host at the start of `s` (an IPv6 reference, an IPv4 address
/// or a domain name) and returns it with the index just after it. What
/// follows is not looked at.
#[inline(always)]
pub(crate) fn scan_host(s: &[u8]) -> Option<(Host<'_>, usize)> {
    let first = *s.first()?;
    if first == b'[' {
        let close = span(s, 1, |b| b != b']');
        let v6 = parse_ipv6(s.get(1..close)?)?;
        return (s.get(close) == Some(&b']')).then_some((Host::V6(v6), close + 1));
    }
    if first.is_ascii_digit() {
        // One pass for the common IPv4 case; a name that starts with a
        // digit (`1and1.example`) falls through to the name scan.
        if let Some((a, end)) = scan_ipv4(s) {
            if !s.get(end).is_some_and(|&b| charset::host(b)) {
                return Some((Host::V4(a), end));
            }
        }
    } else if !first.is_ascii_alphabetic() {
        return None;
    }
    let end = host_span(s, 1);
    let h = s.get(..end)?;
    // All digits and dots is a bad IPv4 address, not a name (only a host
    // that starts with a digit can be one).
    if first.is_ascii_digit() && h.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    Some((Host::Name(h), end))
}

/// [`scan_host`] and the `:port` after it, if any: the host, the index
/// after it, the port, and the index after them. A `:` without a valid port
/// is `None`.
#[inline(always)]
pub(crate) fn scan_hostport(s: &[u8]) -> Option<(Host<'_>, usize, Option<u16>, usize)> {
    let (host, i) = scan_host(s)?;
    if s.get(i) != Some(&b':') {
        return Some((host, i, None, i));
    }
    let end = span(s, i + 1, |b| b.is_ascii_digit());
    Some((host, i, Some(parse_port(s.get(i + 1..end)?)?), end))
}

/// First index at or after `i` whose byte is not in `class` (which must not
/// hold `%`), where `%` must start a `%HH` escape (`None` on a bad escape).
#[inline(always)]
fn escaped_span(s: &[u8], mut i: usize, class: impl Fn(u8) -> bool + Copy) -> Option<usize> {
    loop {
        i = span(s, i, class);
        if s.get(i) != Some(&b'%') {
            return Some(i);
        }
        let hex = |j: usize| s.get(j).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(i + 1) && hex(i + 2)) {
            return None;
        }
        i += 3;
    }
}

/// Every byte in `class` (without `%`), and every `%` followed by two hex
/// digits.
#[inline]
fn escaped_all(s: &[u8], class: impl Fn(u8) -> bool + Copy) -> bool {
    escaped_span(s, 0, class) == Some(s.len())
}

/// Validates `*( ";" pname [ "=" pvalue ] )` (paramchar names and values)
/// at the start of `s`; returns where it ends (a `?` or the end of `s`) and
/// the [`SipUri::seen`] bits of the names it met.
#[inline]
fn scan_uri_params(s: &[u8]) -> Option<(usize, u8)> {
    let mut i = 0;
    let mut seen = 0;
    loop {
        match s.get(i) {
            None | Some(b'?') => return Some((i, seen)),
            Some(b';') => {}
            Some(_) => return None,
        }
        // The name and its value in one scan: `=` is not a paramchar, so
        // the name ends there and the value after it.
        let n = escaped_span(s, i + 1, charset::param_unescaped)?;
        let name = param_seen(s.get(i + 1..n).unwrap_or_default())?;
        i = n;
        let mut value = None;
        if s.get(i) == Some(&b'=') {
            let v = escaped_span(s, i + 1, charset::param_unescaped)?;
            if v == i + 1 {
                return None;
            }
            value = s.get(i + 1..v);
            i = v;
        }
        seen = note_param(seen, name, value);
    }
}

/// The [`SipUri::seen`] bit of a uri-parameter name ([`SEEN_TRANSPORT`]
/// for `transport`, whose value decides its bits); `None` when it is empty.
#[inline(always)]
fn param_seen(name: &[u8]) -> Option<u8> {
    Some(match name.len() {
        0 => return None,
        2 if charset::eq_letters(name, b"lr") => SEEN_LR,
        5 if charset::eq_letters(name, b"maddr") => SEEN_OTHER_ROUTING,
        9 if charset::eq_letters(name, b"transport") => SEEN_TRANSPORT,
        _ => 0,
    })
}

/// `seen` with one parameter (its [`param_seen`] bit and raw value) noted:
/// the first `transport` sets [`SEEN_UDP`] or [`SEEN_TCP`] for those
/// values, [`SEEN_OTHER_ROUTING`] for any other (escaped, missing, another
/// transport), as [`SipUri::routing`] would read it.
#[inline(always)]
fn note_param(seen: u8, name: u8, value: Option<&[u8]>) -> u8 {
    if name != SEEN_TRANSPORT {
        return seen | name;
    }
    if seen & SEEN_TRANSPORT != 0 {
        return seen;
    }
    let kind = match value {
        Some(v) if charset::eq_letters(v, b"udp") => SEEN_UDP,
        Some(v) if charset::eq_letters(v, b"tcp") => SEEN_TCP,
        _ => SEEN_OTHER_ROUTING,
    };
    seen | SEEN_TRANSPORT | kind
}

/// `hname "=" hvalue *( "&" hname "=" hvalue )`.
fn uri_headers_valid(s: &[u8]) -> bool {
    s.split(|&b| b == b'&').all(|h| match memchr(b'=', h) {
        Some(eq) => {
            let (n, v) = h.split_at(eq);
            let v = v.get(1..).unwrap_or_default();
            !n.is_empty()
                && escaped_all(n, charset::hnv_unescaped)
                && escaped_all(v, charset::hnv_unescaped)
        }
        None => false,
    })
}

fn percent_decode(s: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                out.push((h << 4) | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameter split [`ParamsIter`] must agree with: `;` outside
    /// quotes, then the first `=` anywhere, LWS trimmed, empty ones skipped.
    fn params_reference(mut rest: &[u8]) -> Vec<Param<'_>> {
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (seg, tail) = rest.split_at(crate::sip::values::segment_end(rest, b';'));
            rest = tail.get(1..).unwrap_or_default();
            let seg = charset::trim(seg);
            if seg.is_empty() {
                continue;
            }
            out.push(match memchr(b'=', seg) {
                Some(eq) => Param {
                    name: charset::trim(&seg[..eq]),
                    value: Some(charset::trim(&seg[eq + 1..])),
                },
                None => Param {
                    name: seg,
                    value: None,
                },
            });
        }
        out
    }

    /// `lr()` and `routing()` answer from what the parser saw exactly as a
    /// scan of the parameters would.
    #[test]
    fn routing_from_the_parse_agrees_with_a_scan() {
        let uris: &[&[u8]] = &[
            b"sip:p.example.com;lr",
            b"sip:p.example.com;LR=1;transport=TCP",
            b"sip:p.example.com;maddr=192.0.2.1;lr",
            b"sip:p.example.com;lrx;xlr;l%72",
            b"sip:u@p.example.com:5070;transport=udp;transport=tcp",
            b"sip:p.example.com;maddr=a;maddr=b",
            b"sip:p.example.com",
            b"sip:p.example.com;user=phone?h=v",
            b"sips:[2001:db8::1];Lr",
            b"sip:p.example.com;transport=UDP;lr",
            b"sip:p.example.com;lr;transport=tCp",
            b"sip:p.example.com;transport=tcp;transport=udp",
            b"sip:p.example.com;transport=%75dp",
            b"sip:p.example.com;transport;transport=tcp",
            b"sip:p.example.com;transport=tls;lr",
            b"sip:p.example.com;transport=udpx",
            b"sip:p.example.com;transport=ud",
            b"sip:p.example.com;transport=sctp;maddr=10.0.0.1",
            b"sip:192.0.2.1:5070;transport=udp;maddr=10.0.0.1;lr",
        ];
        for &raw in uris {
            let u = SipUri::parse(raw).expect("test URI parses");
            assert_ne!(u.seen & SEEN_KNOWN, 0);
            let unparsed = SipUri { seen: 0, ..u };
            let text = String::from_utf8_lossy(raw);
            assert_eq!(u.lr(), unparsed.lr(), "{text}");
            assert_eq!(u.routing(), unparsed.routing(), "{text}");
            // The one-pass reader of `host[:port];params` notes the same.
            if let Some(rest) = raw.strip_prefix(b"sip:") {
                if let Some((h, n)) = SipUri::parse_host_params(rest) {
                    if n == rest.len() {
                        assert_eq!(h.routing(), unparsed.routing(), "host-params {text}");
                        assert_eq!(h.lr(), unparsed.lr(), "host-params {text}");
                    }
                }
            }
        }
    }

    /// The plain reader that [`Uri::parse`] tries first finds exactly what
    /// the general one does for every URI it reads whole, and never reads
    /// whole a URI that the general one refuses: seeds, and each seed with
    /// every byte replaced by each of the bytes that matter to the grammar.
    #[test]
    fn plain_uris_agree_with_the_general_reader() {
        let seeds: &[&[u8]] = &[
            b"+15551234567@carrier.example.net;user=phone",
            b"alice@192.0.2.1:5062;transport=udp;lr",
            b"p.example.com;lr",
            b"a;b@host",
            b"u:pw@host",
            b"u%40x@host",
            b"host;x=a@b",
            b"u@[2001:db8::1]:5060;maddr=10.0.0.1",
            b"u@host?h=v",
            b"u@host;transport=TCP;Lr",
            b"@host",
            b"u@",
            b"u@@host",
        ];
        let bytes = b"@:;=%?[]. ,<>\"\x00\x7fA9";
        let mut cases: Vec<Vec<u8>> = seeds.iter().map(|s| s.to_vec()).collect();
        for seed in seeds {
            for at in 0..seed.len() {
                for &b in bytes {
                    let mut m = seed.to_vec();
                    m[at] = b;
                    cases.push(m);
                }
            }
        }
        let mut read_whole = 0;
        for rest in &cases {
            let general = SipUri::parse_rest(rest, false);
            if let Some((plain, n)) = SipUri::parse_plain(rest, true) {
                if n == rest.len() {
                    read_whole += 1;
                    let text = String::from_utf8_lossy(rest);
                    assert_eq!(Some(plain), general, "{text}");
                }
            }
            let mut uri = b"sip:".to_vec();
            uri.extend_from_slice(rest);
            assert_eq!(Uri::parse(&uri).ok(), general.map(Uri::Sip));
        }
        assert!(read_whole > 100, "{read_whole}");
    }

    #[test]
    fn params_iter_matches_the_reference() {
        let seeds: &[&[u8]] = &[
            b";lr;transport=udp;maddr=10.0.0.1",
            b" ; a = \"x;\\\"=y\" ;; =v; b= ;c",
            b";q=\"0;5\";tag=98asjd8\\",
        ];
        let bytes = b";=\"\\ x";
        let mut buf = Vec::new();
        let check = |s: &[u8]| {
            let got: Vec<Param<'_>> = Params::from_raw(s).iter().collect();
            assert_eq!(got, params_reference(s), "{s:?}");
        };
        for seed in seeds {
            for n in 0..=seed.len() {
                check(&seed[..n]);
                check(&seed[n..]);
                for &b in bytes {
                    if n < seed.len() {
                        buf.clear();
                        buf.extend_from_slice(seed);
                        buf[n] = b;
                        check(&buf);
                    }
                }
            }
        }
    }

    fn sip<'a>(user: Option<&'a [u8]>, host: Host<'a>) -> SipUri<'a> {
        SipUri {
            secure: false,
            user,
            password: None,
            host,
            port: None,
            params: Params::EMPTY,
            headers: None,
            seen: 0,
        }
    }

    fn name(s: &[u8]) -> Host<'_> {
        Host::Name(s)
    }

    /// `input => expected` rows for [`Uri::parse`].
    macro_rules! uri_table {
        ($($input:expr => $expected:expr;)*) => {{
            let rows: Vec<(&[u8], Result<Uri<'static>, Error>)> = vec![$(($input, $expected)),*];
            for (input, expected) in rows {
                assert_eq!(Uri::parse(input), expected, "{}", String::from_utf8_lossy(input));
            }
        }};
    }

    #[test]
    fn sip_uris() {
        uri_table! {
            b"sip:alice@example.com" => Ok(Uri::Sip(sip(Some(b"alice"), name(b"example.com"))));
            b"SIPS:alice@Example.COM:5061" => Ok(Uri::Sip(SipUri {
                secure: true,
                port: Some(5061),
                ..sip(Some(b"alice"), name(b"example.com"))
            }));
            b"sip:example.com" => Ok(Uri::Sip(sip(None, name(b"example.com"))));
            b"sip:192.0.2.1:5060;transport=udp;lr" => Ok(Uri::Sip(SipUri {
                port: Some(5060),
                params: Params::from_raw(b";transport=udp;lr"),
                ..sip(None, Host::V4(Ipv4Addr::new(192, 0, 2, 1)))
            }));
            b"sip:[2001:db8::10]:5070" => Ok(Uri::Sip(SipUri {
                port: Some(5070),
                ..sip(None, Host::V6("2001:db8::10".parse().unwrap()))
            }));
            b"sip:u:secret@h" => Ok(Uri::Sip(SipUri {
                password: Some(b"secret"),
                ..sip(Some(b"u"), name(b"h"))
            }));
            b"sip:u:@h" => Ok(Uri::Sip(SipUri {
                password: Some(b""),
                ..sip(Some(b"u"), name(b"h"))
            }));
            // esc01.dat: escaped `:` and `@` stay in the user part.
            b"sip:sips%3Auser%40example.com@example.net" =>
                Ok(Uri::Sip(sip(Some(b"sips%3Auser%40example.com"), name(b"example.net"))));
            // esc01.dat Contact: escaped parameter names and values.
            b"sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31" => Ok(Uri::Sip(SipUri {
                params: Params::from_raw(b";%6C%72;n%61me=v%61lue%25%34%31"),
                ..sip(Some(b"cal%6Cer"), name(b"host5.example.net"))
            }));
            // escnull.dat
            b"sip:null-%00-null@example.com" =>
                Ok(Uri::Sip(sip(Some(b"null-%00-null"), name(b"example.com"))));
            // intmeth.dat: `;`, `?`, `/`, `,` in the user, a wild password.
            b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com" =>
                Ok(Uri::Sip(SipUri {
                    password: Some(b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"),
                    ..sip(Some(b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"), name(b"example.com"))
                }));
            // escruri.dat / regescrt.dat: escaped headers.
            b"sip:user@example.com?Route=%3Csip:example.com%3E" => Ok(Uri::Sip(SipUri {
                headers: Some(b"Route=%3Csip:example.com%3E"),
                ..sip(Some(b"user"), name(b"example.com"))
            }));
            b"sip:h?a=1&b=" => Ok(Uri::Sip(SipUri { headers: Some(b"a=1&b="), ..sip(None, name(b"h")) }));
            b"sip:+19725552222@gw1.example.net;unknownparam" => Ok(Uri::Sip(SipUri {
                params: Params::from_raw(b";unknownparam"),
                ..sip(Some(b"+19725552222"), name(b"gw1.example.net"))
            }));
            b"sip:h:65535" => Ok(Uri::Sip(SipUri { port: Some(65535), ..sip(None, name(b"h")) }));
            b"sip:h:00080" => Ok(Uri::Sip(SipUri { port: Some(80), ..sip(None, name(b"h")) }));
        }
    }

    #[test]
    fn other_schemes() {
        uri_table! {
            b"tel:+1-212-555-0101" => Ok(Uri::Tel(TelUri { number: b"+1-212-555-0101", global: true, params: Params::EMPTY }));
            b"TEL:7042;phone-context=example.com" => Ok(Uri::Tel(TelUri {
                number: b"7042",
                global: false,
                params: Params::from_raw(b";phone-context=example.com"),
            }));
            b"tel:*21#" => Ok(Uri::Tel(TelUri { number: b"*21#", global: false, params: Params::EMPTY }));
            // novelsc.dat, unkscm.dat
            b"soap.beep://192.0.2.103:3002" => Ok(Uri::Absolute { scheme: b"soap.beep", rest: b"//192.0.2.103:3002" });
            b"nobodyKnowsThisScheme:totallyopaquecontent" =>
                Ok(Uri::Absolute { scheme: b"nobodyKnowsThisScheme", rest: b"totallyopaquecontent" });
            b"urn:service:sos" => Ok(Uri::Absolute { scheme: b"urn", rest: b"service:sos" });
        }
    }

    #[test]
    fn malformed_uris() {
        const E: Result<Uri<'static>, Error> = Err(Error::RequestUri);
        uri_table! {
            b"" => E;
            b"sip" => E;
            b":x" => E;
            b"1sip:h" => E;
            b"sip:" => E;
            b"sip:@h" => E;
            b"sip:u@" => E;
            b"sip:u@h@i" => E;
            // lwsruri.dat: embedded LWS.
            b"sip:user@example.com; lr" => E;
            b"sip:user@example.com ;lr" => E;
            b"sip:us er@h" => E;
            b"sip:h:65536" => E;
            b"sip:h:" => E;
            b"sip:h:5x" => E;
            b"sip:[2001:db8::10" => E;
            b"sip:[nope]" => E;
            b"sip:192.0.2.300" => E;
            b"sip:1.2.3" => E;
            b"sip:-h" => E;
            b"sip:h;" => E;
            b"sip:h;a=" => E;
            b"sip:h;=a" => E;
            b"sip:h;a;;b" => E;
            b"sip:u%4@h" => E;
            b"sip:u%zz@h" => E;
            b"sip:h?" => E;
            b"sip:h?a" => E;
            b"sip:h/x" => E;
            b"sip:<h>" => E;
            b"tel:" => E;
            b"tel:+" => E;
            b"tel:+1x" => E;
            b"tel:+1;" => E;
            b"x:" => E;
            b"x:a b" => E;
            b"x:a\"b" => E;
        }
    }

    #[test]
    fn sip_uri_accessors() {
        let u = SipUri::parse(
            b"sip:bob%20smith@h;Transport=TCP;LR;maddr=239.255.255.1;user=phone;ttl=15",
        )
        .unwrap();
        assert_eq!(u.transport(), Some(Transport::Tcp));
        assert!(u.lr());
        assert_eq!(u.maddr(), Some(&b"239.255.255.1"[..]));
        assert_eq!(u.user_param(), Some(&b"phone"[..]));
        assert_eq!(u.param(b"ttl"), Some(Some(&b"15"[..])));
        assert_eq!(u.param(b"lr"), Some(None));
        assert_eq!(u.param(b"nope"), None);
        let mut out = Vec::new();
        u.decode_user(&mut out);
        assert_eq!(out, b"bob smith");
        out.clear();
        SipUri::parse(b"sip:sips%3Auser%40example.com@example.net")
            .unwrap()
            .decode_user(&mut out);
        assert_eq!(out, b"sips:user@example.com");
        out.clear();
        SipUri::parse(b"sip:%00%ff@h")
            .unwrap()
            .decode_user(&mut out);
        assert_eq!(out, [0, 0xff]);
        let plain = SipUri::parse(b"sip:h").unwrap();
        assert!(!plain.lr() && plain.transport().is_none() && plain.params.is_empty());
        assert_eq!(SipUri::parse(b"tel:+1"), Err(Error::RequestUri));
        assert_eq!(Uri::parse(b"sips:h").unwrap().scheme(), b"sips");
        assert_eq!(Uri::parse(b"Tel:+1").unwrap().scheme(), b"tel");
    }

    #[test]
    fn hosts() {
        let rows: Vec<(&[u8], Result<Host<'_>, Error>)> = vec![
            (b"example.com", Ok(Host::Name(b"example.com"))),
            (b"EXAMPLE.com.", Ok(Host::Name(b"example.com."))),
            (b"10.0.0.1", Ok(Host::V4(Ipv4Addr::new(10, 0, 0, 1)))),
            (b"010.000.0.01", Ok(Host::V4(Ipv4Addr::new(10, 0, 0, 1)))),
            (b"[::1]", Ok(Host::V6(Ipv6Addr::LOCALHOST))),
            (b"2001:db8::1", Ok(Host::V6("2001:db8::1".parse().unwrap()))),
            (b"", Err(Error::Invalid("Host"))),
            (b"[::1", Err(Error::Invalid("Host"))),
            (b"[]", Err(Error::Invalid("Host"))),
            (b"1.2.3.256", Err(Error::Invalid("Host"))),
            (b"1.2.3.4.5", Err(Error::Invalid("Host"))),
            (b"1..3.4", Err(Error::Invalid("Host"))),
            (b"h_x", Err(Error::Invalid("Host"))),
            (b"1and1.example", Ok(Host::Name(b"1and1.example"))),
            (b"1.2.3.4a", Ok(Host::Name(b"1.2.3.4a"))),
            (b"1234.1.1.1", Err(Error::Invalid("Host"))),
            (b"1.2.3.", Err(Error::Invalid("Host"))),
            (b"fe80::1", Ok(Host::V6("fe80::1".parse().unwrap()))),
            (b"[::1]x", Err(Error::Invalid("Host"))),
            (b".h", Err(Error::Invalid("Host"))),
        ];
        for (input, expected) in rows {
            assert_eq!(Host::parse(input), expected, "{input:?}");
        }
        let v4 = Host::parse(b"192.0.2.1").unwrap();
        assert_eq!(v4.ip(), Some("192.0.2.1".parse().unwrap()));
        assert!(v4.is_ip("::ffff:192.0.2.1".parse().unwrap()));
        assert_eq!(Host::from(v4.ip().unwrap()), v4);
        assert!(Host::Name(b"a.B").eq_ignore_case(&Host::Name(b"A.b")));
        assert_ne!(Host::Name(b"1.2.3.4"), Host::V4(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(Host::Name(b"h").ip(), None);
    }

    #[test]
    fn params_iteration() {
        let p = Params::from_raw(
            b"; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33;x=\"a;b\"",
        );
        let got: Vec<Param<'_>> = p.iter().collect();
        assert_eq!(
            got,
            vec![
                Param {
                    name: b"newparam",
                    value: Some(b"newvalue")
                },
                Param {
                    name: b"secondparam",
                    value: None
                },
                Param {
                    name: b"q",
                    value: Some(b"0.33")
                },
                Param {
                    name: b"x",
                    value: Some(b"\"a;b\"")
                },
            ]
        );
        assert_eq!(got[3].unquoted(), Some(&b"a;b"[..]));
        assert_eq!(p.get(b"Q"), Some(Some(&b"0.33"[..])));
        assert_eq!(p.get(b"SECONDPARAM"), Some(None));
        assert!(!p.is_empty());
        assert!(Params::from_raw(b" ; ;").is_empty());
        assert_eq!(Params::EMPTY.iter().count(), 0);
    }
}
