//! The flood guard: a token bucket per source IP address, with a ban for a
//! source that overflows its bucket, in a table of fixed size. No I/O: the
//! caller passes the time in milliseconds.
//!
//! Each worker owns one [`Guard`] and asks it about every request before
//! anything parses the request ([`Guard::admit`]), so each message is
//! counted once whichever path it then takes, and no state is shared
//! between workers (the kernel spreads one source's flows over the workers
//! by its addresses and ports; a source that uses many ports can get up to
//! `rate` per worker through).
//!
//! The table is set-associative: an address hashes (with a key drawn at
//! start, so a sender cannot aim at one set) to a set of [`WAYS`] slots; a
//! new address takes a free slot of its set or evicts the one idle longest,
//! never a source under a running ban while another can go. Its memory is
//! fixed when it is built (about 48 bytes a slot), so a flood from spoofed
//! addresses recycles slots instead of growing it. A source evicted and
//! seen again starts with a full bucket: spoofed floods get `burst`
//! requests per address through, and no more than that.

use std::net::IpAddr;
use std::time::Duration;

use crate::cidr::CidrSet;

/// Slots per set.
pub const WAYS: usize = 8;

/// What the guard does with a request over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Drop it silently (the default: a flood gets nothing back).
    Drop,
    /// Answer `503 Service Unavailable` with `Retry-After`.
    Reject,
}

/// The guard's settings (`[guard]`).
#[derive(Debug, Clone)]
pub struct GuardSpec {
    /// Requests per second per source, 1 or more.
    pub rate: u32,
    /// Requests a source may send at once, 1 or more.
    pub burst: u32,
    /// How long a source that overflows is refused; zero: no ban, only the
    /// bucket limits it.
    pub ban: Duration,
    /// What a refused request gets.
    pub response: Response,
    /// Sources never limited.
    pub trusted: CidrSet,
    /// Most sources tracked at once, all workers together.
    pub max_sources: usize,
}

/// The guard's answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Let it through.
    Pass,
    /// Refuse it; the source may try again in this many seconds (at least 1).
    Refuse {
        /// Seconds until the bucket (or the ban) lets the source in again.
        retry_after: u32,
        /// True when this request started a ban.
        banned_now: bool,
    },
}

/// One tracked source.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The address as 16 bytes (IPv4 mapped); `used` says whether it holds one.
    addr: [u8; 16],
    used: bool,
    /// Thousandths of a request.
    tokens: u64,
    /// When the tokens were last counted (ms).
    last_ms: u64,
    /// Refused until then (ms); 0: not banned.
    banned_until: u64,
}

/// Counters of one guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Requests refused.
    pub refused: u64,
    /// Bans started.
    pub bans: u64,
    /// Sources evicted to make room.
    pub evicted: u64,
}

/// One worker's flood guard (see the module doc).
#[derive(Debug)]
pub struct Guard {
    rate: u64,
    burst: u64,
    ban_ms: u64,
    trusted: CidrSet,
    slots: Box<[Slot]>,
    sets: usize,
    hasher: ahash::RandomState,
    stats: GuardStats,
}

impl Guard {
    /// A guard with room for `capacity` sources (rounded up to whole sets),
    /// keyed by `seed`.
    pub fn new(spec: &GuardSpec, capacity: usize, seed: u64) -> Guard {
        let sets = capacity.div_ceil(WAYS).max(1);
        Guard {
            rate: u64::from(spec.rate.max(1)),
            burst: u64::from(spec.burst.max(1)),
            ban_ms: spec.ban.as_millis().min(u128::from(u64::MAX / 2)) as u64,
            trusted: spec.trusted.clone(),
            slots: vec![Slot::default(); sets * WAYS].into_boxed_slice(),
            sets,
            hasher: ahash::RandomState::with_seeds(seed, seed.rotate_left(17), !seed, 0x9e37_79b9),
            stats: GuardStats::default(),
        }
    }

