//! The carrier load generator behind `branchline bench`.
//!
//! Sans-IO: the call-flow state machines of the UAC and the UAS ([`flow`]),
//! even call pacing ([`pace`]), RFC 3261 client transaction timers
//! ([`timer`]), hdrhistogram latency recording and counters ([`stats`]),
//! the UAC's digest answers ([`digest`]), the numbers it dials
//! ([`number`]), and the live progress line, text, JSON and SVG reports
//! ([`report`], written to a `fmt::Write` the caller owns). Time is a
//! [`Nanos`] passed in by the caller (the I/O shell converts its
//! `Instant`s), randomness comes in as a seed for the one generator,
//! [`rng`], and none of them touches a socket, a clock or a file. That is
//! what lets every piece run under a virtual clock in unit tests.
//!
//! Not sans-IO: [`io`], the I/O shell (worker threads with their sockets
//! and the monotonic clock, and the supervisor that merges their stats),
//! and [`cli`], the `bench uac`/`bench uas` command line (resolves the
//! target, starts the shell, prints the reports and writes the `--json`
//! and `--report` files).

use core::ops::Add;
use core::time::Duration;

pub mod cli;
pub mod digest;
pub mod flow;
pub mod io;
pub mod number;
pub mod pace;
pub mod report;
pub mod stats;
pub mod timer;

/// A point on the run's monotonic clock: nanoseconds since an epoch the I/O
/// shell picks (usually the `Instant` the run started at).
///
/// Spans between two points are [`Duration`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nanos(pub u64);

impl Nanos {
    /// The epoch.
    pub const ZERO: Nanos = Nanos(0);

    /// `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Nanos {
        Nanos(ms * 1_000_000)
    }

    /// `us` microseconds after the epoch.
    pub const fn from_micros(us: u64) -> Nanos {
        Nanos(us * 1_000)
    }

    /// The span from `earlier` to `self`; zero when `earlier` is later.
    pub const fn since(self, earlier: Nanos) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Nanos {
    type Output = Nanos;

    /// Saturates at `u64::MAX` nanoseconds (some 584 years).
    fn add(self, d: Duration) -> Nanos {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Nanos(self.0.saturating_add(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_arithmetic() {
        let t = Nanos::from_millis(1500);
        assert_eq!(t.0, 1_500_000_000);
        assert_eq!(Nanos::from_micros(7).0, 7_000);
        assert_eq!(t + Duration::from_micros(1), Nanos(1_500_001_000));
        assert_eq!(t.since(Nanos::from_millis(500)), Duration::from_secs(1));
        assert_eq!(Nanos::ZERO.since(t), Duration::ZERO);
        assert_eq!(
            Nanos(u64::MAX - 1) + Duration::from_secs(1),
            Nanos(u64::MAX)
        );
    }
}
