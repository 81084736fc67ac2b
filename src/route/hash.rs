//! The fixed 64-bit hashing behind rendezvous balancing. No I/O.
//!
//! Everything here is part of the wire-visible behaviour of a deployment:
//! two proxies with the same upstream list send a call to the same upstream
//! only if they hash identically. So the functions use fixed constants, no
//! per-process seed, and only integer operations plus basic IEEE-754
//! arithmetic (no `libm`), which makes results bit-identical across
//! processes, restarts, CPUs and operating systems. Changing any constant
//! moves calls between upstreams on upgrade; the golden-value test below
//! exists to make such a change deliberate.
//!
//! * [`CallHash::of`] hashes a Call-ID: 8-byte little-endian words folded
//!   with a 64×64→128-bit multiply (the "folded multiply" of wyhash-style
//!   hashes), the length mixed in first, then a SplitMix64 finalizer.
//! * A destination key is the same byte hash, with another seed, of the
//!   destination's address family, IP octets, port and transport
//!   ([`destination_key`]).
//! * The per-(call, destination) score hash is the SplitMix64 finalizer of
//!   `call ^ key`; for one call it is a bijection of the key, so distinct
//!   destinations never tie.

use std::net::{IpAddr, SocketAddr};

use crate::sip::Transport;

/// 2^64 divided by the golden ratio (odd).
const K0: u64 = 0x9e37_79b9_7f4a_7c15;
/// A 64-bit odd constant with balanced bits (from wyhash's parameter set).
const K1: u64 = 0xa076_1d64_78bd_642f;
/// Seed for Call-ID hashing.
const SEED_CALL: u64 = 0x2d35_8dcc_aa6c_78a5;
/// Seed for destination keys.
const SEED_DEST: u64 = 0x8bb8_4b93_962e_acc9;

/// The 64-bit hash of a Call-ID, computed once per message and combined with
/// each destination's key by [`Group::pick_hashed`](super::Group::pick_hashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallHash(pub u64);

impl CallHash {
    /// Hashes a Call-ID value (the bytes as they appear in the header,
    /// compared exactly: Call-IDs are case-sensitive, RFC 3261 §20.8).
    #[inline]
    pub fn of(call_id: &[u8]) -> CallHash {
        CallHash(hash_bytes(SEED_CALL, call_id))
    }
}

/// The stable hash key of a destination: its address family, IP octets,
/// port (big-endian) and transport token, hashed with a fixed seed. Two
/// destinations with the same address and transport have the same key in
/// every process, which is what keeps calls on the same upstream across
/// restarts and across proxies.
pub fn destination_key(addr: SocketAddr, transport: Transport) -> u64 {
    // 1 family byte + 16 address bytes + 2 port bytes + up to 4 transport bytes.
    let mut buf = [0u8; 24];
    let mut n = match addr.ip() {
        IpAddr::V4(ip) => {
            buf[0] = 4;
            buf[1..5].copy_from_slice(&ip.octets());
            5
        }
        IpAddr::V6(ip) => {
            buf[0] = 6;
            buf[1..17].copy_from_slice(&ip.octets());
            17
        }
    };
    buf[n..n + 2].copy_from_slice(&addr.port().to_be_bytes());
    n += 2;
    let t = transport.as_param().as_bytes();
    let t = &t[..t.len().min(buf.len() - n)];
    buf[n..n + t.len()].copy_from_slice(t);
    n += t.len();
    hash_bytes(SEED_DEST, &buf[..n])
}

/// The rendezvous hash of one (call, destination) pair.
#[inline]
pub(crate) fn score_hash(call: CallHash, key: u64) -> u64 {
    mix64(call.0 ^ key)
}

/// Maps a 64-bit hash to `u` uniform in (0, 1) and returns `-ln(u)`, which
/// is positive and finite. The top 52 bits give `u = (2k + 1) / 2^53`,
/// exactly representable and never 0 or 1; the logarithm is computed with
/// basic arithmetic only (see the module docs), to a relative error
/// below 1e-13.
#[inline]
pub(crate) fn neg_ln_unit(h: u64) -> f64 {
    let odd = ((h >> 12) << 1) | 1; // in [1, 2^53)
                                    // odd = m * 2^p with m in [1, 2), so u = odd * 2^-53 = m * 2^(p - 53).
                                    // Build m's bits directly: the bits below the leading one become the
                                    // mantissa (odd < 2^53, so lz >= 11 and the shift is 0..=52).
    let lz = odd.leading_zeros();
    let p = 63 - lz as i32;
    let mut bits = ((odd << (lz - 11)) & ((1 << 52) - 1)) | (1023 << 52);
    // Fold m into [sqrt(1/2), sqrt(2)] without a branch (for positive
    // floats the bit patterns order like the values): halve m by lowering
    // its exponent, and count that in e.
    let big = u64::from(bits > core::f64::consts::SQRT_2.to_bits());
    bits -= big << 52;
    let e = p - 53 + big as i32;
    let m = f64::from_bits(bits);
    // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716, z = s^2 <=
    // 0.0295: eight terms of the odd series (coefficients 1/(2k+1)) leave a
    // relative truncation error below 1e-13. Estrin's scheme keeps the
    // dependency chain short.
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let z2 = z * z;
    let z4 = z2 * z2;
    let p01 = 1.0 + z * (1.0 / 3.0);
    let p23 = 1.0 / 5.0 + z * (1.0 / 7.0);
    let p45 = 1.0 / 9.0 + z * (1.0 / 11.0);
    let p67 = 1.0 / 13.0 + z * (1.0 / 15.0);
    let series = (p01 + z2 * p23) + z4 * (p45 + z2 * p67);
    let ln_m = 2.0 * s * series;
    -(f64::from(e) * core::f64::consts::LN_2 + ln_m)
}

