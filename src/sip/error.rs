//! Parse errors and the one function that maps them to what a proxy answers.
//! No I/O.

use core::fmt;

/// Why bytes are not an acceptable SIP message.
///
/// Small and `Copy`: the `&'static str` payloads name the header or field at
/// fault, so the error path never allocates. [`Error::reaction`] turns an
/// error into the stateless reply (or silent drop) a proxy should send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The bytes end before the empty line that closes the header section.
    Incomplete,
    /// The start line is neither a Request-Line nor a Status-Line; names the
    /// part at fault (e.g. `"Request-Line"`, `"Method"`).
    StartLine(&'static str),
    /// The Request-URI is malformed (embedded whitespace, bad characters).
    RequestUri,
    /// The Request-URI has a scheme this proxy cannot route (RFC 3261 §16.3
    /// item 2): answered with `416`.
    UnsupportedScheme,
    /// SIP-Version other than `SIP/2.0`: answered with `505`.
    Version,
    /// A Status-Code outside 100..=699 (responses are dropped).
    StatusCode,
    /// A header line has no colon, an empty or non-token name, or a bare CR/LF.
    HeaderLine,
    /// The header section holds a control byte other than tab and the CR
    /// LF line ends, not escaped by a backslash: NUL or another byte below
    /// 0x20. RFC 3261 allows none outside a quoted-pair, and a next hop
    /// written in C may end a string at a NUL, or take a vertical tab or
    /// form feed for white space, and so read a different header than we
    /// did. (DEL, also outside the grammar, passes: nothing reads it as an
    /// end or a space.)
    ControlByte,
    /// A header required by RFC 3261 §8.1.1 / §16.3 is absent; names it.
    Missing(&'static str),
    /// A header value does not parse; names the header.
    Invalid(&'static str),
    /// A header that may appear only once appears more than once; names it.
    Duplicate(&'static str),
    /// More header lines than [`MAX_HEADERS`](crate::sip::MAX_HEADERS).
    TooManyHeaders,
    /// The message is larger than the configured maximum size: `513`.
    TooLarge,
    /// Content-Length declares more body bytes than the datagram holds.
    BodyTruncated,
    /// The CSeq method differs from the Request-Line method.
    CSeqMismatch,
}

/// What a proxy does about a message that failed to parse or validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// Answer statelessly with this status. The reason phrase on the wire is
    /// `reason` followed by ` (detail)` when `detail` is not empty.
    Reply {
        /// Status code, e.g. 400.
        code: u16,
        /// Standard reason phrase, e.g. `"Bad Request"`.
        reason: &'static str,
        /// What was wrong, e.g. `"Missing Call-ID"`; may be empty.
        detail: &'static str,
    },
    /// Discard silently (malformed responses, and requests too broken to
    /// answer); the caller counts and logs the drop.
    Drop,
}

impl Error {
    /// Maps this error to the proxy's answer, in the spirit of hyper's
    /// `on_error`. `is_request` says whether the bytes were a request (only
    /// requests are answered; a malformed response is dropped, RFC 3261
    /// §16.7 / RFC 4475 §3.1.2.19).
    pub fn reaction(self, is_request: bool) -> Reaction {
        if !is_request {
            return Reaction::Drop;
        }
        let bad = |detail| Reaction::Reply {
            code: 400,
            reason: "Bad Request",
            detail,
        };
        match self {
            // Without a complete header section there is no Via to answer to.
            Error::Incomplete => Reaction::Drop,
            Error::StartLine(what) => bad(match what {
                "Method" => "Malformed Method",
                _ => "Malformed Request-Line",
            }),
            Error::RequestUri => bad("Malformed Request-URI"),
            Error::UnsupportedScheme => Reaction::Reply {
                code: 416,
                reason: "Unsupported URI Scheme",
                detail: "",
            },
            Error::Version => Reaction::Reply {
                code: 505,
                reason: "Version Not Supported",
                detail: "",
            },
            Error::StatusCode => bad("Malformed Status-Line"),
            Error::HeaderLine => bad("Malformed Header Line"),
            Error::ControlByte => bad("Control Character in Header"),
            Error::Missing(h) => bad(missing_detail(h)),
            Error::Invalid(h) => bad(invalid_detail(h)),
            Error::Duplicate(h) => bad(duplicate_detail(h)),
            Error::TooManyHeaders => Reaction::Reply {
                code: 513,
                reason: "Message Too Large",
                detail: "Too Many Headers",
            },
            Error::TooLarge => Reaction::Reply {
                code: 513,
                reason: "Message Too Large",
                detail: "",
            },
            Error::BodyTruncated => bad("Content-Length Exceeds Message"),
            Error::CSeqMismatch => bad("CSeq Method Mismatch"),
        }
    }
}

// The detail strings are 'static, so each header we can name gets its own.
macro_rules! detail_table {
    ($fn:ident, $prefix:literal, $fallback:literal) => {
        fn $fn(h: &'static str) -> &'static str {
            match h {
                "Via" => concat!($prefix, " Via"),
                "From" => concat!($prefix, " From"),
                "To" => concat!($prefix, " To"),
                "Call-ID" => concat!($prefix, " Call-ID"),
                "CSeq" => concat!($prefix, " CSeq"),
                "Max-Forwards" => concat!($prefix, " Max-Forwards"),
                "Content-Length" => concat!($prefix, " Content-Length"),
                "Contact" => concat!($prefix, " Contact"),
                "Route" => concat!($prefix, " Route"),
                "Record-Route" => concat!($prefix, " Record-Route"),
                "Expires" => concat!($prefix, " Expires"),
                "Require" => concat!($prefix, " Require"),
                "Proxy-Require" => concat!($prefix, " Proxy-Require"),
                "Authorization" => concat!($prefix, " Authorization"),
                "Proxy-Authorization" => concat!($prefix, " Proxy-Authorization"),
                "Content-Type" => concat!($prefix, " Content-Type"),
                _ => $fallback,
            }
        }
    };
}
detail_table!(missing_detail, "Missing", "Missing Header");
detail_table!(invalid_detail, "Invalid", "Invalid Header");
detail_table!(duplicate_detail, "Duplicate", "Duplicate Header");

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Incomplete => f.write_str("incomplete message: no end of headers"),
            Error::StartLine(what) => write!(f, "malformed start line ({what})"),
            Error::RequestUri => f.write_str("malformed Request-URI"),
            Error::UnsupportedScheme => f.write_str("unsupported Request-URI scheme"),
            Error::Version => f.write_str("unsupported SIP version"),
            Error::StatusCode => f.write_str("status code out of range"),
            Error::HeaderLine => f.write_str("malformed header line"),
            Error::ControlByte => f.write_str("control byte in the header section"),
            Error::Missing(h) => write!(f, "missing {h} header"),
            Error::Invalid(h) => write!(f, "invalid {h} header"),
            Error::Duplicate(h) => write!(f, "duplicate {h} header"),
            Error::TooManyHeaders => f.write_str("too many headers"),
            Error::TooLarge => f.write_str("message too large"),
            Error::BodyTruncated => f.write_str("Content-Length exceeds the message"),
            Error::CSeqMismatch => f.write_str("CSeq method differs from the request method"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_small_and_copy() {
        fn is_copy<T: Copy>() {}
        is_copy::<Error>();
        assert!(core::mem::size_of::<Error>() <= 24);
    }

    #[test]
    fn reactions_name_the_fault() {
        assert_eq!(
            Error::Missing("Call-ID").reaction(true),
            Reaction::Reply {
                code: 400,
                reason: "Bad Request",
                detail: "Missing Call-ID"
            }
        );
        assert_eq!(
            Error::UnsupportedScheme.reaction(true),
            Reaction::Reply {
                code: 416,
                reason: "Unsupported URI Scheme",
                detail: ""
            }
        );
        assert_eq!(
            Error::Version.reaction(true),
            Reaction::Reply {
                code: 505,
                reason: "Version Not Supported",
                detail: ""
            }
        );
        assert!(matches!(
            Error::TooLarge.reaction(true),
            Reaction::Reply { code: 513, .. }
        ));
        assert_eq!(Error::Missing("Call-ID").reaction(false), Reaction::Drop);
        assert_eq!(Error::StatusCode.reaction(false), Reaction::Drop);
    }
}
