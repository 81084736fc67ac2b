//! `name-addr` / `addr-spec` header values (From, To, Contact, Route,
//! Record-Route; RFC 3261 §20.10, §20.20, §20.39, §25.1) as zero-copy views.
//! No I/O.

use super::{
    charset,
    uri::{Params, SipUri, Uri},
    values::{
        find, find2, parse_delta_seconds, quoted_len, scan_header_params, scan_header_params_list,
        skip_lws, span,
    },
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
    /// The `tag` parameter (first one; a quoted or missing value is an
    /// error).
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
        let mode = Mode {
            brackets_only: false,
            list: false,
        };
        parse(value, header, mode).map(|(addr, _)| addr)
    }

    /// Like [`NameAddr::parse`], but only the `<uri>` form is accepted, as
    /// Route and Record-Route require (RFC 3261 §20.30, §20.34).
    pub fn parse_name_addr(value: &'a [u8], header: &'static str) -> Result<NameAddr<'a>, Error> {
        let mode = Mode {
            brackets_only: true,
            list: false,
        };
        parse(value, header, mode).map(|(addr, _)| addr)
    }

    /// Parses the first `<uri>` address of a comma-separated list (Route,
    /// Record-Route) without splitting it first: returns the address and
    /// the index of the `,` that ends it (or `value.len()`).
    pub fn parse_first_name_addr(
        value: &'a [u8],
        header: &'static str,
    ) -> Result<(NameAddr<'a>, usize), Error> {
        let mode = Mode {
            brackets_only: true,
            list: true,
        };
        parse(value, header, mode)
    }

    /// Only the `tag` header parameter of a From/To value, without parsing
    /// the display name or the URI (the proxy hot path needs nothing else
    /// from them). The header parameters are validated as in
    /// [`NameAddr::parse`]; a value that has no `<` and no `;` has no tag.
    /// Use [`NameAddr::parse`] where the URI matters.
    pub fn parse_tag(value: &'a [u8], header: &'static str) -> Result<Option<&'a [u8]>, Error> {
        let bad = Error::Invalid(header);
        let s = value.get(skip_lws(value, 0)..).unwrap_or_default();
        let rest = match s.first() {
            Some(b'"') => s.get(quoted_len(s).ok_or(bad)?..).unwrap_or_default(),
            _ => s,
        };
        let params = match find2(rest, b'<', b';') {
            None => return Ok(None),
            Some(i) if rest.get(i) == Some(&b';') => rest.get(i..).unwrap_or_default(),
            Some(i) => {
                let after = rest.get(i..).unwrap_or_default();
                let close = find(after, b'>').ok_or(bad)?;
                after.get(close + 1..).unwrap_or_default()
            }
        };
        if let Some(tag) = lone_tag(params) {
            return Ok(tag);
        }
        let mut tag = None;
        scan_header_params(params, |name, value| tag_param(&mut tag, name, value)).ok_or(bad)?;
        Ok(tag)
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

/// Which forms [`parse`] accepts and where it stops.
#[derive(Clone, Copy)]
struct Mode {
    /// Only `<uri>` (Route, Record-Route).
    brackets_only: bool,
    /// Stop at a `,` that ends the value (list headers, unsplit).
    list: bool,
}

/// Parses the address at the start of `value`; returns it and the index
/// where it ends (`value.len()`, or a `,` in list mode). One copy, out of
/// line, for every header and mode: the proxy reads From, To and Route
/// values with it on every request, and one copy of the code stays in the
/// instruction cache where three would crowd it.
#[inline(never)]
fn parse<'a>(
    value: &'a [u8],
    header: &'static str,
    mode: Mode,
) -> Result<(NameAddr<'a>, usize), Error> {
    let bad = Error::Invalid(header);
    match plain_sip(value, bad, mode.list, !mode.brackets_only) {
        Some(found) => Ok(found),
        None => parse_general(value, bad, mode),
    }
}

