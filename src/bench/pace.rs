//! Even call pacing for the UAC: how many new calls are due at a given
//! moment, and when the next one is. No I/O.
//!
//! Call `k` (counting from 0) is scheduled at `start + k / rate`, on a fixed
//! grid computed in integer nanoseconds, so a long run never drifts. The
//! caller polls with the current time and the number of open calls; the
//! pacer answers with a [`Due`].
//!
//! The grid behaves like a token bucket whose capacity is one pacing tick's
//! worth of calls ([`Pacer::burst`]): when the caller was late (a stall, a
//! busy event loop) or the concurrency limit held calls back, at most
//! `burst` overdue calls are released at once. Older overdue slots are given
//! up and counted as [`Pacer::missed`], so the offered load never spikes
//! above the target rate to catch up.

use core::time::Duration;

use super::Nanos;

const NANOS_PER_SEC: u128 = 1_000_000_000;
/// Rates are kept in calls per 1000 s; this converts slot counts to ns.
const MILLI_NANOS_PER_SEC: u128 = 1_000 * NANOS_PER_SEC;

/// A target call rate, kept exactly in thousandths of a call per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(u64);

impl Rate {
    /// `cps` calls per second, rounded to a thousandth. `None` unless
    /// finite and at least 0.001.
    pub fn per_second(cps: f64) -> Option<Rate> {
        if !cps.is_finite() || cps > u64::MAX as f64 / 1_000.0 {
            return None;
        }
        Rate::from_millicalls((cps * 1_000.0).round() as u64)
    }

    /// `mcps` thousandths of a call per second; `None` for zero.
    pub const fn from_millicalls(mcps: u64) -> Option<Rate> {
        if mcps == 0 {
            None
        } else {
            Some(Rate(mcps))
        }
    }

    /// Thousandths of a call per second.
    pub const fn millicalls(self) -> u64 {
        self.0
    }

    /// Calls per second.
    pub fn per_second_f64(self) -> f64 {
        self.0 as f64 / 1_000.0
    }
}

/// What the pacer is bound by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceConfig {
    /// Target rate (`--rate`).
    pub rate: Rate,
    /// The caller's pacing tick: how late a poll may normally come. One
    /// tick's worth of calls (at least one) is the largest burst released.
    pub tick: Duration,
    /// Stop after this many calls (`--calls`).
    pub calls: Option<u64>,
    /// Schedule no call at or after `start + duration` (`--duration`).
    pub duration: Option<Duration>,
    /// At most this many calls open at once (`--concurrency`).
    pub concurrency: u32,
}

/// The answer to [`Pacer::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// Start this many new calls now (never more than [`Pacer::burst`]).
    pub start: u32,
    /// When to poll again.
    pub next: Next,
}

/// When the pacer wants to be polled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The next call is due at this time.
    At(Nanos),
    /// A call is overdue but the concurrency limit holds it back: poll again
    /// when an open call ends.
    WhenCallEnds,
    /// Every call has been started; the run only waits for open calls.
    Done,
}

/// The pacing state of one worker. See the module docs.
#[derive(Debug, Clone)]
pub struct Pacer {
    origin: Nanos,
    rate: u64,
    burst: u64,
    concurrency: u32,
    /// Index of the next slot on the grid not yet started or missed.
    next_slot: u64,
    /// Slots at or past this index lie beyond `--duration`.
    slot_limit: u64,
    call_limit: u64,
    started: u64,
    missed: u64,
}

impl Pacer {
    /// A pacer whose first call is due at `start`.
    pub fn new(config: &PaceConfig, start: Nanos) -> Pacer {
        let rate = config.rate.0;
        let slot_limit = match config.duration {
            // Slots k with floor(k / rate) < duration: k < duration * rate.
            Some(d) => clamp_u64(div_ceil(d.as_nanos() * rate as u128, MILLI_NANOS_PER_SEC)),
            None => u64::MAX,
        };
        let burst = div_ceil(config.tick.as_nanos() * rate as u128, MILLI_NANOS_PER_SEC);
        Pacer {
            origin: start,
            rate,
            burst: clamp_u64(burst).max(1),
            concurrency: config.concurrency,
            next_slot: 0,
            slot_limit,
            call_limit: config.calls.unwrap_or(u64::MAX),
            started: 0,
            missed: 0,
        }
    }

