//! What an [`Authenticator`](super::Authenticator) decides, as data the
//! proxy turns into a forward, a stateless reply or a drop. No I/O, no
//! allocation: a challenge's header value lives in an inline buffer.

use std::fmt;

/// The outcome of an authentication check.
///
/// The proxy never answers an ACK (RFC 3261 §17.1.1.3), so for an ACK it
/// treats [`Verdict::Reject`] and [`Verdict::Challenge`] as a drop.
///
/// The enum is about 260 bytes because a challenge is stored inline; that
/// is deliberate (no allocation per challenge), and returning `Allow` writes
/// only the discriminant.
#[allow(clippy::large_enum_variant)] // inline by design, see above
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Route the request.
    Allow,
    /// Answer with a final error status and do not route.
    Reject {
        /// A 4xx-6xx status code, e.g. 403.
        code: u16,
        /// Its reason phrase, e.g. `"Forbidden"`.
        reason: &'static str,
    },
    /// Answer 401 or 407 with an authentication challenge (RFC 3261 §22).
    Challenge(Challenge),
    /// Discard without answering (e.g. scanners and floods, where a reply
    /// would only help the sender).
    Drop,
}

impl Verdict {
    /// `403 Forbidden`.
    pub const FORBIDDEN: Verdict = Verdict::Reject {
        code: 403,
        reason: "Forbidden",
    };
}

/// A 401 or 407 reply's status and its challenge header, written by the
/// authenticator and copied verbatim by the proxy's reply builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Which status and header to use.
    pub kind: ChallengeKind,
    /// The header value, e.g. `Digest realm="example.net", nonce="…",
    /// algorithm=SHA-256, qop="auth"`.
    pub value: HeaderValueBuf,
}

impl Challenge {
    /// The header values, one header line each: the value holds them
    /// separated by LF (which no header value contains).
    pub fn values(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.value
            .as_bytes()
            .split(|&b| b == b'\n')
            .filter(|v| !v.is_empty())
    }
}

/// Who is challenging: the user agent's registrar/UAS or a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// `401 Unauthorized` with `WWW-Authenticate` (RFC 3261 §22.2).
    Www,
    /// `407 Proxy Authentication Required` with `Proxy-Authenticate`
    /// (RFC 3261 §22.3).
    Proxy,
}

impl ChallengeKind {
    /// The status code: 401 or 407.
    pub fn code(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }

    /// The reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            ChallengeKind::Www => "Unauthorized",
            ChallengeKind::Proxy => "Proxy Authentication Required",
        }
    }

    /// The name of the header that carries the challenge.
    pub fn header_name(self) -> &'static str {
        match self {
            ChallengeKind::Www => "WWW-Authenticate",
            ChallengeKind::Proxy => "Proxy-Authenticate",
        }
    }
}

/// A header value of up to [`HeaderValueBuf::CAPACITY`] bytes, stored
/// inline. Write into it with [`HeaderValueBuf::push`] or `write!` (it
/// implements [`fmt::Write`]); a write that does not fit fails and leaves
/// the buffer as it was.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderValueBuf {
    buf: [u8; HeaderValueBuf::CAPACITY],
    len: u16,
}

impl HeaderValueBuf {
    /// Room for Digest challenges of two or three algorithms with a long
    /// realm and a stateless nonce.
    pub const CAPACITY: usize = 512;

    /// An empty value.
    pub const fn new() -> HeaderValueBuf {
        HeaderValueBuf {
            buf: [0; HeaderValueBuf::CAPACITY],
            len: 0,
        }
    }

    /// Ends the value written so far and starts another: the reply carries
    /// one header line per value ([`Challenge::values`]).
    pub fn next_value(&mut self) -> Result<(), ValueFull> {
        let at = usize::from(self.len);
        let slot = self.buf.get_mut(at).ok_or(ValueFull)?;
        *slot = b'\n';
        self.len += 1;
        Ok(())
    }

    /// Appends `bytes`. CR and LF are refused (they would end the header
    /// line), as is anything past the capacity.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), ValueFull> {
        let start = usize::from(self.len);
        let end = start + bytes.len();
        if end > Self::CAPACITY || bytes.iter().any(|&b| b == b'\r' || b == b'\n') {
            return Err(ValueFull);
        }
        self.buf[start..end].copy_from_slice(bytes);
        // end <= CAPACITY = 256, which fits u16.
        self.len = end as u16;
        Ok(())
    }

    /// The value written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl Default for HeaderValueBuf {
    fn default() -> Self {
        HeaderValueBuf::new()
    }
}

impl fmt::Debug for HeaderValueBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

impl fmt::Write for HeaderValueBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// A header value did not fit [`HeaderValueBuf::CAPACITY`] or held CR/LF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("header value longer than 256 bytes or containing CR/LF")]
pub struct ValueFull;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn challenge_value_is_written_inline() {
        let mut v = HeaderValueBuf::new();
        let realm = "example.net";
        write!(v, "Digest realm=\"{realm}\", nonce=\"{:08x}\"", 0xabcdu32).unwrap();
        v.push(b", algorithm=SHA-256").unwrap();
        assert_eq!(
            v.as_bytes(),
            b"Digest realm=\"example.net\", nonce=\"0000abcd\", algorithm=SHA-256"
        );
        let c = Challenge {
            kind: ChallengeKind::Proxy,
            value: v,
        };
        assert_eq!(
            (c.kind.code(), c.kind.reason(), c.kind.header_name()),
            (407, "Proxy Authentication Required", "Proxy-Authenticate")
        );
        assert_eq!(
            (ChallengeKind::Www.code(), ChallengeKind::Www.header_name()),
            (401, "WWW-Authenticate")
        );
    }

    #[test]
    fn overlong_or_multiline_values_are_refused_whole() {
        let mut v = HeaderValueBuf::new();
        v.push(&[b'a'; 506]).unwrap();
        assert_eq!(v.push(b"1234567"), Err(ValueFull));
        assert_eq!(v.as_bytes().len(), 506);
        assert_eq!(v.push(b"\r\nX: y"), Err(ValueFull));
        v.push(b"123456").unwrap();
        assert_eq!(v.as_bytes().len(), HeaderValueBuf::CAPACITY);
        assert!(write!(v, "x").is_err());
    }
}
