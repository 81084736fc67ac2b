//! Authorization / Proxy-Authorization credentials and WWW-/Proxy-
//! Authenticate challenges (RFC 3261 §20.7, §20.27, §20.28, §20.44,
//! §25.1; RFC 2617 / RFC 8760 Digest) as zero-copy views. No I/O.
//!
//! The view is `scheme` plus the raw parameter text. Digest parameters are
//! validated when parsing (`auth-param *(COMMA auth-param)`, quoted-strings
//! with `\` escapes and commas inside quotes); other schemes are kept
//! opaque (RFC 4475 §3.3.7, regaut01.dat). Values are returned without
//! their quotes and with escapes kept raw.

use super::{
    charset,
    values::{quoted_len, skip_lws, span},
    Error,
};

/// Credentials of an Authorization or Proxy-Authorization header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// The auth scheme as written (`Digest`, or any other token).
    pub scheme: &'a [u8],
    /// The parameter text after the scheme, LWS trimmed.
    pub params: &'a [u8],
}

/// A challenge of a WWW-Authenticate or Proxy-Authenticate header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The auth scheme as written.
    pub scheme: &'a [u8],
    /// The parameter text after the scheme, LWS trimmed.
    pub params: &'a [u8],
}

/// Iterator over `name=value` auth-params: `(name, value)` with the value's
/// quotes removed (escapes kept raw) and an empty value for a bare name.
/// Stops at the first piece it cannot read (only possible for non-Digest
/// schemes, whose text was not validated).
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    rest: &'a [u8],
}

/// What credentials and challenges have in common: `scheme params`, parsed
/// and read the same way.
macro_rules! auth_value {
    ($ty:ident, $header:literal, [$($(#[$doc:meta])* $name:ident),* $(,)?]) => {
        impl<'a> $ty<'a> {
            #[doc = concat!("Parses a ", $header, " value; faults are `Error::Invalid(\"", $header, "\")`.")]
            pub fn parse(value: &'a [u8]) -> Result<$ty<'a>, Error> {
                $ty::parse_as(value, $header)
            }

            /// Parses the value, naming `header` in the error (e.g. the
            /// `Proxy-` variant of the header).
            pub fn parse_as(value: &'a [u8], header: &'static str) -> Result<$ty<'a>, Error> {
                let (scheme, params) = split(value).ok_or(Error::Invalid(header))?;
                Ok($ty { scheme, params })
            }

            /// True for the Digest scheme (case-insensitive).
            pub fn is_digest(&self) -> bool {
                self.scheme.eq_ignore_ascii_case(b"Digest")
            }

            /// The parameters in order.
            pub fn iter(&self) -> AuthParams<'a> {
                AuthParams { rest: self.params }
            }

            /// A parameter's value by name (case-insensitive), quotes removed.
            pub fn param(&self, name: &[u8]) -> Option<&'a [u8]> {
                find(self.params, name)
            }

            $(
                $(#[$doc])*
                pub fn $name(&self) -> Option<&'a [u8]> {
                    self.param(stringify!($name).as_bytes())
                }
            )*
        }
    };
}

auth_value!(
    Credentials,
    "Authorization",
    [
        /// `username`.
        username,
        /// `realm`.
        realm,
        /// `nonce`.
        nonce,
        /// `uri` (the digest-uri).
        uri,
        /// `response`.
        response,
        /// `algorithm`.
        algorithm,
        /// `cnonce`.
        cnonce,
        /// `nc` (nonce-count).
        nc,
        /// `qop`.
        qop,
        /// `opaque`.
        opaque,
    ]
);

auth_value!(
    Challenge,
    "WWW-Authenticate",
    [
        /// `realm`.
        realm,
        /// `nonce`.
        nonce,
        /// `opaque`.
        opaque,
        /// `algorithm`.
        algorithm,
        /// `qop` (the qop-options list, e.g. `auth,auth-int`).
        qop,
        /// `domain`.
        domain,
        /// `stale`.
        stale,
    ]
);

impl<'a> Iterator for AuthParams<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let s = self.rest;
        let i = span(s, 0, |b| b == b',' || charset::lws(b));
        match next_param(s, i) {
            Some(RawParam(name, value, next)) => {
                self.rest = s.get(next..).unwrap_or_default();
                Some((name, value.unwrap_or_default()))
            }
            None => {
                self.rest = &[];
                None
            }
        }
    }
}