/// [`parse`] for any value.
fn parse_general(value: &[u8], bad: Error, mode: Mode) -> Result<(NameAddr<'_>, usize), Error> {
    let start = skip_lws(value, 0);
    let s = value.get(start..).unwrap_or_default();
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
                Some(b':')
                    if !mode.brackets_only && !s.iter().take(end).any(|&b| charset::lws(b)) =>
                {
                    return bare(s, bad, mode.list).map(|(a, end)| (a, start + end));
                }
                _ => return Err(bad),
            }
        }
    };
    let u = laquot + 1;
    let close = u + find(s.get(u..).unwrap_or_default(), b'>').ok_or(bad)?;
    if s.get(close) != Some(&b'>') {
        return Err(bad);
    }
    let uri_raw = s.get(u..close).ok_or(bad)?;
    let params = s.get(close + 1..).unwrap_or_default();
    let (params, tag, end) = header_params(params, bad, mode.list)?;
    Ok((
        NameAddr {
            display,
            uri: Uri::parse(uri_raw).map_err(|_| bad)?,
            uri_raw,
            params,
            tag,
        },
        start + close + 1 + end,
    ))
}

/// `["display" ]<sip:[user@]host[:port];params>` and header parameters,
/// as proxies write Route and Record-Route values and most user agents
/// write From and To (a quoted display name followed by one space, a user
/// without escapes or password, no URI headers): what [`parse`] finds for
/// such a value, in one pass without its searches for `>` and `@`. `None`
/// for anything else, errors included, which [`parse`] then reads the
/// general way. Only with `users` are a display name and a user looked
/// for (Route and Record-Route values name hosts; the look would cost them
/// a scan).
#[inline(always)]
fn plain_sip(value: &[u8], bad: Error, list: bool, users: bool) -> Option<(NameAddr<'_>, usize)> {
    let (display, laquot) = match value.first()? {
        b'"' if users => {
            let q = quoted_len(value)?;
            match value.get(q..q + 2)? {
                [b' ', b'<'] => (Some(value.get(1..q - 1)?), q + 1),
                _ => return None,
            }
        }
        _ => (None, 0),
    };
    let (scheme, rest) = value.get(laquot..)?.split_at_checked(5)?;
    let [b'<', s, i, p, b':'] = *scheme else {
        return None;
    };
    if !charset::eq_letters(&[s, i, p], b"sip") {
        return None;
    }
    let (uri, n) = SipUri::parse_plain(rest, users)?;
    let close = laquot + 5 + n;
    if value.get(close) != Some(&b'>') {
        return None;
    }
    let after = value.get(close + 1..).unwrap_or_default();
    let (params, tag, end) = header_params(after, bad, list).ok()?;
    Some((
        NameAddr {
            display,
            uri: Uri::Sip(uri),
            uri_raw: value.get(laquot + 1..close)?,
            params,
            tag,
        },
        close + 1 + end,
    ))
}

/// The addr-spec form: the URI ends at the first `;` or LWS (or `,` in
/// list mode).
fn bare(s: &[u8], bad: Error, list: bool) -> Result<(NameAddr<'_>, usize), Error> {
    let end = span(s, 0, |b| {
        b != b';' && !charset::lws(b) && !(list && b == b',')
    });
    let (uri_raw, params) = s.split_at(end.min(s.len()));
    if find2(uri_raw, b',', b'?').is_some() {
        return Err(bad);
    }
    let (params, tag, p_end) = header_params(params, bad, list)?;
    Ok((
        NameAddr {
            display: None,
            uri: Uri::parse(uri_raw).map_err(|_| bad)?,
            uri_raw,
            params,
            tag,
        },
        end + p_end,
    ))
}

/// The tag of header parameters that are nothing or only `;tag=value` with
/// a plain value: what [`scan_header_params`] with [`tag_param`] finds for
/// them, without its white-space skips. `None` for anything else.
#[inline(always)]
fn lone_tag(params: &[u8]) -> Option<Option<&[u8]>> {
    let Some((head, value)) = params.split_at_checked(5) else {
        return params.is_empty().then_some(None);
    };
    let [b';', t, a, g, b'='] = *head else {
        return None;
    };
    let plain = !value.is_empty()
        && value.first() != Some(&b'"')
        && span(value, 0, charset::gen_value) == value.len();
    (plain && charset::eq_letters(&[t, a, g], b"tag")).then_some(Some(value))
}

