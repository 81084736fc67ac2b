//! Header field names: [`HeaderName`], with the compact forms of RFC 3261
//! §7.3.3 and later RFCs, and the dense slots by which [`Headers`]
//! indexes the known ones. No I/O.
//!
//! [`Headers`]: super::Headers

/// A header field name, with the compact forms of RFC 3261 §7.3.3 (and
/// later RFCs) folded onto their long names. Unknown names are kept raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderName<'a> {
    /// Via / v
    Via,
    /// From / f
    From,
    /// To / t
    To,
    /// Call-ID / i
    CallId,
    /// CSeq
    CSeq,
    /// Max-Forwards
    MaxForwards,
    /// Route
    Route,
    /// Record-Route
    RecordRoute,
    /// Contact / m
    Contact,
    /// Content-Length / l
    ContentLength,
    /// Content-Type / c
    ContentType,
    /// Content-Encoding / e
    ContentEncoding,
    /// Require
    Require,
    /// Proxy-Require
    ProxyRequire,
    /// Supported / k
    Supported,
    /// Unsupported
    Unsupported,
    /// Allow
    Allow,
    /// Authorization
    Authorization,
    /// Proxy-Authorization
    ProxyAuthorization,
    /// WWW-Authenticate
    WwwAuthenticate,
    /// Proxy-Authenticate
    ProxyAuthenticate,
    /// Expires
    Expires,
    /// User-Agent
    UserAgent,
    /// Server
    Server,
    /// Subject / s
    Subject,
    /// Event / o (RFC 6665)
    Event,
    /// Refer-To / r (RFC 3515)
    ReferTo,
    /// Referred-By / b (RFC 3892)
    ReferredBy,
    /// Session-Expires / x (RFC 4028)
    SessionExpires,
    /// Accept-Contact / a (RFC 3841)
    AcceptContact,
    /// Reject-Contact / j (RFC 3841)
    RejectContact,
    /// Request-Disposition / d (RFC 3841)
    RequestDisposition,
    /// Identity / y (RFC 8224)
    Identity,
    /// Allow-Events / u (RFC 6665)
    AllowEvents,
    /// Any other header, name as received.
    Other(&'a [u8]),
}

