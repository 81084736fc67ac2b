//! `name-addr` / `addr-spec` header values (From, To, Contact, Route,
//! Record-Route; RFC 3261 §20.10, §20.20, §20.39, §25.1) as zero-copy views.
//! No I/O.

use memchr::memchr;

use super::{
    charset,
    uri::{quoted_len, scan_header_params, skip_lws, span, Params, Uri},
    values::parse_delta_seconds,
    Error,
};

/// A name-addr or addr-spec with its header parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, raw: a quoted-string without its outer quotes
    /// (escapes kept), or the token sequence as written. `None` when absent.
    pub display: Option<&'a [u8]>,
    /// The URI.
    pub uri: Uri<'a>,
    /// The URI as written (without the angle brackets).
    pub uri_raw: &'a [u8],
    /// The header parameters after the URI (after `>`, or after a bare
    /// addr-spec), raw text starting at the first `;`.
    pub params: Params<'a>,
    /// The `tag` parameter.
    pub tag: Option<&'a [u8]>,
}

/// A Contact value: `*` or an address (RFC 3261 §20.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removing all bindings).
    Star,
    /// An address with its contact-params.
    Addr(NameAddr<'a>),
}

impl<'a> NameAddr<'a> {
    /// Parses `"Display" <uri>;params`, `Display Name <uri>;params`,
    /// `<uri>;params` or a bare addr-spec `uri;params`. In the bare form the
    /// `;params` are header parameters (RFC 3261 §20: `To: sip:u@h;tag=x`
    /// has tag `x` and a URI without parameters), and the URI may not hold
    /// `,` or `?`. Unquoted display names must be tokens; no white space is
    /// allowed inside `<...>`. Every fault is `Error::Invalid(header)`.
    pub fn parse(value: &'a [u8], header: &'static str) -> Result<NameAddr<'a>, Error> {
        parse(value, header, false)
    }

    /// Like [`NameAddr::parse`], but only the `<uri>` form is accepted, as
    /// Route and Record-Route require (RFC 3261 §20.30, §20.34).
    pub fn parse_name_addr(value: &'a [u8], header: &'static str) -> Result<NameAddr<'a>, Error> {
        parse(value, header, true)
    }

    /// The SIP URI, when the address is one.
    pub fn sip_uri(&self) -> Option<&super::uri::SipUri<'a>> {
        self.uri.as_sip()
    }

    /// A header parameter by name (case-insensitive), see [`Params::get`].
    pub fn param(&self, name: &[u8]) -> Option<Option<&'a [u8]>> {
        self.params.get(name)
    }
}

impl<'a> Contact<'a> {
    /// Parses one Contact value (the caller splits comma lists); faults are
    /// `Error::Invalid("Contact")`.
    pub fn parse(value: &'a [u8]) -> Result<Contact<'a>, Error> {
        if charset::trim(value) == b"*" {
            Ok(Contact::Star)
        } else {
            NameAddr::parse(value, "Contact").map(Contact::Addr)
        }
    }

    /// The `expires` contact-param in seconds (values past 2^32-1 clamp to
    /// `u32::MAX`, as for the Expires header); `None` when absent or not a
    /// number.
    pub fn expires(&self) -> Option<u32> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a.param(b"expires").flatten().and_then(parse_delta_seconds),
        }
    }

    /// The `q` contact-param as written (e.g. `0.33`).
    pub fn q(&self) -> Option<&'a [u8]> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => a.param(b"q").flatten(),
        }
    }

    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }
}

fn parse<'a>(
    value: &'a [u8],
    header: &'static str,
    brackets_only: bool,
) -> Result<NameAddr<'a>, Error> {
    let bad = Error::Invalid(header);
    let s = charset::trim(value);
    let (display, laquot) = match s.first() {
        Some(b'<') => (None, 0),
        Some(b'"') => {
            let q = quoted_len(s).ok_or(bad)?;
            let l = skip_lws(s, q);
            if s.get(l) != Some(&b'<') {
                return Err(bad);
            }
            (s.get(1..q - 1), l)
        }
        _ => {
            // Tokens and LWS up to `<` (display name), or a bare addr-spec
            // whose scheme ends at `:`.
            let end = span(s, 0, |b| charset::token(b) || charset::lws(b));
            match s.get(end) {
                Some(b'<') => (Some(charset::trim(s.get(..end).ok_or(bad)?)), end),
                Some(b':') if !brackets_only && !s.iter().take(end).any(|&b| charset::lws(b)) => {
                    return bare(s, bad)
                }
                _ => return Err(bad),
            }
        }
    };
    let inner = s.get(laquot + 1..).ok_or(bad)?;
    let close = memchr(b'>', inner).ok_or(bad)?;
    let (uri_raw, after) = inner.split_at(close);
    let uri = Uri::parse(uri_raw).map_err(|_| bad)?;
    let params = after.get(1..).unwrap_or_default();
    finish(display, uri, uri_raw, params, bad)
}

/// The addr-spec form: the URI ends at the first `;` or LWS.
fn bare<'a>(s: &'a [u8], bad: Error) -> Result<NameAddr<'a>, Error> {
    let end = span(s, 0, |b| b != b';' && !charset::lws(b));
    let (uri_raw, params) = s.split_at(end.min(s.len()));
    if memchr(b',', uri_raw).is_some() || memchr(b'?', uri_raw).is_some() {
        return Err(bad);
    }
    let uri = Uri::parse(uri_raw).map_err(|_| bad)?;
    finish(None, uri, uri_raw, params, bad)
}

fn finish<'a>(
    display: Option<&'a [u8]>,
    uri: Uri<'a>,
    uri_raw: &'a [u8],
    params: &'a [u8],
    bad: Error,
) -> Result<NameAddr<'a>, Error> {
    let params = params.get(skip_lws(params, 0)..).unwrap_or_default();
    let mut tag = None;
    scan_header_params(params, |name, value| {
        if name.eq_ignore_ascii_case(b"tag") && tag.is_none() {
            match value {
                Some(v) if charset::is_token(v) => tag = Some(v),
                _ => return false,
            }
        }
        true
    })
    .ok_or(bad)?;
    Ok(NameAddr {
        display,
        uri,
        uri_raw,
        params: Params::from_raw(params),
        tag,
    })
}
