//! Stateless nonces (RFC 7616 §3.3 leaves their form to the server): the
//! server keeps no table, a nonce carries its own minting time and a MAC
//! that only the key's holder can make. No I/O: the time comes in.
//!
//! Format: [`NONCE_LEN`] (48) lower-case hex digits, printable in a
//! quoted-string and in a token:
//!
//! ```text
//! TTTTTTTTTTTTTTTT MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM
//! 16 digits: the    32 digits: the first 16 bytes of
//! Unix time in s    HMAC-SHA256(key, "bl-nonce-1" || T (8 bytes, big-endian)
//! (u64, big-endian)   || len(realm) (4 bytes) || realm || address)
//! ```
//!
//! where `address` is `0x00` when the nonce is not bound, `0x04` and the
//! four bytes of an IPv4 address, or `0x06` and the sixteen of an IPv6 one
//! (no spaces in the nonce; the diagram splits it for reading).

use core::fmt;
use std::net::IpAddr;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{constant_time_eq, hex_decode, hex_into};

/// The length of a nonce in characters.
pub const NONCE_LEN: usize = 48;

/// How far in the future a nonce's time may be (clock steps between the
/// nodes that share a key) before it is refused, in seconds.
const FUTURE_SLACK_SECS: u64 = 5;

/// Domain separation: what the MAC is for, and the format's version.
const LABEL: &[u8] = b"bl-nonce-1";

/// The secret that mints and checks nonces. Every node that must accept
/// another's nonces holds the same key. `Debug` does not print it.
#[derive(Clone)]
pub struct NonceKey {
    /// The HMAC state keyed once, cloned per nonce.
    mac: Hmac<Sha256>,
}

/// A nonce as minted: [`NONCE_LEN`] lower-case hex digits on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Nonce([u8; NONCE_LEN]);

/// What [`NonceKey::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Minted by this key for this realm (and address), within the
    /// lifetime.
    Fresh,
    /// Minted by this key, but older than the lifetime: challenge again
    /// with `stale=true` (RFC 7616 §3.3), the client need not ask its
    /// user for the password.
    Stale,
    /// Not a nonce of this key for this realm and address: malformed,
    /// forged, bound to another address, or from more than a few seconds
    /// in the future. Challenge again without `stale`.
    Invalid,
}

impl NonceKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(key: [u8; 32]) -> NonceKey {
        // HMAC pads a key shorter than the block with zeros, so the
        // 64-byte block below is the same key; `new` on a block-sized key
        // cannot fail.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&key);
        NonceKey {
            mac: <Hmac<Sha256> as KeyInit>::new(&block.into()),
        }
    }

    /// A key derived from a secret of any length (e.g. the contents of a
    /// secret file): `HMAC-SHA256(secret, "bl-nonce-key")`.
    pub fn derive(secret: &[u8]) -> NonceKey {
        let mut block = [0u8; 64];
        if secret.len() <= block.len() {
            block[..secret.len()].copy_from_slice(secret);
        } else {
            // HMAC's own rule for a key longer than the block.
            use sha2::Digest as _;
            block[..32].copy_from_slice(&Sha256::digest(secret));
        }
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
        mac.update(b"bl-nonce-key");
        NonceKey::from_bytes(mac.finalize().into_bytes().into())
    }

    /// A nonce minted at `now_unix_secs` for `realm`, bound to the client's
    /// address when `bound_to` is given (it is then only accepted from
    /// there). Deterministic: the same inputs give the same nonce.
    pub fn mint(&self, now_unix_secs: u64, realm: &[u8], bound_to: Option<IpAddr>) -> Nonce {
        let mut out = [0u8; NONCE_LEN];
        hex_into(&now_unix_secs.to_be_bytes(), &mut out[..16]);
        hex_into(&self.tag(now_unix_secs, realm, bound_to), &mut out[16..]);
        Nonce(out)
    }

    /// Checks a nonce from credentials (unquoted) at `now_unix_secs`: see
    /// [`NonceCheck`]. `realm` and `bound_to` must be what it was minted
    /// with; the MAC is compared in constant time. Any bytes are accepted
    /// as input.
    pub fn check(
        &self,
        nonce: &[u8],
        now_unix_secs: u64,
        lifetime_secs: u64,
        realm: &[u8],
        bound_to: Option<IpAddr>,
    ) -> NonceCheck {
        let (Some(time_hex), Some(mac_hex)) = (nonce.get(..16), nonce.get(16..)) else {
            return NonceCheck::Invalid;
        };
        let mut time = [0u8; 8];
        if nonce.len() != NONCE_LEN || !is_lower_hex(nonce) || !hex_decode(time_hex, &mut time) {
            return NonceCheck::Invalid;
        }
        let minted = u64::from_be_bytes(time);
        let mut want = [0u8; 32];
        hex_into(&self.tag(minted, realm, bound_to), &mut want);
        if !constant_time_eq(&want, mac_hex) {
            return NonceCheck::Invalid;
        }
        if minted > now_unix_secs.saturating_add(FUTURE_SLACK_SECS) {
            NonceCheck::Invalid
        } else if now_unix_secs.saturating_sub(minted) > lifetime_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Fresh
        }
    }

    /// The truncated MAC of a nonce's fields.
    fn tag(&self, time: u64, realm: &[u8], bound_to: Option<IpAddr>) -> [u8; 16] {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(&time.to_be_bytes());
        let realm_len = u32::try_from(realm.len()).unwrap_or(u32::MAX);
        mac.update(&realm_len.to_be_bytes());
        mac.update(realm);
        match bound_to {
            None => mac.update(&[0]),
            Some(IpAddr::V4(a)) => {
                mac.update(&[4]);
                mac.update(&a.octets());
            }
            Some(IpAddr::V6(a)) => {
                mac.update(&[6]);
                mac.update(&a.octets());
            }
        }
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&full[..16]);
        tag
    }
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