/// The byte hash: length first, then 8-byte little-endian words (the last
/// one zero-padded), each folded in with a 128-bit multiply, then finalized.
fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K0);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = fold_mul(h ^ u64::from_le_bytes(a), K1);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut a = [0u8; 8];
        a[..tail.len()].copy_from_slice(tail);
        h = fold_mul(h ^ u64::from_le_bytes(a), K1);
    }
    mix64(h)
}

/// The high and low halves of the 128-bit product, XORed together.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The SplitMix64 finalizer (a bijection on u64 with full avalanche).
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_values_never_change() {
        // If this fails, calls move between upstreams on upgrade. Only
        // update the values on purpose, and say so in the release notes.
        let got = [
            CallHash::of(b"").0,
            CallHash::of(b"a").0,
            CallHash::of(b"a84b4c76e66710@pc33.atlanta.com").0,
            destination_key("10.0.0.1:5060".parse().unwrap(), Transport::Udp),
            destination_key("[2001:db8::1]:5070".parse().unwrap(), Transport::Tcp),
        ];
        let want: [u64; 5] = GOLDEN;
        assert_eq!(got, want, "got {got:#018x?}");
    }

    const GOLDEN: [u64; 5] = [
        0x196d_3564_d8c2_5634,
        0x8621_22a0_6fc9_86c4,
        0x9de6_28f7_591b_e7f2,
        0x9b22_e832_bf62_e3a1,
        0x70a2_53a9_23dc_7f13,
    ];

    #[test]
    fn hash_depends_on_every_byte_and_the_length() {
        let base = CallHash::of(b"0123456789abcdef-xyz");
        for i in 0..20 {
            let mut v = b"0123456789abcdef-xyz".to_vec();
            v[i] ^= 1;
            assert_ne!(CallHash::of(&v), base, "byte {i}");
        }
        assert_ne!(CallHash::of(b"ab"), CallHash::of(b"ab\0"));
        assert_ne!(CallHash::of(b""), CallHash::of(b"\0"));
    }

    #[test]
    fn keys_differ_by_port_transport_and_family() {
        let a: SocketAddr = "10.0.0.1:5060".parse().unwrap();
        let b: SocketAddr = "10.0.0.1:5061".parse().unwrap();
        let c: SocketAddr = "[::ffff:10.0.0.1]:5060".parse().unwrap();
        let ka = destination_key(a, Transport::Udp);
        assert_ne!(ka, destination_key(b, Transport::Udp));
        assert_ne!(ka, destination_key(a, Transport::Tcp));
        assert_ne!(ka, destination_key(c, Transport::Udp));
    }

    #[test]
    fn neg_ln_matches_libm() {
        let mut x = 0x1234_5678_9abc_def0_u64;
        let mut probes = vec![0, 1, u64::MAX, 1 << 63, (1 << 63) - 1, 1 << 12, 3 << 62];
        for _ in 0..100_000 {
            x = mix64(x.wrapping_add(K0));
            probes.push(x);
        }
        for h in probes {
            let u = (((h >> 12) << 1) | 1) as f64 / (1u64 << 53) as f64;
            let want = -u.ln();
            let got = neg_ln_unit(h);
            assert!(got > 0.0 && got.is_finite(), "{h:#x}");
            let rel = ((got - want) / want).abs();
            assert!(
                rel < 1e-13,
                "h={h:#x} u={u} got={got} want={want} rel={rel}"
            );
        }
    }

    #[test]
    fn neg_ln_is_monotone_in_the_hash() {
        // Larger hash -> larger u -> smaller -ln u; the equal-weight fast
        // path in `Group` relies on this ordering.
        let mut prev = f64::INFINITY;
        for i in 0..100_000u64 {
            let h = (i << 44) | (i << 12);
            let v = neg_ln_unit(h);
            assert!(v <= prev, "i={i}");
            prev = v;
        }
    }
}
