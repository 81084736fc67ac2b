//! The UAC's answer to a digest challenge: HTTP digest with MD5 as SIP uses
//! it (RFC 3261 §22.4, RFC 2617 §3.2.2, RFC 8760 for the `algorithm`
//! names), with `qop=auth` (cnonce and nonce count) or without qop, and
//! `MD5-sess`. No I/O; the MD5 primitive is RustCrypto's `md-5`.

use core::cell::Cell;

use md5::{Digest as _, Md5};

use super::flow::uac::DigestSigner;
use crate::sip::credentials::Challenge;

/// A [`DigestSigner`] for one username and password (`--user`,
/// `--password`), for any realm.
///
/// Each signature takes the next nonce count and a fresh cnonce derived
/// from `seed` and that count, so two workers with different seeds never
/// repeat a cnonce.
#[derive(Debug)]
pub struct Md5Signer {
    user: String,
    password: String,
    seed: u64,
    count: Cell<u32>,
}

impl Md5Signer {
    /// A signer for `user` with `password`; `seed` makes its cnonces unique.
    pub fn new(user: impl Into<String>, password: impl Into<String>, seed: u64) -> Md5Signer {
        Md5Signer {
            user: user.into(),
            password: password.into(),
            seed,
            count: Cell::new(0),
        }
    }
}

/// The qop part of a digest computation (RFC 2617 §3.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qop<'a> {
    /// Nonce count, eight hex digits (`00000001`).
    pub nc: &'a [u8],
    /// Client nonce.
    pub cnonce: &'a [u8],
}

/// The inputs of one digest response.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// Username.
    pub user: &'a [u8],
    /// Realm, as the challenge quoted it (unquoted).
    pub realm: &'a [u8],
    /// Password.
    pub password: &'a [u8],
    /// Request method, e.g. `REGISTER`.
    pub method: &'a [u8],
    /// The digest-uri (the Request-URI).
    pub uri: &'a [u8],
    /// The server nonce.
    pub nonce: &'a [u8],
    /// `Some` for `qop=auth`, `None` for the RFC 2069 form without qop.
    pub qop: Option<Qop<'a>>,
    /// `MD5-sess`: HA1 also covers the nonce and cnonce (needs `qop`).
    pub sess: bool,
}

/// The `response` value (32 lower-case hex digits) of RFC 2617 §3.2.2.1:
/// `KD(H(A1), nonce:nc:cnonce:qop:H(A2))` with qop, `KD(H(A1), nonce:H(A2))`
/// without, where `A1 = user:realm:password` and `A2 = method:uri`.
pub fn response(input: &DigestInput<'_>) -> [u8; 32] {
    let mut ha1 = md5_hex(&[input.user, b":", input.realm, b":", input.password]);
    if input.sess {
        let cnonce = input.qop.map_or(&b""[..], |q| q.cnonce);
        ha1 = md5_hex(&[&ha1, b":", input.nonce, b":", cnonce]);
    }
    let ha2 = md5_hex(&[input.method, b":", input.uri]);
    match input.qop {
        Some(q) => md5_hex(&[
            &ha1,
            b":",
            input.nonce,
            b":",
            q.nc,
            b":",
            q.cnonce,
            b":auth:",
            &ha2,
        ]),
        None => md5_hex(&[&ha1, b":", input.nonce, b":", &ha2]),
    }
}

impl DigestSigner for Md5Signer {
    fn sign(
        &self,
        challenge: &Challenge<'_>,
        method: &[u8],
        uri: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let (Some(realm), Some(nonce)) = (challenge.realm(), challenge.nonce()) else {
            return false;
        };
        let (algorithm, sess): (&[u8], bool) = match challenge.algorithm() {
            None => (b"MD5", false),
            Some(a) if a.eq_ignore_ascii_case(b"MD5") => (b"MD5", false),
            Some(a) if a.eq_ignore_ascii_case(b"MD5-sess") => (b"MD5-sess", true),
            Some(_) => return false,
        };
        let offers_auth = challenge.qop().map(|q| {
            q.split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(b"auth"))
        });
        if offers_auth == Some(false) || (sess && offers_auth.is_none()) {
            // Only auth-int is offered, or MD5-sess without qop.
            return false;
        }
        let n = self.count.get().wrapping_add(1);
        self.count.set(n);
        let nc = hex8(n);
        let cnonce = hex16(self.seed ^ u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let qop = offers_auth.map(|_| Qop {
            nc: &nc,
            cnonce: &cnonce,
        });
        let digest = response(&DigestInput {
            user: self.user.as_bytes(),
            realm,
            password: self.password.as_bytes(),
            method,
            uri,
            nonce,
            qop,
            sess,
        });
        out.extend_from_slice(b"Digest username=\"");
        quoted(out, self.user.as_bytes());
        out.extend_from_slice(b"\", realm=\"");
        out.extend_from_slice(realm);
        out.extend_from_slice(b"\", nonce=\"");
        out.extend_from_slice(nonce);
        out.extend_from_slice(b"\", uri=\"");
        out.extend_from_slice(uri);
        out.extend_from_slice(b"\", response=\"");
        out.extend_from_slice(&digest);
        out.extend_from_slice(b"\", algorithm=");
        out.extend_from_slice(algorithm);
        if qop.is_some() {
            out.extend_from_slice(b", qop=auth, nc=");
            out.extend_from_slice(&nc);
            out.extend_from_slice(b", cnonce=\"");
            out.extend_from_slice(&cnonce);
            out.push(b'"');
        }
        if let Some(opaque) = challenge.opaque() {
            out.extend_from_slice(b", opaque=\"");
            out.extend_from_slice(opaque);
            out.push(b'"');
        }
        true
    }
}

