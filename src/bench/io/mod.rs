//! The I/O shell of `branchline bench`: worker threads that carry the
//! sans-IO [`Uac`](super::flow::uac::Uac) and [`Uas`](super::flow::uas::Uas)
//! over real sockets, and the supervisor that merges their [`Stats`] into
//! the live progress line and the final report.
//!
//! Each worker owns a mio `Poll`, its sockets and its state machines; it
//! reads the monotonic [`Clock`] once per loop iteration and passes that
//! time to the pacer, the timers and every message handled in the
//! iteration. Workers hand their counters to the supervisor through a
//! per-worker `Mutex<Stats>` a few times a second; nothing is shared on the
//! per-message path.
//!
//! At a few thousand calls per second the cost is syscalls and wakeups, not
//! SIP, so a loop iteration batches both: every datagram read in it comes
//! from `recvmmsg` (`sys::RecvBatch`; the UAC's `sys::StampedRecvBatch` also
//! reads receive times), a short batch ends the drain without an
//! extra empty read, and everything the iteration produces for a UDP
//! socket leaves in one `sendmmsg` (`sys::SendBatch`) at its end. Wakeups for
//! pacing and timers are rounded up to a `Grid` of ticks, so one wakeup
//! releases a tick's calls and every timer due within it. A UAC worker that
//! starts a call every tick anyway takes its UDP sockets out of the epoll
//! set and reads them once per tick; latencies stay exact because they end
//! at each response's kernel receive timestamp (`Arrivals`). Workers run
//! under `SCHED_BATCH` (`sys::set_batch_scheduling`): over loopback the
//! peer's socket wakeups are synchronous and land on the sender's CPU,
//! and without it the woken peer preempts the sender after its first
//! datagram, so a batch turns back into a context switch per message.
//! TCP frames
//! messages with [`sip::frame_stream`](crate::sip::frame_stream).

mod stream;
pub mod uac;
pub mod uas;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

use super::report::{write_progress, Progress};
use super::stats::{Latency, Stats};
use super::Nanos;

/// Largest SIP message accepted on a stream (and datagram buffer size).
pub const MAX_MESSAGE: usize = 65_535;
/// How often workers hand their counters to the supervisor.
const PUBLISH_EVERY: Duration = Duration::from_millis(200);
/// The longest a worker sleeps in `poll`, so it sees a stop request soon.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// Requested socket buffer sizes (the kernel caps them).
const SOCKET_BUFFER: usize = 4 << 20;
/// Datagrams one `recvmmsg` reads.
pub(crate) const RECV_BATCH: usize = 32;
/// The UAS's timer grid: a timer fires at most this late, and one wakeup
/// serves every timer due within a step.
pub(crate) const TIMER_GRAIN: Duration = Duration::from_millis(2);

/// The run's monotonic clock: [`Nanos`] since the `Instant` it was made.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    /// A clock whose epoch is now.
    pub fn start() -> Clock {
        Clock(Instant::now())
    }

    /// The current time.
    pub fn now(&self) -> Nanos {
        Nanos(u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// The epoch.
    pub fn epoch(&self) -> Instant {
        self.0
    }

    /// The current time on this clock and on the wall clock (read first),
    /// to place kernel receive timestamps with [`Arrivals`].
    pub(crate) fn read(&self) -> (Nanos, Duration) {
        let wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        (self.now(), wall)
    }
}

/// Puts the kernel's receive timestamps (`SO_TIMESTAMPNS`: the wall clock,
/// read from `recvmmsg` by `sys::StampedRecvBatch::received_at`) on the run's
/// [`Clock`], so a latency ends when its response arrived however late the
/// worker got round to reading it.
///
/// Each loop iteration reads both clocks ([`Arrivals::update`]); a datagram
/// stamped `age` before that wall clock reading arrived `age` before its
/// `now`. Only the age comes from the wall clock, so its offset from the
/// monotonic clock does not matter, but a step of the wall clock (set by
/// hand or by NTP) does: when the two clocks' difference moved by more
/// than [`STEP_TOLERANCE`] since the previous reading, that iteration's
/// arrivals are put at `now` instead (a latency then includes the wait for
/// the read, as it would without stamps). A stamp is never placed after
/// `now`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrivals {
    now: Nanos,
    wall: Duration,
    /// Wall clock minus run clock, in ns, at the last reading.
    offset: i128,
    steady: bool,
}