impl<'a> HeaderName<'a> {
    /// Interprets a header name case-insensitively, compact forms included.
    pub fn from_bytes(name: &'a [u8]) -> HeaderName<'a> {
        if name.len() == 1 {
            return match name[0].to_ascii_lowercase() {
                b'v' => HeaderName::Via,
                b'f' => HeaderName::From,
                b't' => HeaderName::To,
                b'i' => HeaderName::CallId,
                b'm' => HeaderName::Contact,
                b'l' => HeaderName::ContentLength,
                b'c' => HeaderName::ContentType,
                b'e' => HeaderName::ContentEncoding,
                b'k' => HeaderName::Supported,
                b's' => HeaderName::Subject,
                b'o' => HeaderName::Event,
                b'r' => HeaderName::ReferTo,
                b'b' => HeaderName::ReferredBy,
                b'x' => HeaderName::SessionExpires,
                b'a' => HeaderName::AcceptContact,
                b'j' => HeaderName::RejectContact,
                b'd' => HeaderName::RequestDisposition,
                b'y' => HeaderName::Identity,
                b'u' => HeaderName::AllowEvents,
                _ => HeaderName::Other(name),
            };
        }
        // Most senders write canonical names: an exact compare finds them
        // cheaply; only other spellings pay for the case-insensitive pass.
        Self::known(name, |a, b| a == b)
            .or_else(|| Self::known(name, |a, b| a.eq_ignore_ascii_case(b)))
            .unwrap_or(HeaderName::Other(name))
    }

    /// The known long name equal to `name` under `eq`, dispatching on the
    /// length first so each name costs at most a few compares.
    #[inline(always)]
    fn known(name: &[u8], eq: impl Fn(&[u8], &[u8]) -> bool) -> Option<HeaderName<'static>> {
        Some(match name.len() {
            2 if eq(name, b"To") => HeaderName::To,
            3 if eq(name, b"Via") => HeaderName::Via,
            4 if eq(name, b"From") => HeaderName::From,
            4 if eq(name, b"CSeq") => HeaderName::CSeq,
            5 if eq(name, b"Allow") => HeaderName::Allow,
            5 if eq(name, b"Route") => HeaderName::Route,
            5 if eq(name, b"Event") => HeaderName::Event,
            6 if eq(name, b"Server") => HeaderName::Server,
            7 if eq(name, b"Call-ID") => HeaderName::CallId,
            7 if eq(name, b"Contact") => HeaderName::Contact,
            7 if eq(name, b"Require") => HeaderName::Require,
            7 if eq(name, b"Expires") => HeaderName::Expires,
            7 if eq(name, b"Subject") => HeaderName::Subject,
            8 if eq(name, b"Refer-To") => HeaderName::ReferTo,
            8 if eq(name, b"Identity") => HeaderName::Identity,
            9 if eq(name, b"Supported") => HeaderName::Supported,
            10 if eq(name, b"User-Agent") => HeaderName::UserAgent,
            11 if eq(name, b"Unsupported") => HeaderName::Unsupported,
            11 if eq(name, b"Referred-By") => HeaderName::ReferredBy,
            12 if eq(name, b"Max-Forwards") => HeaderName::MaxForwards,
            12 if eq(name, b"Record-Route") => HeaderName::RecordRoute,
            12 if eq(name, b"Content-Type") => HeaderName::ContentType,
            12 if eq(name, b"Allow-Events") => HeaderName::AllowEvents,
            13 if eq(name, b"Proxy-Require") => HeaderName::ProxyRequire,
            13 if eq(name, b"Authorization") => HeaderName::Authorization,
            14 if eq(name, b"Content-Length") => HeaderName::ContentLength,
            14 if eq(name, b"Reject-Contact") => HeaderName::RejectContact,
            14 if eq(name, b"Accept-Contact") => HeaderName::AcceptContact,
            15 if eq(name, b"Session-Expires") => HeaderName::SessionExpires,
            16 if eq(name, b"WWW-Authenticate") => HeaderName::WwwAuthenticate,
            16 if eq(name, b"Content-Encoding") => HeaderName::ContentEncoding,
            18 if eq(name, b"Proxy-Authenticate") => HeaderName::ProxyAuthenticate,
            19 if eq(name, b"Proxy-Authorization") => HeaderName::ProxyAuthorization,
            19 if eq(name, b"Request-Disposition") => HeaderName::RequestDisposition,
            _ => return None,
        })
    }

