//! The digest computation: algorithms, HA1 and the `response` value
//! (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1–3.4.3, RFC 8760 for the SIP
//! algorithm names). No I/O, no allocation.

use core::fmt;

use md5::{Digest, Md5};
use sha2::Sha256;

use super::{constant_time_eq, hex_decode, hex_into};

/// A digest algorithm (RFC 8760 §2.1, RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5`, also what a missing `algorithm` parameter means.
    Md5,
    /// `MD5-sess`: HA1 also covers the nonce and cnonce.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// Every algorithm, in the order a signer prefers them: the SHA-256
    /// family first.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// The algorithm named `name` (the `algorithm` parameter's value,
    /// unquoted), case-insensitively; `None` for any other name (`SHA-512-256`,
    /// `AKAv1-MD5`, an empty value).
    pub fn parse(name: &[u8]) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| name.eq_ignore_ascii_case(a.as_str().as_bytes()))
    }

    /// The algorithm of a challenge or credentials whose `algorithm`
    /// parameter is `param`: a missing parameter means MD5 (RFC 2617
    /// §3.2.1).
    pub fn from_param(param: Option<&[u8]>) -> Option<Algorithm> {
        param.map_or(Some(Algorithm::Md5), Algorithm::parse)
    }

    /// The name as written in the `algorithm` parameter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// True for the `-sess` variants.
    pub const fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// The algorithm without `-sess`: which HA1 it starts from.
    pub const fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
        }
    }

    /// The digest length in bytes: 16 for MD5, 32 for SHA-256.
    pub const fn digest_len(self) -> usize {
        match self.base() {
            Algorithm::Sha256 => 32,
            _ => 16,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `H(username:realm:password)` (RFC 7616 §3.4.2), the secret a server
/// keeps instead of the password: 16 bytes for MD5, 32 for SHA-256. A
/// `-sess` algorithm starts from the same HA1 as its base; [`response`]
/// adds the nonce and cnonce.
///
/// `Debug` does not print the bytes: an HA1 is as good as the password for
/// its realm.
#[derive(Clone, Copy)]
pub struct Ha1 {
    alg: Algorithm,
    bytes: [u8; 32],
}

impl Ha1 {
    /// Hashes `user:realm:password` with `alg`'s base algorithm.
    pub fn from_password(alg: Algorithm, user: &[u8], realm: &[u8], password: &[u8]) -> Ha1 {
        let mut bytes = [0u8; 32];
        hash(alg, &[user, b":", realm, b":", password], &mut bytes);
        Ha1 {
            alg: alg.base(),
            bytes,
        }
    }

    /// An HA1 from its hex (either case): 32 digits for the MD5 family, 64
    /// for SHA-256. `None` for any other length or a non-hex digit.
    pub fn from_hex(alg: Algorithm, hex: &[u8]) -> Option<Ha1> {
        let alg = alg.base();
        let mut bytes = [0u8; 32];
        hex_decode(hex, &mut bytes[..alg.digest_len()]).then_some(Ha1 { alg, bytes })
    }

    /// The base algorithm this HA1 was hashed with ([`Algorithm::Md5`] or
    /// [`Algorithm::Sha256`]).
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The digest bytes (16 or 32).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.alg.digest_len()]
    }

    /// The HA1 as `alg` uses it in KD, in hex: the plain HA1, or for a
    /// `-sess` algorithm `H(HA1:nonce:cnonce)` (RFC 7616 §3.4.2).
    fn session_hex(&self, alg: Algorithm, nonce: &[u8], cnonce: &[u8]) -> ResponseHex {
        let plain = ResponseHex::of(self.as_bytes());
        if alg.is_sess() {
            ResponseHex::hash(alg, &[plain.as_bytes(), b":", nonce, b":", cnonce])
        } else {
            plain
        }
    }
}

/// Compared in constant time.
impl PartialEq for Ha1 {
    fn eq(&self, other: &Ha1) -> bool {
        self.alg == other.alg && constant_time_eq(self.as_bytes(), other.as_bytes())
    }
}

impl Eq for Ha1 {}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ha1({}, ..)", self.alg)
    }
}

/// The `qop=auth` part of a response (RFC 2617 §3.2.2.1): the nonce count
/// and the client nonce, as the credentials carry them. `auth-int` (which
/// also hashes the body) is not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qop<'a> {
    /// `nc`, eight hex digits (`00000001`).
    pub nc: &'a [u8],
    /// `cnonce`, unquoted.
    pub cnonce: &'a [u8],
}

/// A digest in lower-case hex on the stack: 32 characters for MD5, 64 for
/// SHA-256. What [`response`] returns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ResponseHex {
    buf: [u8; 64],
    len: u8,
}

impl ResponseHex {
    /// The hex digits.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The hex digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Lower-case hex of `digest` (at most 32 bytes).
    fn of(digest: &[u8]) -> ResponseHex {
        let n = digest.len().min(32);
        let mut h = ResponseHex {
            buf: [0; 64],
            len: (2 * n) as u8,
        };
        hex_into(&digest[..n], &mut h.buf);
        h
    }

