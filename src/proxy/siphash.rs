//! SipHash (Aumasson & Bernstein), the keyed hash behind local To-tags,
//! the stream-connection check in our Via and key derivation (the branch
//! itself uses the faster `fold` hash next to this module): SipHash-1-3,
//! the variant Rust's std uses for HashMap, with the round counts as
//! parameters so the implementation is checked against the paper's
//! SipHash-2-4 vector. No I/O.
//!
//! Hand-written because the result must be identical on every worker, every
//! restart and every node of a cluster that shares the branch secret: std's
//! `SipHasher` is deprecated, and ahash's output depends on the CPU and the
//! crate version.

/// A 128-bit key (of SipHash and of the branch hash).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material.
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from its two 64-bit halves.
    pub const fn new(k0: u64, k1: u64) -> Key {
        Key { k0, k1 }
    }

    /// The key's 16 bytes, to derive other keys from (the digest nonces'):
    /// every node that shares the branch secret derives the same ones.
    pub fn derive_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.k0.to_le_bytes());
        b[8..].copy_from_slice(&self.k1.to_le_bytes());
        b
    }

    /// The two 64-bit halves, for the other keyed hashes of this crate.
    pub(crate) const fn halves(&self) -> (u64, u64) {
        (self.k0, self.k1)
    }

    /// Derives a key from a secret of any length (a passphrase or the
    /// contents of a secret file) by hashing it under two fixed keys.
    pub fn from_secret(secret: &[u8]) -> Key {
        let mut a = Hasher::new(Key::new(0x6272_616e_6368_6c69, 0x6e65_2d6b_6579_2d30));
        a.write(secret);
        let mut b = Hasher::new(Key::new(0x6272_616e_6368_6c69, 0x6e65_2d6b_6579_2d31));
        b.write(secret);
        Key::new(a.finish(), b.finish())
    }
}

/// A streaming SipHash state with `C` compression and `D` finalization
/// rounds.
#[derive(Clone)]
pub struct SipHasher<const C: usize, const D: usize> {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    len: usize,
}

/// SipHash-1-3: what branches and tags use.
pub type Hasher = SipHasher<1, 3>;

impl<const C: usize, const D: usize> SipHasher<C, D> {
    /// A fresh state under `key`.
    #[inline]
    pub fn new(key: Key) -> Self {
        SipHasher {
            v: [
                key.k0 ^ 0x736f_6d65_7073_6575,
                key.k1 ^ 0x646f_7261_6e64_6f6d,
                key.k0 ^ 0x6c79_6765_6e65_7261,
                key.k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13);
        v[1] ^= v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16);
        v[3] ^= v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21);
        v[3] ^= v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17);
        v[1] ^= v[2];
        v[2] = v[2].rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..C {
            Self::round(&mut self.v);
        }
        self.v[0] ^= m;
    }

    /// Feeds bytes. The tail is filled and drained with whole-word loads,
    /// not byte by byte; the result depends only on the bytes fed.
    #[inline(always)]
    pub fn write(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len());
        if self.ntail != 0 {
            let need = 8 - self.ntail;
            if data.len() < need {
                self.tail |= load_le(data) << (8 * self.ntail);
                self.ntail += data.len();
                return;
            }
            let (head, rest) = data.split_at(need);
            let m = self.tail | (load_le(head) << (8 * self.ntail));
            self.compress(m);
            self.tail = 0;
            self.ntail = 0;
            data = rest;
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.compress(u64::from_le_bytes(w));
        }
        // The tail is empty here: either it was, or it was just drained.
        self.tail = load_le(chunks.remainder());
        self.ntail = chunks.remainder().len();
    }

    /// Feeds one byte.
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.len = self.len.wrapping_add(1);
        self.tail |= u64::from(b) << (8 * self.ntail);
        self.ntail += 1;
        if self.ntail == 8 {
            let m = self.tail;
            self.compress(m);
            self.tail = 0;
            self.ntail = 0;
        }
    }

    /// Feeds a field followed by a separator byte that cannot be confused
    /// with field contents, so ("ab","c") and ("a","bc") hash apart.
    #[inline]
    pub fn field(&mut self, data: &[u8]) {
        self.write(data);
        self.byte(0xff);
    }

    /// The 64-bit hash.
    #[inline]
    pub fn finish(mut self) -> u64 {
        let b = ((self.len as u64 & 0xff) << 56) | self.tail;
        self.compress(b);
        self.v[2] ^= 0xff;
        for _ in 0..D {
            Self::round(&mut self.v);
        }
        self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3]
    }
}

/// Up to 7 bytes as a little-endian word (the rest zero), with at most
/// three loads.
#[inline(always)]
fn load_le(b: &[u8]) -> u64 {
    let mut out = 0u64;
    let mut i = 0;
    if let Some(w) = b.first_chunk::<4>() {
        out = u64::from(u32::from_le_bytes(*w));
        i = 4;
    }
    if let Some(w) = b.get(i..).and_then(|r| r.first_chunk::<2>()) {
        out |= u64::from(u16::from_le_bytes(*w)) << (8 * i);
        i += 2;
    }
    if let Some(&x) = b.get(i) {
        out |= u64::from(x) << (8 * i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_key() -> Key {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        Key::new(
            u64::from_le_bytes(k[..8].try_into().unwrap()),
            u64::from_le_bytes(k[8..].try_into().unwrap()),
        )
    }

    #[test]
    fn reference_vector() {
        // The SipHash paper's appendix: key 00..0f, message 00..0e.
        let msg: Vec<u8> = (0u8..15).collect();
        let mut h = SipHasher::<2, 4>::new(reference_key());
        h.write(&msg);
        assert_eq!(h.finish(), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn streaming_equals_one_shot() {
        let msg: Vec<u8> = (0u8..200).collect();
        let mut one = Hasher::new(reference_key());
        one.write(&msg);
        let one = one.finish();
        for split in [0, 1, 7, 8, 9, 63, 199] {
            for split2 in [split, split + 1, 200.min(split + 13)] {
                let mut h = Hasher::new(reference_key());
                h.write(&msg[..split]);
                h.write(&msg[split..split2.min(200)]);
                h.write(&msg[split2.min(200)..]);
                assert_eq!(h.finish(), one, "split {split} {split2}");
            }
        }
    }

    #[test]
    fn any_chunking_equals_one_shot() {
        let msg: Vec<u8> = (0u8..61).map(|b| b.wrapping_mul(37)).collect();
        let mut one = Hasher::new(reference_key());
        one.write(&msg);
        let one = one.finish();
        for size in 1..=17 {
            let mut h = Hasher::new(reference_key());
            for c in msg.chunks(size) {
                h.write(c);
            }
            assert_eq!(h.finish(), one, "chunks of {size}");
        }
        let mut f = Hasher::new(reference_key());
        f.field(&msg[..5]);
        f.field(&msg[5..]);
        let mut w = Hasher::new(reference_key());
        w.write(&msg[..5]);
        w.write(&[0xff]);
        w.write(&msg[5..]);
        w.write(&[0xff]);
        assert_eq!(f.finish(), w.finish());
    }

    #[test]
    fn secret_derivation_is_stable_and_separates() {
        assert_eq!(Key::from_secret(b"abc"), Key::from_secret(b"abc"));
        assert_ne!(Key::from_secret(b"abc"), Key::from_secret(b"abd"));
        assert_eq!(format!("{:?}", Key::from_secret(b"abc")), "Key(..)");
    }
}
