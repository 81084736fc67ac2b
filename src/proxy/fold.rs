//! A keyed folded-multiply hash for the branch parameter's transaction and
//! loop parts: 16 bytes per 64×64→128-bit multiply, where SipHash-1-3 needs
//! a round of 14 operations for every 8 bytes. No I/O.
//!
//! Why not SipHash here: the branch parts need determinism (the same value
//! on every worker, restart and node that shares the key) and a low chance
//! of two different requests meeting, not a pseudo-random function. Whoever
//! can make two requests collide already controls both: the inputs are the
//! request's own Via, tags, Call-ID and Route values, so a sender who wants
//! another transaction's branch can simply repeat that transaction's top
//! Via. The To-tags of local replies and the stream-connection check value
//! (`bl=`) stay on SipHash, where a forger must not be able to compute them.
//!
//! Each field is absorbed with its length, so field boundaries count:
//! ("ab", "c") and ("a", "bc") hash apart. Words are read little-endian
//! whatever the host, so the result is the same on every platform.

use super::siphash::Key;

/// Odd constants from the fractional digits of π, to keep multiplications
/// by small or zero words away from zero.
const P0: u64 = 0x243f_6a88_85a3_08d3;
const P1: u64 = 0x1319_8a2e_0370_7344;
const P2: u64 = 0xa409_3822_299f_31d1;

/// The 128-bit product of `a` and `b`, its halves XOR-ed together.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// The little-endian word at `at` (8 bytes, in bounds by the caller's
/// checks; zero otherwise, which the length mix then tells apart).
#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..)
        .and_then(|r| r.first_chunk::<8>())
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// The little-endian half-word at `at`.
#[inline(always)]
fn half(b: &[u8], at: usize) -> u64 {
    b.get(at..)
        .and_then(|r| r.first_chunk::<4>())
        .map_or(0, |w| u64::from(u32::from_le_bytes(*w)))
}

/// A streaming keyed hash of length-delimited fields.
pub(crate) struct Fold {
    acc: u64,
    k0: u64,
    k1: u64,
}

impl Fold {
    /// A fresh state under `key`, separated by `domain` from the other uses
    /// of the same key.
    #[inline(always)]
    pub fn new(key: Key, domain: u64) -> Fold {
        let (k0, k1) = key.halves();
        Fold {
            acc: fold_mul(k0 ^ domain ^ P0, k1 ^ P1),
            k0: k0 ^ P2,
            k1: k1 ^ P0,
        }
    }

    /// Absorbs one field and its length.
    #[inline(always)]
    pub fn field(&mut self, b: &[u8]) {
        let n = b.len();
        let (lo, hi) = if n <= 16 {
            // Two overlapping reads cover 4..=16 bytes; the length, mixed
            // in below, tells the overlaps apart.
            if n >= 8 {
                (word(b, 0), word(b, n - 8))
            } else if n >= 4 {
                (half(b, 0), half(b, n - 4))
            } else if let (Some(&f), Some(&l)) = (b.first(), b.last()) {
                let mid = b.get(n / 2).copied().unwrap_or(0);
                (u64::from(f) | u64::from(mid) << 8 | u64::from(l) << 16, 0)
            } else {
                (0, 0)
            }
        } else {
            let mut at = 0;
            while n - at > 16 {
                self.acc = fold_mul(word(b, at) ^ self.k0, word(b, at + 8) ^ self.k1 ^ self.acc);
                at += 16;
            }
            // The last 16 bytes, overlapping what the loop read.
            (word(b, n - 16), word(b, n - 8))
        };
        self.acc = fold_mul(
            lo ^ self.k0 ^ (n as u64).rotate_left(32),
            hi ^ self.k1 ^ self.acc,
        );
    }

    /// Absorbs a 32-bit number as a field.
    #[inline(always)]
    pub fn u32(&mut self, v: u32) {
        self.field(&v.to_le_bytes());
    }