/// How far the wall clock may move against the run's clock between two
/// readings before [`Arrivals`] distrusts its stamps (the two readings are
/// a few tens of ns apart, unless the thread was preempted between them).
pub(crate) const STEP_TOLERANCE: Duration = Duration::from_micros(20);

impl Arrivals {
    /// The first reading: `now` on the run's clock, `wall` since the Unix
    /// epoch.
    pub fn new(now: Nanos, wall: Duration) -> Arrivals {
        Arrivals {
            now,
            wall,
            offset: wall.as_nanos() as i128 - i128::from(now.0),
            steady: true,
        }
    }

    /// A new reading of both clocks (see [`Clock::read`]).
    pub fn update(&mut self, now: Nanos, wall: Duration) {
        let offset = wall.as_nanos() as i128 - i128::from(now.0);
        self.steady = (offset - self.offset).unsigned_abs() <= STEP_TOLERANCE.as_nanos();
        self.offset = offset;
        self.now = now;
        self.wall = wall;
    }

    /// The run's time at the last reading.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// When a datagram with kernel timestamp `stamp` (wall clock, since the
    /// Unix epoch) arrived, on the run's clock: the last reading's `now`
    /// less the stamp's age, or `now` itself without a stamp, for a stamp
    /// from the future, or after a wall clock step.
    pub fn at(&self, stamp: Option<Duration>) -> Nanos {
        match stamp {
            Some(s) if self.steady => {
                let age = u64::try_from(self.wall.saturating_sub(s).as_nanos()).unwrap_or(u64::MAX);
                Nanos(self.now.0.saturating_sub(age))
            }
            _ => self.now,
        }
    }
}

/// A stop request shared by the supervisor, the workers and signal
/// handlers.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// A flag not raised.
    pub fn new() -> StopFlag {
        StopFlag::default()
    }

    /// Raises the flag.
    pub fn raise(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once raised.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Raises the flag on SIGINT and SIGTERM.
    pub fn on_signals(&self) -> io::Result<()> {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&self.0))?;
        }
        Ok(())
    }
}

/// Counters a worker has measured and not yet handed over.
pub(crate) type Mailbox = Arc<Mutex<Stats>>;

/// Adds `stats` to the mailbox and clears it.
pub(crate) fn publish(mailbox: &Mailbox, stats: &mut Stats) {
    if let Ok(mut m) = mailbox.lock() {
        m.merge(stats);
    }
    stats.clear();
}

/// Running workers and their mailboxes.
pub(crate) struct Workers<T> {
    threads: Vec<JoinHandle<io::Result<T>>>,
    mailboxes: Vec<Mailbox>,
    /// A message from each worker as it ends (see [`Ended`]), so the
    /// supervisor sleeps until the next progress line or the end, not in
    /// short polls.
    ended_tx: mpsc::Sender<()>,
    ended: mpsc::Receiver<()>,
}

/// Sends the supervisor a message when dropped: when its worker returns
/// or unwinds.
struct Ended(mpsc::Sender<()>);

impl Drop for Ended {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// What the supervisor prints while workers run.
#[derive(Debug, Clone, Copy)]
pub struct ProgressOptions {
    /// Print the progress line once a second on stderr.
    pub enabled: bool,
    /// The latency shown on it.
    pub headline: Latency,
}

impl<T: Send + 'static> Workers<T> {
    /// No workers yet.
    pub fn new() -> Workers<T> {
        let (ended_tx, ended) = mpsc::channel();
        Workers {
            threads: Vec::new(),
            mailboxes: Vec::new(),
            ended_tx,
            ended,
        }
    }

