//! HTTP digest authentication as SIP uses it (RFC 3261 §22, RFC 2617
//! §3.2.2, RFC 7616, RFC 8760): the one place where digests are computed,
//! shared by the load generator's UAC signer and the proxy's authenticator.
//! No I/O (except [`Users::load`], which reads the users file), no
//! allocation per message, and no panic on any input.
//!
//! - [`Algorithm`]: `MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess`.
//! - [`Ha1`]: `H(user:realm:password)`, from a password or from the hex a
//!   users file holds; [`response`] computes the `response` parameter from
//!   it (with `qop=auth`, or in the RFC 2069 form without qop) into a
//!   [`ResponseHex`] on the stack, and [`verify`] compares a received one
//!   in constant time ([`constant_time_eq`]).
//! - [`NonceKey`]: stateless nonces, a timestamp with a truncated
//!   HMAC-SHA256 ([`NonceKey::mint`], [`NonceKey::check`]).
//! - [`Users`]: the users file (`user,password` or
//!   `user,md5:HA1_HEX[,sha256:HA1_HEX]`), with every HA1 computed at load.
//!
//! The primitives are RustCrypto's `md-5`, `sha2` and `hmac`.

mod compute;
mod nonce;
mod users;

pub use compute::{response, verify, Algorithm, Ha1, Qop, ResponseHex};
pub use nonce::{Nonce, NonceCheck, NonceKey, NONCE_LEN};
pub use users::{user_lines, Secret, UserLine, Users};

/// Compares two byte strings in time that depends only on their lengths,
/// not on where they differ. Use it for every comparison involving a secret
/// (digest responses, MACs, shared keys). Lengths are not hidden: compare
/// values of a fixed length, such as hex digests.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        // black_box keeps the optimizer from turning the loop into an
        // early-exit comparison.
        diff = core::hint::black_box(diff | (x ^ y));
    }
    diff == 0
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lower-case hex into `out` (which holds twice as many
/// bytes; extra input is ignored).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 15)];
    }
}

/// The value of one hex digit (either case).
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes `hex` (even length, either case) into `out`, which must be
/// exactly half as long. False on any other input.
fn hex_decode(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != 2 * out.len() {
        return false;
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(hi), Some(lo)) => *o = hi << 4 | lo,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_helpers() {
        let mut out = [0u8; 6];
        hex_into(&[0x00, 0xab, 0xff], &mut out);
        assert_eq!(&out, b"00abff");
        let mut back = [0u8; 3];
        assert!(hex_decode(b"00ABff", &mut back));
        assert_eq!(back, [0x00, 0xab, 0xff]);
        assert!(!hex_decode(b"00abf", &mut back));
        assert!(!hex_decode(b"00abfg", &mut back));
        assert!(!hex_decode(b"", &mut back));
    }

    #[test]
    fn constant_time_eq_needs_equal_lengths_and_bytes() {
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
        assert!(!constant_time_eq(b"\xff", b"\x7f"));
    }
}