    /// The 64-bit hash: the state mixed twice more, so every input bit
    /// reaches both halves.
    #[inline(always)]
    pub fn finish(self) -> u64 {
        let a = fold_mul(self.acc ^ self.k1, P1 ^ self.k0);
        fold_mul(a ^ P2, self.acc ^ P0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Key = Key::new(0x0102_0304_0506_0708, 0x1112_1314_1516_1718);

    fn hash(fields: &[&[u8]]) -> u64 {
        let mut f = Fold::new(KEY, 7);
        for x in fields {
            f.field(x);
        }
        f.finish()
    }

    #[test]
    fn pinned_values() {
        // Nodes of a cluster running different builds must agree: these
        // change only with the algorithm, never with the platform.
        assert_eq!(hash(&[]), 0xa865_2762_28fa_cfed);
        assert_eq!(hash(&[b""]), 0x99e9_d3c2_27f9_8bc3);
        assert_eq!(
            hash(&[b"z9hG4bK776asdhds", b"198.51.100.7"]),
            0xef80_2fd8_e687_9651
        );
        let long: Vec<u8> = (0u8..=200).collect();
        assert_eq!(hash(&[&long]), 0x8c76_5ce9_ebe3_72b2);
    }

    #[test]
    fn every_byte_and_length_counts() {
        let base: Vec<u8> = (0u8..64)
            .map(|b| b.wrapping_mul(29).wrapping_add(3))
            .collect();
        for n in 0..=base.len() {
            let msg = &base[..n];
            let h = hash(&[msg]);
            for i in 0..n {
                for bit in 0..8 {
                    let mut m = msg.to_vec();
                    m[i] ^= 1 << bit;
                    assert_ne!(hash(&[&m]), h, "length {n}, byte {i}, bit {bit}");
                }
            }
            // A zero byte appended is a different field.
            let mut longer = msg.to_vec();
            longer.push(0);
            assert_ne!(hash(&[&longer]), h, "length {n} + a zero byte");
        }
    }

    #[test]
    fn field_boundaries_count() {
        let msg: &[u8] = b"sip:+15551234567@carrier.example.net;user=phone";
        let whole = hash(&[msg]);
        let mut seen = std::collections::HashSet::new();
        seen.insert(whole);
        for cut in 0..=msg.len() {
            let (a, b) = msg.split_at(cut);
            assert!(seen.insert(hash(&[a, b])), "cut at {cut}");
        }
    }

    #[test]
    fn key_and_domain_separate() {
        let msg: &[&[u8]] = &[b"a84b4c76e66710@pc33.atlanta.example.com"];
        let mut other = Fold::new(Key::new(0x0102_0304_0506_0708, 0x1112_1314_1516_1719), 7);
        other.field(msg[0]);
        assert_ne!(other.finish(), hash(msg));
        let mut domain = Fold::new(KEY, 8);
        domain.field(msg[0]);
        assert_ne!(domain.finish(), hash(msg));
    }

    #[test]
    fn spreads_sequential_inputs_evenly() {
        // Call-IDs that differ in a counter land evenly in 64 buckets, by
        // the top bits (the loop part) and the bottom bits alike.
        const N: u32 = 64_000;
        let mut top = [0u32; 64];
        let mut bottom = [0u32; 64];
        for i in 0..N {
            let id = format!("{i}-call@host.example");
            let h = hash(&[id.as_bytes()]);
            top[(h >> 58) as usize] += 1;
            bottom[(h & 63) as usize] += 1;
        }
        // Chi-square with 63 degrees of freedom: 110 is far in the tail
        // (p < 0.0002) for a uniform spread.
        for counts in [top, bottom] {
            let e = f64::from(N) / 64.0;
            let chi: f64 = counts.iter().map(|&c| (f64::from(c) - e).powi(2) / e).sum();
            assert!(chi < 110.0, "chi-square {chi}: {counts:?}");
        }
    }
}
