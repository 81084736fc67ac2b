//! The crate's one random number generator: xorshift64*, seeded by
//! the caller, so a run given the same seed draws the same numbers (the
//! load generator's numbers, the prober's tokens and jitter). Fast
//! and small, not cryptographic. No I/O.

/// xorshift64* (Vigna, 2016): a 64-bit state, a period of 2^64 − 1.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`, any value: the seed goes through
    /// the splitmix64 finalizer, so neighbouring seeds (1, 2, 3) start far
    /// apart, and a zero state (which xorshift never leaves) is avoided.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 0x9e37_79b9_7f4a_7c15 } else { z })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `0..n` (`n` ≥ 1), by multiply-and-shift: the bias is at
    /// most `n / 2^64`.
    pub fn below(&mut self, n: u32) -> u32 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        // Neighbouring seeds draw different numbers; zero is a seed too.
        let firsts: Vec<u64> = (0..4).map(|s| Rng::new(s).next_u64()).collect();
        for (i, a) in firsts.iter().enumerate() {
            assert!(firsts[i + 1..].iter().all(|b| b != a), "{firsts:?}");
        }
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
    }

    #[test]
    fn below_and_unit_stay_in_range() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            assert_eq!(r.below(1), 0);
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