/// Records the first `tag` parameter; false when its value is missing or
/// quoted (a token is expected; `:`, `[`, `]` are tolerated, so the value
/// needs no second pass).
#[inline]
fn tag_param<'a>(tag: &mut Option<&'a [u8]>, name: &'a [u8], value: Option<&'a [u8]>) -> bool {
    if name.len() == 3 && name.eq_ignore_ascii_case(b"tag") && tag.is_none() {
        match value {
            Some(v) if v.first() != Some(&b'"') => *tag = Some(v),
            _ => return false,
        }
    }
    true
}

/// Scans the header params after the URI: returns them, the tag, and the
/// index in `params` where they end. Nothing after the URI (or, in a list,
/// a comma right after it) is the usual case and costs two compares.
#[inline(always)]
fn header_params<'a>(
    params: &'a [u8],
    bad: Error,
    list: bool,
) -> Result<(Params<'a>, Option<&'a [u8]>, usize), Error> {
    match params.first() {
        None => return Ok((Params::EMPTY, None, 0)),
        Some(b',') if list => return Ok((Params::EMPTY, None, 0)),
        _ => {}
    }
    // `;tag=value` alone, as most From and To values end: no white space
    // to trim, so the raw parameters are `params` whole.
    if !list {
        if let Some(tag) = lone_tag(params) {
            return Ok((Params::from_raw(params), tag, params.len()));
        }
    }
    let mut tag = None;
    let take = |name, value| tag_param(&mut tag, name, value);
    let end = if list {
        scan_header_params_list(params, take)
    } else {
        scan_header_params(params, take).map(|()| params.len())
    }
    .ok_or(bad)?;
    let raw = charset::trim(params.get(..end).unwrap_or_default());
    Ok((Params::from_raw(raw), tag, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::uri::{Host, SipUri};

    fn sip<'a>(user: &'a [u8], host: &'a [u8]) -> Uri<'a> {
        Uri::Sip(SipUri {
            secure: false,
            user: Some(user),
            password: None,
            host: Host::Name(host),
            port: None,
            params: Params::EMPTY,
            headers: None,
            seen: 0,
        })
    }

    fn na<'a>(display: Option<&'a [u8]>, uri: Uri<'a>, uri_raw: &'a [u8]) -> NameAddr<'a> {
        NameAddr {
            display,
            uri,
            uri_raw,
            params: Params::EMPTY,
            tag: None,
        }
    }

    /// `input => expected` rows for [`NameAddr::parse`] as a To header.
    macro_rules! name_addr_table {
        ($($input:expr => $expected:expr;)*) => {{
            let rows: Vec<(&[u8], Result<NameAddr<'static>, Error>)> = vec![$(($input, $expected)),*];
            for (input, expected) in rows {
                assert_eq!(NameAddr::parse(input, "To"), expected, "{}", String::from_utf8_lossy(input));
            }
        }};
    }

    #[test]
    #[rustfmt::skip]
    fn valid_addresses() {
        let alice = || sip(b"alice", b"example.com");
        name_addr_table! {
            b"<sip:alice@example.com>" => Ok(na(None, alice(), b"sip:alice@example.com"));
            b"\"Alice A.\" <sip:alice@example.com>;tag=88sja8x" => Ok(NameAddr {
                params: Params::from_raw(b";tag=88sja8x"),
                tag: Some(b"88sja8x"),
                ..na(Some(b"Alice A."), alice(), b"sip:alice@example.com")
            });
            b"Alice  Smith<sip:alice@example.com>" => Ok(na(Some(b"Alice  Smith"), alice(), b"sip:alice@example.com"));
            b"\"\" <sip:alice@example.com>" => Ok(na(Some(b""), alice(), b"sip:alice@example.com"));
            // RFC 3261 §20: the params of a bare addr-spec are header params.
            b"sip:alice@example.com;tag=x;other" => Ok(NameAddr {
                params: Params::from_raw(b";tag=x;other"),
                tag: Some(b"x"),
                ..na(None, alice(), b"sip:alice@example.com")
            });
            // wsinv.dat To (value after the folded line), From and Contact.
            b"sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n" => Ok(NameAddr {
                params: Params::from_raw(b";   tag    = 1918181833n"),
                tag: Some(b"1918181833n"),
                ..na(None, sip(b"vivekg", b"chair-dnrc.example.com"), b"sip:vivekg@chair-dnrc.example.com")
            });
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8" => Ok(NameAddr {
                params: Params::from_raw(b";\r\n  tag = 98asjd8"),
                tag: Some(b"98asjd8"),
                ..na(Some(b"J Rosenberg \\\\\\\""), sip(b"jdrosen", b"example.com"), b"sip:jdrosen@example.com")
            });
            b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33" => Ok(NameAddr {
                params: Params::from_raw(b"; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33"),
                ..na(Some(b"Quoted string \\\"\\\""), sip(b"jdrosen", b"example.com"), b"sip:jdrosen@example.com")
            });
            // esc01.dat
            b"sip:%75se%72@example.com" => Ok(na(None, sip(b"%75se%72", b"example.com"), b"sip:%75se%72@example.com"));
            // intmeth.dat To: control bytes escaped in the display name, `;` `?` `,` in the user.
            b"\"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>" => Ok(na(
                Some(b"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"),
                sip(b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", b"example.com"),
                b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com",
            ));
            // intmeth.dat From: token display name, quoted UTF-8 parameter value.
            b"token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\xd1\x80\xd0\xb0\";tag=_token~1'+`*%!-." => Ok(NameAddr {
                params: Params::from_raw(b";fromParam''~+*_!.-%=\"\xd1\x80\xd0\xb0\";tag=_token~1'+`*%!-."),
                tag: Some(b"_token~1'+`*%!-."),
                ..na(Some(b"token1~` token2'+_ token3*%!.-"), sip(b"mundane", b"example.com"), b"sip:mundane@example.com")
            });
            // cparam02.dat: the url-parameter stays in the URI.
            b"<sip:+19725552222@gw1.example.net;unknownparam>" => Ok(na(
                None,
                Uri::Sip(SipUri { params: Params::from_raw(b";unknownparam"), ..*sip(b"+19725552222", b"gw1.example.net").as_sip().unwrap() }),
                b"sip:+19725552222@gw1.example.net;unknownparam",
            ));
            // regescrt.dat Contact: escaped headers inside the brackets.
            b"<sip:user@example.com?Route=%3Csip:sip.example.com%3E>" => Ok(na(
                None,
                Uri::Sip(SipUri { headers: Some(b"Route=%3Csip:sip.example.com%3E"), ..*sip(b"user", b"example.com").as_sip().unwrap() }),
                b"sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            ));
            // escnull.dat
            b"<sip:%00%00@host5.example.com>" => Ok(na(None, sip(b"%00%00", b"host5.example.com"), b"sip:%00%00@host5.example.com"));
            b"sip:null-%00-null@example.com;tag=839923423" => Ok(NameAddr {
                params: Params::from_raw(b";tag=839923423"),
                tag: Some(b"839923423"),
                ..na(None, sip(b"null-%00-null", b"example.com"), b"sip:null-%00-null@example.com")
            });
            b"<urn:service:sos>" => Ok(na(None, Uri::Absolute { scheme: b"urn", rest: b"service:sos" }, b"urn:service:sos"));
            b"tel:+1-212-555-0101;tag=t" => Ok(NameAddr {
                params: Params::from_raw(b";tag=t"),
                tag: Some(b"t"),
                ..na(None, Uri::Tel(crate::sip::uri::TelUri { number: b"+1-212-555-0101", global: true, params: Params::EMPTY }), b"tel:+1-212-555-0101")
            });
        }
    }

    #[test]
    #[rustfmt::skip]
    fn invalid_addresses() {
        const E: Result<NameAddr<'static>, Error> = Err(Error::Invalid("To"));
        name_addr_table! {
            b"" => E;
            b"<>" => E;
            b"<sip:a@b" => E;
            b"sip:a@b>" => E;
            // baddn.dat: non-token display names must be quoted.
            b"Watson, Thomas <sip:t.watson@example.org>" => E;
            b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43" => E;
            b"J@ne <sip:a@b>" => E;
            // badaspec.dat: spaces inside the addr-spec.
            b"\"Watson, Thomas\" < sip:t.watson@example.org >" => E;
            b"<sip:t.watson@example.org >" => E;
            b"\"unterminated <sip:a@b>" => E;
            b"\"a\"sip:a@b" => E;
            b"\"a\" x <sip:a@b>" => E;
            // A bare addr-spec may not hold `,` or `?` (RFC 3261 §20).
            b"sip:a,b@c" => E;
            b"sip:a@c?x=y" => E;
            b"sip:a;b@c;tag=1" => E;
            b"sip:a@b c" => E;
            b"sip :a@b" => E;
            b"<sip:a@b>;tag" => E;
            b"<sip:a@b>;tag=\"q\"" => E;
            b"<sip:a@b>;" => E;
            b"<sip:a@b> x" => E;
            b"<sip:a@b>, <sip:c@d>" => E;
            b"<sip:a@ b>" => E;
            b"<sip:a@b;lr >" => E;
            b"<sip:a@b:99999>" => E;
        }
    }

    #[test]
    fn route_form_and_contact() {
        let r = NameAddr::parse_name_addr(b"<sip:p1.example.com;lr>", "Route").unwrap();
        assert!(r.sip_uri().unwrap().lr());
        assert_eq!(
            NameAddr::parse_name_addr(b"sip:p1.example.com;lr", "Route"),
            Err(Error::Invalid("Route"))
        );
        assert_eq!(Contact::parse(b" * "), Ok(Contact::Star));
        assert_eq!(Contact::Star.expires(), None);
        assert_eq!(Contact::Star.q(), None);
        assert_eq!(Contact::parse(b"*;q=1"), Err(Error::Invalid("Contact")));
        // scalar02.dat: an overlarge expires param clamps.
        let c = Contact::parse(b"<sip:user@host129.example.com>\r\n  ;expires=280297596632815")
            .unwrap();
        assert_eq!(c.expires(), Some(u32::MAX));
        // wsinv.dat `m:` value.
        let c = Contact::parse(
            b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33",
        )
        .unwrap();
        assert_eq!(c.q(), Some(&b"0.33"[..]));
        assert_eq!(c.expires(), None);
        assert_eq!(
            c.addr().unwrap().param(b"newparam"),
            Some(Some(&b"newvalue"[..]))
        );
        // cparam01.dat: a bare addr-spec's params are contact params.
        let c =
            Contact::parse(b"sip:+19725552222@gw1.example.net;unknownparam;expires=60").unwrap();
        let a = c.addr().unwrap();
        assert_eq!(a.sip_uri().unwrap().params, Params::EMPTY);
        assert_eq!(a.param(b"unknownparam"), Some(None));
        assert_eq!(c.expires(), Some(60));
        let c = Contact::parse(b"<sip:a@b>;expires=soon").unwrap();
        assert_eq!(c.expires(), None);
        assert_eq!(Contact::parse(b"<sip:a@b"), Err(Error::Invalid("Contact")));
    }

    #[test]
    #[rustfmt::skip]
    fn tag_only() {
        type Row<'a> = (&'a [u8], Result<Option<&'a [u8]>, Error>);
        let rows: Vec<Row<'_>> = vec![
            (b"\"A <b>; c\" <sip:a@b;tag=no>;tag=yes", Ok(Some(b"yes"))),
            (b"Alice <sip:a@b>;x=1;TAG=t1", Ok(Some(b"t1"))),
            (b"<sip:a@b>", Ok(None)),
            (b"sip:a@b", Ok(None)),
            (b"sip:a@b ;\r\n tag = 1918181833n", Ok(Some(b"1918181833n"))),
            (b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8", Ok(Some(b"98asjd8"))),
            (b"<sip:a@b>;tag=1;tag=2", Ok(Some(b"1"))),
            (b"<sip:a@b>;tag", Err(Error::Invalid("From"))),
            (b"<sip:a@b>;tag=\"x\"", Err(Error::Invalid("From"))),
            (b"<sip:a@b;tag=x", Err(Error::Invalid("From"))),
            (b"\"open <sip:a@b>", Err(Error::Invalid("From"))),
            (b"<sip:a@b> junk", Err(Error::Invalid("From"))),
        ];
        for (input, expected) in rows {
            assert_eq!(NameAddr::parse_tag(input, "From"), expected, "{}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn first_of_a_list() {
        let line: &[u8] = b"<sip:p1.example.com;lr>;x=\"a,b\" ,<sip:p2.example.com;lr>";
        let (a, end) = NameAddr::parse_first_name_addr(line, "Route").unwrap();
        assert_eq!(a.uri_raw, b"sip:p1.example.com;lr");
        assert_eq!(a.params.raw(), b";x=\"a,b\"");
        assert_eq!(end, 32);
        assert_eq!(line.get(end), Some(&b','));
        let (b, end) = NameAddr::parse_first_name_addr(&line[33..], "Route").unwrap();
        assert_eq!((b.uri_raw, end), (&b"sip:p2.example.com;lr"[..], 23));
        assert_eq!(
            NameAddr::parse_first_name_addr(b"sip:p1;lr, <sip:p2>", "Route"),
            Err(Error::Invalid("Route"))
        );
    }

    /// Values to check the one-pass reader against the general one: the
    /// name-addr header values of the RFC 4475 fixtures and the benchmark
    /// messages, and each of them with every byte replaced, in turn, by a
    /// few that matter to the grammar.
    fn addresses() -> Vec<Vec<u8>> {
        let mut values: Vec<Vec<u8>> = vec![
            b"<sip:p.example.com;lr>".to_vec(),
            b"<sip:192.0.2.1:5060;lr;transport=udp>, <sip:b.example;lr>".to_vec(),
            b"<SIP:[2001:db8::1]:5070;lr>;x=y".to_vec(),
            b"<sip:p.example.com;lr>;tag=a;tag=b".to_vec(),
            b"\"Bob \\\"B\\\" Example\" <sip:bob+1@b.example:5062;transport=tcp>;tag=9".to_vec(),
            b"\"\" <sip:+15551234567;npdi@carrier.example;user=phone>".to_vec(),
            b"<sip:u:pw@h.example>;tag=x, \"Q\" <sip:v@[::1]>".to_vec(),
        ];
        let names: [&[u8]; 8] = [
            b"route",
            b"record-route",
            b"contact",
            b"from",
            b"to",
            b"f",
            b"t",
            b"m",
        ];
        for text in crate::sip::test_messages() {
            for line in text.split(|&b| b == b'\n') {
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    continue;
                };
                if names.contains(&line[..colon].to_ascii_lowercase().trim_ascii()) {
                    values.push(line[colon + 1..].trim_ascii().to_vec());
                }
            }
        }
        crate::sip::with_mutations(values, usize::MAX, 1, b" <>@%;=,:?\"A1")
    }

    #[test]
    fn plain_addresses_agree_with_the_general_parser() {
        let bad = Error::Invalid("Route");
        let mut fast = 0;
        for v in addresses() {
            for (brackets_only, list) in
                [(true, true), (true, false), (false, false), (false, true)]
            {
                let mode = Mode {
                    brackets_only,
                    list,
                };
                for users in [false, true] {
                    if let Some(found) = plain_sip(&v, bad, list, users) {
                        fast += 1;
                        let text = String::from_utf8_lossy(&v);
                        assert_eq!(parse_general(&v, bad, mode), Ok(found), "{text} {list}");
                    }
                }
            }
        }
        assert!(fast > 1000, "the one-pass reader took {fast} values");
    }

    #[test]
    fn lone_tags_agree_with_the_parameter_scan() {
        let mut fast = 0;
        let mut seeds: Vec<Vec<u8>> = vec![b";tag=1928301774".to_vec(), b";TaG=a.b-c!".to_vec()];
        for v in addresses() {
            if let Some(close) = v.iter().position(|&b| b == b'>') {
                seeds.push(v[close + 1..].to_vec());
            }
        }
        for p in crate::sip::with_mutations(seeds, usize::MAX, 1, b" \t;=\"t,") {
            if let Some(found) = lone_tag(&p) {
                fast += 1;
                let mut tag = None;
                let scanned = scan_header_params(&p, |n, v| tag_param(&mut tag, n, v));
                assert_eq!(scanned.map(|()| tag), Some(found), "{p:?}");
                // `header_params` keeps such a list whole as the raw text.
                assert_eq!(charset::trim(&p), &p[..], "{p:?}");
            }
        }
        assert!(
            fast > 100,
            "the one-pass reader took {fast} parameter lists"
        );
    }
}