    /// How many calls to start at `now`, given `open` calls in progress,
    /// and when to ask again. The count is already added to
    /// [`Pacer::started`]: the caller must start exactly that many.
    pub fn poll(&mut self, now: Nanos, open: u32) -> Due {
        if self.is_done() {
            return Due {
                start: 0,
                next: Next::Done,
            };
        }
        let due = self.slots_due_by(now).min(self.slot_limit);
        let mut backlog = due.saturating_sub(self.next_slot);
        if backlog > self.burst {
            let skip = backlog - self.burst;
            self.missed += skip;
            self.next_slot += skip;
            backlog = self.burst;
        }
        let room = u64::from(self.concurrency.saturating_sub(open));
        let n = backlog.min(room).min(self.call_limit - self.started);
        self.next_slot += n;
        self.started += n;
        let next = if self.is_done() {
            Next::Done
        } else if self.next_slot < due {
            Next::WhenCallEnds
        } else {
            Next::At(self.slot_time(self.next_slot))
        };
        Due {
            // n <= burst, and a burst beyond u32 would be absurd.
            start: u32::try_from(n).unwrap_or(u32::MAX),
            next,
        }
    }

    /// True once every call has been started (or its slot missed past the
    /// end of `--duration`).
    pub fn is_done(&self) -> bool {
        self.started >= self.call_limit || self.next_slot >= self.slot_limit
    }

    /// Calls started so far.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Scheduled slots given up because the caller was late or the
    /// concurrency limit held calls back longer than one tick.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// The most calls one poll releases: one pacing tick's worth, at least 1.
    pub fn burst(&self) -> u64 {
        self.burst
    }

    /// When slot `k` is due: `origin + floor(k * 1e12 / rate)` ns.
    fn slot_time(&self, k: u64) -> Nanos {
        let offset = k as u128 * MILLI_NANOS_PER_SEC / self.rate as u128;
        Nanos(clamp_u64(self.origin.0 as u128 + offset))
    }

    /// How many slots are due at or before `now`: the k with
    /// `floor(k * 1e12 / rate) <= t`, i.e. `k < (t + 1) * rate / 1e12`.
    fn slots_due_by(&self, now: Nanos) -> u64 {
        if now < self.origin {
            return 0;
        }
        let t = (now.0 - self.origin.0) as u128 + 1;
        clamp_u64(div_ceil(t * self.rate as u128, MILLI_NANOS_PER_SEC))
    }
}

fn div_ceil(a: u128, b: u128) -> u128 {
    a.div_ceil(b)
}