impl Nonce {
    /// The nonce's characters.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The nonce as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.as_str())
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_lower_hex(s: &[u8]) -> bool {
    s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const REALM: &[u8] = b"example.net";

    fn key() -> NonceKey {
        NonceKey::from_bytes([7; 32])
    }

    fn addr(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn format_is_time_then_mac() {
        let n = key().mint(NOW, REALM, None);
        assert_eq!(n.as_bytes().len(), NONCE_LEN);
        assert!(n.as_str().starts_with("000000006553f100"), "{n}");
        assert!(is_lower_hex(n.as_bytes()));
        assert_eq!(key().mint(NOW, REALM, None), n);
        assert_ne!(key().mint(NOW + 1, REALM, None), n);
        assert_ne!(NonceKey::from_bytes([8; 32]).mint(NOW, REALM, None), n);
        assert_eq!(format!("{:?}", key()), "NonceKey(..)");
    }

    #[test]
    fn fresh_until_the_lifetime_then_stale() {
        let k = key();
        let n = k.mint(NOW, REALM, None);
        assert_eq!(
            k.check(n.as_bytes(), NOW, 300, REALM, None),
            NonceCheck::Fresh
        );
        assert_eq!(
            k.check(n.as_bytes(), NOW + 300, 300, REALM, None),
            NonceCheck::Fresh
        );
        assert_eq!(
            k.check(n.as_bytes(), NOW + 301, 300, REALM, None),
            NonceCheck::Stale
        );
        assert_eq!(
            k.check(n.as_bytes(), u64::MAX, 300, REALM, None),
            NonceCheck::Stale
        );
        // A little clock skew between nodes is tolerated, more is not.
        assert_eq!(
            k.check(n.as_bytes(), NOW - 5, 300, REALM, None),
            NonceCheck::Fresh
        );
        assert_eq!(
            k.check(n.as_bytes(), NOW - 6, 300, REALM, None),
            NonceCheck::Invalid
        );
    }

    #[test]
    fn forged_other_realm_other_key_other_address() {
        let k = key();
        let n = k.mint(NOW, REALM, None);
        let check = |nonce: &[u8], realm: &[u8], bound| k.check(nonce, NOW, 300, realm, bound);
        assert_eq!(
            check(n.as_bytes(), b"example.org", None),
            NonceCheck::Invalid
        );
        let other = NonceKey::derive(b"another secret").mint(NOW, REALM, None);
        assert_eq!(check(other.as_bytes(), REALM, None), NonceCheck::Invalid);
        // A changed timestamp (to make an old nonce look fresh) breaks the MAC.
        let mut moved = n.0;
        moved[15] = b'1';
        assert_eq!(check(&moved, REALM, None), NonceCheck::Invalid);
        let mut flipped = n.0;
        flipped[40] = if flipped[40] == b'0' { b'1' } else { b'0' };
        assert_eq!(check(&flipped, REALM, None), NonceCheck::Invalid);
        // Upper case is not what we mint.
        let upper = n.as_str().to_ascii_uppercase();
        assert_eq!(check(upper.as_bytes(), REALM, None), NonceCheck::Invalid);

        let bound = k.mint(NOW, REALM, addr("192.0.2.1"));
        assert_eq!(
            check(bound.as_bytes(), REALM, addr("192.0.2.1")),
            NonceCheck::Fresh
        );
        assert_eq!(
            check(bound.as_bytes(), REALM, addr("192.0.2.2")),
            NonceCheck::Invalid
        );
        assert_eq!(
            check(bound.as_bytes(), REALM, addr("::ffff:192.0.2.1")),
            NonceCheck::Invalid
        );
        assert_eq!(check(bound.as_bytes(), REALM, None), NonceCheck::Invalid);
        assert_eq!(
            check(n.as_bytes(), REALM, addr("192.0.2.1")),
            NonceCheck::Invalid
        );
        let v6 = k.mint(NOW, REALM, addr("2001:db8::1"));
        assert_eq!(
            check(v6.as_bytes(), REALM, addr("2001:db8::1")),
            NonceCheck::Fresh
        );
        assert_eq!(
            check(v6.as_bytes(), REALM, addr("2001:db8::2")),
            NonceCheck::Invalid
        );
    }

    #[test]
    fn garbage_is_invalid_without_panic() {
        let k = key();
        let n = k.mint(NOW, REALM, None);
        let mut rng = crate::rng::Rng::new(3);
        let mut buf = Vec::new();
        for len in 0..200usize {
            buf.clear();
            for _ in 0..len {
                buf.push(rng.next_u64() as u8);
            }
            assert_eq!(k.check(&buf, NOW, 300, REALM, None), NonceCheck::Invalid);
        }
        let longer = [n.as_bytes(), b"0"].concat();
        let accents = "é".repeat(24);
        let bads: [&[u8]; 5] = [
            b"",
            &n.as_bytes()[..47],
            &longer,
            &[b'g'; NONCE_LEN],
            accents.as_bytes(),
        ];
        for bad in bads {
            assert_eq!(
                k.check(bad, NOW, 300, REALM, None),
                NonceCheck::Invalid,
                "{bad:?}"
            );
        }
        // The largest time there is: no overflow anywhere.
        let last = k.mint(u64::MAX, REALM, None);
        assert_eq!(
            k.check(last.as_bytes(), u64::MAX, 0, REALM, None),
            NonceCheck::Fresh
        );
        assert_eq!(
            k.check(last.as_bytes(), 0, u64::MAX, REALM, None),
            NonceCheck::Invalid
        );
    }
}