    /// The canonical long name (the name as received for `Other`).
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            HeaderName::Other(s) => s,
            known => known.static_bytes(),
        }
    }

    /// The canonical name as a `&'static str` for error messages (`"Header"`
    /// for unknown names).
    pub fn as_static(&self) -> &'static str {
        match self {
            HeaderName::Other(_) => "Header",
            // Every known name is ASCII, so this cannot fail.
            known => core::str::from_utf8(known.static_bytes()).unwrap_or("Header"),
        }
    }

    /// A dense index of the known names (`None` for `Other`), for the
    /// per-message header index in [`Headers`](super::Headers).
    #[inline]
    pub(super) const fn slot(&self) -> Option<usize> {
        Some(match self {
            HeaderName::Other(_) => return None,
            HeaderName::Via => 0,
            HeaderName::From => 1,
            HeaderName::To => 2,
            HeaderName::CallId => 3,
            HeaderName::CSeq => 4,
            HeaderName::MaxForwards => 5,
            HeaderName::Route => 6,
            HeaderName::RecordRoute => 7,
            HeaderName::Contact => 8,
            HeaderName::ContentLength => 9,
            HeaderName::ContentType => 10,
            HeaderName::ContentEncoding => 11,
            HeaderName::Require => 12,
            HeaderName::ProxyRequire => 13,
            HeaderName::Supported => 14,
            HeaderName::Unsupported => 15,
            HeaderName::Allow => 16,
            HeaderName::Authorization => 17,
            HeaderName::ProxyAuthorization => 18,
            HeaderName::WwwAuthenticate => 19,
            HeaderName::ProxyAuthenticate => 20,
            HeaderName::Expires => 21,
            HeaderName::UserAgent => 22,
            HeaderName::Server => 23,
            HeaderName::Subject => 24,
            HeaderName::Event => 25,
            HeaderName::ReferTo => 26,
            HeaderName::ReferredBy => 27,
            HeaderName::SessionExpires => 28,
            HeaderName::AcceptContact => 29,
            HeaderName::RejectContact => 30,
            HeaderName::RequestDisposition => 31,
            HeaderName::Identity => 32,
            HeaderName::AllowEvents => 33,
        })
    }

    /// [`HeaderName::slot`] as stored in a [`Line`](super::Line).
    #[inline]
    pub(crate) const fn slot_u8(&self) -> u8 {
        match self.slot() {
            Some(s) => s as u8,
            None => OTHER,
        }
    }

    fn static_bytes(&self) -> &'static [u8] {
        match self {
            HeaderName::Other(_) => b"Header",
            HeaderName::Via => b"Via",
            HeaderName::From => b"From",
            HeaderName::To => b"To",
            HeaderName::CallId => b"Call-ID",
            HeaderName::CSeq => b"CSeq",
            HeaderName::MaxForwards => b"Max-Forwards",
            HeaderName::Route => b"Route",
            HeaderName::RecordRoute => b"Record-Route",
            HeaderName::Contact => b"Contact",
            HeaderName::ContentLength => b"Content-Length",
            HeaderName::ContentType => b"Content-Type",
            HeaderName::ContentEncoding => b"Content-Encoding",
            HeaderName::Require => b"Require",
            HeaderName::ProxyRequire => b"Proxy-Require",
            HeaderName::Supported => b"Supported",
            HeaderName::Unsupported => b"Unsupported",
            HeaderName::Allow => b"Allow",
            HeaderName::Authorization => b"Authorization",
            HeaderName::ProxyAuthorization => b"Proxy-Authorization",
            HeaderName::WwwAuthenticate => b"WWW-Authenticate",
            HeaderName::ProxyAuthenticate => b"Proxy-Authenticate",
            HeaderName::Expires => b"Expires",
            HeaderName::UserAgent => b"User-Agent",
            HeaderName::Server => b"Server",
            HeaderName::Subject => b"Subject",
            HeaderName::Event => b"Event",
            HeaderName::ReferTo => b"Refer-To",
            HeaderName::ReferredBy => b"Referred-By",
            HeaderName::SessionExpires => b"Session-Expires",
            HeaderName::AcceptContact => b"Accept-Contact",
            HeaderName::RejectContact => b"Reject-Contact",
            HeaderName::RequestDisposition => b"Request-Disposition",
            HeaderName::Identity => b"Identity",
            HeaderName::AllowEvents => b"Allow-Events",
        }
    }

    /// True for headers whose values may be comma-separated lists on one line
    /// (RFC 3261 §7.3.1). Headers like Authorization or Date contain commas
    /// that do not separate values.
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Contact
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::AcceptContact
                | HeaderName::RejectContact
                | HeaderName::RequestDisposition
                | HeaderName::ContentEncoding
        )
    }
}

/// The number of known [`HeaderName`]s (all but `Other`).
pub(super) const KNOWN_NAMES: usize = 34;

/// The known names by [`HeaderName::slot`].
pub(super) const KNOWN: [HeaderName<'static>; KNOWN_NAMES] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::Contact,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::ContentEncoding,
    HeaderName::Require,
    HeaderName::ProxyRequire,
    HeaderName::Supported,
    HeaderName::Unsupported,
    HeaderName::Allow,
    HeaderName::Authorization,
    HeaderName::ProxyAuthorization,
    HeaderName::WwwAuthenticate,
    HeaderName::ProxyAuthenticate,
    HeaderName::Expires,
    HeaderName::UserAgent,
    HeaderName::Server,
    HeaderName::Subject,
    HeaderName::Event,
    HeaderName::ReferTo,
    HeaderName::ReferredBy,
    HeaderName::SessionExpires,
    HeaderName::AcceptContact,
    HeaderName::RejectContact,
    HeaderName::RequestDisposition,
    HeaderName::Identity,
    HeaderName::AllowEvents,
];

/// [`Line::slot`](super::Line::slot) of an unknown name.
pub(crate) const OTHER: u8 = u8::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"VIA"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(
            HeaderName::from_bytes(b"X-Foo"),
            HeaderName::Other(b"X-Foo")
        );
        assert_eq!(HeaderName::CallId.as_static(), "Call-ID");
    }
}