    /// Starts a worker thread called `name` that runs `f` with its own
    /// mailbox.
    pub fn spawn(
        &mut self,
        name: String,
        f: impl FnOnce(&Mailbox) -> io::Result<T> + Send + 'static,
    ) -> io::Result<()> {
        let mailbox: Mailbox = Arc::new(Mutex::new(Stats::new()));
        let theirs = Arc::clone(&mailbox);
        let ended = Ended(self.ended_tx.clone());
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            let _ended = ended;
            f(&theirs)
        })?;
        self.threads.push(thread);
        self.mailboxes.push(mailbox);
        Ok(())
    }
}

impl<T> Workers<T> {
    /// Waits for every worker, printing the progress line once a second,
    /// and returns everything measured and the workers' results. `stop` is
    /// passed through: raising it makes the workers wind down.
    pub fn supervise(self, clock: Clock, progress: ProgressOptions) -> (Stats, Vec<io::Result<T>>) {
        let mut total = Stats::new();
        let mut interval = Stats::new();
        let mut last = clock.now();
        let mut next_line = last + Duration::from_secs(1);
        let mut running = self.threads.len();
        while running > 0 {
            let now = clock.now();
            if now < next_line {
                if self.ended.recv_timeout(next_line.since(now)).is_ok() {
                    running -= 1;
                }
                continue;
            }
            self.collect(&mut interval);
            total.merge(&interval);
            if progress.enabled {
                let mut line = String::new();
                let _ = write_progress(
                    &mut line,
                    &Progress {
                        elapsed: now.since(Nanos::ZERO),
                        total: &total,
                        interval: &interval,
                        interval_len: now.since(last),
                        headline: progress.headline,
                    },
                );
                eprintln!("{line}");
            }
            interval.clear();
            last = now;
            next_line = next_line + Duration::from_secs(1);
            if next_line <= now {
                next_line = now + Duration::from_secs(1);
            }
        }
        let results = self
            .threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(io::Error::other("a bench worker panicked")))
            })
            .collect();
        let mut rest = Stats::new();
        for m in &self.mailboxes {
            if let Ok(mut m) = m.lock() {
                rest.merge(&m);
                m.clear();
            }
        }
        total.merge(&rest);
        (total, results)
    }

    fn collect(&self, into: &mut Stats) {
        for m in &self.mailboxes {
            if let Ok(mut m) = m.lock() {
                into.merge(&m);
                m.clear();
            }
        }
    }
}

/// A non-blocking UDP socket bound to `local`, with large buffers;
/// `SO_REUSEPORT` when `reuse_port`.
pub(crate) fn udp_socket(local: SocketAddr, reuse_port: bool) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    let _ = s.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = s.set_send_buffer_size(SOCKET_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&local.into())?;
    Ok(s.into())
}

/// How long to sleep from `now` until the earliest of `deadlines`, at most
/// [`MAX_SLEEP`].
pub(crate) fn sleep_until(
    now: Nanos,
    deadlines: impl IntoIterator<Item = Option<Nanos>>,
) -> Duration {
    deadlines
        .into_iter()
        .flatten()
        .map(|d| d.since(now))
        .fold(MAX_SLEEP, Duration::min)
}

/// Wakeup times `origin + k * step`: a deadline is rounded up to the grid
/// so that one wakeup serves everything due within a step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    origin: Nanos,
    step: u64,
}

impl Grid {
    /// A grid through `origin` with `step` between points (at least 1 ns).
    pub fn new(origin: Nanos, step: Duration) -> Grid {
        let step = u64::try_from(step.as_nanos()).unwrap_or(u64::MAX).max(1);
        Grid { origin, step }
    }

    /// The first grid point at or after `t` (`t` itself before the origin).
    pub fn ceil(&self, t: Nanos) -> Nanos {
        let Some(off) = t.0.checked_sub(self.origin.0) else {
            return t;
        };
        let k = off.div_ceil(self.step);
        Nanos(
            k.checked_mul(self.step)
                .and_then(|o| o.checked_add(self.origin.0))
                .unwrap_or(u64::MAX),
        )
    }