    /// Hex of `alg`'s hash of the concatenated `parts`.
    fn hash(alg: Algorithm, parts: &[&[u8]]) -> ResponseHex {
        let mut d = [0u8; 32];
        let n = hash(alg, parts, &mut d);
        ResponseHex::of(&d[..n])
    }
}

impl fmt::Debug for ResponseHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResponseHex({})", self.as_str())
    }
}

impl fmt::Display for ResponseHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `response` parameter (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1):
///
/// - with `qop=auth`: `KD(HA1', nonce:nc:cnonce:auth:H(A2))`;
/// - without (`qop` `None`, the RFC 2069 form): `KD(HA1', nonce:H(A2))`;
///
/// where `A2 = method:uri`, `KD(s, d) = H(s:d)`, and `HA1'` is `ha1` in hex,
/// or `H(HA1:nonce:cnonce)` for a `-sess` algorithm (with an empty cnonce
/// when there is no qop, which no client should send). `H` is `alg`'s hash;
/// `ha1` should be of the same family ([`Ha1::algorithm`] is
/// `alg.base()`), else the result is a value no client computes.
pub fn response(
    alg: Algorithm,
    ha1: &Ha1,
    nonce: &[u8],
    qop: Option<Qop<'_>>,
    method: &[u8],
    uri: &[u8],
) -> ResponseHex {
    let cnonce = qop.map_or(&b""[..], |q| q.cnonce);
    let ha1 = ha1.session_hex(alg, nonce, cnonce);
    let ha2 = ResponseHex::hash(alg, &[method, b":", uri]);
    match qop {
        Some(q) => ResponseHex::hash(
            alg,
            &[
                ha1.as_bytes(),
                b":",
                nonce,
                b":",
                q.nc,
                b":",
                q.cnonce,
                b":auth:",
                ha2.as_bytes(),
            ],
        ),
        None => ResponseHex::hash(alg, &[ha1.as_bytes(), b":", nonce, b":", ha2.as_bytes()]),
    }
}

/// Whether `got` (the credentials' `response`, unquoted) is `expected`,
/// compared in constant time. Upper-case hex digits in `got` are accepted
/// (RFC 2617 asks for lower case; some clients send upper).
pub fn verify(expected: &ResponseHex, got: &[u8]) -> bool {
    let want = expected.as_bytes();
    if got.len() != want.len() {
        return false;
    }
    let mut lower = [0u8; 64];
    for (l, g) in lower.iter_mut().zip(got) {
        *l = g.to_ascii_lowercase();
    }
    constant_time_eq(want, &lower[..got.len()])
}