fn clamp_u64(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cps: f64) -> PaceConfig {
        PaceConfig {
            rate: Rate::per_second(cps).unwrap(),
            tick: Duration::from_millis(2),
            calls: None,
            duration: None,
            concurrency: u32::MAX,
        }
    }

    fn ms(v: u64) -> Nanos {
        Nanos::from_millis(v)
    }

    fn due(start: u32, next: Next) -> Due {
        Due { start, next }
    }

    #[test]
    fn rates() {
        assert_eq!(Rate::per_second(2000.0).unwrap().millicalls(), 2_000_000);
        assert_eq!(Rate::per_second(0.5).unwrap().millicalls(), 500);
        assert_eq!(Rate::per_second(0.0004), None);
        assert_eq!(Rate::per_second(-1.0), None);
        assert_eq!(Rate::per_second(f64::NAN), None);
        assert_eq!(Rate::per_second(f64::INFINITY), None);
        assert_eq!(Rate::from_millicalls(0), None);
        assert_eq!(Rate::from_millicalls(1500).unwrap().per_second_f64(), 1.5);
    }

    #[test]
    fn evenly_spaced_on_an_exact_grid() {
        let mut p = Pacer::new(&config(1000.0), ms(10));
        assert_eq!(p.poll(ms(9), 0), due(0, Next::At(ms(10))));
        assert_eq!(p.poll(ms(10), 0), due(1, Next::At(ms(11))));
        assert_eq!(p.poll(Nanos(10_999_999), 1), due(0, Next::At(ms(11))));
        assert_eq!(p.poll(ms(11), 1), due(1, Next::At(ms(12))));
        assert_eq!(p.started(), 2);

        // 3 calls/s: slots at 0, 333_333_333, 666_666_666, 1e9 ns.
        let mut p = Pacer::new(&config(3.0), Nanos::ZERO);
        assert_eq!(p.poll(Nanos::ZERO, 0), due(1, Next::At(Nanos(333_333_333))));
        assert_eq!(p.poll(Nanos(333_333_332), 0).start, 0);
        assert_eq!(
            p.poll(Nanos(333_333_333), 0),
            due(1, Next::At(Nanos(666_666_666)))
        );
        assert_eq!(
            p.poll(Nanos(666_666_666), 0),
            due(1, Next::At(Nanos(1_000_000_000)))
        );
    }

    #[test]
    fn no_drift_over_a_long_run() {
        // 7 calls/s polled every millisecond for an hour: exactly 25_200.
        let mut p = Pacer::new(&config(7.0), Nanos::ZERO);
        let mut total = 0u64;
        for t in 0..3_600_000u64 {
            let d = p.poll(ms(t), 0);
            assert!(d.start <= 1);
            total += u64::from(d.start);
        }
        assert_eq!(total, 25_200);
        assert_eq!(p.missed(), 0);
    }

    #[test]
    fn a_stall_releases_at_most_one_tick() {
        // 1000 calls/s with a 2 ms tick: bursts of at most 2.
        let mut p = Pacer::new(&config(1000.0), Nanos::ZERO);
        assert_eq!(p.burst(), 2);
        assert_eq!(p.poll(ms(0), 0), due(1, Next::At(ms(1))));
        // Late by 99 ms: slots 1..=100 are due; the last two start.
        assert_eq!(p.poll(ms(100), 0), due(2, Next::At(ms(101))));
        assert_eq!(p.missed(), 98);
        assert_eq!(p.poll(ms(100), 0), due(0, Next::At(ms(101))));
        // Back on the grid.
        assert_eq!(p.poll(ms(101), 0), due(1, Next::At(ms(102))));
        assert_eq!(p.started(), 4);
    }

    #[test]
    fn burst_is_one_tick_of_calls_and_at_least_one() {
        let mut c = config(2000.0);
        c.tick = Duration::from_millis(1);
        assert_eq!(Pacer::new(&c, Nanos::ZERO).burst(), 2);
        c.tick = Duration::from_micros(1100);
        assert_eq!(Pacer::new(&c, Nanos::ZERO).burst(), 3);
        c.tick = Duration::ZERO;
        assert_eq!(Pacer::new(&c, Nanos::ZERO).burst(), 1);
        let c = config(0.5);
        assert_eq!(Pacer::new(&c, Nanos::ZERO).burst(), 1);
    }

    #[test]
    fn concurrency_holds_calls_back() {
        let mut c = config(1000.0);
        c.concurrency = 2;
        let mut p = Pacer::new(&c, Nanos::ZERO);
        assert_eq!(p.poll(ms(0), 0), due(1, Next::At(ms(1))));
        assert_eq!(p.poll(ms(1), 1), due(1, Next::At(ms(2))));
        assert_eq!(p.poll(ms(2), 2), due(0, Next::WhenCallEnds));
        assert_eq!(p.poll(ms(3), 2), due(0, Next::WhenCallEnds));
        // A call ended: one slot starts, the other overdue one waits.
        assert_eq!(p.poll(ms(3), 1), due(1, Next::WhenCallEnds));
        assert_eq!(p.poll(ms(3), 0), due(1, Next::At(ms(4))));
        assert_eq!(p.missed(), 0);
        // Held back for longer than a tick: only a burst survives.
        assert_eq!(p.poll(ms(10), 2), due(0, Next::WhenCallEnds));
        assert_eq!(p.missed(), 5);
        assert_eq!(p.poll(ms(10), 0), due(2, Next::At(ms(11))));
    }

    #[test]
    fn call_limit() {
        let mut c = config(1000.0);
        c.calls = Some(3);
        let mut p = Pacer::new(&c, Nanos::ZERO);
        assert_eq!(p.poll(ms(0), 0), due(1, Next::At(ms(1))));
        assert_eq!(p.poll(ms(2), 0), due(2, Next::Done));
        assert!(p.is_done());
        assert_eq!(p.poll(ms(5), 0), due(0, Next::Done));
        assert_eq!(p.started(), 3);
    }

    #[test]
    fn duration_limit() {
        // 10 ms at 1000 calls/s: slots at 0..=9 ms.
        let mut c = config(1000.0);
        c.duration = Some(Duration::from_millis(10));
        let mut p = Pacer::new(&c, ms(100));
        assert_eq!(p.poll(ms(104), 0), due(2, Next::At(ms(105))));
        assert_eq!(p.missed(), 3);
        assert_eq!(p.poll(ms(108), 0), due(2, Next::At(ms(109))));
        assert_eq!(p.poll(ms(109), 0), due(1, Next::Done));
        assert_eq!(p.started() + p.missed(), 10);

        // Late past the end: the last burst still starts, nothing more.
        let mut p = Pacer::new(&c, Nanos::ZERO);
        assert_eq!(p.poll(ms(50), 0), due(2, Next::Done));
        assert_eq!(p.missed(), 8);

        // A duration that is not a whole number of slots rounds up.
        c.duration = Some(Duration::from_micros(10_500));
        assert_eq!(Pacer::new(&c, Nanos::ZERO).slot_limit, 11);
    }
}