    /// The first grid point strictly after `t` (`t` plus a step before the
    /// origin).
    pub fn after(&self, t: Nanos) -> Nanos {
        Nanos(self.floor(t).0.saturating_add(self.step))
    }

    /// The last grid point at or before `t` (`t` itself before the origin).
    pub fn floor(&self, t: Nanos) -> Nanos {
        let Some(off) = t.0.checked_sub(self.origin.0) else {
            return t;
        };
        Nanos(self.origin.0 + off / self.step * self.step)
    }
}

/// Whether an I/O error only means "try again later".
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_rounds_to_its_points() {
        let g = Grid::new(Nanos(10), Duration::from_nanos(4));
        assert_eq!(g.ceil(Nanos(10)), Nanos(10));
        assert_eq!(g.ceil(Nanos(11)), Nanos(14));
        assert_eq!(g.ceil(Nanos(14)), Nanos(14));
        assert_eq!(g.floor(Nanos(17)), Nanos(14));
        assert_eq!(g.floor(Nanos(18)), Nanos(18));
        assert_eq!(g.ceil(Nanos(3)), Nanos(3));
        assert_eq!(g.floor(Nanos(3)), Nanos(3));
        assert_eq!(g.ceil(Nanos(u64::MAX)), Nanos(u64::MAX));
        let fine = Grid::new(Nanos::ZERO, Duration::ZERO);
        assert_eq!(fine.ceil(Nanos(7)), Nanos(7));
        assert_eq!(fine.floor(Nanos(7)), Nanos(7));
        assert_eq!(g.after(Nanos(14)), Nanos(18));
        assert_eq!(g.after(Nanos(15)), Nanos(18));
        assert_eq!(g.after(Nanos(17)), Nanos(18));
        assert_eq!(g.after(Nanos(3)), Nanos(7));
        assert_eq!(g.after(Nanos(u64::MAX - 2)), Nanos(u64::MAX - 1));
        assert_eq!(g.after(Nanos(u64::MAX - 1)), Nanos(u64::MAX));
        assert_eq!(fine.after(Nanos(7)), Nanos(8));
    }

    #[test]
    fn arrivals_are_placed_by_their_age_on_the_wall_clock() {
        let s = Duration::from_secs;
        let ns = Duration::from_nanos;
        // The wall clock reads 1,000 s while the run's reads 5 ms.
        let mut a = Arrivals::new(Nanos::from_millis(5), s(1000));
        // Stamped 1.25 ms before the reading.
        assert_eq!(
            a.at(Some(s(1000) - Duration::from_micros(1250))),
            Nanos::from_micros(3750)
        );
        // No stamp, or one from the future: now.
        assert_eq!(a.at(None), Nanos::from_millis(5));
        assert_eq!(a.at(Some(s(1001))), Nanos::from_millis(5));
        // Older than the run: its start.
        assert_eq!(a.at(Some(s(999))), Nanos::ZERO);
        // 2 ms later on both clocks (10 us of jitter is tolerated).
        a.update(Nanos::from_millis(7), s(1000) + Duration::from_micros(2010));
        assert_eq!(a.now(), Nanos::from_millis(7));
        assert_eq!(
            a.at(Some(s(1000) + Duration::from_micros(1010))),
            Nanos::from_millis(6)
        );
        // The wall clock stepped back 1 s: this reading's stamps are not
        // trusted...
        a.update(Nanos::from_millis(9), s(999) + Duration::from_micros(4010));
        assert_eq!(a.at(Some(s(999) + ns(3_010_000))), Nanos::from_millis(9));
        // ...the next one's are (both clocks moved 2 ms).
        a.update(Nanos::from_millis(11), s(999) + Duration::from_micros(6010));
        assert_eq!(
            a.at(Some(s(999) + Duration::from_micros(5010))),
            Nanos::from_millis(10)
        );
        // A step just over the tolerance.
        a.update(
            Nanos::from_millis(13),
            s(999) + Duration::from_micros(8010) + STEP_TOLERANCE + ns(1),
        );
        assert_eq!(a.at(Some(s(999))), Nanos::from_millis(13));
    }
}
