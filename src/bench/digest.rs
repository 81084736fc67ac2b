//! The UAC's answer to a digest challenge (RFC 3261 §22.4, RFC 2617
//! §3.2.2, RFC 7616, RFC 8760): the cnonce and nonce count of each answer
//! and the text of the Authorization or Proxy-Authorization header. The
//! digest itself is computed by [`crate::digest`]. No I/O.

use core::cell::Cell;

use super::flow::uac::DigestSigner;
use crate::digest::{self, Algorithm, Ha1, Qop};
use crate::sip::credentials::Challenge;

/// A [`DigestSigner`] for a list of users and their passwords (`--user`
/// and `--password`, or `--users FILE`), for any realm, with the
/// algorithms `SHA-256`, `SHA-256-sess`, `MD5` and `MD5-sess`.
///
/// Each signature takes the next nonce count and a fresh cnonce derived
/// from `seed` and that count, so two workers with different seeds never
/// repeat a cnonce.
#[derive(Debug)]
pub struct Signer {
    users: Vec<(String, String)>,
    seed: u64,
    count: Cell<u32>,
}

impl Signer {
    /// A signer for `users` (username, password); `seed` makes its
    /// cnonces unique. Calls take the users in turn; an empty list signs
    /// nothing.
    pub fn new(users: Vec<(String, String)>, seed: u64) -> Signer {
        Signer {
            users,
            seed,
            count: Cell::new(0),
        }
    }
}

impl DigestSigner for Signer {
    fn users(&self) -> usize {
        self.users.len()
    }

    fn user(&self, i: usize) -> &str {
        self.users.get(i).map_or("", |(u, _)| u.as_str())
    }

    fn sign(
        &self,
        user: usize,
        challenge: &Challenge<'_>,
        method: &[u8],
        uri: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let Some((user, password)) = self.users.get(user) else {
            return false;
        };
        let (Some(realm), Some(nonce)) = (challenge.realm(), challenge.nonce()) else {
            return false;
        };
        let Some(alg) = Algorithm::from_param(challenge.algorithm()) else {
            return false;
        };
        let offers_auth = challenge.qop().map(|q| {
            q.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"auth"))
        });
        if offers_auth == Some(false) || (alg.is_sess() && offers_auth.is_none()) {
            // Only auth-int is offered, or -sess without qop.
            return false;
        }
        let n = self.count.get().wrapping_add(1);
        self.count.set(n);
        let mut nc = [0u8; 8];
        let mut cnonce = [0u8; 16];
        hex(u64::from(n), &mut nc);
        hex(
            self.seed ^ u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            &mut cnonce,
        );
        let qop = offers_auth.map(|_| Qop {
            nc: &nc,
            cnonce: &cnonce,
        });
        let ha1 = Ha1::from_password(alg, user.as_bytes(), realm, password.as_bytes());
        let response = digest::response(alg, &ha1, nonce, qop, method, uri);
        out.extend_from_slice(b"Digest username=\"");
        quoted(out, user.as_bytes());
        out.extend_from_slice(b"\", realm=\"");
        out.extend_from_slice(realm);
        out.extend_from_slice(b"\", nonce=\"");
        out.extend_from_slice(nonce);
        out.extend_from_slice(b"\", uri=\"");
        out.extend_from_slice(uri);
        out.extend_from_slice(b"\", response=\"");
        out.extend_from_slice(response.as_bytes());
        out.extend_from_slice(b"\", algorithm=");
        out.extend_from_slice(alg.as_str().as_bytes());
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

