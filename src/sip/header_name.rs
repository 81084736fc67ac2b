//! Header field names: [`HeaderName`], and the one table that declares
//! every known name with its canonical spelling, its compact form (RFC 3261
//! §7.3.3 and later RFCs) and whether its values form a list. The enum, the
//! dense slots by which [`Headers`] indexes the known names, and the
//! lookups by long name, by compact form and by slot are all generated from
//! that table, so a name cannot be added to one of them and missed in
//! another. No I/O.
//!
//! The parser's hand-tuned recognition of canonical spellings
//! (`parse::canonical_name`) takes its names and slots from here too; a
//! test there checks its dispatch against the table.
//!
//! [`Headers`]: super::Headers

/// Declares [`HeaderName`] from the table below and generates everything
/// that lists the known names. A row is a variant's doc, then
/// `Variant = "Canonical-Name", compact form, list;` where the compact form
/// is `Some(b'x')` or `None` and `list` is [`HeaderName::is_list`]. A
/// name's slot is its row's position.
macro_rules! header_names {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal, $compact:expr, $list:literal;
    )*) => {
        /// A header field name, with the compact forms of RFC 3261 §7.3.3
        /// (and later RFCs) folded onto their long names. Unknown names are
        /// kept raw.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum HeaderName<'a> {
            $($(#[$doc])* $variant,)*
            /// Any other header, name as received.
            Other(&'a [u8]),
        }

        /// The known names in table order: a name's slot is its position.
        #[repr(u8)]
        enum Slot {
            $($variant,)*
        }

        /// The known names by [`HeaderName::slot`].
        pub(super) const KNOWN: [HeaderName<'static>; KNOWN_NAMES] = [$(HeaderName::$variant,)*];

        /// The number of known [`HeaderName`]s (all but `Other`).
        pub(super) const KNOWN_NAMES: usize = [$(stringify!($variant),)*].len();

        /// The compact forms (lower case) by [`HeaderName::slot`].
        pub(super) const COMPACT: [Option<u8>; KNOWN_NAMES] = [$($compact,)*];

        /// Each known name's length, for the length dispatch of
        /// [`HeaderName::known`] (constants, so they can be patterns).
        #[allow(non_upper_case_globals)]
        mod len {
            $(pub(super) const $variant: usize = $name.len();)*
        }

        impl HeaderName<'_> {
            /// A dense index of the known names (`None` for `Other`), for
            /// the per-message header index in [`Headers`](super::Headers).
            #[inline]
            pub(super) const fn slot(&self) -> Option<usize> {
                match self {
                    $(HeaderName::$variant => Some(Slot::$variant as usize),)*
                    HeaderName::Other(_) => None,
                }
            }

            /// The canonical name as a `&'static str` for error messages
            /// (`"Header"` for unknown names).
            pub const fn as_static(&self) -> &'static str {
                match self {
                    $(HeaderName::$variant => $name,)*
                    HeaderName::Other(_) => "Header",
                }
            }

            /// True for headers whose values may be comma-separated lists
            /// on one line (RFC 3261 §7.3.1). Headers like Authorization or
            /// Date contain commas that do not separate values.
            pub fn is_list(&self) -> bool {
                // One bit a slot: a shift, where a match over the variants
                // cost the proxy's 200 OK relay eight instructions more.
                const LIST: u64 = 0 $(| (($list as u64) << Slot::$variant as u64))*;
                match self.slot() {
                    Some(slot) => LIST >> slot & 1 != 0,
                    None => false,
                }
            }

            /// The known long name equal to `name` under `eq`, dispatching
            /// on the length first so each name costs at most a few
            /// compares.
            #[inline(always)]
            fn known(name: &[u8], eq: impl Fn(&[u8], &[u8]) -> bool) -> Option<HeaderName<'static>> {
                Some(match name.len() {
                    $(len::$variant if eq(name, $name.as_bytes()) => HeaderName::$variant,)*
                    _ => return None,
                })
            }
        }
    };
}

header_names! {
    /// Via / v
    Via = "Via", Some(b'v'), true;
    /// From / f
    From = "From", Some(b'f'), false;
    /// To / t
    To = "To", Some(b't'), false;
    /// Call-ID / i
    CallId = "Call-ID", Some(b'i'), false;
    /// CSeq
    CSeq = "CSeq", None, false;
    /// Max-Forwards
    MaxForwards = "Max-Forwards", None, false;
    /// Route
    Route = "Route", None, true;
    /// Record-Route
    RecordRoute = "Record-Route", None, true;
    /// Contact / m
    Contact = "Contact", Some(b'm'), true;
    /// Content-Length / l
    ContentLength = "Content-Length", Some(b'l'), false;
    /// Content-Type / c
    ContentType = "Content-Type", Some(b'c'), false;
    /// Content-Encoding / e
    ContentEncoding = "Content-Encoding", Some(b'e'), true;
    /// Require
    Require = "Require", None, true;
    /// Proxy-Require
    ProxyRequire = "Proxy-Require", None, true;
    /// Supported / k
    Supported = "Supported", Some(b'k'), true;
    /// Unsupported
    Unsupported = "Unsupported", None, true;
    /// Allow
    Allow = "Allow", None, true;
    /// Authorization
    Authorization = "Authorization", None, false;
    /// Proxy-Authorization
    ProxyAuthorization = "Proxy-Authorization", None, false;
    /// WWW-Authenticate
    WwwAuthenticate = "WWW-Authenticate", None, false;
    /// Proxy-Authenticate
    ProxyAuthenticate = "Proxy-Authenticate", None, false;
    /// Expires
    Expires = "Expires", None, false;
    /// User-Agent
    UserAgent = "User-Agent", None, false;
    /// Server
    Server = "Server", None, false;
    /// Subject / s
    Subject = "Subject", Some(b's'), false;
    /// Event / o (RFC 6665)
    Event = "Event", Some(b'o'), false;
    /// Refer-To / r (RFC 3515)
    ReferTo = "Refer-To", Some(b'r'), false;
    /// Referred-By / b (RFC 3892)
    ReferredBy = "Referred-By", Some(b'b'), false;
    /// Session-Expires / x (RFC 4028)
    SessionExpires = "Session-Expires", Some(b'x'), false;
    /// Accept-Contact / a (RFC 3841)
    AcceptContact = "Accept-Contact", Some(b'a'), true;
    /// Reject-Contact / j (RFC 3841)
    RejectContact = "Reject-Contact", Some(b'j'), true;
    /// Request-Disposition / d (RFC 3841)
    RequestDisposition = "Request-Disposition", Some(b'd'), true;
    /// Identity / y (RFC 8224)
    Identity = "Identity", Some(b'y'), false;
    /// Allow-Events / u (RFC 6665)
    AllowEvents = "Allow-Events", Some(b'u'), true;
}