/// MD5 of the concatenated `parts`, as 32 lower-case hex digits.
fn md5_hex(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; 32];
    for (i, b) in d.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex8(n: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((n >> (28 - 4 * i)) & 15) as usize];
    }
    out
}

fn hex16(n: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((n >> (60 - 4 * i)) & 15) as usize];
    }
    out
}

/// Writes `s` as quoted-string content: `"` and `\` escaped, CR/LF dropped.
fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\r' | b'\n' => {}
            _ => out.push(b),
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::credentials::Credentials;

    /// RFC 2617 §3.5, the worked example.
    #[test]
    fn rfc2617_worked_example() {
        let r = response(&DigestInput {
            user: b"Mufasa",
            realm: b"testrealm@host.com",
            password: b"Circle Of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            nonce: b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop: Some(Qop {
                nc: b"00000001",
                cnonce: b"0a4f113b",
            }),
            sess: false,
        });
        assert_eq!(&r, b"6629fae49393a05397450978507c4ef1");
    }

    /// Without qop (RFC 2069 compatibility): KD(HA1, nonce:HA2).
    #[test]
    fn without_qop() {
        let input = DigestInput {
            user: b"Mufasa",
            realm: b"testrealm@host.com",
            password: b"Circle Of Life",
            method: b"GET",
            uri: b"/dir/index.html",
            nonce: b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop: None,
            sess: false,
        };
        let ha1 = md5_hex(&[b"Mufasa:testrealm@host.com:Circle Of Life"]);
        let ha2 = md5_hex(&[b"GET:/dir/index.html"]);
        let want = md5_hex(&[&ha1, b":dcd98b7102dd2f0e8b11d0f600bfb0c093:", &ha2]);
        assert_eq!(response(&input), want);
        // MD5 of the empty string, a known vector.
        assert_eq!(&md5_hex(&[b""]), b"d41d8cd98f00b204e9800998ecf8427e");
    }

    #[test]
    fn signs_a_sip_challenge_with_qop() {
        let signer = Md5Signer::new("alice", "secret", 7);
        let ch = Challenge::parse(
            b"Digest realm=\"example.org\", nonce=\"abc\", qop=\"auth,auth-int\", opaque=\"xyz\"",
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(signer.sign(&ch, b"REGISTER", b"sip:example.org", &mut out));
        let cred = Credentials::parse(&out).unwrap();
        assert!(cred.is_digest());
        assert_eq!(cred.username(), Some(&b"alice"[..]));
        assert_eq!(cred.realm(), Some(&b"example.org"[..]));
        assert_eq!(cred.nonce(), Some(&b"abc"[..]));
        assert_eq!(cred.uri(), Some(&b"sip:example.org"[..]));
        assert_eq!(cred.qop(), Some(&b"auth"[..]));
        assert_eq!(cred.nc(), Some(&b"00000001"[..]));
        assert_eq!(cred.opaque(), Some(&b"xyz"[..]));
        let want = response(&DigestInput {
            user: b"alice",
            realm: b"example.org",
            password: b"secret",
            method: b"REGISTER",
            uri: b"sip:example.org",
            nonce: b"abc",
            qop: Some(Qop {
                nc: b"00000001",
                cnonce: cred.cnonce().unwrap(),
            }),
            sess: false,
        });
        assert_eq!(cred.response(), Some(&want[..]));
        // The next signature counts on and changes its cnonce.
        let first_cnonce = cred.cnonce().unwrap().to_vec();
        let mut again = Vec::new();
        assert!(signer.sign(&ch, b"REGISTER", b"sip:example.org", &mut again));
        let cred = Credentials::parse(&again).unwrap();
        assert_eq!(cred.nc(), Some(&b"00000002"[..]));
        assert_ne!(cred.cnonce(), Some(&first_cnonce[..]));
    }

    #[test]
    fn without_qop_and_refusals() {
        let signer = Md5Signer::new("bob", "pw", 1);
        let mut out = Vec::new();
        let plain = Challenge::parse(b"Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert!(signer.sign(&plain, b"REGISTER", b"sip:r", &mut out));
        let cred = Credentials::parse(&out).unwrap();
        assert_eq!(cred.qop(), None);
        assert_eq!(cred.cnonce(), None);
        let want = response(&DigestInput {
            user: b"bob",
            realm: b"r",
            password: b"pw",
            method: b"REGISTER",
            uri: b"sip:r",
            nonce: b"n",
            qop: None,
            sess: false,
        });
        assert_eq!(cred.response(), Some(&want[..]));
        for refused in [
            &b"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256"[..],
            b"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            b"Digest realm=\"r\"",
            b"Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess",
        ] {
            let ch = Challenge::parse(refused).unwrap();
            assert!(
                !signer.sign(&ch, b"REGISTER", b"sip:r", &mut out),
                "{refused:?}"
            );
        }
        let sess =
            Challenge::parse(b"Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=md5-sess")
                .unwrap();
        assert!(signer.sign(&sess, b"REGISTER", b"sip:r", &mut out));
        assert!(Credentials::parse(&out)
            .unwrap()
            .algorithm()
            .is_some_and(|a| a == b"MD5-sess"));
    }
}