/// The low `out.len()` hex digits of `n`, lower case, most significant
/// first.
fn hex(n: u64, out: &mut [u8]) {
    let len = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        let shift = 4 * (len - 1 - i);
        *o = b"0123456789abcdef"[((n >> shift) & 15) as usize];
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::credentials::Credentials;

    fn signer() -> Signer {
        Signer::new(
            vec![
                ("alice".into(), "secret".into()),
                ("bob".into(), "pw".into()),
            ],
            7,
        )
    }

    /// The response `cred` carries, recomputed from the password.
    fn recomputed(cred: &Credentials<'_>, password: &[u8], method: &[u8]) -> Vec<u8> {
        let alg = Algorithm::from_param(cred.algorithm()).unwrap();
        let ha1 = Ha1::from_password(
            alg,
            cred.username().unwrap(),
            cred.realm().unwrap(),
            password,
        );
        let qop = cred.qop().map(|_| Qop {
            nc: cred.nc().unwrap(),
            cnonce: cred.cnonce().unwrap(),
        });
        let uri = cred.uri().unwrap();
        digest::response(alg, &ha1, cred.nonce().unwrap(), qop, method, uri)
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn signs_a_sip_challenge_with_qop() {
        let s = signer();
        let ch = Challenge::parse(
            b"Digest realm=\"example.org\", nonce=\"abc\", qop=\"auth,auth-int\", opaque=\"xyz\"",
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(s.sign(0, &ch, b"REGISTER", b"sip:example.org", &mut out));
        let cred = Credentials::parse(&out).unwrap();
        assert!(cred.is_digest());
        assert_eq!(cred.username(), Some(&b"alice"[..]));
        assert_eq!(cred.realm(), Some(&b"example.org"[..]));
        assert_eq!(cred.nonce(), Some(&b"abc"[..]));
        assert_eq!(cred.uri(), Some(&b"sip:example.org"[..]));
        assert_eq!(cred.qop(), Some(&b"auth"[..]));
        assert_eq!(cred.nc(), Some(&b"00000001"[..]));
        assert_eq!(cred.opaque(), Some(&b"xyz"[..]));
        assert_eq!(cred.algorithm(), Some(&b"MD5"[..]));
        assert_eq!(
            cred.response(),
            Some(&recomputed(&cred, b"secret", b"REGISTER")[..])
        );
        // The next signature counts on and changes its cnonce.
        let first_cnonce = cred.cnonce().unwrap().to_vec();
        let mut again = Vec::new();
        assert!(s.sign(1, &ch, b"INVITE", b"sip:x@example.org", &mut again));
        let cred = Credentials::parse(&again).unwrap();
        assert_eq!(cred.username(), Some(&b"bob"[..]));
        assert_eq!(cred.nc(), Some(&b"00000002"[..]));
        assert_ne!(cred.cnonce(), Some(&first_cnonce[..]));
        assert_eq!(
            cred.response(),
            Some(&recomputed(&cred, b"pw", b"INVITE")[..])
        );
        assert_eq!((s.users(), s.user(1), s.user(2)), (2, "bob", ""));
    }

    #[test]
    fn every_supported_algorithm_and_the_refusals() {
        let s = signer();
        let mut out = Vec::new();
        for (alg, qop) in [
            ("SHA-256", ", qop=auth"),
            ("sha-256-sess", ", qop=auth"),
            ("MD5-sess", ", qop=\"auth\""),
            ("SHA-256", ""),
        ] {
            let text = format!("Digest realm=\"r\", nonce=\"n\", algorithm={alg}{qop}");
            let ch = Challenge::parse(text.as_bytes()).unwrap();
            assert!(s.sign(0, &ch, b"MESSAGE", b"sip:r", &mut out), "{text}");
            let cred = Credentials::parse(&out).unwrap();
            let named = Algorithm::parse(cred.algorithm().unwrap()).unwrap();
            assert_eq!(Algorithm::parse(alg.as_bytes()), Some(named));
            assert_eq!(cred.qop().is_some(), !qop.is_empty());
            assert_eq!(
                cred.response(),
                Some(&recomputed(&cred, b"secret", b"MESSAGE")[..])
            );
            assert_eq!(cred.response().unwrap().len(), 2 * named.digest_len());
        }
        for refused in [
            &b"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"[..],
            b"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"",
            b"Digest realm=\"r\"",
            b"Digest nonce=\"n\"",
            b"Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess",
        ] {
            let ch = Challenge::parse(refused).unwrap();
            assert!(
                !s.sign(0, &ch, b"REGISTER", b"sip:r", &mut out),
                "{refused:?}"
            );
            assert!(out.is_empty());
        }
        let ch = Challenge::parse(b"Digest realm=\"r\", nonce=\"n\"").unwrap();
        assert!(!s.sign(2, &ch, b"REGISTER", b"sip:r", &mut out));
        let quoting = Signer::new(vec![("a\"b\\c".into(), "p".into())], 1);
        assert!(quoting.sign(0, &ch, b"REGISTER", b"sip:r", &mut out));
        assert!(out.starts_with(b"Digest username=\"a\\\"b\\\\c\", realm=\"r\""));
    }
}