/// [`Line::slot`](super::Line::slot) of an unknown name.
pub(crate) const OTHER: u8 = u8::MAX;

const _: () = assert!(
    KNOWN_NAMES < 64,
    "a slot fits a u8 below OTHER, and a bit of a u64"
);

/// The slot of the name each compact form stands for, by byte (both cases),
/// [`OTHER`] for bytes that are no compact form.
const BY_COMPACT: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut slot = 0;
    while slot < KNOWN_NAMES {
        if let Some(c) = COMPACT[slot] {
            let (lower, upper) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
            assert!(t[lower as usize] == OTHER, "two names share a compact form");
            t[lower as usize] = slot as u8;
            t[upper as usize] = slot as u8;
        }
        slot += 1;
    }
    t
};

impl<'a> HeaderName<'a> {
    /// Interprets a header name case-insensitively, compact forms included.
    pub fn from_bytes(name: &'a [u8]) -> HeaderName<'a> {
        if let [c] = name {
            return match KNOWN.get(usize::from(BY_COMPACT[usize::from(*c)])) {
                Some(&known) => known,
                None => HeaderName::Other(name),
            };
        }
        // Most senders write canonical names: an exact compare finds them
        // cheaply; only other spellings pay for the case-insensitive pass.
        Self::known(name, |a, b| a == b)
            .or_else(|| Self::known(name, |a, b| a.eq_ignore_ascii_case(b)))
            .unwrap_or(HeaderName::Other(name))
    }

    /// The canonical long name (the name as received for `Other`).
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            HeaderName::Other(s) => s,
            known => known.static_bytes(),
        }
    }

    /// [`HeaderName::slot`] as stored in a [`Line`](super::Line).
    #[inline]
    pub(crate) const fn slot_u8(&self) -> u8 {
        match self.slot() {
            Some(s) => s as u8,
            None => OTHER,
        }
    }

    /// The canonical name's bytes (`Header` for unknown names).
    pub(crate) const fn static_bytes(&self) -> &'static [u8] {
        self.as_static().as_bytes()
    }
}

#[cfg(test)]
/// The spellings of a name every lookup must know: as in the table,
/// lower case, upper case and alternating case.
pub(super) fn spellings(name: &str) -> Vec<Vec<u8>> {
    let alternating = name
        .bytes()
        .enumerate()
        .map(|(i, b)| match i % 2 {
            0 => b.to_ascii_lowercase(),
            _ => b.to_ascii_uppercase(),
        })
        .collect();
    vec![
        name.as_bytes().to_vec(),
        name.to_ascii_lowercase().into_bytes(),
        name.to_ascii_uppercase().into_bytes(),
        alternating,
    ]
}

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

    #[test]
    fn every_lookup_agrees_with_the_table() {
        for (slot, known) in KNOWN.into_iter().enumerate() {
            let name = known.as_static();
            assert_eq!(known.slot(), Some(slot), "{name}");
            assert_eq!(usize::from(known.slot_u8()), slot, "{name}");
            assert_eq!(known.as_bytes(), name.as_bytes());
            assert_eq!(known.static_bytes(), name.as_bytes());
            for s in spellings(name) {
                assert_eq!(HeaderName::from_bytes(&s), known, "{s:?}");
                let longer = [&s[..], b"x"].concat();
                assert!(
                    matches!(HeaderName::from_bytes(&longer), HeaderName::Other(_)),
                    "{longer:?}"
                );
            }
            if let Some(c) = COMPACT[slot] {
                assert!(c.is_ascii_lowercase(), "{name}");
                for c in [c, c.to_ascii_uppercase()] {
                    assert_eq!(HeaderName::from_bytes(&[c]), known, "{}", c as char);
                }
            }
            // No two rows name the same header.
            for other in &KNOWN[..slot] {
                assert!(!other.as_static().eq_ignore_ascii_case(name), "{name}");
            }
        }
        // Only the table's compact forms are known.
        for b in 0..=u8::MAX {
            let expected = COMPACT.contains(&Some(b.to_ascii_lowercase()));
            let found = !matches!(HeaderName::from_bytes(&[b]), HeaderName::Other(_));
            assert_eq!(found, expected, "{b}");
        }
        assert_eq!(HeaderName::Other(b"X-A").slot(), None);
        assert_eq!(HeaderName::Other(b"X-A").slot_u8(), OTHER);
        assert_eq!(HeaderName::Other(b"X-A").as_static(), "Header");
        assert!(!HeaderName::Other(b"Via").is_list());
    }
}