/// `scheme [LWS params]`; Digest params are validated.
fn split(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = charset::trim(value);
    let end = span(s, 0, charset::token);
    let (scheme, rest) = s.split_at(end.min(s.len()));
    if scheme.is_empty() || rest.first().is_some_and(|&b| !charset::lws(b)) {
        return None;
    }
    let params = charset::trim(rest);
    if scheme.eq_ignore_ascii_case(b"Digest") && !digest_params_valid(params) {
        return None;
    }
    Some((scheme, params))
}

/// `auth-param *(COMMA auth-param)`, COMMA with LWS around it.
fn digest_params_valid(s: &[u8]) -> bool {
    let mut i = 0;
    loop {
        match next_param(s, i) {
            Some(RawParam(_, Some(_), next)) => {
                let j = skip_lws(s, next);
                match s.get(j) {
                    None => return true,
                    Some(b',') => i = skip_lws(s, j + 1),
                    Some(_) => return false,
                }
            }
            _ => return false,
        }
    }
}

/// Reads `token SWS "=" SWS (token / quoted-string)` at `i`: returns the
/// name, the value (unquoted; `None` for a bare name) and the index after.
fn next_param(s: &[u8], i: usize) -> Option<RawParam<'_>> {
    let n_end = span(s, i, charset::token);
    let name = s.get(i..n_end).filter(|n| !n.is_empty())?;
    let eq = skip_lws(s, n_end);
    if s.get(eq) != Some(&b'=') {
        return Some(RawParam(name, None, n_end));
    }
    let v = skip_lws(s, eq + 1);
    if s.get(v) == Some(&b'"') {
        let q = quoted_len(s.get(v..)?)?;
        let value = s.get(v + 1..v + q - 1)?;
        Some(RawParam(name, Some(value), v + q))
    } else {
        let v_end = span(s, v, |b| b != b',' && b != b'"' && !charset::lws(b));
        let value = s.get(v..v_end).filter(|v| !v.is_empty())?;
        Some(RawParam(name, Some(value), v_end))
    }
}

/// One auth-param as read: name, value (`None` for a bare name), index after.
struct RawParam<'a>(&'a [u8], Option<&'a [u8]>, usize);