/// `alg`'s hash of the concatenated `parts` into `out`; returns its length.
fn hash(alg: Algorithm, parts: &[&[u8]], out: &mut [u8; 32]) -> usize {
    fn run<D: Digest>(parts: &[&[u8]], out: &mut [u8; 32]) -> usize {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        let d = h.finalize();
        let n = d.len().min(out.len());
        out[..n].copy_from_slice(&d[..n]);
        n
    }
    match alg.base() {
        Algorithm::Sha256 => run::<Sha256>(parts, out),
        _ => run::<Md5>(parts, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the example of a GET with qop=auth, once per
    /// algorithm.
    const USER: &[u8] = b"Mufasa";
    const REALM: &[u8] = b"http-auth@example.org";
    const PASSWORD: &[u8] = b"Circle of Life";
    const NONCE: &[u8] = b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const QOP: Qop<'static> = Qop {
        nc: b"00000001",
        cnonce: b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    };

    fn rfc7616(alg: Algorithm) -> ResponseHex {
        let ha1 = Ha1::from_password(alg, USER, REALM, PASSWORD);
        response(alg, &ha1, NONCE, Some(QOP), b"GET", b"/dir/index.html")
    }

    #[test]
    fn rfc7616_md5() {
        assert_eq!(
            rfc7616(Algorithm::Md5).as_str(),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_sha256() {
        assert_eq!(
            rfc7616(Algorithm::Sha256).as_str(),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    /// RFC 2617 §3.5 (MD5, qop=auth), through a stored HA1 given in upper
    /// case.
    #[test]
    fn rfc2617_from_hex() {
        let ha1 = Ha1::from_password(
            Algorithm::Md5,
            b"Mufasa",
            b"testrealm@host.com",
            b"Circle Of Life",
        );
        assert_eq!(
            ResponseHex::of(ha1.as_bytes()).as_str(),
            "939e7578ed9e3c518a452acee763bce9"
        );
        let stored =
            Ha1::from_hex(Algorithm::Md5Sess, b"939E7578ED9E3C518A452ACEE763BCE9").unwrap();
        assert_eq!(stored.algorithm(), Algorithm::Md5);
        let r = response(
            Algorithm::Md5,
            &stored,
            b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(Qop {
                nc: b"00000001",
                cnonce: b"0a4f113b",
            }),
            b"GET",
            b"/dir/index.html",
        );
        assert_eq!(r.as_str(), "6629fae49393a05397450978507c4ef1");
    }

    /// RFC 2069 form (no qop), MD5. The value was computed independently
    /// with coreutils: HA1=`printf 'Mufasa:testrealm@host.com:Circle Of
    /// Life' | md5sum`, HA2=`printf 'GET:/dir/index.html' | md5sum`, then
    /// `printf '%s:%s:%s' HA1 dcd98b7102dd2f0e8b11d0f600bfb0c093 HA2 |
    /// md5sum`, and again with Python's `hashlib.md5`; both print this.
    #[test]
    fn rfc2069_without_qop() {
        let ha1 = Ha1::from_password(
            Algorithm::Md5,
            b"Mufasa",
            b"testrealm@host.com",
            b"Circle Of Life",
        );
        let r = response(
            Algorithm::Md5,
            &ha1,
            b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            None,
            b"GET",
            b"/dir/index.html",
        );
        assert_eq!(r.as_str(), "670fd8c2df070c60b045671b8b24ff02");
    }

    /// -sess: HA1' = H(HA1:nonce:cnonce), checked against the computation
    /// spelled out with the primitives.
    #[test]
    fn sess_variants() {
        for alg in [Algorithm::Md5Sess, Algorithm::Sha256Sess] {
            let ha1 = Ha1::from_password(alg, USER, REALM, PASSWORD);
            let plain = ResponseHex::of(ha1.as_bytes());
            let sess = ResponseHex::hash(alg, &[plain.as_bytes(), b":", NONCE, b":", QOP.cnonce]);
            let ha2 = ResponseHex::hash(alg, &[b"GET:/dir/index.html"]);
            let want = ResponseHex::hash(
                alg,
                &[
                    sess.as_bytes(),
                    b":",
                    NONCE,
                    b":00000001:",
                    QOP.cnonce,
                    b":auth:",
                    ha2.as_bytes(),
                ],
            );
            let got = rfc7616(alg);
            assert_eq!(got, want, "{alg}");
            assert_ne!(got, rfc7616(alg.base()), "{alg}");
            assert_eq!(got.as_bytes().len(), 2 * alg.digest_len());
        }
    }

    #[test]
    fn algorithm_names() {
        for (name, alg) in [
            (&b"md5"[..], Algorithm::Md5),
            (b"MD5-SESS", Algorithm::Md5Sess),
            (b"sha-256", Algorithm::Sha256),
            (b"SHA-256-sess", Algorithm::Sha256Sess),
        ] {
            assert_eq!(Algorithm::parse(name), Some(alg));
            assert_eq!(Algorithm::parse(alg.as_str().as_bytes()), Some(alg));
        }
        for bad in [&b""[..], b"SHA-512-256", b"SHA256", b"MD5 ", b"AKAv1-MD5"] {
            assert_eq!(Algorithm::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Algorithm::from_param(None), Some(Algorithm::Md5));
        assert_eq!(Algorithm::from_param(Some(b"x")), None);
        assert_eq!(Algorithm::Sha256Sess.base(), Algorithm::Sha256);
    }

    #[test]
    fn ha1_from_hex_checks_length_and_digits() {
        let md5 = "939e7578ed9e3c518a452acee763bce9";
        assert!(Ha1::from_hex(Algorithm::Md5, md5.as_bytes()).is_some());
        assert!(Ha1::from_hex(Algorithm::Sha256, md5.as_bytes()).is_none());
        assert!(Ha1::from_hex(Algorithm::Md5, &md5.as_bytes()[1..]).is_none());
        assert!(Ha1::from_hex(Algorithm::Md5, b"939e7578ed9e3c518a452acee763bcez").is_none());
        let sha = Ha1::from_password(Algorithm::Sha256, USER, REALM, PASSWORD);
        let hex = ResponseHex::of(sha.as_bytes());
        let back = Ha1::from_hex(Algorithm::Sha256Sess, hex.as_bytes()).unwrap();
        assert_eq!(back.as_bytes(), sha.as_bytes());
        assert_eq!(format!("{sha:?}"), "Ha1(SHA-256, ..)");
    }

    #[test]
    fn verify_in_constant_time_accepts_upper_case() {
        let r = rfc7616(Algorithm::Md5);
        assert!(verify(&r, b"8ca523f5e9506fed4657c9700eebdbec"));
        assert!(verify(&r, b"8CA523F5E9506FED4657C9700EEBDBEC"));
        assert!(!verify(&r, b"8ca523f5e9506fed4657c9700eebdbed"));
        assert!(!verify(&r, b"8ca523f5e9506fed4657c9700eebdbe"));
        assert!(!verify(&r, b""));
        assert!(!verify(&r, &[0xff; 200]));
    }
}