    /// Counts one request from `ip` at `now_ms` (any monotonic clock in
    /// milliseconds) and says whether it may pass.
    pub fn admit(&mut self, ip: IpAddr, now_ms: u64) -> Admit {
        if self.trusted.contains(ip) {
            return Admit::Pass;
        }
        let addr = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let set = (self.hasher.hash_one(addr) as usize) % self.sets;
        let full = self.burst * 1000;
        let (rate, ban_ms) = (self.rate, self.ban_ms);
        let Some(ways) = self.slots.get_mut(set * WAYS..(set + 1) * WAYS) else {
            return Admit::Pass;
        };
        let i = match ways.iter().position(|s| s.used && s.addr == addr) {
            Some(i) => i,
            None => {
                // A free slot, else the one idle longest, sparing running bans.
                let i = ways
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, s)| (s.used, s.used && s.banned_until > now_ms, s.last_ms))
                    .map_or(0, |(i, _)| i);
                if ways[i].used {
                    self.stats.evicted += 1;
                }
                ways[i] = Slot {
                    addr,
                    used: true,
                    tokens: full,
                    last_ms: now_ms,
                    banned_until: 0,
                };
                i
            }
        };
        let s = &mut ways[i];
        let elapsed = now_ms.saturating_sub(s.last_ms);
        s.tokens = s
            .tokens
            .saturating_add(elapsed.saturating_mul(rate))
            .min(full);
        s.last_ms = now_ms.max(s.last_ms);
        if s.banned_until > now_ms {
            self.stats.refused += 1;
            return Admit::Refuse {
                retry_after: secs_until(s.banned_until - now_ms),
                banned_now: false,
            };
        }
        if s.tokens >= 1000 {
            s.tokens -= 1000;
            return Admit::Pass;
        }
        self.stats.refused += 1;
        if ban_ms > 0 {
            s.banned_until = now_ms + ban_ms;
            s.tokens = 0;
            self.stats.bans += 1;
            return Admit::Refuse {
                retry_after: secs_until(ban_ms),
                banned_now: true,
            };
        }
        // The wait for the next whole token.
        let wait_ms = (1000 - s.tokens).div_ceil(rate);
        Admit::Refuse {
            retry_after: secs_until(wait_ms),
            banned_now: false,
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> GuardStats {
        self.stats
    }

    /// Sources the table can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// Whole seconds covering `ms`, at least 1.
fn secs_until(ms: u64) -> u32 {
    ms.div_ceil(1000).clamp(1, u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cidr::Cidr;

    fn spec(rate: u32, burst: u32, ban_secs: u64) -> GuardSpec {
        GuardSpec {
            rate,
            burst,
            ban: Duration::from_secs(ban_secs),
            response: Response::Drop,
            trusted: CidrSet::new(vec!["10.0.0.0/8".parse::<Cidr>().unwrap()]),
            max_sources: 1000,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Requests sent evenly at `per_sec` for `secs` from one source: how
    /// many pass.
    fn passed(g: &mut Guard, who: IpAddr, per_sec: u64, secs: u64, start_ms: u64) -> u64 {
        let n = per_sec * secs;
        (0..n)
            .filter(|k| g.admit(who, start_ms + k * 1000 / per_sec) == Admit::Pass)
            .count() as u64
    }

    #[test]
    fn a_source_within_its_rate_is_never_refused() {
        let mut g = Guard::new(&spec(50, 100, 60), 1000, 1);
        assert_eq!(passed(&mut g, ip("192.0.2.1"), 50, 20, 0), 1000);
        assert_eq!(g.stats(), GuardStats::default());
    }

    #[test]
    fn a_flood_gets_at_most_rate_times_seconds_plus_burst() {
        // No ban: the bucket alone.
        let mut g = Guard::new(&spec(50, 100, 0), 1000, 2);
        let got = passed(&mut g, ip("192.0.2.1"), 10_000, 20, 0);
        assert!(got <= 50 * 20 + 100, "{got}");
        assert!(got >= 50 * 20, "{got}");
        // Another source is not affected.
        assert_eq!(passed(&mut g, ip("192.0.2.2"), 50, 5, 20_000), 250);
    }

    #[test]
    fn an_overflow_bans_the_source_then_it_comes_back() {
        let mut g = Guard::new(&spec(50, 100, 60), 1000, 3);
        let flooder = ip("2001:db8::66");
        let got = passed(&mut g, flooder, 10_000, 20, 0);
        assert_eq!(got, 100, "the burst, then banned for the rest");
        assert_eq!(g.stats().bans, 1);
        match g.admit(flooder, 20_000) {
            Admit::Refuse {
                retry_after,
                banned_now,
            } => {
                assert_eq!(
                    (retry_after, banned_now),
                    (41, false),
                    "banned at 10 ms for 60 s"
                );
            }
            Admit::Pass => panic!("banned source passed"),
        }
        // After the ban, it starts over with what the bucket refilled.
        assert_eq!(g.admit(flooder, 60_011), Admit::Pass);
    }

    #[test]
    fn trusted_sources_are_never_limited() {
        let mut g = Guard::new(&spec(1, 1, 60), 1000, 4);
        assert_eq!(passed(&mut g, ip("10.1.2.3"), 1000, 5, 0), 5000);
        assert_eq!(g.stats().refused, 0);
    }

    #[test]
    fn the_table_is_bounded_and_spares_running_bans() {
        let mut g = Guard::new(&spec(10, 10, 60), 64, 5);
        assert_eq!(g.capacity(), 64);
        // A banned flooder...
        let flooder = ip("192.0.2.99");
        for k in 0..20 {
            g.admit(flooder, k);
        }
        assert_eq!(g.stats().bans, 1);
        // ... then 100,000 spoofed sources, one request each.
        for k in 0..100_000u32 {
            let spoofed = IpAddr::from((0x7f00_0000u32 | (k & 0x00ff_ffff)).to_be_bytes());
            assert_eq!(g.admit(spoofed, 100 + u64::from(k) / 100), Admit::Pass);
        }
        assert_eq!(g.capacity(), 64, "no growth");
        assert!(g.stats().evicted >= 100_000 - 64);
        // The flooder's ban survived the churn.
        assert!(matches!(g.admit(flooder, 2_000), Admit::Refuse { .. }));
    }

    #[test]
    fn ipv4_and_its_mapped_form_are_one_source() {
        let mut g = Guard::new(&spec(1, 2, 0), 64, 6);
        assert_eq!(g.admit(ip("192.0.2.7"), 0), Admit::Pass);
        assert_eq!(g.admit(ip("::ffff:192.0.2.7"), 0), Admit::Pass);
        assert!(matches!(g.admit(ip("192.0.2.7"), 0), Admit::Refuse { .. }));
    }
}