fn find<'a>(params: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    AuthParams { rest: params }
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[rustfmt::skip]
    fn parse_table() {
        let rows: Vec<(&[u8], Result<Credentials<'_>, Error>)> = vec![
            (b"Digest username=\"bob\", realm=\"biloxi.com\"",
                Ok(Credentials { scheme: b"Digest", params: b"username=\"bob\", realm=\"biloxi.com\"" })),
            // regaut01.dat: unknown schemes are opaque.
            (b"NoOneKnowsThisScheme opaque-data=here",
                Ok(Credentials { scheme: b"NoOneKnowsThisScheme", params: b"opaque-data=here" })),
            (b"Basic dXNlcjpwYXNz==", Ok(Credentials { scheme: b"Basic", params: b"dXNlcjpwYXNz==" })),
            (b" Digest ", Err(Error::Invalid("Authorization"))),
            (b"Digest realm", Err(Error::Invalid("Authorization"))),
            (b"Other ", Ok(Credentials { scheme: b"Other", params: b"" })),
            (b"Digest\r\n nonce=abc ,\r\n opaque = \"\"", Ok(Credentials { scheme: b"Digest", params: b"nonce=abc ,\r\n opaque = \"\"" })),
            (b"", Err(Error::Invalid("Authorization"))),
            (b"=x", Err(Error::Invalid("Authorization"))),
            (b"Digest,realm=x", Err(Error::Invalid("Authorization"))),
            (b"Digest realm=\"x", Err(Error::Invalid("Authorization"))),
            (b"Digest realm=x nonce=y", Err(Error::Invalid("Authorization"))),
            (b"Digest realm=x,", Err(Error::Invalid("Authorization"))),
            (b"Digest realm=", Err(Error::Invalid("Authorization"))),
            (b"Digest realm=\"x\"y", Err(Error::Invalid("Authorization"))),
            (b"digest ,", Err(Error::Invalid("Authorization"))),
        ];
        for (input, expected) in rows {
            assert_eq!(Credentials::parse(input), expected, "{}", String::from_utf8_lossy(input));
        }
        assert_eq!(Credentials::parse_as(b"", "Proxy-Authorization"), Err(Error::Invalid("Proxy-Authorization")));
    }

    #[test]
    fn digest_fields() {
        let c = Credentials::parse(
            b"Digest username=\"bob\",\r\n realm=\"biloxi.com\", nonce=\"dcd98b,7102dd2f0e8b11d0f600bfb0c093\",\
              uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\",\
              response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\",\
              ALGORITHM=MD5, extra=\"a\\\"b\"",
        )
        .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.username(), Some(&b"bob"[..]));
        assert_eq!(c.realm(), Some(&b"biloxi.com"[..]));
        assert_eq!(c.nonce(), Some(&b"dcd98b,7102dd2f0e8b11d0f600bfb0c093"[..]));
        assert_eq!(c.uri(), Some(&b"sip:bob@biloxi.com"[..]));
        assert_eq!(c.qop(), Some(&b"auth"[..]));
        assert_eq!(c.nc(), Some(&b"00000001"[..]));
        assert_eq!(c.cnonce(), Some(&b"0a4f113b"[..]));
        assert_eq!(c.response(), Some(&b"6629fae49393a05397450978507c4ef1"[..]));
        assert_eq!(c.opaque(), Some(&b"5ccc069c403ebaf9f0171e9517f40e41"[..]));
        assert_eq!(c.algorithm(), Some(&b"MD5"[..]));
        assert_eq!(c.param(b"EXTRA"), Some(&b"a\\\"b"[..]));
        assert_eq!(c.param(b"missing"), None);
        assert_eq!(c.iter().count(), 11);

        let c = Credentials::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.param(b"opaque-data"), Some(&b"here"[..]));
        let pairs: Vec<(&[u8], &[u8])> = Credentials::parse(b"Weird a, b=\"c\" junk \"x")
            .unwrap()
            .iter()
            .collect();
        assert_eq!(
            pairs,
            vec![(&b"a"[..], &b""[..]), (b"b", b"c"), (b"junk", b"")]
        );
    }

    #[test]
    fn challenges() {
        let ch = Challenge::parse(
            b"Digest realm=\"atlanta.com\", domain=\"sip:ss1.carrier.com\", qop=\"auth,auth-int\",\
              nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=FALSE, algorithm=MD5",
        )
        .unwrap();
        assert!(ch.is_digest());
        assert_eq!(ch.realm(), Some(&b"atlanta.com"[..]));
        assert_eq!(ch.domain(), Some(&b"sip:ss1.carrier.com"[..]));
        assert_eq!(ch.qop(), Some(&b"auth,auth-int"[..]));
        assert_eq!(ch.nonce(), Some(&b"f84f1cec41e6cbe5aea9c8e88d359"[..]));
        assert_eq!(ch.opaque(), Some(&b""[..]));
        assert_eq!(ch.stale(), Some(&b"FALSE"[..]));
        assert_eq!(ch.algorithm(), Some(&b"MD5"[..]));
        assert_eq!(ch.iter().count(), 7);
        assert_eq!(
            Challenge::parse(b"Digest realm"),
            Err(Error::Invalid("WWW-Authenticate"))
        );
        assert_eq!(
            Challenge::parse(b"Basic realm=x"),
            Ok(Challenge {
                scheme: b"Basic",
                params: b"realm=x"
            })
        );
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x"),
            Err(Error::Invalid("WWW-Authenticate"))
        );
        assert_eq!(
            Challenge::parse_as(b"", "Proxy-Authenticate"),
            Err(Error::Invalid("Proxy-Authenticate"))
        );
    }
}
